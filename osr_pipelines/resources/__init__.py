"""Dagster resources: the registry, the warehouse, and the ERP connections behind them.

There is one ``erp`` resource, not one per connection. A run resolves its
company's connection from the registry when it starts and reads only that
connection's secrets from the environment, so:

- a connection added while the daemon runs is imported without a reload;
- a connection whose secret is missing fails only its own companies;
- two connection names can never map to one resource key.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from dagster import ConfigurableResource, InitResourceContext
from pydantic import PrivateAttr

from osr_pipelines import settings
from osr_pipelines.connectors.base import Connector, ConnectorError, SourceUnavailable
from osr_pipelines.registry import Connection, Registry, load_registry_cached
from osr_pipelines.warehouse.loader import Warehouse


class RegistryResource(ConfigurableResource):
    """The registry file; read again whenever it changed, so sensors and runs see edits without a reload.

    Without a ``path`` it is found from the environment when used, not when the
    definitions were built (a process may run imports for several homes).
    """

    path: str | None = None

    def load(self) -> Registry:
        return load_registry_cached(Path(self.path) if self.path else settings.registry_path())


class WarehouseResource(ConfigurableResource):
    """The reporting database (SQLite file or PostgreSQL URL); from the environment unless ``url`` is set."""

    url: str | None = None

    @cached_property
    def warehouse(self) -> Warehouse:
        return Warehouse(self.url or settings.warehouse_url())

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        """Close the pooled connections when the run or step ends, not when the collector finds the engine.

        Steps run in long-lived processes: ``osr import`` without the daemon runs
        every company's import in its own process, a Celery worker one step after
        another; a nightly over a thousand companies would leave a thousand pools open.
        """
        if "warehouse" in self.__dict__:
            self.warehouse.dispose()


class ErpConnections(ConfigurableResource):
    """Opens the connector of a registered connection, with its secrets read from the environment.

    Secrets never pass through run config or resource config: the registry
    names environment variables, and they are read here, in the run, only for
    the connection the run imports. An ERP found unreachable is remembered for
    the rest of the run, so the run's other steps fail at once with the same
    message instead of each retrying against a dead host.
    """

    _unreachable: dict[str, SourceUnavailable] = PrivateAttr(default_factory=dict)

    def open(self, connection: Connection) -> Connector:
        if connection.name in self._unreachable:
            raise self._unreachable[connection.name]
        missing = [f"{field} (environment variable {var})" for field, var in connection.missing_secrets()]
        if missing:
            raise ConnectorError(f"credential {', '.join(missing)} is not set in the environment of the Dagster "
                                 "code location; set it where the daemon and code server run, then re-run",
                                 connection=connection.name)
        return connection.connector()

    def remember_unreachable(self, error: SourceUnavailable) -> None:
        self._unreachable[error.connection] = error
