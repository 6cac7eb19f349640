//! What a verb works on, and how its password is found.

use secrecy::{ExposeSecret, SecretString};

use super::*;
use crate::migration::placeholders::{Setting, Values};

/// What a verb works on: a database and a migrations folder.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// The environment's name, when it came from a profile.
    pub env: Option<String>,
    pub target: Target,
    pub migrations: PathBuf,
    /// The repeatable migrations' folder (it need not exist).
    pub repeatable: PathBuf,
    /// How the migrations' checksums are computed (sqlx.toml's `ignored-chars`).
    pub checksums: Checksums,
    pub protected: bool,
    /// What the environment says of lock waits and long statements (a run's flags go over it).
    pub waits: crate::migration::waits::Asked,
    /// The values of the placeholders its migrations use (a secret one read when a file uses it).
    pub placeholders: Values,
    /// Where the password is kept in the keyring, for environments.
    pub(super) secret_key: Option<String>,
    /// The person's own settings let their ambient passwords go to this environment.
    pub(super) ambient: bool,
}

impl Workspace {
    /// What a person types to confirm a change: the environment's name, else the database's.
    pub fn confirm_name(&self) -> String {
        self.env.clone().unwrap_or_else(|| self.target.database())
    }

    pub fn adhoc(target: Target, migrations: PathBuf) -> Workspace {
        let checksums = Checksums::default();
        Workspace {
            env: None,
            target,
            repeatable: crate::migration::source::repeatable_beside(&migrations),
            migrations,
            checksums,
            protected: false,
            waits: Default::default(),
            placeholders: Values::default(),
            secret_key: None,
            ambient: false,
        }
    }

    /// A database of a fleet that is not an environment (its password, if any, is in `target`).
    pub fn member(target: Target, migrations: PathBuf, protected: bool) -> Workspace {
        Workspace { protected, ..Workspace::adhoc(target, migrations) }
    }

    pub fn with_checksums(self, checksums: Checksums) -> Workspace {
        Workspace { checksums, ..self }
    }

    /// The migrations folder, read.
    pub fn source(&self) -> Result<Source> {
        Source::load_with(&self.migrations, &self.checksums)?.with_repeatables(&self.repeatable, &self.checksums)
    }

    /// Adds the password, from GODWIT_PASSWORD_<ENV> or else the keyring, just before connecting
    /// (verbs that only read files never touch the keyring). A keyring that cannot be read is not
    /// an error yet: the server may not need a password; if it does, its refusal says why.
    ///
    /// A stored password is sent only to the server it was stored for. When the environment now
    /// names another one (a changed or hostile `godwit.toml`), nothing is sent and the error offers
    /// `Remedy::TrustServer`; `trust_server` is that confirmation, given once: the password is then
    /// bound to the new server. Returns what it was bound to before, when it was rebound.
    pub fn resolve_password(&mut self, trust_server: bool) -> Result<Option<String>> {
        let (Some(env), Some(key)) = (&self.env, &self.secret_key) else { return Ok(None) };
        if !self.target.dialect().has_passwords() || self.target.has_password() {
            return Ok(None);
        }
        let var = password_var(env);
        if let Some(p) = password_from_env(env) {
            self.target =
                self.target.clone().with_password(Some(p)).with_auth_hint(format!("the password came from {var}"));
            return Ok(None);
        }
        let mut rebound = None;
        let hint = match secret::get(key) {
            Ok(Some(stored)) => {
                let now = self.target.binding();
                if !stored.allows(&now) {
                    if !trust_server {
                        return Err(server_changed(env, stored.bound_to, now));
                    }
                    secret::rebind(key, &now)?;
                    rebound = Some(stored.bound_to.unwrap_or_else(|| "no server (stored by an older Godwit)".into()));
                } else if !stored.tls_bound {
                    // Bound from now on with the TLS settings it is used with, as newer ones are.
                    let _ = secret::rebind(key, &now);
                }
                self.target = self.target.clone().with_password(Some(stored.password));
                "the password came from the OS keyring: store the right one".to_string()
            }
            Ok(_) | Err(_) if self.ambient => {
                self.target = self.target.clone().with_ambient(true);
                match crate::db::target::ambient_sources().is_empty() {
                    true => format!(
                        "neither PGPASSWORD nor a pass file holds one (your own settings let `{env}` use them): \
                         store its password in the OS keyring, or set {var}"
                    ),
                    false => format!("fix them, or store the password of `{env}` in the OS keyring"),
                }
            }
            found => {
                let why = match found {
                    Ok(_) => format!("no password is stored for `{env}`"),
                    Err(e) => e.message,
                };
                let ambient = crate::db::target::ambient_sources();
                if self.target.dialect().has_ambient_passwords() && !ambient.is_empty() {
                    // Said, so the person knows why their own password did not work here.
                    let remedy = crate::error::Remedy::AllowAmbient { env: env.clone() };
                    self.target = self.target.clone().with_auth_remedy(remedy);
                    format!(
                        "{why}, and your own {} was not sent (a project's file may name any server): store its \
                         password in the OS keyring, set {var}, or let `{env}` use your own",
                        ambient.join(" and ")
                    )
                } else {
                    format!("{why}: store it in the OS keyring, or set {var}")
                }
            }
        };
        let remedy = crate::error::Remedy::SetPassword { env: env.clone() };
        self.target = self.target.clone().with_auth_hint(hint).with_auth_remedy(remedy);
        Ok(rebound)
    }

    /// Stores the environment's password, bound to the server it names now.
    pub fn store_password(&self, password: &SecretString) -> Result<()> {
        let key = self.secret_key.as_deref().ok_or_else(|| Error::input("only an environment keeps a password"))?;
        secret::set(key, password, &self.target.binding())
    }

    /// Stores a secret placeholder's value, bound to the server the environment names now.
    pub fn store_placeholder(&self, name: &str, value: &SecretString) -> Result<()> {
        let key = self.secret_key.as_deref().ok_or_else(|| Error::input("only an environment has placeholders"))?;
        crate::migration::placeholders::check_value(&format!("placeholder {name}"), value.expose_secret())?;
        secret::set(&secret::placeholder_key(key, name), value, &self.target.binding())
    }
}

/// An environment's placeholders: its settings, and its secret ones from `GODWIT_SECRET_<ENV>_<NAME>`
/// or else the OS keyring, sent only to the server they were stored for.
pub(super) fn placeholder_values(
    env: &str,
    settings: &BTreeMap<String, Setting>,
    key: String,
    binding: String,
) -> Values {
    let name_of_env = env.to_string();
    Values::new(Some(env.to_string()), settings.clone(), move |name| {
        if let Some(v) = std::env::var(secret_var(&name_of_env, name)).ok().filter(|v| !v.is_empty()) {
            return Ok(Some(SecretString::from(v)));
        }
        match secret::get(&secret::placeholder_key(&key, name))? {
            None => Ok(None),
            Some(stored) if stored.allows(&binding) => Ok(Some(stored.password)),
            Some(stored) => Err(Error::new(
                Problem::ServerChanged,
                format!(
                    "the secret placeholder {name} of `{name_of_env}` was stored for {}, but `{name_of_env}` now connects \
                     to {binding}. It was not sent; if that is the right server, store the value again for it.",
                    stored.bound_to.as_deref().unwrap_or("another server")
                ),
            )
            .with_remedy(crate::error::Remedy::SetPlaceholder {
                env: name_of_env.clone(),
                name: name.to_string(),
                secret: true,
            })),
        }
    })
}

/// `GODWIT_SECRET_<ENV>_<NAME>`: a secret placeholder for pipelines that have no keyring.
pub fn secret_var(env: &str, name: &str) -> String {
    let up = |s: &str| -> String {
        s.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect()
    };
    format!("GODWIT_SECRET_{}_{}", up(env), up(name))
}

fn server_changed(env: &str, stored_for: Option<String>, now: String) -> Error {
    let was = match &stored_for {
        Some(b) => format!("was stored for {b}"),
        None => "was stored by an older Godwit, before passwords were bound to a server".into(),
    };
    Error::new(
        Problem::ServerChanged,
        format!(
            "the password of `{env}` in the OS keyring {was}, but `{env}` now connects to {now}. It was not sent. \
             If {now} is the right server, confirm it once; otherwise check who changed the environment."
        ),
    )
    .with_remedy(crate::error::Remedy::TrustServer { env: env.to_string(), stored_for, now })
}

/// `GODWIT_PASSWORD_<ENV>`: the environment's name upper-cased, other characters as `_`.
pub fn password_var(env: &str) -> String {
    let suffix: String =
        env.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("GODWIT_PASSWORD_{suffix}")
}

/// The password for headless pipelines that have no keyring.
pub fn password_from_env(env: &str) -> Option<SecretString> {
    std::env::var(password_var(env)).ok().filter(|p| !p.is_empty()).map(SecretString::from)
}
