"""The connection types the registry accepts, and how each builds its connector."""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from osr_pipelines.connectors.base import Connector, ConnectorError, CredentialLabels
from osr_pipelines.connectors.options import (
    RATE_RESERVE,
    TIMEOUT,
    OptionSpec,
    check_options,
    iso_date,
    pattern,
    seconds,
    slot,
    text,
    url,
    whole,
    with_defaults,
    workers,
)


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


def _type(name: str, module: str, cls: str, options: tuple[OptionSpec, ...], **kwargs: object) -> ConnectorType:
    specs = {spec.name: spec for spec in options}
    return ConnectorType(name, build=_lazy(name, module, cls, specs), options=specs, **kwargs)


#: Sources: docs/connectors/<type>.md; each client's own defaults are checked against these by the tests.
_SYNTHETIC = (
    whole("seed", 42, 0, 2**63 - 1),
    pattern("companies", r"[0-9]{1,8}(,[0-9]{1,8})*", "comma-separated company numbers (1001,1002)",
            "1001,1002,1003"),
    whole("postings", 20_000, 1, 100_000_000),
    whole("years", 3, 1, 50),
    iso_date("end"),
    text("state", what="a file path"),
    whole("batch_size", 10_000, 1, 1_000_000),
    whole("fail_after_rows", None, 0, 10**12),
    seconds("batch_delay", 0, 0, 60),
    pattern("accepted_key_sha256", r"[0-9a-f]{64}", "a SHA-256 digest (64 lower-case hex digits)"),
)
_TRIPLETEX = (
    url("base_url", "https://tripletex.no/v2"),
    # ``count`` per request: 1000 by default, 10 000 observed to work.
    whole("page_size", 10_000, 1, 100_000),
    # A session token expires at midnight of its expiration date, which must be after today.
    whole("session_days", 2, 1, 365),
    workers(2),
    RATE_RESERVE,
    TIMEOUT,
)
_POWEROFFICE = (
    url("base_url", "https://goapi.poweroffice.net/v2"),
    url("token_url", None),
    # ``PageSize`` may not exceed ``MaxPageSize``, 20 000 by default.
    whole("page_size", 20_000, 1, 20_000),
    # Tokens last 20 minutes: renewing 20 minutes ahead would renew on every request.
    seconds("renew_before", 120, 0, 1199),
    text("rate_state_dir", what="a directory path"),
    whole("rate_limit", 10, 1, 1000),
    seconds("rate_period", 1.1, 0.01, 3600),
    TIMEOUT,
)
_XLEDGER = (
    url("base_url", "https://www.xledger.net/graphql"),
    text("entity", what="an entity code"),
    # "Xledger's API has a limit of 10000 records per query"
    whole("page_size", 10_000, 1, 10_000),
    slot("department_object", 1),
    slot("project_object", 2),
    whole("department_kind", 1, 1, 2**31 - 1),
    # no source confirms the posting-date filter of ``transactions``: the name is an option
    pattern("posted_date_filter", r"[_A-Za-z][_0-9A-Za-z]*", "a GraphQL filter field name", "headerPostedDate"),
    whole("rate_retries", 10, 0, 100),
    TIMEOUT,
)
_VISMA_NET = (
    url("base_url", "https://api.finance.visma.net"),
    url("token_url", "https://connect.visma.com/connect/token"),
    text("scope", "vismanet_erp_service_api:read", what="an OAuth scope"),
    text("tenant_id", required=True, what="the company tenant ids (comma-separated)"),
    # empty: the tenants are the companies, without asking the context endpoint
    pattern("context_path", r"(/[!-~]*)?", "a URL path starting with '/', or nothing", "/API/resources/v1/context",
            invalid=("API/context", "/a b", "x\n")),
    whole("page_size", 10_000, 1, 100_000),
    # financial periods read beyond the window's, for lines posted to a neighbouring period
    whole("period_margin", 1, 0, 24),
    workers(4),
    text("ledger", what="a ledger id"),
    pattern("currency", r"[A-Z]{3}", "a currency code (three capital letters)", "NOK"),
    RATE_RESERVE,
    TIMEOUT,
)


CONNECTOR_TYPES: dict[str, ConnectorType] = {
    t.name: t
    for t in (
        _type("synthetic", "osr_pipelines.connectors.synthetic", "SyntheticConnector", _SYNTHETIC,
              credentials=(), optional_credentials=("api_key",), modes=("import", "direct")),
        _type("tripletex", "osr_pipelines.connectors.tripletex", "TripletexConnector", _TRIPLETEX,
              credentials=("consumer_token", "employee_token"), optional_credentials=()),
        _type("poweroffice-go", "osr_pipelines.connectors.poweroffice", "PowerOfficeConnector", _POWEROFFICE,
              credentials=("application_key", "subscription_key"), optional_credentials=(),
              credential_families=("client_key",)),
        _type("xledger", "osr_pipelines.connectors.xledger", "XledgerConnector", _XLEDGER,
              credentials=("token",), optional_credentials=()),
        _type("visma-net", "osr_pipelines.connectors.vismanet", "VismaNetConnector", _VISMA_NET,
              credentials=("client_id", "client_secret"), optional_credentials=()),
    )
}


def connector_type(name: str) -> ConnectorType:
    try:
        return CONNECTOR_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown connection type '{name}' (known: {', '.join(sorted(CONNECTOR_TYPES))})") from None
