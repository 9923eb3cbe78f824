"""Which dates an import covers: the run config every import job shares."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from dagster import Config
from pydantic import Field

from osr_pipelines.connectors.base import Window
from osr_pipelines.registry import Connection

OSLO = ZoneInfo("Europe/Oslo")
#: An import run's ``mode``: which dates it replaces (a connection's mode, import or direct, is
#: ``registry.CONNECTION_MODES``).
WINDOW_MODES = ("full", "nightly", "ytd", "window")


def today_in_oslo() -> date:
    return datetime.now(OSLO).date()


class ImportConfig(Config):
    """``full`` replaces the whole history; the other modes replace one date window.

    ``start``/``end`` (``YYYY-MM-DD``, end exclusive) pin the window explicitly;
    schedules set them so a run records exactly what it covered.
    """

    mode: str = Field(default="full", description="full | nightly | ytd | window")
    start: str | None = Field(default=None, description="first day (inclusive), YYYY-MM-DD")
    end: str | None = Field(default=None, description="last day (exclusive), YYYY-MM-DD")
    allow_shrink: bool = Field(default=False, description=(
        "let a full import replace a company's non-empty history, or a non-empty dimension, with nothing"))


def resolve_window(config: ImportConfig, connection: Connection, today: date) -> tuple[Window, bool]:
    """The window to fetch and whether the load replaces the company's whole history."""
    if config.mode not in WINDOW_MODES:
        raise ValueError(f"run config field 'mode': must be one of {', '.join(WINDOW_MODES)}, not '{config.mode}'")
    if config.start or config.end:
        if not (config.start and config.end):
            raise ValueError("run config fields 'start' and 'end' must be given together")
        try:
            window = Window(date.fromisoformat(config.start), date.fromisoformat(config.end))
        except ValueError as exc:
            raise ValueError(f"run config fields 'start'/'end': {exc}") from None
        return window, False
    if config.mode == "full":
        # To the end of next year, not tomorrow: ERPs hold vouchers dated ahead (accrual reversals,
        # periodisations), and they belong to the history a full import replaces (README, registry fields).
        return Window(date.fromisoformat(connection.history_start), date(today.year + 2, 1, 1)), True
    if config.mode == "nightly":
        return Window.last_days(connection.nightly_days, today), False
    if config.mode == "ytd":
        return Window(date(today.year, 1, 1), date.fromordinal(today.toordinal() + 1)), False
    raise ValueError("run config mode 'window' needs 'start' and 'end'")
