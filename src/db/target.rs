//! Where to connect: a URL without its password, and the password kept apart in a secret type,
//! so no message, log line or `Debug` print can carry it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use url::Url;

use super::Dialect;
use crate::error::{Error, Result};

#[derive(Clone)]
pub struct Target {
    dialect: Dialect,
    /// Server URL with the password removed; for SQLite, unused.
    url: Option<Url>,
    sqlite_path: Option<PathBuf>,
    password: Option<SecretString>,
    /// Said when the server refuses the password: where it came from, how to store the right one.
    auth_hint: Option<String>,
}

impl fmt::Debug for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Target({})", self.display())
    }
}

/// How to connect and how long to wait.
#[derive(Debug, Clone)]
pub struct ConnectOptions {
    pub connect_timeout: Duration,
    /// Create a missing SQLite file (for verbs that write); server databases are never created.
    pub create_sqlite: bool,
    pub lock_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            create_sqlite: false,
            lock_timeout: Duration::from_secs(30),
        }
    }
}

impl Target {
    /// Parses a database URL. Relative SQLite paths are taken from `base` (the project folder),
    /// so `sqlite://dev.db` means the same file whatever the working directory.
    /// A password in the URL is moved out into the secret.
    pub fn parse(raw: &str, base: &Path) -> Result<Target> {
        let scheme = raw.split_once(':').map(|(s, _)| s.to_ascii_lowercase()).unwrap_or_default();
        let dialect = match scheme.as_str() {
            "postgres" | "postgresql" => Dialect::Postgres,
            "mysql" | "mariadb" => Dialect::MySql,
            "sqlite" => Dialect::Sqlite,
            _ => {
                return Err(Error::input(format!(
                    "unsupported database URL scheme `{scheme}`: use postgres://, mysql:// (or mariadb://) or sqlite://"
                )));
            }
        };
        if dialect == Dialect::Sqlite {
            let rest = raw["sqlite:".len()..].trim_start_matches("//");
            let path = rest.split('?').next().unwrap_or_default();
            if path.is_empty() {
                return Err(Error::input("a sqlite URL needs a file: sqlite://path/to/file.db"));
            }
            let p = PathBuf::from(path);
            let p = if p.is_absolute() || path == ":memory:" { p } else { base.join(p) };
            return Ok(Target { dialect, url: None, sqlite_path: Some(p), password: None, auth_hint: None });
        }
        let url = Url::parse(raw).map_err(|e| {
            // The URL may hold a password: say what is wrong without echoing it.
            Error::input(format!("the database URL is malformed ({e}); expected e.g. postgres://user@host:5432/db"))
        })?;
        if url.host_str().is_none_or(str::is_empty) {
            return Err(Error::input("the database URL has no host, e.g. postgres://user@localhost:5432/db"));
        }
        if url.path().trim_matches('/').is_empty() {
            return Err(Error::input(format!(
                "the database URL {} names no database: add it at the end, e.g. {}mydb",
                redacted(&url),
                redacted(&url).trim_end_matches('/').to_string() + "/"
            )));
        }
        let (password, mut url) = take_password(url);
        if dialect == Dialect::MySql {
            let _ = url.set_scheme("mysql");
        }
        Ok(Target { dialect, url: Some(url), sqlite_path: None, password, auth_hint: None })
    }

    pub fn with_password(mut self, password: Option<SecretString>) -> Target {
        if password.is_some() {
            self.password = password;
        }
        self
    }

    pub fn with_auth_hint(mut self, hint: String) -> Target {
        self.auth_hint = Some(hint);
        self
    }

    pub(crate) fn auth_hint(&self) -> &str {
        self.auth_hint.as_deref().unwrap_or("check the password given in --url or DATABASE_URL")
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// The URL as it may be shown: never with a password.
    pub fn display(&self) -> String {
        match (&self.url, &self.sqlite_path) {
            (Some(u), _) => u.to_string(),
            (None, Some(p)) => format!("sqlite://{}", p.display()),
            _ => String::new(),
        }
    }

    /// What a stored password is bound to: the driver, host, port, user and database this target
    /// connects to, with the query parameters that would send the connection elsewhere (sqlx reads
    /// `host`, `hostaddr`, `port`, `dbname` and `user` there on PostgreSQL, `socket` on MySQL).
    /// Shown to people when it changes; never holds a password.
    pub fn binding(&self) -> String {
        let Some(u) = &self.url else { return self.display() };
        let q = |k: &str| u.query_pairs().find(|(n, _)| n.eq_ignore_ascii_case(k)).map(|(_, v)| v.into_owned());
        let (scheme, default_port) = match self.dialect {
            Dialect::Postgres => ("postgres", 5432),
            _ => ("mysql", 3306),
        };
        let host = q("host").unwrap_or_else(|| u.host_str().unwrap_or_default().to_ascii_lowercase());
        let port = q("port").unwrap_or_else(|| u.port().unwrap_or(default_port).to_string());
        let user = q("user").unwrap_or_else(|| percent_decode(u.username()));
        let database = q("dbname").unwrap_or_else(|| percent_decode(&self.database()));
        let mut b = format!("{scheme}://{user}@{host}:{port}/{database}");
        for k in ["hostaddr", "socket"] {
            if let Some(v) = q(k) {
                b.push_str(&format!(" {k}={v}"));
            }
        }
        b
    }

    /// A SQLite file that does not exist yet: an empty database, for verbs that only read.
    pub fn is_unborn(&self) -> bool {
        self.sqlite_path.as_ref().is_some_and(|p| p.to_str() != Some(":memory:") && !p.exists())
    }

    /// The same server and credentials, another database (or SQLite file): for scratch restores.
    pub fn with_database(&self, database: &str) -> Target {
        let mut t = self.clone();
        match (&mut t.url, &mut t.sqlite_path) {
            (Some(u), _) => u.set_path(&format!("/{database}")),
            (None, Some(p)) => *p = PathBuf::from(database),
            _ => {}
        }
        t
    }

    /// The database's name (a server database, or the SQLite file's path).
    pub fn database(&self) -> String {
        match (&self.url, &self.sqlite_path) {
            (Some(u), _) => u.path().trim_start_matches('/').to_string(),
            (None, Some(p)) => p.display().to_string(),
            _ => String::new(),
        }
    }

    pub(crate) fn url(&self) -> &Url {
        self.url.as_ref().expect("server targets have a URL")
    }

    pub(crate) fn sqlite_path(&self) -> &Path {
        self.sqlite_path.as_deref().expect("sqlite targets have a path")
    }

    pub(crate) fn password(&self) -> Option<&str> {
        self.password.as_ref().map(|p| p.expose_secret())
    }
}

/// Moves a password out of a URL: `user:PASSWORD@host` and `?password=...` (both understood by sqlx).
pub(crate) fn take_password(mut url: Url) -> (Option<SecretString>, Url) {
    let mut password = url.password().map(|p| SecretString::from(percent_decode(p)));
    let _ = url.set_password(None);
    if url.query_pairs().any(|(k, _)| k.eq_ignore_ascii_case("password")) {
        let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
        let mut q = url.query_pairs_mut();
        q.clear();
        for (k, v) in pairs {
            if k.eq_ignore_ascii_case("password") {
                password = Some(SecretString::from(v));
            } else {
                q.append_pair(&k, &v);
            }
        }
        drop(q);
        if url.query() == Some("") {
            url.set_query(None);
        }
    }
    (password, url)
}

/// A URL as it may be shown.
pub(crate) fn redacted(url: &Url) -> String {
    take_password(url.clone()).1.to_string()
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_leave_the_url() {
        let t = Target::parse("postgres://app:s3cr%40t@db.example:5432/app", Path::new("/p")).unwrap();
        assert_eq!(t.display(), "postgres://app@db.example:5432/app");
        assert_eq!(t.password(), Some("s3cr@t"));
        assert!(!format!("{t:?}").contains("s3cr"));
        let t = Target::parse("postgres://app@db/app?sslmode=require&password=hunter2", Path::new("/p")).unwrap();
        assert_eq!(t.display(), "postgres://app@db/app?sslmode=require");
        assert_eq!(t.password(), Some("hunter2"));
        let e = Target::parse("postgres://app:pw@db:5432/", Path::new("/p")).unwrap_err();
        assert!(e.message.contains("names no database") && !e.message.contains("pw"), "{}", e.message);
    }

    #[test]
    fn bindings_name_where_the_connection_really_goes() {
        let b = |u: &str| Target::parse(u, Path::new("/p")).unwrap().binding();
        assert_eq!(b("postgres://app:pw@DB.example/app?sslmode=require"), "postgres://app@db.example:5432/app");
        assert_eq!(b("postgres://app@db.example:5432/app"), b("postgresql://app@db.example/app"));
        assert_eq!(b("mariadb://root@127.0.0.1/x"), "mysql://root@127.0.0.1:3306/x");
        // Query parameters that redirect the connection are part of it.
        assert_eq!(b("postgres://app@db/app?host=evil.example"), "postgres://app@evil.example:5432/app");
        assert_eq!(b("postgres://app@db/app?port=6000&dbname=x&user=y"), "postgres://y@db:6000/x");
        assert_ne!(b("postgres://app@db/app?hostaddr=10.9.9.9"), b("postgres://app@db/app"));
        assert_ne!(b("mysql://app@db/app?socket=/tmp/s"), b("mysql://app@db/app"));
    }

    #[test]
    fn sqlite_paths_are_relative_to_the_project() {
        let t = Target::parse("sqlite://dev.db", Path::new("/proj")).unwrap();
        assert_eq!(t.sqlite_path(), Path::new("/proj/dev.db"));
        let t = Target::parse("sqlite:///abs/x.db?mode=rwc", Path::new("/proj")).unwrap();
        assert_eq!(t.sqlite_path(), Path::new("/abs/x.db"));
    }

    #[test]
    fn unknown_schemes_and_malformed_urls_are_input_errors() {
        assert!(Target::parse("oracle://x", Path::new("/")).unwrap_err().message.contains("oracle"));
        let e = Target::parse("postgres://u:hunter2@:5432/x", Path::new("/")).unwrap_err();
        assert!(!e.message.contains("hunter2"), "{}", e.message);
        let t = Target::parse("mariadb://root@127.0.0.1/db", Path::new("/")).unwrap();
        assert_eq!(t.dialect(), Dialect::MySql);
        assert!(t.display().starts_with("mysql://"));
    }
}
