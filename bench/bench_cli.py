"""Seconds per ``osr`` command, as a person waits for it: whole processes, started afresh each time.

Every ``osr`` call is a new Python process, so what a command imports is paid on
every call. Times ``osr --help``, ``osr connection list``, ``osr company list``
and ``osr status`` on a demo home (``osr demo`` with a few postings, made in a
temporary folder unless ``--home`` names one) and prints min, median and max.
Nothing is asserted. Usage:

    python bench/bench_cli.py [--runs 10] [--home DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

COMMANDS = (("--help",), ("connection", "list"), ("company", "list"), ("status",))
OSR = Path(sys.executable).with_name("osr")


def run(args: tuple[str, ...], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([str(OSR), *args], env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per command, after one warm-up")
    parser.add_argument("--home", type=Path, help="an existing OSR home (default: a fresh demo home)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        home = args.home or Path(tmp) / ".osr"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OSR_", "DAGSTER_"))}
        env["OSR_HOME"] = str(home)
        if args.home is None:
            print(f"making a demo home in {home} ...", flush=True)
            subprocess.run([str(OSR), "demo", "--postings", "300", "--port", "0"], env=env, check=True,
                           stdout=subprocess.DEVNULL)
        print(f"{'command':24} {'min s':>7} {'median s':>9} {'max s':>7}   ({args.runs} runs each)")
        for command in COMMANDS:
            run(command, env)
            times = [run(command, env) for _ in range(args.runs)]
            print(f"{'osr ' + ' '.join(command):24} {min(times):7.3f} {statistics.median(times):9.3f} "
                  f"{max(times):7.3f}", flush=True)


if __name__ == "__main__":
    main()
