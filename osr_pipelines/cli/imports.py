"""``osr import`` and ``osr status``: run imports through Dagster and report on them."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from functools import partial
from pathlib import Path

import click
from dagster import DagsterInstance, DagsterRunStatus

from osr_pipelines import settings
from osr_pipelines.cli.common import fail, read_registry, warehouse
from osr_pipelines.connectors.base import Window
from osr_pipelines.diskspace import full_disk_of, full_disks
from osr_pipelines.instance import get_instance
from osr_pipelines.runner import CompanyProgress, RunOutcome, cancel_imports, daemon_running, run_imports
from osr_pipelines.status import CompanyStatus, read_status


class _Display:
    """What an import shows while it runs.

    On a terminal, one line rewritten in place: a spinner, the company that
    last moved and how far it is (rows and pages of postings as they arrive),
    and a line per company as it finishes. Elsewhere (piped, CI), only the line
    per company as it finishes: no carriage returns in a log.
    """

    FRAMES = "|/-\\"

    def __init__(self, total: int) -> None:
        self.total, self.done, self.tick = total, 0, 0
        self.live = sys.stdout.isatty()

    def update(self, progress: CompanyProgress) -> None:
        if not self.live:
            return
        self.tick += 1
        elapsed = f" {time.time() - progress.since:5.0f}s" if progress.since else ""
        line = (f"{self.FRAMES[self.tick % len(self.FRAMES)]} [{self.done}/{self.total}] {progress.company:28} "
                f"{describe_progress(progress)}{elapsed}")
        width = shutil.get_terminal_size().columns - 1
        click.echo(f"\r{line[:width]:{width}}", nl=False)

    def finished(self, outcome: RunOutcome) -> None:
        self.done += 1
        if self.live:
            click.echo(f"\r{' ' * (shutil.get_terminal_size().columns - 1)}\r", nl=False)
        rows = f"{outcome.rows:>10,} postings" if outcome.rows is not None else " " * 19
        seconds = f"{outcome.seconds:7.1f}s" if outcome.seconds is not None else "       -"
        color = "green" if outcome.status == DagsterRunStatus.SUCCESS.value else "red"
        click.secho(f"  [{self.done}/{self.total}] {outcome.company:28} {outcome.status:8} {rows} {seconds}  "
                    f"run {outcome.run_id or '-'}", fg=color)
        if outcome.error:
            click.secho(f"        {outcome.error}", fg="red")
        if outcome.warning:
            click.secho(f"        {outcome.warning}", fg="yellow")


def describe_progress(progress: CompanyProgress) -> str:
    """``postings: 12,345 rows, 37 pages`` and the like: where a company's import is."""
    if progress.state == "postings":
        pages = f", {progress.pages:,} pages" if progress.pages is not None else ""
        return f"postings: {progress.rows or 0:,} rows{pages}"
    if progress.state == "dimensions":
        return f"dimensions: {progress.dimensions} loaded"
    if progress.state == "checks":
        return f"{progress.rows or 0:,} postings written, checking"
    return progress.state


def run_and_report(kind: str, keys: list[str], window: Window | None, *,
                   allow_shrink: bool = False) -> list[RunOutcome]:
    """Run imports, showing their progress and a line per company as it finishes.

    With a daemon running they go through its queue; otherwise they run here,
    one company at a time.
    """
    full = full_disks()
    if full:
        fail(f"{full[0]}: free space there first; an import now would fail part way, and Dagster could not "
             "record it")
    instance = _instance()
    click.echo(f"{kind} import of {len(keys)} companies" + (f" for {window}" if window else "")
               + (" through the daemon's run queue" if daemon_running(instance) else "")
               + f" (Dagster home {instance.root_directory})")
    display = _Display(len(keys))
    return run_imports(instance, kind, keys, window, display.update, allow_shrink=allow_shrink,
                       on_done=display.finished)


def _window(date_from: datetime | None, date_to: datetime | None) -> Window | None:
    if not (date_from or date_to):
        return None
    if not (date_from and date_to):
        fail("--from and --to go together (both days inclusive)")
    try:
        return Window(date_from.date(), date_to.date() + timedelta(days=1))
    except (ValueError, OverflowError):
        fail(f"--from {date_from.date()} --to {date_to.date()}: not a window; --to must be on or after --from, "
             "and before 9999-12-31")
    raise AssertionError("unreachable")


def _companies(companies: tuple[str, ...], all_companies: bool, *, importable_only: bool = True) -> list[str]:
    """The keys ``--company``/``--all`` name, each once, in the order given; an unknown one is an error."""
    reg = read_registry(check_env=False)
    if all_companies and companies:
        fail("give either --all or --company, not both")
    if all_companies:
        return [co.key for co in reg.importable_companies()]
    if not companies:
        fail("name companies with --company KEY, or --all")
    keys = list(dict.fromkeys(companies))  # `--company X --company X` imports X once
    known = {co.key for co in reg.companies}
    importable = {co.key for co in reg.importable_companies()}
    for key in keys:
        if key not in known:
            fail(f"no such company: {key} (see `osr company list`)")
        if key not in importable and importable_only:
            fail(f"company '{key}' is not imported: its connection is direct or was deleted")
    return keys


def _select(command: Callable) -> Callable:
    """``--company KEY`` (repeatable) and ``--all``: the companies every ``osr import`` subcommand acts on."""
    command = click.option("--all", "all_companies", is_flag=True, help="Every import-mode company.")(command)
    return click.option("--company", "companies", multiple=True, metavar="KEY",
                        help="Company key, <connection>.<ERP company id> (repeatable).")(command)


def _window_options(command: Callable, *, hidden: bool = False) -> Callable:
    command = click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), hidden=hidden,
                           help="Last day (inclusive), with --from.")(command)
    return click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), hidden=hidden,
                        help="First day (inclusive): replace this window instead of the default one.")(command)


def _shrink_option(command: Callable) -> Callable:
    return click.option("--allow-shrink", is_flag=True, help=(
        "Let the import replace a company's non-empty history, or a non-empty dimension, with nothing "
        "(refused otherwise: a filter that drops everything looks exactly like that)."))(command)


def _run(kind: str, companies: tuple[str, ...], all_companies: bool, window: Window | None,
         allow_shrink: bool) -> None:
    keys = _companies(companies, all_companies)
    if not keys:
        click.echo("no companies to import")
        return
    outcomes = run_and_report(kind, keys, window, allow_shrink=allow_shrink)
    failed = [o for o in outcomes if o.status != DagsterRunStatus.SUCCESS.value]
    if failed:
        fail(f"{len(failed)} of {len(outcomes)} imports did not succeed")
    unrecorded = [o for o in outcomes if o.warning]
    if unrecorded:
        fail(f"{len(unrecorded)} of {len(outcomes)} imports committed their data but need attention (see above)")


@click.group("import")
def import_() -> None:
    """Run imports through Dagster (the runs show in the UI), waiting for each.

    With a daemon running the runs go to its queue, in the schedules' batches;
    without one they run here, one company at a time. A company whose import is
    already active is refused. `osr import KIND --help` says what each kind replaces.
    """


@import_.command("full", short_help="Replace each company's whole history.")
@_select
@partial(_window_options, hidden=True)  # only to say that a full import takes no window
@_shrink_option
def import_full(companies: tuple[str, ...], all_companies: bool, date_from: datetime | None,
                date_to: datetime | None, allow_shrink: bool) -> None:
    """Replace each company's whole history: every posting from the connection's
    `history_start`, and every dimension.

    This is what runs when a company is added. Refused if it would replace a
    non-empty history with nothing, unless --allow-shrink.

    \b
    Examples:
      osr import full --company acme-tt.1001
      osr import full --all
    """
    if date_from or date_to:
        fail("a full import replaces the whole history and takes no --from/--to; "
             "for a window use `osr import ytd --company KEY --from YYYY-MM-DD --to YYYY-MM-DD`")
    _run("full", companies, all_companies, None, allow_shrink)


@import_.command("nightly", short_help="Replace the last days (the nightly window).")
@_select
@_window_options
@_shrink_option
def import_nightly(companies: tuple[str, ...], all_companies: bool, date_from: datetime | None,
                   date_to: datetime | None, allow_shrink: bool) -> None:
    """Replace the postings dated in the connection's nightly window: the last
    `nightly_days` days (5 unless set) up to today, Oslo time; and the dimensions.

    What the 02:00 schedule runs. Postings dated outside the window stay as they
    are (the year-to-date import catches back-dated ones). --from/--to replace
    another window instead (both days inclusive).

    \b
    Examples:
      osr import nightly --company acme-tt.1001
      osr import nightly --all
    """
    _run("nightly", companies, all_companies, _window(date_from, date_to), allow_shrink)


@import_.command("ytd", short_help="Replace 1 January to today, or a window.")
@_select
@_window_options
@_shrink_option
def import_ytd(companies: tuple[str, ...], all_companies: bool, date_from: datetime | None,
               date_to: datetime | None, allow_shrink: bool) -> None:
    """Replace the postings dated from 1 January to today (Oslo time), or in the
    window --from/--to give (both days inclusive); and the dimensions.

    What the weekly schedule runs, to catch postings back-dated past the nightly
    window. Postings dated outside the window stay as they are.

    \b
    Examples:
      osr import ytd --all
      osr import ytd --company acme-tt.1001 --from 2024-01-01 --to 2024-12-31
    """
    _run("ytd", companies, all_companies, _window(date_from, date_to), allow_shrink)


@import_.command("cancel", short_help="Stop a queued or running import.")
@_select
def import_cancel(companies: tuple[str, ...], all_companies: bool) -> None:
    """Stop each company's queued or running import, or clear one whose osr
    process died (killed, machine restarted).

    A stopped import's load is rolled back: the company keeps its previous data.

    \b
    Examples:
      osr import cancel --company acme-tt.1001
    """
    _cancel(_companies(companies, all_companies, importable_only=False))


def _cancel(keys: list[str]) -> None:
    instance = _instance()
    for key in keys:
        stopped = cancel_imports(instance, key)
        click.echo(f"  {key}: " + (f"stopped {', '.join(stopped)}" if stopped else "no active import"))


@click.command("status")
@click.option("--json", "as_json", is_flag=True,
              help="Print JSON: per connection and company its status, last import, rows, checks and errors.")
def status(as_json: bool) -> None:
    """Per connection and company: health, last import, rows, why the last run failed, and each check
    that failed or warned at the company's last import."""
    problems = [f"{disk}: imports will fail, and Dagster cannot record runs, until space is freed there"
                for disk in full_disks()]
    instance = wh = None
    try:
        instance = get_instance()
    except Exception as exc:  # shown as a problem: the warehouse's side of the status is still worth reading
        problems.append(_unreadable("Dagster's storage", settings.dagster_home(), exc))
    try:
        wh = warehouse()
    except Exception as exc:
        problems.append(_unreadable("the warehouse", None, exc))
    state = read_status(read_registry(), instance, wh, problems)
    if as_json:
        click.echo(json.dumps(state.as_json(), indent=2))
        return
    for problem in state.problems:
        click.secho(f"error: {problem}", fg="red")
    for conn in state.connections:
        health = conn.health
        click.secho(f"{conn.connection.name} ({conn.connection.type}, {conn.connection.mode}): {health}", bold=True,
                    fg="red" if "failing" in health else "yellow" if "warning" in health else "green")
        missing = conn.missing_line()
        if missing:
            click.secho(f"  {missing}", fg="yellow")
        for company in conn.companies:
            _company_lines(company)
    if state.detached:
        click.secho("companies of deleted connections (kept, no longer updated):", bold=True)
        for company in state.detached:
            _company_lines(company)


def _company_lines(status: CompanyStatus) -> None:
    co, load = status.company, status.load
    when = load["finished_at"].strftime("%Y-%m-%d %H:%M") if load and load["finished_at"] else "never"
    window = ""
    if load and load["window_start"]:
        end = load["window_end"] - timedelta(days=1) if isinstance(load["window_end"], date) else load["window_end"]
        window = f" {load['window_start']}..{end}"
    run = (status.run_status or "-") if status.known else "unknown"
    click.echo(f"  {co.key:28} {co.name[:28]:28} rows={status.rows:<9,} last import {when}{window}  last run {run}")
    for problem in status.problems():
        click.secho(f"      {problem}", fg="yellow" if problem.startswith("warning") else "red")


def _instance() -> DagsterInstance:
    """The Dagster instance, or one paragraph on why it cannot be opened."""
    try:
        return get_instance()
    except Exception as exc:
        if settings.debug():
            raise
        fail(_unreadable("Dagster's storage", settings.dagster_home(), exc))
    raise AssertionError("unreachable")


def _unreadable(what: str, path: Path | None, exc: BaseException) -> str:
    """Why a store cannot be opened: its full disk where that is the cause, else the error's first line."""
    if full_disk_of(what) is not None:
        return f"{what} cannot be opened while its disk is full" + (
            ": runs and check results are not shown" if what == "Dagster's storage" else "")
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{what}{f' ({path})' if path else ''} cannot be opened: {type(exc).__name__}: {text}"
