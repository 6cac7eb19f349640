//! What a run needs from a person before it goes, decided once, here: whose name is typed, whether
//! a backup comes first and why, and whether lint errors in what would run must be acknowledged. A
//! preview carries it for the CLI and the app to draw; the run works it out again and enforces it,
//! so neither front end decides it and neither can skip it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Problem, Remedy, Result};
use crate::lint::{Finding, Severity};
use crate::project::Workspace;

#[derive(ts_rs::TS, Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[ts(export)]
pub struct Guard {
    /// The name to type before it runs (a protected environment's); none: nothing to type.
    pub confirm: Option<String>,
    /// Why a backup is taken first; none: only if the person asks for one.
    pub backup: Option<BackupWhy>,
    /// Error-level lint findings in the migrations that would run, which the person must
    /// acknowledge first (on a protected environment; elsewhere they are shown, not asked about).
    pub lint_errors: usize,
    /// The files those errors are in, where `lint` reads them.
    #[serde(skip)]
    #[ts(skip)]
    lint_files: Vec<String>,
    /// Why the name is asked for, in words, when it is not that the environment is protected.
    #[serde(skip)]
    #[ts(skip)]
    because: Option<String>,
    /// The environment (or fleet) changed, protected or not: a name typed for another is refused.
    #[serde(skip)]
    #[ts(skip)]
    changes: Option<String>,
}

#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum BackupWhy {
    /// The environment is protected: every run backs it up first.
    Protected,
}

/// What a person confirmed, as a front end sends it back.
#[derive(Debug, Clone, Default)]
pub struct Confirmation {
    /// The name they typed.
    pub typed: Option<String>,
    /// They read the lint errors and want it to run anyway.
    pub lint_acknowledged: bool,
}

impl Confirmation {
    /// A name typed (or given with `--confirm`), nothing else.
    pub fn typed(name: Option<&str>) -> Confirmation {
        Confirmation { typed: name.map(String::from), lint_acknowledged: false }
    }
}

impl Guard {
    /// What any change to an environment (or a fleet) named `name` needs: on a protected one, its
    /// name typed, and a backup first where the change runs migrations.
    pub fn for_change(name: &str, protected: bool) -> Guard {
        let changes = Some(name.to_string());
        match protected {
            true => {
                Guard { confirm: Some(name.into()), backup: Some(BackupWhy::Protected), changes, ..Guard::default() }
            }
            false => Guard { changes, ..Guard::default() },
        }
    }

    /// A fleet's run that changes its databases: when it (or one of its environments) is
    /// protected, the fleet's name, and each database backed up before its run.
    pub fn for_fleet(name: &str, protected: bool) -> Guard {
        Guard { because: protected.then(|| format!("fleet {name} is protected")), ..Guard::for_change(name, protected) }
    }

    /// A change to `ws`'s history that runs no migration (repair, resolve, a baseline or an
    /// import recorded): a protected environment's name.
    pub fn for_history(ws: &Workspace) -> Guard {
        Guard { backup: None, ..Guard::for_change(&ws.confirm_name(), ws.protected) }
    }

    /// A restore: it replaces the environment's data, so its name is asked for, protected or not.
    pub fn for_restore(ws: &Workspace) -> Guard {
        // What a protected environment held is backed up first, as before a run.
        let backup = ws.protected.then_some(BackupWhy::Protected);
        Guard { backup, ..Guard::for_replacing(ws, "this replaces the data of") }
    }

    /// Dropping the environment's database: its name, protected or not.
    pub fn for_drop(ws: &Workspace) -> Guard {
        Guard::for_replacing(ws, "this drops, with everything in it,")
    }

    /// A change that replaces or drops `ws`'s data: its name, protected or not. `happens` says
    /// what, followed by the name.
    fn for_replacing(ws: &Workspace, happens: &str) -> Guard {
        let name = ws.confirm_name();
        let because = (!ws.protected).then(|| format!("{happens} {name}"));
        Guard { confirm: Some(name.clone()), because, changes: Some(name), ..Guard::default() }
    }

    /// A run's guard on `ws`, with `findings` the lint findings in what it would run.
    pub fn for_run(ws: &Workspace, findings: &[Finding]) -> Guard {
        let mut g = Guard::for_change(&ws.confirm_name(), ws.protected);
        if ws.protected {
            // A file that cannot be split is refused by the run itself: reading it changes nothing.
            let errors: Vec<&Finding> = findings
                .iter()
                .filter(|f| f.severity == Severity::Error && f.rule != crate::lint::UNSPLITTABLE)
                .collect();
            g.lint_errors = errors.len();
            for f in errors {
                let path = ws.migrations.join(&f.file).display().to_string();
                if !g.lint_files.contains(&path) {
                    g.lint_files.push(path);
                }
            }
        }
        g
    }

    /// Why the name is asked for, in words ("prod is protected"); none when it is not.
    pub fn why(&self) -> Option<String> {
        let name = self.confirm.as_ref()?;
        Some(self.because.clone().unwrap_or_else(|| format!("{name} is protected")))
    }

    /// Refuses, changing nothing, what was not confirmed as the guard asks.
    pub fn enforce(&self, c: &Confirmation) -> Result<()> {
        if let (Some(name), Some(why)) = (&self.confirm, self.why()) {
            typed(name, &why, c.typed.as_deref())?;
        }
        // A name typed where none is asked: a person who meant another environment is stopped.
        if let (None, Some(changes), Some(t)) = (&self.confirm, &self.changes, c.typed.as_deref())
            && !t.trim().is_empty()
            && t.trim() != changes
        {
            return Err(Error::new(
                Problem::Protected,
                format!(
                    "`{}` was given to confirm a change to {changes}, which is another environment: nothing was \
                     changed. Choose the environment you meant, or confirm none ({changes} is not protected).",
                    t.trim()
                ),
            ));
        }
        if self.lint_errors > 0 && !c.lint_acknowledged {
            let name = self.confirm.as_deref().unwrap_or("this environment");
            return Err(Error::new(
                Problem::Protected,
                format!(
                    "{} lint error(s) in the migrations that would run, and {name} is protected: they run only once \
                     someone who has read them says so. Nothing was run.",
                    self.lint_errors
                ),
            )
            .with_remedy(Remedy::AcknowledgeLint { files: self.lint_files.clone() }));
        }
        Ok(())
    }
}

/// That `typed` is `name`, which must be typed because of `why`.
fn typed(name: &str, why: &str, typed: Option<&str>) -> Result<()> {
    // Nothing typed is no name, not a wrong one.
    match typed.filter(|t| !t.trim().is_empty()) {
        Some(t) if t.trim() == name => Ok(()),
        Some(t) => Err(Error::new(
            Problem::Protected,
            format!("`{}` is not `{name}`: {why}, and nothing was changed.", t.trim()),
        )),
        None => Err(Error::new(Problem::Protected, format!("{why}: type its name to confirm. Nothing was changed."))
            .with_remedy(Remedy::Confirm { name: name.to_string() })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::Target;

    fn ws(protected: bool) -> Workspace {
        let target = Target::parse("sqlite://x.db", std::path::Path::new("/tmp")).unwrap();
        Workspace::member(target, "/tmp/m".into(), protected)
    }

    fn finding(severity: Severity) -> Finding {
        Finding {
            rule: "r".into(),
            severity,
            file: "1_a.sql".into(),
            line: 1,
            column: 1,
            message: String::new(),
            advice: String::new(),
        }
    }

    #[test]
    fn a_name_typed_for_another_environment_is_refused_where_none_is_asked() {
        let g = Guard::for_run(&ws(false), &[]);
        let name = ws(false).confirm_name();
        assert!(g.enforce(&Confirmation::typed(None)).is_ok());
        assert!(g.enforce(&Confirmation::typed(Some(&name))).is_ok());
        let e = g.enforce(&Confirmation::typed(Some("prod"))).unwrap_err();
        assert_eq!(e.problem, Problem::Protected);
        assert_eq!(
            Guard::for_history(&ws(false)).enforce(&Confirmation::typed(Some("prod"))).unwrap_err().problem,
            Problem::Protected
        );
    }

    #[test]
    fn a_protected_run_asks_for_its_name_a_backup_and_its_lint_errors_acknowledged() {
        let findings = [finding(Severity::Error), finding(Severity::Warning), finding(Severity::Error)];
        let open = Guard::for_run(&ws(false), &findings);
        assert_eq!((open.confirm, open.backup, open.lint_errors), (None, None, 0), "nothing asked elsewhere");
        let g = Guard::for_run(&ws(true), &findings);
        assert_eq!(g.confirm, Some(ws(true).confirm_name()));
        assert_eq!(g.backup, Some(BackupWhy::Protected));
        assert_eq!(g.lint_errors, 2);
        assert_eq!(g.lint_files.len(), 1, "both in one file: {:?}", g.lint_files);
        assert_eq!(Guard::for_run(&ws(true), &[finding(Severity::Warning)]).lint_errors, 0);
    }

    #[test]
    fn a_change_to_a_protected_environment_or_fleet_asks_for_its_name() {
        assert_eq!(Guard::for_change("shards", false).why(), None);
        let g = Guard::for_change("shards", true);
        assert_eq!((g.confirm.as_deref(), g.backup, g.lint_errors), (Some("shards"), Some(BackupWhy::Protected), 0));
        assert_eq!(Guard::for_fleet("shards", false), Guard::for_change("shards", false));
        let g = Guard::for_fleet("shards", true);
        assert_eq!((g.confirm.as_deref(), g.backup), (Some("shards"), Some(BackupWhy::Protected)));
    }

    #[test]
    fn history_changes_ask_on_protected_ones_and_replacing_data_asks_everywhere() {
        assert_eq!(Guard::for_history(&ws(false)).why(), None);
        let g = Guard::for_history(&ws(true));
        assert_eq!((g.confirm, g.backup), (Some(ws(true).confirm_name()), None), "a history change takes no backup");
        for protected in [false, true] {
            let g = Guard::for_drop(&ws(protected));
            assert_eq!(g.confirm, Some(ws(protected).confirm_name()));
            let e = g.enforce(&Confirmation::default()).unwrap_err();
            assert_eq!(e.remedies, vec![Remedy::Confirm { name: ws(protected).confirm_name() }]);
            assert!(g.enforce(&Confirmation::typed(Some(&ws(protected).confirm_name()))).is_ok());
        }
    }

    #[test]
    fn what_was_not_confirmed_is_refused() {
        let typed = |t: Option<&str>, ack: bool| Confirmation { typed: t.map(String::from), lint_acknowledged: ack };
        let g = Guard {
            confirm: Some("prod".into()),
            backup: Some(BackupWhy::Protected),
            lint_errors: 1,
            lint_files: vec!["/p/migrations/1_a.up.sql".into()],
            because: None,
            changes: None,
        };
        for (c, remedy) in [
            (typed(None, true), Remedy::Confirm { name: "prod".into() }),
            (typed(Some(" "), true), Remedy::Confirm { name: "prod".into() }),
            (typed(Some("prod"), false), Remedy::AcknowledgeLint { files: vec!["/p/migrations/1_a.up.sql".into()] }),
        ] {
            let e = g.enforce(&c).unwrap_err();
            assert_eq!((e.problem, e.remedies), (Problem::Protected, vec![remedy]));
        }
        assert_eq!(g.enforce(&typed(Some("staging"), true)).unwrap_err().problem, Problem::Protected);
        assert!(g.enforce(&typed(Some(" prod "), true)).is_ok());
        assert!(Guard::default().enforce(&Confirmation::default()).is_ok());
        let clean = Guard { lint_errors: 0, ..g };
        assert!(clean.enforce(&typed(Some("prod"), false)).is_ok());
    }
}
