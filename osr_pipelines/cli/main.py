"""The ``osr`` command."""

from __future__ import annotations

import os
import sys
from contextlib import ExitStack, closing

import click
import yaml

from osr_pipelines import settings
from osr_pipelines.cli.common import edit_registry, open_connector, read_registry, sandbox_extra, warehouse
from osr_pipelines.cli.companies import company
from osr_pipelines.cli.connections import connection
from osr_pipelines.cli.imports import import_, run_and_report, status
from osr_pipelines.cli.reports import report
from osr_pipelines.cli.sandbox import sandbox
from osr_pipelines.cli.warehouse import warehouse_group
from osr_pipelines.connectors.base import DIMENSIONS
from osr_pipelines.connectors.synthetic import books_from_options
from osr_pipelines.instance import ensure_dagster_home
from osr_pipelines.registry import Company, Connection, Customer, Group, Registry, save_registry
from osr_pipelines.reports.build import NS4102
from osr_pipelines.reports.groups import groups_path

DEMO_CONNECTION = "demo"
DEMO_GROUP = "Demo Group"
DEMO_PORT = 8765
#: The sandbox's own (public, made-up) tokens; real connections name their own variables.
DEMO_TOKENS = {"OSR_DEMO_CONSUMER_TOKEN": "sandbox-consumer-token",
               "OSR_DEMO_EMPLOYEE_TOKEN": "sandbox-employee-token"}


@click.group()
@click.option("--debug", is_flag=True, help="Show tracebacks and Dagster's own error logs.")
def cli(debug: bool) -> None:
    """osr-pipelines: import Nordic ERP ledgers into a reporting database, orchestrated by Dagster."""
    if debug:
        os.environ["OSR_DEBUG"] = "1"


def main() -> None:
    """The ``osr`` command: errors are one paragraph unless ``--debug``; files it creates are private.

    The home holds the registry, the whole general ledger (SQLite) and Dagster's
    run history, so everything ``osr`` creates is readable by its owner only.
    """
    os.umask(0o077)
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        if settings.debug():
            raise
        click.secho(f"error: {type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''} "
                    "(run `osr --debug ...` for the traceback)", fg="red", err=True)
        sys.exit(1)


@cli.command()
@click.option("--customer", default="Default", show_default=True, help="The top-level customer to create.")
def init(customer: str) -> None:
    """Create the home: registry, warehouse and Dagster instance (embedded defaults)."""
    home = settings.osr_home()
    home.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = settings.registry_path()
    if path.exists():
        click.echo(f"registry exists: {path}")
    else:
        save_registry(Registry(customers=[Customer(name=customer, groups=[Group(name=customer)])]), path)
        click.echo(f"created registry {path}")
    warehouse()
    click.echo(f"warehouse {settings.warehouse_url()}")
    click.echo(f"Dagster home {ensure_dagster_home()}")


@cli.command()
@click.option("--postings", default=100_000, show_default=True, help="Postings per company.")
@click.option("--port", default=DEMO_PORT, show_default=True, help="Port of the Tripletex sandbox.")
def demo(postings: int, port: int) -> None:
    """Import three companies from a Tripletex sandbox over HTTP, through Dagster, and summarise."""
    with sandbox_extra("osr demo"):
        from osr_sandbox.erps import sandbox_app
        from osr_sandbox.server import running
    click.get_current_context().invoke(init, customer="Demo Accounting")
    for var, value in DEMO_TOKENS.items():
        os.environ.setdefault(var, value)
    books_options = {"companies": "1001,1002,1003", "postings": str(postings), "years": "3",
                     "state": str(settings.osr_home() / "demo-books.json")}
    app = sandbox_app("tripletex", books_from_options(books_options), None, books_options)
    base = f"http://127.0.0.1:{port}"
    with ExitStack() as stack:
        try:
            base = stack.enter_context(running(app, port=port))
            click.echo(f"Tripletex sandbox serving on {base}")
        except OSError:
            click.echo(f"port {port} is taken: using the sandbox already serving there")
        with edit_registry() as reg:
            if not any(c.name == DEMO_CONNECTION for c in reg.connections):
                conn = Connection(name=DEMO_CONNECTION, type="tripletex", parent=reg.customers[0].name,
                                  credentials={"consumer_token": "OSR_DEMO_CONSUMER_TOKEN",
                                               "employee_token": "OSR_DEMO_EMPLOYEE_TOKEN"},
                                  options={"base_url": f"{base}/v2"})
                reg.connections.append(conn)
                with closing(open_connector(conn)) as connector:
                    found = connector.list_companies()
                # the first company is a client of its own; the others form a group, consolidated
                for n, info in enumerate(found):
                    client = info.name if n == 0 else DEMO_GROUP
                    reg.ensure_client(client, conn)
                    reg.companies.append(Company(connection=conn.name, erp_id=info.erp_id, name=info.name,
                                                 client=client, organization_number=info.organization_number or ""))
        reg = read_registry()
        companies = reg.companies_of(DEMO_CONNECTION)
        outcomes = run_and_report("full", [co.key for co in companies], None)
    wh = warehouse()
    loads = wh.last_loads()
    click.echo("\nsummary")
    click.echo(f"  {'company':16} {'name':24} {'postings':>10} {'unbalanced':>10}  "
               + " ".join(f"{d:>11}" for d in DIMENSIONS))
    for co in companies:
        dims = " ".join(f"{loads.get((co.key, d), {}).get('rows_written', 0):>11}" for d in DIMENSIONS)
        click.echo(f"  {co.key:16} {co.name[:24]:24} {wh.count_postings(co.key):>10,} "
                   f"{len(wh.unbalanced_vouchers(co.key)):>10}  {dims}")
    if any(o.status != "SUCCESS" for o in outcomes):
        raise click.ClickException("some demo imports failed; see above")
    _demo_reports(companies[0].key)
    click.secho("\nall imports succeeded. Open the Dagster UI with `make dev` (http://127.0.0.1:3000; it also "
                f"serves the sandbox on port {port}); see `osr status` for health.", fg="green")
    click.echo("To use this home from another shell in this directory (osr finds .osr/ itself; Dagster's "
               "CLI and the demo's sandbox tokens need):\n"
               f"  export DAGSTER_HOME={settings.dagster_home()} "
               + " ".join(f"{var}={value}" for var, value in DEMO_TOKENS.items()))


def _demo_reports(company_key: str) -> None:
    """One company's income statement and the demo group's consolidated one, as HTML and Excel."""
    groups = groups_path()
    if not groups.exists():
        rates = settings.osr_home() / "demo-rates.csv"
        rates.write_text("currency,period,average,closing\n")  # every demo company reports in NOK
        groups.write_text(yaml.safe_dump({"clients": {DEMO_GROUP: {"currency": "NOK", "rates": str(rates)}}}))
    context = click.get_current_context()
    click.echo("\nreports")
    context.invoke(report, kind="income-statement", company=company_key, client=None, period=None,
                   group_by=NS4102, out=None)
    context.invoke(report, kind="income-statement", company=None, client=DEMO_GROUP, period=None,
                   group_by=NS4102, out=None)


cli.add_command(connection)
cli.add_command(company)
cli.add_command(import_)
cli.add_command(status)
cli.add_command(sandbox)
cli.add_command(warehouse_group)
cli.add_command(report)
