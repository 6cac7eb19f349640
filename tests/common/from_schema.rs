//! `new --from-schema` in tests: the plan from a project's migrations to a wanted schema.

use godwit::db::Dialect;
use godwit::migration::runner::Cancel;
use godwit::ops::{self, FromSchema};
use godwit::schema::generate::RefusalKind;

use super::TestDb;

/// The plan from `migrations` (one up each, with no down: only the generated one has a down to
/// prove) to `wanted`.
pub async fn plan(dialect: Dialect, migrations: &[&str], wanted: &str) -> (TestDb, FromSchema) {
    let t = TestDb::new(dialect).await;
    for (i, up) in migrations.iter().enumerate() {
        t.write(&format!("{}_m.sql", i + 1), up);
    }
    let file = t.dir.path().join("schema.sql");
    std::fs::write(&file, wanted).unwrap();
    let p = ops::plan_from_schema(&t.session(), &file, &Cancel::default())
        .await
        .unwrap_or_else(|e| panic!("{}: {}", wanted, e.message));
    (t, p)
}

pub fn kinds(p: &FromSchema) -> Vec<RefusalKind> {
    p.refusals.iter().map(|r| r.why).collect()
}

/// Each pair `(what, change)` added to `base` is generated, proven and writable without consent.
pub async fn each_proven(dialect: Dialect, base: &str, pairs: &[(&str, &str)]) {
    for (what, change) in pairs {
        let (_t, p) = plan(dialect, &[base], &format!("{base}\n{change}\n")).await;
        assert!(!p.changes.is_empty(), "{what}: something to do");
        assert!(p.refusals.is_empty(), "{what}: {:?}\n{}", p.refusals, p.up.join(";\n"));
        assert_eq!(p.unproven, None, "{what}:\nup:\n{}\ndown:\n{}", p.up.join(";\n"), p.down.join(";\n"));
        p.writable(false).unwrap_or_else(|e| panic!("{what}: {}", e.message));
    }
}

/// Each pair `(what, old, new)`: `base` with `old` made `new` is generated, proven and writable
/// without consent.
pub async fn each_replaced(dialect: Dialect, base: &str, pairs: &[(&str, &str, &str)]) {
    for (what, old, new) in pairs {
        assert!(base.contains(old), "{what}: {old} is in the base");
        let (_t, p) = plan(dialect, &[base], &base.replace(old, new)).await;
        assert!(!p.changes.is_empty(), "{what}: something to do");
        assert!(p.refusals.is_empty(), "{what}: {:?}\n{}", p.refusals, p.up.join(";\n"));
        assert_eq!(p.unproven, None, "{what}:\nup:\n{}\ndown:\n{}", p.up.join(";\n"), p.down.join(";\n"));
        p.writable(false).unwrap_or_else(|e| panic!("{what}: {}", e.message));
    }
}

/// Each `(what, old, new, refusal)`: refused for that reason; where the reason is data lost,
/// proven and writable with consent.
pub async fn each_refused(dialect: Dialect, base: &str, pairs: &[(&str, &str, &str, RefusalKind)]) {
    for (what, old, new, why) in pairs {
        assert!(base.contains(old), "{what}: {old} is in the base");
        let (t, p) = plan(dialect, &[base], &base.replace(old, new)).await;
        assert_eq!(kinds(&p), [*why], "{what}: {:?}", p.refusals);
        assert_eq!(p.writable(false).unwrap_err().problem, godwit::Problem::Input, "{what}");
        if *why == RefusalKind::Destructive {
            assert_eq!(p.unproven, None, "{what}:\nup:\n{}\ndown:\n{}", p.up.join(";\n"), p.down.join(";\n"));
            assert_eq!(ops::write_from_schema(&t.session(), "change", &p, true).unwrap().len(), 2, "{what}");
        } else {
            assert!(ops::write_from_schema(&t.session(), "change", &p, true).is_err(), "{what}");
        }
    }
}

/// `up` over the project's migrations folder as it is now, as a run reports it.
pub async fn up(t: &TestDb) -> godwit::migration::runner::RunReport {
    let source = godwit::migration::source::Source::load(&t.migrations()).unwrap();
    let mut db = t.connect().await;
    let run =
        godwit::migration::runner::up(db.as_mut(), &source, None, &Default::default(), &mut |_| {}).await.unwrap();
    db.close().await;
    run
}
