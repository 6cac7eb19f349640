//! Connection profiles: a project's environments (in `godwit.toml`, committed, never a password)
//! and a person's own (in the platform's config dir, never committed). The CLI and the desktop app
//! edit both through these functions; edits keep the files' comments and layout.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::db::Dialect;
use crate::error::{Error, Result};

/// One environment. Either `url`, or its parts (`driver`, `host`, `port`, `database`, `user`).
#[derive(ts_rs::TS, Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
#[ts(export)]
pub struct EnvConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// `postgres`, `mysql` or `sqlite`, with the parts below.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protected: bool,
    /// The longest a migration's statement waits for a lock another session holds (`5s`, `off`);
    /// a protected environment waits 5s unless told otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_wait: Option<String>,
    /// How often a migration that could not get a lock (and changed nothing) is tried again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lock_retries: Option<u32>,
    /// The longest a migration's statement may run (`10m`, `off`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub statement_timeout: Option<String>,
    /// Values for `${name}` in migration files marked `-- godwit:placeholders`; a secret one is
    /// `{ secret = true }`, its value in the OS keyring.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub placeholders: std::collections::BTreeMap<String, crate::migration::placeholders::Setting>,
}

impl EnvConfig {
    /// What it says of waiting for locks and of long statements.
    pub fn waits(&self, name: &str) -> Result<crate::migration::waits::Asked> {
        use crate::migration::waits::{Asked, Setting};
        let read = |key: &str, v: &Option<String>| {
            v.as_deref().map(|t| Setting::parse(&format!("env.{name}.{key}"), t)).transpose()
        };
        if let Some(n) = self.lock_retries.filter(|n| *n > crate::migration::waits::MAX_RETRIES) {
            return Err(Error::input(format!(
                "env.{name}.lock_retries = {n}: at most {} (each retry waits longer)",
                crate::migration::waits::MAX_RETRIES
            )));
        }
        Ok(Asked {
            lock_wait: read("lock_wait", &self.lock_wait)?,
            retries: self.lock_retries,
            statement_timeout: read("statement_timeout", &self.statement_timeout)?,
        })
    }

    /// The URL (without a password) this environment connects to.
    pub fn url(&self, name: &str) -> Result<String> {
        if let Some(u) = &self.url {
            return Ok(u.clone());
        }
        let driver = self.driver.as_deref().ok_or_else(|| {
            Error::input(format!("env.{name} needs `url`, or `driver` with host, port, database and user"))
        })?;
        if driver == "sqlite" {
            let db = self
                .database
                .as_deref()
                .ok_or_else(|| Error::input(format!("env.{name}: sqlite needs `database` (the file)")))?;
            return Ok(format!("sqlite://{db}"));
        }
        let mut u = url::Url::parse(&format!("{driver}://placeholder"))
            .map_err(|_| Error::input(format!("env.{name}: unknown driver `{driver}` (postgres, mysql, sqlite)")))?;
        u.set_host(Some(self.host.as_deref().unwrap_or("localhost")))
            .map_err(|e| Error::input(format!("env.{name}: bad host: {e}")))?;
        let _ = u.set_port(self.port);
        if let Some(user) = &self.user {
            let _ = u.set_username(user);
        }
        u.set_path(&format!("/{}", self.database.as_deref().unwrap_or_default()));
        Ok(u.to_string())
    }
}

/// What `env list` shows, and the desktop app's sidebar.
#[derive(ts_rs::TS, Debug, Clone, Serialize)]
#[ts(export)]
pub struct EnvInfo {
    pub name: String,
    /// Without a password.
    pub url: String,
    pub dialect: Option<Dialect>,
    /// The dialect as people name it (`MySQL/MariaDB`), for showing.
    pub dialect_name: Option<String>,
    pub color: Option<String>,
    /// The colour as `#rrggbb`, for drawing it.
    pub color_hex: Option<String>,
    pub protected: bool,
    /// What a change to it needs from a person (its name typed; a run also says its lint errors).
    pub changes: crate::migration::guard::Guard,
    /// From the person's own file, not the project's.
    pub personal: bool,
    pub password: PasswordSource,
}

/// Where an environment's password would come from.
#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum PasswordSource {
    /// The OS keyring, stored for the server the environment names.
    Keyring,
    /// `GODWIT_PASSWORD_<ENV>`.
    Environment,
    /// None stored (or the database takes none).
    None,
    /// The keyring's, stored for another server: not sent until a person confirms the new one.
    KeyringOtherServer,
    /// The keyring could not be asked.
    Unknown,
    /// None stored; the person's own `PGPASSWORD` or pass file, which their settings allow here.
    Ambient,
}

/// The person's own settings for a project folder:
/// `<config dir>/godwit/projects/<project id>-<folder hash>.toml`. Tied to the folder as well as the
/// committed id: a fork, or a stranger's project that copies the id, has settings of its own.
pub fn personal_file(project_id: &str, root: &Path) -> Option<PathBuf> {
    Some(crate::folders::config_dir()?.join("projects").join(format!("{project_id}-{}.toml", folder_hash(root))))
}

/// Where personal settings were kept before they were tied to a folder (`<project id>.toml`):
/// never read, since any project with that id would get them; `env list` says how to move them.
pub fn legacy_personal_file(project_id: &str) -> Option<PathBuf> {
    Some(crate::folders::config_dir()?.join("projects").join(format!("{project_id}.toml")))
}

/// A short hash of the folder's real path.
pub(crate) fn folder_hash(root: &Path) -> String {
    let canonical = root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    short_hash(&canonical.to_string_lossy())
}

/// Twelve hex digits of a text's SHA-256: names that stay apart without showing the text.
pub(crate) fn short_hash(text: &str) -> String {
    use sha2::Digest;
    hex::encode(&sha2::Sha256::digest(text.as_bytes())[..6])
}

/// What a person's own file says for one project folder.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Personal {
    /// Their own environments.
    #[serde(default)]
    pub env: std::collections::BTreeMap<String, EnvConfig>,
    /// Environments for which their own `PGPASSWORD` and `~/.pgpass` may be sent
    /// (`godwit secret ambient ENV`), each with the server it was allowed for (a binding, as a
    /// stored password has): an edit of the environment's URL does not take the permission along.
    /// Never said by a project's committed files.
    #[serde(default)]
    pub ambient_passwords: std::collections::BTreeMap<String, String>,
}

pub(crate) fn load_personal(path: &Path) -> Result<Personal> {
    if !path.exists() {
        return Ok(Default::default());
    }
    let text = fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, &e))?;
    toml::from_str(&text)
        .map_err(|e| Error::input(crate::db::target::redact_text(&format!("{} is not valid: {e}", path.display()))))
}

/// Says in the person's own file whether their ambient passwords may go to `env`, and for which
/// server (`Some(binding)`), or not (`None`).
pub(crate) fn write_ambient(path: &Path, env: &str, allowed_for: Option<&str>) -> Result<()> {
    let mut doc = edit(path)?;
    let table = doc.entry("ambient_passwords").or_insert_with(|| toml_edit::Item::Table(toml_edit::Table::new()));
    let table = table
        .as_table_mut()
        .ok_or_else(|| Error::input(format!("{}: `ambient_passwords` is not a table", path.display())))?;
    match allowed_for {
        Some(binding) => {
            table.insert(env, toml_edit::value(binding));
        }
        None => {
            table.remove(env);
        }
    }
    save(path, &doc)
}

/// A TOML file to edit (empty when it does not exist yet).
fn edit(path: &Path) -> Result<toml_edit::DocumentMut> {
    let text = if path.exists() {
        fs::read_to_string(path).map_err(|e| Error::io("cannot read", path, &e))?
    } else {
        String::new()
    };
    text.parse().map_err(|e| {
        Error::input(crate::db::target::redact_text(&format!("{} is not valid TOML: {e}", path.display())))
    })
}

fn save(path: &Path, doc: &toml_edit::DocumentMut) -> Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| Error::io("cannot create", dir, &e))?;
    }
    fs::write(path, doc.to_string()).map_err(|e| Error::io("cannot write", path, &e))
}

/// A URL typed with its password (pasted into the app's form): the URL without it, and the
/// password, which goes to the keyring. `None` when it holds none, or does not parse (saving it
/// then says what is wrong).
pub fn split_password(url: &str) -> Option<(String, secrecy::SecretString)> {
    let (password, rest) = crate::db::target::take_password(url::Url::parse(url.trim()).ok()?);
    password.map(|p| (rest.to_string(), p))
}

/// Refuses a URL that holds a password, saying where passwords go instead.
pub fn refuse_password(name: &str, url: &str) -> Result<()> {
    if holds_password(url) {
        return Err(Error::input(format!(
            "the URL for `{name}` holds a password; environments never keep one in a file. Give the URL without it, \
             then store the password in the OS keyring (or set {} in pipelines).",
            crate::project::password_var(name)
        )));
    }
    Ok(())
}

/// Whether a URL carries a password (in its user part, or as a TLS key's passphrase).
pub fn holds_password(url: &str) -> bool {
    let secret_in =
        |u: url::Url| crate::db::target::has_ssl_password(&u) || crate::db::target::take_password(u).0.is_some();
    url::Url::parse(url).is_ok_and(secret_in)
}

/// Checks a name people will type at prompts and in `--env`.
pub fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(Error::input(format!("`{name}` is not a usable environment name: use letters, digits, - and _")));
    }
    Ok(())
}

/// The colours the app draws an environment in, by name, with how it draws them; any other is `#rrggbb`.
pub const PALETTE: [(&str, &str); 6] = [
    ("green", "#2f9e5b"),
    ("blue", "#3b82f6"),
    ("amber", "#d99a1e"),
    ("red", "#d64545"),
    ("purple", "#8b5cf6"),
    ("gray", "#8a939b"),
];

/// The names of `PALETTE`.
pub fn color_names() -> Vec<String> {
    PALETTE.iter().map(|(n, _)| n.to_string()).collect()
}

/// A valid colour (named or `#rrggbb`) as `#rrggbb`.
pub fn color_hex(color: &str) -> Option<String> {
    let hex = color.len() == 7 && color.starts_with('#') && color[1..].chars().all(|c| c.is_ascii_hexdigit());
    match PALETTE.iter().find(|(n, _)| *n == color) {
        Some((_, h)) => Some(h.to_string()),
        None => hex.then(|| color.to_string()),
    }
}

/// Checks an environment's colour: it goes into the app's styles, so it is a named colour or
/// `#rrggbb`, never free text from a cloned godwit.toml.
pub fn check_color(name: &str, color: &str) -> Result<()> {
    if color_hex(color).is_some() {
        return Ok(());
    }
    Err(Error::input(format!("env.{name}: color `{color}` is not one of {} or #rrggbb", color_names().join(", "))))
}

/// Checks what a file says of its environments where it reaches folder names, keyring keys and the
/// app's styles: their names and colours (the file may be a stranger's).
pub(crate) fn check_envs(file: &Path, envs: &std::collections::BTreeMap<String, EnvConfig>) -> Result<()> {
    let invalid = |e: Error| Error::input(format!("{}: {}", file.display(), e.message));
    for (name, env) in envs {
        check_name(name).map_err(invalid)?;
        if let Some(c) = &env.color {
            check_color(name, c).map_err(invalid)?;
        }
        env.waits(name).map_err(invalid)?;
        crate::migration::placeholders::check_settings(name, &env.placeholders).map_err(invalid)?;
    }
    Ok(())
}

/// Checks a project id (`id` in godwit.toml): it names folders and keyring entries, so it is one
/// plain name, whatever a cloned repository says.
pub fn check_id(id: &str) -> Result<()> {
    let plain = id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if id.is_empty() || id.len() > 128 || !plain || id.starts_with('.') {
        return Err(Error::input(format!(
            "`{id}` is not a usable project id: use letters, digits, -, _ and . (not first), at most 128."
        )));
    }
    Ok(())
}

/// Adds `[env.NAME]` to a TOML file (creating it), keeping what else the file says.
pub(crate) fn write_env(path: &Path, name: &str, env: &EnvConfig) -> Result<()> {
    let mut doc = edit(path)?;
    let value = toml_edit::ser::to_document(env).map_err(|e| Error::input(format!("cannot write env.{name}: {e}")))?;
    let envs = doc.entry("env").or_insert_with(|| {
        let mut t = toml_edit::Table::new();
        t.set_implicit(true);
        toml_edit::Item::Table(t)
    });
    let envs = envs.as_table_mut().ok_or_else(|| Error::input(format!("{}: `env` is not a table", path.display())))?;
    envs.insert(name, toml_edit::Item::Table(value.as_table().clone()));
    save(path, &doc)
}

/// Removes `[env.NAME]` from a TOML file; `false` when it was not there.
pub(crate) fn delete_env(path: &Path, name: &str) -> Result<bool> {
    if !path.exists() {
        return Ok(false);
    }
    let mut doc = edit(path)?;
    let removed = doc.get_mut("env").and_then(|e| e.as_table_mut()).and_then(|t| t.remove(name)).is_some();
    if removed {
        save(path, &doc)?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_from_parts() {
        let e = EnvConfig {
            driver: Some("postgres".into()),
            host: Some("db.internal".into()),
            port: Some(5433),
            database: Some("app".into()),
            user: Some("deploy".into()),
            ..Default::default()
        };
        assert_eq!(e.url("x").unwrap(), "postgres://deploy@db.internal:5433/app");
        let s = EnvConfig { driver: Some("sqlite".into()), database: Some("dev.db".into()), ..Default::default() };
        assert_eq!(s.url("x").unwrap(), "sqlite://dev.db");
        assert!(EnvConfig::default().url("x").unwrap_err().message.contains("needs `url`"));
    }

    #[test]
    fn edits_keep_the_rest_of_the_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("godwit.toml");
        fs::write(&p, "# my comment\nmigrations = \"db\"\n\n[env.dev]\nurl = \"sqlite://dev.db\" # local\n").unwrap();
        let env = EnvConfig { url: Some("postgres://app@db/app".into()), protected: true, ..Default::default() };
        write_env(&p, "prod", &env).unwrap();
        let text = fs::read_to_string(&p).unwrap();
        assert!(text.contains("# my comment") && text.contains("# local"), "{text}");
        assert!(text.contains("[env.prod]\nurl = \"postgres://app@db/app\"\nprotected = true"), "{text}");
        assert!(delete_env(&p, "prod").unwrap());
        assert!(!delete_env(&p, "prod").unwrap());
        let text = fs::read_to_string(&p).unwrap();
        assert!(!text.contains("prod") && text.contains("[env.dev]"), "{text}");
    }

    #[test]
    fn a_pasted_password_is_split_out() {
        use secrecy::ExposeSecret;
        let (url, pw) = split_password("postgres://app:s%40cret@db.example:5432/app?sslmode=require").unwrap();
        assert_eq!(
            (url.as_str(), pw.expose_secret()),
            ("postgres://app@db.example:5432/app?sslmode=require", "s@cret")
        );
        // A stray percent sign is part of the password, not an error.
        let (url, pw) = split_password("mysql://root:100%zz@127.0.0.1:3306/shop").unwrap();
        assert_eq!((url.as_str(), pw.expose_secret()), ("mysql://root@127.0.0.1:3306/shop", "100%zz"));
        assert!(split_password("postgres://app@db.example/app").is_none());
        assert!(split_password("sqlite://dev.db").is_none());
        assert!(split_password("not a url").is_none());
    }

    #[test]
    fn passwords_are_refused() {
        let e = refuse_password("prod", "postgres://app:hunter2@db/app").unwrap_err();
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        // No remedy to store it: the environment may not exist yet (`env add`), and the message says
        // the order of things.
        assert!(e.remedies.is_empty());
        assert!(refuse_password("prod", "mysql://app@db/app?password=x").is_err());
        refuse_password("prod", "postgres://app@db/app").unwrap();
    }
}
