//! `godwit import`: other tools' projects become Godwit files, and their history tables say what
//! is already applied. Alembic (from PyPI, in the venv `make test` installs) and dbmate (from npm)
//! are the real tools; Flyway's and golang-migrate's tables are made as those tools make them.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::TestDb;
use godwit::db::Dialect;
use godwit::import::Tool;
use godwit::migration::runner::{self, RunOptions};
use godwit::migration::source::Source;
use godwit::ops::{self, ImportOutcome, ImportRequest};
use godwit::{Problem, Result};

/// Imports `dir` into `t`'s migrations folder; with `history`, also reads the tool's table in `t`.
async fn import(tool: Tool, dir: &Path, t: &TestDb, history: bool, dry_run: bool) -> Result<ImportOutcome> {
    let s = t.session();
    let mut req = ImportRequest {
        tool,
        dir: dir.to_path_buf(),
        python: Some(alembic_python()),
        run_code: None,
        offline: false,
        env: Vec::new(),
        dry_run,
    };
    // Agreed to, as a person does once shown what runs (with a database: on a scratch one beside it).
    let against = req.scratch_server(history.then_some(&s));
    req.run_code = (tool == Tool::Alembic)
        .then(|| godwit::import::code_to_run(dir, Some(&alembic_python()), against, &[]).unwrap());
    ops::import(&req, &t.migrations(), Some(t.dialect), history.then_some((&s, None))).await
}

async fn up(t: &TestDb) -> Vec<i64> {
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let report = runner::up(db.as_mut(), &source, None, &RunOptions::default(), &mut |_| {})
        .await
        .unwrap()
        .into_result()
        .unwrap();
    db.close().await;
    report.done.iter().map(|d| d.version).collect()
}

/// The database made (a SQLite file does not exist until something connects).
async fn made(d: Dialect) -> TestDb {
    let t = TestDb::new(d).await;
    t.connect().await.close().await;
    t
}

async fn recorded(t: &TestDb) -> usize {
    let mut db = t.connect().await;
    let n = db.applied().await.unwrap().len();
    db.close().await;
    n
}

fn files(t: &TestDb) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(t.migrations()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into()).collect();
    names.sort();
    names
}

fn alembic_python() -> PathBuf {
    let p = std::env::var_os("GODWIT_TEST_ALEMBIC_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| dirs::home_dir().unwrap().join(".cache/godwit/tools/alembic/bin/python"));
    assert!(p.is_file(), "no Alembic venv at {}: `scripts/setup-test.sh` installs it", p.display());
    p
}

/// The test project copied out of the repository, so running Alembic writes nothing there.
fn alembic_project() -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    let from = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/import/alembic");
    for rel in ["alembic.ini", "migrations/env.py"] {
        std::fs::create_dir_all(to.path().join(rel).parent().unwrap()).unwrap();
        std::fs::copy(from.join(rel), to.path().join(rel)).unwrap();
    }
    std::fs::create_dir_all(to.path().join("migrations/versions")).unwrap();
    for e in std::fs::read_dir(from.join("migrations/versions")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.path().join("migrations/versions").join(e.file_name())).unwrap();
    }
    to
}

/// Alembic itself, online, on `t` (`target` as `alembic upgrade` takes it).
fn alembic_upgrade(project: &Path, t: &TestDb, target: &str) {
    let url = t.url.replacen("postgres://", "postgresql+psycopg2://", 1);
    let o = Command::new(alembic_python())
        .args(["-m", "alembic", "upgrade", target])
        .current_dir(project)
        .env("DATABASE_URL", url)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .output()
        .unwrap();
    assert!(o.status.success(), "alembic upgrade {target}: {}", String::from_utf8_lossy(&o.stderr));
}

/// The schema without Alembic's own table.
async fn user_schema(t: &TestDb) -> Vec<String> {
    t.schema().await.into_iter().filter(|l| !l.contains("alembic_version")).collect()
}

/// Imported files applied by Godwit make the schema Alembic makes; a database Alembic took
/// halfway gets its history recorded, and `up` then runs only the rest.
#[tokio::test]
async fn alembic_files_make_what_alembic_makes_and_a_halfway_database_runs_only_the_rest() {
    let project = alembic_project();
    let twin = TestDb::new(Dialect::Postgres).await;
    alembic_upgrade(project.path(), &twin, "heads");

    let t = TestDb::new(Dialect::Postgres).await;
    let out = import(Tool::Alembic, project.path(), &t, false, false).await.unwrap();
    let ids: Vec<&str> = out.import.migrations.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["a1", "b2", "d4", "c3"], "in the order Alembic runs them; the merge e5 has no SQL");
    assert_eq!(out.import.migrations[0].version, 20240201145745, "from its create date");
    let kinds: Vec<_> = out.import.notes.iter().map(|n| (n.kind, n.subject.as_str())).collect();
    assert!(kinds.contains(&(godwit::import::NoteKind::Merge, "e5")), "{kinds:?}");
    assert!(kinds.contains(&(godwit::import::NoteKind::Branch, "b2")), "{kinds:?}");
    assert_eq!(files(&t).len(), 8, "an up and a down each");
    assert!(!project.path().join("migrations/versions/__pycache__").exists(), "nothing written into the project");
    assert_eq!(up(&t).await.len(), 4);
    assert_eq!(user_schema(&t).await, user_schema(&twin).await);

    // Halfway: Alembic ran a1 and b2 there.
    let half = TestDb::new(Dialect::Postgres).await;
    alembic_upgrade(project.path(), &half, "b2");
    std::fs::remove_dir_all(half.migrations()).unwrap();
    let out = import(Tool::Alembic, project.path(), &half, true, false).await.unwrap();
    let h = out.history.unwrap();
    assert_eq!(h.record, [20240201145745, 20240203090000]);
    assert_eq!(h.pending.len(), 2);
    assert_eq!(half.log().await, ["import:ok:20240201145745", "import:ok:20240203090000"]);
    assert_eq!(up(&half).await, [20240205110000, 20240205110001], "only what Alembic had not run");
    assert_eq!(user_schema(&half).await, user_schema(&twin).await);
    assert_eq!(
        half.strings("SELECT version_num FROM alembic_version").await,
        ["b2"],
        "the old table is left as it was"
    );

    // Again: the files are there and the history recorded; nothing changes.
    let again = import(Tool::Alembic, project.path(), &half, true, false).await.unwrap();
    assert!(again.files.written.is_empty() && again.files.unchanged.len() == 8);
    let h = again.history.unwrap();
    assert!(h.record.is_empty() && h.already.len() == 2, "{h:?}");
}

/// A revision that reads the database cannot be rendered offline, as in Alembic itself: a clear
/// error that writes nothing. Imported into a database, the revisions run on a scratch database
/// beside it and what each sent is recorded: the files make what Alembic makes, rows included.
/// A Python without Alembic is a clear error too.
#[tokio::test]
async fn a_revision_that_reads_the_database_is_captured_on_a_scratch_database() {
    let project = alembic_project();
    std::fs::write(
        project.path().join("migrations/versions/f6_inbox.py"),
        "\"\"\"inbox tag\n\nRevision ID: f6\nRevises: e5\nCreate Date: 2024-03-01 10:00:00\n\"\"\"\n\
         from alembic import op\nimport sqlalchemy as sa\n\nrevision = 'f6'\ndown_revision = 'e5'\n\n\
         def upgrade():\n    n = op.get_bind().execute(sa.text('SELECT count(*) FROM tags')).scalar()\n\
         \x20   if n == 0:\n        op.execute(\"INSERT INTO tags (name) VALUES ('inbox')\")\n\n\
         def downgrade():\n    op.execute(\"DELETE FROM tags WHERE name = 'inbox'\")\n",
    )
    .unwrap();
    // A database with tables of its own but no alembic_version is refused before any code runs.
    let marker = project.path().join("env-py-ran");
    let env_py = project.path().join("migrations/env.py");
    let original = std::fs::read_to_string(&env_py).unwrap();
    std::fs::write(&env_py, format!("open({:?}, 'w').write('ran')\n{original}", marker.display().to_string())).unwrap();
    let other = TestDb::new(Dialect::Postgres).await;
    other.exec("CREATE TABLE kept (id INT)").await;
    let e = import(Tool::Alembic, project.path(), &other, true, false).await.unwrap_err();
    assert_eq!(e.problem, Problem::Input);
    assert!(!marker.exists(), "nothing ran");
    std::fs::write(&env_py, original).unwrap();

    let sqlite = TestDb::new(Dialect::Sqlite).await;
    let e = import(Tool::Alembic, project.path(), &sqlite, false, false).await.unwrap_err();
    assert_eq!(e.problem, Problem::Input);
    assert!(files(&sqlite).is_empty());

    let twin = TestDb::new(Dialect::Postgres).await;
    alembic_upgrade(project.path(), &twin, "heads");
    // Alembic ran the first revision here: recorded, and `up` runs the rest.
    let t = TestDb::new(Dialect::Postgres).await;
    alembic_upgrade(project.path(), &t, "a1");
    let out = import(Tool::Alembic, project.path(), &t, true, false).await.unwrap();
    assert!(out.import.notes.iter().any(|n| n.kind == godwit::import::NoteKind::ReadsDatabase && n.subject == "f6"));
    assert_eq!(out.history.unwrap().record.len(), 1);
    assert_eq!(up(&t).await.len(), 4);
    assert_eq!(user_schema(&t).await, user_schema(&twin).await);
    assert_eq!(t.strings("SELECT name FROM tags").await, twin.strings("SELECT name FROM tags").await);
    assert_eq!(t.strings("SELECT name FROM tags").await, ["inbox"]);
    // This process's scratch databases (other tests make their own meanwhile).
    let mine =
        format!("SELECT datname::text FROM pg_database WHERE datname LIKE 'godwit_scratch_{}_%'", std::process::id());
    let left = t.strings(&mine).await;
    assert!(left.is_empty(), "the scratch database was dropped: {left:?}");

    let python = PathBuf::from("/nonexistent/python");
    let req = ImportRequest {
        tool: Tool::Alembic,
        dir: project.path().to_path_buf(),
        run_code: Some(godwit::import::code_to_run(project.path(), Some(&python), None, &[]).unwrap()),
        python: Some(python),
        offline: false,
        env: Vec::new(),
        dry_run: false,
    };
    let e = ops::import(&req, &sqlite.migrations(), Some(Dialect::Sqlite), None).await.unwrap_err();
    assert_eq!(e.problem, Problem::Input);
    assert!(files(&sqlite).is_empty());
}

/// Mealie's shapes: a revision that reads a setting from the environment, and makes its own engine
/// from the config (given its URL by env.py) to inspect. The setting is seen
/// only once named (not Godwit's own variables, not unset ones); the revision's engine reaches the
/// scratch database, as under Alembic it reaches the migrated one.
#[tokio::test]
async fn a_project_that_needs_a_setting_and_makes_its_own_engine_imports_once_told() {
    let project = alembic_project();
    let env_py = project.path().join("migrations/env.py");
    let original = std::fs::read_to_string(&env_py).unwrap();
    let needs = original.replace(
        "\n\ndef run_migrations_offline",
        "\nconfig.set_main_option(\"sqlalchemy.url\", url)\n\ndef run_migrations_offline",
    );
    assert_ne!(needs, original);
    std::fs::write(&env_py, needs).unwrap();
    std::fs::write(
        project.path().join("migrations/versions/f6_legacy.py"),
        "\"\"\"legacy\n\nRevision ID: f6\nRevises: e5\n\"\"\"\n\
         import os\nfrom alembic import op\nimport sqlalchemy as sa\n\n\
         os.environ['CARGO_MANIFEST_DIR']  # the application's setting\n\
         revision = 'f6'\ndown_revision = 'e5'\n\n\
         def upgrade():\n    config = op.get_context().config\n\
         \x20   engine = sa.engine_from_config(config.get_section(config.config_ini_section), prefix='sqlalchemy.')\n\
         \x20   if not sa.inspect(engine).has_table('legacy'):\n\
         \x20       op.create_table('legacy', sa.Column('id', sa.Integer, primary_key=True))\n\n\
         def downgrade():\n    op.drop_table('legacy')\n",
    )
    .unwrap();
    let twin = TestDb::new(Dialect::Postgres).await;
    alembic_upgrade(project.path(), &twin, "heads");

    let t = TestDb::new(Dialect::Postgres).await;
    let s = t.session();
    let python = alembic_python();
    let told = |env: &[&str]| {
        let env: Vec<String> = env.iter().map(|v| v.to_string()).collect();
        let mut req = ImportRequest {
            tool: Tool::Alembic,
            dir: project.path().to_path_buf(),
            python: Some(python.clone()),
            run_code: None,
            offline: false,
            env: env.clone(),
            dry_run: false,
        };
        req.run_code =
            godwit::import::code_to_run(project.path(), Some(&python), req.scratch_server(Some(&s)), &env).ok();
        req
    };
    let e = ops::import(&told(&[]), &t.migrations(), Some(t.dialect), Some((&s, None))).await.unwrap_err();
    assert_eq!(e.problem, Problem::Input);
    assert!(matches!(&e.remedies[..], [godwit::error::Remedy::PassEnv]), "{:?}", e.remedies);
    assert!(e.message.contains("KeyError"), "the exception's own line: {}", e.message);
    assert!(files(&t).is_empty());
    assert_eq!(recorded(&t).await, 0);
    for refused in ["PGPASSWORD", "DATABASE_URL", "GODWIT_TEST_SURELY_UNSET"] {
        let e = godwit::import::code_to_run(project.path(), Some(&python), None, &[refused.to_string()]).unwrap_err();
        assert_eq!(e.problem, Problem::Input, "{refused}");
    }

    let out =
        ops::import(&told(&["CARGO_MANIFEST_DIR"]), &t.migrations(), Some(t.dialect), Some((&s, None))).await.unwrap();
    assert!(out.import.notes.iter().any(|n| n.kind == godwit::import::NoteKind::ReadsDatabase && n.subject == "f6"));
    assert_eq!(up(&t).await.len(), 5);
    assert_eq!(user_schema(&t).await, user_schema(&twin).await);
    assert!(user_schema(&t).await.iter().any(|l| l.contains("legacy")));
}

/// A Flask-Migrate layout (alembic.ini with no script_location beside env.py, an env.py that needs
/// the application) whose env.py puts a folder on sys.path a revision imports from; one downgrade
/// that cannot run and one that does nothing. Offline and captured alike: the rest imports, the
/// failed down is named in its file, the empty one stays empty. Captured on each database, with its
/// own driver (psycopg2, PyMySQL, sqlite3).
async fn a_flask_migrate_project_with_a_failing_and_an_empty_downgrade_imports(d: Dialect) {
    let project = tempfile::tempdir().unwrap();
    let at = |rel: &str, body: &str| {
        let p = project.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    };
    at("migrations/alembic.ini", "[alembic]\n# Flask-Migrate passes the script location in code\n");
    at(
        "migrations/env.py",
        "import os, sys\nsys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'app_lib'))\n\
         from flask import current_app  # the application, which is not there\n",
    );
    at("app_lib/names.py", "TABLE = 'people'\n");
    let revision = |id: &str, parent: &str, up: &str, down: &str| {
        format!(
            "\"\"\"{id}\n\nRevision ID: {id}\n\"\"\"\nfrom alembic import op\nimport sqlalchemy as sa\nfrom names import TABLE\n\n\
             revision = '{id}'\ndown_revision = {parent}\n\ndef upgrade():\n    {up}\n\ndef downgrade():\n    {down}\n"
        )
    };
    at(
        "migrations/versions/r1.py",
        &revision(
            "r1",
            "None",
            "op.create_table(TABLE, sa.Column('id', sa.Integer(), primary_key=True))",
            "op.drop_table(TABLE)",
        ),
    );
    at(
        "migrations/versions/r2.py",
        &revision(
            "r2",
            "'r1'",
            "op.add_column(TABLE, sa.Column('flag', sa.Boolean()))",
            "op.create_table('old', sa.Column('x', sa.Integer()), sa.Column('x', sa.Integer()))",
        ),
    );
    at("migrations/versions/r3.py", &revision("r3", "'r2'", "op.create_index('people_flag', TABLE, ['flag'])", "pass"));
    // A downgrade only a database refuses (rendered offline, it is just SQL).
    at(
        "migrations/versions/r4.py",
        &revision(
            "r4",
            "'r3'",
            "op.create_table('extra', sa.Column('id', sa.Integer()))",
            "op.drop_table('no_such_table')",
        ),
    );
    let dir = project.path().join("migrations");
    for history in [false, true] {
        let t = made(d).await;
        if history {
            // Alembic's table, made and nothing run yet: recorded as nothing applied.
            t.exec("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)").await;
        }
        let out = import(Tool::Alembic, &dir, &t, history, false).await.unwrap();
        let kinds: Vec<_> = out.import.notes.iter().map(|n| (n.kind, n.subject.as_str())).collect();
        assert!(kinds.contains(&(godwit::import::NoteKind::EnvSkipped, "env.py")), "{kinds:?}");
        assert!(kinds.contains(&(godwit::import::NoteKind::Irreversible, "revision r2")), "{kinds:?}");
        assert!(kinds.contains(&(godwit::import::NoteKind::EmptyDown, "revision r3")), "{kinds:?}");
        let r4: &[&str] = if history { &["4_r4.sql"] } else { &["4_r4.down.sql", "4_r4.up.sql"] };
        let want: Vec<&str> = ["1_r1.down.sql", "1_r1.up.sql", "2_r2.sql", "3_r3.down.sql", "3_r3.up.sql"]
            .into_iter()
            .chain(r4.iter().copied())
            .collect();
        assert_eq!(files(&t), want, "{history}");
        let r2 = std::fs::read_to_string(t.migrations().join("2_r2.sql")).unwrap();
        assert!(r2.contains("-- No down: its downgrade failed"), "{r2}");
        // Captured, r2's downgrade ran after r4's had failed above it: its reason says so.
        assert_eq!(r2.contains("after the downgrade of r4 had failed"), history, "{r2}");
        let r1 = std::fs::read_to_string(t.migrations().join("1_r1.down.sql")).unwrap();
        assert!(r1.contains("DROP TABLE people;"), "{r1}");
        assert_eq!(up(&t).await, [1, 2, 3, 4]);
        assert!(t.schema().await.iter().any(|l| l.contains("people_flag")), "the index is there");
    }
}

fn write_all(dir: &Path, files: &[(&str, &str)]) {
    for (name, body) in files {
        std::fs::create_dir_all(dir.join(name).parent().unwrap()).unwrap();
        std::fs::write(dir.join(name), body).unwrap();
    }
}

fn dbmate() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("node_modules/.bin/dbmate");
    assert!(p.exists(), "no dbmate at {}: `npm ci` installs it", p.display());
    p
}

/// dbmate's URL for a test database.
fn dbmate_url(t: &TestDb) -> String {
    match t.dialect {
        Dialect::Sqlite => format!("sqlite:{}", t.sqlite_path().display()),
        _ => t.url.clone(),
    }
}

/// dbmate itself applies the first two migrations; the import records those two and `up` runs
/// the third. Its `transaction:false` becomes `-- no-transaction`.
async fn dbmate_history_is_adopted(d: Dialect) {
    let t = TestDb::new(d).await;
    let dir = tempfile::tempdir().unwrap();
    let all = [
        (
            "20240101000000_create_person.sql",
            "-- migrate:up\nCREATE TABLE person (id INT PRIMARY KEY, name VARCHAR(100));\n\n-- migrate:down\nDROP TABLE person;\n",
        ),
        (
            "20240102000000_add_email.sql",
            "-- migrate:up transaction:false\nALTER TABLE person ADD email VARCHAR(200);\n-- migrate:down\nALTER TABLE person DROP COLUMN email;\n",
        ),
        (
            "20240103000000_seed.sql",
            "-- migrate:up\nINSERT INTO person (id, name) VALUES (1, 'Ada');\n-- migrate:down\n",
        ),
    ];
    write_all(dir.path(), &all[..2]);
    let o = Command::new(dbmate())
        .args([
            "--url",
            &dbmate_url(&t),
            "--migrations-dir",
            &dir.path().display().to_string(),
            "--no-dump-schema",
            "up",
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "dbmate up: {}", String::from_utf8_lossy(&o.stderr));
    write_all(dir.path(), &all[2..]);

    let out = import(Tool::Dbmate, dir.path(), &t, true, false).await.unwrap();
    assert_eq!(out.history.as_ref().unwrap().record, [20240101000000, 20240102000000]);
    let email = std::fs::read_to_string(t.migrations().join("20240102000000_add_email.up.sql")).unwrap();
    assert!(email.starts_with("-- no-transaction\n"), "{email}");
    assert!(files(&t).contains(&"20240103000000_seed.down.sql".to_string()), "an empty down stays one");
    assert!(out.import.notes.iter().any(|n| n.kind == godwit::import::NoteKind::EmptyDown));
    assert_eq!(up(&t).await, [20240103000000]);
    assert_eq!(t.strings("SELECT name FROM person").await, ["Ada"]);
    assert_eq!(t.history().await.len(), 3);
    // As dbmate does, rolling back past it changes nothing; lint says it undoes nothing.
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let back = runner::down(
        db.as_mut(),
        &source,
        godwit::migration::plan::DownTarget::Steps(1),
        &RunOptions::default(),
        &mut |_| {},
    )
    .await
    .unwrap()
    .into_result()
    .unwrap();
    db.close().await;
    assert_eq!(back.done.iter().map(|d| d.version).collect::<Vec<_>>(), [20240103000000]);
    assert_eq!(t.strings("SELECT name FROM person").await, ["Ada"]);
    let seed = source.migrations.iter().find(|m| m.version == 20240103000000).unwrap();
    let report = godwit::lint::lint(&[seed], &[], &t.migrations(), d, &Default::default());
    let rules: Vec<String> = report.findings.into_iter().map(|f| f.rule).collect();
    assert!(rules.contains(&"empty-down".to_string()), "{rules:?}");
}

/// Flyway's table as Flyway makes it: a baseline at 1, then 1.1 run, then 2 failed. The failure
/// stops the import before anything is written; once settled, the versions up to 1.1 are
/// recorded (renumbered 1, 2) and 3 stays pending.
async fn flyway_history_is_adopted_and_a_failure_is_not_papered_over(d: Dialect) {
    let t = made(d).await;
    let dir = tempfile::tempdir().unwrap();
    write_all(
        dir.path(),
        &[
            ("V1__Create_person.sql", "CREATE TABLE person (id INT PRIMARY KEY, name VARCHAR(100));"),
            ("U1__Create_person.sql", "DROP TABLE person;"),
            ("V1_1__Add_email.sql", "ALTER TABLE person ADD email VARCHAR(200);"),
            ("V2__Add_phone.sql", "ALTER TABLE person ADD phone VARCHAR(20);"),
            ("R__Person_view.sql", "CREATE VIEW people AS SELECT * FROM person;"),
        ],
    );
    let boolean = if d == Dialect::MySql { "TINYINT(1)" } else { "BOOLEAN" };
    t.exec(&format!(
        "CREATE TABLE flyway_schema_history (installed_rank INT NOT NULL PRIMARY KEY, version VARCHAR(50), \
         description VARCHAR(200) NOT NULL, type VARCHAR(20) NOT NULL, script VARCHAR(1000) NOT NULL, checksum INT, \
         installed_by VARCHAR(100) NOT NULL, installed_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         execution_time INT NOT NULL, success {boolean} NOT NULL);
         CREATE TABLE person (id INT PRIMARY KEY, name VARCHAR(100), email VARCHAR(200));
         INSERT INTO flyway_schema_history (installed_rank, version, description, type, script, installed_by, \
         execution_time, success) VALUES
         (1, '1', '<< Flyway Baseline >>', 'BASELINE', '<< Flyway Baseline >>', 'ci', 0, TRUE),
         (2, '1.1', 'Add email', 'SQL', 'V1_1__Add_email.sql', 'ci', 5, TRUE),
         (3, NULL, 'Person view', 'SQL', 'R__Person_view.sql', 'ci', 5, TRUE),
         (4, '2', 'Add phone', 'SQL', 'V2__Add_phone.sql', 'ci', 5, FALSE);"
    ))
    .await;
    let e = import(Tool::Flyway, dir.path(), &t, true, false).await.unwrap_err();
    assert!(matches!(e.problem, Problem::Dirty { version: 3 }), "{e:?}");
    assert!(files(&t).is_empty(), "nothing written");

    t.exec("DELETE FROM flyway_schema_history WHERE installed_rank = 4").await;
    let out = import(Tool::Flyway, dir.path(), &t, true, false).await.unwrap();
    assert!(out.import.notes.iter().any(|n| n.subject == "R__Person_view.sql"));
    let h = out.history.unwrap();
    assert_eq!((h.record, h.pending), (vec![1, 2], vec![3]));
    assert_eq!(up(&t).await, [3]);
    assert_eq!(
        t.strings("SELECT version FROM flyway_schema_history WHERE version IS NOT NULL ORDER BY installed_rank").await,
        ["1", "1.1"]
    );
}

/// golang-migrate's one-row table: version 2 means 1 and 2 ran; dirty stops the import.
async fn golang_migrate_history_is_adopted_and_dirty_is_refused(d: Dialect) {
    let t = made(d).await;
    let dir = tempfile::tempdir().unwrap();
    write_all(
        dir.path(),
        &[
            ("000001_create_person.up.sql", "CREATE TABLE person (id INT PRIMARY KEY);"),
            ("000001_create_person.down.sql", "DROP TABLE person;"),
            ("000002_add_name.up.sql", "ALTER TABLE person ADD name VARCHAR(100);"),
            ("000002_add_name.down.sql", "ALTER TABLE person DROP COLUMN name;"),
            ("000003_add_email.up.sql", "ALTER TABLE person ADD email VARCHAR(100);"),
            ("000003_add_email.down.sql", "ALTER TABLE person DROP COLUMN email;"),
        ],
    );
    let boolean = if d == Dialect::MySql { "TINYINT(1)" } else { "BOOLEAN" };
    t.exec(&format!(
        "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, dirty {boolean} NOT NULL);
         CREATE TABLE person (id INT PRIMARY KEY, name VARCHAR(100));
         INSERT INTO schema_migrations (version, dirty) VALUES (2, TRUE);"
    ))
    .await;
    let e = import(Tool::GolangMigrate, dir.path(), &t, true, false).await.unwrap_err();
    assert!(matches!(e.problem, Problem::Dirty { version: 2 }), "{e:?}");
    assert!(files(&t).is_empty());

    t.exec("UPDATE schema_migrations SET dirty = FALSE").await;
    let dry = import(Tool::GolangMigrate, dir.path(), &t, true, true).await.unwrap();
    assert_eq!(dry.history.unwrap().record, [1, 2]);
    assert!(files(&t).is_empty() && recorded(&t).await == 0, "a dry run changes nothing");
    let out = import(Tool::GolangMigrate, dir.path(), &t, true, false).await.unwrap();
    assert_eq!(out.history.unwrap().record, [1, 2]);
    assert_eq!(up(&t).await, [3]);
}

/// Diesel's table lists every version that ran, as its folder name without dashes. Its
/// `00000000000000` setup migration (not a Godwit version) becomes version 1, the others keep theirs;
/// importing again changes nothing; `up` runs only what Diesel had not.
async fn diesel_history_is_adopted(d: Dialect) {
    let t = made(d).await;
    let dir = tempfile::tempdir().unwrap();
    write_all(
        dir.path(),
        &[
            ("00000000000000_diesel_initial_setup/up.sql", "CREATE TABLE setup (id INT PRIMARY KEY);"),
            ("00000000000000_diesel_initial_setup/down.sql", "DROP TABLE setup;"),
            ("2019-02-26-002946_create_person/up.sql", "CREATE TABLE person (id INT PRIMARY KEY);"),
            ("2019-02-26-002946_create_person/down.sql", "DROP TABLE person;"),
            ("2019-03-01-000000_add_name/up.sql", "ALTER TABLE person ADD name VARCHAR(100);"),
            ("2019-04-01-000000_add_email/up.sql", "ALTER TABLE person ADD email VARCHAR(100);"),
            ("2019-04-01-000000_add_email/down.sql", "ALTER TABLE person DROP COLUMN email;"),
        ],
    );
    t.exec(
        "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, \
         run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
         CREATE TABLE setup (id INT PRIMARY KEY); CREATE TABLE person (id INT PRIMARY KEY, name VARCHAR(100));
         INSERT INTO __diesel_schema_migrations (version) VALUES ('00000000000000'), ('20190226002946'), ('20190301000000');",
    )
    .await;
    let out = import(Tool::Diesel, dir.path(), &t, true, false).await.unwrap();
    let versions: Vec<i64> = out.import.migrations.iter().map(|m| m.version).collect();
    assert_eq!(versions, [1, 20190226002946, 20190301000000, 20190401000000]);
    assert!(
        out.import
            .notes
            .iter()
            .any(|n| n.kind == godwit::import::NoteKind::Renumbered && n.subject == "00000000000000")
    );
    assert!(out.import.notes.iter().any(|n| n.kind == godwit::import::NoteKind::Irreversible));
    assert_eq!(out.history.unwrap().record, [1, 20190226002946, 20190301000000]);
    let before = files(&t);
    assert!(before.contains(&"20190301000000_add_name.sql".to_string()), "{before:?}");
    let again = import(Tool::Diesel, dir.path(), &t, true, false).await.unwrap();
    assert!(again.files.written.is_empty());
    assert_eq!(files(&t), before);
    assert_eq!(up(&t).await, [20190401000000]);
    // Versions Diesel ran that the folder does not have: refused, nothing recorded.
    let other = made(d).await;
    other
        .exec(
            "CREATE TABLE __diesel_schema_migrations (version VARCHAR(50) PRIMARY KEY NOT NULL, \
             run_on TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP);
             INSERT INTO __diesel_schema_migrations (version) VALUES ('20180101000000');",
        )
        .await;
    assert_eq!(import(Tool::Diesel, dir.path(), &other, true, false).await.unwrap_err().problem, Problem::Input);
    assert_eq!(recorded(&other).await, 0);
    // Diesel's folder as the project's migrations folder would hold both: refused, nothing written.
    write_all(&other.migrations(), &[("2019-02-26-002946_create_person/up.sql", "CREATE TABLE person (id INT);")]);
    let e = import(Tool::Diesel, &other.migrations(), &other, false, false).await.unwrap_err();
    assert_eq!(e.problem, Problem::Input);
    assert_eq!(files(&other), ["2019-02-26-002946_create_person"]);
}

/// Flyway runs a script holding `CREATE INDEX CONCURRENTLY` outside a transaction by itself, with
/// no `.conf`; so does the imported file. An empty golang-migrate down stays an empty down.
#[tokio::test]
async fn what_the_tools_ran_outside_a_transaction_or_stepped_over_runs_so_here() {
    let t = TestDb::new(Dialect::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    write_all(
        dir.path(),
        &[("V1__t.sql", "CREATE TABLE t (x int);"), ("V2__i.sql", "CREATE INDEX CONCURRENTLY t_x ON t (x);")],
    );
    let out = import(Tool::Flyway, dir.path(), &t, false, false).await.unwrap();
    assert!(
        out.import.notes.iter().any(|n| n.kind == godwit::import::NoteKind::NoTransaction && n.subject == "V2__i.sql")
    );
    assert_eq!(up(&t).await, [1, 2]);
    assert_eq!(t.strings("SELECT indexname::text FROM pg_indexes WHERE tablename = 't'").await, ["t_x"]);

    let g = TestDb::new(Dialect::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    write_all(dir.path(), &[("1_t.up.sql", "CREATE TABLE t (x int);"), ("1_t.down.sql", "")]);
    import(Tool::GolangMigrate, dir.path(), &g, false, false).await.unwrap();
    assert_eq!(files(&g), ["1_t.down.sql", "1_t.up.sql"]);
}

/// A golang-migrate folder that is the project's migrations folder is used as it is: nothing is
/// written, and what ran is recorded with the files' own checksums, so `up` and `check` agree.
#[tokio::test]
async fn a_golang_migrate_folder_is_used_in_place() {
    let t = made(Dialect::Sqlite).await;
    write_all(
        &t.migrations(),
        &[
            ("000001_create_person.up.sql", "CREATE TABLE person (id INT PRIMARY KEY);"),
            ("000001_create_person.down.sql", "DROP TABLE person;"),
            ("000002_add_name.up.sql", "ALTER TABLE person ADD name VARCHAR(100);"),
        ],
    );
    t.exec(
        "CREATE TABLE schema_migrations (version BIGINT NOT NULL PRIMARY KEY, dirty BOOLEAN NOT NULL);
         CREATE TABLE person (id INT PRIMARY KEY); INSERT INTO schema_migrations VALUES (1, FALSE);",
    )
    .await;
    let before = files(&t);
    let out = import(Tool::GolangMigrate, &t.migrations(), &t, true, false).await.unwrap();
    assert!(out.files.written.is_empty());
    assert_eq!(files(&t), before);
    assert_eq!(out.history.unwrap().record, [1]);
    assert_eq!(up(&t).await, [2], "the recorded checksum is the file's own");
}

on_each_db!(
    a_flask_migrate_project_with_a_failing_and_an_empty_downgrade_imports,
    dbmate_history_is_adopted,
    flyway_history_is_adopted_and_a_failure_is_not_papered_over,
    golang_migrate_history_is_adopted_and_dirty_is_refused,
    diesel_history_is_adopted
);

/// A file already in the folder with other content, or another migration holding an imported
/// version, stops the import before anything is written; a history table another tool made is
/// refused by name.
#[tokio::test]
async fn conflicts_and_strange_tables_change_nothing() {
    let t = made(Dialect::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    write_all(dir.path(), &[("1_a.up.sql", "CREATE TABLE a (id INT);"), ("2_b.up.sql", "CREATE TABLE b (id INT);")]);
    t.write("2_something_else.sql", "SELECT 1;");
    let e = import(Tool::GolangMigrate, dir.path(), &t, false, false).await.unwrap_err();
    assert_eq!(e.problem, Problem::Input);
    assert_eq!(files(&t), ["2_something_else.sql"]);

    std::fs::remove_file(t.migrations().join("2_something_else.sql")).unwrap();
    t.write("2_b.sql", "-- edited\n");
    assert_eq!(import(Tool::GolangMigrate, dir.path(), &t, false, false).await.unwrap_err().problem, Problem::Input);
    assert_eq!(files(&t), ["2_b.sql"]);

    // An empty database is a new one: nothing ran there, all is pending.
    std::fs::remove_file(t.migrations().join("2_b.sql")).unwrap();
    let fresh = import(Tool::GolangMigrate, dir.path(), &t, true, false).await.unwrap();
    assert_eq!(fresh.history.unwrap().pending, [1, 2]);
    for f in files(&t) {
        std::fs::remove_file(t.migrations().join(f)).unwrap();
    }
    // Tables of its own but no golang-migrate table; then dbmate's table where golang-migrate's is expected.
    t.exec("CREATE TABLE kept (id INT)").await;
    assert_eq!(import(Tool::GolangMigrate, dir.path(), &t, true, false).await.unwrap_err().problem, Problem::Input);
    t.exec("CREATE TABLE schema_migrations (version VARCHAR(128) PRIMARY KEY); INSERT INTO schema_migrations VALUES ('1');")
        .await;
    assert_eq!(import(Tool::GolangMigrate, dir.path(), &t, true, false).await.unwrap_err().problem, Problem::Input);
    assert!(files(&t).is_empty());
}

/// A second import after the other tool's folder grew keeps what the first wrote and adds the
/// new migration after it; a file name cannot break out of its comment line into the SQL.
#[tokio::test]
async fn a_grown_folder_imports_again_without_duplicates() {
    let t = made(Dialect::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    write_all(
        dir.path(),
        &[
            ("V1__one.sql", "CREATE TABLE one (id INT);"),
            ("V1_1__one_and_a_bit.sql", "CREATE TABLE bit (id INT);"),
            ("V2__two.sql", "CREATE TABLE two (id INT);"),
            ("U2__x\nDROP TABLE one;\n.sql", "DROP TABLE two;"),
        ],
    );
    let first = import(Tool::Flyway, dir.path(), &t, false, false).await.unwrap();
    assert_eq!(first.import.migrations.iter().map(|m| m.version).collect::<Vec<_>>(), [1, 2, 3]);
    let two = std::fs::read_to_string(t.migrations().join("3_two.up.sql")).unwrap();
    assert!(!two.lines().any(|l| l.starts_with("DROP")), "{two}");
    write_all(dir.path(), &[("V1_2__mid.sql", "CREATE TABLE mid (id INT);")]);
    let again = import(Tool::Flyway, dir.path(), &t, false, false).await.unwrap();
    assert_eq!(again.files.written, ["4_mid.sql"]);
    let ids: Vec<(i64, &str)> = again.import.migrations.iter().map(|m| (m.version, m.id.as_str())).collect();
    assert_eq!(ids, [(1, "1"), (2, "1.1"), (4, "1.2"), (3, "2")]);
    assert_eq!(files(&t).len(), 5);
}

/// The CLI says what it wrote and what it recorded, and a dry run says it changed nothing.
#[tokio::test]
async fn the_cli_words_an_import() {
    let t = TestDb::new(Dialect::Postgres).await;
    let project = alembic_project();
    alembic_upgrade(project.path(), &t, "a1");
    let run = |extra: &[&str]| {
        let o = Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .args(["--url", &t.url, "--source", "migrations", "import", "alembic"])
            .arg(project.path())
            .args(["--python", &alembic_python().display().to_string(), "--run-code"])
            .args(extra)
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let (code, out) = run(&["--dry-run"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(
        out.contains("Would import 4 Alembic migrations")
            && out.contains("8 files to write")
            && out.contains("nothing was written or recorded"),
        "{out}"
    );
    assert!(files(&t).is_empty());
    let (code, out) = run(&[]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("recorded 1 as applied") && out.contains("3 pending there"), "{out}");
}

/// A session on `t` whose migrations folder is `dir`'s (environments of one project).
fn session_in(t: &TestDb, dir: &TestDb) -> ops::Session {
    ops::Session { ws: godwit::project::Workspace::adhoc(t.target(), dir.migrations()), ..t.session() }
}

async fn baseline(s: &ops::Session, dry_run: bool) -> Result<godwit::import::baseline::BaselineOutcome> {
    ops::baseline(s, None, dry_run, None, &Default::default()).await
}

/// A database no migrations made: its baseline is written, proven and recorded; a second one with
/// the same schema records the same file; one that differs, one with history and an empty one are
/// refused, changing nothing; a new database gets the schema from the file.
async fn baseline_starts_a_project_from_a_database(d: Dialect) {
    let schema = "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100) NOT NULL);
         CREATE TABLE orders (id INT PRIMARY KEY, user_id INT REFERENCES users (id));
         CREATE INDEX orders_user ON orders (user_id);
         CREATE VIEW emails AS SELECT email FROM users;";
    let prod = made(d).await;
    prod.exec(schema).await;
    std::fs::remove_dir(prod.migrations()).unwrap();

    let dry = baseline(&prod.session(), true).await.unwrap();
    assert!(dry.written && !dry.recorded && dry.sql.contains("orders_user"));
    assert!(!prod.migrations().exists() && recorded(&prod).await == 0, "a dry run changes nothing");
    let out = baseline(&prod.session(), false).await.unwrap();
    assert!(out.written && out.recorded);
    assert!(
        !out.sql.to_uppercase().contains("DROP TABLE"),
        "run on a database that has the tables, it must empty none"
    );
    assert_eq!(files(&prod), std::slice::from_ref(&out.file));
    assert_eq!(prod.log().await, [format!("baseline:ok:{}", out.version)]);
    assert!(up(&prod).await.is_empty());
    let e = baseline(&prod.session(), false).await.unwrap_err();
    assert_eq!(e.problem, Problem::Input, "it has history now");

    let staging = made(d).await;
    staging.exec(schema).await;
    let again = baseline(&session_in(&staging, &prod), false).await.unwrap();
    assert!(!again.written && again.recorded && again.version == out.version);
    assert_eq!(files(&prod).len(), 1);

    let other = made(d).await;
    other.exec(schema).await;
    other.exec("CREATE INDEX users_email ON users (email);").await;
    let e = baseline(&session_in(&other, &prod), false).await.unwrap_err();
    assert_eq!(e.problem, Problem::SchemaMismatch);
    assert_eq!(recorded(&other).await, 0);

    let empty = made(d).await;
    assert_eq!(baseline(&session_in(&empty, &prod), false).await.unwrap_err().problem, Problem::Input);

    let fresh = made(d).await;
    let source = Source::load(&prod.migrations()).unwrap();
    let mut db = fresh.connect().await;
    runner::up(db.as_mut(), &source, None, &RunOptions::default(), &mut |_| {}).await.unwrap().into_result().unwrap();
    db.close().await;
    assert_eq!(fresh.schema().await, prod.schema().await);
}

/// A database another tool manages is imported, not baselined.
#[tokio::test]
async fn baseline_points_a_managed_database_to_import() {
    let t = made(Dialect::Sqlite).await;
    t.exec("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY); CREATE TABLE a (id INT);").await;
    assert_eq!(baseline(&t.session(), false).await.unwrap_err().problem, Problem::Input);
    assert!(files(&t).is_empty());
}

mod baseline_on {
    use super::*;
    #[tokio::test]
    async fn postgres() {
        baseline_starts_a_project_from_a_database(Dialect::Postgres).await
    }
    #[tokio::test]
    async fn mariadb() {
        baseline_starts_a_project_from_a_database(Dialect::MySql).await
    }
    #[tokio::test]
    async fn sqlite() {
        baseline_starts_a_project_from_a_database(Dialect::Sqlite).await
    }
}

fn headed(t: &TestDb, v: i64, name: &str, parent: &str, sql: &str) {
    t.write(
        &format!("{v}_{name}.up.sql"),
        &format!("-- {name}\n--\n-- Revision ID: {v}\n-- Revises: {parent}\n\n{sql}\n"),
    );
    t.write(&format!("{v}_{name}.down.sql"), &format!("DROP TABLE {name};\n"));
}

async fn apply_to(t: &TestDb, dir: &TestDb, to: i64) {
    let source = Source::load(&dir.migrations()).unwrap();
    let mut db = t.connect().await;
    runner::up(db.as_mut(), &source, Some(to), &RunOptions::default(), &mut |_| {})
        .await
        .unwrap()
        .into_result()
        .unwrap();
    db.close().await;
}

/// Two branches each added a migration after 1: the one no environment applied moves after the
/// newest, and `check` is clean again. One applied somewhere, or an environment that cannot be
/// read, stops it before anything is renamed (the latter can be skipped by name).
async fn rebase_puts_a_conflict_in_a_line(d: Dialect) {
    let dev = made(d).await;
    let staging = made(d).await;
    headed(&dev, 1, "base", "", "CREATE TABLE base (id INT);");
    headed(&dev, 2, "ours", "1", "CREATE TABLE ours (id INT);");
    headed(&dev, 3, "theirs", "1", "CREATE TABLE theirs (id INT);");
    apply_to(&dev, &dev, 2).await;
    apply_to(&staging, &dev, 1).await;
    let envs = || vec![("dev".to_string(), Ok(dev.session())), ("staging".to_string(), Ok(session_in(&staging, &dev)))];

    let dry = ops::rebase(&dev.migrations(), envs(), &[], true).await.unwrap();
    assert_eq!(dry.plan.renames.iter().map(|r| r.version).collect::<Vec<_>>(), [3]);
    assert_eq!(dry.checked, ["dev", "staging"]);
    assert!(files(&dev).contains(&"3_theirs.up.sql".to_string()), "a dry run renames nothing");

    // An environment that cannot be read: refused, unless skipped by name.
    let with_closed = || {
        let nowhere = godwit::db::Target::parse("postgres://postgres@127.0.0.1:1/nowhere", dev.dir.path()).unwrap();
        let mut e = envs();
        let ws = godwit::project::Workspace::adhoc(nowhere, dev.migrations());
        e.push(("prod".to_string(), Ok(ops::Session { ws, ..dev.session() })));
        e
    };
    let e = ops::rebase(&dev.migrations(), with_closed(), &[], false).await.unwrap_err();
    assert_eq!(e.problem, Problem::CannotConnect);
    assert_eq!(e.remedies, [godwit::error::Remedy::SkipEnv { env: "prod".into(), squash_to: None }]);
    assert!(files(&dev).contains(&"3_theirs.up.sql".to_string()));

    let done = ops::rebase(&dev.migrations(), with_closed(), &["prod".to_string()], false).await.unwrap();
    assert_eq!(done.skipped, ["prod"]);
    let new = done.plan.renames[0].new_version;
    assert!(new > 3 && files(&dev).contains(&format!("{new}_theirs.up.sql")));
    assert!(!files(&dev).contains(&"3_theirs.up.sql".to_string()));
    let mut db = dev.connect().await;
    let source = Source::load(&dev.migrations()).unwrap();
    let applied: Vec<i64> = db.applied().await.unwrap().iter().map(|a| a.version).collect();
    db.close().await;
    assert!(
        godwit::migration::check::check_files(&source, Some(d), &applied)
            .iter()
            .all(|f| f.kind != godwit::migration::check::FindingKind::RevisionConflict)
    );
    assert_eq!(up(&dev).await, [new]);

    // Two more branches after it; what revises the later one ran on staging (out of order): the
    // later one cannot move without it, and it cannot be renamed.
    headed(&dev, new + 1, "left", &new.to_string(), "CREATE TABLE lefty (id INT);");
    headed(&dev, new + 2, "right", &new.to_string(), "CREATE TABLE righty (id INT);");
    headed(&dev, new + 3, "on_right", &(new + 2).to_string(), "CREATE TABLE on_right (id INT);");
    let mut db = staging.connect().await;
    db.ensure_tables().await.unwrap();
    let adopt = godwit::db::Amend::Adopt { version: new + 3, description: "on right".into(), checksum: vec![0] };
    let event = godwit::db::NewEvent {
        kind: godwit::db::EventKind::Import,
        version: Some(new + 3),
        description: "on right".into(),
        duration: None,
        outcome: godwit::db::Outcome::Ok,
        error: None,
        detail: None,
    };
    db.amend(&[(adopt, event)], "test").await.unwrap();
    db.close().await;
    let before = files(&dev);
    let e = ops::rebase(&dev.migrations(), envs(), &[], false).await.unwrap_err();
    assert_eq!(e.problem, Problem::Input, "{e:?}");
    assert_eq!(files(&dev), before, "nothing renamed");
}

/// `check` on an environment where both sides of a conflict are pending reads the others: a side
/// another environment applied cannot be edited, so where every side is applied somewhere the
/// conflict is history (a hint; `up` applies them in version order), and where one is not, that
/// one is the file to edit.
#[tokio::test]
async fn check_reads_the_other_environments_before_calling_a_conflict_a_problem() {
    use godwit::migration::check::FindingKind as K;
    let d = Dialect::Sqlite;
    let (dev, staging) = (made(d).await, made(d).await);
    headed(&dev, 1, "base", "", "CREATE TABLE base (id INT);");
    headed(&dev, 2, "ours", "1", "CREATE TABLE ours (id INT);");
    headed(&dev, 3, "theirs", "1", "CREATE TABLE theirs (id INT);");
    apply_to(&dev, &dev, 2).await;
    apply_to(&staging, &dev, 1).await;
    let envs =
        || Ok(vec![("dev".to_string(), Ok(dev.session())), ("staging".to_string(), Ok(session_in(&staging, &dev)))]);
    let kinds = |f: &[godwit::migration::check::Finding]| f.iter().map(|f| (f.kind, f.version)).collect::<Vec<_>>();

    // dev applied 2: 3 is the side to edit.
    let f = ops::check(&session_in(&staging, &dev), envs).await.unwrap();
    assert_eq!(kinds(&f), [(K::RevisionConflict, Some(3))]);
    assert_eq!(f[0].remedies, [godwit::error::Remedy::Rebase]);
    // dev applies 3 too: each side is applied somewhere, and staging runs both in version order.
    apply_to(&dev, &dev, 3).await;
    let f = ops::check(&session_in(&staging, &dev), envs).await.unwrap();
    assert_eq!(kinds(&f), [(K::SettledConflict, Some(3))], "{f:?}");
    assert!(f.iter().all(|f| f.kind.is_hint()));
    // Status counts what check reports, and a run's preview warns of no settled conflict (trial 13).
    let st = ops::status(&session_in(&staging, &dev), envs).await.unwrap();
    assert_eq!(kinds(&st.findings), kinds(&f));
    use godwit::migration::runner::Work;
    let conflict_warnings = |r: &godwit::migration::runner::RunReport| {
        r.warnings.iter().filter(|w| w.kind == godwit::event::WarningKind::RevisionConflict).count()
    };
    let p = ops::preview(&session_in(&staging, &dev), Work::Up(None), false, envs).await.unwrap();
    assert_eq!(conflict_warnings(&p), 0, "{:?}", p.warnings);
    let p = ops::preview(&session_in(&staging, &dev), Work::Up(None), false, || Ok(Vec::new())).await.unwrap();
    assert_eq!(conflict_warnings(&p), 1, "nothing read elsewhere: still a warning");
    // Nothing read elsewhere (no other environment): the conflict stays a problem here.
    let f = ops::check(&session_in(&staging, &dev), || Ok(Vec::new())).await.unwrap();
    assert_eq!(kinds(&f), [(K::RevisionConflict, Some(3))]);
    // The others are read only when there is a conflict to settle.
    let f = ops::check(&dev.session(), || panic!("read without a conflict")).await.unwrap();
    assert_eq!(kinds(&f), [(K::SettledConflict, Some(3))]);
}

/// Two sides of a conflict, the newer applied on staging first: `up` on dev would run the older
/// first, the other way round from staging. The preview and the run refuse it (nothing run), with
/// `rebase` as the way out; out of order, a person may run them as they are.
#[tokio::test]
async fn up_refuses_to_run_a_conflict_in_another_order_than_elsewhere() {
    let d = Dialect::Sqlite;
    let (dev, staging) = (made(d).await, made(d).await);
    headed(&dev, 1, "base", "", "CREATE TABLE base (id INT);");
    headed(&dev, 3, "newer", "1", "CREATE TABLE newer (id INT);");
    apply_to(&staging, &dev, 3).await;
    apply_to(&dev, &dev, 1).await;
    headed(&dev, 2, "older", "1", "CREATE TABLE older (id INT);");
    let envs = || Ok(vec![("staging".to_string(), Ok(session_in(&staging, &dev)))]);
    use godwit::migration::runner::Work;

    let e = ops::preview(&dev.session(), Work::Up(None), false, envs).await.unwrap_err();
    assert_eq!(e.problem, Problem::RevisionConflict { file: "2_older.up.sql".into() });
    assert_eq!(e.remedies, [godwit::error::Remedy::Rebase, godwit::error::Remedy::AllowOutOfOrder]);
    let req = ops::RunRequest::new(Work::Up(None));
    let e = ops::run(&dev.session(), req, &Default::default(), &mut |_| {}, &|_| {}, envs).await.unwrap_err();
    assert_eq!(e.problem, Problem::RevisionConflict { file: "2_older.up.sql".into() });
    assert_eq!(dev.history().await, ["1:true"], "nothing ran");
    // With nothing else read, there is no other order to keep: it runs.
    assert!(ops::preview(&dev.session(), Work::Up(None), false, || Ok(Vec::new())).await.is_ok());
    let req = ops::RunRequest { allow_out_of_order: true, ..ops::RunRequest::new(Work::Up(None)) };
    let (report, _) = ops::run(&dev.session(), req, &Default::default(), &mut |_| {}, &|_| {}, envs).await.unwrap();
    assert_eq!(report.done.len(), 2, "as they are, when asked");
}

/// Two branches each added migration 2 (sequential numbers, the common merge clash; trial 13):
/// `check` offers `rebase`, which keeps the one an environment ran (told by its checksum) and
/// renumbers the other after it, down file and header too; then every environment applies it.
#[tokio::test]
async fn rebase_renumbers_the_files_that_share_a_version() {
    use godwit::migration::check::FindingKind as K;
    let d = Dialect::Sqlite;
    let (dev, staging) = (made(d).await, made(d).await);
    headed(&dev, 1, "base", "", "CREATE TABLE base (id INT);");
    headed(&dev, 2, "theirs", "1", "CREATE TABLE theirs (id INT);");
    apply_to(&dev, &dev, 2).await;
    apply_to(&staging, &dev, 1).await;
    headed(&dev, 2, "ours", "1", "CREATE TABLE ours (id INT);");
    let envs = || vec![("dev".to_string(), Ok(dev.session())), ("staging".to_string(), Ok(session_in(&staging, &dev)))];

    let f = ops::check(&dev.session(), || Ok(envs())).await.unwrap();
    let clash = f.iter().find(|f| f.kind == K::DuplicateVersion).expect("the clash is a finding");
    assert_eq!(clash.remedies, [godwit::error::Remedy::Rebase]);
    // The one applied is not "missing" (its fix, forgetting it, would be wrong).
    assert!(f.iter().all(|f| f.kind != K::MissingFile), "{f:?}");
    // `ours` is first by name, but dev ran `theirs`: `ours` is the one to move.
    let done = ops::rebase(&dev.migrations(), envs(), &[], false).await.unwrap();
    let moved: Vec<(&str, &str)> = done.plan.renames.iter().map(|r| (r.from[0].as_str(), r.why.as_str())).collect();
    assert_eq!(moved, [("2_ours.up.sql", "shares its version")]);
    let new = done.plan.renames[0].new_version;
    assert!(files(&dev).contains(&format!("{new}_ours.down.sql")), "{:?}", files(&dev));
    assert!(Source::load(&dev.migrations()).unwrap().problems.is_empty());
    assert_eq!(up(&dev).await, [new]);
    apply_to(&staging, &dev, new).await;
    assert_eq!(staging.history().await, ["1:true", "2:true", &format!("{new}:true")]);
}

mod rebase_on {
    use super::*;
    #[tokio::test]
    async fn postgres() {
        rebase_puts_a_conflict_in_a_line(Dialect::Postgres).await
    }
    #[tokio::test]
    async fn mariadb() {
        rebase_puts_a_conflict_in_a_line(Dialect::MySql).await
    }
    #[tokio::test]
    async fn sqlite() {
        rebase_puts_a_conflict_in_a_line(Dialect::Sqlite).await
    }
}

/// Three migrations become one built from what they make: a history that has them all is
/// rewritten, a new database runs the squashed file and gets the same schema, and one behind the
/// squashed version (or files that change rows) stops it before anything changes.
async fn squash_replaces_the_oldest_migrations(d: Dialect) {
    let dev = made(d).await;
    let staging = made(d).await;
    let behind = made(d).await;
    let fresh = made(d).await;
    headed(&dev, 1, "users", "", "CREATE TABLE users (id INT PRIMARY KEY, email VARCHAR(100));");
    headed(&dev, 2, "orders", "1", "CREATE TABLE orders (id INT PRIMARY KEY, user_id INT REFERENCES users (id));");
    headed(
        &dev,
        3,
        "notes",
        "2",
        "CREATE TABLE notes (id INT PRIMARY KEY); CREATE INDEX users_email ON users (email);",
    );
    headed(&dev, 4, "tags", "3", "CREATE TABLE tags (id INT PRIMARY KEY);");
    apply_to(&dev, &dev, 4).await;
    apply_to(&staging, &dev, 3).await;
    apply_to(&behind, &dev, 2).await;
    let envs = |with_behind: bool| {
        let mut e = vec![
            ("dev".to_string(), Ok(dev.session())),
            ("staging".to_string(), Ok(session_in(&staging, &dev))),
            ("fresh".to_string(), Ok(session_in(&fresh, &dev))),
        ];
        if with_behind {
            e.push(("qa".to_string(), Ok(session_in(&behind, &dev))));
        }
        e
    };
    let req = |dry_run| ops::SquashRequest { to: 3, dry_run, skip: Vec::new(), schema_only: false };
    let cancel = Default::default();
    let before = files(&dev);

    let e = ops::squash(&dev.session(), envs(true), &req(false), &cancel).await.unwrap_err();
    assert_eq!(e.problem, Problem::Input, "{e:?}");
    assert_eq!(files(&dev), before);

    let dry = ops::squash(&dev.session(), envs(false), &req(true), &cancel).await.unwrap();
    use godwit::migration::squash::EnvSquash;
    let states: Vec<EnvSquash> = dry.envs.iter().map(|(_, s)| *s).collect();
    assert_eq!(states, [EnvSquash::Rewrite, EnvSquash::Rewrite, EnvSquash::Fresh]);
    assert!(dry.sql.contains("-- Squashes: 1, 2, 3"));
    assert_eq!(files(&dev), before, "a dry run changes nothing");

    // Another kind of database among the environments; a skip naming no environment; a link
    // planted where the squashed file is staged: each refused, nothing changed.
    let other = made(if d == Dialect::Sqlite { Dialect::Postgres } else { Dialect::Sqlite }).await;
    let mut mixed = envs(false);
    mixed.push(("other".to_string(), Ok(session_in(&other, &dev))));
    assert_eq!(
        ops::squash(&dev.session(), mixed, &req(false), &cancel).await.unwrap_err().problem,
        Problem::WrongDialect
    );
    let typo = ops::SquashRequest { skip: vec!["stagin".into()], ..req(false) };
    assert_eq!(
        ops::squash(&dev.session(), envs(false), &typo, &cancel).await.unwrap_err().problem,
        Problem::NotFound { what: godwit::Named::Environment }
    );
    let outside = tempfile::NamedTempFile::new().unwrap();
    std::os::unix::fs::symlink(outside.path(), dev.migrations().join(".3_squashed.sql.new")).unwrap();
    let e = ops::squash(&dev.session(), envs(false), &req(false), &cancel).await.unwrap_err();
    let staged = dev.migrations().join(".3_squashed.sql.new").display().to_string();
    assert_eq!(e.problem, Problem::Io { path: staged });
    assert_eq!(std::fs::read(outside.path()).unwrap(), b"", "nothing written through the link");
    std::fs::remove_file(dev.migrations().join(".3_squashed.sql.new")).unwrap();
    assert_eq!(files(&dev), before);

    let done = ops::squash(&dev.session(), envs(false), &req(false), &cancel).await.unwrap();
    assert_eq!(done.removed.len(), 6);
    assert_eq!(files(&dev), ["3_squashed.sql", "4_tags.down.sql", "4_tags.up.sql"]);
    assert_eq!(dev.history().await, ["3:true", "4:true"]);
    assert_eq!(staging.history().await, ["3:true"]);
    assert!(
        ops::check(&dev.session(), || Ok(Vec::new())).await.unwrap().is_empty(),
        "nothing reported missing or edited"
    );
    assert!(ops::check(&session_in(&staging, &dev), || Ok(Vec::new())).await.unwrap().is_empty());
    assert!(dev.log().await.iter().any(|l| l.starts_with("squash:ok:3")));
    assert_eq!(up(&dev).await, Vec::<i64>::new());
    let source = Source::load(&dev.migrations()).unwrap();
    let mut db = fresh.connect().await;
    runner::up(db.as_mut(), &source, None, &RunOptions::default(), &mut |_| {}).await.unwrap().into_result().unwrap();
    db.close().await;
    assert_eq!(fresh.schema().await, dev.schema().await);

    // Run again: everything already names the squashed file.
    let again = ops::squash(&dev.session(), envs(false), &req(false), &cancel).await.unwrap();
    assert!(again.envs.iter().all(|(_, s)| *s == EnvSquash::Done), "{:?}", again.envs);

    // Files that change rows are not squashed into a schema-only file unless asked.
    headed(&dev, 5, "seed", "4", "INSERT INTO tags (id) VALUES (1);");
    let e =
        ops::squash(&dev.session(), vec![], &ops::SquashRequest { to: 5, ..req(false) }, &cancel).await.unwrap_err();
    assert_eq!(e.problem, Problem::Input);
}

/// Privileges the squashed migrations granted are in the squashed file where the dump tool writes
/// them (PostgreSQL), and a fresh database gets them; where it does not (MariaDB), the squash stops.
#[tokio::test]
async fn a_squash_keeps_the_privileges_its_migrations_granted() {
    use sqlx::Connection as _;
    let dev = made(Dialect::Postgres).await;
    let fresh = made(Dialect::Postgres).await;
    let role = format!("{}_reader", dev.name);
    let mut admin = sqlx::PgConnection::connect(&common::pg_admin_url()).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE ROLE {role}"))).execute(&mut admin).await.unwrap();
    headed(&dev, 1, "users", "", "CREATE TABLE users (id INT PRIMARY KEY);");
    headed(&dev, 2, "grants", "1", &format!("CREATE TABLE grants (id INT);\nGRANT SELECT ON users TO {role};"));
    apply_to(&dev, &dev, 2).await;
    let req = ops::SquashRequest { to: 2, dry_run: false, skip: Vec::new(), schema_only: false };
    let envs = vec![("dev".to_string(), Ok(dev.session())), ("fresh".to_string(), Ok(session_in(&fresh, &dev)))];
    let out = ops::squash(&dev.session(), envs, &req, &Default::default()).await.unwrap();
    assert!(out.removed.len() == 4, "{out:?}");
    let file = std::fs::read_to_string(dev.migrations().join("2_squashed.sql")).unwrap();
    assert!(file.contains(&format!("GRANT SELECT ON TABLE public.users TO {role};")), "{file}");
    apply_to(&fresh, &dev, 2).await;
    let granted: bool = sqlx::query_scalar("SELECT has_table_privilege($1, 'users', 'SELECT')")
        .bind(&role)
        .fetch_one(&mut sqlx::PgConnection::connect(&fresh.url).await.unwrap())
        .await
        .unwrap();
    assert!(granted);
    drop((dev, fresh));
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE {role}"))).execute(&mut admin).await.unwrap();

    let my = made(Dialect::MySql).await;
    headed(&my, 1, "users", "", "CREATE TABLE users (id INT PRIMARY KEY);");
    headed(
        &my,
        2,
        "grants",
        "1",
        &format!("CREATE TABLE grants (id INT);\nGRANT SELECT ON {}.users TO CURRENT_USER;", my.name),
    );
    let before = files(&my);
    let req = ops::SquashRequest { to: 2, dry_run: false, skip: Vec::new(), schema_only: false };
    let e = ops::squash(&my.session(), vec![], &req, &Default::default()).await.unwrap_err();
    assert_eq!(e.problem, Problem::Input);
    assert_eq!(files(&my), before);
}

mod squash_on {
    use super::*;
    #[tokio::test]
    async fn postgres() {
        squash_replaces_the_oldest_migrations(Dialect::Postgres).await
    }
    #[tokio::test]
    async fn mariadb() {
        squash_replaces_the_oldest_migrations(Dialect::MySql).await
    }
    #[tokio::test]
    async fn sqlite() {
        squash_replaces_the_oldest_migrations(Dialect::Sqlite).await
    }
}

/// An Alembic project's code (env.py, its revisions) runs only once a person has said yes to what
/// runs: not to preview, not for a dry run, not with another interpreter than the one agreed to.
/// A virtualenv that is not the person's is never the interpreter.
#[tokio::test]
async fn an_alembic_projects_code_runs_only_when_agreed_to() {
    use std::os::unix::fs::PermissionsExt;
    let project = alembic_project();
    let marker = project.path().join("env-py-ran");
    let env_py = project.path().join("migrations/env.py");
    let original = std::fs::read_to_string(&env_py).unwrap();
    std::fs::write(&env_py, format!("open({:?}, 'w').write('ran')\n{original}", marker.display().to_string())).unwrap();
    let t = TestDb::new(Dialect::Sqlite).await;
    let python = alembic_python();
    let asked = |run_code| ImportRequest {
        tool: Tool::Alembic,
        dir: project.path().to_path_buf(),
        python: Some(python.clone()),
        run_code,
        offline: false,
        env: Vec::new(),
        dry_run: true,
    };
    let e = ops::import(&asked(None), &t.migrations(), Some(Dialect::Sqlite), None).await.unwrap_err();
    assert_eq!(e.problem, Problem::CodeNotAllowed);
    assert!(
        matches!(&e.remedies[..], [godwit::error::Remedy::RunCode { code }] if code.python == python.display().to_string())
    );
    // Agreed to for python3, not for this interpreter.
    let other = godwit::import::code_to_run(project.path(), Some(Path::new("python3")), None, &[]).unwrap();
    let e = ops::import(&asked(Some(other)), &t.migrations(), Some(Dialect::Sqlite), None).await.unwrap_err();
    assert_eq!(e.problem, Problem::CodeNotAllowed);
    // The CLI without a terminal to ask at, dry run and all.
    let o = Command::new(env!("CARGO_BIN_EXE_godwit"))
        .current_dir(t.dir.path())
        .args(["--source", "migrations", "import", "alembic", "--dialect", "sqlite", "--dry-run", "--python"])
        .arg(&python)
        .arg(project.path())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(5), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--run-code"));
    assert!(!marker.exists(), "env.py ran before anyone agreed");
    let code = godwit::import::code_to_run(project.path(), Some(&python), None, &[]).unwrap();
    assert!(code.files.iter().any(|f| f.contains("env.py")), "{code:?}");
    ops::import(&asked(Some(code)), &t.migrations(), Some(Dialect::Sqlite), None).await.unwrap();
    assert!(marker.exists());

    // A virtualenv beside the project that others may write into is passed over.
    let venv = project.path().join(".venv/bin");
    std::fs::create_dir_all(&venv).unwrap();
    std::os::unix::fs::symlink(&python, venv.join("python")).unwrap();
    let found = |dir: &Path| godwit::import::code_to_run(dir, None, None, &[]).unwrap().python;
    assert!(found(project.path()).ends_with(".venv/bin/python"), "{}", found(project.path()));
    std::fs::set_permissions(project.path().join(".venv"), std::fs::Permissions::from_mode(0o777)).unwrap();
    assert_eq!(found(project.path()), "python3");
}
