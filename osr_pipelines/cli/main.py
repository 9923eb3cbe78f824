"""The ``osr`` command: a group that imports a subcommand's module only when that subcommand runs.

Importing every subcommand up front loaded Dagster, SQLAlchemy and the
connectors for ``osr --help`` too, seconds for each call. :data:`COMMANDS`
names where each command lives and its one-line help, so listing and
completing commands imports none of them (a test keeps that help equal to
each command's own docstring).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from osr_pipelines import settings

#: name -> (module, attribute, one-line help: the first sentence of the command's docstring)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "init": ("osr_pipelines.cli.home", "init",
             "Create the home: registry, warehouse and Dagster instance (embedded defaults)."),
    "demo": ("osr_pipelines.cli.demo", "demo",
             "Import three companies from a Tripletex sandbox over HTTP, through Dagster, and summarise."),
    "connection": ("osr_pipelines.cli.connections", "connection",
                   "ERP connections: one login each, with credentials named by environment variable."),
    "company": ("osr_pipelines.cli.companies", "company",
                "Companies reachable through connections; each is a Dagster partition."),
    "import": ("osr_pipelines.cli.imports", "import_",
               "Run imports through Dagster (the runs show in the UI), waiting for each."),
    "status": ("osr_pipelines.cli.imports", "status",
               "Per connection and company: health, last import, rows, why the last run failed, and each check "
               "that failed or warned at the company's last import."),
    "report": ("osr_pipelines.cli.reports", "report",
               "Write a trial balance, income statement, balance sheet or project report as HTML and Excel."),
    "sandbox": ("osr_pipelines.cli.sandbox", "sandbox",
                "Local stand-ins for the ERPs' APIs (same paths, envelopes, auth and limits)."),
    "warehouse": ("osr_pipelines.cli.warehouse", "warehouse_group",
                  "The reporting database (OSR_WAREHOUSE_URL)."),
    "saf-t": ("osr_pipelines.cli.saft", "saft",
              "SAF-T Financial files: check one against the Tax Administration's XSD of its version."),
    "export": ("osr_pipelines.cli.saft", "export", "Write a company's books from the warehouse in a standard format."),
    "agent": ("osr_agent.cli", "agent",
              "The on-premise agent for Visma Business: connects out to the gateway and answers its queries."),
    "gateway": ("osr_pipelines.gateway.cli", "gateway",
                "Run the data gateway that on-premise agents connect to and visma-business connections query "
                "through."),
    "document": ("osr_pipelines.cli.document", "document",
                 "Voucher documents, read through a connection's on-premise agent."),
    "sync": ("osr_pipelines.cli.sync", "sync",
             "The registry_sync sensor, which keeps Dagster's company partitions in step with the registry."),
}


class LazyGroup(click.Group):
    """Click's lazy-loading group: commands of :data:`COMMANDS` are imported when first resolved.

    Help and shell completion list the commands from the table; commands
    registered with ``add_command`` work as in any group.
    """

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, attribute, _ = COMMANDS[cmd_name]
        command = getattr(importlib.import_module(module), attribute)
        self.add_command(command, cmd_name)
        return command

    def _short_helps(self, ctx: click.Context, incomplete: str = "") -> list[tuple[str, str]]:
        """Each command's name and help, from the table unless the command is already loaded."""
        rows = []
        for name in self.list_commands(ctx):
            if not name.startswith(incomplete):
                continue
            if name in self.commands:
                if not self.commands[name].hidden:
                    rows.append((name, self.commands[name].get_short_help_str(limit=1000)))
            else:
                rows.append((name, COMMANDS[name][2]))
        return rows

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = self._short_helps(ctx)
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(name, click.Command(name, help=text).get_short_help_str(limit))
                                    for name, text in rows])

    def shell_complete(self, ctx: click.Context, incomplete: str) -> list:
        from click.shell_completion import CompletionItem

        commands = [CompletionItem(name, help=text) for name, text in self._short_helps(ctx, incomplete)]
        return commands + click.Command.shell_complete(self, ctx, incomplete)


@click.group(cls=LazyGroup)
@click.version_option(package_name="osr-pipelines", prog_name="osr", message="%(prog)s %(version)s")
@click.option("--debug", is_flag=True, help="Show tracebacks and Dagster's own error logs.")
@click.option("--as", "acting", metavar="USER", default=None,
              help="The registry user this command acts as (default: OSR_USER).")
def cli(debug: bool, acting: str | None) -> None:
    """osr-pipelines: import Nordic ERP ledgers into a reporting database, orchestrated by Dagster."""
    if debug:
        os.environ["OSR_DEBUG"] = "1"
    if acting is not None:
        os.environ["OSR_USER"] = acting


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
