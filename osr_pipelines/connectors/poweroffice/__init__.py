"""PowerOffice Go API v2: account transactions and dimensions over REST (plain httpx, no Dagster)."""
