"""Network namespaces for tests whose network must be what the test says: an agent that can reach only its
gateway, a production host name that leads to a sandbox, a database host called ``db``.

``ip netns exec`` bind-mounts ``/etc/netns/<name>/hosts`` over ``/etc/hosts`` for the command it runs, so
a namespace's ``hosts`` decide what its programs' names resolve to. Creating one needs root and ``ip``;
where either is missing, :class:`Unavailable` says why, and the caller decides whether to skip.
"""

from __future__ import annotations

import itertools
import os
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

#: this process's namespaces are numbered, so that two of them never share an interface name
_SEQUENCE = itertools.count()


class Unavailable(Exception):
    """No namespace can be made here; the message says why."""


@dataclass(frozen=True)
class Namespace:
    name: str
    #: the host's and the namespace's ends of the veth link between them (``None`` with loopback only)
    host: str | None = None
    inside: str | None = None

    def command(self, *argv: str) -> list[str]:
        """``argv`` run inside the namespace."""
        return ["ip", "netns", "exec", self.name, *argv]


def _run(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(list(argv), capture_output=True, text=True, timeout=10)


@contextmanager
def namespace(prefix: str, *, link: int | None = None, hosts: Mapping[str, str] | None = None,
              host_names: Sequence[str] = ()) -> Iterator[Namespace]:
    """A namespace with loopback up; with ``link``, joined to the host by a veth pair on 10.<link>.n.0/30
    (the host's end ``.1``, the namespace's ``.2``). Inside it ``hosts`` maps names to addresses, and
    ``host_names`` name the host's end of the link (a service on the host, such as ``db``). Everything
    made is removed when the block ends, and when making it fails half way."""
    if os.geteuid() != 0 or shutil.which("ip") is None:
        raise Unavailable("needs root and `ip` for a network namespace")
    pid = os.getpid()
    seq = next(_SEQUENCE)
    ns = Namespace(f"{prefix}{pid}", *((f"10.{link}.{pid % 200 + 20}.1", f"10.{link}.{pid % 200 + 20}.2")
                                       if link is not None else ()))
    host_if, ns_if = f"v{seq}h{pid}", f"v{seq}n{pid}"
    etc = Path("/etc/netns") / ns.name
    steps = [("ip", "netns", "add", ns.name)]
    if link is not None:
        steps += [("ip", "link", "add", host_if, "type", "veth", "peer", "name", ns_if),
                  ("ip", "link", "set", ns_if, "netns", ns.name),
                  ("ip", "addr", "add", f"{ns.host}/30", "dev", host_if),
                  ("ip", "link", "set", host_if, "up"),
                  tuple(ns.command("ip", "addr", "add", f"{ns.inside}/30", "dev", ns_if)),
                  tuple(ns.command("ip", "link", "set", ns_if, "up"))]
    steps.append(tuple(ns.command("ip", "link", "set", "lo", "up")))
    try:
        for step in steps:
            done = _run(*step)
            if done.returncode != 0:
                raise Unavailable(f"`{' '.join(step)}` failed: {done.stderr.strip()}")
        names = {**(hosts or {}), **dict.fromkeys(host_names, ns.host)}
        if names:
            etc.mkdir(parents=True, exist_ok=True)
            (etc / "hosts").write_text("127.0.0.1 localhost\n" + "".join(f"{a} {n}\n" for n, a in names.items()))
        yield ns
    finally:
        if link is not None:
            _run("ip", "link", "del", host_if)
        _run("ip", "netns", "del", ns.name)
        shutil.rmtree(etc, ignore_errors=True)
