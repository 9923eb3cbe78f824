"""Reading voucher documents, confined to the folders a data source was given.

A request names a folder inside one of the data source's file access paths
(the connection's document-center path) and a file relative to it. Absolute
names, ``..`` parts and symbolic links that lead outside the folder are
refused: the path is resolved (links followed) and must still lie inside the
resolved folder.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath


class FileRefused(PermissionError):
    """A file request outside the allowed folders."""


def confined(roots: tuple[str, ...], root: object, relative: object) -> Path:
    """The file ``relative`` under allowed folder ``root``, or :class:`FileRefused` saying why not."""
    if not isinstance(root, str) or not isinstance(relative, str) or not relative:
        raise FileRefused("a file request names an allowed folder and a relative file name")
    if not within(roots, root):
        raise FileRefused(f"'{root}' is not inside the data source's file access paths")
    folder = root
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    if (PurePosixPath(relative).is_absolute() or PureWindowsPath(relative).is_absolute()
            or PureWindowsPath(relative).drive or ".." in parts or "\x00" in relative):
        raise FileRefused(f"'{relative}' is not a plain relative name ('..' and absolute names are refused)")
    base = Path(folder).resolve()
    target = (base / Path(*parts)).resolve()
    if not target.is_relative_to(base):
        raise FileRefused(f"'{relative}' leads outside '{folder}' (a symbolic link out is refused)")
    if not target.is_file():
        raise FileRefused(f"'{relative}' is not a file in '{folder}'")
    return target


def within(roots: tuple[str, ...], path: str) -> bool:
    """Whether ``path`` (a folder a connection wants to use) lies inside one of ``roots``."""
    try:
        resolved = Path(path).resolve()
    except (OSError, ValueError):
        return False
    return Path(path).is_absolute() and any(resolved.is_relative_to(Path(r).resolve()) for r in roots)


def read_chunks(path: Path, size: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        while chunk := handle.read(size):
            yield chunk
