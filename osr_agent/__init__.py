"""The on-premise agent for Visma Business: runs at the customer's site, next to SQL Server.

It dials out to the gateway, answers only a fixed list of parameterised
queries and confined file reads, and streams their results back. It installs
without Dagster or the warehouse (``pip install ./agent`` from a checkout).
"""

#: The ODBC driver a data source uses unless told otherwise: Microsoft's, for SQL Server.
SQL_SERVER_DRIVER = "ODBC Driver 18 for SQL Server"
