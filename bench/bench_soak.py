"""The long fault soak: full and nightly imports alternating against a sandbox with every fault on.

Prints ``soak: N runs, C converged, F failed cleanly, W wrong``; W must be 0. Usage:

    python bench/bench_soak.py [--runs 200] [--erp tripletex] [--pg-url postgresql://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from osr_sandbox.soak import soak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--erp", default="tripletex")
    parser.add_argument("--pg-url", default=os.environ.get("OSR_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    args = parser.parse_args()
    name = f"bench_soak_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(make_url(args.pg_url).set(drivername="postgresql").render_as_string(False),
                         autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    started = time.perf_counter()
    result = soak(Path(tempfile.mkdtemp(prefix="osr-soak-")), make_url(args.pg_url).set(database=name)
                  .render_as_string(False), args.runs, erp=args.erp, companies=("2001",))
    for problem in result.problems:
        print("  wrong:", problem)
    print(f"{time.perf_counter() - started:.0f} s")
    print(result)


if __name__ == "__main__":
    main()
