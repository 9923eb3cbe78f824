"""The connection types the registry accepts, and how each builds its connector."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from osr_pipelines.connectors.base import Connector


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


def _synthetic(connection: str, options: Mapping[str, str], credentials: Mapping[str, str],
               credential_env: Mapping[str, str] | None = None) -> Connector:
    from osr_pipelines.connectors.synthetic import SyntheticConnector

    return SyntheticConnector(connection, options, credentials)


def _tripletex(connection: str, options: Mapping[str, str], credentials: Mapping[str, str],
               credential_env: Mapping[str, str] | None = None) -> Connector:
    from osr_pipelines.connectors.tripletex import TripletexConnector

    return TripletexConnector(connection, options, credentials, credential_env=credential_env)


def _xledger(connection: str, options: Mapping[str, str], credentials: Mapping[str, str],
             credential_env: Mapping[str, str] | None = None) -> Connector:
    from osr_pipelines.connectors.xledger import XledgerConnector

    return XledgerConnector(connection, options, credentials, credential_env=credential_env)


CONNECTOR_TYPES: dict[str, ConnectorType] = {
    t.name: t
    for t in (
        ConnectorType("synthetic", credentials=(), optional_credentials=("api_key",), build=_synthetic,
                      modes=("import", "direct")),
        ConnectorType("tripletex", credentials=("consumer_token", "employee_token"), optional_credentials=(),
                      build=_tripletex),
        ConnectorType("xledger", credentials=("token",), optional_credentials=(), build=_xledger),
    )
}


def connector_type(name: str) -> ConnectorType:
    try:
        return CONNECTOR_TYPES[name]
    except KeyError:
        raise ValueError(f"unknown connection type '{name}' (known: {', '.join(sorted(CONNECTOR_TYPES))})") from None
