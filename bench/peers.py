#!/usr/bin/env python3
"""Godwit beside the tools people would pick instead, timed as a person runs them: whole processes,
interleaved, medians of several rounds. `make bench-peers` installs the peers and runs this; it
writes docs/BENCHMARKS.md and docs/benchmarks.png.

Each tool gets the same N migrations in its own format (each creates a table with an index and
inserts a row; each down drops it), on the local PostgreSQL and MariaDB, and a SQLite file for
status. The floor is the server's own client running the same SQL with one transaction per
migration (`psql -f`, `mariadb`), and for status, that client reading the history table.
Flyway is not reachable from this machine and is left out.
"""

import argparse
import asyncio
import json
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
SQLX = TOOLS / "sqlx-cli-0.9.0-default/bin/sqlx"
PEERS = ["godwit", "sqlx", "dbmate", "alembic"]


class Server:
    """One database server: URLs for each tool, its own client (the floor), and a database made
    fresh and dropped."""

    def __init__(self, kind):
        self.kind = kind
        if kind == "postgres":
            self.base = os.environ.get("GODWIT_TEST_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres").rsplit("/", 1)[0]
            self.port = 5432
        else:
            self.base = os.environ.get("GODWIT_TEST_MYSQL_URL", "mysql://root@127.0.0.1:3306/mysql").rsplit("/", 1)[0]
            self.port = 3306
        self.host = "127.0.0.1"

    def url(self, db, port=None):
        """Database `db`'s URL; with `port`, the counting proxy's, without TLS."""
        if port is None:
            return f"{self.base}/{db}"
        base = self.base.replace(f":{self.port}", f":{port}")
        return f"{base}/{db}" + ("?sslmode=disable" if self.kind == "postgres" else "")

    def client(self, db, port=None):
        """The server's own client, as an argument list (SQL after -c/-e); `port` as for `url`."""
        if self.kind == "postgres":
            return ["psql", "-qX", "-v", "ON_ERROR_STOP=1", "-d", self.url(db, port)]
        return ["mariadb", "-h", self.host, "-P", str(port or self.port), "-u", "root", "--batch", db]

    def admin(self, sql):
        flag = "-c" if self.kind == "postgres" else "-e"
        db = "postgres" if self.kind == "postgres" else "mysql"
        quiet = {**os.environ, "PGOPTIONS": "-c client_min_messages=warning"}
        subprocess.run(self.client(db) + [flag, sql], check=True, stdout=subprocess.DEVNULL, env=quiet)

    def fresh(self, db):
        self.drop(db)
        self.admin(f"CREATE DATABASE {db}")

    def drop(self, db):
        self.admin(f"DROP DATABASE IF EXISTS {db}" + (" WITH (FORCE)" if self.kind == "postgres" else ""))

    def version(self):
        sql = "SHOW server_version" if self.kind == "postgres" else "SELECT VERSION()"
        argv = self.client("postgres" if self.kind == "postgres" else "mysql")
        argv += ["-At", "-c", sql] if self.kind == "postgres" else ["-N", "-e", sql]
        return subprocess.run(argv, capture_output=True, text=True).stdout.strip()


def up_sql(i):
    # VARCHAR rather than TEXT: MySQL cannot index a TEXT column without a prefix length.
    return (f"CREATE TABLE t{i} (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL);\n"
            f"CREATE INDEX t{i}_name ON t{i} (name);\n"
            f"INSERT INTO t{i} VALUES (1, 'row {i}');\n")


def down_sql(i):
    return f"DROP TABLE t{i};\n"


def version(i):
    return 20240000000000 + i


def write_sets(n, where):
    """The same n migrations for each tool, in its own format (the same SQL on every database)."""
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
            # One statement per call: MySQL drivers refuse several in one.
            "def upgrade():\n" + "".join(f"    op.execute({x + ';'!r})\n" for x in up_sql(i).split(";\n") if x) + "\n"
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


def commands(tool, sets, server, db, port=None):
    """(apply, status, rollback) as argument lists for one tool on database `db` of `server` (a
    Server, or a SQLite file's path); `port` points them at the counting proxy, without TLS."""
    if isinstance(server, Path):
        u = {"godwit": f"sqlite://{server}", "sqlx": f"sqlite://{server}", "dbmate": f"sqlite:{server}",
             "alembic": f"sqlite:///{server}"}[tool] if tool != "floor" else None
    else:
        u = server.url(db, port)
    env = {}
    if tool == "floor":
        read = "SELECT * FROM _sqlx_migrations ORDER BY version"
        if isinstance(server, Path):
            return {"status": ["sqlite3", str(server), read]}, env
        client = server.client(db, port)
        if server.kind == "postgres":
            return {"apply": client + ["-f", str(sets["floor"])], "status": client + ["-c", read]}, env
        return {"apply": client + ["-e", f"source {sets['floor']}"], "status": client + ["-e", read]}, env
    if tool == "godwit":
        g = [str(godwit_bin()), "--url", u, "--source", str(sets["sqlx"])]
        return {"apply": g + ["up"], "status": g + ["status"], "rollback": g + ["down", "--steps", "BACK"]}, env
    if tool == "sqlx":
        s = [str(SQLX), "migrate"]
        src = ["--database-url", u, "--source", str(sets["sqlx"])]
        return {"apply": s + ["run"] + src, "status": s + ["info"] + src,
                "rollback": s + ["revert", "--target-version", "TARGET"] + src}, env
    if tool == "dbmate":
        d = [str(ROOT / "node_modules/.bin/dbmate"), "--url", u, "--migrations-dir", str(sets["dbmate"]),
             "--no-dump-schema"]
        return {"apply": d + ["up"], "status": d + ["status"], "rollback": d + ["rollback"]}, env
    if tool == "alembic":
        a = [str(TOOLS / "bench/bin/python"), "-m", "alembic", "-c", str(sets["alembic"] / "alembic.ini")]
        driver = {"postgres://": "postgresql+psycopg2://", "mysql://": "mysql+pymysql://"}
        for scheme, sa in driver.items():
            if u.startswith(scheme):
                u = sa + u[len(scheme):]
        env = {"BENCH_URL": u, "PYTHONDONTWRITEBYTECODE": "1"}
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
    """A loopback proxy in front of a server counting the statements each client sends: PostgreSQL
    simple ('Q') and extended ('E') messages, MySQL COM_QUERY and COM_STMT_EXECUTE commands. These
    are the round trips a tool makes. Connections go through it without TLS, so they can be read."""

    def __init__(self, server):
        self.server = server
        self.queries = 0
        self.loop = asyncio.new_event_loop()
        self.port = None
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            handler = self.postgres if server.kind == "postgres" else self.mysql
            srv = self.loop.run_until_complete(asyncio.start_server(handler, "127.0.0.1", 0))
            self.port = srv.sockets[0].getsockname()[1]
            ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        ready.wait()

    async def pipe(self, reader, writer):
        up_r, up_w = await asyncio.open_connection(self.server.host, self.server.port)

        async def back():
            try:
                while data := await up_r.read(65536):
                    writer.write(data)
                    await writer.drain()
            finally:
                writer.close()

        return up_w, asyncio.ensure_future(back())

    async def relay(self, reader, writer, start, frame):
        """Passes a client's bytes on to the server: what `start` reads first (the startup), then
        one message at a time from `frame`, which says whether it is a query."""
        up_w, task = await self.pipe(reader, writer)
        try:
            up_w.write(await start(reader, writer))
            while True:
                data, query = await frame(reader)
                self.queries += query
                up_w.write(data)
                await up_w.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            up_w.close()
            task.cancel()

    async def postgres(self, reader, writer):
        async def start(reader, writer):
            # The startup (and an SSL request) has no type byte: its length comes first.
            head = await reader.readexactly(8)
            if int.from_bytes(head[4:8], "big") == 80877103:  # SSLRequest: say no
                writer.write(b"N")
                await writer.drain()
                head = await reader.readexactly(8)
            return head + await reader.readexactly(int.from_bytes(head[:4], "big") - 8)

        async def frame(reader):
            kind = await reader.readexactly(1)
            length = await reader.readexactly(4)
            body = await reader.readexactly(int.from_bytes(length, "big") - 4)
            return kind + length + body, kind in (b"Q", b"E")

        await self.relay(reader, writer, start, frame)

    async def mysql(self, reader, writer):
        async def start(reader, writer):
            return b""  # the server speaks first

        async def frame(reader):
            # Packets: 3-byte length, sequence number; a command starts a sequence (number 0).
            head = await reader.readexactly(4)
            body = await reader.readexactly(int.from_bytes(head[:3], "little"))
            return head + body, head[3] == 0 and body[:1] in (b"\x03", b"\x17")

        await self.relay(reader, writer, start, frame)


def median_range(xs):
    return statistics.median(xs), min(xs), max(xs)


def bench_server(server, a, sets_of, work):
    """Apply, roll back, status, growth and round trips on one server."""
    tools = ["floor"] + PEERS
    apply_n = a.apply if server.kind == "postgres" else a.mysql_apply
    status_n = a.status if server.kind == "postgres" else a.mysql_status
    scale_ns = [int(x) for x in (a.scale if server.kind == "postgres" else a.mysql_scale).split(",") if x]
    back = min(100, apply_n)
    results = {}  # (measure, tool) -> [seconds]
    tag = server.kind[:2]

    # Apply N, then roll back 100: interleaved, a fresh database per tool and round.
    for r in range(a.rounds):
        for tool in tools:
            db = f"peers_{tag}_{tool}"
            server.fresh(db)
            cmd, env = commands(tool, sets_of(apply_n), server, db)
            results.setdefault(("apply", tool), []).append(timed(cmd["apply"], env))
            if "rollback" in cmd:
                results.setdefault(("rollback", tool), []).append(rollback(tool, cmd, env, apply_n, back))
            server.drop(db)
        print(f"{server.kind} round {r + 1}/{a.rounds}: apply {apply_n} and roll back {back}", file=sys.stderr)

    # Status of N applied: each tool applies them once, then its status verb is timed. The floor
    # reads the table godwit's run wrote.
    for tool in PEERS:
        db = f"peers_{tag}_status_{tool}"
        server.fresh(db)
        cmd, env = commands(tool, sets_of(status_n), server, db)
        timed(cmd["apply"], env)
    for r in range(a.rounds):
        for tool in tools:
            cmd, env = commands(tool, sets_of(status_n), server, f"peers_{tag}_status_{'godwit' if tool == 'floor' else tool}")
            results.setdefault(("status", tool), []).append(timed(cmd["status"], env))
        print(f"{server.kind} round {r + 1}/{a.rounds}: status of {status_n}", file=sys.stderr)
    app = bench_app(a, server, sets_of(status_n), f"peers_{tag}_status_godwit", status_n, work) \
        if a.app and server.kind == "postgres" else None
    for tool in PEERS:
        server.drop(f"peers_{tag}_status_{tool}")

    # How each grows: apply and status at each N (fewer rounds at the largest).
    scale = {}
    for n in scale_ns:
        rounds = a.rounds if n <= 1000 else 3
        for tool in tools:
            db = f"peers_{tag}_scale_{tool}"
            times_apply, times_status = [], []
            for _ in range(rounds):
                server.fresh(db)
                cmd, env = commands(tool, sets_of(n), server, db)
                times_apply.append(timed(cmd["apply"], env))
                if tool != "floor":  # the floor keeps no history table
                    times_status.append(timed(cmd["status"], env))
            server.drop(db)
            scale[(tool, n)] = (statistics.median(times_apply), statistics.median(times_status) if times_status else None)
        print(f"{server.kind} scale: N = {n}", file=sys.stderr)

    # Round trips per migration, through the counting proxy (without TLS).
    counter = Counter(server)
    trips = {}
    n = min(100, apply_n)
    for tool in tools:
        db = f"peers_{tag}_trips_{tool}"
        server.fresh(db)
        cmd, env = commands(tool, sets_of(n), server, db, port=counter.port)
        counter.queries = 0
        timed(cmd["apply"], env)
        trips[tool] = counter.queries / n
        server.drop(db)
    return {"apply_n": apply_n, "status_n": status_n, "back": back, "results": results, "scale": scale,
            "trips": trips, "trips_n": n, "app": app}


def bench_app(a, server, sets, db, n, work):
    """The release app opened on a project whose database has n applied: launch to Status, memory."""
    project = work / "app-project"
    shutil.copytree(sets["sqlx"], project / "migrations")
    (project / "godwit.toml").write_text(
        f'id = "bench-app"\nmigrations = "migrations"\n\n[env.dev]\nurl = "{server.url(db)}"\n')
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    env = {**os.environ, "GODWIT_APP": str(target / "release/godwit-app"),
           "TAURI_DRIVER": str(TOOLS / "bin/tauri-driver")}
    r = subprocess.run([str(ROOT / "bench/app.sh"), str(project), str(n), str(a.rounds)], env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"bench/app.sh failed: {(r.stdout + r.stderr)[-3000:]}")
    print(f"app: launch to the status of {n}", file=sys.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def bench_sqlite(a, sets_of, work):
    """Status of N applied on a SQLite file per tool, beside the sqlite3 shell reading the table."""
    n = a.status
    files = {tool: work / f"status_{tool}.db" for tool in ["godwit", "sqlx", "dbmate"]}
    for tool, f in files.items():
        if tool == "sqlx":
            f.touch()  # sqlx-cli does not create a SQLite file
        cmd, env = commands(tool, sets_of(n), f, None)
        timed(cmd["apply"], env)
    results = {}
    for r in range(a.rounds):
        for tool in ["floor", "godwit", "sqlx", "dbmate"]:
            cmd, env = commands(tool, sets_of(n), files["godwit" if tool == "floor" else tool], None)
            results.setdefault(tool, []).append(timed(cmd["status"], env))
        print(f"sqlite round {r + 1}/{a.rounds}: status of {n}", file=sys.stderr)
    return {"status_n": n, "results": results}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--apply", type=int, default=1000)
    p.add_argument("--status", type=int, default=10000)
    p.add_argument("--scale", default="100,1000,10000")
    # MariaDB spends ~90 ms of server time on each of these migrations here (InnoDB makes a file per
    # table and syncs it): smaller N keeps its part under half an hour.
    p.add_argument("--mysql-apply", type=int, default=100)
    p.add_argument("--mysql-status", type=int, default=1000)
    p.add_argument("--mysql-scale", default="10,100")
    p.add_argument("--servers", default="postgres,mariadb,sqlite")
    p.add_argument("--no-app", dest="app", action="store_false", help="leave out the desktop app")
    p.add_argument("--out", default=str(ROOT / "docs"))
    a = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="godwit-peers-"))
    sets_at = {}

    def sets_of(n):
        if n not in sets_at:
            sets_at[n] = write_sets(n, work / str(n))
        return sets_at[n]

    try:
        runs = {}
        for kind in a.servers.split(","):
            if kind == "sqlite":
                runs[kind] = bench_sqlite(a, sets_of, work)
            else:
                runs[kind] = bench_server(Server(kind), a, sets_of, work)
        report(a, runs, Path(a.out))
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
        "sqlx": out([str(SQLX), "--version"]),
        "dbmate": out([str(ROOT / "node_modules/.bin/dbmate"), "--version"]),
        "alembic": out([str(TOOLS / "bench/bin/python"), "-m", "alembic", "--version"]),
        "psql": out(["psql", "--version"]),
        "mariadb": out(["mariadb", "--version"]),
        "sqlite3": out(["sqlite3", "--version"]).split(" ")[0],
    }


NAMES = {"postgres": "PostgreSQL", "mariadb": "MariaDB", "sqlite": "SQLite"}
FLOOR = {"postgres": "`psql`", "mariadb": "`mariadb`", "sqlite": "`sqlite3`"}


def targets(runs):
    """The issue's targets beside this run's numbers: met or not, and why not."""
    rows, why = [], []

    def med(kind, measure, tool):
        return statistics.median(runs[kind]["results"][(measure, tool)])

    if "postgres" in runs:
        r = runs["postgres"]
        g = med("postgres", "apply", "godwit")
        ratio = g / med("postgres", "apply", "floor")
        ahead = all(g < med("postgres", "apply", t) for t in PEERS[1:])
        rows.append((f"apply {r['apply_n']} (PostgreSQL) at or under 1.00× `psql -f`", f"{ratio:.2f}×", ratio <= 1.0))
        rows.append(("apply: ahead of every peer", "yes" if ahead else "no", ahead))
        rows.append(("one round trip per migration, bookkeeping included (PostgreSQL)",
                     f"{r['trips']['godwit']:.1f}", r["trips"]["godwit"] <= 1.2))
        if ratio > 1.0:
            why.append("Apply: godwit sends each migration with its bookkeeping in one round trip where `psql` "
                       "sends five, and the rest is the server's work; what is left over the floor is its "
                       "start-up (the lock, the history tables, reading and hashing the files), within the "
                       "rounds' spread.")
        st = med("postgres", "status", "godwit")
        sx = med("postgres", "status", "sqlx")
        rows.append((f"status of {r['status_n']} (PostgreSQL, TLS) under 60 ms", f"{st * 1000:.0f} ms", st < 0.060))
        rows.append(("status: at least 4× faster than `sqlx migrate info`", f"{sx / st:.1f}×", sx / st >= 4))
        if st >= 0.060 or sx / st < 4:
            fl = med("postgres", "status", "floor")
            why.append(f"Status: `psql` alone, connecting and reading the history table, takes {fl * 1000:.0f} ms here; "
                       f"godwit takes {st / fl:.2f}× that. It also reads and hashes every migration file (SHA-384, as sqlx does: it is how an "
                       "applied migration edited afterwards is caught), about 50 ms for 10,000 files on these two "
                       "cores, while the database answers on another thread. Tried and kept: TCP_NODELAY (sqlx 0.9 "
                       "lost it; two 40 ms stalls in every TLS handshake), reading the files while the database "
                       "answers, one plain scan of the log instead of a grouping query, splitting only pending "
                       "files, buffered output. Not done: a checksum cache keyed by file size and timestamps, "
                       "which would skip reading unchanged files but could miss an edit that keeps both.")
    if "mariadb" in runs:
        t = runs["mariadb"]["trips"]["godwit"]
        rows.append(("at most two round trips per migration (MariaDB)", f"{t:.1f}", t <= 2.0))
        if t > 2.0:
            why.append("MariaDB: a DDL statement commits by itself, so godwit sends each statement on its own to "
                       "know which one failed, then the bookkeeping.")
    if "sqlite" in runs:
        st = statistics.median(runs["sqlite"]["results"]["godwit"])
        fl = statistics.median(runs["sqlite"]["results"]["floor"])
        rows.append((f"status of {runs['sqlite']['status_n']} (SQLite) under 60 ms", f"{st * 1000:.0f} ms", st < 0.060))
        if st >= 0.060:
            why.append(f"SQLite: the file holds every table the migrations made, and SQLite parses its whole "
                       f"schema before the first query; the sqlite3 shell alone takes {fl * 1000:.0f} ms.")
    app = runs.get("postgres", {}).get("app")
    if app:
        secs = statistics.median([x["seconds"] for x in app])
        pss = statistics.median([x["pss"] for x in app])
        rss = statistics.median([x["rss"] for x in app])
        rows.append(("app: Status shown under 1 s from launch", f"{secs:.2f} s", secs < 1.0))
        rows.append(("app: app and web view processes under 300 MB", f"{pss:.0f} MB PSS, {rss:.0f} MB RSS",
                     pss < 300))
        if pss >= 300 or secs >= 1.0:
            why.append("App: WebKitGTK starts its web and network processes before the page can load (the "
                       "row above), and holds most of the memory; the page then reads the status over IPC and "
                       "draws only the rows in view (a virtual list).")
    out = ["## Against the targets", "", "| target | this run | met |", "|---|---|---|"]
    out += [f"| {t} | {v} | {'yes' if ok else '**no**'} |" for t, v, ok in rows]
    if why:
        out += ["", "Where a target is missed:", ""] + [f"- {w}" for w in why]
    return out + [""]


def report(a, runs, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    servers = [k for k in runs if k != "sqlite"]
    fig, axes = plt.subplots(len(servers), 2, figsize=(10, 4 * len(servers)), squeeze=False)
    for row, kind in zip(axes, servers):
        scale = runs[kind]["scale"]
        ns = sorted({n for (_, n) in scale})
        for i, tool in enumerate(["floor"] + PEERS):
            # One colour per tool in every chart.
            style = {"marker": "o", "label": FLOOR[kind].strip("`") if tool == "floor" else tool, "color": f"C{i}"}
            row[0].plot(ns, [scale[(tool, n)][0] for n in ns], **style)
            if tool != "floor":
                row[1].plot(ns, [scale[(tool, n)][1] for n in ns], **style)
        for ax, title in zip(row, ["apply N migrations", "status of N applied"]):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_xlabel("N")
            ax.set_ylabel("seconds (median, whole process)")
            ax.set_title(f"{NAMES[kind]}: {title}")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
    fig.tight_layout()
    fig.savefig(out / "benchmarks.png", dpi=100)

    v = versions()
    lines = [
        "# Benchmarks beside the peers",
        "",
        "Written by `make bench-peers` (`bench/peers.py`); do not edit by hand. Whole processes as a person",
        "runs them, output to a pipe, interleaved tool by tool in each round; median (min–max) of",
        f"{a.rounds} rounds. Each migration creates a table with an index and inserts a row; each down",
        "drops it. The floor is the database's own client: the same SQL with one transaction per",
        "migration, and for status, a `SELECT` of the history table. Flyway is not reachable from this",
        "machine and is left out.",
        "",
        f"Machine: {platform.platform()}, {os.cpu_count()} cores. Servers on loopback, each tool with its",
        "own TLS default (the PostgreSQL server offers TLS; this MariaDB does not). Versions: "
        + "; ".join(f"{k} `{v[k]}`" for k in v) + ".",
    ]
    for kind in servers:
        r = runs[kind]
        res, trips = r["results"], r["trips"]
        server = Server(kind)
        floor = statistics.median(res[("apply", "floor")])
        lines += ["", f"## {NAMES[kind]} ({server.version()})", "",
                  f"### Apply {r['apply_n']} to an empty database", "",
                  f"| tool | seconds | × floor | statements sent per migration |", "|---|---|---|---|"]
        for tool in ["floor"] + PEERS:
            m, lo, hi = median_range(res[("apply", tool)])
            name = FLOOR[kind] + " (floor)" if tool == "floor" else tool
            lines.append(f"| {name} | {m:.2f} ({lo:.2f}–{hi:.2f}) | {m / floor:.2f}× | {trips[tool]:.1f} |")
        sfloor = statistics.median(res[("status", "floor")])
        sqlx = statistics.median(res[("status", "sqlx")])
        lines += ["", f"### Status of {r['status_n']} applied", "",
                  "| tool | seconds | × floor | godwit is faster by |", "|---|---|---|---|"]
        for tool in ["floor"] + PEERS:
            m, lo, hi = median_range(res[("status", tool)])
            name = FLOOR[kind] + " reading the table (floor)" if tool == "floor" else tool
            ahead = "" if tool in ("floor", "godwit") else f"{m / statistics.median(res[('status', 'godwit')]):.1f}×"
            lines.append(f"| {name} | {m:.3f} ({lo:.3f}–{hi:.3f}) | {m / sfloor:.1f}× | {ahead} |")
        lines += ["", f"### Roll back {r['back']} of {r['apply_n']}", "",
                  f"dbmate rolls back one migration per run: {r['back']} runs.", "", "| tool | seconds |", "|---|---|"]
        for tool in PEERS:
            m, lo, hi = median_range(res[("rollback", tool)])
            lines.append(f"| {tool} | {m:.2f} ({lo:.2f}–{hi:.2f}) |")
        scale = r["scale"]
        ns = sorted({n for (_, n) in scale})
        lines += ["", "### How each grows", "",
                  "| tool | " + " | ".join(f"apply {n}" for n in ns) + " | " + " | ".join(f"status {n}" for n in ns) + " |",
                  "|---|" + "---|" * (2 * len(ns))]
        for tool in ["floor"] + PEERS:
            cells = [f"{scale[(tool, n)][0]:.2f}" for n in ns]
            cells += [f"{scale[(tool, n)][1]:.3f}" if tool != "floor" else "–" for n in ns]
            lines.append(f"| {FLOOR[kind] if tool == 'floor' else tool} | " + " | ".join(cells) + " |")
        lines += ["", f"Statements are counted by a proxy on {r['trips_n']} migrations without TLS: each is a round",
                  "trip (PostgreSQL simple and extended query messages, MySQL COM_QUERY and COM_STMT_EXECUTE),",
                  "which may carry several SQL statements."]
    app = runs.get("postgres", {}).get("app")
    if app:
        secs = [x["seconds"] for x in app]
        rss = [x["rss"] for x in app]
        pss = [x["pss"] for x in app]
        procs = sorted(set(p for x in app for p in x["processes"]))
        m, lo, hi = median_range(secs)
        lines += ["", f"## The desktop app: Status of {runs['postgres']['status_n']} applied (PostgreSQL)", "",
                  "The release build, under Xvfb, started by WebDriver (tauri-driver) as the end-to-end tests",
                  "start it. Time from the app process starting to its Status screen saying every one is",
                  "applied (polled every 10 ms through WebDriver: an upper bound). Memory then, summed over",
                  f"the app and the processes under it ({', '.join(procs)}): resident (RSS, counting shared",
                  "libraries once per process) and proportional (PSS, shared pages split between them).", "",
                  "| measure | median (min–max) |", "|---|---|",
                  f"| launch to Status | {m:.2f} s ({lo:.2f}–{hi:.2f}) |",
                  "| of which, until the web page starts loading | {:.2f} s ({:.2f}–{:.2f}) |".format(
                      *median_range([x["page"] for x in app])),
                  "| RSS, summed | {:.0f} MB ({:.0f}–{:.0f}) |".format(*median_range(rss)),
                  "| PSS, summed | {:.0f} MB ({:.0f}–{:.0f}) |".format(*median_range(pss))]
    if "sqlite" in runs:
        r = runs["sqlite"]
        res = r["results"]
        sfloor = statistics.median(res["floor"])
        lines += ["", f"## SQLite: status of {r['status_n']} applied", "",
                  f"The file holds the {r['status_n']} tables the migrations made, and SQLite reads its whole schema",
                  "before the first query: the sqlite3 shell's own `SELECT` of the history table is the floor.", "",
                  "| tool | seconds | × floor | godwit is faster by |", "|---|---|---|---|"]
        for tool in ["floor", "godwit", "sqlx", "dbmate"]:
            m, lo, hi = median_range(res[tool])
            name = "`sqlite3` reading the table (floor)" if tool == "floor" else tool
            ahead = "" if tool in ("floor", "godwit") else f"{m / statistics.median(res['godwit']):.1f}×"
            lines.append(f"| {name} | {m:.3f} ({lo:.3f}–{hi:.3f}) | {m / sfloor:.1f}× | {ahead} |")
    lines += ["", "![apply and status against N](benchmarks.png)", ""] + targets(runs)
    (out / "BENCHMARKS.md").write_text("\n".join(lines))
    # The raw times, for anyone who wants more than medians.
    raw = {kind: {k: ({"|".join(map(str, kk)): vv for kk, vv in v.items()} if isinstance(v, dict) and k in ("results", "scale") and kind != "sqlite" else v)
                  for k, v in r.items()} for kind, r in runs.items()}
    (out / "benchmarks.json").write_text(json.dumps(raw, indent=1))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
