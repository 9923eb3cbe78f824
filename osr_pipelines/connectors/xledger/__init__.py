"""Xledger: general ledger transactions and dimensions over GraphQL (plain httpx, no Dagster)."""
