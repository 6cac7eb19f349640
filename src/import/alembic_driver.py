# Godwit's Alembic driver: run by the project's own Python, once a person agreed to it.
#
# Reads its request as JSON on stdin (so a scratch database's password is in no argument list or
# environment), runs the project's revisions through Alembic in one of two ways, and prints JSON
# after a marker (env.py may print too):
#   offline: Alembic's own `--sql` mode, each revision's SQL cut out of what it writes;
#   capture: every upgrade, then every downgrade, run on a scratch database Godwit made, with the
#            SQL each one sends recorded from SQLAlchemy's cursor events.
# env.py runs first, offline and with no revision to run, so its sys.path setup and its
# context.configure options are in effect; after that the driver's own environment runs the
# revisions, so the project's env.py never chooses a database. Any connection to a database other
# than the scratch one is refused before it is made.
import io, json, sys

request = json.loads(sys.stdin.read())

import alembic
from alembic import command
from alembic.config import Config
from alembic.runtime import migration as _migration
from alembic.runtime.environment import EnvironmentContext
from alembic.script import ScriptDirectory
import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Engine

for path in reversed(request.get("paths") or []):
    sys.path.insert(0, path)

MODE = request["mode"]
DIALECT_URL = request["dialect_url"]
SCRATCH = request.get("scratch")

# ---- no connection but the scratch database's -------------------------------------------------

# (the driver's connect arguments, the keys of its connect parameters that say where) once known
allowed = {"where": None}


def _refuse(dialect, conn_rec, cargs, cparams):
    want = allowed["where"]
    if want is None or list(cargs)[:1] != want[0] or any(cparams.get(k) != v for k, v in want[1].items()):
        raise RuntimeError("Godwit stopped a connection the project's code tried to open (%s): while "
                           "importing, only Godwit's scratch database is connected to" % dialect.name)


event.listen(Engine, "do_connect", _refuse)

# ---- each revision's step, marked and (for downgrades) allowed to fail ------------------------

current = {"step": None}
steps = []  # {"id", "upgrade", "text" | "statements", "outside", "reads", "error"}
output = io.StringIO()


def _reason(e):
    # A database error's own first line; SQLAlchemy's last line is a link to its docs.
    inner = getattr(e, "orig", None) or e
    lines = str(inner).strip().splitlines()
    return "%s: %s" % (type(inner).__name__, lines[0] if lines else "")


def _run_step(rev_id, is_upgrade, fn, args, kwargs):
    step = {"id": rev_id, "upgrade": is_upgrade, "statements": [], "outside": False, "reads": 0,
            "error": None, "start": output.tell()}
    current["step"] = step
    savepoint = None
    ran = False
    try:
        # A failed downgrade is rolled back to where it started, where DDL is transactional (on
        # MySQL it commits by itself, and a savepoint would not survive it).
        if MODE == "capture" and not is_upgrade and _migration_context().impl.transactional_ddl:
            savepoint = _migration_connection().begin_nested()
        fn(*args, **kwargs)
        ran = True
    except Exception as e:  # a downgrade that fails is reported, and the rest goes on
        if is_upgrade:
            raise
        if savepoint is not None:
            try:
                savepoint.rollback()
            except Exception:
                pass
        step["error"] = _reason(e)
    finally:
        current["step"] = None
        # An autocommit_block ends the savepoint with the transaction: nothing left to release.
        if ran and savepoint is not None and savepoint.is_active:
            try:
                savepoint.commit()
            except Exception:
                pass
        step["text"] = output.getvalue()[step.pop("start"):]
        steps.append(step)


_init = _migration.RevisionStep.__init__


def _step_init(self, *args, **kwargs):
    _init(self, *args, **kwargs)
    fn, rev_id, is_upgrade = self.migration_fn, self.revision.revision, self.is_upgrade

    def run(*a, **kw):
        return _run_step(rev_id, is_upgrade, fn, a, kw)

    run.__name__ = getattr(fn, "__name__", "upgrade" if is_upgrade else "downgrade")
    self.migration_fn = run


_migration.RevisionStep.__init__ = _step_init

_autocommit = _migration.MigrationContext.autocommit_block


def _autocommit_block(self):
    if current["step"] is not None:
        current["step"]["outside"] = True
    return _autocommit(self)


_migration.MigrationContext.autocommit_block = _autocommit_block

# ---- what capture records ---------------------------------------------------------------------


def _literal(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "X'%s'" % bytes(value).hex()
    return "'%s'" % str(value).replace("'", "''")


def _qmark(statement, params):
    # sqlite3 has no mogrify: its `?` marks outside quotes, each given its value as SQL.
    out, values, quote = [], list(params), None
    for ch in statement:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "?" and values:
            out.append(_literal(values.pop(0)))
            continue
        out.append(ch)
    return "".join(out)


def _render(cursor, statement, params, paramstyle):
    mogrify = getattr(cursor, "mogrify", None)
    if mogrify is None and type(cursor).__module__.startswith("psycopg"):
        # psycopg 3 binds on the server; its client-side cursor writes the statement out the same way.
        import psycopg
        mogrify = psycopg.ClientCursor(cursor.connection).mogrify
    if mogrify is not None and params is not None:
        text = mogrify(statement, params)
        return text.decode() if isinstance(text, bytes) else text
    if not params:
        return statement
    if paramstyle == "qmark" and isinstance(params, (list, tuple)):
        return _qmark(statement, params)
    raise RuntimeError("cannot write out a statement with parameters (%s): %s" % (paramstyle, statement[:200]))


def _before(conn, cursor, statement, params, context, executemany):
    step = current["step"]
    if step is None:
        return
    batches = params if executemany else [params]
    for p in batches:
        step["statements"].append(_render(cursor, statement, p, conn.dialect.paramstyle))


def _after(conn, cursor, statement, params, context, executemany):
    step = current["step"]
    if step is not None and cursor.description is not None:
        step["reads"] += 1


event.listen(Engine, "before_cursor_execute", _before)
event.listen(Engine, "after_cursor_execute", _after)

# ---- env.py, primed: its path setup and its options -------------------------------------------

recorded = {}
_configure = EnvironmentContext.configure
LEAVE_OUT = {"connection", "url", "dialect_name", "dialect_opts", "output_buffer", "as_sql", "literal_binds",
             "output_encoding", "starting_rev", "destination_rev", "tag", "template_args", "fn"}


def _record(self, *args, **kwargs):
    recorded.update({k: v for k, v in kwargs.items() if k not in LEAVE_OUT})
    kwargs.update(url=DIALECT_URL, connection=None, output_buffer=io.StringIO())
    return _configure(self, **kwargs)


def config(buffer=None, url=DIALECT_URL):
    cfg = Config(request["ini"] or None, output_buffer=buffer)
    cfg.set_main_option("script_location", request["location"])
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


env_error = None
script = ScriptDirectory.from_config(config())
EnvironmentContext.configure = _record
try:
    with EnvironmentContext(config(io.StringIO()), script, fn=lambda rev, ctx: [], as_sql=True):
        script.run_env()
except BaseException as e:  # an env.py that needs its application: its revisions may not
    env_error = _reason(e)
finally:
    EnvironmentContext.configure = _configure

# ---- the driver's own environment -------------------------------------------------------------

state = {"connection": None}


def _migration_connection():
    return state["connection"]


def _migration_context():
    from alembic import context
    return context.get_context()


def _own_env(self):
    from alembic import context
    opts = dict(recorded)
    if MODE == "offline":
        context.configure(url=DIALECT_URL, literal_binds=True, output_buffer=output, **opts)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = sqlalchemy.create_engine(_scratch_url(), poolclass=sqlalchemy.pool.NullPool)
    with engine.connect() as connection:
        state["connection"] = connection
        context.configure(connection=connection, **opts)
        with context.begin_transaction():
            context.run_migrations()
        state["connection"] = None


def _scratch_url():
    s = SCRATCH
    if s["driver"] == "sqlite":
        url = sqlalchemy.engine.URL.create("sqlite", database=s["database"])
        return _allow(url)
    driver = None
    for name, module in (("psycopg2", "psycopg2"), ("psycopg", "psycopg")) if s["driver"] == "postgresql" else \
            (("pymysql", "pymysql"), ("mysqldb", "MySQLdb"), ("mysqlconnector", "mysql.connector")):
        try:
            __import__(module)
            driver = name
            break
        except ImportError:
            pass
    if driver is None:
        raise SystemExit("@@godwit-no-driver@@ " + s["driver"])
    url = sqlalchemy.engine.URL.create(s["driver"] + "+" + driver, username=s["user"], password=s["password"],
                                       host=s["host"], port=s["port"], database=s["database"],
                                       query=s.get("query") or {})
    return _allow(url)


def _allow(url):
    engine = sqlalchemy.create_engine(url, poolclass=sqlalchemy.pool.NullPool)
    cargs, cparams = engine.dialect.create_connect_args(engine.url)
    where = ("host", "port", "dbname", "database", "db", "user", "unix_socket")
    allowed["where"] = (list(cargs)[:1], {k: v for k, v in cparams.items() if k in where})
    engine.dispose()
    return url


ScriptDirectory.run_env = _own_env

revisions = []
for r in script.walk_revisions():
    down = r.down_revision
    parents = [] if down is None else [down] if isinstance(down, str) else list(down)
    revisions.append({"revision": r.revision, "parents": parents, "doc": r.doc or "", "longdoc": r.longdoc or ""})
heads = list(script.get_heads())

if MODE == "offline":
    command.upgrade(config(output), "base:heads", sql=True)
    for h in heads:
        command.downgrade(config(output), h + ":base", sql=True)
else:
    # A revision that makes its own engine from the config's URL (to inspect, say) reaches the scratch
    # database, as under Alembic it reaches the one migrated.
    scratch = _scratch_url().render_as_string(hide_password=False)
    command.upgrade(config(output, scratch), "heads")
    command.downgrade(config(output, scratch), "base")

for s in steps:
    if MODE == "offline":
        del s["statements"]
    else:
        del s["text"]

sys.stdout.write("\n@@godwit-import@@\n" + json.dumps({
    "alembic": alembic.__version__, "revisions": revisions, "heads": heads, "steps": steps,
    "env_error": env_error}))
