"""Every GraphQL operation the Business NXT connector sends, in one place.

Tables are fields of ``useCompany(no: $cid)``; a table answers ``totalCount``,
``pageInfo { hasNextPage endCursor }`` and ``items`` (no ``edges``), pages
with ``first``/``after`` and filters with ``filter: {_and: [{field: {_gte: x}}]}``.
Only the operators public queries show are used (``_gte``, ``_lte``, ``_and``);
dates are integers ``yyyymmdd``, so "before the 1st" is "at most the day
number before it". Grouped queries (``groupBy``, which cannot be paged) read
``items { <group fields> aggregates { sum { postedAmountDomestic } } }``.
Field names come from :mod:`~osr_pipelines.connectors.visma_business.model`.
"""

from __future__ import annotations

from osr_pipelines.connectors.visma_business.model import (
    ACCOUNT,
    ASSOCIATE,
    GL_TRANSACTION,
    ORG_UNITS,
    org_unit_table,
)

_PAGE = "pageInfo { hasNextPage endCursor }"
_PAGING = "$first: Int, $after: String"

COMPANIES = f"""
query Companies({_PAGING}) {{
  availableCompanies(first: $first, after: $after) {{
    totalCount
    {_PAGE}
    items {{ name vismaNetCompanyId vismaNetCustomerId }}
  }}
}}
"""

#: The ``AcTr`` fields a posting reads (``changedDate`` is the SQL side's fallback only).
POSTING_FIELDS = " ".join(
    GL_TRANSACTION.column(role, "api") for role in GL_TRANSACTION.columns if role != "changed_date")


def postings(*, since: bool = False, counted: bool = False) -> str:
    """Postings of ``$cid`` dated in ``[$from, $to]`` (``yyyymmdd``), and changed from ``$since`` if asked;
    ``counted`` asks ``totalCount`` too (the first page's: counting costs the server a pass of its own)."""
    changed = "{changedTimestamp: {_gte: $since}}" if since else ""
    declared = ", $since: DateTime" if since else ""
    return f"""
query Postings($cid: Int!, {_PAGING}, $from: Int!, $to: Int!{declared}) {{
  useCompany(no: $cid) {{
    generalLedgerTransaction(first: $first, after: $after,
        filter: {{_and: [{{voucherDate: {{_gte: $from}}}}, {{voucherDate: {{_lte: $to}}}} {changed}]}}) {{
      {"totalCount" if counted else ""}
      {_PAGE}
      items {{ {POSTING_FIELDS} }}
    }}
  }}
}}
"""


def table(api_name: str, fields: tuple[str, ...]) -> str:
    """Every row of company table ``api_name`` (a dimension), paged."""
    return f"""
query Table($cid: Int!, {_PAGING}) {{
  useCompany(no: $cid) {{
    {api_name}(first: $first, after: $after) {{
      {_PAGE}
      items {{ {" ".join(fields)} }}
    }}
  }}
}}
"""


ACCOUNTS = table(ACCOUNT.api, ACCOUNT.names("api"))
ASSOCIATES = table(ASSOCIATE.api, ASSOCIATE.names("api"))
ORG_UNIT_TABLES = {n: table(org_unit_table(n).api, org_unit_table(n).names("api")) for n in ORG_UNITS}

_SUM = "aggregates { sum { postedAmountDomestic } }"


def _grouped(alias: str, dates: str, sign: str, groups: tuple[str, ...]) -> str:
    by = ", ".join(f"{{{g}: DEFAULT}}" for g in groups)
    return f"""
    {alias}: generalLedgerTransaction(first: $limit,
        filter: {{_and: [{dates}, {{postedAmountDomestic: {{{sign}: 0}}}}]}},
        groupBy: [{by}]) {{
      items {{ {" ".join(groups)} {_SUM} }}
    }}"""


#: Debit and credit totals per account: per year before ``$from`` (``yyyymmdd``), per year and
#: period from ``$from`` to ``$to``; four grouped selections under aliases, one request.
BALANCES = f"""
query Balances($cid: Int!, $limit: Int!, $before: Int!, $from: Int!, $to: Int!) {{
  useCompany(no: $cid) {{{_grouped("debitBefore", "{voucherDate: {_lte: $before}}", "_gte", ("accountNo", "year"))}
    {_grouped("creditBefore", "{voucherDate: {_lte: $before}}", "_lte", ("accountNo", "year"))}
    {_grouped("debit", "{voucherDate: {_gte: $from}}, {voucherDate: {_lte: $to}}", "_gte",
               ("accountNo", "year", "period"))}
    {_grouped("credit", "{voucherDate: {_gte: $from}}, {voucherDate: {_lte: $to}}", "_lte",
               ("accountNo", "year", "period"))}
  }}
}}
"""
