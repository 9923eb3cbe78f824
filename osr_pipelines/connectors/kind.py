"""What a connection type is: its credentials, its options and how its connector is built.

Each ERP declares its own type in ``<erp>/facts.py`` with :func:`declare`; the
catalog only lists them. Declaring imports no ERP client, so that reading the
registry or listing types stays cheap.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from osr_pipelines.connectors.base import Connector, ConnectorError, CredentialLabels
from osr_pipelines.connectors.options import OptionSpec, check_options, with_defaults


@dataclass(frozen=True)
class ConnectorType:
    """A connection type: its credential fields (secrets) and how to build a client."""

    name: str
    credentials: tuple[str, ...]
    optional_credentials: tuple[str, ...]
    #: build(connection, options, credential values, credential -> env var name for messages)
    build: Callable[[str, Mapping[str, str], Mapping[str, str], Mapping[str, str]], Connector]
    #: ``direct`` types are queried live by reports; nothing is imported.
    modes: tuple[str, ...] = ("import",)
    #: Credential families: a family ``client_key`` accepts ``client_key`` and ``client_key_<label>``
    #: fields (one secret per company, say), at least one of them required.
    credential_families: tuple[str, ...] = ()
    #: option name -> its kind, range and default (``options`` of a connection)
    options: Mapping[str, OptionSpec] = dataclasses.field(default_factory=dict)
    #: How many of the connection's companies one client may hold (``None``: any number).
    companies_per_client: int | None = None

    def family_of(self, credential: str) -> str | None:
        """The family ``credential`` belongs to, if any."""
        return next((f for f in self.credential_families if in_family(credential, f)), None)


def in_family(credential: str, family: str) -> bool:
    """``client_key`` and ``client_key_<label>`` (a non-empty label) are in the family ``client_key``."""
    return credential == family or (credential.startswith(family + "_") and len(credential) > len(family) + 1)


def clean_credentials(connection: str, credentials: Mapping[str, str],
                      credential_env: Mapping[str, str] | None) -> dict[str, str]:
    """Credentials without the surrounding whitespace secret files and ``.env`` lines often carry.

    A control character left inside a value would make every request fail
    as a protocol error; it is refused here, naming the credential and its
    variable (never the value).
    """
    cleaned = {field: value.strip() for field, value in credentials.items()}
    for field, value in cleaned.items():
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            label = CredentialLabels(credential_env)(field)
            raise ConnectorError(f"the {label} holds a control character", connection=connection, field=field)
    return cleaned


def _lazy(name: str, module: str, cls: str, specs: Mapping[str, OptionSpec]) -> Callable[..., Connector]:
    """A build function that imports its connector on first use, so listing types loads no ERP client.

    Options are checked again here, for callers that do not come through the
    registry, and the declared defaults filled in, so that the catalog, not
    each client, decides what an absent option means.
    """

    def build(connection: str, options: Mapping[str, str], credentials: Mapping[str, str],
              credential_env: Mapping[str, str] | None = None) -> Connector:
        problems = check_options(options, specs, name)
        if problems:
            raise ConnectorError(str(problems[0]), connection=connection)
        connector = getattr(importlib.import_module(module), cls)
        return connector(connection, with_defaults(options, specs),
                         clean_credentials(connection, credentials, credential_env), credential_env=credential_env)

    return build


def declare(name: str, module: str, cls: str, options: tuple[OptionSpec, ...], *, credentials: tuple[str, ...],
            optional_credentials: tuple[str, ...] = (), **kwargs: object) -> ConnectorType:
    """A connection type whose connector is class ``cls`` of ``module``, imported on first use."""
    specs = {spec.name: spec for spec in options}
    return ConnectorType(name, credentials, optional_credentials, build=_lazy(name, module, cls, specs),
                         options=specs, **kwargs)
