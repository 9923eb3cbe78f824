"""The YAML files a person edits (the registry, the group file): read strictly, their problems told in words.

What these files hold decides what is imported and how figures add up, so
the parser refuses what YAML allows but only hides mistakes (a repeated key
keeps its last value without a word) or costs without bound (aliases expand a
few lines into gigabytes), and every message shows values the same way,
control characters visible and long text cut.
"""

from __future__ import annotations

import math
import re
import stat
from pathlib import Path
from typing import Any, ClassVar

import yaml


def show(value: object) -> str:
    """A value as a message shows it: YAML words for YAML values, control characters visible."""
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = repr(value)
        return text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, int | float):
        return str(value) if abs(value) < 10**18 else "a very large number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__} value"


def quoted(name: object) -> str:
    """A field name for a message, quoted; control characters visible."""
    text = str(name)
    return f"'{text}'" if text.isprintable() and "'" not in text and len(text) <= 60 else show(text)


class _Refused(yaml.YAMLError):
    """YAML that parses but is not accepted; the message says why and where."""


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's parser, when present, is ~10x faster
    """Safe YAML, minus what only hides mistakes or costs without bound.

    A repeated key would silently keep only its last value (a second
    ``companies:`` drops the first list); aliases let a few lines expand into
    gigabytes once validated; dates stay text, as the registry stores them.
    """

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_object(self, node: yaml.Node, deep: bool = False) -> Any:
        # An alias is the node of its anchor, met a second time.
        if node in self.constructed_objects or node in self.recursive_objects:
            raise _Refused(f"line {node.start_mark.line + 1}: YAML anchors and aliases (&name, *name) are not "
                           "accepted; write each value out in full")
        return super().construct_object(node, deep=deep)

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        first_line: dict[tuple[str, str], int] = {}
        for key_node, _ in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused(f"line {line}: YAML merge keys (<<) are not accepted; write each field out")
            if not isinstance(key_node, yaml.ScalarNode):
                continue  # a list or mapping as a key: the constructor refuses it
            key = (key_node.tag, key_node.value)
            if key in first_line:
                raise _Refused(f"line {line}: key {quoted(key_node.value)} appears twice in one mapping "
                               f"(first on line {first_line[key]}); keep one")
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


def parse_yaml(text: str) -> object:
    """The YAML in ``text``; why it cannot be read is raised as ``ValueError``, one line for the user."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except _Refused as exc:
        raise ValueError(str(exc)) from None
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}") from None
    except RecursionError:
        raise ValueError("not valid YAML: nested too deeply") from None
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. an explicit !!timestamp of 2024-13-01
        raise ValueError(f"not valid YAML: a value cannot be read ({exc})") from None


def read_text(path: Path, *, max_bytes: int) -> str:
    """A small UTF-8 text file a person wrote, or a ``ValueError`` saying in a few words why not.

    The reason never quotes the file: a path that points at some other file by
    mistake must not have its content shown in an error. At most ``max_bytes``
    are read, so a device or a huge file cannot fill the memory.
    """
    try:
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise ValueError("is a folder, not a file")
        if not stat.S_ISREG(info.st_mode):
            raise ValueError("is not a regular file")
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise ValueError("file does not exist") from None
    except OSError as exc:
        raise ValueError(f"cannot be read: {(exc.strerror or type(exc).__name__).lower()}") from None
    if len(data) > max_bytes:
        raise ValueError(f"is larger than {max_bytes // 1024} KiB; this file is never that large, so it is "
                         "probably not the right file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"is not UTF-8 text (byte {exc.start + 1} cannot be decoded)") from None


def read_yaml(path: Path, *, max_bytes: int) -> object:
    """The strictly parsed YAML of a file a person edits; a ``ValueError`` says why it cannot be read."""
    return parse_yaml(read_text(path, max_bytes=max_bytes))
