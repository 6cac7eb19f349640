//! `resolve`: a person says how a migration left part way ended. Their word is compared with the
//! live schema before the history takes it: a false "I undid it" left leftovers that the next run
//! failed on, with every check clean.

use super::*;
use crate::error::Resolution;
use crate::migration::amend;
use crate::schema::{Change, ObjectKind, Schema};

/// What a person says of a migration left part way (or of an applied one whose file is gone).
#[derive(Debug, Clone, Copy)]
pub struct Resolving {
    pub version: i64,
    /// Finished by hand (it counts as applied), rather than undone.
    pub applied: bool,
    /// Taken on the person's word: the schema is not compared.
    pub unchecked: bool,
}

/// Clears a failed migration after a person fixed the database by hand. Unless `unchecked`, the live
/// schema must first be what the applied migrations make with it (finished) or without it (undone),
/// built on a scratch database beside the environment's; otherwise nothing is marked and the
/// differences are named.
pub async fn resolve(s: &Session, r: Resolving, how: Amending<'_>, cancel: &Cancel) -> Result<String> {
    let dry_run = how.dry_run(s)?;
    let source = s.source()?;
    let mut db = s.open(false).await?;
    let read = async {
        // What is wrong with the request is said before anything is built.
        amend::resolve(db.as_mut(), &source, r.version, r.applied, s.lock_timeout, true).await?;
        let in_down = status::failed_rolling_back(db.as_mut(), r.version).await;
        Ok::<_, Error>((db.applied().await?, db.inspect().await?, in_down))
    }
    .await;
    db.close().await;
    let (applied, live, in_down) = read?;
    // An applied migration whose file is gone is only forgotten: what it made stays.
    let forgetting = applied.iter().any(|a| a.version == r.version && a.success);
    let compared = match r.unchecked || forgetting {
        true => None,
        false => Some(borne_out(s, &source, &applied, r, in_down, &live, cancel).await?),
    };
    let mut db = s.open(false).await?;
    let done = amend::resolve(db.as_mut(), &source, r.version, r.applied, s.lock_timeout, dry_run).await;
    db.close().await;
    let done = done?;
    Ok(match compared {
        Some(others) if others.is_empty() => {
            format!("{done} The schema is what the applied migrations make {}.", with(r.applied))
        }
        Some(others) => format!(
            "{done} What it makes is as said; {} other object(s) differ from what the applied migrations make, \
             changed by hand ({}).",
            others.len(),
            crate::schema::listed(&others)
        ),
        None if r.unchecked => format!("{done} The schema was not compared."),
        None => done,
    })
}

fn with(applied: bool) -> &'static str {
    if applied { "with it" } else { "without it" }
}

/// Refuses `r` unless `live` is what the applied migrations make with `r.version` (finished) or
/// without it (undone), for the objects it makes; returns the other objects that differ. Where it
/// ran last, both are built on one scratch database, so the migration's own objects are known and a
/// person who said the wrong one is told the other holds; otherwise every difference counts.
async fn borne_out(
    s: &Session,
    source: &Source,
    applied: &[db::Applied],
    r: Resolving,
    in_down: bool,
    live: &Schema,
    cancel: &Cancel,
) -> Result<Vec<Change>> {
    // In the order they ran here, as `drift` replays them.
    let mut ran: Vec<&db::Applied> = applied.iter().filter(|a| a.success || a.version == r.version).collect();
    ran.sort_by_key(|a| (a.installed_on, a.version));
    let last = ran.last().map(|a| a.version) == Some(r.version);
    let before: Vec<i64> = ran.iter().map(|a| a.version).filter(|v| *v != r.version).collect();
    let every: Vec<i64> = ran.iter().map(|a| a.version).collect();
    let file = source.get(r.version).map(|m| m.file_name()).unwrap_or_else(|| r.version.to_string());
    let its_up_fails = |m: &MigrationFile, e: Error| match m.version == r.version {
        true => Error::failed(format!(
            "{} fails on a scratch database too: {}\nIts file does not say what was finished by hand: make it say \
             what was done there, then resolve again",
            m.file_name(),
            e.message
        )),
        false => Error::failed(format!("replaying {} on a scratch database failed: {}", m.file_name(), e.message)),
    };

    let (scratch, mut db) = open_scratch(s).await?;
    // What the applied migrations make as said (`claimed`), and the other way where it can be built.
    let built = async {
        if !last {
            // Run before others: only the way said is built, in the order they ran.
            let versions = if r.applied { &every } else { &before };
            verify::replay_as(db.as_mut(), source, versions, cancel, &its_up_fails).await?;
            return Ok((Ok(db.inspect().await?), None));
        }
        verify::replay_as(db.as_mut(), source, &before, cancel, &its_up_fails).await?;
        let without = db.inspect().await?;
        let with_it = match verify::replay_as(db.as_mut(), source, &[r.version], cancel, &its_up_fails).await {
            Ok(()) => db.inspect().await,
            Err(e) if e.problem == Problem::Cancelled => return Err(e),
            Err(e) => Err(e),
        };
        Ok(match r.applied {
            true => (with_it, Some(Ok(without))),
            false => (Ok(without), Some(with_it)),
        })
    }
    .await;
    let unchecked = Remedy::ResolveUnchecked {
        version: r.version,
        outcome: if r.applied { Resolution::Applied } else { Resolution::RolledBack },
        in_down,
    };
    let not_compared = |mut e: Error| {
        if e.problem != Problem::Cancelled {
            e.message = format!(
                "Nothing was marked: the schema could not be compared with what the applied migrations make {}. {}",
                with(r.applied),
                e.message
            );
            e = e.with_remedy(unchecked.clone());
        }
        e
    };
    let (claimed, other): (Result<Schema>, Option<Result<Schema>>) =
        close_scratch(scratch, db, built).await.map_err(not_compared)?;
    let claimed = claimed.map_err(not_compared)?;
    let off = crate::schema::compare(&claimed, live).changes;
    // Where the other way was built, only the objects the migration makes decide: another hand
    // change is drift, for `drift` to show, not a reason to doubt the person.
    let other = other.and_then(|o| o.ok());
    let own: Option<Vec<(ObjectKind, String)>> =
        other.as_ref().map(|o| crate::schema::diff(&claimed, o).into_iter().map(|c| (c.kind, c.name)).collect());
    let (its, not_its): (Vec<Change>, Vec<Change>) = match &own {
        Some(own) => off.into_iter().partition(|c| own.contains(&(c.kind, c.name.clone()))),
        None => (off, Vec::new()),
    };
    if its.is_empty() {
        return Ok(not_its);
    }
    let other_holds = other.zip(own).is_some_and(|(o, own)| {
        !crate::schema::compare(&o, live).changes.iter().any(|c| own.contains(&(c.kind, c.name.clone())))
    });
    let (said, fix) = match (r.applied, in_down) {
        (false, false) => ("undone", "Undo what is left of it by hand"),
        (true, false) => ("finished", "Finish it by hand as its file says (or make its file say what was done there)"),
        (false, true) => ("rolled back", "Finish its rollback by hand as its down says"),
        (true, true) => ("put back", "Put back by hand what its down removed"),
    };
    let hint = match (other_holds, r.applied) {
        (true, false) => " It is what they make with it: it looks finished, not undone.",
        (true, true) => " It is what they make without it: it looks undone, not finished.",
        (false, _) => "",
    };
    let mut e = Error::new(
        Problem::NotAsResolved { version: r.version },
        format!(
            "Nothing was marked: {file} was said to be {said}, but the schema is not what the applied migrations \
             make {} ({}).{hint} {fix} and resolve again; or, if these differences are not its, mark it all the same.",
            with(r.applied),
            crate::schema::listed(&its)
        ),
    );
    if other_holds {
        let outcome = if r.applied { Resolution::RolledBack } else { Resolution::Applied };
        e = e.with_remedy(Remedy::Resolve { version: r.version, outcomes: vec![outcome], in_down });
    }
    Err(e.with_remedy(unchecked))
}
