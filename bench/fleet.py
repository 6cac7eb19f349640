#!/usr/bin/env python3
"""A fleet run beside the shell loops people write instead, timed as a person runs them: whole
processes, interleaved, the median of several rounds, on the local PostgreSQL.

N tenant databases get the same M migrations (each creates a table with an index and inserts a
row). Each round resets every tenant to empty, then times, in a rotating order:
  - `godwit --fleet bench up --jobs J` (one process, the fleet's pattern listed at run time);
  - a shell loop running `godwit --url URL up` for each tenant, one after another;
  - a shell loop running `sqlx migrate run` for each tenant;
  - the floor: the server's own client running the same SQL (one transaction per migration, no
    history) on J tenants at once (`xargs -P J psql -f`), which is what the server itself costs.
`--scale K` then measures one fleet of K tenants (up, then status) once, for docs/FLEET.md.
Writes docs/fleet-benchmark.md. Needs the release godwit and sqlx-cli 0.9 (`make bench` builds and
installs both).
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
SQLX = Path.home() / ".cache/godwit/tools/sqlx-cli-0.9.0-default/bin/sqlx"
BASE = os.environ.get("GODWIT_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]
PREFIX = "gwbench_fleet_"


def godwit_bin():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release/godwit"


def psql(sql, db="postgres"):
    subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-d", f"{BASE}/{db}"], input=sql, text=True,
                   check=True, stdout=subprocess.DEVNULL, env={**os.environ, "PGOPTIONS": "-c client_min_messages=warning"})


def names(n):
    return [f"{PREFIX}{i:05d}" for i in range(n)]


def make(n):
    """Exactly n tenant databases, empty."""
    drop_all()
    psql("".join(f"CREATE DATABASE {d};\n" for d in names(n)))


def reset(n):
    """Every tenant back to empty, in one client session (much faster than dropping databases)."""
    psql("".join(f"\\c {d}\nDROP SCHEMA public CASCADE;\nCREATE SCHEMA public;\n" for d in names(n)))


def drop_all():
    out = subprocess.run(["psql", "-qXAt", "-d", f"{BASE}/postgres", "-c",
                          f"SELECT datname FROM pg_database WHERE datname LIKE '{PREFIX}%'"],
                         capture_output=True, text=True, check=True).stdout.split()
    if out:
        psql("".join(f"DROP DATABASE {d} WITH (FORCE);\n" for d in out))


def write_project(where, m):
    (where / "migrations").mkdir(parents=True)
    for i in range(1, m + 1):
        v = 20240000000000 + i
        (where / "migrations" / f"{v}_m{i}.up.sql").write_text(
            f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);\n"
            f"CREATE INDEX t{i}_name ON t{i} (name);\nINSERT INTO t{i} VALUES (1, 'row {i}');\n")
        (where / "migrations" / f"{v}_m{i}.down.sql").write_text(f"DROP TABLE t{i};\n")
    (where / "godwit.toml").write_text(
        f'id = "fleet-bench"\nmigrations = "migrations"\n\n[fleet.bench]\npattern = "{BASE}/{PREFIX}%"\n')


def commands(where, n, jobs):
    g, src = str(godwit_bin()), str(where / "migrations")
    urls = where / "urls.txt"
    urls.write_text("".join(f"{BASE}/{d}\n" for d in names(n)))
    floor = where / "floor.sql"
    floor.write_text("".join(f"BEGIN;\n{f.read_text()}COMMIT;\n" for f in sorted((where / "migrations").glob("*.up.sql"))))
    return {
        "floor": ["sh", "-c", f'xargs -P {jobs} -I{{}} psql -qX -v ON_ERROR_STOP=1 -d {{}} -f "{floor}" < "{urls}"'],
        "godwit --fleet": [g, "--project", str(where), "--fleet", "bench", "up", "--jobs", str(jobs)],
        "loop of godwit up": ["sh", "-c", f'while read u; do "{g}" --url "$u" --source "{src}" up || exit 1; done < "{urls}"'],
        "loop of sqlx migrate run": ["sh", "-c", f'while read u; do "{SQLX}" migrate run --database-url "$u" '
                                     f'--source "{src}" || exit 1; done < "{urls}"'],
    }


def timed(argv):
    start = time.perf_counter()
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    took = time.perf_counter() - start
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {(r.stdout + r.stderr).decode()[-2000:]}")
    return took


def applied_everywhere(n, m):
    """Checks the run did its work: every tenant has m migrations recorded."""
    script = "".join(f"\\c {d}\nSELECT COUNT(*) FROM _sqlx_migrations;\n" for d in names(n))
    out = subprocess.run(["psql", "-qXAt", "-d", f"{BASE}/postgres"], input=script, text=True,
                         capture_output=True, check=True).stdout.split()
    return len(out) == n and all(int(x) == m for x in out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenants", type=int, default=200)
    ap.add_argument("--migrations", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--scale", type=int, default=1000, help="tenants for the one large run (0: none)")
    ap.add_argument("--out", default=str(ROOT / "docs/fleet-benchmark.md"))
    a = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        write_project(where, a.migrations)
        cmds = commands(where, a.tenants, a.jobs)
        make(a.tenants)
        try:
            tools = list(cmds)
            for r in range(a.rounds):
                for tool in tools[r % len(tools):] + tools[:r % len(tools)]:
                    reset(a.tenants)
                    took = timed(cmds[tool])
                    if tool != "floor" and not applied_everywhere(a.tenants, a.migrations):
                        raise RuntimeError(f"{tool} left tenants behind")
                    results.setdefault(tool, []).append(took)
                    print(f"round {r + 1}: {tool}: {took:.2f} s", flush=True)
            scale = {}
            if a.scale:
                make(a.scale)
                g = [str(godwit_bin()), "--project", str(where), "--fleet", "bench"]
                scale["up"] = timed(g + ["up", "--jobs", str(a.jobs)])
                if not applied_everywhere(a.scale, a.migrations):
                    raise RuntimeError("the large fleet run left tenants behind")
                scale["status"] = timed(g + ["status", "--jobs", str(a.jobs)])
                scale["rerun"] = timed(g + ["up", "--jobs", str(a.jobs)])
                print(f"{a.scale} tenants: {scale}", flush=True)
        finally:
            drop_all()
    write(a, results, scale)


def write(a, results, scale):
    med = {t: statistics.median(xs) for t, xs in results.items()}
    fleet = med["godwit --fleet"]
    lines = [
        "# Fleet benchmark",
        "",
        f"Written by `bench/fleet.py` (`make bench`) on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}, PostgreSQL on loopback.",
        "",
        f"{a.tenants} tenant databases on one PostgreSQL server, {a.migrations} migrations each (a table with an "
        "index and a row). Every round empties every tenant, then runs each way in turn (the order rotates); the "
        f"time is the whole process, the median of {a.rounds} rounds. Each run is checked to have applied every "
        "migration everywhere.",
        "",
        "| way | median | rounds | vs `godwit --fleet` |",
        "|---|---:|---|---:|",
    ]
    for tool, xs in results.items():
        label = {"godwit --fleet": f"`godwit --fleet bench up --jobs {a.jobs}`",
                 "floor": f"floor: `psql -f` on {a.jobs} tenants at once, no history"}.get(tool, tool)
        lines.append(f"| {label} | {med[tool]:.1f} s | {', '.join(f'{x:.1f}' for x in xs)} | "
                     f"{med[tool] / fleet:.1f}× |")
    if scale:
        lines += [
            "",
            f"One fleet of {a.scale} tenants ({a.migrations} migrations each, `--jobs {a.jobs}`, one run each):",
            "",
            f"- `up` from empty: {scale['up']:.1f} s ({scale['up'] / a.scale * 1000:.0f} ms per tenant)",
            f"- `status`: {scale['status']:.1f} s",
            f"- `up` again, nothing to do: {scale['rerun']:.1f} s",
        ]
    loop = med["loop of godwit up"]
    lines += [
        "",
        f"`godwit --fleet` is {loop / fleet:.1f}× faster than the loop of `godwit up` (the target is 3×). The "
        f"server's own client, {a.jobs} tenants at once and without any history, takes {med['floor'] / fleet:.2f}× the "
        "fleet's time: what is left is the server's own work on these migrations (each table and index made and "
        f"synced), which fills every core of this {os.cpu_count()}-core machine from about 4 jobs on. A server with "
        "more cores, or tenants spread over several servers, is where more jobs pay.",
    ]
    Path(a.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
