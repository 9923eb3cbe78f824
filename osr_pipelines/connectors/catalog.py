"""The connection types the registry accepts, and how each builds its connector."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from osr_pipelines.connectors.base import Connector, ConnectorError, CredentialLabels


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


def _lazy(module: str, cls: str) -> Callable[..., Connector]:
    """A build function that imports its connector on first use, so listing types loads no ERP client."""

    def build(connection: str, options: Mapping[str, str], credentials: Mapping[str, str],
              credential_env: Mapping[str, str] | None = None) -> Connector:
        connector = getattr(importlib.import_module(module), cls)
        return connector(connection, options, clean_credentials(connection, credentials, credential_env),
                         credential_env=credential_env)

    return build


CONNECTOR_TYPES: dict[str, ConnectorType] = {
    t.name: t
    for t in (
        ConnectorType("synthetic", credentials=(), optional_credentials=("api_key",),
                      build=_lazy("osr_pipelines.connectors.synthetic", "SyntheticConnector"),
                      modes=("import", "direct")),
        ConnectorType("tripletex", credentials=("consumer_token", "employee_token"), optional_credentials=(),
                      build=_lazy("osr_pipelines.connectors.tripletex", "TripletexConnector")),
        ConnectorType("poweroffice-go", credentials=("application_key", "subscription_key"), optional_credentials=(),
                      build=_lazy("osr_pipelines.connectors.poweroffice", "PowerOfficeConnector"),
                      credential_families=("client_key",)),
        ConnectorType("xledger", credentials=("token",), optional_credentials=(),
                      build=_lazy("osr_pipelines.connectors.xledger", "XledgerConnector")),
        ConnectorType("visma-net", credentials=("client_id", "client_secret"), optional_credentials=(),
                      build=_lazy("osr_pipelines.connectors.vismanet", "VismaNetConnector")),
    )
}


def connector_type(name: str) -> ConnectorType:
    try:
        return CONNECTOR_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown connection type '{name}' (known: {', '.join(sorted(CONNECTOR_TYPES))})") from None
