"""Reading SAF-T Financial files: hardened, streaming, one clear error per bad file.

A file is read with ``lxml.etree.iterparse``, each master-file record and each
transaction cleared (and dropped from its parent) as soon as it is mapped, so
memory stays flat however large the file is. The parser resolves no entities,
loads no DTD and never touches the network; a file declaring a DOCTYPE is
refused before parsing at all, because SAF-T files have none and a DOCTYPE is
exactly what an entity bomb or an external-entity read needs.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import IO

from lxml import etree

from osr_pipelines.connectors.saft.facts import NAMESPACE, VERSIONS

NS = "{" + NAMESPACE + "}"
AUDIT_FILE, HEADER = NS + "AuditFile", NS + "Header"
#: Bytes at the start of a file searched for a DOCTYPE: the prolog before the root element.
PROLOG_BYTES = 64 * 1024
#: An organisation number in a file name, as the Tax Administration's naming convention puts it there.
ORG_NUMBER_IN_NAME = re.compile(r"(?<![0-9])([0-9]{9})(?![0-9])")


class SaftFileError(Exception):
    """One file cannot be used; the message names the file and what is wrong with it."""

    def __init__(self, path: Path, reason: str) -> None:
        self.path, self.reason = path, reason
        super().__init__(f"SAF-T file '{path.name}': {reason}")


def saft_files(folder: Path) -> list[Path]:
    """The folder's ``.xml`` and ``.zip`` files, by name (hidden files and sub-folders left out)."""
    return sorted(p for p in folder.iterdir()
                  if p.suffix.lower() in (".xml", ".zip") and not p.name.startswith(".") and p.is_file())


@contextmanager
def open_xml(path: Path) -> Iterator[IO[bytes]]:
    """The file's XML as a byte stream: the file itself, or the one XML file a ``.zip`` holds."""
    if path.suffix.lower() != ".zip":
        with path.open("rb") as handle:
            yield handle
        return
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise SaftFileError(path, f"is not a readable zip archive ({exc})") from None
    with archive:
        members = [m for m in archive.infolist() if not m.is_dir()]
        if len(members) != 1 or not members[0].filename.lower().endswith(".xml"):
            names = ", ".join(m.filename for m in members) or "nothing"
            raise SaftFileError(path, f"a SAF-T zip must hold exactly one .xml file; it holds {names}")
        with archive.open(members[0]) as handle:
            yield handle


def _refuse_doctype(path: Path) -> None:
    """SAF-T files declare no DOCTYPE; one that does is refused unread (entity bombs, external entities)."""
    with open_xml(path) as handle:
        head = handle.read(PROLOG_BYTES)
    if not head.strip():
        raise SaftFileError(path, "is empty")
    texts = [head]
    for bom, codec in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom):
            texts.append(head[2:].decode(codec, errors="ignore").encode())
    if any(b"<!DOCTYPE" in t or b"<!ENTITY" in t for t in texts):
        raise SaftFileError(path, "declares a DOCTYPE (entity declarations); SAF-T files have none, so it is "
                                  "refused unread")


def _last_line(path: Path) -> int:
    """The number of the file's last line, counted streaming (only ever on the way to an error message)."""
    lines = 1
    with open_xml(path) as handle:
        while chunk := handle.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines


def _syntax(path: Path, exc: etree.XMLSyntaxError) -> SaftFileError:
    message = str(exc.msg if hasattr(exc, "msg") and exc.msg else exc).strip()
    hint = ""
    if "Start tag expected" in message or "Document is empty" in message:
        hint = " (not an XML file)"
    elif "Premature end" in message or (exc.lineno and exc.lineno >= _last_line(path)):
        hint = " (the file ends before its XML does: truncated?)"
    line = f" at line {exc.lineno}" if getattr(exc, "lineno", None) else ""
    return SaftFileError(path, f"is not well-formed XML{line}: {message}{hint}")


@contextmanager
def events(path: Path, *, events: tuple[str, ...] = ("end",), tag: tuple[str, ...] | None = None
           ) -> Iterator[Iterator[tuple[str, etree._Element]]]:
    """``iterparse`` over the file with the hardened parser; syntax errors become :class:`SaftFileError`."""
    _refuse_doctype(path)
    with open_xml(path) as handle:
        parser = etree.iterparse(handle, events=events, tag=tag, resolve_entities=False, load_dtd=False,
                                 no_network=True, huge_tree=False, remove_comments=True, remove_pis=True)

        def guarded() -> Iterator[tuple[str, etree._Element]]:
            try:
                yield from parser
            except etree.XMLSyntaxError as exc:
                raise _syntax(path, exc) from None
            except (OSError, EOFError, zipfile.BadZipFile) as exc:
                raise SaftFileError(path, f"cannot be read ({exc})") from None

        yield guarded()


def text(el: etree._Element, tag: str) -> str | None:
    """The stripped text of child ``tag`` (local name), or ``None`` where it is absent or empty."""
    found = el.findtext(NS + tag)
    if found is None:
        return None
    found = found.strip()
    return found or None


@dataclass(frozen=True)
class FileHeader:
    """What a file's ``Header`` says: whose books, which version, when made, which months it covers."""

    path: Path
    schema: str  # the XSD version it is checked against: 1.10 or 1.30
    registration_number: str
    name: str
    created: date
    start: date
    end: date
    currency: str

    @property
    def first_month(self) -> int:
        return self.start.year * 100 + self.start.month

    @property
    def last_month(self) -> int:
        return self.end.year * 100 + self.end.month

    def covers(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def _day(path: Path, el: etree._Element, tag: str) -> date:
    value = text(el, tag)
    try:
        return date.fromisoformat((value or "")[:10])
    except ValueError:
        raise SaftFileError(path, f"line {el.sourceline}: {tag} must be a date (YYYY-MM-DD), "
                                  f"not {value!r}") from None


def _month(path: Path, el: etree._Element, tag: str, low: int = 1) -> int:
    value = text(el, tag)
    if value is None or not value.isdigit() or not low <= int(value) <= 9999:
        raise SaftFileError(path, f"line {el.sourceline}: {tag} must be a whole number, not {value!r}")
    return int(value)


def _coverage(path: Path, criteria: etree._Element | None) -> tuple[date, date]:
    """The first and last day the file covers, from ``SelectionCriteria``: dates, or periods taken as months."""
    if criteria is None:
        raise SaftFileError(path, "Header/SelectionCriteria is missing: the file does not say which period it "
                                  "covers")
    if text(criteria, "SelectionStartDate") or text(criteria, "SelectionEndDate"):
        start, end = _day(path, criteria, "SelectionStartDate"), _day(path, criteria, "SelectionEndDate")
    else:
        first = min(_month(path, criteria, "PeriodStart"), 12)
        last = min(_month(path, criteria, "PeriodEnd"), 12)
        start = date(_month(path, criteria, "PeriodStartYear"), first, 1)
        after = date(_month(path, criteria, "PeriodEndYear") + last // 12, last % 12 + 1, 1)
        end = after - timedelta(days=1)
    if end < start:
        raise SaftFileError(path, f"Header/SelectionCriteria ends ({end}) before it starts ({start})")
    return start, end


def _header(path: Path, el: etree._Element) -> FileHeader:
    version = text(el, "AuditFileVersion")
    if version not in VERSIONS:
        raise SaftFileError(path, f"AuditFileVersion {version!r} is not a SAF-T Financial version this reads "
                                  f"(known: {', '.join(sorted(set(VERSIONS.values())))})")
    company = el.find(NS + "Company")
    number = text(company, "RegistrationNumber") if company is not None else None
    if not number:
        raise SaftFileError(path, "Header/Company/RegistrationNumber is missing")
    start, end = _coverage(path, el.find(NS + "SelectionCriteria"))
    return FileHeader(path, VERSIONS[version], "".join(number.split()), text(company, "Name") or number,
                      _day(path, el, "AuditFileDateCreated"), start, end, text(el, "DefaultCurrencyCode") or "NOK")


def read_header(path: Path) -> FileHeader:
    """The file's header, reading no further than the header itself."""
    with events(path, events=("start", "end")) as stream:
        for event, el in stream:
            if event == "start":
                if el.getparent() is None and el.tag != AUDIT_FILE:
                    raise SaftFileError(path, f"is not a SAF-T Financial file: its root element is "
                                              f"{el.tag!r}, not AuditFile in {NAMESPACE}")
            elif el.tag == HEADER:
                return _header(path, el)
    raise SaftFileError(path, "has no Header")


def org_number_in_name(path: Path) -> str | None:
    """The organisation number a SAF-T file's name carries (``SAF-T Financial_<orgnr>_<timestamp>.xml``)."""
    found = ORG_NUMBER_IN_NAME.findall(path.stem)
    return found[0] if len(found) == 1 else None
