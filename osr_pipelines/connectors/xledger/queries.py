"""Every GraphQL operation the Xledger connector sends, in one place.

Field names follow the entity field lists of the published catalogue
(``specs/xledger/*.read.metadata.json``); flattened names there such as
``header_postedDate`` are the nested selections ``header { postedDate }``.
Every query pages with ``first``/``after`` and reads ``pageInfo { hasNextPage }``.

Filters are written inline, as Xledger's own samples write them
(``filter: { modifiedAt_gte: $since }``): a declared ``$filter`` variable would
need the name of Xledger's input type (``Customer_Filter`` and the like), and a
wrong type name fails the whole query. Only the scalar variables whose types
public code confirms are declared (``Int``, ``String``, ``DateTimeString``);
``dbId`` values go inline as integer literals, as public clients write them
(``filter: { objectKindDbId: 12 }``), which is why the client checks they are
digits before they reach a query.
"""

from __future__ import annotations

from collections.abc import Mapping

_PAGE = "pageInfo { hasNextPage }"

#: The token's own entity.
CURRENT_ENTITY = """
query CurrentEntity {
  entities(first: 1, ownerSet: CURRENT) { edges { cursor node { dbId code description } } }
}
"""

#: The token's entity with every entity below it, each with its parent, to walk the tree down from an entity code.
LOWER_ENTITIES = f"""
query Entities($first: Int, $after: String) {{
  entities(first: $first, after: $after, ownerSet: LOWER) {{
    edges {{ cursor node {{ dbId code description parent {{ dbId }} }} }}
    {_PAGE}
  }}
}}
"""

_TRANSACTION_NODE = """dbId text amount invoiceAmount accountDbId companyDbId
        glObject1DbId glObject2DbId glObject3DbId glObject4DbId glObject5DbId
        currency { code }
        header { transactionNumber postedDate modifiedAt }"""


def transactions(owner: str, posted_date_field: str) -> str:
    """General-ledger transactions of entity ``owner`` posted in ``[$from, $to)``.

    ``posted_date_field`` is the filter field holding the posting date (option
    ``posted_date_filter``): Xledger's published material confirms none for
    ``transactions``, so its name is configurable.
    """
    return f"""
query Transactions($first: Int, $after: String, $from: String, $to: String) {{
  transactions(first: $first, after: $after, ownerSet: LOWER,
               filter: {{ ownerDbId: {owner}, {posted_date_field}_gte: $from, {posted_date_field}_lt: $to }}) {{
    edges {{
      cursor
      node {{
        {_TRANSACTION_NODE}
      }}
    }}
    {_PAGE}
  }}
}}
"""


#: Root field -> the node selection of each master-data query.
NODES: dict[str, str] = {
    "accounts": "dbId code description balanceSheet revenue cost accountGroup { dbId } ledgerType { name }",
    "objectValues": "dbId code description",
    "projects": "dbId code description",
    "customers": "dbId code description company { dbId companyNumber }",
    "suppliers": "dbId code description company { dbId companyNumber }",
}

#: Roots whose closed records would otherwise be left out: public clients pass ``objectStatus``
#: explicitly on them, so the default is not relied on. Closed accounts and partners still
#: carry old postings, which must resolve.
WITH_CLOSED = frozenset({"accounts", "customers", "suppliers"})

#: Canonical dimension -> root field.
DIMENSION_ROOTS: dict[str, str] = {
    "accounts": "accounts",
    "departments": "objectValues",
    "projects": "projects",
    "customers": "customers",
    "suppliers": "suppliers",
}


def master_data(root: str, filter_: Mapping[str, str]) -> str:
    """One page of ``root``; ``filter_`` holds inline literals (dbIds)."""
    fields = [f"{name}: {value}" for name, value in filter_.items()]
    status = " objectStatus: ALL," if root in WITH_CLOSED else ""
    return f"""
query {root[0].upper()}{root[1:]}($first: Int, $after: String) {{
  {root}(first: $first, after: $after, ownerSet: LOWER,{status} filter: {{ {", ".join(fields)} }}) {{
    edges {{ cursor node {{ {NODES[root]} }} }}
    {_PAGE}
  }}
}}
"""
