"""Connection options: each type declares its options once, with kind, range and default.

Options stay text in the registry (``options: {page_size: '1000'}``), as the
connectors read them. Every value is parsed and range-checked here, when a
connection is added and whenever the registry loads, because a connector that
parses ``page_size: '0'`` on its own happily reads zero rows and reports
success, and ``workers: '-1'`` never finishes. Nothing reaches a connector
that would not parse, and unknown options are refused rather than ignored, so
a misspelt ``page_sise`` cannot silently fall back to the default.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from urllib.parse import urlsplit

#: Turns an option's text into its value, or raises ``ValueError`` saying what it must be.
Parser = Callable[[str], object]


class OptionError(ValueError):
    """One option of one connection is wrong; the message names the option and what it must be."""

    def __init__(self, option: str, reason: str) -> None:
        self.option = option
        self.reason = reason
        super().__init__(f"option '{option}': {reason}")


@dataclass(frozen=True)
class OptionSpec:
    """One option of a connection type: how its text parses, its allowed range and its default.

    ``default`` is the text used when the option is absent; ``None`` means
    the connector decides (the option's absence has a meaning of its own).
    """

    name: str
    parse: Parser
    #: what a value must be, for messages (``a whole number from 1 to 10000``)
    expects: str
    default: str | None = None
    required: bool = False
    #: values a test can use to show each bound is enforced
    invalid_examples: tuple[str, ...] = ()

    def check(self, value: object) -> str | None:
        """What is wrong with ``value``, or ``None`` when it parses and is in range."""
        if not isinstance(value, str):
            return f"must be text (quote it in YAML), not {type(value).__name__}"
        try:
            self.parse(value)
        except (ValueError, OverflowError):
            return f"must be {self.expects}, not {_show(value)}"
        return None


def _show(value: str) -> str:
    """A value for a message, control characters visible and length bounded."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _no_control(value: str) -> str:
    if not value or value != value.strip() or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError(value)
    return value


def whole(name: str, default: int | None, low: int, high: int) -> OptionSpec:
    """A whole number in ``[low, high]`` (decimal digits only: no ``1e3``, ``0x10`` or ``1_000``)."""

    def parse(value: str) -> int:
        if not re.fullmatch(r"-?[0-9]{1,19}", value):
            raise ValueError(value)
        number = int(value)
        if not low <= number <= high:
            raise ValueError(value)
        return number

    return OptionSpec(name, parse, f"a whole number from {low} to {high}",
                      None if default is None else str(default),
                      invalid_examples=("abc", "1.5", str(low - 1), str(high + 1), str(10**30)))


def seconds(name: str, default: float | None, low: float, high: float) -> OptionSpec:
    """A number of seconds in ``[low, high]``; ``nan`` and ``inf`` are refused."""

    def parse(value: str) -> float:
        if not re.fullmatch(r"-?[0-9]+(\.[0-9]+)?", value):
            raise ValueError(value)
        number = float(value)
        if not math.isfinite(number) or not low <= number <= high:
            raise ValueError(value)
        return number

    return OptionSpec(name, parse, f"a number of seconds from {low:g} to {high:g}",
                      None if default is None else f"{default:g}",
                      invalid_examples=("abc", "nan", "inf", f"{low - 1:g}", f"{high + 1:g}"))


def url(name: str, default: str | None) -> OptionSpec:
    """An ``http``/``https`` URL with a host."""

    def parse(value: str) -> str:
        parts = urlsplit(_no_control(value))
        if parts.scheme not in ("http", "https") or not parts.hostname or " " in value:
            raise ValueError(value)
        return value

    return OptionSpec(name, parse, "an http:// or https:// URL", default,
                      invalid_examples=("abc", "ftp://example.com", "https://", "https://a b", "0"))


def text(name: str, default: str | None = None, *, required: bool = False, what: str = "text") -> OptionSpec:
    """Non-empty text without surrounding blanks or control characters."""
    return OptionSpec(name, _no_control, f"{what} without surrounding blanks or control characters", default,
                      required=required, invalid_examples=("", " x", "x\n", "a\x00b"))


def pattern(name: str, regex: str, expects: str, default: str | None = None,
            invalid: tuple[str, ...] = ("", "abc!", "-1", "x\n")) -> OptionSpec:
    """Text matching ``regex`` in full."""

    def parse(value: str) -> str:
        if not re.fullmatch(regex, value):
            raise ValueError(value)
        return value

    return OptionSpec(name, parse, expects, default, invalid_examples=invalid)


def iso_date(name: str) -> OptionSpec:
    """A date as YYYY-MM-DD."""

    def parse(value: str) -> date:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError(value)
        return date.fromisoformat(value)

    return OptionSpec(name, parse, "a date (YYYY-MM-DD)", invalid_examples=("abc", "2024-13-01", "0", "-1"))


def slot(name: str, default: int) -> OptionSpec:
    """An Xledger ``glObjectN`` slot (1 to 5) or ``none``."""

    def parse(value: str) -> int | None:
        if value.lower() == "none":
            return None
        if value not in {"1", "2", "3", "4", "5"}:
            raise ValueError(value)
        return int(value)

    return OptionSpec(name, parse, "a slot from 1 to 5 or 'none'", str(default),
                      invalid_examples=("0", "-1", "6", "abc", "1.0"))


# -- options several connection types share: declared once ------------------------------

TIMEOUT = seconds("timeout", 120, 1, 3600)
#: Requests per rate-limit window left unused for other clients of the same ERP account.
RATE_RESERVE = whole("rate_reserve", 0, 0, 100_000)


def workers(default: int) -> OptionSpec:
    """Parallel requests per company; a few are plenty, more only trip the ERP's rate limit."""
    return whole("workers", default, 1, 32)


def check_options(options: Mapping[object, object], specs: Mapping[str, OptionSpec],
                  type_name: str) -> list[OptionError]:
    """Every problem with ``options`` against the ``specs`` of ``type_name``: unknown, missing, bad or out of range."""
    problems = []
    for key, value in options.items():
        spec = specs.get(key) if isinstance(key, str) else None
        if spec is None:
            known = ", ".join(sorted(specs)) or "none"
            problems.append(OptionError(str(key), f"not an option of type '{type_name}' (known: {known})"))
        elif (problem := spec.check(value)) is not None:
            problems.append(OptionError(key, problem))
    for spec in specs.values():
        if spec.required and spec.name not in options:
            problems.append(OptionError(spec.name, f"missing: set it to {spec.expects}"))
    return problems


def with_defaults(options: Mapping[str, str], specs: Mapping[str, OptionSpec]) -> dict[str, str]:
    """The options a connector receives: the declared defaults, overridden by the connection's own."""
    return {**{s.name: s.default for s in specs.values() if s.default is not None}, **options}
