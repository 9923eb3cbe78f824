"""``osr demo``: a whole embedded setup in one command, importing from a Tripletex sandbox it serves."""

from __future__ import annotations

import errno
import os
from contextlib import ExitStack, closing
from urllib.parse import urlsplit

import click
import yaml

from osr_pipelines import settings
from osr_pipelines.cli.common import edit_registry, fail, open_connector, read_registry, sandbox_extra, warehouse
from osr_pipelines.cli.home import init
from osr_pipelines.cli.imports import run_and_report
from osr_pipelines.cli.sandbox import SANDBOX_PORT
from osr_pipelines.connectors.base import DIMENSIONS
from osr_pipelines.connectors.synthetic import books_from_options
from osr_pipelines.registry import Company, Connection
from osr_pipelines.reports.groups import groups_path

DEMO_CONNECTION = "demo"
DEMO_GROUP = "Demo Group"
#: The sandbox's own (public, made-up) tokens; real connections name their own variables.
DEMO_TOKENS = {"OSR_DEMO_CONSUMER_TOKEN": "sandbox-consumer-token",
               "OSR_DEMO_EMPLOYEE_TOKEN": "sandbox-employee-token"}


@click.command()
@click.option("--postings", default=100_000, show_default=True, help="Postings per company.")
@click.option("--port", default=SANDBOX_PORT, show_default=True,
              help="Port of the Tripletex sandbox; a free one when it is taken, or with 0. The demo connection "
                   "records it, and `make dev` serves the sandbox there.")
def demo(postings: int, port: int) -> None:
    """Import three companies from a Tripletex sandbox over HTTP, through Dagster, and summarise.

    The imports read only from the sandbox this command starts: its address is
    written to the demo connection on every run, never assumed from an earlier one.
    """
    with sandbox_extra("osr demo"):
        from osr_sandbox.erps import sandbox_app
    click.get_current_context().invoke(init, customer="Demo Accounting")
    for var, value in DEMO_TOKENS.items():
        os.environ.setdefault(var, value)
    books_options = {"companies": "1001,1002,1003", "postings": str(postings), "years": "3",
                     "state": str(settings.osr_home() / "demo-books.json")}
    app = sandbox_app("tripletex", books_from_options(books_options), None, books_options)
    with ExitStack() as stack:
        base = _serve(stack, app, port)
        click.echo(f"Tripletex sandbox serving on {base}")
        with edit_registry() as reg:
            conn = next((c for c in reg.connections if c.name == DEMO_CONNECTION), None)
            if conn is not None and conn.type != "tripletex":
                fail(f"connection '{DEMO_CONNECTION}' is a {conn.type} connection, not the demo's Tripletex one: "
                     "run the demo in a home of its own (OSR_HOME)")
            if conn is not None:
                conn.options["base_url"] = f"{base}/v2"
            else:
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
    _demo_reports([co.key for co in companies])
    click.secho("\nall imports succeeded. Open the Dagster UI with `make dev` (http://127.0.0.1:3000; it also "
                f"serves the sandbox on port {urlsplit(base).port}, as the demo connection says); "
                "see `osr status` for health.", fg="green")
    click.echo("To use this home from another shell in this directory (osr finds .osr/ itself; Dagster's "
               "CLI and the demo's sandbox tokens need):\n"
               f"  export DAGSTER_HOME={settings.dagster_home()} "
               + " ".join(f"{var}={value}" for var, value in DEMO_TOKENS.items()))


def _serve(stack: ExitStack, app: object, port: int) -> str:
    """Start the sandbox on ``port``, or on a free port when another process holds that one; its base URL.

    Whatever already answers on a taken port (another demo, another user's, or
    something else) is never imported from.
    """
    from osr_sandbox.server import running

    try:
        return stack.enter_context(running(app, port=port))
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE or port == 0:
            raise
    base = stack.enter_context(running(app, port=0))
    click.echo(f"port {port} is taken by another process: the demo's sandbox serves on port {urlsplit(base).port}")
    return base


def _demo_reports(keys: list[str]) -> None:
    """Every demo company's reports and the demo group's consolidated ones, materialized in Dagster as the
    report sensors do after imports once the daemon runs: the UI shows them from the start, and their HTML
    and Excel files are under reports/ in the OSR home."""
    from dagster import DagsterEventType

    from osr_pipelines.definitions import defs
    from osr_pipelines.instance import get_instance
    from osr_pipelines.partitions import client_partitions, company_partitions
    from osr_pipelines.sensors.reports import REPORTS_TAG
    from osr_pipelines.tags import RANGE_END_TAG, RANGE_START_TAG

    groups = groups_path()
    if not groups.exists():
        rates = settings.osr_home() / "demo-rates.csv"
        rates.write_text("currency,period,average,closing\n")  # every demo company reports in NOK
        groups.write_text(yaml.safe_dump({"clients": {DEMO_GROUP: {"currency": "NOK", "rates": str(rates)}}}))
    instance = get_instance()
    if not instance.has_dynamic_partition(client_partitions.name, DEMO_GROUP):
        instance.add_dynamic_partitions(client_partitions.name, [DEMO_GROUP])
    quiet = {"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}}
    ordered = [k for k in instance.get_dynamic_partitions(company_partitions.name) if k in set(keys)]
    runs = [defs.resolve_job_def("company_reports_job").execute_in_process(
                instance=instance, run_config=quiet, raise_on_error=False,
                tags={REPORTS_TAG: "osr demo", RANGE_START_TAG: ordered[0], RANGE_END_TAG: ordered[-1]}),
            defs.resolve_job_def("client_reports_job").execute_in_process(
                instance=instance, run_config=quiet, raise_on_error=False, partition_key=DEMO_GROUP,
                tags={REPORTS_TAG: "osr demo"})]
    click.echo("\nreports (materialized in Dagster)")
    for result in runs:
        for entry in instance.all_logs(result.run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
            materialization = entry.dagster_event.event_specific_data.materialization
            page = materialization.metadata.get("html")
            click.echo(f"  {materialization.asset_key.to_user_string():30} {materialization.partition:12} "
                       f"{page.value if page else ''}")
    if not all(result.success for result in runs):
        raise click.ClickException("some demo reports failed; see `osr status` and the runs in the Dagster UI")
