"""PowerOffice Go API v2: account transactions and dimensions over REST (plain httpx, no Dagster)."""

from osr_pipelines.connectors.poweroffice.client import DEFAULT_BASE_URL, PowerOfficeConnector

__all__ = ["DEFAULT_BASE_URL", "PowerOfficeConnector"]
