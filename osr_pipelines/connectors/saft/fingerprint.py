"""What a SAF-T folder holds per company, as one content hash each: a new or changed file changes it.

The content decides, not the timestamp: a file copied again unchanged (a new
modification time, the same bytes) changes nothing. Hashing a folder of large
files on every look would cost minutes, so a file's hash is kept with its
size, modification and status-change times and inode, and computed again only
when one of those changed; the status-change time cannot be set back by
copying tools, so a rewrite that keeps the modification time is still seen.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

from osr_pipelines.connectors.saft.reader import SaftFileError, org_number_in_name, read_header, saft_files

#: path -> [size, mtime_ns, ctime_ns, inode, sha256, organisation number or ""]
FileCache = dict[str, list]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _owner(path: Path) -> str:
    try:
        return read_header(path).registration_number
    except SaftFileError:  # unreadable: the company its name carries, whose import then says what is wrong
        return org_number_in_name(path) or ""


def scan(folder: Path, cache: Mapping[str, list]) -> tuple[dict[str, str], FileCache]:
    """Organisation number -> hash of all its files' contents, and the file cache for the next scan."""
    files: FileCache = {}
    for path in saft_files(folder):
        try:
            stat = path.stat()
            key = [stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_ino]
            known = cache.get(str(path))
            if known is not None and known[:4] == key:
                files[str(path)] = known
            else:
                files[str(path)] = [*key, _sha256(path), _owner(path)]
        except OSError:  # removed or unreadable between listing and reading: seen at the next scan
            continue
    by_company: dict[str, list[str]] = {}
    for path, entry in sorted(files.items()):
        if entry[5]:
            by_company.setdefault(entry[5], []).append(f"{Path(path).name}:{entry[4]}")
    return ({org: hashlib.sha256("\n".join(parts).encode()).hexdigest() for org, parts in by_company.items()},
            files)
