"""Every GraphQL operation the Xledger connector sends, in one place.

Field names follow the entity field lists of the published catalogue
(``specs/xledger/*.read.metadata.json``); flattened names there such as
``header_postedDate`` are the nested selections ``header { postedDate }``.
Every query pages with ``first``/``after`` and reads ``pageInfo { hasNextPage }``;
data queries take ``ownerSet: LOWER`` (the token's entity and its sub-entities)
and narrow to one company with ``filter: { ownerDbId }``.
"""

from __future__ import annotations

#: The token's own entity, and that entity with every entity below it, in one round trip.
ENTITIES = """
query Entities {
  current: entities(first: 10000, ownerSet: CURRENT) { edges { node { dbId code description } } }
  lower: entities(first: 10000, ownerSet: LOWER) { edges { node { dbId code description } } }
}
"""

#: General-ledger transactions of one entity inside ``[postedDate_gte, postedDate_lt)``.
TRANSACTIONS = """
query Transactions($first: Int!, $after: String, $filter: TransactionFilter!) {
  transactions(first: $first, after: $after, ownerSet: LOWER, filter: $filter) {
    edges {
      cursor
      node {
        dbId text amount accountDbId companyDbId
        glObject1DbId glObject2DbId glObject3DbId glObject4DbId glObject5DbId
        header { transactionNumber postedDate modifiedAt }
      }
    }
    pageInfo { hasNextPage }
  }
}
"""


def _master_data(root: str, filter_type: str, node: str) -> str:
    return f"""
query {root[0].upper()}{root[1:]}($first: Int!, $after: String, $filter: {filter_type}!) {{
  {root}(first: $first, after: $after, ownerSet: LOWER, filter: $filter) {{
    edges {{ cursor node {{ {node} }} }}
    pageInfo {{ hasNextPage }}
  }}
}}
"""


ACCOUNTS = _master_data("accounts", "AccountFilter", "dbId code description balanceSheet accountGroup { dbId }")
#: Departments are the object values of one object kind (option ``department_kind``).
OBJECT_VALUES = _master_data("objectValues", "ObjectValueFilter", "dbId code description")
PROJECTS = _master_data("projects", "ProjectFilter", "dbId code description")
CUSTOMERS = _master_data("customers", "CustomerFilter", "dbId code description company { dbId companyNumber }")
SUPPLIERS = _master_data("suppliers", "SupplierFilter", "dbId code description company { dbId companyNumber }")

#: Canonical dimension -> (query, root field).
DIMENSION_QUERIES: dict[str, tuple[str, str]] = {
    "accounts": (ACCOUNTS, "accounts"),
    "departments": (OBJECT_VALUES, "objectValues"),
    "projects": (PROJECTS, "projects"),
    "customers": (CUSTOMERS, "customers"),
    "suppliers": (SUPPLIERS, "suppliers"),
}
