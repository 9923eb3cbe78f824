"""What the agent, the gateway and the connector say to each other: pairing keys and frames.

This module is shared by both sides (the gateway imports it), so it needs
nothing but the standard library and msgspec.

Pairing keys look like ``vbk-<key id>-<secret>``. The key id is not secret: it
lets the gateway find the agent without searching; the secret (256 bits) is
what authenticates. Only SHA-256 digests of keys are ever stored; with 256
random bits a plain digest cannot be reversed by guessing, so no slow hash
is needed.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import struct

import msgspec

KEY_PREFIX = "vbk"
_KEY = re.compile(rf"{KEY_PREFIX}-([0-9a-f]{{12}})-([A-Za-z0-9_-]{{43}})")
#: Compared against when a key's id is unknown, so refusing an unknown key costs what refusing a wrong one does.
_DUMMY_DIGEST = hashlib.sha256(b"osr-agent: no such key").hexdigest()

#: Frame kinds: a chunk of rows (or file bytes), the end of a result, an error instead of the rest.
DATA, END, ERROR = b"D", b"E", b"X"
#: Agent -> gateway WebSocket frame head: request id, kind.
AGENT_HEAD = struct.Struct(">IB")
#: Gateway -> connector HTTP body frame head: kind, payload length.
BODY_HEAD = struct.Struct(">BI")
#: Chunks a request may have in flight before the gateway acknowledges one: bounds memory on both sides.
WINDOW = 8
#: Rows per chunk.
CHUNK_ROWS = 5_000
#: Bytes per chunk of a file.
CHUNK_BYTES = 256 * 1024

encode = msgspec.msgpack.Encoder(decimal_format="string").encode
decode = msgspec.msgpack.Decoder().decode


def new_pairing_key() -> str:
    """A fresh pairing key, shown to the administrator once."""
    return f"{KEY_PREFIX}-{secrets.token_hex(6)}-{secrets.token_urlsafe(32)}"


def key_id(key: str) -> str | None:
    """The key's public id, or ``None`` when ``key`` is not shaped like a pairing key."""
    found = _KEY.fullmatch(key)
    return found.group(1) if found else None


def digest(key: str) -> str:
    """The SHA-256 hex digest a pairing key is stored as."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()


def matches(key: str, stored_digest: str | None) -> bool:
    """Whether ``key`` hashes to ``stored_digest``, in constant time; a missing digest is compared all the same."""
    ok = hmac.compare_digest(digest(key), stored_digest or _DUMMY_DIGEST)
    return ok and stored_digest is not None


def agent_frame(request: int, kind: bytes, payload: bytes) -> bytes:
    return AGENT_HEAD.pack(request, kind[0]) + payload


def body_frame(kind: int, payload: bytes | memoryview) -> bytes:
    return BODY_HEAD.pack(kind, len(payload)) + bytes(payload)
