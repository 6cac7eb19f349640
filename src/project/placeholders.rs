//! An environment's placeholders, as `placeholder set/list/remove` and the app's editor change them.

use secrecy::SecretString;
use serde::Serialize;

use super::*;
use crate::migration::placeholders::Setting;

/// A value to give a placeholder.
pub enum NewValue {
    Text(String),
    /// Kept in the OS keyring, bound to the environment's server; the file says `{ secret = true }`.
    Secret(SecretString),
}

/// A placeholder as an environment has it, or as the files use it without a value.
#[derive(ts_rs::TS, Debug, Clone, PartialEq, Eq, Serialize)]
#[ts(export)]
pub struct PlaceholderInfo {
    pub name: String,
    /// The text, for one that is not secret.
    pub value: Option<String>,
    pub secret: bool,
    /// For a secret one: whether the OS keyring holds it (`None`: the keyring could not be asked).
    pub stored: Option<bool>,
    /// The marked migration files that use it.
    pub used_by: Vec<String>,
}

impl Project {
    /// Gives `env` a value for placeholder `name`, in the file the environment is in (a secret one
    /// in the OS keyring, bound to the server `env` names now).
    pub fn set_placeholder(&mut self, env: &str, name: &str, value: NewValue) -> Result<PathBuf> {
        let key = format!("env.{env}.placeholders.{name}");
        if !crate::syntax::placeholders::is_name(name) {
            return Err(Error::input(format!(
                "`{name}` is not a usable placeholder name: a letter or _, then letters, digits and _"
            )));
        }
        let ws = self.workspace(Some(env))?;
        let (config, personal) = self.env(env).map(|(e, p)| (e.clone(), p)).expect("workspace checked it");
        let mut config = config;
        let setting = match &value {
            NewValue::Text(t) => {
                crate::migration::placeholders::check_value(&key, t)?;
                Setting::Text(t.clone())
            }
            NewValue::Secret(s) => {
                ws.store_placeholder(name, s)?;
                Setting::Secret { secret: true }
            }
        };
        let was_secret = matches!(config.placeholders.get(name), Some(Setting::Secret { .. }));
        config.placeholders.insert(name.to_string(), setting);
        let path = self.save_env(env, config, personal)?;
        if was_secret && matches!(value, NewValue::Text(_)) {
            let _ = secret::remove(&secret::placeholder_key(&self.secret_key(env), name));
        }
        Ok(path)
    }

    /// Takes placeholder `name` away from `env` (and its secret value from the OS keyring);
    /// `false` when `env` had none of that name.
    pub fn remove_placeholder(&mut self, env: &str, name: &str) -> Result<bool> {
        self.workspace(Some(env))?;
        let (config, personal) = self.env(env).map(|(e, p)| (e.clone(), p)).expect("workspace checked it");
        let mut config = config;
        let Some(was) = config.placeholders.remove(name) else { return Ok(false) };
        self.save_env(env, config, personal)?;
        if matches!(was, Setting::Secret { .. }) {
            secret::remove(&secret::placeholder_key(&self.secret_key(env), name))?;
        }
        Ok(true)
    }

    /// `env`'s placeholders and those the marked files use that it has no value for, by name.
    pub fn placeholders(&self, env: &str, source: &Source) -> Result<Vec<PlaceholderInfo>> {
        self.workspace(Some(env))?;
        let (config, _) = self.env(env).expect("workspace checked it");
        let mut used: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for m in source.migrations.iter().chain(&source.repeatables) {
            if crate::migration::placeholders::marked(&m.sql) {
                for n in crate::migration::placeholders::names(&m.sql, None) {
                    used.entry(n).or_default().push(m.file_name());
                }
            }
        }
        let mut out = Vec::new();
        for (name, setting) in &config.placeholders {
            let (value, secret, stored) = match setting {
                Setting::Text(t) => (Some(t.clone()), false, None),
                Setting::Secret { .. } => {
                    let key = secret::placeholder_key(&self.secret_key(env), name);
                    (None, true, secret::get(&key).ok().map(|s| s.is_some()))
                }
            };
            let used_by = used.remove(name).unwrap_or_default();
            out.push(PlaceholderInfo { name: name.clone(), value, secret, stored, used_by });
        }
        for (name, used_by) in used {
            out.push(PlaceholderInfo { name, value: None, secret: false, stored: None, used_by });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}
