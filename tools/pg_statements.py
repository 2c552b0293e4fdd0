"""What a review costs PostgreSQL, statement by statement, at a steady rate.

A PostgreSQL server of its own (fsync on, `pg_stat_statements` with `track = all`, so the
statements inside the store's functions and triggers are counted too); for each round, a new
database and a collector on it, filled by a closed loop of `--fill` seconds (as `make bench`'s
runs are, so that resources reach their per-resource limit and commit groups trim), then
`--rate` reviews a second for `--seconds` from `tools/loadgen.py`: its p50 and p99, and the
`--top` statements by server time per review. With `--baseline DIR`, rounds alternate between
the collector of that checkout (its `logistis` on `PYTHONPATH`) and this one.

    .venv/bin/python tools/pg_statements.py [--baseline DIR] [--rounds 1] [--seconds 10]
                                            [--rate 500] [--fill 5] [--top 14]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench import load

from tests.support.collector import CollectorProcess
from tests.support.postgres import PostgresServer, psql
from tests.support.stores import store_env

TOP = """
    SELECT round((total_exec_time * 1000 / {reviews})::numeric), calls, toplevel,
           round((total_exec_time * 1000 / greatest(calls, 1))::numeric),
           regexp_replace(left(query, 100), '\\s+', ' ', 'g')
    FROM pg_stat_statements ORDER BY total_exec_time DESC LIMIT {top}
"""


def measure(server: PostgresServer, env: dict[str, str], args: argparse.Namespace) -> None:
    url = server.create_database()
    psql(str(url), "CREATE EXTENSION pg_stat_statements")
    with CollectorProcess(
        Path(tempfile.mkdtemp()) / "data", env={**store_env(url), **env}
    ) as process:
        webhook = (process.webhook_url, process.ca_file)
        load(*webhook, args.fill, connections=16)
        time.sleep(1)  # the deriver catches up
        psql(str(url), "SELECT pg_stat_statements_reset()")
        steady = load(*webhook, args.seconds, connections=16, rate=args.rate)
    reviews = int(steady["requests"])
    print(f"  {reviews} reviews, p50 {steady['p50_ms']} ms, p99 {steady['p99_ms']} ms")
    print("  µs per review | calls | top level | µs per call | statement")
    for row in psql(str(url), TOP.format(reviews=reviews, top=args.top)):
        print("  " + row.replace("|", " | "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", type=Path, help="another checkout to alternate with")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--fill", type=int, default=5, help="seconds of closed loop first")
    parser.add_argument("--top", type=int, default=14)
    args = parser.parse_args()
    variants = {"this tree": {}}
    if args.baseline:
        variants = {"baseline": {"PYTHONPATH": str(args.baseline.resolve())}, **variants}
    with PostgresServer.temporary(fsync=True) as server:
        psql(server.url(), "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'")
        psql(server.url(), "ALTER SYSTEM SET pg_stat_statements.track = 'all'")
        server.stop()
        server.start()
        for number in range(args.rounds):
            for name, env in variants.items():
                print(f"round {number + 1}, {name}:", flush=True)
                measure(server, env, args)


if __name__ == "__main__":
    main()
