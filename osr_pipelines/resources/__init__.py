"""Dagster resources: the registry, the warehouse and one resource per ERP connection."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from dagster import ConfigurableResource, EnvVar

from osr_pipelines.connectors.base import Connector
from osr_pipelines.connectors.catalog import connector_type
from osr_pipelines.registry import Registry, load_registry
from osr_pipelines.warehouse.loader import Warehouse


class RegistryResource(ConfigurableResource):
    """The registry file; read afresh on every use so sensors see edits without a reload."""

    path: str

    def load(self) -> Registry:
        return load_registry(Path(self.path))


class WarehouseResource(ConfigurableResource):
    """The reporting database (SQLite file or PostgreSQL URL)."""

    url: str

    @cached_property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.url)


class ErpConnection(ConfigurableResource):
    """One ERP login. ``credentials`` values are ``EnvVar``s, so secrets never enter config or logs."""

    connection: str
    erp_type: str
    options: dict[str, str]
    credentials: dict[str, str]
    #: credential -> environment variable name, so errors can say which one was rejected
    credential_env: dict[str, str]

    def connector(self) -> Connector:
        return connector_type(self.erp_type).build(self.connection, self.options, self.credentials,
                                                   self.credential_env)


def resource_key(connection: str) -> str:
    """The Dagster resource key of a connection (an identifier)."""
    return "conn_" + connection.replace("-", "_")


def connection_resources(registry: Registry) -> dict[str, ErpConnection]:
    """A resource per registered connection, keyed by the connection's resource key."""
    return {
        resource_key(c.name): ErpConnection(
            connection=c.name,
            erp_type=c.type,
            options=dict(c.options),
            credentials={field: EnvVar(var) for field, var in c.credentials.items()},
            credential_env=dict(c.credentials),
        )
        for c in registry.connections
    }
