//! `[lint]` in godwit.toml: rules switched off, and severities changed.
//!
//! ```toml
//! [lint]
//! off = ["prefer-robust-stmts"]
//! severity = { ban-drop-column = "error", require-lock-timeout = "hint" }
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::Severity;

#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LintConfig {
    /// Rules not reported.
    #[serde(default)]
    pub off: Vec<String>,
    /// Rules reported at another severity than their own.
    #[serde(default)]
    pub severity: BTreeMap<String, Severity>,
}

impl LintConfig {
    /// The severity a finding of `rule` is reported at, or `None` when the rule is off.
    pub fn severity_of(&self, rule: &str, own: Severity) -> Option<Severity> {
        if self.off.iter().any(|r| r == rule) {
            return None;
        }
        Some(self.severity.get(rule).copied().unwrap_or(own))
    }

    /// The rule names it gives that Godwit does not know (a typo would silently switch nothing off).
    pub fn unknown_rules(&self) -> Vec<String> {
        self.off.iter().chain(self.severity.keys()).filter(|r| !super::known_rule(r)).cloned().collect()
    }
}
