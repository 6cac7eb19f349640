//! A busy production table, for real: a MariaDB table of a million rows that another session writes
//! to all the time, altered through pt-online-schema-change (`-- godwit:online`) and, to compare,
//! directly. Slow (a minute or two), so not in `make test`: `make test-busy` runs it and prints the
//! longest time a write waited each way (the README's figures).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::TestDb;
use common::online::{leftovers, up_stopped_while_copying};
use godwit::db::Dialect;
use godwit::event::RunEvent;
use godwit::migration::runner::{self, RunOptions};
use godwit::migration::source::Source;
use sqlx::Connection;

const ROWS: i64 = 1_000_000;
/// A type change: MariaDB copies the table for it, blocking writes while it does.
const ALTER: &str = "ALTER TABLE big MODIFY COLUMN v BIGINT NOT NULL";

async fn big_table(t: &TestDb) {
    t.exec(&format!(
        "CREATE TABLE big (id BIGINT AUTO_INCREMENT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40) NOT NULL); \
         INSERT INTO big (v, note) SELECT seq % 1000, 'a row that was there before' FROM seq_1_to_{ROWS}"
    ))
    .await;
}

/// What a writer did while something ran: its writes, how many failed, the longest one, and what
/// it added to the table (rows, and to the sum of `v`).
#[derive(Debug, Default)]
struct Writes {
    done: u64,
    failed: Vec<String>,
    longest: Duration,
    /// Deadlocks with the tool's copy, each tried again.
    retried: u64,
    rows: i64,
    sum: i64,
}

/// Writes to `big` until `stop`: an insert, then an update of a row that was there before, by turns.
fn writer(url: String, stop: Arc<AtomicBool>) -> tokio::task::JoinHandle<Writes> {
    tokio::spawn(async move {
        let mut c = sqlx::MySqlConnection::connect(&url).await.unwrap();
        let mut w = Writes::default();
        let mut n: i64 = 0;
        while !stop.load(Ordering::SeqCst) {
            n += 1;
            let start = Instant::now();
            // Plain statements: MariaDB keeps a server-side prepared statement bound to the trigger
            // the tool drops, and it fails from the swap on (see the README).
            let sql = match n % 2 {
                0 => "INSERT INTO big (v, note) VALUES (7, 'written during the change')".to_string(),
                _ => format!("UPDATE big SET v = v + 1 WHERE id = {}", 1 + (n * 7919) % ROWS),
            };
            // A deadlock with the tool's copy is tried again, as an InnoDB application must.
            let r = loop {
                match sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone())).execute(&mut c).await {
                    Err(e) if e.as_database_error().and_then(|d| d.code()).as_deref() == Some("40001") => {
                        w.retried += 1
                    }
                    r => break r,
                }
            };
            w.longest = w.longest.max(start.elapsed());
            match r {
                Ok(done) => {
                    w.done += 1;
                    match n % 2 {
                        0 => (w.rows, w.sum) = (w.rows + 1, w.sum + 7),
                        _ => w.sum += done.rows_affected() as i64,
                    }
                }
                Err(e) => w.failed.push(e.to_string()),
            }
        }
        w
    })
}

async fn totals(t: &TestDb) -> (i64, i64) {
    let got = t.strings("SELECT CONCAT(COUNT(*), ' ', SUM(v)) FROM big").await;
    let mut it = got[0].split(' ').map(|x| x.parse::<i64>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

async fn column_type(t: &TestDb) -> String {
    t.strings(
        "SELECT column_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'big' \
         AND column_name = 'v'",
    )
    .await
    .remove(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_row_table_is_altered_online_while_it_is_written_to() {
    let t = TestDb::new(Dialect::MySql).await;
    big_table(&t).await;
    t.write("1_widen_v.up.sql", &format!("-- godwit:online\n{ALTER};\n"));
    t.write("1_widen_v.down.sql", "-- godwit:online\nALTER TABLE big MODIFY COLUMN v INT NOT NULL;\n");
    let source = Source::load(&t.migrations()).unwrap();

    // A stop while the tool copies: it cleans up, and the table is as it was.
    let before = totals(&t).await;
    let mut db = t.connect().await;
    let report = up_stopped_while_copying(db.as_mut(), &source).await;
    let e = report.failure.expect("stopped");
    assert_eq!(e.problem, godwit::error::Problem::Cancelled, "{}", e.message);
    assert!(e.message.contains("was not altered"), "{}", e.message);
    assert!(t.history().await.is_empty(), "nothing recorded: {}", e.message);
    assert_eq!(column_type(&t).await, "int(11)");
    assert_eq!(totals(&t).await, before);
    assert!(leftovers(&t, "big").await.is_empty(), "{:?} after: {}", leftovers(&t, "big").await, e.message);

    // Online, under writes: none fails, none is lost, and the copy's progress is the run's.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = writer(t.url.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut progress = Vec::new();
    let start = Instant::now();
    let report = runner::up(db.as_mut(), &source, None, &RunOptions::default(), &mut |e| {
        if let RunEvent::Output { line, .. } = e {
            progress.push(line.clone());
        }
    })
    .await
    .unwrap();
    let took = start.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let online = writes.await.unwrap();
    db.close().await;
    assert!(report.failure.is_none(), "{:?}", report.failure);
    assert!(
        online.failed.is_empty(),
        "writes failed during the online change: {:?}",
        &online.failed[..online.failed.len().min(3)]
    );
    assert!(online.done > 0);
    assert!(progress.iter().any(|l| l.contains("Copying")), "{progress:?}");
    assert_eq!(column_type(&t).await, "bigint(20)");
    assert_eq!(totals(&t).await, (before.0 + online.rows, before.1 + online.sum), "every write is in the table");
    assert!(leftovers(&t, "big").await.is_empty());

    // The same change made directly, to compare: writers wait for the whole copy.
    t.exec("ALTER TABLE big MODIFY COLUMN v INT NOT NULL").await;
    let stop = Arc::new(AtomicBool::new(false));
    let writes = writer(t.url.clone(), stop.clone());
    tokio::time::sleep(Duration::from_millis(300)).await;
    let direct_start = Instant::now();
    t.exec(ALTER).await;
    let direct_took = direct_start.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::SeqCst);
    let direct = writes.await.unwrap();
    println!(
        "busy: {ROWS} rows, `{ALTER}` while a session writes: online (pt-online-schema-change) took {:.1}s, the \
         longest write waited {} ms ({} writes, none failed, {} tried again after a deadlock with its copy); directly it took {:.1}s, the longest write waited {} ms \
         ({} writes)",
        took.as_secs_f64(),
        online.longest.as_millis(),
        online.done,
        online.retried,
        direct_took.as_secs_f64(),
        direct.longest.as_millis(),
        direct.done
    );
}
