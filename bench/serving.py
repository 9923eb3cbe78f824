"""What the benchmarks that serve a sandbox in a process of their own share: a free port, and waiting for it.

The server runs in its own process so that its CPU and memory are not the
client's, which each benchmark measures.
"""

from __future__ import annotations

import multiprocessing
import socket
import time


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_serving(port: int, server: multiprocessing.Process, seconds: float = 60) -> None:
    """Return once ``port`` accepts connections; stop the benchmark if ``server`` died or never listened."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not server.is_alive():
            raise SystemExit("sandbox server died")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"sandbox server did not listen on port {port} within {seconds:.0f} s")
