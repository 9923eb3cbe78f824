"""Visma.net ERP (Financials): general-ledger lines and dimensions over REST (plain httpx, no Dagster)."""

from osr_pipelines.connectors.vismanet.client import DEFAULT_BASE_URL, DEFAULT_TOKEN_URL, VismaNetConnector

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TOKEN_URL", "VismaNetConnector"]
