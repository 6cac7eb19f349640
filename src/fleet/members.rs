//! Which databases a fleet is: `[fleet.NAME]` in godwit.toml, checked on load, and its members
//! found at run time (environments, a server's databases matching a pattern, or a file of URLs),
//! each with its password resolved.

use std::collections::HashMap;
use std::path::Path;

use secrecy::SecretString;
use serde::Serialize;

use crate::db::{self, ConnectOptions, Target};
use crate::error::{Error, Result};
pub use crate::project::FleetConfig;
use crate::project::{NO_PASSWORDS, Project, Workspace};
use crate::secret;

/// Connections a fleet run opens on one server at once unless `per_server` says otherwise.
pub const PER_SERVER: usize = 8;

/// A fleet as the app lists it.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct FleetInfo {
    pub name: String,
    /// How its members are named: the environments, the pattern, or the file.
    pub members: String,
    /// Changing it asks for its name, and each database is backed up first (the fleet is
    /// protected, or one of its environments is).
    pub protected: bool,
    /// What a change to it needs from a person.
    pub changes: crate::migration::guard::Guard,
}

/// The project's fleets, without connecting.
pub fn infos(p: &Project) -> Vec<FleetInfo> {
    p.config
        .fleet
        .iter()
        .map(|(name, f)| {
            let members = match (&f.envs, &f.pattern, &f.file) {
                (Some(envs), _, _) => format!("environments {}", envs.join(", ")),
                (_, Some(pattern), _) => format!("databases matching {pattern}"),
                (_, _, Some(file)) => format!("the databases listed in {file}"),
                _ => String::new(),
            };
            FleetInfo { name: name.clone(), members, protected: protected(p, name), changes: guard(p, name) }
        })
        .collect()
}

/// What changing the fleet's databases needs from a person (`protected`).
pub fn guard(p: &Project, fleet: &str) -> crate::migration::guard::Guard {
    crate::migration::guard::Guard::for_fleet(fleet, protected(p, fleet))
}

/// Whether changing the fleet asks for its name and backs up each database first: it is
/// protected, or one of its environments is.
pub fn protected(p: &Project, fleet: &str) -> bool {
    p.config
        .fleet
        .get(fleet)
        .is_some_and(|f| f.protected || f.envs.iter().flatten().any(|e| p.env(e).is_some_and(|(env, _)| env.protected)))
}

/// One database of a fleet, ready to be worked on (or not, and why).
pub struct Member {
    /// As the fleet's table shows it: the environment, else the database's name.
    pub name: String,
    /// The server it is on (`Target::server`), for the connection budget.
    pub server: String,
    pub ws: Workspace,
    /// Why it cannot be worked on, found before connecting (its stored password is for another
    /// server): it is reported, and the others go on.
    pub problem: Option<Error>,
}

/// The fleet's members in a fixed order (the file's or the pattern's names sorted), their passwords
/// resolved. A pattern's server is asked for its databases.
pub async fn members(p: &Project, fleet: &str, connect: &ConnectOptions, trust_host: bool) -> Result<Vec<Member>> {
    let cfg = p.fleet(fleet)?;
    let migrations = p.migrations_dir();
    let mut out = Vec::new();
    if let Some(envs) = &cfg.envs {
        for env in envs {
            let mut ws = p.workspace(Some(env))?;
            ws.protected |= cfg.protected;
            let problem = ws.resolve_password(trust_host).err();
            out.push(Member { name: env.clone(), server: ws.target.server(), ws, problem });
        }
        return Ok(out);
    }
    let mut passwords = Passwords { project: p, fleet, known: HashMap::new() };
    if let Some(pattern) = &cfg.pattern {
        let base = passwords.apply(Target::parse(pattern, &p.root)?);
        // Every `%` in a pattern is a wildcard, never a percent-escape: match on the name as typed.
        let wanted = base.raw_database();
        let names: Vec<String> =
            db::list_databases(&base, connect).await?.into_iter().filter(|n| matches(&wanted, n)).collect();
        if names.is_empty() {
            return Err(Error::input(format!(
                "fleet `{fleet}` has no databases: none on {} matches `{wanted}`",
                base.server()
            )));
        }
        for name in names {
            let ws = Workspace::member(base.with_database(&name), migrations.clone(), cfg.protected)
                .with_checksums(p.checksums());
            out.push(Member { name, server: base.server(), ws, problem: None });
        }
        return Ok(out);
    }
    let rel = cfg.file.as_deref().expect("checked on load: one of the three");
    let targets = listed(p, fleet, rel)?;
    // A database's name (a SQLite file's own name) says which it is, unless two have the same one.
    let short = |t: &Target| match t.dialect() {
        db::Dialect::Sqlite => {
            Path::new(&t.database()).file_name().map_or_else(|| t.database(), |n| n.to_string_lossy().into_owned())
        }
        _ => t.database(),
    };
    let mut names: Vec<String> = targets.iter().map(short).collect();
    let unique = {
        let mut sorted = names.clone();
        sorted.sort();
        sorted.windows(2).all(|w| w[0] != w[1])
    };
    if !unique {
        names = targets.iter().map(Target::display).collect();
    }
    for (target, name) in targets.into_iter().zip(names) {
        let server = target.server();
        let ws =
            Workspace::member(passwords.apply(target), migrations.clone(), cfg.protected).with_checksums(p.checksums());
        out.push(Member { name, server, ws, problem: None });
    }
    Ok(out)
}

/// The databases a fleet's file lists, in its order; a URL with a password in it is refused.
fn listed(p: &Project, fleet: &str, rel: &str) -> Result<Vec<Target>> {
    let path = crate::project::inside(&p.root, rel).map_err(|why| Error::input(format!("`file = \"{rel}\"` {why}")))?;
    let text = std::fs::read_to_string(&path)
        .map_err(|e| Error::input(format!("cannot read fleet `{fleet}`'s file {}: {e}", path.display())))?;
    let mut targets = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let at = |why: String| Error::input(format!("{}:{}: {why}", path.display(), n + 1));
        if crate::profile::holds_password(line) {
            return Err(at(format!("this URL holds a password: {NO_PASSWORDS} ({})", password_var(fleet))));
        }
        targets.push(Target::parse(line, &p.root).map_err(|e| at(e.message))?);
    }
    if targets.is_empty() {
        return Err(Error::input(format!("fleet `{fleet}` has no databases: {} lists none", path.display())));
    }
    Ok(targets)
}

/// A fleet's passwords, one per server: `GODWIT_FLEET_PASSWORD_<NAME>` for all of them, else the
/// OS keyring's, each stored for one server and sent only there.
struct Passwords<'a> {
    project: &'a Project,
    fleet: &'a str,
    known: HashMap<String, (Option<SecretString>, String)>,
}

impl Passwords<'_> {
    fn apply(&mut self, target: Target) -> Target {
        if !target.dialect().has_passwords() || target.has_password() {
            return target;
        }
        let (server, binding) = (target.server(), target.server_binding());
        // Looked up once per binding: the same server under weaker TLS gets its own answer.
        let (password, hint) = self
            .known
            .entry(binding.clone())
            .or_insert_with(|| password(self.project, self.fleet, &server, &binding))
            .clone();
        target.with_password(password).with_auth_hint(hint)
    }
}

fn password(p: &Project, fleet: &str, server: &str, binding: &str) -> (Option<SecretString>, String) {
    let var = password_var(fleet);
    if let Some(pw) = std::env::var(&var).ok().filter(|v| !v.is_empty()) {
        return (Some(SecretString::from(pw)), format!("the password came from {var}"));
    }
    match secret::get(&key(p, fleet, server)) {
        // The key names the server; the binding (with TLS) is checked all the same, as for
        // environments.
        Ok(Some(s)) if s.allows(binding) => (
            Some(s.password),
            format!("the password came from the OS keyring (fleet `{fleet}` on {server}): store the right one"),
        ),
        Ok(Some(s)) => (
            None,
            format!(
                "the password of fleet `{fleet}` on {server} was stored for {} and was not sent to {binding} (weaker \
                 TLS): store it again for this server, or set {var}",
                s.bound_to.unwrap_or_default()
            ),
        ),
        Ok(None) => (None, format!("no password is stored for fleet `{fleet}` on {server}: store one, or set {var}")),
        Err(e) => (None, format!("{}; or set {var}", e.message)),
    }
}

/// `GODWIT_FLEET_PASSWORD_<NAME>` (apart from the environments' `GODWIT_PASSWORD_<ENV>`: a fleet
/// and an environment may share a name).
pub fn password_var(fleet: &str) -> String {
    crate::project::password_var(fleet).replacen("GODWIT_PASSWORD_", "GODWIT_FLEET_PASSWORD_", 1)
}

fn key(p: &Project, fleet: &str, server: &str) -> String {
    secret::key(&p.id(), &format!("fleet.{fleet} {server}"))
}

/// The servers a fleet's stored passwords are for (a pattern's one, a file's each), each with what
/// its password is bound to (`Target::server_binding`); none for a fleet of environments, whose
/// passwords are the environments' own. Reads no keyring.
pub fn servers(p: &Project, fleet: &str) -> Result<Vec<(String, String)>> {
    let cfg = p.fleet(fleet)?;
    let targets = match (&cfg.pattern, &cfg.file) {
        (Some(pattern), _) => vec![Target::parse(pattern, &p.root)?],
        (None, Some(rel)) => listed(p, fleet, rel)?,
        _ => Vec::new(),
    };
    let mut out: Vec<(String, String)> = Vec::new();
    for t in targets {
        if t.dialect().has_passwords() && !out.iter().any(|(s, _)| *s == t.server()) {
            out.push((t.server(), t.server_binding()));
        }
    }
    Ok(out)
}

/// Stores the fleet's password for one of its servers, bound to it (`binding`, with its TLS).
pub fn store_password(p: &Project, fleet: &str, server: &str, binding: &str, password: &SecretString) -> Result<()> {
    secret::set(&key(p, fleet, server), password, binding)
}

/// Whether `name` matches `pattern`, where `%` stands for any characters (and nothing else is
/// special: `_` is common in tenants' names).
pub fn matches(pattern: &str, name: &str) -> bool {
    let mut parts = pattern.split('%');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = name.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(i) => rest = &rest[i + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pattern_matches_any_characters_where_it_has_percent() {
        assert!(matches("tenant_%", "tenant_1"));
        assert!(matches("tenant_%", "tenant_"));
        assert!(!matches("tenant_%", "tenantx1"));
        assert!(matches("%_eu", "acme_eu"));
        assert!(matches("t%_%_eu", "t1_x_eu"));
        assert!(!matches("t%_eu", "t_us"));
        assert!(!matches("ab%ba", "aba"));
        assert!(matches("exact", "exact"));
        assert!(!matches("exact", "exactly"));
    }
}
