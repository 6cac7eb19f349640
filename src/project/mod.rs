//! A project: the folder holding `godwit.toml`, its migrations and its environments.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::db::Target;
use crate::error::{Error, Named, Problem, Result};
use crate::migration::source::{Checksums, Source};
use crate::profile::{self, EnvConfig, EnvInfo, PasswordSource};
use crate::secret;
use crate::sqlx_config::{self, SqlxConfig};

mod fleets;
mod init;
mod placeholders;
mod workspace;
pub use fleets::*;
pub use init::*;
pub use placeholders::*;
pub use workspace::*;

pub const CONFIG_FILE: &str = "godwit.toml";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Names the project in the keyring (`<id>/<env>`) and the person's own files; `init` writes it.
    pub id: Option<String>,
    /// The migrations folder; without it, sqlx.toml's `migrations-dir`, else `migrations`.
    pub migrations: Option<String>,
    /// The environment verbs use when `--env` is not given.
    pub default_env: Option<String>,
    /// The project's migration templates (default `templates`).
    pub templates: Option<String>,
    /// The repeatable migrations (default `repeatable`, beside the migrations folder): applied again
    /// whenever they change, after the versioned ones. sqlx-cli never reads them.
    pub repeatable: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, EnvConfig>,
    pub backups: Option<BackupsConfig>,
    /// A file rewritten with the schema after each successful run in `dev` (or `schema_env`), so a
    /// pull request shows the schema change beside the migration.
    pub schema_file: Option<String>,
    /// The environment whose runs rewrite `schema_file` (default `dev`).
    pub schema_env: Option<String>,
    /// The schema the project wants, as SQL (a file, or a folder of .sql files):
    /// `new NAME --from-schema` and `diff --to-schema` read it when no FILE is given.
    pub desired_schema: Option<String>,
    /// `godwit lint`'s rules switched off or given another severity.
    pub lint: Option<crate::lint::LintConfig>,
    /// Groups of databases that take the same migrations (tenants, shards, regions).
    #[serde(default)]
    pub fleet: BTreeMap<String, FleetConfig>,
}

/// Checks that `rel`, from godwit.toml, names a place inside the project: relative, without `..`,
/// and, where it exists already, not a link that leads outside.
pub(crate) fn inside(root: &Path, rel: &str) -> std::result::Result<PathBuf, String> {
    use std::path::Component;
    let p = Path::new(rel);
    if rel.is_empty() || p.components().any(|c| !matches!(c, Component::Normal(_) | Component::CurDir)) {
        return Err("must be a path inside the project (relative, without `..`)".into());
    }
    let full = root.join(p);
    // The deepest part that exists already says where the rest will be made: a link anywhere on
    // the way (`elsewhere -> ~/.config`, then `elsewhere/new/file`) is followed here.
    let existing = full.ancestors().find(|a| a.exists()).unwrap_or(root);
    if let (Ok(real), Ok(base)) = (existing.canonicalize(), root.canonicalize())
        && !real.starts_with(&base)
    {
        return Err(format!("leads outside the project (to {})", real.display()));
    }
    Ok(full)
}

/// The migrations folder godwit.toml and sqlx.toml settle on, checked to be inside the project
/// (sqlx.toml may come from a stranger's repository too).
fn settled_migrations(root: &Path, config: &Config, sqlx: Option<&SqlxConfig>) -> Result<String> {
    let godwit = root.join(CONFIG_FILE);
    let dir = sqlx_config::migrations_dir(config.migrations.as_deref().map(|m| (godwit.as_path(), m)), sqlx)?;
    if let Some(s) = sqlx.filter(|_| config.migrations.is_none()) {
        inside(root, &dir)
            .map_err(|why| Error::input(format!("{}: `migrations-dir = \"{dir}\"` {why}", s.path.display())))?;
    }
    Ok(dir)
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BackupsConfig {
    /// How many backups of each environment to keep (default 10).
    pub keep: Option<usize>,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub config: Config,
    /// The person's own environments for this project (never committed).
    pub personal: BTreeMap<String, EnvConfig>,
    /// Environments the person lets their own `PGPASSWORD` and `~/.pgpass` go to, with the server
    /// each was allowed for.
    pub ambient_passwords: BTreeMap<String, String>,
    /// The folder's `sqlx.toml` (or the file `--config` named), which Godwit follows as sqlx-cli does.
    pub sqlx: Option<SqlxConfig>,
    /// The migrations folder, from godwit.toml or sqlx.toml.
    migrations: String,
}

/// What became of a removed environment's stored password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PasswordRemoval {
    Removed,
    NoneStored,
    /// The keyring could not be asked (why): a password may still be stored under the old name.
    NotReached(String),
}

impl Project {
    /// Looks for `godwit.toml` in `start` and its parents, up to the first parent that someone else
    /// could have put one in (a shared folder such as `/tmp`, or another user's).
    pub fn find(start: &Path) -> Result<Option<Project>> {
        Project::find_with(start, None)
    }

    /// `find`, following the sqlx config file `sqlx` instead of the project's sqlx.toml.
    pub fn find_with(start: &Path, sqlx: Option<&Path>) -> Result<Option<Project>> {
        let mut dir = Some(start);
        while let Some(d) = dir {
            // A parent's godwit.toml counts only when the folder is the person's.
            if d != start && !is_theirs(d) {
                break;
            }
            if d.join(CONFIG_FILE).is_file() {
                return Project::load_with(d, sqlx).map(Some);
            }
            dir = d.parent();
        }
        Ok(None)
    }

    /// The `godwit.toml` that `find` passed over in a parent someone else could write in, if any:
    /// for saying why no project was found.
    pub fn passed_over(start: &Path) -> Option<PathBuf> {
        start.ancestors().skip(1).find(|d| !is_theirs(d) && d.join(CONFIG_FILE).is_file()).map(|d| d.join(CONFIG_FILE))
    }

    pub fn load(root: &Path) -> Result<Project> {
        Project::load_with(root, None)
    }

    /// `load`, following the sqlx config file `sqlx` (sqlx-cli's `--config`) instead of the folder's.
    pub fn load_with(root: &Path, sqlx: Option<&Path>) -> Result<Project> {
        let path = root.join(CONFIG_FILE);
        let text = fs::read_to_string(&path).map_err(|e| Error::io("cannot read", &path, &e))?;
        // A syntax error quotes its line, which may be a URL with a password typed into it.
        let config: Config = toml::from_str(&text).map_err(|e| {
            Error::input(crate::db::target::redact_text(&format!("{} is not valid: {e}", path.display())))
        })?;
        if let Some(id) = &config.id {
            profile::check_id(id).map_err(|e| Error::input(format!("{}: {}", path.display(), e.message)))?;
        }
        profile::check_envs(&path, &config.env)?;
        // Folders and files the project names are written to (`new`, the schema file): a cloned
        // repository's godwit.toml must not point them outside the project.
        for (key, rel) in [
            ("migrations", config.migrations.as_deref()),
            ("templates", config.templates.as_deref()),
            ("repeatable", config.repeatable.as_deref()),
            ("schema_file", config.schema_file.as_deref()),
            ("desired_schema", config.desired_schema.as_deref()),
        ] {
            if let Some(rel) = rel {
                inside(root, rel)
                    .map_err(|why| Error::input(format!("{}: `{key} = \"{rel}\"` {why}", path.display())))?;
            }
        }
        let sqlx = match sqlx {
            Some(file) => Some(sqlx_config::read(file)?),
            None => sqlx_config::in_folder(root)?,
        };
        let migrations = settled_migrations(root, &config, sqlx.as_ref())?;
        // The repeatable folder's files are run: it must be the project's (a link in a cloned
        // repository may lead anywhere), and not the migrations folder (its downs would run).
        let repeatable = config.repeatable.clone().unwrap_or_else(|| {
            crate::migration::source::repeatable_beside(Path::new(&migrations)).to_string_lossy().into_owned()
        });
        inside(root, &repeatable)
            .map_err(|why| Error::input(format!("{}: the repeatable folder `{repeatable}` {why}", path.display())))?;
        if root.join(&repeatable).components().eq(root.join(&migrations).components()) {
            return Err(Error::input(format!(
                "{}: `repeatable = \"{repeatable}\"` is the migrations folder; give the repeatable files a folder of \
                 their own",
                path.display()
            )));
        }
        // The schema file is overwritten after runs: never a file the project keeps otherwise.
        if let Some(rel) = config.schema_file.as_deref() {
            let parts = |p: &str| -> Vec<std::ffi::OsString> {
                Path::new(p).iter().filter(|c| *c != ".").map(|c| c.to_os_string()).collect()
            };
            let (file, migrations) = (parts(rel), parts(&migrations));
            let taken =
                file.first().is_some_and(|c| c == ".git") || file == [CONFIG_FILE] || file.starts_with(&migrations);
            if taken {
                return Err(Error::input(format!(
                    "{}: `schema_file = \"{rel}\"` names a file the project keeps (godwit.toml, .git, the \
                     migrations): give it a file of its own, such as schema.txt",
                    path.display()
                )));
            }
        }
        for (name, env) in &config.env {
            if let Some(url) = &env.url {
                profile::refuse_password(name, url)
                    .map_err(|e| e.context(path.display()).and("This file is committed: remove it now."))?;
            }
        }
        let mut p = Project {
            root: root.to_path_buf(),
            config,
            personal: BTreeMap::new(),
            ambient_passwords: BTreeMap::new(),
            sqlx,
            migrations,
        };
        if let Some(file) = profile::personal_file(&p.id(), root) {
            let own = profile::load_personal(&file)?;
            p.personal = own.env;
            p.ambient_passwords = own.ambient_passwords;
            profile::check_envs(&file, &p.personal)?;
            if let Some(both) = p.personal.keys().find(|k| p.config.env.contains_key(*k)) {
                return Err(Error::input(format!(
                    "environment `{both}` is in both {} and your own {}; rename one.",
                    path.display(),
                    file.display()
                )));
            }
        }
        let envs = p.env_names();
        for (name, fleet) in &p.config.fleet {
            let why = profile::check_name(name)
                .err()
                .map(|_| "is not a usable name: use letters, digits, - and _".to_string())
                .or_else(|| fleet.problem(root, &envs));
            if let Some(why) = why {
                return Err(Error::input(format!("{}: fleet `{name}` {why}", path.display())));
            }
        }
        Ok(p)
    }

    /// A personal file from before they were tied to a folder (`profile::legacy_personal_file`),
    /// not read, when this folder has none of the new kind yet: with where it would go.
    pub fn unread_personal_file(&self) -> Option<(PathBuf, PathBuf)> {
        let now = profile::personal_file(&self.id(), &self.root)?;
        let old = profile::legacy_personal_file(&self.id()).filter(|f| f.is_file() && !now.exists())?;
        Some((old, now))
    }

    /// The project's id: `id` in godwit.toml, else one derived from the folder's path.
    pub fn id(&self) -> String {
        if let Some(id) = &self.config.id {
            return id.clone();
        }
        let canonical = self.root.canonicalize().unwrap_or_else(|_| self.root.clone());
        let hash = profile::folder_hash(&self.root);
        let name: String = canonical
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
            .collect();
        format!("{name}-{hash}")
    }

    /// Where a successful run on `env` writes the schema: `schema_file`, when `env` is `schema_env`
    /// (default `dev`).
    pub fn schema_file_for(&self, env: Option<&str>) -> Option<PathBuf> {
        let file = self.config.schema_file.as_deref()?;
        (env? == self.config.schema_env.as_deref().unwrap_or("dev")).then(|| self.root.join(file))
    }

    /// The schema the project wants (`desired_schema`), where it says.
    pub fn desired_schema(&self) -> Option<PathBuf> {
        self.config.desired_schema.as_deref().map(|rel| self.root.join(rel))
    }

    pub fn migrations_dir(&self) -> PathBuf {
        self.root.join(&self.migrations)
    }

    /// The repeatable migrations' folder: `repeatable`, else `repeatable` beside the migrations.
    pub fn repeatable_dir(&self) -> PathBuf {
        match &self.config.repeatable {
            Some(rel) => self.root.join(rel),
            None => crate::migration::source::repeatable_beside(&self.migrations_dir()),
        }
    }

    /// Where this project's databases keep their history (sqlx.toml's `[migrate]`).
    pub fn tables(&self) -> crate::db::Tables {
        sqlx_config::tables(self.sqlx.as_ref())
    }

    /// How checksums are computed: the characters sqlx.toml's `ignored-chars` leaves out.
    pub fn checksums(&self) -> Checksums {
        sqlx_config::checksums(self.sqlx.as_ref())
    }

    /// How many backups of each environment to keep: `[backups] keep`, else 10.
    pub fn backups_keep(&self) -> usize {
        self.config.backups.as_ref().and_then(|b| b.keep).unwrap_or(10)
    }

    pub fn templates_dir(&self) -> PathBuf {
        self.root.join(self.config.templates.as_deref().unwrap_or("templates"))
    }

    /// A fleet by name.
    pub fn fleet(&self, name: &str) -> Result<&FleetConfig> {
        self.config.fleet.get(name).ok_or_else(|| {
            let known: Vec<&String> = self.config.fleet.keys().collect();
            let known = if known.is_empty() {
                "none yet; add one under [fleet.NAME]".to_string()
            } else {
                known.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
            };
            Error::not_found(
                Named::Fleet,
                format!("there is no fleet `{name}` in {}; known: {known}", self.root.join(CONFIG_FILE).display()),
            )
        })
    }

    /// An environment and whether it is the person's own.
    pub fn env(&self, name: &str) -> Option<(&EnvConfig, bool)> {
        self.config.env.get(name).map(|e| (e, false)).or_else(|| self.personal.get(name).map(|e| (e, true)))
    }

    fn env_names(&self) -> Vec<&String> {
        self.config.env.keys().chain(self.personal.keys()).collect()
    }

    /// The databases the environments use, each with its environments' names (URLs only: no keyring).
    pub fn dialects(&self) -> Vec<(crate::syntax::Dialect, Vec<String>)> {
        let mut out: Vec<(crate::syntax::Dialect, Vec<String>)> = Vec::new();
        for name in self.env_names() {
            let Some((env, _)) = self.env(name) else { continue };
            let Ok(target) = env.url(name).and_then(|u| Target::parse(&u, &self.root)) else { continue };
            match out.iter_mut().find(|(d, _)| *d == target.dialect()) {
                Some((_, names)) => names.push(name.clone()),
                None => out.push((target.dialect(), vec![name.clone()])),
            }
        }
        out
    }

    /// The environment to use: the one asked for, else `default_env`, else `dev`, else the only one.
    pub fn env_name(&self, asked: Option<&str>) -> Result<String> {
        let names = self.env_names();
        let pick = asked
            .map(str::to_string)
            .or_else(|| self.config.default_env.clone())
            .or_else(|| self.env("dev").map(|_| "dev".into()))
            .or_else(|| (names.len() == 1).then(|| names[0].clone()));
        match pick {
            Some(n) if self.env(&n).is_some() => Ok(n),
            Some(n) => Err(Error::not_found(
                Named::Environment,
                format!(
                    "there is no environment `{n}` in {}; known: {}",
                    self.root.join(CONFIG_FILE).display(),
                    list(&names)
                ),
            )),
            None => Err(Error::input(format!(
                "name one of the environments ({}), or set default_env in {}",
                list(&names),
                CONFIG_FILE
            ))),
        }
    }

    pub fn secret_key(&self, env: &str) -> String {
        secret::key(&self.id(), env)
    }

    /// The environment's workspace, without its password yet (see `Workspace::resolve_password`).
    pub fn workspace(&self, asked: Option<&str>) -> Result<Workspace> {
        let name = self.env_name(asked)?;
        let (env, _) = self.env(&name).expect("env_name checked it");
        let target = Target::parse(&env.url(&name)?, &self.root)?;
        let waits = env.waits(&name)?;
        let placeholders =
            workspace::placeholder_values(&name, &env.placeholders, self.secret_key(&name), target.binding());
        Ok(Workspace {
            placeholders,
            secret_key: Some(self.secret_key(&name)),
            ambient: self.ambient_allowed(&name, &target),
            env: Some(name),
            target,
            migrations: self.migrations_dir(),
            repeatable: self.repeatable_dir(),
            checksums: self.checksums(),
            protected: env.protected,
            waits,
        })
    }

    /// `env add`: a new environment in godwit.toml, or in the person's own file.
    pub fn add_env(&mut self, name: &str, env: EnvConfig, personal: bool) -> Result<PathBuf> {
        profile::check_name(name)?;
        if self.env(name).is_some() {
            return Err(Error::input(format!(
                "there is already an environment `{name}`: remove it first, or choose another name."
            ))
            .with_remedy(crate::error::Remedy::RemoveEnv { env: name.to_string() }));
        }
        self.save_env(name, env, personal)
    }

    /// Adds or replaces an environment (the app's edit form). Its stored password stays, and follows
    /// an edit to another server: the person editing chose it (a password that was bound elsewhere
    /// still is).
    pub fn save_env(&mut self, name: &str, env: EnvConfig, personal: bool) -> Result<PathBuf> {
        profile::check_name(name)?;
        if let Some(c) = &env.color {
            profile::check_color(name, c)?;
        }
        let url = env.url(name)?;
        profile::refuse_password(name, &url)?;
        let new_binding = Target::parse(&url, &self.root)?.binding();
        let old_binding = self.workspace(Some(name)).ok().map(|w| w.target.binding());
        let path = if personal {
            profile::personal_file(&self.id(), &self.root)
                .ok_or_else(|| Error::input("this system has no config folder for personal environments"))?
        } else {
            self.root.join(CONFIG_FILE)
        };
        // Moving between the project's file and the person's own: take it out of the other.
        if let Some((_, was_personal)) = self.env(name)
            && was_personal != personal
        {
            let other = if was_personal {
                profile::personal_file(&self.id(), &self.root)
            } else {
                Some(self.root.join(CONFIG_FILE))
            };
            if let Some(other) = other {
                profile::delete_env(&other, name)?;
            }
            self.config.env.remove(name);
            self.personal.remove(name);
        }
        profile::write_env(&path, name, &env)?;
        if personal {
            self.personal.insert(name.into(), env);
        } else {
            self.config.env.insert(name.into(), env);
        }
        if let Some(old) = old_binding.filter(|o| *o != new_binding) {
            let key = self.secret_key(name);
            let secrets = self.secret_placeholders(name).into_iter().map(|n| secret::placeholder_key(&key, &n));
            for key in std::iter::once(key.clone()).chain(secrets) {
                if let Ok(Some(stored)) = secret::get(&key)
                    && stored.allows(&old)
                {
                    secret::rebind(&key, &new_binding)?;
                }
            }
        }
        Ok(path)
    }

    /// Whether the person let their own passwords go to `env`, for the server it names now.
    fn ambient_allowed(&self, env: &str, target: &Target) -> bool {
        self.ambient_passwords.get(env).is_some_and(|b| crate::db::target::binding_allows(b, &target.binding()))
    }

    /// `secret ambient`: whether the person's own `PGPASSWORD` and `~/.pgpass` may be sent to `env`,
    /// for the server it names now, written in their own file for this folder (never the
    /// project's). Taking it back works for an environment that is gone too.
    pub fn allow_ambient(&mut self, env: &str, allowed: bool) -> Result<PathBuf> {
        let path = profile::personal_file(&self.id(), &self.root)
            .ok_or_else(|| Error::input("this system has no config folder for your own settings"))?;
        if !allowed {
            profile::write_ambient(&path, env, None)?;
            self.ambient_passwords.remove(env);
            return Ok(path);
        }
        let target = self.workspace(Some(env))?.target;
        if !target.dialect().has_passwords() {
            return Err(Error::input(format!("`{env}` is a SQLite file: it has no password.")));
        }
        if !target.dialect().has_ambient_passwords() {
            return Err(Error::input(format!(
                "`{env}` is {}: only PostgreSQL's clients read PGPASSWORD and a pass file. Store its password in \
                 the OS keyring instead.",
                target.dialect().name()
            )));
        }
        profile::write_ambient(&path, env, Some(&target.binding()))?;
        self.ambient_passwords.insert(env.to_string(), target.binding());
        Ok(path)
    }

    /// The names of an environment's secret placeholders.
    fn secret_placeholders(&self, env: &str) -> Vec<String> {
        let Some((e, _)) = self.env(env) else { return Vec::new() };
        e.placeholders
            .iter()
            .filter(|(_, s)| matches!(s, crate::migration::placeholders::Setting::Secret { .. }))
            .map(|(n, _)| n.clone())
            .collect()
    }

    /// `env remove`: removes the environment and its stored password.
    pub fn remove_env(&mut self, name: &str) -> Result<PasswordRemoval> {
        let Some((_, personal)) = self.env(name) else {
            return Err(Error::not_found(
                Named::Environment,
                format!("there is no environment `{name}`; known: {}", list(&self.env_names())),
            ));
        };
        let path = if personal {
            profile::personal_file(&self.id(), &self.root).expect("loaded from it")
        } else {
            self.root.join(CONFIG_FILE)
        };
        let secrets = self.secret_placeholders(name);
        profile::delete_env(&path, name)?;
        for n in secrets {
            let _ = secret::remove(&secret::placeholder_key(&self.secret_key(name), &n));
        }
        self.config.env.remove(name);
        self.personal.remove(name);
        // The keyring may be unavailable; the environment is gone either way, and a stale
        // password under its key is harmless (it is bound to its server) and said.
        // An environment added later under this name does not inherit the permission.
        if self.ambient_passwords.contains_key(name) {
            self.allow_ambient(name, false)?;
        }
        Ok(match secret::remove(&self.secret_key(name)) {
            Ok(true) => PasswordRemoval::Removed,
            Ok(false) => PasswordRemoval::NoneStored,
            Err(e) => PasswordRemoval::NotReached(e.message),
        })
    }

    /// Every environment with where its password would come from.
    pub fn envs(&self) -> Vec<EnvInfo> {
        let mut keyring_ok = true;
        let mut out = Vec::new();
        for (name, env, personal) in
            self.config.env.iter().map(|(n, e)| (n, e, false)).chain(self.personal.iter().map(|(n, e)| (n, e, true)))
        {
            let url = env.url(name).unwrap_or_default();
            let target = Target::parse(&url, &self.root).ok();
            let dialect = target.as_ref().map(Target::dialect);
            let password = if dialect.is_some_and(|d| !d.has_passwords()) {
                PasswordSource::None
            } else if password_from_env(name).is_some() {
                PasswordSource::Environment
            } else if !keyring_ok {
                PasswordSource::Unknown
            } else {
                match secret::get(&self.secret_key(name)) {
                    Ok(Some(s)) if target.as_ref().is_some_and(|t| s.allows(&t.binding())) => PasswordSource::Keyring,
                    Ok(Some(_)) => PasswordSource::KeyringOtherServer,
                    Ok(None) if target.as_ref().is_some_and(|t| self.ambient_allowed(name, t)) => {
                        PasswordSource::Ambient
                    }
                    Ok(None) => PasswordSource::None,
                    Err(_) => {
                        // One failure is enough to know: do not wait on every environment.
                        keyring_ok = false;
                        PasswordSource::Unknown
                    }
                }
            };
            let shown = target.as_ref().map_or(url, Target::display);
            out.push(EnvInfo {
                name: name.clone(),
                url: shown,
                dialect,
                dialect_name: dialect.map(|d| d.name().to_string()),
                color: env.color.clone(),
                color_hex: env.color.as_deref().and_then(profile::color_hex),
                protected: env.protected,
                changes: crate::migration::guard::Guard::for_change(name, env.protected),
                personal,
                password,
            });
        }
        out
    }
}

/// Whether what is at `path` (not followed, if a link) is the person's: theirs or the system's,
/// and nobody else may write to it.
#[cfg(unix)]
pub(crate) fn is_theirs(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    // SAFETY: getegid has no preconditions.
    let my_group = unsafe { libc::getegid() };
    std::fs::symlink_metadata(path).is_ok_and(|m| {
        // A link's own mode is always 0777 and means nothing; its owner does.
        let mode = if m.file_type().is_symlink() { 0 } else { m.mode() };
        let others_write = mode & 0o002 != 0 || (mode & 0o020 != 0 && m.gid() != my_group);
        (m.uid() == me || m.uid() == 0) && !others_write
    })
}

#[cfg(not(unix))]
pub(crate) fn is_theirs(_path: &Path) -> bool {
    true
}

fn list(names: &[&String]) -> String {
    if names.is_empty() {
        "none yet; add one under [env.NAME]".into()
    } else {
        names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_project_upwards_and_picks_environments() {
        let d = tempfile::tempdir().unwrap();
        fs::write(
            d.path().join(CONFIG_FILE),
            "[env.dev]\nurl = \"sqlite://dev.db\"\n[env.prod]\nurl = \"postgres://app@db/app\"\nprotected = true\n",
        )
        .unwrap();
        let sub = d.path().join("a/b");
        fs::create_dir_all(&sub).unwrap();
        let p = Project::find(&sub).unwrap().unwrap();
        assert_eq!(p.root, d.path());
        assert_eq!(p.env_name(None).unwrap(), "dev");
        let w = p.workspace(Some("prod")).unwrap();
        assert!(w.protected);
        let e = p.env_name(Some("stage")).unwrap_err();
        assert!(e.message.contains("dev, prod"), "{}", e.message);
    }

    #[cfg(unix)]
    #[test]
    fn a_godwit_toml_planted_in_a_shared_parent_is_not_found() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let shared = d.path().join("shared");
        let mine = shared.join("mine/sub");
        fs::create_dir_all(&mine).unwrap();
        fs::write(shared.join(CONFIG_FILE), "[env.evil]\nurl = \"postgres://app@evil.example/db\"\n").unwrap();
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(Project::find(&mine).unwrap().is_none());
        // Said when no project is found, so the person knows which file was passed over.
        assert_eq!(Project::passed_over(&mine), Some(shared.join(CONFIG_FILE)));
        // In the folder itself, it is the one the person chose to work in.
        assert!(Project::find(&shared).unwrap().is_some());
        fs::set_permissions(&shared, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(Project::find(&mine).unwrap().is_some());
    }

    #[test]
    fn refuses_passwords_and_typos_in_the_file() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(CONFIG_FILE), "[env.x]\nurl = \"postgres://a:hunter2@db/app\"\n").unwrap();
        let e = Project::load(d.path()).unwrap_err();
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        // Storing the password cannot work while the file that holds it does not load: no remedy.
        assert!(e.remedies.is_empty());
        fs::write(d.path().join(CONFIG_FILE), "[env.x]\nurl = \"sqlite://a.db\"\nprotect = true\n").unwrap();
        assert!(Project::load(d.path()).unwrap_err().message.contains("protect"));
    }

    #[test]
    fn a_fleet_is_checked_on_load() {
        let d = tempfile::tempdir().unwrap();
        let load = |fleet: &str| {
            fs::write(d.path().join(CONFIG_FILE), format!("[env.eu]\nurl = \"sqlite://eu.db\"\n[fleet.f]\n{fleet}\n"))
                .unwrap();
            Project::load(d.path()).map(|_| ()).map_err(|e| e.message)
        };
        assert!(load("envs = [\"eu\"]").is_ok());
        assert!(load("file = \"tenants.txt\"\nper_server = 2").is_ok());
        for (bad, says) in [
            ("envs = [\"eu\"]\nfile = \"t.txt\"", "exactly one"),
            ("", "exactly one"),
            ("envs = [\"us\"]", "`us`"),
            ("pattern = \"postgres://app:hunter2@db/t_%\"", "password"),
            ("pattern = \"postgres://app@db/tenants\"", "no `%`"),
            ("pattern = \"sqlite://t_%.db\"", "SQLite"),
            ("file = \"../elsewhere.txt\"", "inside the project"),
            ("file = \"t.txt\"\nper_server = 0", "per_server"),
        ] {
            let e = load(bad).unwrap_err();
            assert!(e.contains(says) && !e.contains("hunter2"), "{bad}: {e}");
        }
    }
}
