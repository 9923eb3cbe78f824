"""The registry: customers, groups, clients, connections and companies, kept in YAML.

It is the one file a team version-controls, and it lists every tenant, so it
is written readable by its owner only. Secrets never live in it: a connection
names the *environment variables* that hold its credentials.

Loading validates everything and reports every problem at once, each naming
the entry and field it is about. Validation runs in two passes: the schema
(each field's type and format, through pydantic, field by field so that one
bad field never hides the others) and then the rules across entries
(unique names, references, what each connection type accepts). The second
pass runs on whatever the first could read, so a missing field does not hide
a duplicate name elsewhere.
"""

from __future__ import annotations

import dataclasses
import os
import re
import tempfile
import unicodedata
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar, get_type_hints

import yaml
from pydantic import AfterValidator, BeforeValidator, Strict, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from osr_pipelines.connectors.base import Connector
from osr_pipelines.connectors.catalog import CONNECTOR_TYPES
from osr_pipelines.connectors.options import check_options
from osr_pipelines.duplicates import every_duplicate
from osr_pipelines.yamlfile import quoted as _field
from osr_pipelines.yamlfile import read_yaml, show

CONNECTION_MODES = ("import", "direct")
LEVELS = ("customer", "group", "client")
_SLUG = re.compile(r"[a-z][a-z0-9_-]{0,62}")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TOP_LEVEL = ("customers", "connections", "companies", "users")
#: Names are shown in the UI, in reports and in every message: long enough for any real name.
MAX_NAME = 120
#: A registry of 100,000 companies (Dagster's advised most partitions) is about 20 MiB; a larger file is not one.
MAX_BYTES = 32 * 1024 * 1024
#: The warehouse's company key, ``<connection>.<erp_id>``, holds this many characters.
MAX_KEY = 120
#: Unicode categories of characters that do not show: controls, format characters (bidi controls such as
#: U+202E, zero-width characters such as U+200B, the byte order mark), line and paragraph separators, surrogates.
_INVISIBLE = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


class RegistryError(ValueError):
    """The registry is invalid; ``problems`` lists each issue found."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.problems = problems
        super().__init__(f"invalid registry {path}:\n" + "\n".join(f"  - {p}" for p in problems))


class DuplicateCompanyWarning(UserWarning):
    """The same ERP company is reachable through two connections (imported twice).

    Warned once per process and registry file, and shown on one line (see ``_format_warning``).
    """


#: What an empty file is told. ``osr init`` writes a customer, so a registry is never empty by design:
#: an empty one is a truncated or overwritten file, and taking it at its word would remove every company.
EMPTY = ("the file is empty (no customers, connections or companies). A registry always holds at least the "
         "customer `osr init` created, so this file was probably truncated or overwritten: restore it from "
         "version control or a backup. For a new home, delete the file and run `osr init`.")


# -- field types: the schema ------------------------------------------------------------


def _invalid(expects: str, value: object) -> PydanticCustomError:
    return PydanticCustomError("osr", "{expects}, not {shown}", {"expects": expects, "shown": show(value)})


def _slug(value: str) -> str:
    if not _SLUG.fullmatch(value):
        raise _invalid("must be lower-case letters, digits, '-' or '_', starting with a letter (at most 63)", value)
    return value


def _control(ch: str) -> bool:
    return unicodedata.category(ch) == "Cc"


def _visible(value: str) -> str:
    """Refuse what changes how a name reads without being seen: a right-to-left override (U+202E) shows
    ``Acme\u202eSA`` as another name, a zero-width space (U+200B) makes two names look alike."""
    hidden = [ch for ch in value if unicodedata.category(ch) in _INVISIBLE]
    if hidden:
        raise PydanticCustomError(
            "osr", "must not contain invisible or direction-changing characters (here {codes}), not {shown}",
            {"codes": ", ".join(dict.fromkeys(f"U+{ord(ch):04X}" for ch in hidden)), "shown": show(value)})
    return value


def _label(value: str) -> str:
    if not value.strip() or value != value.strip() or any(_control(ch) for ch in value):
        raise _invalid("must be non-empty text without surrounding blanks or control characters", value)
    return _visible(value)


def _plain(value: str) -> str:
    if any(_control(ch) for ch in value):
        raise _invalid("must be text without control characters", value)
    return _visible(value)


def _at_most(limit: int, why: str) -> Callable[[str], str]:
    def check(value: str) -> str:
        if len(value) > limit:
            raise PydanticCustomError("osr", "must be at most {limit} characters{why}, not {length}",
                                      {"limit": limit, "why": why, "length": len(value)})
        return value
    return check


def _iso_date(value: str) -> str:
    try:
        if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", value):
            raise ValueError(value)
        date.fromisoformat(value)
    except ValueError:
        raise _invalid("must be a date (YYYY-MM-DD)", value) from None
    return value


def _days(value: int) -> int:
    if not 1 <= value <= 366:
        raise _invalid("must be a whole number of days from 1 to 366", value)
    return value


def _known_type(value: str) -> str:
    if value not in CONNECTOR_TYPES:
        raise PydanticCustomError("osr", "unknown type {shown} (known: {known})",
                                  {"shown": show(value), "known": ", ".join(sorted(CONNECTOR_TYPES))})
    return value


def _number_as_text(value: object) -> object:
    """Ids and option values are text, but YAML reads ``erp_id: 1001`` as a number: take its digits."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Slug = Annotated[str, Strict(), AfterValidator(_slug)]
_NAME_LIMIT = AfterValidator(_at_most(MAX_NAME, ""))
#: A name: of a customer, group or client, or a reference to one.
Name = Annotated[str, Strict(), AfterValidator(_label), _NAME_LIMIT]
#: A company's name, as its ERP lists it (which may be none), or the name a connection's ``parent`` refers to.
NameText = Annotated[str, Strict(), AfterValidator(_plain), _NAME_LIMIT]
PlainText = Annotated[str, Strict(), AfterValidator(_plain)]
Flag = Annotated[bool, Strict()]
Days = Annotated[int, Strict(), AfterValidator(_days)]
IsoDate = Annotated[str, Strict(), AfterValidator(_iso_date)]
ErpId = Annotated[str, BeforeValidator(_number_as_text), Strict(), AfterValidator(_label)]
#: YAML reads ``organization_number: 999000111`` as a number: it is text, as the ERP reports it.
NumberText = Annotated[str, BeforeValidator(_number_as_text), Strict(), AfterValidator(_plain),
                       AfterValidator(_at_most(32, " (the warehouse's column)"))]
TypeName = Annotated[str, Strict(), AfterValidator(_known_type)]
Mode = Literal["import", "direct"]
Level = Literal["customer", "group", "client"]
#: ``admin``: a customer administrator (level ``customer``); ``user``: administers its customer, group or client.
Role = Literal["admin", "user"]
#: Checked per connection type in the second pass, where the type is known.
Credentials = dict[Annotated[str, Strict()], Annotated[str, Strict()]]
Options = dict[Annotated[str, Strict()], Annotated[str, BeforeValidator(_number_as_text), Strict()]]


@dataclass
class Client:
    name: Name


@dataclass
class Group:
    name: Name
    clients: list[Client] = field(default_factory=list)


@dataclass
class Customer:
    name: Name
    groups: list[Group] = field(default_factory=list)


@dataclass
class Connection:
    name: Slug
    type: TypeName
    mode: Mode = "import"
    level: Level = "customer"
    parent: NameText = ""
    private: Flag = False
    owner: PlainText = ""
    #: credential field -> name of the environment variable holding its value
    credentials: Credentials = field(default_factory=dict)
    #: non-secret, type-specific settings (base URL, page size, ...), as text
    options: Options = field(default_factory=dict)
    nightly_days: Days = 5
    history_start: IsoDate = "2000-01-01"

    def secret_values(self) -> dict[str, str]:
        """Resolve credentials from the environment, at the moment they are needed."""
        return {f: os.environ[var] for f, var in self.credentials.items() if var in os.environ}

    def missing_secrets(self) -> list[tuple[str, str]]:
        """``(credential, environment variable)`` of each credential whose variable is not set."""
        return [(f, var) for f, var in self.credentials.items() if var not in os.environ]

    def connector(self) -> Connector:
        """This connection's connector, its secrets read from the environment now (never stored)."""
        return CONNECTOR_TYPES[self.type].build(self.name, self.options, self.secret_values(), self.credentials)


@dataclass
class Company:
    connection: Slug
    erp_id: ErpId
    name: NameText
    client: Name
    #: set when an ``import`` connection was deleted: data stays, imports stop
    detached: Flag = False
    #: as the ERP listed it when the company was added; empty when it lists none
    organization_number: NumberText = ""

    @property
    def key(self) -> str:
        """The company's partition key: stable, unique and readable."""
        return f"{self.connection}.{self.erp_id}"


@dataclass
class User:
    """Who may act on connections (see :mod:`osr_pipelines.access`): a user administers its place in the tree.

    A registry without users is a one-operator home and nothing is enforced;
    listing one user turns the rules on for everyone.
    """

    name: Name
    #: the customer, group or client the user belongs to (at ``level``)
    parent: Name
    level: Level = "customer"
    role: Role = "user"


@dataclass
class Registry:
    customers: list[Customer] = field(default_factory=list)
    connections: list[Connection] = field(default_factory=list)
    companies: list[Company] = field(default_factory=list)
    users: list[User] = field(default_factory=list)

    # -- lookups -----------------------------------------------------------------

    def user(self, name: str) -> User:
        for u in self.users:
            if u.name == name:
                return u
        raise KeyError(f"no user named '{name}'")

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
        """Every problem in the registry, each naming its entry and field.

        The registry is checked as the file it would be written to, so that
        what code built (the CLI sets fields directly) passes the same
        schema as what a person typed.
        """
        return _read(asdict(self), check_env=check_env)[1]


# -- first pass: the schema, field by field ---------------------------------------------

Entry = TypeVar("Entry")
_NESTED = {Customer: "groups", Group: "clients"}
_ADAPTERS: dict[type, dict[str, TypeAdapter[Any]]] = {
    cls: {name: TypeAdapter(hint) for name, hint in get_type_hints(cls, include_extras=True).items()
          if name != _NESTED.get(cls)}
    for cls in (Client, Group, Customer, Connection, Company, User)
}


def _message(error: Any, *, reveal: bool) -> str:
    """A pydantic error in the registry's words; the wrong value is shown only where ``reveal`` allows."""
    kind, value = error["type"], error.get("input")
    if kind == "osr":
        return error["msg"]
    expects = {
        "string_type": "must be text",
        "int_type": "must be a whole number",
        "bool_type": "must be true or false",
        "dict_type": "must be a mapping",
        "list_type": "must be a list",
        "literal_error": f"must be one of {error.get('ctx', {}).get('expected', '')}",
    }.get(kind, error["msg"].lower())
    return f"{expects}, not {show(value)}" if reveal else expects


def _path(name: str, loc: tuple[int | str, ...]) -> str:
    """``credentials``, ``('API_KEY', '[key]')`` -> ``credentials.API_KEY`` (keys of a mapping by name)."""
    return ".".join(str(part) for part in (name, *loc) if part != "[key]")


def _entry(cls: type[Entry], raw: object, where: str, problems: list[str],
           nested: Callable[[object, str], list[Any]] | None = None) -> Entry | None:
    """One entry, its bad or missing fields left ``None`` so that the second pass can skip them."""
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping, not {show(raw)}")
        return None
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    for key in raw:
        if key not in fields:
            problems.append(f"{where}: field {_field(key)}: unknown field (allowed: {', '.join(fields)})")
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        if name not in raw:
            if spec.default is MISSING and spec.default_factory is MISSING:
                problems.append(f"{where}: field '{name}': required")
                values[name] = None
        elif name == _NESTED.get(cls) and nested is not None:
            values[name] = nested(raw[name], where)
        else:
            try:
                values[name] = _ADAPTERS[cls][name].validate_python(raw[name])
            except ValidationError as exc:
                # A value under credentials may be a secret pasted in place of a variable name.
                problems.extend(f"{where}: field {_field(_path(name, e['loc']))}: "
                                f"{_message(e, reveal=name != 'credentials')}" for e in exc.errors())
                values[name] = None
    return cls(**values)


def _connection(raw: object, where: str, problems: list[str]) -> Connection | None:
    """A connection entry; without ``mode``, its type's first mode (import where the type has both, direct
    for a type that is only direct)."""
    entry = _entry(Connection, raw, where, problems)
    if entry is not None and isinstance(raw, dict) and "mode" not in raw and entry.type in CONNECTOR_TYPES:
        entry.mode = CONNECTOR_TYPES[entry.type].modes[0]
    return entry


def _label_of(raw: object, *keys: str) -> str:
    """`` (acme-tt)`` after an entry's position, from its own name, to say which entry is meant."""
    if not isinstance(raw, dict):
        return ""
    parts = [raw.get(k) for k in keys]
    if not all(isinstance(p, str | int) and not isinstance(p, bool) for p in parts):
        return ""
    text = ".".join(str(p) for p in parts)
    return f" ({text})" if text.isprintable() and len(text) <= 80 else f" ({show(text)})"


def _entries(raw: object, where: str, problems: list[str],
             read: Callable[[object, str], Entry | None], *label: str) -> list[Entry]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        problems.append(f"{where}: must be a list, not {show(raw)}")
        return []
    found = (read(item, f"{where}[{i}]{_label_of(item, *label)}") for i, item in enumerate(raw))
    return [e for e in found if e is not None]


def _read(data: object, *, check_env: bool) -> tuple[Registry, list[str]]:
    """The registry in ``data`` as far as it is readable, and every problem with it."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        return Registry(), ["top level must be a mapping with customers, connections, companies"]
    problems: list[str] = []
    unknown = [k for k in data if k not in _TOP_LEVEL]
    if unknown:
        problems.append(f"unknown top-level key(s): {', '.join(_field(k) for k in unknown)} "
                        f"(allowed: {', '.join(_TOP_LEVEL)})")

    def clients(raw: object, where: str) -> list[Client]:
        return _entries(raw, f"{where} clients", problems, lambda r, w: _entry(Client, r, w, problems), "name")

    def groups(raw: object, where: str) -> list[Group]:
        return _entries(raw, f"{where} groups", problems, lambda r, w: _entry(Group, r, w, problems, clients),
                        "name")

    registry = Registry(
        customers=_entries(data.get("customers"), "customers", problems,
                           lambda r, w: _entry(Customer, r, w, problems, groups), "name"),
        connections=_entries(data.get("connections"), "connections", problems,
                             lambda r, w: _connection(r, w, problems), "name"),
        companies=_entries(data.get("companies"), "companies", problems,
                           lambda r, w: _entry(Company, r, w, problems), "connection", "erp_id"),
        users=_entries(data.get("users"), "users", problems, lambda r, w: _entry(User, r, w, problems), "name"),
    )
    problems.extend(_rules(registry, check_env=check_env))
    return registry, problems


# -- second pass: the rules across entries ----------------------------------------------


def _rules(reg: Registry, *, check_env: bool) -> list[str]:
    """Problems between entries and per connection type; fields the schema refused are ``None`` and skipped."""
    out: list[str] = []
    names = {
        "customer": [c.name for c in reg.customers],
        "group": [g.name for cu in reg.customers for g in cu.groups],
        "client": [cl.name for _, _, cl in reg.clients()],
        "connection": [c.name for c in reg.connections],
        "company": [c.key for c in reg.companies if c.connection is not None and c.erp_id is not None],
        "user": [u.name for u in reg.users],
    }
    for kind, listed in names.items():
        for name, n in Counter(n for n in listed if n is not None).items():
            if n > 1:
                out.append(f"{kind} {_field(name)}: field 'name': used {n} times; names must be unique")
    for i, c in enumerate(reg.connections):
        where = f"connection {_field(c.name)}" if c.name is not None else f"connections[{i}]"
        ctype = CONNECTOR_TYPES.get(c.type) if c.type is not None else None
        if ctype is not None and c.mode is not None and c.mode not in ctype.modes:
            out.append(f"{where}: field 'mode': type '{c.type}' supports {', '.join(ctype.modes)}, not '{c.mode}'")
        if c.level is not None and c.parent and c.parent not in names[c.level]:
            out.append(f"{where}: field 'parent': no {c.level} named {_field(c.parent)}")
        if ctype is not None and c.credentials is not None:
            out.extend(f"{where}: {p}" for p in _credential_problems(c.type, c.credentials, check_env=check_env))
        if ctype is not None and c.options is not None:
            out.extend(f"{where}: field {_field('options.' + e.option)}: {e.reason}"
                       for e in check_options(c.options, ctype.options, c.type))
        if reg.users and c.private and c.owner is not None and c.owner not in names["user"]:
            out.append(f"{where}: field 'owner': a private connection's owner must be one of the registry's users "
                       f"({', '.join(names['user'])}), not {_field(c.owner)}")
        out.extend(f"{where}: {p}" for p in _single_company_rules(reg, c))
    for i, u in enumerate(reg.users):
        where = f"user {_field(u.name)}" if u.name is not None else f"users[{i}]"
        if u.level is not None and u.parent is not None and u.parent not in names[u.level]:
            out.append(f"{where}: field 'parent': no {u.level} named {_field(u.parent)}")
        if u.role == "admin" and u.level not in (None, "customer"):
            out.append(f"{where}: field 'role': an admin is a customer administrator, so its level is 'customer', "
                       f"not '{u.level}'")
    for co in reg.companies:
        where = f"company {_field(co.key)}"
        if co.connection is not None and co.erp_id is not None and len(co.key) > MAX_KEY:
            out.append(f"{where}: field 'erp_id': makes the company key '<connection>.<erp_id>' {len(co.key)} "
                       f"characters long; the warehouse keeps keys of at most {MAX_KEY}")
        if co.connection is not None and co.connection not in names["connection"] and co.detached is False:
            out.append(f"{where}: field 'connection': no connection named '{co.connection}'")
        if co.client is not None and co.client not in names["client"]:
            out.append(f"{where}: field 'client': no client named {_field(co.client)}")
    out.extend(_client_share_rules(reg))
    return out


def _client_share_rules(reg: Registry) -> list[str]:
    """A company of a type that reports one company per client (``companies_per_client``) shares its client
    with no other company: several companies under one client are a group report, which such a type cannot give."""
    types = {c.name: CONNECTOR_TYPES.get(c.type) for c in reg.connections if c.type is not None}
    by_client = Counter(co.client for co in reg.companies if co.client is not None)
    out = []
    for co in reg.companies:
        ctype = types.get(co.connection) if not co.detached else None
        limit = ctype.companies_per_client if ctype is not None else None
        if limit is not None and co.client is not None and by_client[co.client] > limit:
            others = [o.key for o in reg.companies if o.client == co.client and o is not co]
            out.append(f"company {_field(co.key)}: field 'client': client {_field(co.client)} also holds "
                       f"{', '.join(others)}; a company of a '{ctype.name}' connection must be its client's only "
                       "one (several companies in one client are a group report, which needs an import "
                       "connection)")
    return out


#: Types whose connection must sit at customer level and hold one company, and why (said in the error).
SINGLE_COMPANY_TYPES = {
    "customer-insight": "Customer Insight is the customer's own analytics: one connection per customer, "
                        "holding the customer's one company",
}


def _single_company_rules(reg: Registry, c: Connection) -> list[str]:
    """A Customer Insight connection: at level ``customer`` and with at most one company, each refusal saying why."""
    why = SINGLE_COMPANY_TYPES.get(c.type or "")
    if why is None or c.name is None:
        return []
    out = []
    if c.level not in (None, "customer"):
        out.append(f"field 'level': must be 'customer', not '{c.level}' ({why})")
    keys = [co.key for co in reg.companies if co.connection == c.name and co.erp_id is not None]
    if len(keys) > 1:
        out.append(f"field 'companies': holds {len(keys)} companies ({', '.join(keys)}); it may hold one ({why}). "
                   f"Keep {keys[0]} and give the others a connection of their own")
    return out


def _credential_problems(type_name: str, credentials: dict[str, str], *, check_env: bool) -> list[str]:
    ctype = CONNECTOR_TYPES[type_name]
    out = []
    for cred in ctype.credentials:
        if cred not in credentials:
            out.append(f"field 'credentials.{cred}': missing (name an environment variable)")
    for family in ctype.credential_families:
        if not any(ctype.family_of(cred) == family for cred in credentials):
            out.append(f"field 'credentials.{family}': missing (name an environment variable "
                       f"in '{family}' or one or more '{family}_<label>' fields)")
    known = set(ctype.credentials) | set(ctype.optional_credentials)
    for cred, var in credentials.items():
        where = f"field {_field('credentials.' + cred)}"
        if cred not in known and ctype.family_of(cred) is None:
            out.append(f"{where}: not a credential of type '{type_name}'")
        elif not _ENV_NAME.fullmatch(var):
            # The value is not shown: a secret pasted in place of a variable name would be.
            out.append(f"{where}: must name an environment variable")
        elif check_env and var not in os.environ:
            out.append(f"{where}: environment variable {var} is not set")
    return out


# -- reading and writing -----------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Writes every value out in full: the loader refuses anchors and aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def load_registry(path: Path, *, check_env: bool = False) -> Registry:
    """Read and validate the registry; raise :class:`RegistryError` listing every problem."""
    path = Path(path)
    if not path.exists():
        raise RegistryError(path, ["file does not exist (run `osr init`)"])
    try:
        data = read_yaml(path, max_bytes=MAX_BYTES)
    except ValueError as exc:
        raise RegistryError(path, [str(exc)]) from None
    if data is None or data == {}:
        raise RegistryError(path, [EMPTY])
    registry, problems = _read(data, check_env=check_env)
    if problems:
        raise RegistryError(path, problems)
    _warn_duplicates(path, registry)
    return registry


#: Each duplicate once per process and registry file: runs, sensors and the CLI load the registry many times.
_warned: set[tuple[Path, str]] = set()


def _warn_duplicates(path: Path, registry: Registry) -> None:
    for message in (found.line() for found in every_duplicate(registry)):
        if (path.resolve(), message) not in _warned:
            _warned.add((path.resolve(), message))
            warnings.warn(message, DuplicateCompanyWarning, stacklevel=3)


def _format_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    line: str | None = None, *, _python: Callable[..., str] = warnings.formatwarning) -> str:
    """A duplicate company is for the person who edits the registry: one line, without the Python source
    line that warned; every other warning as Python shows it."""
    if issubclass(category, DuplicateCompanyWarning):
        return f"warning: {message}\n"
    return _python(message, category, filename, lineno, line)


warnings.formatwarning = _format_warning


_cache: dict[Path, tuple[tuple[int, int, int], Registry]] = {}


def load_registry_cached(path: Path) -> Registry:
    """:func:`load_registry`, parsed again only when the file changed; the result must not be mutated.

    Runs, sensors and tags read the registry on every step, tick and partition:
    with a thousand companies one parse costs about a second, and the file
    rarely changes between two of them. An edit is a new file (saves rename into
    place), so the inode, modification time and size tell a changed file apart.
    """
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return load_registry(path)  # raises the error naming the missing file
    stamp = (stat.st_ino, stat.st_mtime_ns, stat.st_size)
    cached = _cache.get(path)
    if cached is None or cached[0] != stamp:
        cached = (stamp, load_registry(path))
        _cache[path] = cached
    return cached[1]


def _private_dirs(directory: Path) -> None:
    """Create ``directory`` and missing parents readable by the owner only; existing ones are left as they are."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for d in reversed(missing):
        d.mkdir(mode=0o700, exist_ok=True)
        d.chmod(0o700)  # mkdir's mode is masked by the umask


def save_registry(registry: Registry, path: Path) -> None:
    """Validate, then write owner-only and atomically, so a crash never leaves half a file."""
    path = Path(path)
    problems = registry.problems(check_env=False)
    if problems:
        raise RegistryError(path, problems)
    _private_dirs(path.parent)
    data = asdict(registry)
    if not data["users"]:
        del data["users"]  # a registry without users reads as it did before users existed
    text = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")  # created 0600
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
