"""Checking a SAF-T file against the Tax Administration's XSD of its version.

The XSDs of 1.10 and 1.30 ship in ``schemas/`` (public schemas, unchanged). A
file is read with the same hardened parser settings as the import (no DTD, no
entities, no network); problems come back one per line with their line numbers.
The schema check needs the file's tree in memory (libxml2 validates a tree), so
it costs about as much memory as the file is large, several times over.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from lxml import etree

from osr_pipelines.connectors.saft.reader import SaftFileError, open_xml, read_header

SCHEMAS = Path(__file__).parent / "schemas"
SCHEMA_FILES = {"1.10": "Norwegian_SAF-T_Financial_Schema_v_1.10.xsd",
                "1.30": "Norwegian_SAF-T_Financial_Schema_v_1.30.xsd"}


@cache
def schema(version: str) -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(SCHEMAS / SCHEMA_FILES[version]), parser))


def problems(path: Path, version: str | None = None) -> list[str]:
    """Every way ``path`` departs from the XSD of its version (or of ``version``), as ``line N: message``.

    A file that cannot be read as SAF-T at all (not XML, truncated, an
    unknown version, a DOCTYPE) is one problem saying so.
    """
    try:
        version = version or read_header(path).schema
        parser = etree.XMLParser(resolve_entities=False, load_dtd=False, no_network=True, huge_tree=False)
        with open_xml(path) as handle:
            tree = etree.parse(handle, parser)
    except SaftFileError as exc:
        return [exc.reason]
    except etree.XMLSyntaxError as exc:
        return [f"line {exc.lineno}: not well-formed XML: {exc.msg}"]
    checker = schema(version)
    if checker.validate(tree):
        return []
    return [f"line {e.line}: {e.message}" for e in checker.error_log]
