//! A project: the folder holding `godwit.toml`, its migrations and its environments.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::db::Target;
use crate::error::{Error, Result};

pub const CONFIG_FILE: &str = "godwit.toml";

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default = "default_migrations")]
    pub migrations: String,
    /// The environment verbs use when `--env` is not given.
    pub default_env: Option<String>,
    /// The project's migration templates (default `templates`).
    pub templates: Option<String>,
    #[serde(default)]
    pub env: BTreeMap<String, EnvConfig>,
}

fn default_migrations() -> String {
    "migrations".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct EnvConfig {
    /// Database URL without a password.
    pub url: String,
    pub color: Option<String>,
    #[serde(default)]
    pub protected: bool,
}

#[derive(Debug, Clone)]
pub struct Project {
    pub root: PathBuf,
    pub config: Config,
}

/// What a verb works on: a database and a migrations folder.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The environment's name, when it came from `godwit.toml`.
    pub env: Option<String>,
    pub target: Target,
    pub migrations: PathBuf,
    pub protected: bool,
}

impl Project {
    /// Looks for `godwit.toml` in `start` and its parents.
    pub fn find(start: &Path) -> Result<Option<Project>> {
        let mut dir = Some(start);
        while let Some(d) = dir {
            if d.join(CONFIG_FILE).is_file() {
                return Project::load(d).map(Some);
            }
            dir = d.parent();
        }
        Ok(None)
    }

    pub fn load(root: &Path) -> Result<Project> {
        let path = root.join(CONFIG_FILE);
        let text =
            fs::read_to_string(&path).map_err(|e| Error::input(format!("cannot read {}: {e}", path.display())))?;
        let config: Config =
            toml::from_str(&text).map_err(|e| Error::input(format!("{} is not valid: {e}", path.display())))?;
        for (name, env) in &config.env {
            if url::Url::parse(&env.url).is_ok_and(|u| crate::db::target::take_password(u).0.is_some()) {
                return Err(Error::input(format!(
                    "{}: the url of env.{name} holds a password, and this file is committed. Remove the password \
                     from the URL and give it to Godwit through GODWIT_PASSWORD_{} instead.",
                    path.display(),
                    env_var_suffix(name)
                )));
            }
        }
        Ok(Project { root: root.to_path_buf(), config })
    }

    pub fn migrations_dir(&self) -> PathBuf {
        self.root.join(&self.config.migrations)
    }

    pub fn templates_dir(&self) -> PathBuf {
        self.root.join(self.config.templates.as_deref().unwrap_or("templates"))
    }

    /// The environment to use: the one asked for, else `default_env`, else `dev`, else the only one.
    pub fn env_name(&self, asked: Option<&str>) -> Result<String> {
        let names: Vec<&String> = self.config.env.keys().collect();
        let pick = asked
            .map(str::to_string)
            .or_else(|| self.config.default_env.clone())
            .or_else(|| self.config.env.contains_key("dev").then(|| "dev".into()))
            .or_else(|| (names.len() == 1).then(|| names[0].clone()));
        match pick {
            Some(n) if self.config.env.contains_key(&n) => Ok(n),
            Some(n) => Err(Error::input(format!(
                "there is no environment `{n}` in {}; known: {}",
                self.root.join(CONFIG_FILE).display(),
                list(&names)
            ))),
            None => Err(Error::input(format!(
                "choose an environment with --env ({}), or set default_env in {}",
                list(&names),
                CONFIG_FILE
            ))),
        }
    }

    pub fn workspace(&self, asked: Option<&str>) -> Result<Workspace> {
        let name = self.env_name(asked)?;
        let env = &self.config.env[&name];
        let target = Target::parse(&env.url, &self.root)?.with_password(password_from_env(&name));
        Ok(Workspace { env: Some(name), target, migrations: self.migrations_dir(), protected: env.protected })
    }
}

fn list(names: &[&String]) -> String {
    if names.is_empty() {
        "none yet; add one under [env.NAME]".into()
    } else {
        names.iter().map(|n| n.as_str()).collect::<Vec<_>>().join(", ")
    }
}

/// `GODWIT_PASSWORD_<ENV>`: the environment's name upper-cased, other characters as `_`.
pub fn env_var_suffix(env: &str) -> String {
    env.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
}

/// The password for headless pipelines that have no keyring.
pub fn password_from_env(env: &str) -> Option<SecretString> {
    std::env::var(format!("GODWIT_PASSWORD_{}", env_var_suffix(env))).ok().map(SecretString::from)
}

/// `godwit init`: writes `godwit.toml` in `root`, adopting an existing migrations folder.
pub fn init(root: &Path, migrations: &str) -> Result<(PathBuf, usize)> {
    let path = root.join(CONFIG_FILE);
    if path.exists() {
        return Err(Error::input(format!(
            "{} already exists; this folder is already a Godwit project.",
            path.display()
        )));
    }
    let dir = root.join(migrations);
    let adopted = if dir.is_dir() { crate::migration::source::Source::load(&dir)?.migrations.len() } else { 0 };
    fs::create_dir_all(&dir).map_err(|e| Error::input(format!("cannot create {}: {e}", dir.display())))?;
    let text = format!(
        "# Godwit project settings. Commit this file; never put a password in it.\nmigrations = \"{migrations}\"\n\n\
         [env.dev]\nurl = \"sqlite://dev.db\"\n"
    );
    fs::write(&path, text).map_err(|e| Error::input(format!("cannot write {}: {e}", path.display())))?;
    Ok((path, adopted))
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

    #[test]
    fn refuses_passwords_and_typos_in_the_file() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(CONFIG_FILE), "[env.x]\nurl = \"postgres://a:hunter2@db/app\"\n").unwrap();
        let e = Project::load(d.path()).unwrap_err();
        assert!(e.message.contains("GODWIT_PASSWORD_X") && !e.message.contains("hunter2"), "{}", e.message);
        fs::write(d.path().join(CONFIG_FILE), "[env.x]\nurl = \"sqlite://a.db\"\nprotect = true\n").unwrap();
        assert!(Project::load(d.path()).unwrap_err().message.contains("protect"));
    }
}
