"""Who may act on a connection: the registry's users, their places in the tree, and private connections.

A user belongs to a customer, a group or a client and administers that place
and everything under it; a customer administrator (role ``admin``) administers
the whole customer. A connection may be created, edited, renamed or deleted by
whoever administers the place it sits on, except a *private* connection: only
its owner and the customer administrators of its customer may touch it.

A registry that lists no users is a home with one operator (``osr init``
writes none): whoever may write the file acts, as before users existed, so
nothing is refused. Listing one user turns the rules on for everyone, and from
then on a command that changes connections must say who acts.
"""

from __future__ import annotations

from dataclasses import dataclass

from osr_pipelines.registry import SINGLE_COMPANY_TYPES, Connection, Registry, User


class AccessDenied(Exception):
    """The acting user may not do this; the message says who may."""


@dataclass(frozen=True)
class Place:
    """A customer, group or client, named as a connection's or user's ``level`` and ``parent``."""

    level: str
    name: str


def _chain(registry: Registry, place: Place) -> list[Place]:
    """``place`` and the places above it, up to its customer; an empty customer name is the first customer."""
    for cu in registry.customers:
        top = Place("customer", cu.name)
        if place == top or (place.level == "customer" and not place.name and cu is registry.customers[0]):
            return [top]
        for g in cu.groups:
            if place == Place("group", g.name):
                return [place, top]
            if any(place == Place("client", cl.name) for cl in g.clients):
                return [place, Place("group", g.name), top]
    return [place]


def _place_of(connection: Connection) -> Place:
    return Place(connection.level, connection.parent)


def customer_of(registry: Registry, place: Place) -> str:
    return _chain(registry, place)[-1].name


def customer_admins(registry: Registry, customer: str) -> list[str]:
    return [u.name for u in registry.users if u.role == "admin" and u.parent == customer]


def administers(registry: Registry, user: User, place: Place) -> bool:
    """A user administers its own place and every place under it."""
    return Place(user.level, user.parent) in _chain(registry, place)


def _administrators(registry: Registry, place: Place) -> list[str]:
    return [u.name for u in registry.users if administers(registry, u, place)]


def who_may_edit(registry: Registry, connection: Connection) -> list[str]:
    """The users who may edit, rename or delete ``connection`` (and see its settings, if private)."""
    if not connection.private:
        return _administrators(registry, _place_of(connection))
    admins = customer_admins(registry, customer_of(registry, _place_of(connection)))
    return list(dict.fromkeys([connection.owner, *admins]))


def _names(users: list[str]) -> str:
    return ", ".join(f"'{u}'" for u in users) if users else "no user (add one to the registry's users)"


def acting_user(registry: Registry, name: str | None) -> User | None:
    """The user a command acts as; ``None`` where the registry lists no users (nothing is enforced)."""
    if not registry.users:
        return None
    if not name:
        raise AccessDenied("the registry lists users, so say who acts: `osr --as USER ...` or OSR_USER=USER "
                           f"(users: {_names([u.name for u in registry.users])})")
    try:
        return registry.user(name)
    except KeyError:
        raise AccessDenied(f"'{name}' (from --as or OSR_USER) is not one of the registry's users "
                           f"({_names([u.name for u in registry.users])})") from None


def check_edit(registry: Registry, name: str | None, connection: Connection, action: str) -> None:
    """Refuse ``action`` (``edit``, ``rename``, ``delete``...) on ``connection`` unless the acting user may."""
    user = acting_user(registry, name)
    if user is None:
        return
    allowed = who_may_edit(registry, connection)
    if user.name in allowed:
        return
    if connection.private:
        customer = customer_of(registry, _place_of(connection))
        raise AccessDenied(
            f"connection '{connection.name}' is private: only its owner '{connection.owner}' and the customer "
            f"administrators of '{customer}' may {action} it ({_names(allowed)}); you act as '{user.name}'")
    place = _chain(registry, _place_of(connection))[0]  # an empty parent is the first customer
    raise AccessDenied(f"connection '{connection.name}' sits on {place.level} '{place.name}', which '{user.name}' "
                       f"does not administer: only {_names(allowed)} may {action} it")


def check_create(registry: Registry, name: str | None, connection: Connection) -> None:
    """Refuse a new connection on a place the acting user does not administer (Customer Insight: admins only)."""
    user = acting_user(registry, name)
    if user is None:
        return
    place = _place_of(connection)
    if connection.type in SINGLE_COMPANY_TYPES:
        allowed = customer_admins(registry, customer_of(registry, place))
        if user.name not in allowed:
            raise AccessDenied(
                f"a {connection.type} connection is created by a customer administrator of "
                f"'{customer_of(registry, place)}' ({_names(allowed)}); you act as '{user.name}'")
        return
    if not administers(registry, user, place):
        raise AccessDenied(
            f"'{user.name}' ({user.level} '{user.parent}') does not administer {place.level} '{place.name}', so "
            f"may not create a connection there; only {_names(_administrators(registry, place))} may")


def may_see(registry: Registry, name: str | None, connection: Connection) -> bool:
    """Whether a private connection's options and credential variables may be shown to the acting user."""
    if not connection.private or not registry.users:
        return True
    return bool(name) and name in who_may_edit(registry, connection)
