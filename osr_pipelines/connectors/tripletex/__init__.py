"""Tripletex API v2: general ledger postings and dimensions over REST (plain httpx, no Dagster)."""
