"""Whether a company's postings point at dimension rows that exist.

A posting whose account, department, project, customer or supplier is missing
from the imported dimension tables is reported under an unknown name in every
report; typically the ERP's dimension endpoint left out closed or inactive
records. One anti-join per dimension, in the database.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, select

from osr_pipelines.warehouse.schema import dimension_tables, gl_postings

#: posting column -> (dimension table, the column it references)
REFERENCES: dict[str, tuple[str, str]] = {
    "account": ("accounts", "number"),
    "department": ("departments", "id"),
    "project": ("projects", "id"),
    "customer": ("customers", "id"),
    "supplier": ("suppliers", "id"),
}


@dataclass(frozen=True)
class Dangling:
    column: str
    values: int
    postings: int
    examples: list[str]


def dangling_references(engine: Engine, company: str, examples: int = 5) -> list[Dangling]:
    """Per referencing column, the distinct values with no dimension row, and how many postings carry them."""
    found = []
    p = gl_postings.c
    with engine.connect() as conn:
        for column, (table_name, key) in REFERENCES.items():
            dim = dimension_tables[table_name]
            ref = p[column]
            missing = (
                select(ref.label("value"), func.count().label("n"))
                .select_from(gl_postings.outerjoin(dim, and_(dim.c.company == p.company, dim.c[key] == ref)))
                .where(p.company == company, ref.is_not(None), dim.c[key].is_(None))
                .group_by(ref)
                .subquery()
            )
            values, postings = conn.execute(
                select(func.count(), func.coalesce(func.sum(missing.c.n), 0))).one()
            if values:
                sample = conn.execute(select(missing.c.value).order_by(missing.c.value).limit(examples)).scalars()
                found.append(Dangling(column, values, int(postings), list(sample)))
    return found
