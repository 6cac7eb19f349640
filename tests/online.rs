//! `-- godwit:online`: an ALTER TABLE run through pt-online-schema-change on a real MariaDB, up and
//! down, with a password the tool gets from memory; a failure the tool cleans up changed nothing;
//! a mark on anything else is refused before anything runs. (The tool under write load, and a stop
//! in the middle of a copy: `make test-busy`.)

mod common;

use common::TestDb;
use common::online::{leftovers, up_stopped_while_copying};
use godwit::db::{self, ConnectOptions, Dialect, Target};
use godwit::event::RunEvent;
use godwit::migration::plan::DownTarget;
use godwit::migration::runner::{self, RunOptions};
use godwit::migration::source::Source;

/// A user of the test's own with a password the tool's option syntax would trip on.
struct User {
    name: String,
    t: String,
}

impl User {
    async fn new(t: &TestDb) -> User {
        let name = format!("godwit_osc_{}", t.name.rsplit('_').next().unwrap());
        t.exec(&format!(
            "CREATE USER '{name}'@'%' IDENTIFIED BY 'se,cr\"et#1'; GRANT ALL ON `{}`.* TO '{name}'@'%'",
            t.name
        ))
        .await;
        User { name, t: t.url.clone() }
    }

    fn target(&self, t: &TestDb) -> Target {
        let url = t.url.replace("root@", &format!("{}:se%2Ccr%22et%231@", self.name));
        Target::parse(&url, t.dir.path()).unwrap()
    }
}

impl Drop for User {
    fn drop(&mut self) {
        let (name, url) = (self.name.clone(), self.t.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            rt.block_on(async {
                use sqlx::{Connection, Executor};
                let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
                c.execute(sqlx::AssertSqlSafe(format!("DROP USER IF EXISTS '{name}'@'%'"))).await.unwrap();
            })
        })
        .join()
        .ok();
    }
}

async fn todos(t: &TestDb) {
    t.write(
        "1_todos.up.sql",
        "CREATE TABLE todos (id INT PRIMARY KEY AUTO_INCREMENT, title VARCHAR(50) NOT NULL);\n\
         INSERT INTO todos (title) VALUES ('a'), ('b'), ('c');\n",
    );
    t.write("1_todos.down.sql", "DROP TABLE todos;\n");
}

/// The tool's leftovers: its copy of the table and its triggers.

#[tokio::test]
async fn a_marked_alter_runs_through_the_tool_up_and_down() {
    let t = TestDb::new(Dialect::MySql).await;
    let user = User::new(&t).await;
    todos(&t).await;
    t.write(
        "2_add_done.up.sql",
        "CREATE INDEX todos_title ON todos (title);\n-- godwit:online\nALTER TABLE todos ADD COLUMN done INT NOT NULL DEFAULT 0;\n",
    );
    t.write(
        "2_add_done.down.sql",
        "-- godwit:online\nALTER TABLE todos DROP COLUMN done;\nDROP INDEX todos_title ON todos;\n",
    );
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = db::connect(&user.target(&t), &ConnectOptions::default()).await.unwrap();
    let mut lines = Vec::new();
    let report = runner::up(db.as_mut(), &source, None, &RunOptions::default(), &mut |e| {
        if let RunEvent::Output { version: 2, line, .. } = e {
            lines.push(line.clone());
        }
    })
    .await
    .unwrap();
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(lines.iter().any(|l| l.contains("Successfully altered")), "its progress is the run's: {lines:?}");
    assert_eq!(t.history().await, ["1:true", "2:true"]);
    assert_eq!(t.strings("SELECT CAST(SUM(done = 0) AS CHAR) FROM todos").await, ["3"], "every row copied");
    assert!(leftovers(&t, "todos").await.is_empty());

    let report =
        runner::down(db.as_mut(), &source, DownTarget::Steps(1), &RunOptions::default(), &mut |_| {}).await.unwrap();
    db.close().await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert_eq!(t.history().await, ["1:true"]);
    let columns = t.strings("SELECT column_name FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'todos' ORDER BY 1").await;
    assert_eq!(columns, ["id", "title"]);
}

#[tokio::test]
async fn an_alter_the_tool_refuses_changed_nothing() {
    let t = TestDb::new(Dialect::MySql).await;
    todos(&t).await;
    t.write("2_bad.up.sql", "-- godwit:online\nALTER TABLE todos ADD COLUMN done INT, DROP COLUMN nonexistent;\n");
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let report = runner::up(db.as_mut(), &source, None, &RunOptions::default(), &mut |_| {}).await.unwrap();
    db.close().await;
    let e = report.failure.expect("the tool failed");
    assert_eq!(e.problem, godwit::error::Problem::MigrationFailed { version: 2 });
    assert!(e.message.contains("was not altered"), "{}", e.message);
    assert!(e.remedies.iter().any(|r| matches!(r, godwit::error::Remedy::FixAndApply { .. })), "{:?}", e.remedies);
    assert_eq!(t.history().await, ["1:true"], "no row left for 2");
    assert!(leftovers(&t, "todos").await.is_empty());
    assert_eq!(t.strings("SELECT CAST(COUNT(*) AS CHAR) FROM todos").await, ["3"]);
}

/// The mark is checked on every database, so a mistake is found on a SQLite dev before a MariaDB prod.
#[tokio::test]
async fn a_mark_on_anything_but_an_alter_table_is_refused_before_anything_runs() {
    let t = TestDb::new(Dialect::Sqlite).await;
    t.write("1_a.up.sql", "CREATE TABLE a (id INTEGER);\n");
    t.write("1_a.down.sql", "DROP TABLE a;\n");
    t.write("2_b.up.sql", "CREATE TABLE b (id INTEGER);\n\n-- godwit:online\nCREATE INDEX b_id ON b (id);\n");
    t.write("2_b.down.sql", "DROP TABLE b;\n");
    let o = common::output(std::process::Command::new(env!("CARGO_BIN_EXE_godwit")).current_dir(t.dir.path()).args([
        "--url",
        &t.url,
        "--source",
        "migrations",
        "--errors",
        "json",
        "up",
    ]));
    assert_eq!((o.code, o.problem_is()), (2, "bad_file".into()), "{}", o.stderr);
    assert_eq!(o.problem_doc()["location"]["line"], 4, "{}", o.stderr);
    assert!(!t.sqlite_path().exists() || t.history().await.is_empty(), "nothing ran, not even 1");
}

/// A stop while the tool copies: it leaves its triggers and its copy, Godwit drops them, and the
/// table is as it was (the same under write load, with a million rows: `make test-busy`).
#[tokio::test]
async fn a_stop_in_the_middle_of_the_copy_leaves_the_table_as_it_was() {
    let t = TestDb::new(Dialect::MySql).await;
    t.exec(
        "CREATE TABLE todos (id INT PRIMARY KEY AUTO_INCREMENT, title VARCHAR(50) NOT NULL); \
         INSERT INTO todos (title) SELECT CONCAT('row ', seq) FROM seq_1_to_300000",
    )
    .await;
    t.write("1_widen.up.sql", "-- godwit:online\nALTER TABLE todos MODIFY COLUMN title VARCHAR(200) NOT NULL;\n");
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let report = up_stopped_while_copying(db.as_mut(), &source).await;
    db.close().await;
    let e = report.failure.expect("stopped");
    assert_eq!(e.problem, godwit::error::Problem::Cancelled, "{}", e.message);
    assert!(e.message.contains("Godwit dropped them"), "{}", e.message);
    assert!(t.history().await.is_empty());
    assert!(leftovers(&t, "todos").await.is_empty(), "{:?}", leftovers(&t, "todos").await);
    let title = t.strings("SELECT column_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'todos' AND column_name = 'title'").await;
    assert_eq!(title, ["varchar(50)"]);
    assert_eq!(t.strings("SELECT CAST(COUNT(*) AS CHAR) FROM todos").await, ["300000"]);
}

/// The tool's own checks, before it makes anything (a table other tables' keys point at): the table
/// was not altered, nothing is left part way, and the next run goes on once the file is fixed.
#[tokio::test]
async fn a_table_the_tool_refuses_to_start_on_changed_nothing() {
    let t = TestDb::new(Dialect::MySql).await;
    todos(&t).await;
    t.write(
        "2_tags.up.sql",
        "CREATE TABLE tags (id INT PRIMARY KEY, todo INT NOT NULL, FOREIGN KEY (todo) REFERENCES todos (id));\n",
    );
    t.write("3_widen.up.sql", "-- godwit:online\nALTER TABLE todos MODIFY COLUMN title VARCHAR(200) NOT NULL;\n");
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let report = runner::up(db.as_mut(), &source, None, &RunOptions::default(), &mut |_| {}).await.unwrap();
    db.close().await;
    let e = report.failure.expect("the tool refused");
    assert!(e.message.contains("The table was not altered"), "{}", e.message);
    assert!(e.message.contains("changed nothing"), "{}", e.message);
    assert_eq!(t.history().await, ["1:true", "2:true"], "nothing left part way");
    assert!(leftovers(&t, "todos").await.is_empty());
}

/// Triggers an earlier, killed run of the tool left are named with the SQL to drop them, before
/// anything runs.
#[tokio::test]
async fn what_an_earlier_killed_run_left_is_named_before_anything_runs() {
    let t = TestDb::new(Dialect::MySql).await;
    todos(&t).await;
    t.write("2_widen.up.sql", "-- godwit:online\nALTER TABLE todos MODIFY COLUMN title VARCHAR(200) NOT NULL;\n");
    let source = Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    runner::up(db.as_mut(), &source, Some(1), &RunOptions::default(), &mut |_| {}).await.unwrap();
    let trigger = format!("pt_osc_{}_todos_ins", t.name);
    t.exec(&format!(
        "CREATE TABLE _todos_new LIKE todos; CREATE TRIGGER `{trigger}` AFTER INSERT ON todos FOR EACH ROW SET @x = 1"
    ))
    .await;
    let e = runner::up(db.as_mut(), &source, None, &RunOptions::default(), &mut |_| {}).await.expect_err("refused");
    db.close().await;
    assert!(e.message.contains(&format!("DROP TRIGGER IF EXISTS `{}`.`{trigger}`;", t.name)), "{}", e.message);
    assert!(e.message.contains("DROP TABLE IF EXISTS"), "{}", e.message);
    assert_eq!(t.history().await, ["1:true"]);
}
