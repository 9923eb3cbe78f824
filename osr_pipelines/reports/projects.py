"""The project report: per project, revenue, cost, margin, budget and deviation, for a month and to date.

It reads ``project_transactions`` (revenue signed negative, cost positive, as a
ledger signs them) and ``budgets``, both summed by the database per project,
account and period. *To date* is the project's life up to and including the
month: a project runs across years, so its economics are read from its start.

Budgets are signed as the ledger signs them (revenue negative, cost
positive), so the budget column, the budgeted margin, is their sum turned
round; one scenario is shown, named in the table's title (:mod:`.budgets`).
Deviation is margin less budget: positive is better than budgeted.
"""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from sqlalchemy import Engine, func, select

from osr_pipelines.reports import budgets as budgets_of
from osr_pipelines.reports.files import Document, file_name
from osr_pipelines.reports.periods import label
from osr_pipelines.reports.tables import LINE, TOTAL, Row, Table
from osr_pipelines.warehouse.schema import budgets, dimension_tables, project_transactions

#: the report kind ``osr report`` takes
KIND = "project"
ZERO = Decimal("0.00")
#: the report's column headings in each language
WORDS = {
    "nb": {"title": "Prosjektrapport", "project": "Prosjekt", "name": "Navn", "revenue": "Inntekt",
           "cost": "Kostnad", "margin": "Dekningsbidrag", "budget": "Budsjett", "deviation": "Avvik",
           "month": "måned", "to date": "hittil", "sum": "Sum", "none": "(uten prosjekt)"},
    "en": {"title": "Project report", "project": "Project", "name": "Name", "revenue": "Revenue", "cost": "Cost",
           "margin": "Margin", "budget": "Budget", "deviation": "Deviation", "month": "month",
           "to date": "to date", "sum": "Total", "none": "(no project)"},
}
FIGURES = ("revenue", "cost", "margin", "budget", "deviation")


class NoProjectData(ValueError):
    """The company has no project transactions or budgets to report."""


def latest_period(engine: Engine, company: str) -> int:
    """The latest month with project transactions: the report's month when none is named."""
    with engine.connect() as conn:
        found = conn.execute(select(func.max(project_transactions.c.period))
                             .where(project_transactions.c.company == company)).scalar()
    if found is None:
        raise NoProjectData(f"company '{company}' has no project transactions in the warehouse; import it first "
                            f"(osr import full --company {company}) or name a --period")
    return int(found)


def _figures(engine: Engine, company: str, month: int,
             scenario: str | None) -> dict[str | None, dict[str, list[Decimal]]]:
    """Per project: revenue, cost and budget of ``month`` ([0]) and to date ([1]), summed in the database."""
    t, b = project_transactions.c, budgets.c
    found: dict[str | None, dict[str, list[Decimal]]] = defaultdict(
        lambda: {k: [ZERO, ZERO] for k in ("revenue", "cost", "budget")})
    with engine.connect() as conn:
        # summed per month by the database: a project's few dozen months are added up here
        for project, source, period, total in conn.execute(
                select(t.project, t.source, t.period, func.sum(t.amount))
                .where(t.company == company, t.period <= month).group_by(t.project, t.source, t.period)):
            key = "revenue" if source == "invoice" else "cost"
            sign = -1 if key == "revenue" else 1
            for column in ((0, 1) if period == month else (1,)):
                found[project][key][column] += sign * Decimal(total)
        for project, period, total in conn.execute(
                select(b.project, b.period, func.sum(b.amount))
                .where(b.company == company, b.scenario == scenario, b.period <= month)
                .group_by(b.project, b.period)):
            for column in ((0, 1) if period == month else (1,)):
                found[project]["budget"][column] -= Decimal(total)
    return found


def _project_names(engine: Engine, company: str) -> dict[str, str]:
    projects = dimension_tables["projects"].c
    with engine.connect() as conn:
        return {str(i): " ".join(p for p in (code, name) if p) for i, code, name in conn.execute(
            select(projects.id, projects.code, projects.name).where(projects.company == company))}


def project_table(engine: Engine, company: str, month: int, lang: str = "nb") -> Table:
    """One row per project with anything up to ``month``, then the total as a sum of the rows."""
    words = WORDS[lang]
    names = _project_names(engine, company)
    chosen = budgets_of.scenario(engine, company)
    figures = _figures(engine, company, month, chosen)
    rows = []
    for project in sorted(figures, key=lambda p: (p is None, names.get(p or "", p or ""))):
        f = figures[project]
        cells: list[Decimal] = []
        for column in (0, 1):
            revenue, cost, budget = f["revenue"][column], f["cost"][column], f["budget"][column]
            margin = revenue - cost
            cells += [revenue + ZERO, cost + ZERO, margin + ZERO, budget + ZERO, margin - budget + ZERO]
        label_ = names.get(project or "", "") if project else words["none"]
        rows.append(Row((project or "", label_, *cells), kind=LINE))
    total = [sum((r.cells[2 + c] for r in rows), ZERO) for c in range(2 * len(FIGURES))]
    rows.append(Row(("", words["sum"], *total), strong=True, kind=TOTAL,
                    parts=tuple((i, 1) for i in range(len(rows)))))
    columns = (words["project"], words["name"],
               *(f"{words[f]} {words[span]}" for span in ("month", "to date") for f in FIGURES))
    shown = f" ({words['budget'].lower()}: {chosen})" if chosen else ""
    return Table(f"{words['title']} {label(month)}{shown}", columns, rows)


def project_document(engine: Engine, company: str, name: str, month: int, lang: str = "nb",
                     currency: str = "NOK") -> Document:
    """The project report of ``company`` for ``month`` as a document ``files.write`` renders."""
    table = project_table(engine, company, month, lang)
    if len(table.rows) == 1:
        raise NoProjectData(f"company '{company}' has no project transactions or budgets up to {label(month)}")
    title = f"{WORDS[lang]['title']} {name} {label(month)}"
    return Document(title, f"project-{file_name(name)}-{label(month)}", currency, [(WORDS[lang]["title"], table)],
                    [], lang=lang, names={company: name},
                    meta={"kind": "project", "company": company, "period": label(month)})
