//! Passwords in the OS keyring (Secret Service on Linux, Keychain, Credential Manager), service
//! `godwit`, key `<project id>/<env>`. Every call is bounded in time: a locked keyring with an
//! unlock prompt nobody answers, or a Secret Service that never replies, becomes an error.
//!
//! A password is stored with the server it was stored for (driver, host, port, user, database:
//! `Target::binding`). The key alone is not enough: the project id is committed, so a fork or a
//! hostile repository with the same id could point the environment at its own server.

use std::sync::mpsc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};

use crate::error::{Error, Problem, Result};

const SERVICE: &str = "godwit";

/// How long a keyring call may take (`GODWIT_KEYRING_TIMEOUT` seconds, default 10).
fn timeout() -> Duration {
    std::env::var("GODWIT_KEYRING_TIMEOUT")
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Duration::from_secs(10), Duration::from_secs_f64)
}

pub fn key(project_id: &str, env: &str) -> String {
    format!("{project_id}/{env}")
}

/// What a key holds, and the variable that can give it instead: a password, or a secret placeholder's value.
fn kept(key: &str) -> (&'static str, &'static str) {
    match key.contains("/placeholder/") {
        true => ("the secret value", "GODWIT_SECRET_<ENV>_<NAME>"),
        false => ("the password", "GODWIT_PASSWORD_<ENV>"),
    }
}

/// Where an environment's secret placeholder is kept, beside its password (`key`).
pub fn placeholder_key(env_key: &str, name: &str) -> String {
    format!("{env_key}/placeholder/{name}")
}

/// Runs a keyring call on its own thread and gives up after the timeout (the thread is left to
/// finish on its own; the process does not wait for it).
fn bounded<T: Send + 'static>(
    key: &str,
    doing: &str,
    f: impl FnOnce() -> keyring::Result<T> + Send + 'static,
) -> Result<T> {
    let (what, var) = kept(key);
    let what = &format!("{doing} {what} of {key}");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    let limit = timeout();
    match rx.recv_timeout(limit) {
        Ok(r) => r.map_err(|e| keyring_error(what, var, e)),
        Err(_) => Err(Error::new(
            Problem::Keyring,
            format!(
                "the OS keyring did not answer within {limit:?} while {what}: it may be locked and waiting for an \
                 unlock prompt. Unlock it and try again, or give the value through {var}."
            ),
        )),
    }
}

/// The keyring's own errors, in words that never include a secret (some variants carry the
/// stored bytes).
fn keyring_error(what: &str, var: &str, e: keyring::Error) -> Error {
    use keyring::Error as K;
    let why = match e {
        K::NoDefaultStore => format!(
            "no keyring is available (on Linux: no Secret Service on the session bus; start one \
                              such as gnome-keyring, or use {var})"
        ),
        K::NoStorageAccess(p) => format!(
            "the keyring is locked or refused access ({p}): unlock it (log in to the desktop session, or \
             `gnome-keyring-daemon --unlock`) and try again, or use {var}"
        ),
        K::PlatformFailure(p) => format!("the keyring failed: {p}"),
        K::BadEncoding(_) | K::BadDataFormat(..) => "the stored password is not readable text; store it again".into(),
        K::Ambiguous(_) => {
            "the keyring holds more than one password for this environment; remove them and store one".into()
        }
        K::TooLong(attr, _) => format!("{attr} is too long for the keyring"),
        K::Invalid(attr, why) => format!("{attr}: {why}"),
        other => format!("{other}"),
    };
    Error::new(Problem::Keyring, format!("while {what}: {why}"))
}

/// A stored password and the server it was stored for.
pub struct Stored {
    pub password: SecretString,
    /// `None` for a password stored before passwords were bound (it is sent nowhere until confirmed).
    pub bound_to: Option<String>,
    /// Bound with the URL's TLS settings (stored since bindings carry them): an older binding says
    /// nothing of TLS, and its place alone is compared (`allows`).
    pub tls_bound: bool,
}

impl Stored {
    /// Whether this password may go to the binding `now` (`db::target::binding_allows`). One stored
    /// before bindings carried TLS settings goes where its place is the same: the TLS mode it was
    /// used with then is not known.
    pub fn allows(&self, now: &str) -> bool {
        self.bound_to.as_deref().is_some_and(|b| {
            crate::db::target::binding_allows(b, now) || (!self.tls_bound && b == crate::db::target::place_of(now))
        })
    }
}

/// How a password and its binding are kept in one keyring entry.
#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    godwit_secret: u32,
    #[serde(rename = "for")]
    bound_to: String,
    password: String,
}

impl Stored {
    fn decode(text: String) -> Stored {
        match serde_json::from_str::<Envelope>(&text) {
            Ok(e) if matches!(e.godwit_secret, 1 | 2) => Stored {
                password: SecretString::from(e.password),
                bound_to: Some(e.bound_to),
                tls_bound: e.godwit_secret == 2,
            },
            _ => Stored { password: SecretString::from(text), bound_to: None, tls_bound: false },
        }
    }

    fn encode(&self, bound_to: &str) -> SecretString {
        let e = Envelope {
            godwit_secret: 2,
            bound_to: bound_to.to_string(),
            password: self.password.expose_secret().to_string(),
        };
        SecretString::from(serde_json::to_string(&e).expect("serializable"))
    }
}

/// The stored password, if there is one.
pub fn get(key: &str) -> Result<Option<Stored>> {
    let k = key.to_string();
    let text = bounded(key, "reading", move || {
        let entry = keyring::Entry::new(SERVICE, &k)?;
        match entry.get_password() {
            Ok(p) => Ok(Some(SecretString::from(p))),
            Err(keyring::Error::NoEntry) => Ok(None),
            Err(e) => Err(e),
        }
    })?;
    Ok(text.map(|t| Stored::decode(t.expose_secret().to_string())))
}

/// Stores a password for the server `bound_to` (see `Target::binding`); it is sent nowhere else.
pub fn set(key: &str, password: &SecretString, bound_to: &str) -> Result<()> {
    let stored = Stored { password: password.clone(), bound_to: None, tls_bound: true };
    put(key, stored.encode(bound_to))
}

/// Binds the stored password to another server, after a person confirmed it; `false` when none is stored.
pub fn rebind(key: &str, bound_to: &str) -> Result<bool> {
    match get(key)? {
        Some(stored) => put(key, stored.encode(bound_to)).map(|_| true),
        None => Ok(false),
    }
}

fn put(key: &str, value: SecretString) -> Result<()> {
    let k = key.to_string();
    bounded(key, "storing", move || keyring::Entry::new(SERVICE, &k)?.set_password(value.expose_secret()))
}

/// Removes the stored password; `false` when there was none.
pub fn remove(key: &str) -> Result<bool> {
    let k = key.to_string();
    bounded(key, "removing", move || match keyring::Entry::new(SERVICE, &k)?.delete_credential() {
        Ok(()) => Ok(true),
        Err(keyring::Error::NoEntry) => Ok(false),
        Err(e) => Err(e),
    })
}

/// The keyring this build stores passwords in, as a person would call it.
pub fn backend_name() -> &'static str {
    if cfg!(target_os = "macos") {
        "macOS Keychain"
    } else if cfg!(windows) {
        "Windows Credential Manager"
    } else {
        "Secret Service (GNOME Keyring or KWallet)"
    }
}

/// Passwords this process has in hand (from a keyring, the environment or a URL), so that what a
/// crash prints can leave them out: a panic's message may quote any value, such as a driver's
/// connection options.
static IN_HAND: std::sync::Mutex<Vec<SecretString>> = std::sync::Mutex::new(Vec::new());

pub(crate) fn in_hand(password: &SecretString) {
    let mut held = IN_HAND.lock().unwrap_or_else(|e| e.into_inner());
    if !password.expose_secret().is_empty() && !held.iter().any(|p| p.expose_secret() == password.expose_secret()) {
        held.push(password.clone());
    }
}

/// `text` without any password in hand, nor one written into a URL.
pub fn scrub(text: &str) -> String {
    let mut out = crate::db::target::redact_text(text);
    for p in IN_HAND.lock().unwrap_or_else(|e| e.into_inner()).iter() {
        let p = p.expose_secret();
        // As written, and as a `Debug` print or JSON would escape it (a `"` or `\` in it).
        let json = serde_json::to_string(p).unwrap_or_default();
        let json = json.strip_prefix('"').and_then(|j| j.strip_suffix('"')).unwrap_or_default().to_string();
        for form in [p.to_string(), p.escape_debug().to_string(), p.escape_default().to_string(), json] {
            if !form.is_empty() {
                out = out.replace(&form, "********");
            }
        }
    }
    out
}

/// What a person reads when Godwit panics: the bug, where, and what to do; never a password.
pub fn panic_report(info: &std::panic::PanicHookInfo<'_>) -> String {
    let what = info.payload_as_str().unwrap_or("(no message)");
    let at = info.location().map(|l| format!(" ({}:{})", l.file(), l.line())).unwrap_or_default();
    format!(
        "godwit stopped on a bug: {}{at}. Please report it with the command that led here. \
         The status shows what the database holds now.",
        scrub(what)
    )
}

/// Prints `panic_report` instead of Rust's own panic message (which prints the payload as is).
/// Output whose reader went away (`godwit history | head`) ends the process quietly, as the shell's
/// tools end: SIGPIPE itself stays ignored, so a dump tool's pipe that closes is an error Godwit
/// reports rather than its death.
pub fn report_panics() {
    std::panic::set_hook(Box::new(|info| {
        let what = info.payload_as_str().unwrap_or_default();
        if what.starts_with("failed printing to std") && what.contains("Broken pipe") {
            std::process::exit(141);
        }
        eprintln!("{}", panic_report(info))
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_report_holds_no_password() {
        in_hand(&SecretString::from("Pw-In-Hand-77"));
        let report = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let previous = std::panic::take_hook();
        let into = report.clone();
        std::panic::set_hook(Box::new(move |info| *into.lock().unwrap() = panic_report(info)));
        let _ = std::panic::catch_unwind(|| {
            panic!("options: PgConnectOptions {{ password: Some(\"Pw-In-Hand-77\") }}, postgres://u:Url-Pw-8@h/db")
        });
        std::panic::set_hook(previous);
        let report = report.lock().unwrap().clone();
        assert!(report.contains("PgConnectOptions") && report.contains("secret.rs"), "{report}");
        assert!(!report.contains("Pw-In-Hand-77") && !report.contains("Url-Pw-8"), "{report}");
        // A password with a quote or a backslash, printed escaped (`{:?}` of the options).
        in_hand(&SecretString::from(r#"Esc"Pw\9"#));
        let report = scrub(&format!("{:?}", Some(r#"Esc"Pw\9"#)));
        assert!(!report.contains("Pw"), "{report}");
    }

    #[test]
    fn a_binding_travels_with_its_password() {
        let s = Stored { password: SecretString::from("pw\"{}"), bound_to: None, tls_bound: true };
        let back = Stored::decode(s.encode("postgres://app@db:5432/app").expose_secret().to_string());
        assert_eq!(back.password.expose_secret(), "pw\"{}");
        assert_eq!(back.bound_to.as_deref(), Some("postgres://app@db:5432/app"));
        // Stored before bindings carried TLS settings: its place alone is compared.
        let v1 = Stored::decode(r#"{"godwit_secret":1,"for":"postgres://app@db:5432/app","password":"x"}"#.into());
        assert!(v1.allows("postgres://app@db:5432/app sslmode=disable"));
        assert!(!v1.allows("postgres://app@evil:5432/app"));
        let v2 = Stored::decode(s.encode("postgres://app@db:5432/app").expose_secret().to_string());
        assert!(!v2.allows("postgres://app@db:5432/app sslmode=disable"));
        // A password stored before bindings is bound to nothing, even when it looks like JSON.
        let old = Stored::decode(r#"{"password":"x"}"#.into());
        assert_eq!((old.password.expose_secret(), old.bound_to), (r#"{"password":"x"}"#, None));
    }
}
