"""Xledger: general ledger transactions and dimensions over GraphQL (plain httpx, no Dagster)."""

from osr_pipelines.connectors.xledger.client import DEFAULT_BASE_URL, XledgerConnector

__all__ = ["DEFAULT_BASE_URL", "XledgerConnector"]
