"""Tripletex API v2: general ledger postings and dimensions over REST (plain httpx, no Dagster)."""

from osr_pipelines.connectors.tripletex.client import DEFAULT_BASE_URL, TripletexConnector

__all__ = ["DEFAULT_BASE_URL", "TripletexConnector"]
