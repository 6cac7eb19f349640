#!/usr/bin/env python3
"""Godwit beside the tools people would pick instead, timed as a person runs them: whole processes,
interleaved, medians of several rounds. `make bench-peers` installs the peers and runs this; it
writes docs/BENCHMARKS.md and docs/benchmarks.png.

Each tool gets the same N migrations in its own format (each creates a table with an index and
inserts a row; each down drops it) on the local PostgreSQL. The floor is `psql -f` of the same SQL
with one transaction per migration. Flyway is not reachable from here and is left out.
"""

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = Path.home() / ".cache/godwit/tools"
PG = os.environ.get("GODWIT_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
PG_HOST, PG_PORT = "127.0.0.1", 5432


def url(db, sslmode=None):
    base = PG.rsplit("/", 1)[0]
    return f"{base}/{db}" + (f"?sslmode={sslmode}" if sslmode else "")


def psql(sql, db="postgres"):
    subprocess.run(["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-d", url(db), "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def fresh(db):
    psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
    psql(f"CREATE DATABASE {db}")


def drop(db):
    psql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")


def up_sql(i):
    return (f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, name TEXT NOT NULL);\n"
            f"CREATE INDEX t{i}_name ON t{i} (name);\n"
            f"INSERT INTO t{i} VALUES (1, 'row {i}');\n")


def down_sql(i):
    return f"DROP TABLE t{i};\n"


def version(i):
    return 20240000000000 + i


def write_sets(n, where):
    """The same n migrations for each tool, in its own format."""
    where.mkdir(parents=True)
    sqlx = where / "sqlx"  # godwit and sqlx-cli read the same files
    dbmate = where / "dbmate"
    alembic = where / "alembic"
    for d in (sqlx, dbmate, alembic / "versions"):
        d.mkdir(parents=True)
    floor = []
    for i in range(1, n + 1):
        v = version(i)
        (sqlx / f"{v}_m{i}.up.sql").write_text(up_sql(i))
        (sqlx / f"{v}_m{i}.down.sql").write_text(down_sql(i))
        (dbmate / f"{v}_m{i}.sql").write_text(f"-- migrate:up\n{up_sql(i)}\n-- migrate:down\n{down_sql(i)}")
        parent = f"'r{i - 1}'" if i > 1 else "None"
        (alembic / "versions" / f"r{i}.py").write_text(
            f'"""m{i}"""\nfrom alembic import op\nrevision = "r{i}"\ndown_revision = {parent}\n\n'
            f"def upgrade():\n    op.execute({up_sql(i)!r})\n\n"
            f"def downgrade():\n    op.execute({down_sql(i)!r})\n")
        floor.append(f"BEGIN;\n{up_sql(i)}COMMIT;\n")
    (alembic / "env.py").write_text(
        "import os\nfrom alembic import context\nfrom sqlalchemy import create_engine, pool\n"
        "engine = create_engine(os.environ['BENCH_URL'], poolclass=pool.NullPool)\n"
        "with engine.connect() as c:\n"
        "    context.configure(connection=c, transaction_per_migration=True)\n"
        "    with context.begin_transaction():\n        context.run_migrations()\n")
    (alembic / "alembic.ini").write_text(f"[alembic]\nscript_location = {alembic}\n")
    (where / "floor.sql").write_text("".join(floor))
    return {"sqlx": sqlx, "dbmate": dbmate, "alembic": alembic, "floor": where / "floor.sql"}


def godwit_bin():
    return Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "release/godwit"


def commands(tool, sets, db, sslmode=None):
    """(apply, status, rollback 100) as argument lists for one tool on database `db`."""
    u = url(db, sslmode)
    env = {}
    if tool == "psql":
        return {"apply": ["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-d", u, "-f", str(sets["floor"])]}, env
    if tool == "godwit":
        g = [str(godwit_bin()), "--url", u, "--source", str(sets["sqlx"])]
        return {"apply": g + ["up"], "status": g + ["status"], "rollback": g + ["down", "--steps", "BACK"]}, env
    if tool == "sqlx":
        s = [str(TOOLS / "bin/sqlx"), "migrate"]
        src = ["--database-url", u, "--source", str(sets["sqlx"])]
        return {"apply": s + ["run"] + src, "status": s + ["info"] + src,
                "rollback": s + ["revert", "--target-version", "TARGET"] + src}, env
    if tool == "dbmate":
        d = [str(ROOT / "node_modules/.bin/dbmate"), "--url", u, "--migrations-dir", str(sets["dbmate"]),
             "--no-dump-schema"]
        return {"apply": d + ["up"], "status": d + ["status"], "rollback": d + ["rollback"]}, env
    if tool == "alembic":
        a = [str(TOOLS / "bench/bin/python"), "-m", "alembic", "-c", str(sets["alembic"] / "alembic.ini")]
        env = {"BENCH_URL": u.replace("postgres://", "postgresql+psycopg2://", 1), "PYTHONDONTWRITEBYTECODE": "1"}
        return {"apply": a + ["upgrade", "head"], "status": a + ["current"], "rollback": a + ["downgrade", "-BACK"]}, env
    raise ValueError(tool)


def timed(argv, env, times=1):
    """Wall time of the whole process (output to a pipe, read and dropped)."""
    start = time.perf_counter()
    for _ in range(times):
        r = subprocess.run(argv, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        if r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {(r.stdout + r.stderr).decode()[-2000:]}")
    return time.perf_counter() - start


def rollback(tool, cmd, env, n, back):
    """Rolls back the newest `back` of `n` applied."""
    argv = [a.replace("BACK", str(back)) for a in cmd["rollback"]]
    if tool == "sqlx":
        argv = [a if a != "TARGET" else str(version(n - back) if n > back else 0) for a in argv]
    if tool == "dbmate":
        # dbmate rolls back one migration per run: that many runs, as a person would type them.
        return timed(argv, env, times=back)
    return timed(argv, env)


class Counter:
    """A loopback proxy in front of PostgreSQL counting the queries each client sends (simple
    'Q' and extended 'E' messages): the round trips a tool makes. Connections go through it
    without TLS, so their messages can be read."""

    def __init__(self):
        self.queries = 0
        self.loop = asyncio.new_event_loop()
        self.port = None
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            server = self.loop.run_until_complete(asyncio.start_server(self.client, "127.0.0.1", 0))
            self.port = server.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait()

    async def client(self, reader, writer):
        up_r, up_w = await asyncio.open_connection(PG_HOST, PG_PORT)

        async def back():
            try:
                while data := await up_r.read(65536):
                    writer.write(data)
                    await writer.drain()
            finally:
                writer.close()

        task = asyncio.ensure_future(back())
        try:
            # The startup (and an SSL request) has no type byte: its length comes first.
            head = await reader.readexactly(8)
            if int.from_bytes(head[4:8], "big") == 80877103:  # SSLRequest: say no
                writer.write(b"N")
                await writer.drain()
                head = await reader.readexactly(8)
            rest = await reader.readexactly(int.from_bytes(head[:4], "big") - 8)
            up_w.write(head + rest)
            while True:
                kind = await reader.readexactly(1)
                length = await reader.readexactly(4)
                body = await reader.readexactly(int.from_bytes(length, "big") - 4)
                if kind in (b"Q", b"E"):
                    self.queries += 1
                up_w.write(kind + length + body)
                await up_w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            up_w.close()
            task.cancel()


def median_range(xs):
    return statistics.median(xs), min(xs), max(xs)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--apply", type=int, default=1000)
    p.add_argument("--status", type=int, default=10000)
    p.add_argument("--scale", default="100,1000,10000")
    p.add_argument("--out", default=str(ROOT / "docs"))
    a = p.parse_args()
    tools = ["psql", "godwit", "sqlx", "dbmate", "alembic"]
    back = min(100, a.apply)
    results = {}  # (measure, tool) -> [seconds]
    work = Path(tempfile.mkdtemp(prefix="godwit-peers-"))
    try:
        sets = write_sets(max([a.apply, a.status] + [int(n) for n in a.scale.split(",")]), work / "max")
        sets_at = {}

        def set_of(n):
            if n not in sets_at:
                sets_at[n] = write_sets(n, work / str(n))
            return sets_at[n]

        # Apply N, then roll back 100: interleaved, a fresh database per tool and round.
        for r in range(a.rounds):
            for tool in tools:
                db = f"peers_{tool}"
                fresh(db)
                cmd, env = commands(tool, set_of(a.apply), db)
                results.setdefault(("apply", tool), []).append(timed(cmd["apply"], env))
                if "rollback" in cmd:
                    results.setdefault(("rollback", tool), []).append(rollback(tool, cmd, env, a.apply, back))
                drop(db)
            print(f"round {r + 1}/{a.rounds}: apply {a.apply} and roll back 100", file=sys.stderr)

        # Status of N applied: each tool applies them once, then its status verb is timed.
        for tool in tools[1:]:
            db = f"peers_status_{tool}"
            fresh(db)
            cmd, env = commands(tool, set_of(a.status), db)
            timed(cmd["apply"], env)
        for r in range(a.rounds):
            for tool in tools[1:]:
                cmd, env = commands(tool, set_of(a.status), f"peers_status_{tool}")
                results.setdefault(("status", tool), []).append(timed(cmd["status"], env))
            print(f"round {r + 1}/{a.rounds}: status of {a.status}", file=sys.stderr)
        for tool in tools[1:]:
            drop(f"peers_status_{tool}")

        # How each grows: apply and status at each N (fewer rounds at the largest).
        scale = {}
        for n in [int(x) for x in a.scale.split(",")]:
            rounds = a.rounds if n <= 1000 else 3
            for tool in tools:
                db = f"peers_scale_{tool}"
                times_apply, times_status = [], []
                for _ in range(rounds):
                    fresh(db)
                    cmd, env = commands(tool, set_of(n), db)
                    times_apply.append(timed(cmd["apply"], env))
                    if "status" in cmd:
                        times_status.append(timed(cmd["status"], env))
                drop(db)
                scale[(tool, n)] = (statistics.median(times_apply),
                                    statistics.median(times_status) if times_status else None)
            print(f"scale: N = {n}", file=sys.stderr)

        # Round trips per migration, through the counting proxy (without TLS).
        counter = Counter()
        trips = {}
        n = 100
        for tool in tools:
            db = f"peers_trips_{tool}"
            fresh(db)
            cmd, env = commands(tool, set_of(n), db, sslmode="disable")
            cmd = {k: [x.replace(f":{PG_PORT}/", f":{counter.port}/") for x in v] for k, v in cmd.items()}
            env = {k: v.replace(f":{PG_PORT}/", f":{counter.port}/") for k, v in env.items()}
            counter.queries = 0
            timed(cmd["apply"], env)
            trips[tool] = counter.queries / n
            drop(db)

        report(a, tools, results, scale, trips, Path(a.out))
    finally:
        shutil.rmtree(work, ignore_errors=True)


def versions():
    def out(argv):
        try:
            return subprocess.run(argv, capture_output=True, text=True).stdout.strip().splitlines()[0]
        except Exception:
            return "?"
    return {
        "godwit": out([str(godwit_bin()), "--version"]),
        "sqlx": out([str(TOOLS / "bin/sqlx"), "--version"]),
        "dbmate": out([str(ROOT / "node_modules/.bin/dbmate"), "--version"]),
        "alembic": out([str(TOOLS / "bench/bin/python"), "-m", "alembic", "--version"]),
        "psql": out(["psql", "--version"]),
        "server": subprocess.run(["psql", "-qXAt", "-d", url("postgres"), "-c", "SHOW server_version"],
                                 capture_output=True, text=True).stdout.strip(),
    }


def report(a, tools, results, scale, trips, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    ns = sorted({n for (_, n) in scale})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for i, tool in enumerate(tools):
        # One colour per tool in both charts.
        style = {"marker": "o", "label": tool, "color": f"C{i}"}
        axes[0].plot(ns, [scale[(tool, n)][0] for n in ns], **style)
        if scale[(tool, ns[0])][1] is not None:
            axes[1].plot(ns, [scale[(tool, n)][1] for n in ns], **style)
    for ax, title in zip(axes, ["apply N migrations", "status of N applied"]):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("N")
        ax.set_ylabel("seconds (median, whole process)")
        ax.set_title(title)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    fig.tight_layout()
    fig.savefig(out / "benchmarks.png", dpi=110)

    v = versions()
    floor = statistics.median(results[("apply", "psql")])
    lines = [
        "# Benchmarks beside the peers",
        "",
        "Written by `make bench-peers` (`bench/peers.py`); do not edit by hand. Whole processes as a person",
        "runs them, output to a pipe, interleaved tool by tool in each round; median (min–max) of",
        f"{a.rounds} rounds. Each migration creates a table with an index and inserts a row; each down",
        "drops it. Flyway is not reachable from this machine and is left out.",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} cores; PostgreSQL {v['server']} on loopback,",
        "each tool with its own TLS default (TLS where the server offers it). Versions: "
        + "; ".join(f"{k} `{v[k]}`" for k in ["godwit", "sqlx", "dbmate", "alembic", "psql"]) + ".",
        "",
        f"## Apply {a.apply} to an empty database",
        "",
        "| tool | seconds | × `psql -f` | round trips per migration |",
        "|---|---|---|---|",
    ]
    for tool in tools:
        m, lo, hi = median_range(results[("apply", tool)])
        lines.append(f"| {tool} | {m:.2f} ({lo:.2f}–{hi:.2f}) | {m / floor:.2f}× | {trips[tool]:.1f} |")
    lines += ["", f"## Status of {a.status} applied", "", "| tool | seconds |", "|---|---|"]
    for tool in tools[1:]:
        m, lo, hi = median_range(results[("status", tool)])
        lines.append(f"| {tool} | {m:.3f} ({lo:.3f}–{hi:.3f}) |")
    back = min(100, a.apply)
    lines += ["", f"## Roll back {back} of {a.apply}", "",
              f"dbmate rolls back one migration per run: {back} runs.", "", "| tool | seconds |", "|---|---|"]
    for tool in tools[1:]:
        m, lo, hi = median_range(results[("rollback", tool)])
        lines.append(f"| {tool} | {m:.2f} ({lo:.2f}–{hi:.2f}) |")
    lines += ["", "## How each grows", "", "![apply and status against N](benchmarks.png)", "",
              "| tool | " + " | ".join(f"apply {n}" for n in ns) + " | " + " | ".join(f"status {n}" for n in ns) + " |",
              "|---|" + "---|" * (2 * len(ns))]
    for tool in tools:
        cells = [f"{scale[(tool, n)][0]:.2f}" for n in ns]
        cells += [f"{scale[(tool, n)][1]:.3f}" if scale[(tool, n)][1] is not None else "–" for n in ns]
        lines.append(f"| {tool} | " + " | ".join(cells) + " |")
    lines += ["", "Round trips are the queries a tool sends (PostgreSQL simple and extended messages), counted",
              "by a proxy on 100 migrations without TLS; a round trip may carry several statements.", ""]
    (out / "BENCHMARKS.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
