//! Renumbering pending migrations after reading every environment's history.

use super::squash::read_problem;
use super::*;

/// What `squash` and `rebase` must read besides the environments: each fleet whose databases are
/// not environments (a pattern's or a file's). They cannot be read here, so each stands as an
/// environment that cannot be read: the run refuses, unless a person who knows that fleet has none
/// of the migrations applied leaves it out (`--skip "fleet NAME"`). Otherwise a member that applied
/// a renamed file would later fail, and be told to run it again.
pub fn unread_fleets(p: &project::Project) -> Vec<(String, Result<Session>)> {
    p.config
        .fleet
        .iter()
        .filter(|(_, f)| f.envs.is_none())
        .map(|(name, _)| {
            let why = Error::input(format!(
                "fleet {name}'s databases are not environments, and squash and rebase read environments only"
            ));
            (format!("fleet {name}"), Err(why))
        })
        .collect()
}

/// What `rebase` did (or would), and which environments it checked.
#[derive(ts_rs::TS, Debug, Clone, serde::Serialize)]
#[ts(export)]
pub struct RebaseOutcome {
    pub plan: crate::migration::rebase::RebasePlan,
    /// The environments whose history was read.
    pub checked: Vec<String>,
    /// Environments left out on purpose (`--skip`) because they could not be read.
    pub skipped: Vec<String>,
    pub dry_run: bool,
    /// Where settled files are pending, and how a run there applies them.
    pub settled_pending: Vec<SettledPending>,
}

/// An environment where files of a settled conflict are pending.
#[derive(ts_rs::TS, Debug, Clone, serde::Serialize)]
#[ts(export)]
pub struct SettledPending {
    pub env: String,
    pub files: Vec<String>,
    /// A newer migration is applied there: only a run out of order applies them.
    pub out_of_order: bool,
}

/// Renumbers the migrations in the way of a conflict or out of order to follow the newest one,
/// after reading every environment's history: one that has any of them applied refuses it, and
/// one that cannot be read refuses it too unless it is in `skip`.
pub async fn rebase(
    migrations: &Path,
    envs: Vec<(String, Result<Session>)>,
    skip: &[String],
    dry_run: bool,
) -> Result<RebaseOutcome> {
    use crate::migration::rebase;
    let source = Source::load(migrations)?;
    let reads = Reads::histories(envs, skip).await?;
    let rows = || reads.read.iter().flat_map(|(_, (_, rows))| rows.iter());
    let applied = rows().map(|a| a.version).collect();
    let sums = rows().map(|a| (a.version, a.checksum.clone())).collect();
    let plan = rebase::plan(&source, &applied, &sums, chrono::Utc::now())?;
    refuse_unread(&plan, reads.unread)?;
    let settled_pending = reads
        .read
        .iter()
        .filter_map(|(env, (_, rows))| {
            let here: std::collections::BTreeSet<i64> = rows.iter().map(|a| a.version).collect();
            let waiting: Vec<&MigrationFile> = source
                .migrations
                .iter()
                .filter(|m| plan.settled.contains(&m.file_name()) && !here.contains(&m.version))
                .collect();
            let newest = here.iter().max().copied();
            (!waiting.is_empty()).then(|| SettledPending {
                env: env.clone(),
                files: waiting.iter().map(|m| m.file_name()).collect(),
                out_of_order: waiting.iter().any(|m| newest.is_some_and(|n| m.version < n)),
            })
        })
        .collect();
    let (checked, skipped) = (reads.read.into_iter().map(|(n, _)| n).collect(), reads.skipped);
    if !dry_run {
        rebase::apply(&plan, migrations)?;
    }
    Ok(RebaseOutcome { plan, checked, skipped, dry_run, settled_pending })
}

/// A rebase that renames something refuses while an environment's history is unread: renaming a
/// migration it has applied would run it again there.
fn refuse_unread(plan: &crate::migration::rebase::RebasePlan, unread: Vec<(String, Error)>) -> Result<()> {
    match unread.into_iter().next() {
        Some((name, e)) if !plan.renames.is_empty() => Err(Error::new(
            read_problem(e.problem),
            format!(
                "cannot read the history of {name} ({}): rebase reads every environment first, since renaming a \
                 migration {name} has applied would run it again there. Nothing was renamed.",
                e.message
            ),
        )
        .with_remedy(Remedy::SkipEnv { env: name, squash_to: None })),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::migration::rebase::{RebasePlan, Rename};

    #[test]
    fn an_unread_environment_stops_a_rebase_only_when_something_moves() {
        let down = || vec![("prod".to_string(), Error::new(Problem::AuthRefused, "refused"))];
        assert!(refuse_unread(&RebasePlan::default(), down()).is_ok(), "nothing renamed: nothing to fear");
        let moves = RebasePlan {
            renames: vec![Rename {
                version: 3,
                new_version: 9,
                from: vec!["3_a.sql".into()],
                to: vec!["9_a.sql".into()],
                why: "out of order".into(),
                relinked: false,
            }],
            after: Some(8),
            settled: Vec::new(),
        };
        let e = refuse_unread(&moves, down()).unwrap_err();
        assert_eq!(e.remedies, vec![Remedy::SkipEnv { env: "prod".into(), squash_to: None }]);
        assert_eq!(e.problem, read_problem(Problem::AuthRefused));
        assert!(refuse_unread(&moves, Vec::new()).is_ok());
    }
}
