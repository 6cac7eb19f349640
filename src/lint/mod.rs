//! `godwit lint`: risky statements found before they run. PostgreSQL through Squawk's own linter
//! (`squawk-linter`), MySQL/MariaDB and SQLite through Godwit's rules over `sqlparser`, and on every
//! database the checks that need the migration as a whole (a down that does not undo its up, DDL
//! mixed with data backfills). Findings know the set being linted: a table created earlier in it is
//! new, so changing it blocks no one.

mod config;
mod ignore;
mod key_types;
mod portable;
mod postgres;
mod sarif;
mod views;
mod whole;

use std::collections::BTreeSet;
use std::path::Path;

use serde::{Deserialize, Serialize};

pub use config::LintConfig;
pub use sarif::to_sarif;

use crate::migration::source::{Kind, MigrationFile};
use crate::syntax::Dialect;
use crate::syntax::split::{self, Statement};

#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[ts(export, rename = "LintSeverity")]
pub enum Severity {
    /// The migration cannot run, or loses data it was not asked to: `lint` exits 1.
    Error,
    /// It runs, but can block or break the application while it does.
    Warning,
    /// A better way, worth knowing.
    Hint,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Hint => "hint",
        }
    }
}

/// One finding: which rule, how bad, where (1-based line and column), why, and what to do instead.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[ts(export, rename = "LintFinding")]
pub struct Finding {
    pub rule: String,
    pub severity: Severity,
    /// The file's path as given (relative to the project for its migrations).
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
    pub advice: String,
}

#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct LintReport {
    /// Spelt as everywhere in JSON (`sqlite`); `dialect_name` is for people (`SQLite`).
    pub dialect: Dialect,
    pub dialect_name: String,
    /// How many files were read (ups and downs).
    pub files: usize,
    pub findings: Vec<Finding>,
}

impl LintReport {
    fn new(dialect: Dialect) -> LintReport {
        LintReport { dialect, dialect_name: dialect.name().to_string(), files: 0, findings: Vec::new() }
    }

    pub fn errors(&self) -> usize {
        self.findings.iter().filter(|f| f.severity == Severity::Error).count()
    }
}

/// A finding before it is placed and filtered: the byte offset it starts at in its file.
#[derive(Debug, Clone)]
pub(crate) struct Raw {
    pub rule: String,
    pub severity: Severity,
    pub offset: usize,
    pub message: String,
    pub advice: String,
    /// The table the statement changes, when the rule is about locking or rewriting it: a table
    /// created earlier in the set is new, and the finding is dropped.
    pub table: Option<String>,
}

/// What a dialect's linter is given for one file.
pub(crate) struct Input<'a> {
    pub sql: &'a str,
    pub statements: &'a [Statement<'a>],
    /// Runs inside a transaction (no `-- no-transaction`).
    pub in_transaction: bool,
    /// A down: only what stops it from running is reported (undoing its up is what it is for).
    pub down: bool,
    /// Indexes (table, first column) the other migrations linted with it create.
    pub indexed_elsewhere: &'a [(String, String)],
}

/// Lints migrations in order; each table created by one counts as new for those after it. The
/// views the migrations `before` them make (applied, or older than the first linted) are known.
pub fn lint(
    migrations: &[&MigrationFile],
    before: &[&MigrationFile],
    root: &Path,
    dialect: Dialect,
    config: &LintConfig,
) -> LintReport {
    let mut report = LintReport::new(dialect);
    let mut new_tables = BTreeSet::new();
    let mut earlier = followed_through(before.iter().map(|m| m.sql.as_str()), dialect);
    let elsewhere = indexes_in_set(migrations.iter().map(|m| m.sql.as_str()), dialect);
    for m in migrations {
        let up_name = shown(&m.path, root);
        report.files += 1;
        // A missing down file is `check`'s to report, not an empty one.
        let down = match (m.kind, m.has_down) {
            (Kind::Simple, _) | (_, false) => None,
            // The down this database runs (its own, where the project keeps one).
            _ => Some(m.down_sql_for(Some(dialect)).unwrap_or_default()),
        };
        let mut raws = file_findings(&m.sql, dialect, !m.no_transaction, false, &mut new_tables, &elsewhere);
        raws.extend(whole::migration(&m.sql, down.as_deref(), dialect, m.kind != Kind::Simple));
        raws.extend(earlier.lint(&m.sql, dialect));
        report.findings.extend(place(&m.sql, &up_name, raws, dialect, config));
        if let (Some(down), Some(path)) = (down, m.down_path_for(Some(dialect))) {
            report.files += 1;
            let in_tx = !crate::migration::source::no_transaction(&down);
            let raws = file_findings(&down, dialect, in_tx, true, &mut BTreeSet::new(), &[]);
            report.findings.extend(place(&down, &shown(&path, root), raws, dialect, config));
        }
    }
    report
}

/// Lints files named (`godwit lint a.sql b.sql`), in the order given; `before`: the SQL of the
/// project's migrations older than them, whose views are known.
pub fn lint_files(files: &[(String, String)], before: &[&str], dialect: Dialect, config: &LintConfig) -> LintReport {
    let mut report = LintReport::new(dialect);
    let mut new_tables = BTreeSet::new();
    let mut earlier = followed_through(before.iter().copied(), dialect);
    let ups = files.iter().filter(|(name, _)| !name.ends_with(".down.sql")).map(|(_, sql)| sql.as_str());
    let elsewhere = indexes_in_set(ups, dialect);
    for (name, sql) in files {
        report.files += 1;
        let down = name.ends_with(".down.sql");
        let in_tx = !crate::migration::source::no_transaction(sql);
        let mut raws = file_findings(sql, dialect, in_tx, down, &mut new_tables, &elsewhere);
        if !down {
            raws.extend(whole::migration(sql, None, dialect, false));
            raws.extend(earlier.lint(sql, dialect));
        }
        report.findings.extend(place(sql, name, raws, dialect, config));
    }
    report
}

/// What the SQL of earlier migrations, in order, leaves that a later one is linted against: the
/// views, and the integer types of the tables' columns (for foreign keys).
fn followed_through<'a>(earlier: impl Iterator<Item = &'a str>, dialect: Dialect) -> Followed {
    let mut followed = Followed::default();
    for sql in earlier {
        followed.views.follow(sql, dialect);
        followed.keys.follow(sql, dialect);
    }
    followed
}

#[derive(Default)]
struct Followed {
    views: views::Views,
    keys: key_types::KeyTypes,
}

impl Followed {
    /// One up's findings against what came before it, which it then joins.
    fn lint(&mut self, sql: &str, dialect: Dialect) -> Vec<Raw> {
        let mut raws = self.views.lint(sql, dialect);
        raws.extend(self.keys.lint(sql, dialect));
        raws
    }
}

/// The indexes the ups linted together create, for the rule that a foreign key needs one (checked
/// on MySQL and SQLite; PostgreSQL's rules are Squawk's, which have none such).
fn indexes_in_set<'a>(ups: impl Iterator<Item = &'a str>, dialect: Dialect) -> Vec<(String, String)> {
    match dialect {
        Dialect::Postgres => Vec::new(),
        Dialect::MySql | Dialect::Sqlite => ups.flat_map(|sql| portable::indexes(sql, dialect)).collect(),
    }
}

/// A migration being written (the app's editor): its up and down as they stand, the files named
/// `up` and `down`. Every table it alters counts as existing unless the up itself creates it; the
/// views the project's migrations (`before`) make are known.
pub fn lint_draft(
    up: &str,
    down: Option<&str>,
    no_transaction: bool,
    before: &[&MigrationFile],
    dialect: Dialect,
    config: &LintConfig,
) -> Vec<Finding> {
    let in_tx = !no_transaction && !crate::migration::source::no_transaction(up);
    let mut raws = file_findings(up, dialect, in_tx, false, &mut BTreeSet::new(), &[]);
    raws.extend(whole::migration(up, down, dialect, down.is_some()));
    raws.extend(followed_through(before.iter().map(|m| m.sql.as_str()), dialect).lint(up, dialect));
    let mut out = place(up, "up", raws, dialect, config);
    if let Some(down) = down {
        let in_tx = !no_transaction && !crate::migration::source::no_transaction(down);
        out.extend(place(
            down,
            "down",
            file_findings(down, dialect, in_tx, true, &mut BTreeSet::new(), &[]),
            dialect,
            config,
        ));
    }
    out
}

/// The finding of a file that cannot be split into statements: an error that no comment or
/// setting silences (the file's comments cannot be placed, and nothing else in it was linted).
pub(crate) const UNSPLITTABLE: &str = "unsplittable";

/// One file's findings from its dialect's rules, those on tables new in the set dropped; the
/// tables it creates join `new_tables`.
fn file_findings(
    sql: &str,
    dialect: Dialect,
    in_tx: bool,
    down: bool,
    new_tables: &mut BTreeSet<String>,
    indexed_elsewhere: &[(String, String)],
) -> Vec<Raw> {
    let statements = match split::split(sql, dialect) {
        Ok(s) => s,
        Err(e) => {
            return vec![Raw {
                rule: UNSPLITTABLE.into(),
                severity: Severity::Error,
                offset: sql.split_inclusive('\n').take(e.line.saturating_sub(1)).map(str::len).sum(),
                message: format!("the file cannot be split into statements: {}", e.what),
                advice: "close the string, comment or dollar quote it leaves open".into(),
                table: None,
            }];
        }
    };
    let input = Input { sql, statements: &statements, in_transaction: in_tx, down, indexed_elsewhere };
    let raws = match dialect {
        Dialect::Postgres => postgres::lint(&input),
        Dialect::MySql | Dialect::Sqlite => portable::lint(&input, dialect),
    };
    // A table is new for the statements after the one that creates it.
    let created = whole::created_tables(&statements, dialect);
    // A mark on anything but an ALTER TABLE is refused by every run: an error here too.
    let (online, bad): (Vec<_>, Vec<_>) = crate::db::online::marked(sql, &statements)
        .into_iter()
        .map(|i| (&statements[i], crate::db::online::parse(statements[i].sql).err()))
        .partition(|(_, bad)| bad.is_none());
    let bad_marks: Vec<Raw> = bad
        .into_iter()
        .filter_map(|(st, why)| {
            Some(Raw {
                rule: BAD_MARK_RULE.into(),
                severity: Severity::Error,
                offset: st.offset,
                message: why?,
                advice: "remove the mark, or put it above the ALTER TABLE it is meant for".into(),
                table: None,
            })
        })
        .collect();
    // Where a marked statement is: MySQL/MariaDB runs it online (elsewhere it runs as written).
    let online: Vec<(usize, usize)> = match dialect {
        Dialect::MySql => online.into_iter().map(|(st, _)| (st.offset, st.offset + st.sql.len())).collect(),
        _ => Vec::new(),
    };
    let swaps = online.iter().map(|(from, _)| Raw {
        rule: ONLINE_RULE.into(),
        severity: Severity::Hint,
        offset: *from,
        message: "pt-online-schema-change swaps the table for an altered copy: on MariaDB, a server-side prepared \
                  statement that wrote to it while the tool ran fails afterwards (`Table '…_new' doesn't exist`) until \
                  the application prepares it again"
            .into(),
        advice: "know whether the applications writing to it use server-side prepared statements (sqlx and JDBC's \
                 useServerPrepStmts do); restart or reconnect them after the run, or run the ALTER when they are \
                 stopped"
            .into(),
        table: None,
    });
    let raws: Vec<Raw> = raws.into_iter().chain(swaps.collect::<Vec<_>>()).chain(bad_marks).collect();
    let out = raws
        .into_iter()
        .filter(|r| {
            // A statement marked online copies the table without blocking writes: what it would block is moot.
            let copied = matches!(r.rule.as_str(), "mysql-table-rebuild" | "changing-column-type");
            !(copied && online.iter().any(|(from, to)| (*from..*to).contains(&r.offset)))
        })
        .filter(|r| {
            let Some(t) = &r.table else { return true };
            let here = created.iter().any(|(offset, name)| name == t && *offset < r.offset);
            !(new_tables.contains(t) || here)
        })
        .collect();
    if !down {
        new_tables.extend(created.into_iter().map(|(_, n)| n));
    }
    out
}

/// A statement marked online: what the table's swap does to the applications using it.
const ONLINE_RULE: &str = "mysql-online-alter-swap";
/// `-- godwit:online` above a statement it cannot run online.
const BAD_MARK_RULE: &str = "bad-online-mark";

/// Findings with their line and column, the file's and statements' ignore comments and the
/// project's `[lint]` settings applied.
fn place(sql: &str, file: &str, mut raws: Vec<Raw>, dialect: Dialect, config: &LintConfig) -> Vec<Finding> {
    let ignores = ignore::Ignores::read(sql, dialect);
    raws.extend(ignore::unknown(sql).into_iter().map(|(offset, name)| Raw {
        rule: "unknown-ignore".into(),
        severity: Severity::Warning,
        offset,
        message: format!("this ignore comment names `{name}`, which is not a rule: it silences nothing"),
        advice: "correct the name (the list of lint rules names them all)".into(),
        table: None,
    }));
    let mut out: Vec<Finding> = raws
        .into_iter()
        .filter(|r| r.rule == UNSPLITTABLE || !ignores.silences(&r.rule, r.offset))
        .filter_map(|r| {
            let severity = match r.rule.as_str() {
                UNSPLITTABLE => Severity::Error,
                _ => config.severity_of(&r.rule, r.severity)?,
            };
            let (line, column) = line_col(sql, r.offset);
            Some(Finding {
                rule: r.rule,
                severity,
                file: file.to_string(),
                line,
                column,
                message: r.message,
                advice: r.advice,
            })
        })
        .collect();
    out.sort_by(|a, b| (a.line, a.column, &a.rule).cmp(&(b.line, b.column, &b.rule)));
    out.dedup();
    out
}

/// A finding's message and advice as one text: "… . Instead: …".
pub fn sentence(f: &Finding) -> String {
    let stop = if f.message.ends_with(['.', '!', '?']) { "" } else { "." };
    match f.advice.is_empty() {
        true => format!("{}{stop}", f.message),
        false => format!("{}{stop} Instead: {}", f.message, f.advice),
    }
}

fn line_col(sql: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(sql.len());
    let before = &sql[..sql.floor_char_boundary(offset)];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

fn shown(path: &Path, root: &Path) -> String {
    path.strip_prefix(root).unwrap_or(path).display().to_string()
}

/// Every rule, with the databases it is checked on, sorted by name.
pub fn rules() -> Vec<(String, &'static str)> {
    let pg = postgres::rules();
    let mut out: std::collections::BTreeMap<String, &'static str> =
        pg.iter().map(|r| (r.clone(), "PostgreSQL")).collect();
    for r in portable::RULES {
        let dbs = match r {
            _ if r.starts_with("sqlite-") => "SQLite",
            _ if r.starts_with("mysql-") => "MySQL/MariaDB",
            _ if pg.iter().any(|p| p == r) => "all",
            _ => "MySQL/MariaDB, SQLite",
        };
        out.insert(r.to_string(), dbs);
    }
    for r in whole::RULES.iter().chain([&views::RULE]) {
        out.insert(r.to_string(), "all");
    }
    out.insert(key_types::RULE.to_string(), "MySQL/MariaDB");
    out.insert(ONLINE_RULE.to_string(), "MySQL/MariaDB");
    out.insert(BAD_MARK_RULE.to_string(), "all");
    out.into_iter().collect()
}

/// Every rule Godwit knows by name, for `[lint]` settings and ignore comments to be checked against.
pub fn known_rule(name: &str) -> bool {
    portable::RULES.contains(&name)
        || whole::RULES.contains(&name)
        || name == views::RULE
        || name == key_types::RULE
        || postgres::known(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules_of(files: &[(&str, &str)], d: Dialect) -> Vec<(String, String)> {
        let files: Vec<(String, String)> = files.iter().map(|(n, s)| (n.to_string(), s.to_string())).collect();
        lint_files(&files, &[], d, &LintConfig::default()).findings.into_iter().map(|f| (f.file, f.rule)).collect()
    }

    #[test]
    fn what_mysql_refuses_is_found_on_a_table_new_in_the_set_too() {
        let new = ("1_t.up.sql", "CREATE TABLE t (id INT, a INT);\nCREATE INDEX t_a ON t (a) WHERE a > 0;");
        assert!(rules_of(&[new], Dialect::MySql).contains(&("1_t.up.sql".into(), "mysql-partial-index".into())));
    }

    #[test]
    fn a_foreign_keys_index_in_a_later_migration_covers_it() {
        let fk = ("1_c.up.sql", "CREATE TABLE c (id INTEGER PRIMARY KEY, p INTEGER REFERENCES p (id));");
        let index = ("2_i.up.sql", "CREATE INDEX c_p ON c (p);");
        let unindexed = ("1_c.up.sql".to_string(), "foreign-key-without-index".to_string());
        assert!(rules_of(&[fk], Dialect::Sqlite).contains(&unindexed));
        assert!(!rules_of(&[fk, index], Dialect::Sqlite).contains(&unindexed));
    }

    #[test]
    fn timeouts_are_asked_for_only_where_a_table_in_use_is_changed() {
        let timeouts = |files: &[(&str, &str)]| {
            rules_of(files, Dialect::Postgres).into_iter().filter(|(_, r)| r.starts_with("require-")).count()
        };
        assert_eq!(
            timeouts(&[("1.up.sql", "CREATE EXTENSION IF NOT EXISTS pgcrypto;\nCREATE TYPE m AS ENUM ('a');")]),
            0
        );
        let new = "CREATE SCHEMA a;\nCREATE TABLE a.t (id bigint PRIMARY KEY);\nCREATE INDEX t_id ON a.t (id);";
        assert_eq!(timeouts(&[("1.up.sql", new)]), 0, "every table it changes is new");
        let later = ("2.up.sql", "ALTER TABLE a.t ADD COLUMN n text;");
        assert_eq!(timeouts(&[("1.up.sql", new), later]), 0, "new in the set");
        assert_eq!(timeouts(&[later]), 2, "a table in use: both timeouts");
    }

    #[test]
    fn dropping_a_schema_says_what_goes_with_it() {
        let pg = lint_files(
            &[("1.up.sql".into(), "DROP SCHEMA legacy CASCADE;".into())],
            &[],
            Dialect::Postgres,
            &LintConfig::default(),
        );
        let drop = pg.findings.iter().find(|f| f.rule == "ban-drop-schema").unwrap();
        assert!(drop.message.contains("every table"), "{}", drop.message);
        let my = rules_of(&[("1.up.sql", "DROP SCHEMA legacy;")], Dialect::MySql);
        assert_eq!(my, [("1.up.sql".to_string(), "ban-drop-database".to_string())]);
    }

    #[test]
    fn a_statement_marked_online_is_not_said_to_block_writes() {
        let copy = "ALTER TABLE a MODIFY COLUMN b BIGINT;";
        let rules = |sql: &str| rules_of(&[("1_a.up.sql", sql)], Dialect::MySql);
        let plain = rules(copy);
        assert!(plain.iter().any(|(_, r)| r == "changing-column-type"), "{plain:?}");
        let marked = rules(&format!("-- godwit:online\n{copy}"));
        assert!(!marked.iter().any(|(_, r)| r == "changing-column-type"), "{marked:?}");
        assert!(marked.iter().any(|(_, r)| r == ONLINE_RULE), "what the swap does is said instead: {marked:?}");
        let wrong = rules_of(&[("1_a.up.sql", "-- godwit:online\nUPDATE a SET b = 1;")], Dialect::Sqlite);
        assert!(wrong.iter().any(|(_, r)| r == BAD_MARK_RULE), "{wrong:?}");
    }

    #[test]
    fn lines_and_columns_are_one_based() {
        assert_eq!(line_col("a\nbc", 3), (2, 2));
        assert_eq!(line_col("é\nx", 3), (2, 1));
        assert_eq!(line_col("abc", 0), (1, 1));
    }
}
