"""The Business NXT GraphQL schema subset the sandbox validates queries against, written from the docs.

Business NXT publishes no SDL; this one is written from its documentation and
public queries (the labels are those of ``docs/connectors/business-nxt.md``).
Where the docs show a shape it is followed; names they do not show (input and
connection type names, most operator inputs) are marked GUESS in comments.
Tables and columns come from the one Visma Business model, so that the
sandbox accepts exactly the fields the model declares, no more.
"""

from __future__ import annotations

from osr_pipelines.connectors.visma_business.model import (
    ACCOUNT,
    ASSOCIATE,
    GL_TRANSACTION,
    INTEGER_ORG_UNITS,
    ORG_UNITS,
    Table,
    org_unit_table,
)

#: GraphQL type of each API column; the rest are Int.
_TYPES = {
    "postedAmountDomestic": "Float", "currencyAmount": "Float", "text": "String", "name": "String",
    "accountGroup": "String", "organisationNo": "String", "changedTimestamp": "DateTime",
    **{f"orgUnit{n}": "String" for n in ORG_UNITS if n not in INTEGER_ORG_UNITS},
}
_NUMERIC = ("Int", "Float")


def _type(field: str, table: Table) -> str:
    if table.api.startswith("orgUnit") and field == "orgUnitNo":
        return "Int" if int(table.api[7:]) in INTEGER_ORG_UNITS else "String"
    return _TYPES.get(field, "Int")


def _pascal(name: str) -> str:
    return name[0].upper() + name[1:]


def _table(table: Table, *, groupable: bool) -> str:
    """Object, connection, filter, order and (for ``groupable``) group-by types of one table."""
    name = _pascal(table.api)
    fields = [(f, _type(f, table)) for f in table.names("api") if f != "changedDate"]
    columns = "\n".join(f"  {f}: {t}" for f, t in fields)
    filters = "\n".join(f"  {f}: FilterExpression_{t}" for f, t in fields)
    orders = "\n".join(f"  {f}: SortOrder" for f, _ in fields)
    numeric = [f for f, t in fields if t in _NUMERIC]
    sums = "\n".join(f"  {f}: Float" for f in numeric)
    grouping = ""
    if groupable:
        grouping = f"""
# [BNXT-GROUP], [Q-GROUP]: groupBy: [{{accountNo: DEFAULT}}],
# items {{ accountNo aggregates {{ sum {{ postedAmountDomestic }} }} }}
input GroupBy_{name} {{
{chr(10).join(f"  {f}: GroupByType" for f, _ in fields)}
}}
# [BNXT-AGG]: sum, count, average, minimum, maximum (among others) of numeric columns
type Aggregates_{name} {{
  sum: AggregateValues_{name}
  count: AggregateValues_{name}
  average: AggregateValues_{name}
  minimum: AggregateValues_{name}
  maximum: AggregateValues_{name}
}}
type AggregateValues_{name} {{
{sums}
}}"""
    aggregates = f"\n  aggregates: Aggregates_{name}" if groupable else ""
    group_args = f", groupBy: [GroupBy_{name}!]" if groupable else ""
    return f"""
# [BNXT-SCHEMA]: the type is named after the model table; columns are the model's API names
type {name} {{
{columns}{aggregates}
}}
# [BNXT-PAGING], [Q-COMP]: totalCount, pageInfo and items, no edges (connection type name: GUESS)
type {name}Connection {{
  totalCount: Int!
  pageInfo: PageInfo!
  items: [{name}!]!
}}
# [Q-GROUP], shared notes: FilterExpression_<Table> with _and/_or and one operator input per column
input FilterExpression_{name} {{
  _and: [FilterExpression_{name}!]
  _or: [FilterExpression_{name}!]
{filters}
}}
# [Q-GROUP]: orderBy: [{{customerNo: ASC}}] (input type name: GUESS)
input OrderBy_{name} {{
{orders}
}}{grouping}
""", f"""  {table.api}(first: Int, after: String, last: Int, before: String, skip: Int,
    filter: FilterExpression_{name}, orderBy: [OrderBy_{name}!]{group_args}): {name}Connection"""


def _sdl() -> str:
    tables = [(GL_TRANSACTION, True), (ACCOUNT, False), (ASSOCIATE, False),
              *((org_unit_table(n), False) for n in ORG_UNITS)]
    types, fields = zip(*(_table(t, groupable=g) for t, g in tables), strict=True)
    operators = "\n".join(f"""
# [Q-GROUP]: _eq, _not_eq, _gte, _lte, _like, _in (release note 2023-06-01); _gt/_lt: GUESS
input FilterExpression_{t} {{
  _eq: {t}
  _not_eq: {t}
  _gt: {t}
  _gte: {t}
  _lt: {t}
  _lte: {t}
  _in: [{t}!]
  _not_in: [{t}!]{chr(10) + "  _like: String" if t == "String" else ""}
}}""" for t in ("Int", "Float", "String", "DateTime"))
    return f"""
# [BNXT-DATE]: createdTimestamp/changedTimestamp are T-SQL datetime2, "represented as DateTime values", written
# yyyy-MM-dd HH:mm:ss[.nnnnnnn] in the server's local time; null on rows not created or changed since October 2024
scalar DateTime

schema {{ query: Query }}

# [BNXT-START]: company tables are reached through useCompany(no: ...); [Q-GROUP] declares $cid: Int!
# [Q-COMP], [BNXT-RN]: availableCompanies lists the companies with their Visma.net ids
type Query {{
  useCompany(no: Int!): Query_UseCompany
  availableCompanies(first: Int, after: String, last: Int, before: String, customerNo: Int):
    AvailableCompanyConnection
}}

type Query_UseCompany {{
{chr(10).join(fields)}
}}

# [BNXT-PAGING], [Q-LOOP]: pageInfo {{ hasNextPage hasPreviousPage startCursor endCursor }}
type PageInfo {{
  hasNextPage: Boolean!
  hasPreviousPage: Boolean!
  startCursor: String
  endCursor: String
}}

# [Q-COMP]: items {{ name vismaNetCompanyId vismaNetCustomerId }}, totalCount; paging as other tables: GUESS
type AvailableCompany {{
  name: String
  vismaNetCompanyId: Int!
  vismaNetCustomerId: Int
}}
type AvailableCompanyConnection {{
  totalCount: Int!
  pageInfo: PageInfo!
  items: [AvailableCompany!]!
}}

# [Q-GROUP]: orderBy values ASC/DESC; groupBy value DEFAULT (enum names: GUESS)
enum SortOrder {{ ASC DESC }}
enum GroupByType {{ DEFAULT }}
{operators}
{"".join(types)}
"""


SDL = _sdl()
