"""The registry: customers, groups, clients, connections and companies, kept in YAML.

It is the one file a team version-controls. Secrets never live in it: a
connection names the *environment variables* that hold its credentials.
Loading validates everything and reports every problem at once, each naming the
entry and field it is about.
"""

from __future__ import annotations

import os
import re
import warnings
from collections import Counter
from dataclasses import MISSING, asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from osr_pipelines.connectors.catalog import CONNECTOR_TYPES

MODES = ("import", "direct")
LEVELS = ("customer", "group", "client")
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class RegistryError(ValueError):
    """The registry is invalid; ``problems`` lists each issue found."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"invalid registry {path}:\n" + "\n".join(f"  - {p}" for p in problems))


class DuplicateCompanyWarning(UserWarning):
    """The same ERP company is reachable through two connections (imported twice)."""


@dataclass
class Client:
    name: str


@dataclass
class Group:
    name: str
    clients: list[Client] = field(default_factory=list)


@dataclass
class Customer:
    name: str
    groups: list[Group] = field(default_factory=list)


@dataclass
class Connection:
    name: str
    type: str
    mode: str = "import"
    level: str = "customer"
    parent: str = ""
    private: bool = False
    owner: str = ""
    #: credential field -> name of the environment variable holding its value
    credentials: dict[str, str] = field(default_factory=dict)
    #: non-secret, type-specific settings (base URL, page size, ...)
    options: dict[str, str] = field(default_factory=dict)
    nightly_days: int = 5
    history_start: str = "2000-01-01"

    @property
    def resource_key(self) -> str:
        """The Dagster resource key of this connection (an identifier)."""
        return "conn_" + self.name.replace("-", "_")

    def secret_values(self) -> dict[str, str]:
        """Resolve credentials from the environment (for code outside Dagster)."""
        return {f: os.environ[var] for f, var in self.credentials.items() if var in os.environ}


@dataclass
class Company:
    connection: str
    erp_id: str
    name: str
    client: str
    #: set when an ``import`` connection was deleted: data stays, imports stop
    detached: bool = False

    @property
    def key(self) -> str:
        """The company's partition key: stable, unique and readable."""
        return f"{self.connection}.{self.erp_id}"


@dataclass
class Registry:
    customers: list[Customer] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    companies: list[Company] = field(default_factory=list)

    # -- lookups -----------------------------------------------------------------

    def connection(self, name: str) -> Connection:
        for c in self.connections:
            if c.name == name:
                return c
        raise KeyError(f"no connection named '{name}'")

    def company(self, key: str) -> Company:
        for c in self.companies:
            if c.key == key:
                return c
        raise KeyError(f"no company with key '{key}'")

    def companies_of(self, connection: str) -> list[Company]:
        return [c for c in self.companies if c.connection == connection]

    def importable_companies(self) -> list[Company]:
        """Companies that scheduled imports cover: attached to an ``import`` connection."""
        modes = {c.name: c.mode for c in self.connections}
        return [c for c in self.companies if not c.detached and modes.get(c.connection) == "import"]

    def clients(self) -> list[tuple[Customer, Group, Client]]:
        return [(cu, g, cl) for cu in self.customers for g in cu.groups for cl in g.clients]

    def group_for_new_clients(self, connection: Connection) -> Group:
        """Where a company's auto-created client goes: under the connection's place in the tree."""
        for _, g, cl in self.clients():
            if connection.level == "client" and cl.name == connection.parent:
                return g
        for cu in self.customers:
            for g in cu.groups:
                if connection.level == "group" and g.name == connection.parent:
                    return g
            if connection.level == "customer" and cu.name == connection.parent:
                if not cu.groups:
                    cu.groups.append(Group(name=cu.name))
                return cu.groups[0]
        if not self.customers:
            self.customers.append(Customer(name="Default", groups=[Group(name="Default")]))
        customer = self.customers[0]
        if not customer.groups:
            customer.groups.append(Group(name=customer.name))
        return customer.groups[0]

    def ensure_client(self, name: str, connection: Connection) -> None:
        if not any(cl.name == name for _, _, cl in self.clients()):
            self.group_for_new_clients(connection).clients.append(Client(name=name))

    # -- validation ---------------------------------------------------------------

    def problems(self, *, check_env: bool) -> list[str]:
        """Every problem in the registry, each naming its entry and field."""
        out: list[str] = []
        _duplicates(out, "customer", [c.name for c in self.customers])
        _duplicates(out, "group", [g.name for cu in self.customers for g in cu.groups])
        _duplicates(out, "client", [cl.name for _, _, cl in self.clients()])
        _duplicates(out, "connection", [c.name for c in self.connections])
        _duplicates(out, "company", [c.key for c in self.companies])
        names = {
            "customer": {c.name for c in self.customers},
            "group": {g.name for cu in self.customers for g in cu.groups},
            "client": {cl.name for _, _, cl in self.clients()},
        }
        for c in self.connections:
            where = f"connection '{c.name}'"
            if not _NAME.match(c.name):
                out.append(f"{where}: field 'name': must be lower-case letters, digits, '-' or '_', "
                           "starting with a letter")
            ctype = CONNECTOR_TYPES.get(c.type)
            if ctype is None:
                out.append(f"{where}: field 'type': unknown type '{c.type}' "
                           f"(known: {', '.join(sorted(CONNECTOR_TYPES))})")
            elif c.mode not in ctype.modes:
                out.append(f"{where}: field 'mode': type '{c.type}' supports {', '.join(ctype.modes)}, "
                           f"not '{c.mode}'")
            if c.mode not in MODES:
                out.append(f"{where}: field 'mode': must be one of {', '.join(MODES)}, not '{c.mode}'")
            if c.level not in LEVELS:
                out.append(f"{where}: field 'level': must be one of {', '.join(LEVELS)}, not '{c.level}'")
            elif c.parent and c.parent not in names[c.level]:
                out.append(f"{where}: field 'parent': no {c.level} named '{c.parent}'")
            if not isinstance(c.nightly_days, int) or not 1 <= c.nightly_days <= 366:
                out.append(f"{where}: field 'nightly_days': must be a whole number of days from 1 to 366")
            try:
                date.fromisoformat(str(c.history_start))
            except ValueError:
                out.append(f"{where}: field 'history_start': not a date (YYYY-MM-DD): '{c.history_start}'")
            if ctype is not None:
                known = set(ctype.credentials) | set(ctype.optional_credentials)
                for cred in ctype.credentials:
                    if cred not in c.credentials:
                        out.append(f"{where}: field 'credentials.{cred}': missing (name an environment variable)")
                for family in ctype.credential_families:
                    if not any(ctype.family_of(cred) == family for cred in c.credentials):
                        out.append(f"{where}: field 'credentials.{family}': missing (name an environment variable "
                                   f"in '{family}' or one or more '{family}_<label>' fields)")
                for cred, var in c.credentials.items():
                    if cred not in known and ctype.family_of(cred) is None:
                        out.append(f"{where}: field 'credentials.{cred}': not a credential of type '{c.type}'")
                    elif not isinstance(var, str) or not _ENV_NAME.match(var):
                        out.append(f"{where}: field 'credentials.{cred}': must name an environment variable")
                    elif check_env and var not in os.environ:
                        out.append(f"{where}: field 'credentials.{cred}': environment variable {var} is not set")
        connections = {c.name for c in self.connections}
        for co in self.companies:
            where = f"company '{co.key}'"
            if co.connection not in connections and not co.detached:
                out.append(f"{where}: field 'connection': no connection named '{co.connection}'")
            if not co.erp_id:
                out.append(f"{where}: field 'erp_id': must not be empty")
            if co.client not in names["client"]:
                out.append(f"{where}: field 'client': no client named '{co.client}'")
        return out

    def duplicate_erp_companies(self) -> list[str]:
        """The same ERP company reached through two connections of one type."""
        types = {c.name: c.type for c in self.connections}
        seen = Counter((types.get(co.connection), co.erp_id) for co in self.companies if not co.detached)
        return [
            f"ERP company {erp_id} ({ctype}) is added through {n} connections: "
            + ", ".join(co.key for co in self.companies
                        if co.erp_id == erp_id and types.get(co.connection) == ctype)
            for (ctype, erp_id), n in seen.items() if n > 1
        ]


def _duplicates(out: list[str], kind: str, names: list[str]) -> None:
    for name, n in Counter(names).items():
        if n > 1:
            out.append(f"{kind} '{name}': field 'name': used {n} times; names must be unique")


# -- reading and writing -----------------------------------------------------------


def _build(data: dict[str, Any], path: Path | str) -> Registry:
    problems: list[str] = []

    def make(cls: type, raw: Any, where: str) -> Any:
        if not isinstance(raw, dict):
            problems.append(f"{where}: must be a mapping, not {type(raw).__name__}")
            return None
        allowed = set(cls.__dataclass_fields__)
        for key in raw:
            if key not in allowed:
                problems.append(f"{where}: field '{key}': unknown field (allowed: {', '.join(sorted(allowed))})")
        values = {k: v for k, v in raw.items() if k in allowed}
        missing = [f for f, d in cls.__dataclass_fields__.items()
                   if f not in values and d.default is MISSING and d.default_factory is MISSING]
        for f in missing:
            problems.append(f"{where}: field '{f}': required")
        if missing:
            return None
        return cls(**values)

    customers = []
    for i, raw in enumerate(data.get("customers") or []):
        cu = make(Customer, raw, f"customers[{i}]")
        if cu is None:
            continue
        groups = []
        for j, graw in enumerate(cu.groups or []):
            g = make(Group, graw, f"customer '{cu.name}' groups[{j}]")
            if g is not None:
                g.clients = [cl for k, craw in enumerate(g.clients or [])
                             if (cl := make(Client, craw, f"group '{g.name}' clients[{k}]")) is not None]
                groups.append(g)
        cu.groups = groups
        customers.append(cu)
    connections = [c for i, raw in enumerate(data.get("connections") or [])
                   if (c := make(Connection, raw, f"connections[{i}]")) is not None]
    for c in connections:
        c.credentials = dict(c.credentials or {})
        c.options = {k: str(v) for k, v in (c.options or {}).items()}
        c.history_start = str(c.history_start)
    companies = [c for i, raw in enumerate(data.get("companies") or [])
                 if (c := make(Company, raw, f"companies[{i}]")) is not None]
    for co in companies:
        co.erp_id = str(co.erp_id)
    if problems:
        raise RegistryError(path, problems)
    return Registry(customers=customers, connections=connections, companies=companies)



def load_registry(path: Path, *, check_env: bool = False) -> Registry:
    """Read and validate the registry; raise :class:`RegistryError` listing every problem."""
    if not path.exists():
        raise RegistryError(path, ["file does not exist (run `osr init`)"])
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise RegistryError(path, [f"not valid YAML: {exc}"]) from None
    if not isinstance(data, dict):
        raise RegistryError(path, ["top level must be a mapping with customers, connections, companies"])
    unknown = set(data) - {"customers", "connections", "companies"}
    if unknown:
        raise RegistryError(path, [f"unknown top-level key(s): {', '.join(sorted(unknown))}"])
    registry = _build(data, path)
    problems = registry.problems(check_env=check_env)
    if problems:
        raise RegistryError(path, problems)
    for message in registry.duplicate_erp_companies():
        warnings.warn(message, DuplicateCompanyWarning, stacklevel=2)
    return registry


def save_registry(registry: Registry, path: Path) -> None:
    """Validate, then write atomically so a crash never leaves half a file."""
    problems = registry.problems(check_env=False)
    if problems:
        raise RegistryError(path, problems)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(yaml.safe_dump(asdict(registry), sort_keys=False, allow_unicode=True))
    tmp.replace(path)
