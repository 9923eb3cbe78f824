"""Financial reports computed from a company's aggregated ledger, whether imported or queried live.

Nothing here knows Dagster: the assets, the CLI and the tests call the same functions.
"""
