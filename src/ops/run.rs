//! Runs: the preview, the run under its guard, fleets, and the fixes a failed run offers.

use super::*;

/// Exactly the SQL a run would send, without running it. (A redo previews its rollback.)
pub async fn preview(
    s: &Session,
    work: Work,
    allow_out_of_order: bool,
    others: impl FnOnce() -> Result<Envs>,
) -> Result<RunReport> {
    let source = s.source()?;
    let dialect = s.ws.target.dialect();
    // What the run would refuse, the preview says.
    if let Some(e) = db::refused_waits(s.ws.target.dialect(), &s.waits, &s.ws.target.display()) {
        return Err(e);
    }
    let any = !source.repeatables.is_empty();
    let (applied, unreadable, records) = s
        .reading(|db| {
            Box::pin(async move {
                crate::backup::ensure_restored(db).await?;
                let views = db.broken_views().await.unwrap_or_default();
                let records = runner::recorded_repeatables(db, any).await?;
                let unreadable = views.into_iter().filter(|v| v.blocks_backup).collect::<Vec<_>>();
                Ok((db.applied().await?, unreadable, records))
            })
        })
        .await?;
    let up = matches!(work, Work::Up(_));
    let elsewhere = match up && !allow_out_of_order {
        true => refuse_order_conflicts(s, &source, &applied, others).await?,
        false => check::Elsewhere::default(),
    };
    let mut report = match work {
        Work::Up(to) => {
            let ws = &s.ws;
            runner::preview_up(&source, &applied, &records, to, allow_out_of_order, Some(dialect), &ws.placeholders)
        }
        Work::Down(target) => runner::preview_down(&source, &applied, target, dialect, &s.ws.placeholders),
        Work::Redo => runner::preview_down(&source, &applied, DownTarget::Steps(1), dialect, &s.ws.placeholders),
    }?;
    // A file that cannot be split would be refused by the run: the preview says so rather than
    // that it "would run".
    runner::scripts(&report.planned, s.ws.target.dialect())?;
    report.database = s.ws.target.display();
    if up {
        report.warnings = check::warnings(&source, &applied, &elsewhere);
    }
    // What a run applies is linted: an up's pending ones, a redo's one applied again.
    if up || matches!(work, Work::Redo) {
        report.findings = findings_of(s, &source, &report.planned);
    }
    report.guard = Guard::for_run(&s.ws, &report.findings);
    report.waits = s.waits;
    report.waits_said = s.waits.describe();
    // Said before the name is typed: the backup the run takes first would be refused.
    if report.guard.backup.is_some() && !report.planned.is_empty() {
        for v in unreadable {
            report.warnings.push(crate::event::Warning {
                kind: crate::event::WarningKind::BrokenView,
                message: format!(
                    "the backup this run takes first will fail: view {} no longer reads ({}); fix it by hand first \
                     (`check` says how)",
                    v.name, v.why
                ),
            });
        }
    }
    Ok(report)
}

/// The migrations' versions of a plan (not its repeatable files).
fn versions(planned: &[runner::Step]) -> Vec<i64> {
    planned.iter().filter(|p| !p.repeatable).map(|p| p.version).collect()
}

/// What `lint` finds in the ups of the migrations (and the repeatable files) a run would apply
/// (their downs are not part of it).
fn findings_of(s: &Session, source: &Source, planned: &[runner::Step]) -> Vec<lint::Finding> {
    let versions = versions(planned);
    let repeatables = planned.iter().filter(|p| p.repeatable).filter_map(|p| source.repeatable(&p.file));
    let files: Vec<&MigrationFile> = versions.iter().filter_map(|v| source.get(*v)).chain(repeatables).collect();
    let names: Vec<String> = files.iter().map(|m| m.file_name()).collect();
    // What ran before them: the views they may break.
    let newest = versions.iter().max().copied().unwrap_or_default();
    let before: Vec<&MigrationFile> =
        source.migrations.iter().filter(|m| m.version < newest && !versions.contains(&m.version)).collect();
    lint::lint(&files, &before, &s.ws.migrations, s.ws.target.dialect(), &s.lint)
        .findings
        .into_iter()
        .filter(|f| std::path::Path::new(&f.file).file_name().is_some_and(|n| names.iter().any(|m| m.as_str() == n)))
        .collect()
}

/// A run a person asked for.
#[derive(Debug, Clone)]
pub struct RunRequest {
    pub work: Work,
    pub allow_out_of_order: bool,
    /// Back up first (a protected environment always does).
    pub backup: bool,
    /// Verify that backup in a scratch database first.
    pub verify: bool,
    /// The plan the person saw: anything else and nothing runs.
    pub expect: Option<Vec<Seen>>,
    /// The database that plan was made for (a saved plan says): any other and nothing runs.
    pub expect_database: Option<String>,
    /// What the person typed to confirm a protected environment.
    pub confirm: Option<String>,
    /// The person read the lint errors in what would run, and wants it to run anyway.
    pub acknowledge_lint: bool,
}

impl RunRequest {
    pub fn new(work: Work) -> RunRequest {
        RunRequest {
            work,
            allow_out_of_order: false,
            backup: false,
            verify: false,
            expect: None,
            expect_database: None,
            confirm: None,
            acknowledge_lint: false,
        }
    }
}

/// Applies, rolls back or redoes, under the lock, with the backup asked for (or required) taken
/// once the plan is known. A failure after a backup names it (in the error, or in the report's
/// failure). A redo returns its rollback and, when that went through, its apply.
pub async fn run(
    s: &Session,
    req: RunRequest,
    cancel: &Cancel,
    on_run: &mut (dyn FnMut(&RunEvent) + Send),
    on_backup: &(dyn Fn(&BackupEvent) + Send + Sync),
    others: impl FnOnce() -> Result<Envs>,
) -> Result<(RunReport, Option<RunReport>)> {
    let confirmed = Confirmation { typed: req.confirm.clone(), lint_acknowledged: req.acknowledge_lint };
    // The name first, before anything connects; the lint errors once it is known what would run.
    Guard::for_run(&s.ws, &[]).enforce(&confirmed)?;
    let here = s.ws.target.display();
    if let Some(there) = req.expect_database.as_ref().filter(|d| !d.is_empty() && **d != here) {
        return Err(Error::new(
            Problem::PlanChanged,
            format!("the plan was made for {there}, not for {here}, so nothing was run."),
        )
        .with_remedy(Remedy::Preview));
    }
    let source = s.source()?;
    let opts = RunOptions {
        lock_timeout: s.lock_timeout,
        stall_timeout: s.connect.stall_timeout,
        allow_out_of_order: req.allow_out_of_order,
        cancel: cancel.clone(),
        expect: req.expect,
        waits: s.waits,
        placeholders: s.ws.placeholders.clone(),
    };
    let mut first = BackupFirst {
        ws: &s.ws,
        store: s.store()?,
        keep: s.keep,
        wanted: req.backup,
        verify: req.verify,
        cancel,
        on: on_backup,
        taken: None,
    };
    let dialect = s.ws.target.dialect();
    let values = &opts.placeholders;
    // Opening a SQLite file that does not exist yet makes it: a saved plan that no longer holds, or
    // a placeholder with no value, is refused first, so the refusal leaves no empty file behind.
    if let (Work::Up(to), true) = (req.work, s.ws.target.is_unborn()) {
        let none = Default::default();
        let planned =
            runner::preview_up(&source, &[], &none, to, req.allow_out_of_order, Some(dialect), values)?.planned;
        if let Some(seen) = &opts.expect {
            runner::expect_plan(seen, &planned)?;
        }
    }
    let mut db = s.open(matches!(req.work, Work::Up(_))).await?;
    let guarded = async {
        let applied = db.applied().await?;
        let records = runner::recorded_repeatables(db.as_mut(), !source.repeatables.is_empty()).await?;
        // A plan that cannot be made is the run's to report, with its remedies; a placeholder with
        // no value is refused here, before the lock or the history tables are touched.
        let ooo = req.allow_out_of_order;
        let planned = match req.work {
            Work::Up(to) => runner::preview_up(&source, &applied, &records, to, ooo, Some(dialect), values),
            Work::Down(target) => runner::preview_down(&source, &applied, target, dialect, values),
            Work::Redo => runner::preview_down(&source, &applied, DownTarget::Steps(1), dialect, values),
        };
        let planned = match planned {
            Err(e)
                if matches!(
                    e.problem,
                    Problem::UnsetPlaceholders { .. } | Problem::Keyring | Problem::ServerChanged
                ) =>
            {
                return Err(e);
            }
            planned => planned,
        };
        if !s.ws.protected || matches!(req.work, Work::Down(_)) {
            return Ok(());
        }
        let applies = planned.map(|r| r.planned).unwrap_or_default();
        Guard::for_run(&s.ws, &findings_of(s, &source, &applies)).enforce(&confirmed)
    };
    if let Err(e) = guarded.await {
        db.close().await;
        return Err(e);
    }
    let mut elsewhere = check::Elsewhere::default();
    if matches!(req.work, Work::Up(_)) && !req.allow_out_of_order {
        let refused = match db.applied().await {
            Ok(applied) => refuse_order_conflicts(s, &source, &applied, others).await,
            Err(e) => Err(e),
        };
        match refused {
            Ok(read) => elsewhere = read,
            Err(e) => {
                db.close().await;
                return Err(e);
            }
        }
    }
    let result = run_on(s, db.as_mut(), &source, req.work, &opts, &mut first, &elsewhere, on_run).await;
    // Bounded: over a connection the server stopped answering, a polite close would wait for ever.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), db.close()).await;
    let (mut report, mut then) = result?;
    // The backup is offered only once the database changed: a failure that changed nothing needs
    // no restore, and a restore would lose what was written since the backup.
    let mut changed = false;
    for r in std::iter::once(&mut report).chain(then.as_mut()) {
        let part_way =
            r.failure.as_ref().is_some_and(|e| e.remedies.iter().any(|x| matches!(x, Remedy::Resolve { .. })));
        changed |= !r.done.is_empty() || part_way;
        if changed {
            r.failure = r.failure.take().map(|e| first.hint(e));
        }
        r.database = s.ws.target.display();
        r.backup = first.taken.as_ref().map(|b| b.id.clone());
    }
    Ok((report, then))
}

/// The run itself on an open connection: the warnings before it, the migrations, and the schema
/// file after it.
#[allow(clippy::too_many_arguments)] // each is the caller's, read once here
async fn run_on(
    s: &Session,
    db: &mut dyn Database,
    source: &Source,
    work: Work,
    opts: &RunOptions,
    first: &mut BackupFirst<'_>,
    elsewhere: &check::Elsewhere,
    on_run: &mut (dyn FnMut(&RunEvent) + Send),
) -> Result<(RunReport, Option<RunReport>)> {
    let warnings = match work {
        Work::Up(_) => check::warnings(source, &db.applied().await?, elsewhere),
        _ => Vec::new(),
    };
    for w in &warnings {
        on_run(&RunEvent::Warning { warning: w.clone() });
    }
    let broken_before = broken_views(db).await;
    let (mut report, mut then) = runner::execute(db, source, work, opts, first, on_run).await?;
    for r in std::iter::once(&mut report).chain(then.as_mut()) {
        if let Some(e) = r.failure.as_mut() {
            said_undone_before(db, e).await;
        }
    }
    for r in std::iter::once(&mut report).chain(then.as_mut()) {
        r.warnings.splice(0..0, warnings.iter().cloned());
    }
    if !report.done.is_empty() || then.as_ref().is_some_and(|t| !t.done.is_empty()) {
        let left = left_unreadable(db, &broken_before).await;
        for w in &left {
            on_run(&RunEvent::Warning { warning: w.clone() });
        }
        then.as_mut().unwrap_or(&mut report).warnings.extend(left);
    }
    let last = then.as_mut().unwrap_or(&mut report);
    if let Some(file) = &s.schema_file
        && last.failure.is_none()
        && !last.done.is_empty()
        && let Err(e) = write_schema_file(db, file).await
    {
        let warning = crate::event::Warning { kind: crate::event::WarningKind::SchemaFile, message: e.message };
        on_run(&RunEvent::Warning { warning: warning.clone() });
        last.warnings.push(warning);
    }
    Ok((report, then))
}

/// A migration that fails again after a person said they undid it by hand: what that earlier run
/// left (rows, say, which `resolve` cannot compare) may be what fails, not its file.
async fn said_undone_before(db: &mut dyn Database, e: &mut Error) {
    let Problem::MigrationFailed { version } = e.problem else { return };
    // Bounded: the failure may be a connection the server stopped answering.
    let read = tokio::time::timeout(std::time::Duration::from_secs(2), db.events(Some(version), 2)).await;
    let Ok(Ok(events)) = read else { return };
    let Some(resolved) = events.get(1).filter(|ev| {
        ev.kind == db::EventKind::Resolve
            && ev.detail.as_deref().is_some_and(|d| d.ends_with(crate::migration::amend::MARKED_ROLLED_BACK))
    }) else {
        return;
    };
    e.message = format!(
        "{}\nIt failed part way before, and {} said on {} that it was undone by hand: what that run left (rows its \
         statements wrote, say) may be what fails now, rather than its file.",
        e.message,
        resolved.actor,
        resolved.at.format("%Y-%m-%d %H:%M UTC")
    );
}

async fn broken_views(db: &mut dyn Database) -> Vec<String> {
    db.broken_views().await.unwrap_or_default().into_iter().map(|v| v.name).collect()
}

/// The views a run left unreadable (read before it: `before`), each as a warning said when it ends.
async fn left_unreadable(db: &mut dyn Database, before: &[String]) -> Vec<crate::event::Warning> {
    let now = db.broken_views().await.unwrap_or_default();
    now.into_iter()
        .filter(|v| !before.contains(&v.name))
        .map(|v| {
            let then = if v.blocks_backup {
                "no backup of this database can be made until the view is re-created without it or dropped \
                 (`check` says how)"
            } else {
                "re-create the view without it, or drop it, in a migration"
            };
            crate::event::Warning {
                kind: crate::event::WarningKind::BrokenView,
                message: format!("this run left view {} unreadable: {}; {then}", v.name, v.why),
            }
        })
        .collect()
}

/// Rewrites the schema file (never through a link: the project's files are untrusted input).
async fn write_schema_file(db: &mut dyn Database, file: &std::path::Path) -> Result<()> {
    let text = db.inspect().await?.to_text(db.dialect().name());
    if std::fs::symlink_metadata(file).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(Error::input(format!("{} is a link: the schema file was not written", file.display())));
    }
    std::fs::write(file, text)
        .map_err(|e| Error::input(format!("cannot write the schema file {}: {e}", file.display())))
}

/// A change to the history a person asks for: what they typed to confirm it, or `Preview` to
/// learn what it would do (or why not) before they are asked.
#[derive(Debug, Clone, Copy)]
pub enum Amending<'a> {
    Preview,
    Confirmed(Option<&'a str>),
}

impl Amending<'_> {
    pub(super) fn dry_run(self, s: &Session) -> Result<bool> {
        match self {
            Amending::Preview => Ok(true),
            Amending::Confirmed(confirm) => {
                Guard::for_history(&s.ws).enforce(&Confirmation::typed(confirm))?;
                Ok(false)
            }
        }
    }
}
