//! Shows a run's events: a progress bar with the current migration on a terminal, otherwise one
//! plain line per migration. Both on stderr; results go to stdout.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::event::{Direction, RunEvent};

pub struct Progress {
    bar: Option<ProgressBar>,
    /// Who is in the current migration's way was said.
    said_who: bool,
}

impl Progress {
    pub fn new() -> Progress {
        Progress { bar: None, said_who: false }
    }

    pub fn on_event(&mut self, e: &RunEvent) {
        let tty = std::io::stderr().is_terminal();
        match e {
            RunEvent::Warning { warning } => eprintln!("warning: {}", warning.message),
            RunEvent::Started { total, .. } if tty && *total > 0 => {
                let bar = ProgressBar::new(*total as u64);
                bar.set_style(
                    ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {wide_msg}")
                        .expect("template")
                        .progress_chars("=> "),
                );
                bar.enable_steady_tick(Duration::from_millis(120));
                self.bar = Some(bar);
            }
            RunEvent::MigrationStarted { direction, version, description, repeatable, .. } => {
                self.said_who = false;
                let msg = match repeatable {
                    true => format!("{} repeatable {description}", verb_repeatable(*direction)),
                    false => format!("{} {version} {description}", verb(*direction)),
                };
                match &self.bar {
                    Some(b) => b.set_message(msg),
                    None => eprint!("{msg} ... "),
                }
            }
            RunEvent::MigrationFinished { duration_ns, version, description, direction, repeatable } => match &self.bar
            {
                Some(b) => {
                    let what = match repeatable {
                        true => format!("{} repeatable {description}", done_repeatable(*direction)),
                        false => format!("{} {version} {description}", done(*direction)),
                    };
                    b.println(format!("  {what} ({})", ms(*duration_ns)));
                    b.inc(1);
                }
                None => eprintln!("ok ({})", ms(*duration_ns)),
            },
            RunEvent::MigrationFailed { .. } => match &self.bar {
                Some(b) => b.abandon(),
                None => eprintln!("FAILED"),
            },
            RunEvent::Waiting { said, .. } => {
                self.said_who = true;
                let line = format!("  waiting for a lock {said}");
                match &self.bar {
                    Some(b) => b.println(line),
                    None => eprint!("\n{line} ... "),
                }
            }
            RunEvent::Retrying { attempt, retries, waited_ms, after_ms, message, .. } => {
                let short = |ms: u64| crate::migration::waits::short(Duration::from_millis(ms));
                let mut why = match waited_ms {
                    Some(w) => format!("no lock within {}", short(*w)),
                    None => "no lock".to_string(),
                };
                // Who was in the way, unless a line above said so.
                if !self.said_who
                    && let Some(l) = message.lines().skip(1).find(|l| l.contains(" held"))
                {
                    let l = l.trim_end_matches('.').replacen("The lock is", "it is", 1);
                    why = format!("{why}: {l}");
                }
                let line = format!("  {why}; trying again in {} ({attempt} of {retries})", short(*after_ms));
                self.said_who = false;
                match &self.bar {
                    Some(b) => b.println(line),
                    None => eprint!("\n{line} ... "),
                }
            }
            RunEvent::Output { line, .. } => match &self.bar {
                Some(b) => b.println(format!("  {line}")),
                None => eprint!("\n  {line}"),
            },
            RunEvent::Finished { .. } => {
                if let Some(b) = self.bar.take() {
                    b.finish_and_clear();
                }
            }
            _ => {}
        }
    }
}

fn verb(d: Direction) -> &'static str {
    match d {
        Direction::Up => "applying",
        Direction::Down => "rolling back",
    }
}

/// A repeatable file is applied on the way up, rebuilt after a rollback.
fn verb_repeatable(d: Direction) -> &'static str {
    match d {
        Direction::Up => "applying",
        Direction::Down => "rebuilding",
    }
}

fn done_repeatable(d: Direction) -> &'static str {
    match d {
        Direction::Up => "applied",
        Direction::Down => "rebuilt",
    }
}

fn done(d: Direction) -> &'static str {
    match d {
        Direction::Up => "applied",
        Direction::Down => "rolled back",
    }
}

/// A duration for people: `850 µs`, `12 ms`, `3.4 s`.
/// Rounded as the app's `duration` rounds (ui/src/lib/format.ts), so both show the same number.
pub fn ms(ns: i64) -> String {
    if ns < 0 {
        return "-".into();
    }
    let us = ns as f64 / 1e3;
    if us < 1e3 {
        format!("{} µs", us.round())
    } else if us < 1e7 {
        format!("{} ms", (us / 1e3).round())
    } else {
        format!("{:.1} s", us / 1e6)
    }
}

/// Shows a backup or restore: its phases as lines, its bytes on a spinner on a terminal.
pub struct BackupProgress {
    bar: Option<ProgressBar>,
}

impl BackupProgress {
    pub fn new() -> BackupProgress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new_spinner();
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        BackupProgress { bar }
    }

    pub fn on_event(&self, e: &crate::backup::BackupEvent) {
        use crate::backup::BackupEvent;
        match (e, &self.bar) {
            (BackupEvent::Phase { message }, Some(b)) => b.println(message),
            (BackupEvent::Phase { message }, None) => eprintln!("{message}"),
            (BackupEvent::Bytes { bytes: n, elapsed_ms }, Some(b)) => {
                b.set_message(format!("{} written ({:.1} s)", bytes(*n), *elapsed_ms as f64 / 1000.0))
            }
            (BackupEvent::Bytes { .. }, None) => {}
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// A size for people: `912 B`, `4.2 MB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u < UNITS.len() - 1 {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 { format!("{n} B") } else { format!("{v:.1} {}", UNITS[u]) }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_round_as_the_app_does() {
        let shown: Vec<String> =
            [-1, 850_000, 1_651_000, 12_300_000, 54_856_000, 12_300_000_000].into_iter().map(super::ms).collect();
        assert_eq!(shown, ["-", "850 µs", "2 ms", "12 ms", "55 ms", "12.3 s"]);
    }
}
