#!/usr/bin/env python3
"""`godwit verify` beside one plain `godwit up` of the same history, timed as a person runs them:
whole processes of the release binary on the local PostgreSQL, interleaved, the median of several
rounds.

The history is N migrations, each a table with a key, a foreign key to the one before and an index
(the shape `cargo bench --bench schema` uses). Each round times, on fresh databases:
  - `godwit up` of all of them;
  - `godwit verify` when every down restores the schema;
  - `godwit verify` when B of the downs (spread over the history) leave their table behind.
`--project NAME=DIR` also times `up` and `verify` of a real project's folder the same way (after
`make corpus`, the imported corpus projects are under $CARGO_TARGET_DIR/corpus/NAME/import).
Writes docs/verify-benchmark.md. `make bench` builds the release godwit first.
"""

import argparse
import os
import platform
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BASE = os.environ.get("GODWIT_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]
DB = "gwbench_verify"


def godwit_bin():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release/godwit"


def psql(sql):
    subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-d", f"{BASE}/postgres", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"})


def fresh():
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB}")


def write(folder, n, broken):
    folder.mkdir(parents=True, exist_ok=True)
    for f in folder.iterdir():
        f.unlink()
    for i in range(1, n + 1):
        v = 20240000000000 + i
        fk = f", parent INTEGER REFERENCES t{i - 1} (id)" if i > 1 else ""
        up = f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY{fk}, name TEXT);\nCREATE INDEX t{i}_name ON t{i} (name);\n"
        down = "SELECT 1;\n" if i in broken else f"DROP TABLE t{i};\n"
        (folder / f"{v}_step_{i}.up.sql").write_text(up)
        (folder / f"{v}_step_{i}.down.sql").write_text(down)


def timed(project, *args, ok=(0,)):
    fresh()
    start = time.perf_counter()
    p = subprocess.run([str(godwit_bin()), "--url", f"{BASE}/{DB}", *args], cwd=project,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - start
    if p.returncode not in ok:
        raise SystemExit(f"godwit {' '.join(args)} exited {p.returncode}: {p.stderr}")
    return took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--migrations", type=int, default=300)
    ap.add_argument("--broken", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--project", action="append", default=[], metavar="NAME=DIR")
    args = ap.parse_args()
    n, b = args.migrations, args.broken
    broken = {round((k + 1) * n / (b + 1)) for k in range(b)}
    with tempfile.TemporaryDirectory() as tmp:
        clean, leaving = Path(tmp, "clean"), Path(tmp, "broken")
        write(clean / "migrations", n, set())
        write(leaving / "migrations", n, broken)
        times = {"up": [], "verify": [], "verify, broken": []}
        for r in range(args.rounds):
            runs = [("up", clean, ("up",), (0,)), ("verify", clean, ("verify",), (0,)),
                    ("verify, broken", leaving, ("verify",), (1,))]
            for name, project, cmd, ok in runs[r % 3:] + runs[:r % 3]:
                times[name].append(timed(project, *cmd, ok=ok))
        real = []
        for spec in args.project:
            name, folder = spec.split("=", 1)
            count = len([f for f in Path(folder, "migrations").iterdir() if not f.name.endswith(".down.sql")])
            ups, checks = [], []
            for r in range(args.rounds):
                # verify exits 1 when it finds problems, as it does on real histories.
                pair = [(ups, ("up",), (0,)), (checks, ("verify",), (0, 1))]
                for into, cmd, ok in pair[r % 2:] + pair[:r % 2]:
                    into.append(timed(folder, *cmd, ok=ok))
            u, v = statistics.median(ups), statistics.median(checks)
            real.append(f"| {name} ({count} migrations) | {u:.2f} s | {v:.2f} s | {v / u:.1f}× |")
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    up = statistics.median(times["up"])
    rows = [f"| `godwit up` | {up:.2f} s | 1.0× |"]
    for name in ("verify", "verify, broken"):
        t = statistics.median(times[name])
        what = "`godwit verify`" + (f", {b} downs leaving their table" if name != "verify" else ", every down restores")
        rows.append(f"| {what} | {t:.2f} s | {t / up:.1f}× |")
    text = "\n".join([
        "# verify beside up",
        "",
        f"{n} migrations on PostgreSQL (a table with a key, a foreign key and an index each), whole `godwit`",
        f"processes of the release build, median of {args.rounds} interleaved rounds on fresh databases;",
        f"{platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}. `python3 bench/verify.py`.",
        "",
        "| run | median | of up |",
        "| --- | --- | --- |",
        *rows,
        "",
        *([
            "Real histories (`make corpus` imports), the same way:",
            "",
            "| project | `godwit up` | `godwit verify` | of up |",
            "| --- | --- | --- | --- |",
            *real,
            "",
        ] if real else []),
    ])
    (ROOT / "docs/verify-benchmark.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
