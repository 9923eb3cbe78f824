"""The secret that binds the agent's saved passwords to this machine.

A configuration folder copied to another machine must open there but must not
reveal its SQL passwords, as a moved agent is expected to ask for them again.
The key is derived from the machine's own identity: ``/etc/machine-id`` on
Linux, the ``MachineGuid`` Windows keeps in its registry. ``OSR_AGENT_MACHINE_ID_FILE``
names another file holding it, so a test can play two machines.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

LINUX_FILES = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))


class NoMachineIdentity(RuntimeError):
    """The machine has no identity to bind passwords to."""


def machine_identity() -> bytes:
    """This machine's identity, stable across reboots and different on every installation."""
    override = os.environ.get("OSR_AGENT_MACHINE_ID_FILE")
    if override:
        return _read(Path(override))
    if sys.platform == "win32":  # pragma: no cover - exercised on Windows servers only
        import winreg

        with winreg.OpenKey(winreg.HKEY_LOCAL_MACHINE, r"SOFTWARE\Microsoft\Cryptography") as key:
            return str(winreg.QueryValueEx(key, "MachineGuid")[0]).encode()
    for path in LINUX_FILES:
        if path.is_file():
            return _read(path)
    raise NoMachineIdentity("this machine has no /etc/machine-id; create one with systemd-machine-id-setup")


def _read(path: Path) -> bytes:
    value = path.read_bytes().strip()
    if not value:
        raise NoMachineIdentity(f"the machine identity file {path} is empty")
    return value
