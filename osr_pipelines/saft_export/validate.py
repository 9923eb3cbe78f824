"""Checking a SAF-T file against the Tax Administration's XSD of its version, streaming.

The XSDs of 1.10 and 1.30 ship in ``schemas/`` (public schemas, unchanged). A
file is read with the import's hardened parser (no DTD, no entities, no network;
a DOCTYPE refused unread). libxml2 validates a tree, and a whole SAF-T file as a
tree costs about ten times its size in memory, so the file is checked in pieces
that together are the whole check:

- each ``GeneralLedgerEntries/Journal/Transaction`` is validated on its own, as
  soon as it is parsed, against the XSD's own ``Transaction`` declaration (made a
  global element of a copy of the schema), then dropped;
- everything else (header, master files, each journal's own fields, source
  documents) is validated at the end as one document, in which each run of
  transactions is left as one empty ``Transaction`` (typed ``anyType`` in that
  copy), so the journal's order and counts are still checked.

The XSD's ``xs:key``/``xs:keyref`` constraints name their elements without the
namespace prefix, so under XSD 1.0 they select nothing and no validator checks
them (the whole-tree check never did); splitting the file loses no check.
Problems come back in file order, each with its line and its place
(``/AuditFile/GeneralLedgerEntries/Journal/Transaction[3]/Period``).
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from lxml import etree

from osr_pipelines.connectors.saft.facts import NAMESPACE
from osr_pipelines.connectors.saft.reader import AUDIT_FILE, NS, SaftFileError, events, read_header

SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA_FILES = {"1.10": "Norwegian_SAF-T_Financial_Schema_v_1.10.xsd",
                "1.30": "Norwegian_SAF-T_Financial_Schema_v_1.30.xsd"}
XS = "http://www.w3.org/2001/XMLSchema"
TRANSACTION, JOURNAL, LEDGER = NS + "Transaction", NS + "Journal", NS + "GeneralLedgerEntries"
#: One step of libxml2's path of a node: ``n1:Line[2]``, ``Line``, or ``*[2]`` (an element in a default namespace).
STEP = re.compile(r"(?:[^:/\[]+:)?([^:/\[]+)(?:\[(\d+)\])?")
ELEMENT_PREFIX = re.compile(r"^Element '[^']*': ")


@cache
def schema(version: str) -> etree.XMLSchema:
    """The version's XSD with ``Journal/Transaction`` split off: a global element, anything in its place.

    Both declarations of the one element are the XSD's own: the global one takes
    the local one's annotation and anonymous type, unchanged.
    """
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    doc = etree.parse(str(SCHEMAS / SCHEMA_FILES[version]), parser)
    names = {"xs": XS}
    [local] = doc.xpath("xs:element[@name='AuditFile']//xs:element[@name='GeneralLedgerEntries']//"
                        "xs:element[@name='Journal']//xs:element[@name='Transaction']", namespaces=names)
    split = etree.SubElement(doc.getroot(), f"{{{XS}}}element", name="Transaction")
    split.extend(list(local))
    return etree.XMLSchema(doc)


class _Places:
    """Readable places of elements: local names, with the position among same-named siblings where there are
    several. A transaction's position is its own even after the ones before it were dropped. Each parent's
    children are listed once per batch of errors, so a thousand bad accounts cost one pass, not a thousand."""

    def __init__(self) -> None:
        self.ordinal: dict[etree._Element, int] = {}  # a transaction still in the tree -> its position
        self._children: dict[etree._Element, tuple[list[etree._Element], dict[str, list[etree._Element]],
                                                   dict[etree._Element, int]]] = {}

    def _of(self, parent: etree._Element) -> tuple[list[etree._Element], dict[str, list[etree._Element]],
                                                   dict[etree._Element, int]]:
        """``parent``'s element children: all, by local name, and each one's position among its namesakes."""
        if parent not in self._children:
            children = list(parent.iterchildren(tag=etree.Element))
            named: dict[str, list[etree._Element]] = {}
            position = {}
            for child in children:
                same = named.setdefault(etree.QName(child).localname, [])
                same.append(child)
                position[child] = len(same)
            self._children[parent] = children, named, position
        return self._children[parent]

    def forget(self) -> None:
        self._children.clear()

    def of(self, el: etree._Element) -> str:
        steps = []
        node: etree._Element | None = el
        while node is not None:
            parent = node.getparent()
            name = etree.QName(node).localname
            if node in self.ordinal:
                name += f"[{self.ordinal[node]}]"
            elif parent is not None:
                _, named, position = self._of(parent)
                if len(named[name]) > 1:
                    name += f"[{position[node]}]"
            steps.append(name)
            node = parent
        return "/" + "/".join(reversed(steps))

    def resolve(self, root: etree._Element, path: str | None) -> etree._Element | None:
        """The element libxml2's ``path`` (from ``root``, itself its first step) names, where it names one."""
        if not path:
            return None
        node = root
        for step in path.strip("/").split("/")[1:]:
            match = STEP.fullmatch(step)
            if match is None:
                return None
            name, position = match.group(1), int(match.group(2) or 1)
            children, named, _ = self._of(node)
            # libxml2 counts every element sibling for ``*`` (an element in a default namespace)
            candidates = children if name == "*" else named.get(name, [])
            if len(candidates) < position:
                return None
            node = candidates[position - 1]
        return node


def _report(log: etree._ListErrorLog, root: etree._Element, places: _Places, found: list[tuple[int, str]]) -> None:
    """Each error of ``log`` as ``(line, "line N: place: message")``; the place replaces libxml2's
    ``Element '{namespace}Name': `` opening."""
    for error in log:
        message = error.message.replace("{" + NAMESPACE + "}", "")
        el = places.resolve(root, error.path)
        if el is not None:
            message = f"{places.of(el)}: {ELEMENT_PREFIX.sub('', message)}"
        found.append((error.line, f"line {error.line}: {message}"))
    places.forget()


def _in_journal(el: etree._Element) -> bool:
    """Whether ``el`` is where the schema puts transactions: ``/AuditFile/GeneralLedgerEntries/Journal/``."""
    steps = []
    node = el.getparent()
    while node is not None and len(steps) < 4:
        steps.append(node.tag)
        node = node.getparent()
    return steps == [JOURNAL, LEDGER, AUDIT_FILE]


def problems(path: Path, version: str | None = None) -> list[str]:
    """Every way ``path`` departs from the XSD of its version (or of ``version``), as ``line N: place: message``.

    A file that cannot be read as SAF-T at all (not XML, truncated, an
    unknown version, a DOCTYPE) ends the list with one problem saying so.
    """
    found: list[tuple[int, str]] = []
    unreadable: list[str] = []
    try:
        _check(path, version or read_header(path).schema, found)
    except SaftFileError as exc:
        unreadable.append(exc.reason)
    return [message for _, message in sorted(found, key=lambda f: f[0])] + unreadable


def _check(path: Path, version: str, found: list[tuple[int, str]]) -> None:
    """One streaming pass: each journal transaction checked and dropped as it ends, then the rest as a whole."""
    checker = schema(version)
    places = _Places()
    root, journal, count = None, None, 0
    with events(path, tag=(TRANSACTION, AUDIT_FILE)) as stream:
        for _, el in stream:
            parent = el.getparent()
            if parent is None:
                root = el
                continue
            if not _in_journal(el):
                continue  # a transaction out of place: the whole-document check names it
            if parent is not journal:
                journal, count = parent, 0
            count += 1
            places.ordinal[el] = count
            if not checker.validate(el):
                _report(checker.error_log, el, places, found)
            previous = el.getprevious()
            if previous is not None and previous in places.ordinal:
                del places.ordinal[el]  # the first transaction of the run stands for it
                parent.remove(el)
            else:
                el.clear(keep_tail=True)
    if root is None or root.tag != AUDIT_FILE:
        read_header(path)  # says why the file is not SAF-T
        raise SaftFileError(path, f"is not a SAF-T Financial file: its root is not AuditFile in {NAMESPACE}")
    if not checker.validate(root):
        _report(checker.error_log, root, places, found)
