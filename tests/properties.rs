//! Properties over generated inputs (proptest): the planner never plans a version twice, keeps
//! version order unless out-of-order is allowed, plans exactly what is pending, and rolls back the
//! exact reverse of what is applied; the statement splitter keeps its promises (tests/support) for
//! any text built from the pieces that make SQL hard to split.

#[path = "support/split_props.rs"]
mod split_props;

use std::collections::BTreeMap;
use std::path::PathBuf;

use godwit::db::Applied;
use godwit::error::Problem;
use godwit::migration::plan::{DownTarget, plan_down, plan_up};
use godwit::migration::source::{Header, Kind, MigrationFile, Source};
use godwit::syntax::Dialect;
use proptest::prelude::*;

fn file(version: i64, reversible: bool) -> MigrationFile {
    let kind = if reversible { Kind::Reversible } else { Kind::Simple };
    MigrationFile {
        version,
        description: format!("m{version}"),
        kind,
        path: PathBuf::from(format!("/m/{version}_m.sql")),
        sql: format!("SELECT {version}"),
        checksum: version.to_le_bytes().to_vec(),
        no_transaction: false,
        bom: false,
        down_path: reversible.then(|| PathBuf::from(format!("/m/{version}_m.down.sql"))),
        has_down: reversible,
        header: Header::default(),
        repeatable: false,
    }
}

/// A folder of migrations, each (reversible?, applied?), as the planner sees it: the source and the
/// history table (which lists versions in order, as every database's query returns them).
fn world(spec: &BTreeMap<i64, (bool, bool)>) -> (Source, Vec<Applied>) {
    let migrations: Vec<MigrationFile> = spec.iter().map(|(v, (rev, _))| file(*v, *rev)).collect();
    let applied = migrations
        .iter()
        .filter(|m| spec[&m.version].1)
        .map(|m| Applied {
            version: m.version,
            description: m.description.clone(),
            installed_on: chrono::Utc::now(),
            success: true,
            checksum: m.checksum.clone(),
            execution_time: 1,
        })
        .collect();
    (Source { dir: "/m".into(), migrations, ..Default::default() }, applied)
}

fn spec() -> impl Strategy<Value = BTreeMap<i64, (bool, bool)>> {
    prop::collection::btree_map(0i64..60, (any::<bool>(), any::<bool>()), 0..16)
}

proptest! {
    #[test]
    fn up_plans_each_pending_version_once_in_order(
        spec in spec(), to in prop::option::of(0i64..60), out_of_order in any::<bool>()
    ) {
        let (source, applied) = world(&spec);
        let applied_versions: Vec<i64> = applied.iter().map(|a| a.version).collect();
        let newest = applied_versions.iter().max().copied();
        let pending: Vec<i64> = spec.keys().copied()
            .filter(|v| !applied_versions.contains(v) && to.is_none_or(|t| *v <= t)).collect();
        match plan_up(&source, &applied, to, out_of_order) {
            Ok(plan) => {
                let got: Vec<i64> = plan.iter().map(|m| m.version).collect();
                // Exactly the pending ones, ascending (so none twice).
                prop_assert_eq!(&got, &pending);
                prop_assert!(got.windows(2).all(|w| w[0] < w[1]));
                if !out_of_order {
                    prop_assert!(got.iter().all(|v| newest.is_none_or(|n| *v > n)));
                }
            }
            Err(e) => match e.problem {
                Problem::OutOfOrder => {
                    prop_assert!(!out_of_order);
                    prop_assert!(pending.iter().any(|v| newest.is_some_and(|n| *v < n)));
                }
                // `--to` naming no migration.
                _ => prop_assert!(to.is_some_and(|t| !spec.contains_key(&t)), "{}", e.message),
            },
        }
    }

    #[test]
    fn down_plans_are_the_exact_reverse_of_what_is_applied(spec in spec(), steps in 0usize..20, to in 0i64..60) {
        let (source, applied) = world(&spec);
        let newest_first: Vec<i64> = applied.iter().rev().map(|a| a.version).collect();
        for (target, expected) in [
            (DownTarget::Steps(steps), newest_first.iter().copied().take(steps).collect::<Vec<_>>()),
            (DownTarget::To(to), newest_first.iter().copied().take_while(|v| *v > to).collect()),
        ] {
            let known = match target {
                DownTarget::To(v) => v == 0 || spec.contains_key(&v),
                DownTarget::Steps(_) => true,
            };
            match plan_down(&source, &applied, target) {
                Ok(plan) => {
                    prop_assert!(known);
                    prop_assert_eq!(plan.iter().map(|m| m.version).collect::<Vec<_>>(), expected);
                }
                // Refused only for a reason: an unknown target, or an irreversible one in the way.
                Err(e) => prop_assert!(
                    !known || expected.iter().any(|v| !spec[v].0),
                    "{:?} refused: {}", target, e.message
                ),
            }
        }
    }

    #[test]
    fn up_then_down_by_as_many_steps_comes_back(spec in spec()) {
        let (source, applied) = world(&spec);
        let Ok(plan) = plan_up(&source, &applied, None, true) else { return Ok(()) };
        let planned: Vec<i64> = plan.iter().map(|m| m.version).collect();
        // The history after the run: everything, in version order.
        let all: BTreeMap<i64, (bool, bool)> = spec.iter().map(|(v, (r, _))| (*v, (*r, true))).collect();
        let (source, after) = world(&all);
        if let Ok(down) = plan_down(&source, &after, DownTarget::Steps(after.len())) {
            let mut everything: Vec<i64> = down.iter().map(|m| m.version).collect();
            everything.reverse();
            prop_assert_eq!(everything, all.keys().copied().collect::<Vec<_>>());
            prop_assert!(planned.iter().all(|v| all.contains_key(v)));
        }
    }

    #[test]
    fn the_splitter_keeps_its_promises(pieces in prop::collection::vec(prop::sample::select(PIECES), 0..40)) {
        let sql = pieces.concat();
        for dialect in [Dialect::Postgres, Dialect::MySql, Dialect::Sqlite] {
            split_props::check(&sql, dialect);
        }
    }
}

/// What makes splitting hard: quotes of each kind and their escapes, comments (nested on
/// PostgreSQL, `#` on MySQL, executable `/*!` ones), dollar quotes, blocks whose `;` do not end
/// the statement, and characters of more than one byte.
const PIECES: &[&str] = &[
    "SELECT 1",
    "x",
    " ",
    "\n",
    ";",
    "'",
    "''",
    "\"",
    "`",
    "\\",
    "e'",
    "E'a\\'b'",
    "--",
    "-- c\n",
    "#",
    "/*",
    "*/",
    "/*!",
    "$$",
    "$a$",
    "$1",
    "BEGIN",
    "ATOMIC",
    "END",
    "CASE",
    "CREATE TRIGGER t",
    "é",
    "日本",
    "\u{feff}",
    "\u{a0}",
    "\x0b",
];
