//! `[fleet.NAME]` in godwit.toml: which databases a fleet is, checked on load (the fleet module
//! finds and runs them).

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::db::Target;

pub(crate) const NO_PASSWORDS: &str = "a fleet's URLs never keep one. Give them without it, then store the fleet's \
                            password in the OS keyring, or set it in the environment";

/// Databases a fleet run works on at once, at most, whatever it is asked.
pub const MAX_AT_ONCE: usize = 1024;

/// `[fleet.NAME]`: its members, named exactly one way.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FleetConfig {
    /// Environments of this project.
    pub envs: Option<Vec<String>>,
    /// A server URL whose database name holds `%` (any characters): the server's databases that
    /// match, listed when the fleet runs.
    pub pattern: Option<String>,
    /// A file in the project with one database URL per line (no passwords; `#` starts a comment).
    pub file: Option<String>,
    /// Ask for the fleet's name before changing it, and back up each database before its run.
    #[serde(default)]
    pub protected: bool,
    /// Connections one server is given at once (default 8).
    pub per_server: Option<usize>,
}

impl FleetConfig {
    /// What is wrong with the fleet as written, in words that follow `fleet NAME`.
    pub(crate) fn problem(&self, root: &Path, envs: &[&String]) -> Option<String> {
        let ways = [self.envs.is_some(), self.pattern.is_some(), self.file.is_some()];
        if ways.iter().filter(|w| **w).count() != 1 {
            return Some("needs exactly one of `envs`, `pattern` or `file`".into());
        }
        if self.per_server.is_some_and(|n| n == 0 || n > MAX_AT_ONCE) {
            return Some(format!("`per_server` must be from 1 to {}", MAX_AT_ONCE));
        }
        if let Some(names) = &self.envs {
            if names.is_empty() {
                return Some("`envs` is empty".into());
            }
            if let Some(n) = names.iter().find(|n| !envs.contains(n)) {
                return Some(format!("names `{n}`, which is not an environment of this project"));
            }
        }
        if let Some(p) = &self.pattern {
            if crate::profile::holds_password(p) {
                return Some(format!("`pattern` holds a password: {}", NO_PASSWORDS));
            }
            match Target::parse(p, root) {
                Err(e) => return Some(format!("`pattern`: {}", e.message)),
                Ok(t) if t.dialect() == crate::db::Dialect::Sqlite => {
                    return Some("`pattern` is for a server's databases; list SQLite files with `file`".into());
                }
                Ok(t) if !t.raw_database().contains('%') => {
                    return Some(format!(
                        "`pattern`'s database `{}` has no `%` to match tenants' names with (e.g. tenant_%)",
                        t.raw_database()
                    ));
                }
                Ok(_) => {}
            }
        }
        if let Some(f) = &self.file
            && let Err(why) = super::inside(root, f)
        {
            return Some(format!("`file = \"{f}\"` {why}"));
        }
        None
    }
}
