"""Visma.net ERP (Financials): general-ledger lines and dimensions over REST (plain httpx, no Dagster)."""
