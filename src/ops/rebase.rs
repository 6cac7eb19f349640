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

/// `--skip` names that are not environments (a typo would leave out nothing, silently).
pub(super) fn unknown_skips<T>(envs: &[(String, T)], skip: &[String]) -> Result<()> {
    match skip.iter().find(|n| !envs.iter().any(|(e, _)| e == *n)) {
        Some(n) => Err(Error::not_found(Named::Environment, format!("there is no environment `{n}` to skip"))),
        None => Ok(()),
    }
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
    let mut applied = std::collections::BTreeSet::new();
    let (mut checked, mut unreachable, mut skipped) = (Vec::new(), Vec::new(), Vec::new());
    unknown_skips(&envs, skip)?;
    for (name, session) in envs {
        let read = match session {
            Ok(s) => s.reading(|db| db.applied()).await,
            Err(e) => Err(e),
        };
        match read {
            Ok(rows) => {
                applied.extend(rows.iter().map(|a| a.version));
                checked.push(name);
            }
            // Left out only when it cannot be read: one that can is always checked.
            Err(_) if skip.contains(&name) => skipped.push(name),
            Err(e) => unreachable.push((name, e.problem, e.message)),
        }
    }
    let plan = rebase::plan(&source, &applied, chrono::Utc::now())?;
    if !plan.renames.is_empty()
        && let Some((name, problem, why)) = unreachable.first()
    {
        return Err(Error::new(
            read_problem(problem.clone()),
            format!(
                "cannot read the history of {name} ({why}): rebase reads every environment first, since renaming a \
                 migration {name} has applied would run it again there. Nothing was renamed."
            ),
        )
        .with_remedy(Remedy::SkipEnv { env: name.clone(), squash_to: None }));
    }
    if !dry_run {
        rebase::apply(&plan, migrations)?;
    }
    Ok(RebaseOutcome { plan, checked, skipped, dry_run })
}
