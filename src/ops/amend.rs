//! Changes to the history a person asks for: `repair` (an applied file was edited) and `resolve`
//! (a migration left part way was finished or undone by hand). The person's word is compared with
//! the live schema before the history takes it: a false "I undid it" left leftovers the next run
//! failed on, and an accepted edit that changed what the file makes left every check clean.

use super::*;
use crate::error::Resolution;
use crate::migration::amend;
use crate::schema::{Change, ObjectKind, Schema};

/// An edited applied file a person accepts.
#[derive(Debug, Clone, Copy)]
pub struct Repairing<'a> {
    pub version: i64,
    /// Why it was edited, for the log.
    pub reason: &'a str,
    /// Taken on the person's word: the schema is not compared.
    pub unchecked: bool,
}

/// What a person says of a migration left part way (or of an applied one whose file is gone).
#[derive(Debug, Clone, Copy)]
pub struct Resolving {
    pub version: i64,
    /// Finished by hand (it counts as applied), rather than undone.
    pub applied: bool,
    /// Taken on the person's word: the schema is not compared.
    pub unchecked: bool,
}

/// Accepts the edited file of an applied migration (a protected environment asks for its name).
/// Unless `unchecked`, what the applied migrations make with the edited file must be what the
/// database has, for the objects the file makes: an edit that changes them is refused, since the
/// database keeps what the file made when it ran.
pub async fn repair(s: &Session, r: Repairing<'_>, how: Amending<'_>, cancel: &Cancel) -> Result<String> {
    let dry_run = how.dry_run(s)?;
    let source = s.source()?;
    let mut db = s.open(false).await?;
    let read = async {
        // What is wrong with the request is said before anything is built.
        amend::repair(db.as_mut(), &source, r.version, r.reason, s.lock_timeout, true).await?;
        Ok::<_, Error>((db.applied().await?, db.inspect().await?))
    }
    .await;
    db.close().await;
    let (applied, live) = read?;
    let compared = match r.unchecked {
        true => None,
        false => Some(repair_borne_out(s, &source, &applied, r, &live, cancel).await?),
    };
    let mut db = s.open(false).await?;
    let done = amend::repair(db.as_mut(), &source, r.version, r.reason, s.lock_timeout, dry_run).await;
    db.close().await;
    let done = done?;
    Ok(match compared {
        Some(others) if others.is_empty() => format!("{done} What it makes is what the database has."),
        Some(others) => format!(
            "{done} What it makes is what the database has; {} other object(s) differ from what the applied \
             migrations make ({}).",
            others.len(),
            crate::schema::listed(&others)
        ),
        None => format!("{done} The schema was not compared."),
    })
}

/// Refuses an edit that changes what the file makes; returns the other objects that differ.
async fn repair_borne_out(
    s: &Session,
    source: &Source,
    applied: &[db::Applied],
    r: Repairing<'_>,
    live: &Schema,
    cancel: &Cancel,
) -> Result<Vec<Change>> {
    let version = r.version;
    let file = source.get(version).map(|m| m.file_name()).unwrap_or_else(|| version.to_string());
    let unchecked = Remedy::RepairUnchecked { version, reason: r.reason.to_string() };
    let not_compared = |e: Error| not_compared(e, "Nothing was accepted", "with the edited file", &unchecked);
    let built = build(s, source, &ran_here(applied, Some(version)), version, cancel).await.map_err(not_compared)?;
    let with = built.with.map_err(not_compared)?;
    let sql = source.get(version).map(|m| m.sql.as_str()).unwrap_or_default();
    let judged = judge(&with, built.without.ok().as_ref(), live, sql);
    if judged.its.is_empty() {
        return Ok(judged.others);
    }
    Err(Error::new(
        Problem::EditChangesSchema { version },
        format!(
            "Nothing was accepted: the edited {file} makes something else than the database has ({}); the \
             database keeps what the file made when it ran. Put the file back as it was and make the change in a \
             new migration; or accept the edit all the same, knowing the database differs (where it is the newest \
             applied, a redo then rebuilds it).",
            crate::schema::listed(&judged.its)
        ),
    )
    .with_remedy(unchecked))
}

/// `e`, said as why the schema could not be compared (nothing done), with the way to go on without.
fn not_compared(mut e: Error, nothing: &str, way: &str, unchecked: &Remedy) -> Error {
    if e.problem != Problem::Cancelled {
        e.message = format!(
            "{nothing}: the schema could not be compared with what the applied migrations make {way}. {}",
            e.message
        );
        e = e.with_remedy(unchecked.clone());
    }
    e
}

/// What the applied migrations make with one of them and without it.
struct Built {
    with: Result<Schema>,
    without: Result<Schema>,
}

/// `ran` (in order) replayed on a scratch database with `version` and without it. Where it ran
/// last, one scratch database builds both (without it, then it); otherwise each is built on its
/// own, and either may fail (a later migration may need it).
async fn build(s: &Session, source: &Source, ran: &[i64], version: i64, cancel: &Cancel) -> Result<Built> {
    let failed = |m: &MigrationFile, e: Error| match m.version == version {
        true => Error::failed(format!(
            "{} fails on a scratch database: {}",
            m.file_name(),
            db::without_ran_before(&e.message)
        )),
        false => Error::failed(format!(
            "replaying {} on a scratch database failed: {}",
            m.file_name(),
            db::without_ran_before(&e.message)
        )),
    };
    let without_it: Vec<i64> = ran.iter().copied().filter(|v| *v != version).collect();
    if ran.last() != Some(&version) {
        let with = built_alone(s, source, ran, cancel, &failed).await?;
        let without = built_alone(s, source, &without_it, cancel, &failed).await?;
        return Ok(Built { with, without });
    }
    let (scratch, mut db) = open_scratch(s).await?;
    let built = async {
        verify::replay_as(db.as_mut(), source, &without_it, cancel, &s.ws.placeholders, &failed).await?;
        let without = Ok(db.inspect().await?);
        let with = match verify::replay_as(db.as_mut(), source, &[version], cancel, &s.ws.placeholders, &failed).await {
            Ok(()) => db.inspect().await,
            Err(e) if e.problem == Problem::Cancelled => return Err(e),
            Err(e) => Err(e),
        };
        Ok(Built { with, without })
    }
    .await;
    close_scratch(scratch, db, built).await
}

/// `versions` replayed on a scratch database of their own: what they make, or why they do not
/// (a cancel is the outer error).
async fn built_alone(
    s: &Session,
    source: &Source,
    versions: &[i64],
    cancel: &Cancel,
    failed: &(dyn Fn(&MigrationFile, Error) -> Error + Sync),
) -> Result<Result<Schema>> {
    let (scratch, mut db) = open_scratch(s).await?;
    let made: Result<Result<Schema>> =
        match verify::replay_as(db.as_mut(), source, versions, cancel, &s.ws.placeholders, failed).await {
            Err(e) if e.problem == Problem::Cancelled => Err(e),
            Err(e) => Ok(Err(e)),
            Ok(()) => Ok(db.inspect().await),
        };
    close_scratch(scratch, db, made).await
}

/// `live` against `claimed`, where `other` (the schema the other way) tells the migration's own
/// objects (those the two differ in): another hand change is drift, for `drift` to show, not a
/// reason to doubt the person. Without `other`, the objects the migration's `sql` names count.
struct Judged {
    /// The migration's objects that are not as claimed.
    its: Vec<Change>,
    /// Other objects that differ.
    others: Vec<Change>,
    /// The migration's objects are as `other` has them.
    other_holds: bool,
}

fn judge(claimed: &Schema, other: Option<&Schema>, live: &Schema, sql: &str) -> Judged {
    let off = crate::schema::compare(claimed, live).changes;
    let Some(other) = other else {
        // Not buildable the other way: the objects its SQL names stand for its own.
        let (its, others) = off.into_iter().partition(|c| names(sql, &c.name));
        return Judged { its, others, other_holds: false };
    };
    let own: Vec<(ObjectKind, String)> =
        crate::schema::diff(claimed, other).into_iter().map(|c| (c.kind, c.name)).collect();
    let is_own = |c: &Change| own.contains(&(c.kind, c.name.clone()));
    let (its, others): (Vec<Change>, Vec<Change>) = off.into_iter().partition(is_own);
    let other_holds = !crate::schema::compare(other, live).changes.iter().any(is_own);
    Judged { its, others, other_holds }
}

/// Whether `sql` names the object `name` (`schema.table`, `table.index`, `f(int)`): its own last
/// part, as a whole word, case aside.
fn names(sql: &str, name: &str) -> bool {
    let words: std::collections::HashSet<String> = sql
        .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let bare = name.split('(').next().unwrap_or(name);
    let own = bare.rsplit('.').next().unwrap_or(bare).trim_matches(|c| c == '"' || c == '`');
    words.contains(&own.to_lowercase())
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
        false => Some(resolve_borne_out(s, &source, &applied, r, in_down, &live, cancel).await?),
    };
    let mut db = s.open(false).await?;
    let done = amend::resolve(db.as_mut(), &source, r.version, r.applied, s.lock_timeout, dry_run).await;
    db.close().await;
    let done = done?;
    // What the comparison cannot see is said, so the message claims no more than was compared.
    let rows = match forgetting {
        false => rows_unseen(&source, r.version, in_down, s.ws.target.dialect()),
        true => String::new(),
    };
    Ok(match compared {
        Some(others) if others.is_empty() => {
            format!("{done} The schema is what the applied migrations make {}.{rows}", with(r.applied))
        }
        Some(others) => format!(
            "{done} What it makes is as said; {} other object(s) differ from what the applied migrations make, \
             changed by hand ({}).{rows}",
            others.len(),
            crate::schema::listed(&others)
        ),
        None if r.unchecked => format!("{done} The schema was not compared.{rows}"),
        None => done,
    })
}

/// " Rows are not compared: …" where the file that was left part way (its down, for a rollback)
/// writes rows; empty where it does not.
fn rows_unseen(source: &Source, version: i64, in_down: bool, dialect: Dialect) -> String {
    let Some(m) = source.get(version) else { return String::new() };
    let (name, sql) = match in_down {
        true => match m.down_sql_for(Some(dialect)) {
            Ok(sql) => (m.down_name_for(Some(dialect)), sql),
            Err(_) => return String::new(),
        },
        false => (m.file_name(), m.sql.clone()),
    };
    let lines: Vec<String> = verify::row_writing_lines(&sql, dialect).iter().map(|l| l.to_string()).collect();
    match lines.len() {
        0 => String::new(),
        1 => format!(" Rows are not compared: line {} of {name} writes rows; see that they are as said.", lines[0]),
        _ => format!(
            " Rows are not compared: lines {} of {name} write rows; see that they are as said.",
            lines.join(", ")
        ),
    }
}

fn with(applied: bool) -> &'static str {
    if applied { "with it" } else { "without it" }
}

/// Refuses `r` unless `live` is what the applied migrations make with `r.version` (finished) or
/// without it (undone), for the objects it makes; returns the other objects that differ. A person
/// who said the wrong one is told the other holds.
async fn resolve_borne_out(
    s: &Session,
    source: &Source,
    applied: &[db::Applied],
    r: Resolving,
    in_down: bool,
    live: &Schema,
    cancel: &Cancel,
) -> Result<Vec<Change>> {
    let file = source.get(r.version).map(|m| m.file_name()).unwrap_or_else(|| r.version.to_string());
    let unchecked = Remedy::ResolveUnchecked {
        version: r.version,
        outcome: if r.applied { Resolution::Applied } else { Resolution::RolledBack },
        in_down,
    };
    let not_compared = |e: Error| not_compared(e, "Nothing was marked", with(r.applied), &unchecked);
    let built = build(s, source, &ran_here(applied, Some(r.version)), r.version, cancel).await.map_err(not_compared)?;
    let (claimed, other) = match r.applied {
        true => (built.with, built.without),
        false => (built.without, built.with),
    };
    let claimed = claimed.map_err(|e| match r.applied {
        true => not_compared(Error {
            message: format!(
                "{}\nIts file does not say what was finished by hand: make it say what was done there, then \
                 resolve again",
                e.message
            ),
            ..e
        }),
        false => not_compared(e),
    })?;
    let sql = source.get(r.version).map(|m| m.sql.as_str()).unwrap_or_default();
    let judged = judge(&claimed, other.ok().as_ref(), live, sql);
    if judged.its.is_empty() {
        return Ok(judged.others);
    }
    let (said, fix) = match (r.applied, in_down) {
        (false, false) => ("undone", "Undo what is left of it by hand"),
        (true, false) => ("finished", "Finish it by hand as its file says (or make its file say what was done there)"),
        (false, true) => ("rolled back", "Finish its rollback by hand as its down says"),
        (true, true) => ("put back", "Put back by hand what its down removed"),
    };
    let hint = match (judged.other_holds, r.applied) {
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
            crate::schema::listed(&judged.its)
        ),
    );
    if judged.other_holds {
        let outcome = if r.applied { Resolution::RolledBack } else { Resolution::Applied };
        e = e.with_remedy(Remedy::Resolve { version: r.version, outcomes: vec![outcome], in_down });
    }
    Err(e.with_remedy(unchecked))
}

#[cfg(test)]
mod tests {
    use super::names;

    #[test]
    fn an_object_is_named_by_any_part_of_its_name() {
        let sql = "CREATE INDEX posts_published ON posts (user_id);\nALTER TABLE \"Users\" ADD nick text;";
        assert!(names(sql, "posts.posts_published"));
        assert!(names(sql, "public.users"));
        assert!(!names(sql, "public.hand"));
        assert!(!names("ALTER TABLE public.posts ADD c int;", "public.hand"), "not by its schema");
        assert!(!names(sql, "post"), "whole words only");
        assert!(names("SELECT bump(1);", "public.bump(integer)"));
    }
}
