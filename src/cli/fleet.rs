//! `godwit --fleet NAME VERB`: the verbs that work on every database of a fleet, a live table on
//! a terminal, and the summary.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::*;
use crate::fleet::{FleetReport, MemberRow, MemberState, Operation, Policy, Stopped};
use crate::migration::plan::DownTarget;

#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Fleet options (with --fleet)")]
pub(super) struct FleetFlags {
    /// Work on every database of this fleet (`[fleet.NAME]` in godwit.toml): status, check, up,
    /// down, redo, backups verify, secret set.
    #[arg(long, global = true, value_name = "NAME", conflicts_with_all = ["env", "url"])]
    pub(super) fleet: Option<String>,
    /// Databases worked on at once.
    #[arg(long, global = true, default_value_t = crate::fleet::JOBS, value_name = "N")]
    jobs: usize,
    /// Start no more databases once one failed or could not be reached.
    #[arg(long, global = true)]
    stop_on_failure: bool,
    /// Start no more databases once this many failed or could not be reached.
    #[arg(long, global = true, value_name = "K", conflicts_with = "stop_on_failure")]
    max_failures: Option<usize>,
    /// Work on the first K databases, and go on to the others only if all K passed.
    #[arg(long, global = true, value_name = "K")]
    canary: Option<usize>,
}

impl FleetFlags {
    fn policy(&self) -> Policy {
        Policy {
            jobs: self.jobs,
            per_server: None,
            max_failures: if self.stop_on_failure { Some(1) } else { self.max_failures },
            canary: self.canary.unwrap_or(0),
        }
    }
}

pub(super) async fn fleet_verb(ctx: &Ctx, name: &str) -> Result<()> {
    let p = ctx.project.as_ref().ok_or_else(|| {
        Error::input("--fleet needs a project: no godwit.toml here or in any parent folder (`godwit init` makes one)")
    })?;
    let (operation, json) = match &ctx.cli.verb {
        Verb::Status { json, .. } => (Operation::Status, json.json),
        Verb::Check { offline: false, schema: false, json } => (Operation::Check, json.json),
        Verb::Up {
            to,
            dry_run: false,
            allow_out_of_order,
            backup: false,
            verify: false,
            json,
            plan: None,
            acknowledge_lint,
            ..
        } => (
            Operation::Run {
                work: Work::Up(*to),
                allow_out_of_order: *allow_out_of_order,
                acknowledge_lint: *acknowledge_lint,
            },
            *json,
        ),
        Verb::Down { steps, to, dry_run: false, json } => (
            Operation::Run {
                work: Work::asked(Direction::Down, *to, *steps)?,
                allow_out_of_order: false,
                acknowledge_lint: false,
            },
            *json,
        ),
        Verb::Redo { acknowledge_lint } => {
            (Operation::Run { work: Work::Redo, allow_out_of_order: false, acknowledge_lint: *acknowledge_lint }, false)
        }
        Verb::Backups { cmd: Some(BackupsCmd::Verify { id: None, json: v }), json } => {
            (Operation::VerifyBackups, json.json || v.json)
        }
        Verb::VerifyBackups { json } => (Operation::VerifyBackups, json.json),
        Verb::Secret { cmd: SecretCmd::Set { env: None, stdin } } => return secret_set(p, name, *stdin),
        _ => {
            return Err(Error::input(
                "--fleet works with status, check, up, down, redo, backups verify (the newest backup of each) and \
                 secret set; --dry-run, --plan, --backup, --offline, --schema and backup ids are for one database \
                 (--env). A protected fleet backs up each database before its run.",
            ));
        }
    };
    let asked = crate::fleet::guard(p, name).confirm.filter(|_| operation.changes());
    let confirm = match (&ctx.cli.confirm, asked) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(_)) if std::io::stdin().is_terminal() => {
            Some(prompt(&format!("fleet {name} is protected. Type its name to go on: "))?)
        }
        _ => None,
    };
    let req = crate::fleet::FleetRequest {
        fleet: name.to_string(),
        operation,
        policy: ctx.cli.fleet.policy(),
        confirm,
        trust_host: ctx.cli.trust_host,
        settings: crate::fleet::Settings {
            waits: ctx.asked_waits(),
            ..crate::fleet::Settings::of(p, ctx.connect_options(), Duration::from_secs(ctx.cli.lock_timeout))?
        },
    };
    let live = Arc::new(Mutex::new(Live::new(name)));
    let shown = live.clone();
    let on: crate::fleet::OnRow = Arc::new(move |i, row| shown.lock().expect("display").show(i, row));
    let cancel = ctx.cancel_on_signals();
    let report = crate::fleet::start(p, req, &cancel, on).await;
    live.lock().expect("display").finish();
    let report = report?;
    if json {
        print_json(None, "report", &report);
    } else {
        print_report(&report, std::io::stdout().is_terminal());
        next_step(&report, operation, &format!("{} --fleet {}", ctx.again, shell_quote(name)));
    }
    report.outcome()
}

/// On a terminal: a header with the counts, a line per running database, and each finished one
/// printed above them as it ends. Elsewhere: nothing until the table.
struct Live {
    bars: Option<MultiProgress>,
    head: ProgressBar,
    running: HashMap<usize, ProgressBar>,
    counts: HashMap<&'static str, usize>,
    width: usize,
}

impl Live {
    fn new(fleet: &str) -> Live {
        let tty = std::io::stderr().is_terminal();
        let bars = tty.then(MultiProgress::new);
        let head = match &bars {
            Some(m) => {
                let b = m.add(ProgressBar::new(0));
                b.set_style(
                    ProgressStyle::with_template("{spinner} fleet {prefix} [{bar:24}] {pos}/{len} {wide_msg}")
                        .expect("template")
                        .progress_chars("=> "),
                );
                b.set_prefix(fleet.to_string());
                b.enable_steady_tick(Duration::from_millis(120));
                b
            }
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()),
        };
        Live { bars, head, running: HashMap::new(), counts: HashMap::new(), width: 12 }
    }

    fn show(&mut self, i: usize, row: &MemberRow) {
        let Some(bars) = &self.bars else { return };
        self.width = self.width.max(row.name.chars().count().min(40));
        if row.state == MemberState::Waiting {
            self.head.inc_length(1);
            return;
        }
        if row.state == MemberState::Running {
            let bar = self.running.entry(i).or_insert_with(|| {
                let b = bars.add(ProgressBar::new_spinner());
                b.set_style(ProgressStyle::with_template("  {spinner} {wide_msg}").expect("template"));
                b.enable_steady_tick(Duration::from_millis(120));
                b
            });
            let doing = match row.running {
                Some(v) => format!("running {v}"),
                None => "connecting".into(),
            };
            bar.set_message(format!("{:w$}  {doing}", row.name, w = self.width));
            return;
        }
        if let Some(b) = self.running.remove(&i) {
            b.finish_and_clear();
            bars.remove(&b);
        }
        *self.counts.entry(state_word(row.state)).or_default() += 1;
        self.head.inc(1);
        self.head.set_message(counts(&self.counts));
        if row.state != MemberState::Skipped {
            let _ = bars.println(line(row, self.width));
        }
    }

    fn finish(&mut self) {
        for (_, b) in self.running.drain() {
            b.finish_and_clear();
        }
        self.head.finish_and_clear();
    }
}

fn counts(c: &HashMap<&'static str, usize>) -> String {
    ["at head", "behind", "failed", "unreachable", "skipped"]
        .iter()
        .filter_map(|k| c.get(k).filter(|n| **n > 0).map(|n| format!("{n} {k}")))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn state_word(s: MemberState) -> &'static str {
    match s {
        MemberState::Waiting => "waiting",
        MemberState::Running => "running",
        MemberState::AtHead => "at head",
        MemberState::Behind => "behind",
        MemberState::Failed => "failed",
        MemberState::Unreachable => "unreachable",
        MemberState::Skipped => "skipped",
    }
}

/// One database as a table row: name, version, state, time, and what happened.
fn line(r: &MemberRow, width: usize) -> String {
    let version = r.version.map_or("-".to_string(), |v| v.to_string());
    let state = match r.state {
        MemberState::Behind => format!("behind {}", r.pending),
        s => state_word(s).to_string(),
    };
    let time = r.ms.map_or(String::new(), |ms| super::progress::ms(ms as i64 * 1_000_000));
    let detail = match &r.error {
        Some(e) => e.message.lines().next().unwrap_or_default().to_string(),
        None => r.detail.clone().unwrap_or_default(),
    };
    format!("{:width$}  {version:>14}  {state:<12}  {time:>7}  {detail}", r.name).trim_end().to_string()
}

fn print_report(r: &FleetReport, tty: bool) {
    let width = r.members.iter().map(|m| m.name.chars().count()).max().unwrap_or(8).clamp(8, 40);
    // At a terminal every finished row went by live; the table repeats only those that need a look.
    let shown: Vec<&MemberRow> =
        r.members.iter().filter(|m| !tty || m.state.is_failure()).filter(|m| m.state != MemberState::Skipped).collect();
    if !shown.is_empty() {
        println!("{:width$}  {:>14}  {:<12}  {:>7}  detail", "database", "version", "state", "time");
        for m in shown {
            println!("{}", line(m, width));
        }
        println!();
    }
    let s = &r.summary;
    println!(
        "fleet {}: {} database(s) in {}: {} at head, {} behind, {} failed, {} unreachable, {} skipped",
        r.fleet,
        s.total,
        super::progress::ms(r.ms as i64 * 1_000_000),
        s.at_head,
        s.behind,
        s.failed,
        s.unreachable,
        s.skipped
    );
    match r.stopped {
        Some(Stopped::Canary) => {
            println!("Stopped after the canaries: one of them did not pass, so the others were not started.")
        }
        Some(Stopped::MaxFailures) => println!("Stopped starting databases once the failures allowed were reached."),
        Some(Stopped::Cancelled) => println!(
            "Stopped: the databases already running finished their current migration; the rest were not started."
        ),
        None => {}
    }
}

/// What to type next, when something is left to do.
fn next_step(r: &FleetReport, op: Operation, godwit: &str) {
    let s = &r.summary;
    match op {
        // Again from where each stands is the same run only for a run to a place; another `down`
        // would roll back one step more.
        Operation::Run { work: Work::Up(_) | Work::Down(DownTarget::To(_)), .. }
            if s.failed + s.unreachable + s.skipped + s.behind > 0 =>
        {
            println!(
                "Running `{}` again works on each database from where it stands: those already done are left as \
                 they are.",
                typed(None).0.join(" ")
            )
        }
        Operation::Status | Operation::Check if s.behind > 0 => {
            println!("`{godwit} up` applies the pending migrations of the {} behind.", s.behind)
        }
        _ => {}
    }
}

/// `--fleet NAME secret set`: the fleet's password for each of its servers.
fn secret_set(p: &Project, fleet: &str, stdin: bool) -> Result<()> {
    let servers = crate::fleet::servers(p, fleet)?;
    if servers.is_empty() {
        return Err(Error::input(format!(
            "fleet `{fleet}` has no server that takes a password here: a fleet of environments uses each \
             environment's own (`godwit secret set ENV`); SQLite files have none."
        )));
    }
    if stdin && servers.len() > 1 {
        return Err(Error::input(format!(
            "fleet `{fleet}` is on {} servers ({}): type each one's password at a terminal, so that each goes only \
             where you mean it to; or set {} where the fleet runs (that one password is then sent to every one \
             of them).",
            servers.len(),
            servers.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>().join(", "),
            crate::fleet::password_var(fleet)
        )));
    }
    for (server, binding) in servers {
        let password = read_password(stdin, &format!("Password for fleet {fleet} on {server}: "))?;
        crate::fleet::store_password(p, fleet, &server, &binding, &password)?;
        println!("Stored fleet {fleet}'s password in the OS keyring, for {server} only.");
    }
    Ok(())
}
