"""What ``osr status`` reports, per connection and company: read once, then shown.

A company's health folds together its last run and the latest evaluation of each
of its import checks: a run can succeed and still load data its checks flag (a
count that differs from the ERP's, vouchers that do not balance), and a status
that says "healthy" then would hide exactly what the checks exist to show.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from dagster import AssetCheckKey, AssetCheckSeverity, DagsterInstance, DagsterRunStatus, RunsFilter
from dagster._core.event_api import PartitionKeyFilter  # no public form of "this partition's checks" in 1.13
from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

from osr_pipelines.assets.imports import build_import_assets
from osr_pipelines.committed import postings_load
from osr_pipelines.duplicates import duplicates
from osr_pipelines.partitions import company_partitions
from osr_pipelines.registry import Company, Connection, Registry
from osr_pipelines.runner import RunReport, is_stale, stale_load
from osr_pipelines.tags import CONNECTION_TAG, covers
from osr_pipelines.warehouse.loader import Warehouse

#: What a failed check is called, by its severity.
PROBLEM = {AssetCheckSeverity.ERROR.value: "failed", AssetCheckSeverity.WARN.value: "warning"}
_EVALUATED = {AssetCheckExecutionRecordStatus.SUCCEEDED, AssetCheckExecutionRecordStatus.FAILED}


@dataclass(frozen=True)
class CheckResult:
    """The latest evaluation of one check on one company."""

    name: str
    passed: bool
    severity: str  # "ERROR" or "WARN": how much a failure matters
    figures: dict[str, Any]
    run_id: str
    checked_at: datetime

    @property
    def problem(self) -> str | None:
        """``failed``, ``warning``, or ``None`` when the check passed."""
        return None if self.passed else PROBLEM.get(self.severity, "failed")

    def line(self) -> str:
        return f"{self.problem or 'passed'}: {self.name}: {describe_check(self.name, self.figures)}"


@dataclass
class CompanyStatus:
    company: Company
    run_status: str | None = None
    run_id: str | None = None
    failure: str | None = None  # why its last run failed, or that the run lost its process
    load: dict | None = None  # the warehouse's last load of its postings
    rows: int = 0
    checks: list[CheckResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # its data is there, its record needs attention
    known: bool = True  # false when Dagster's storage could not be read: runs and checks unknown

    @property
    def imported(self) -> bool:
        return self.run_status is not None or self.load is not None

    @property
    def health(self) -> str:
        """``failing`` (its last run, or a check of severity error), ``warning``, ``healthy``, ``never imported``,
        or ``unknown`` (Dagster's storage could not be read)."""
        problems = {c.problem for c in self.checks}
        if self.failure or "failed" in problems:
            return "failing"
        if self.warnings or "warning" in problems:
            return "warning"
        if not self.known:
            return "unknown"
        return "healthy" if self.imported else "never imported"

    def problems(self) -> list[str]:
        """One line per problem: the last run's failure or warnings, then each check that did not pass."""
        run = [f"failure: {self.failure}"] if self.failure else []
        return run + [f"warning: {w}" for w in self.warnings] + [c.line() for c in self.checks if c.problem]


@dataclass
class ConnectionStatus:
    connection: Connection
    companies: list[CompanyStatus]

    @property
    def missing_variables(self) -> list[str]:
        """The credential variables this shell lacks (names only: values are never read here)."""
        return [var for _, var in self.connection.missing_secrets()]

    def missing_line(self) -> str | None:
        """One line naming the missing variables; the daemon's and code server's environment matter as much."""
        missing = self.connection.missing_secrets()
        if not missing:
            return None
        names = ", ".join(f"{var} ({credential})" for credential, var in missing)
        them = "it" if len(missing) == 1 else "them"
        return (f"not set in this shell: {names}; set {them} here to test or import from this shell, and in the "
                f"environment of the Dagster daemon and code server too, whose runs read {them} when they start")

    @property
    def health(self) -> str:
        """Its companies summarised: how many fail, how many only warn."""
        if self.connection.mode == "direct":
            return "direct (queried live)"
        if self.companies and not any(c.known for c in self.companies):
            return "unknown (Dagster's storage cannot be read)"
        if not any(c.imported for c in self.companies):
            return "no imports yet"
        total = len(self.companies)
        failing = sum(c.health == "failing" for c in self.companies)
        warning = sum(c.health == "warning" for c in self.companies)
        parts = ([f"failing ({failing} of {total} companies)"] if failing else []) + (
            [f"warnings ({warning} of {total} companies)"] if warning else [])
        return ", ".join(parts) or "healthy"


@dataclass
class Status:
    connections: list[ConnectionStatus]
    detached: list[CompanyStatus]  # companies of deleted connections: kept, no longer updated
    problems: list[str] = field(default_factory=list)  # the stores themselves: a full disk, unreadable storage

    def as_json(self) -> dict:
        """``osr status --json``: the same facts under keys that stay put, names of variables but never values."""
        return {"connections": [_connection_json(c) for c in self.connections],
                "detached_companies": [_company_json(c) for c in self.detached],
                "errors": self.problems}


def _connection_json(c: ConnectionStatus) -> dict:
    health = c.health
    state = next((s for s in ("direct", "unknown", "no imports yet", "failing", "warnings") if health.startswith(s)),
                 "healthy")
    return {"name": c.connection.name, "type": c.connection.type, "mode": c.connection.mode,
            "status": {"warnings": "warning"}.get(state, state), "summary": health,
            "missing_variables": c.missing_variables, "companies": [_company_json(co) for co in c.companies]}


def _company_json(c: CompanyStatus) -> dict:
    load = c.load
    return {
        "key": c.company.key, "name": c.company.name, "connection": c.company.connection,
        "status": c.health, "rows": c.rows,
        "last_import": None if load is None else {
            "finished_at": _iso(load["finished_at"]), "window_start": _iso(load["window_start"]),
            "window_end": _iso(load["window_end"]), "rows_written": load.get("rows_written")},
        "last_run": None if c.run_id is None else {"id": c.run_id, "status": c.run_status},
        "checks": [{"name": k.name, "passed": k.passed, "severity": k.severity, "problem": k.problem,
                    "figures": k.figures, "run_id": k.run_id, "checked_at": _iso(k.checked_at)} for k in c.checks],
        "errors": [c.failure] if c.failure else [],
        "warnings": c.warnings,
    }


def _iso(value: object) -> str | None:
    """Dates and times as ISO 8601; the warehouse's backends hand them over as objects or as text."""
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date | datetime) else str(value)


def read_status(reg: Registry, instance: DagsterInstance | None, wh: Warehouse | None,
                problems: list[str] | None = None) -> Status:
    """Every company's last run, last load, rows and latest check results, per connection.

    Only reads. ``instance`` or ``wh`` is None when it could not be opened (a
    full disk, say): what the other holds is still shown, and ``problems`` says why.
    """
    loads, rows = (wh.last_loads(), wh.company_rows()) if wh is not None else ({}, {})
    by_connection: dict[str, list[CompanyStatus]] = {c.name: [] for c in reg.connections}
    detached: list[CompanyStatus] = []
    runs = _RunLookup(instance, wh) if instance is not None else None
    twins = duplicates(reg, reg.companies)
    for co in reg.companies:
        status = CompanyStatus(co, load=loads.get((co.key, "gl_postings")), rows=rows.get(co.key, 0),
                               known=runs is not None)
        status.warnings.extend(f"imported twice: {d.line()}; remove one (osr company remove)"
                               for d in twins if d.company is co)
        if runs is not None:
            runs.fill(status)
        by_connection.get(co.connection, detached).append(status)
    return Status([ConnectionStatus(c, by_connection[c.name]) for c in reg.connections], detached,
                  list(problems or []))


class _RunLookup:
    """Each company's last run (its own or a batch's) and latest checks, out of the Dagster instance."""

    def __init__(self, instance: DagsterInstance, wh: Warehouse | None) -> None:
        self.instance, self.wh = instance, wh
        self.position = {k: i for i, k in enumerate(instance.get_dynamic_partitions(company_partitions.name))}
        self.recent: dict[str, list] = {}  # a connection's latest runs: single companies and batches
        self.reports: dict[str, RunReport] = {}  # a failed batch's events, read once for all its companies
        self.check_keys = import_check_keys()

    def fill(self, status: CompanyStatus) -> None:
        co, instance = status.company, self.instance
        if co.connection not in self.recent:
            self.recent[co.connection] = instance.get_runs(RunsFilter(tags={CONNECTION_TAG: co.connection}),
                                                           limit=500)
        status.checks = latest_checks(instance, co.key, self.check_keys)
        last = next((r for r in self.recent[co.connection] if covers(r, co.key, self.position)), None)
        if last is None:
            return
        status.run_status, status.run_id = last.status.value, last.run_id
        if is_stale(last):
            load = postings_load(co.key, last.run_id, self.wh)
            gone = (f"run {last.run_id} is {last.status.value} but its osr process is gone; "
                    f"{stale_load(load)}; clear it with `osr import cancel --company {co.key}`")
            if load is not None:
                status.warnings.append(gone)  # the data is there; only Dagster's record is unfinished
            else:
                status.failure = gone
        elif last.status == DagsterRunStatus.FAILURE:
            # a failed batch may have imported this company; its own outcome says
            if last.run_id not in self.reports:
                self.reports[last.run_id] = RunReport.read(instance, last.run_id)
            outcome = self.reports[last.run_id].outcome(instance, co.key, 0.0)
            status.run_status, status.failure = outcome.status, outcome.error


def import_check_keys() -> list[AssetCheckKey]:
    """The checks the import step evaluates on each company's postings."""
    return [key for asset in build_import_assets() for key in asset.check_keys]


def latest_checks(instance: DagsterInstance, company: str, keys: list[AssetCheckKey]) -> list[CheckResult]:
    """The latest evaluation of each check on the company's partition.

    Evaluated ones only: a run that is queued, running or failed before its
    checks plans them without a result, and must not hide the last result there is.
    """
    out = []
    for key in keys:
        records = instance.event_log_storage.get_asset_check_execution_history(
            key, limit=1, status=_EVALUATED, partition_filter=PartitionKeyFilter(key=company))
        evaluation = records[0].evaluation if records else None
        if evaluation is None:
            continue
        out.append(CheckResult(key.name, evaluation.passed, evaluation.severity.value,
                               {k: _plain(v.value) for k, v in evaluation.metadata.items()},
                               records[0].run_id, datetime.fromtimestamp(records[0].create_timestamp, UTC)))
    return out


def _plain(value: object) -> object:
    """A metadata value as JSON holds it."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return str(value)


# -- a check's figures in words -------------------------------------------------------------


def describe_check(name: str, figures: dict[str, Any]) -> str:
    """The figures that say why a check failed, in one line; unknown checks list their scalar figures."""
    describe = _DESCRIBE.get(name)
    if describe is not None:
        try:
            return describe(figures)
        except (KeyError, TypeError, ValueError):
            pass  # figures of another shape (an older or newer release): fall back to listing them
    scalars = [f"{k.replace('_', ' ')} {_number(v)}" for k, v in figures.items() if not isinstance(v, dict | list)]
    return ", ".join(scalars) or "no figures recorded"


def _number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def _unbalanced(f: dict) -> str:
    examples = [str(e[0]) for e in f.get("examples") or [] if e]
    return _plural(f["unbalanced_vouchers"], "unbalanced voucher") + (
        f" (e.g. {', '.join(examples[:3])})" if examples else "")


def _drop(f: dict) -> str:
    return (f"the load replaced {f['rows_before']:,} rows with {f['rows_written']:,} "
            f"({f['kept_ratio']:.0%} kept)")


def _count(f: dict) -> str:
    warehouse, received, reported = f["warehouse_rows"], f["rows_received"], f.get("erp_reported_rows")
    if warehouse != received:
        return f"warehouse {warehouse:,} rows, {received:,} received from the ERP"
    if reported is None:
        return f"warehouse {warehouse:,} rows; the ERP reports no count"
    how = "exact" if f.get("erp_count_exact") else "approximate"
    return f"warehouse {warehouse:,} rows, ERP reported {reported:,} ({how})"


def _dangling(f: dict) -> str:
    parts = []
    for column, d in f.items():
        if not isinstance(d, dict):
            continue
        examples = ", ".join(str(e) for e in (d.get("examples") or [])[:3])
        parts.append(f"{column}: {_plural(d['missing_values'], 'value')} missing, in "
                     f"{_plural(d['postings'], 'posting')}" + (f" (e.g. {examples})" if examples else ""))
    return "; ".join(parts) or "every reference resolves"


_DESCRIBE = {"vouchers_balance": _unbalanced, "no_large_drop": _drop, "row_count_matches_source": _count,
             "dimensions_resolve": _dangling}
