"""The agent's configuration folder: its data sources, their pairing-key digests and sealed passwords.

Everything lives in one JSON file, ``agent.json``, written atomically. SQL
passwords are sealed with Fernet under a key derived (HKDF) from the machine's
identity and a salt of the folder: copied to another machine, the folder
opens, its data sources keep their settings, and each SQL password reads as
missing until it is typed in again. Pairing keys are kept only as digests.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import tempfile
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import msgspec
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from osr_agent import SQL_SERVER_DRIVER, protocol
from osr_agent.machinekey import machine_identity

FILE = "agent.json"
#: Far above what any number of data sources takes: a larger file is not one the agent wrote.
MAX_BYTES = 1 << 20
DEFAULT_GATEWAY = "wss://gateway.example.com/agent"


class ConfigError(ValueError):
    """A data source's settings are wrong; the message names the field."""


@dataclass(frozen=True)
class DataSource:
    """One Visma Business installation the agent reaches: a SQL Server and its system database."""

    name: str
    server: str
    system_database: str = "vbsys"
    auth: str = "sql"  # "sql" or "windows"
    login: str = ""
    #: the SQL password sealed for this machine (empty for Windows authentication)
    sealed_password: str = ""
    #: folders whose files (voucher documents) the agent may read
    file_paths: tuple[str, ...] = ()
    driver: str = SQL_SERVER_DRIVER
    #: SQL Server's certificate is checked unless this is set (a self-signed server certificate)
    trust_server_certificate: bool = False
    key_id: str = ""
    key_digest: str = ""
    created_at: str = ""

    def check(self) -> None:
        if not self.name.strip() or any(ord(ch) < 32 for ch in self.name):
            raise ConfigError("the data source needs a name (printable text)")
        if not self.server.strip():
            raise ConfigError(f"data source '{self.name}': field 'server' is empty (name or name\\instance)")
        if not self.system_database.strip():
            raise ConfigError(f"data source '{self.name}': field 'system_database' is empty (usually vbsys)")
        if self.auth not in ("sql", "windows"):
            raise ConfigError(f"data source '{self.name}': field 'auth' must be 'sql' or 'windows'")
        if self.auth == "sql" and not self.login:
            raise ConfigError(f"data source '{self.name}': SQL authentication needs a login")
        for path in self.file_paths:
            if not Path(path).is_absolute():
                raise ConfigError(f"data source '{self.name}': file access path '{path}' is not absolute")


@dataclass
class _Stored:
    """``agent.json`` as written by :meth:`AgentConfig.save`."""

    salt: str
    sources: list[DataSource]
    gateway_url: str = DEFAULT_GATEWAY
    ca_file: str = ""


@dataclass
class AgentConfig:
    """The whole folder: where the gateway is, its CA, and the data sources."""

    folder: Path
    gateway_url: str = DEFAULT_GATEWAY
    #: PEM file of the CA the gateway's certificate must chain to; empty: the system's trusted CAs
    ca_file: str = ""
    salt: str = field(default_factory=lambda: base64.b64encode(secrets.token_bytes(16)).decode())
    sources: list[DataSource] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> AgentConfig:
        """The folder's configuration, read as a typed file: a problem names the file and its place in it."""
        path = folder / FILE
        if not path.exists():
            return cls(folder)
        redo = "restore it from a backup, or remove it and add the data sources again"
        try:
            with path.open("rb") as handle:
                data = handle.read(MAX_BYTES + 1)
        except OSError as exc:
            raise ConfigError(f"the agent configuration {path} cannot be read ({exc.strerror})") from None
        if len(data) > MAX_BYTES:
            raise ConfigError(f"the agent configuration {path} is larger than {MAX_BYTES // 1024} KiB, so it is not "
                              f"one the agent wrote; {redo}")
        if not data.strip():
            raise ConfigError(f"the agent configuration {path} is empty; {redo}")
        try:
            stored = msgspec.json.decode(data, type=_Stored)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"the agent configuration {path}: {exc}; {redo}") from None
        except msgspec.DecodeError as exc:
            raise ConfigError(f"the agent configuration {path} is not JSON ({exc}; truncated?); {redo}") from None
        problems = []
        for n, source in enumerate(stored.sources):
            try:
                source.check()
            except ConfigError as exc:
                problems.append(f"sources[{n}]: {exc}")
        names = [source.name for source in stored.sources]
        problems += [f"data source name '{name}' is used {names.count(name)} times" for name in sorted(set(names))
                     if names.count(name) > 1]
        if problems:
            raise ConfigError(f"the agent configuration {path}: " + "; ".join(problems))
        return cls(folder, stored.gateway_url, stored.ca_file, stored.salt, stored.sources)

    def save(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        body = {"gateway_url": self.gateway_url, "ca_file": self.ca_file, "salt": self.salt,
                "sources": [asdict(s) for s in self.sources]}
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".agent-", suffix=".json")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(body, out, indent=2)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.folder / FILE)

    def _fernet(self) -> Fernet:
        key = HKDF(hashes.SHA256(), 32, base64.b64decode(self.salt), b"osr-agent sql passwords").derive(
            machine_identity())
        return Fernet(base64.urlsafe_b64encode(key))

    def seal(self, password: str) -> str:
        return self._fernet().encrypt(password.encode()).decode() if password else ""

    def password(self, source: DataSource) -> str | None:
        """The SQL password, or ``None`` when it was sealed on another machine (or never given)."""
        if source.auth == "windows":
            return ""
        if not source.sealed_password:
            return None
        try:
            return self._fernet().decrypt(source.sealed_password.encode()).decode()
        except InvalidToken:
            return None

    def source(self, name: str) -> DataSource:
        for s in self.sources:
            if s.name == name:
                return s
        raise ConfigError(f"no data source named '{name}'")

    def by_key_id(self, kid: str) -> DataSource | None:
        return next((s for s in self.sources if s.key_id == kid), None)

    def add(self, source: DataSource, password: str) -> str:
        """Add a data source; returns its pairing key, which is not kept and cannot be shown again."""
        source.check()
        if any(s.name == source.name for s in self.sources):
            raise ConfigError(f"a data source named '{source.name}' exists already")
        key = protocol.new_pairing_key()
        self.sources.append(replace(source, sealed_password=self.seal(password), key_id=protocol.key_id(key) or "",
                                    key_digest=protocol.digest(key),
                                    created_at=datetime.now(UTC).isoformat(timespec="seconds")))
        self.save()
        return key

    def update(self, name: str, changed: DataSource, password: str | None) -> None:
        """Replace a source's settings; ``password`` ``None`` keeps the saved one. Its pairing key stays."""
        old = self.source(name)
        changed.check()
        sealed = old.sealed_password if password is None else self.seal(password)
        new = replace(changed, sealed_password=sealed if changed.auth == "sql" else "", key_id=old.key_id,
                      key_digest=old.key_digest, created_at=old.created_at)
        self.sources = [new if s.name == name else s for s in self.sources]
        self.save()

    def remove(self, name: str) -> None:
        self.source(name)
        self.sources = [s for s in self.sources if s.name != name]
        self.save()

    def regenerate_key(self, name: str) -> str:
        """A new pairing key for ``name``; the old one stops working at once."""
        self.source(name)
        key = protocol.new_pairing_key()
        self.sources = [replace(s, key_id=protocol.key_id(key) or "", key_digest=protocol.digest(key))
                        if s.name == name else s for s in self.sources]
        self.save()
        return key
