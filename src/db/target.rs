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
    /// What to offer when the server refuses the password.
    auth_remedies: Vec<crate::error::Remedy>,
    /// Whether the person's own ambient passwords (`PGPASSWORD`, `~/.pgpass`) may be sent here:
    /// only for a URL they gave themselves, or an environment their own settings name.
    ambient: bool,
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
    /// How long a running migration may go without the server confirming, over another
    /// connection, that it is still running it, before the run stops waiting for its answer.
    pub stall_timeout: Duration,
    /// Where the project keeps its history (sqlx.toml's `[migrate] table-name`, `create-schemas`).
    pub tables: super::Tables,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            connect_timeout: Duration::from_secs(10),
            create_sqlite: false,
            lock_timeout: Duration::from_secs(30),
            stall_timeout: Duration::from_secs(300),
            tables: super::Tables::default(),
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
            return Ok(Target {
                dialect,
                url: None,
                sqlite_path: Some(p),
                password: None,
                auth_hint: None,
                auth_remedies: Vec::new(),
                ambient: false,
            });
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
        if has_ssl_password(&url) {
            return Err(Error::input(format!(
                "the database URL {} has sslpassword, which sqlx cannot use (and which would be a secret in the URL): \
                 decrypt the client key or remove the parameter.",
                redacted(&url)
            )));
        }
        if let Some(twice) = repeated_setting(&url) {
            // sqlx takes the last of two, the dump tools and the password's binding the first:
            // one URL must not name two servers or two TLS modes.
            return Err(Error::input(format!(
                "the database URL {} gives `{twice}` twice (or under two names): give it once",
                redacted(&url)
            )));
        }
        let (password, mut url) = take_password(url);
        if dialect == Dialect::MySql {
            let _ = url.set_scheme("mysql");
        }
        if dialect == Dialect::Postgres {
            normalize(&mut url)?;
        }
        Ok(Target {
            dialect,
            url: Some(url),
            sqlite_path: None,
            password,
            auth_hint: None,
            auth_remedies: Vec::new(),
            ambient: false,
        })
    }

    /// Lets the driver and the dump tools use the person's own ambient passwords (`PGPASSWORD`,
    /// `PGPASSFILE` or `~/.pgpass`) for this target. Never for a URL from a project's files unless
    /// the person's own settings say so for that environment.
    pub fn with_ambient(mut self, allowed: bool) -> Target {
        self.ambient = allowed;
        self
    }

    /// See `with_ambient`.
    pub fn ambient(&self) -> bool {
        self.ambient
    }

    pub fn with_password(mut self, password: Option<SecretString>) -> Target {
        if let Some(p) = &password {
            crate::secret::in_hand(p);
            self.password = password;
        }
        self
    }

    pub fn with_auth_hint(mut self, hint: String) -> Target {
        self.auth_hint = Some(hint);
        self
    }

    /// Adds a way out offered when the server refuses the password (once each).
    pub fn with_auth_remedy(mut self, remedy: crate::error::Remedy) -> Target {
        if !self.auth_remedies.contains(&remedy) {
            self.auth_remedies.push(remedy);
        }
        self
    }

    pub(crate) fn auth_remedies(&self) -> &[crate::error::Remedy] {
        &self.auth_remedies
    }

    pub(crate) fn auth_hint(&self) -> &str {
        self.auth_hint.as_deref().unwrap_or("check the password in the URL")
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
    /// connects to, with the query parameters that still send the connection elsewhere (`hostaddr`,
    /// a socket). Shown to people when it changes; never holds a password.
    pub fn binding(&self) -> String {
        let Some(e) = self.endpoint() else { return self.display() };
        self.binding_of(&e, true)
    }

    fn binding_of(&self, e: &Endpoint, with_database: bool) -> String {
        let scheme = if self.dialect == Dialect::Postgres { "postgres" } else { "mysql" };
        let mut b = format!("{scheme}://{}@{}:{}", e.user, e.host.to_ascii_lowercase(), e.port);
        if with_database {
            b.push_str(&format!("/{}", e.database));
        }
        for (k, v) in [("hostaddr", &e.hostaddr), ("socket", &e.socket)] {
            if let Some(v) = v {
                b.push_str(&format!(" {k}={v}"));
            }
        }
        if with_database {
            b.push_str(&self.tls_binding());
        }
        b
    }

    /// The TLS settings the URL asks for, as a binding's tail (empty for the driver's default):
    /// a password stored with `verify-full` is not sent in plain text after an edit.
    fn tls_binding(&self) -> String {
        let mut b = String::new();
        if let Some(mode) = self.param(SSL_MODE) {
            b.push_str(&format!(" sslmode={}", mode.to_ascii_lowercase()));
        }
        // Last: a path may hold spaces.
        if let Some(root) = self.param(SSL_ROOT_CERT) {
            b.push_str(&format!(" sslrootcert={root}"));
        }
        b
    }

    /// What a backup is of: the server and database (`binding` without its TLS settings), or the
    /// SQLite file's real path.
    pub fn identity(&self) -> String {
        match (self.endpoint(), &self.sqlite_path) {
            (Some(e), _) => self.binding_of(&e, false) + "/" + &e.database,
            // The folder's real path: the file itself may not be made yet.
            (None, Some(p)) => match (p.parent().and_then(|d| d.canonicalize().ok()), p.file_name()) {
                (Some(dir), Some(name)) => dir.join(name).display().to_string(),
                _ => p.display().to_string(),
            },
            _ => String::new(),
        }
    }

    /// The server alone (`binding` without the database): what a fleet's connection budget and
    /// its stored passwords are counted by. Every SQLite file is on one "server", this machine.
    pub fn server(&self) -> String {
        let Some(e) = self.endpoint() else { return "sqlite".into() };
        self.binding_of(&e, false)
    }

    /// `server` with the TLS settings: what a fleet's password for that server is bound to.
    pub fn server_binding(&self) -> String {
        format!("{}{}", self.server(), self.tls_binding())
    }

    /// The URL's query parameter under any of `names` (a setting sqlx reads under several); given
    /// once at most, as `parse` checks for the connection's settings.
    pub(crate) fn param(&self, names: &[&str]) -> Option<String> {
        let u = self.url.as_ref()?;
        u.query_pairs().find(|(k, _)| names.contains(&k.as_ref())).map(|(_, v)| v.into_owned())
    }

    /// Where a server target connects, part by part, as sqlx reads its URL (for the dump tools,
    /// which must reach the same database).
    pub(crate) fn endpoint(&self) -> Option<Endpoint> {
        let u = self.url.as_ref()?;
        let q = |k: &str| self.param(&[k]);
        let default_port = if self.dialect == Dialect::Postgres { 5432 } else { 3306 };
        // PostgreSQL's `host=/dir` is a socket folder; MySQL's `socket=` a socket file.
        let socket = match self.dialect {
            Dialect::Postgres => q("host"),
            _ => q("socket"),
        };
        Some(Endpoint {
            host: u.host_str().unwrap_or("localhost").to_string(),
            port: u.port().unwrap_or(default_port),
            user: percent_decode(u.username()),
            database: self.database(),
            hostaddr: q("hostaddr"),
            socket,
        })
    }

    /// A SQLite file that does not exist yet, in a folder that does: an empty database, for verbs
    /// that only read (a missing folder is an error: applying would not create it).
    pub fn is_unborn(&self) -> bool {
        self.sqlite_path.as_ref().is_some_and(|p| {
            let folder = p.parent().is_none_or(|d| d.as_os_str().is_empty() || d.is_dir());
            !self.is_memory() && !p.exists() && folder
        })
    }

    /// The file a SQLite database lives in; none for a server's database or one in memory.
    pub fn local_file(&self) -> Option<&Path> {
        self.sqlite_path.as_deref().filter(|_| !self.is_memory())
    }

    /// `sqlite::memory:`: a database that lives as long as its connection (this command).
    pub fn is_memory(&self) -> bool {
        self.sqlite_path.as_deref().is_some_and(|p| p.as_os_str() == ":memory:")
    }

    /// The same server and credentials, another database (or SQLite file): for scratch restores.
    pub fn with_database(&self, database: &str) -> Target {
        let mut t = self.clone();
        match (&mut t.url, &mut t.sqlite_path) {
            // A `%` in a name is a character, not the start of an escape.
            (Some(u), _) => u.set_path(&format!("/{}", database.replace('%', "%25"))),
            (None, Some(p)) => *p = PathBuf::from(database),
            _ => {}
        }
        t
    }

    /// The database's name as the URL spells it, percent-escapes and all (a fleet's pattern,
    /// whose every `%` is a wildcard).
    pub fn raw_database(&self) -> String {
        match &self.url {
            Some(u) => u.path().trim_start_matches('/').to_string(),
            None => self.database(),
        }
    }

    /// The database's name (a server database, or the SQLite file's path).
    pub fn database(&self) -> String {
        match (&self.url, &self.sqlite_path) {
            (Some(u), _) => percent_decode(u.path().trim_start_matches('/')),
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

/// The names sqlx reads a URL's TLS mode and root certificate under (PostgreSQL's and MySQL's).
pub(crate) const SSL_MODE: &[&str] = &["sslmode", "ssl-mode"];
pub(crate) const SSL_ROOT_CERT: &[&str] = &["sslrootcert", "ssl-root-cert", "ssl-ca", "sslca"];

/// A connection setting the URL gives twice, counting the names sqlx reads it under.
fn repeated_setting(url: &Url) -> Option<String> {
    let groups: [&[&str]; 8] =
        [SSL_MODE, SSL_ROOT_CERT, &["host"], &["hostaddr"], &["socket"], &["port"], &["user"], &["dbname"]];
    groups.into_iter().find_map(|names| {
        let n = url.query_pairs().filter(|(k, _)| names.contains(&k.as_ref())).count();
        (n > 1).then(|| names[0].to_string())
    })
}

/// Where the person's own PostgreSQL password would come from, if a target may use it
/// (`Target::ambient`): `PGPASSWORD`, and the pass file if there is one.
pub fn ambient_sources() -> Vec<String> {
    let mut out = Vec::new();
    if std::env::var_os("PGPASSWORD").is_some_and(|v| !v.is_empty()) {
        out.push("PGPASSWORD".to_string());
    }
    let file = std::env::var_os("PGPASSFILE")
        .map(PathBuf::from)
        .or_else(|| dirs::home_dir().map(|h| h.join(".pgpass")))
        .filter(|f| f.is_file());
    if let Some(f) = file {
        out.push(f.display().to_string());
    }
    out
}

/// Whether a password stored for the binding `stored` may be sent to `now`: the same server and
/// database, and TLS at least as strong (a certificate check stays with its root certificate).
/// A weaker mode, or another server, is confirmed by a person first.
pub fn binding_allows(stored: &str, now: &str) -> bool {
    if stored == now {
        return true;
    }
    let (stored_place, stored_mode, stored_root) = split_tls(stored);
    let (now_place, now_mode, now_root) = split_tls(now);
    let verifying = stored_mode >= 4;
    stored_place == now_place && now_mode >= stored_mode && (!verifying || stored_root == now_root)
}

/// A binding without its TLS settings: the server and database alone.
pub fn place_of(binding: &str) -> &str {
    split_tls(binding).0
}

/// A binding's place, the rank of its TLS mode (0 off … 5 full verification; 2, "prefer", when
/// the URL says none) and its root certificate.
fn split_tls(binding: &str) -> (&str, u8, Option<&str>) {
    let (rest, root) = match binding.find(" sslrootcert=") {
        Some(i) => (&binding[..i], Some(&binding[i + " sslrootcert=".len()..])),
        None => (binding, None),
    };
    let (place, mode) = match rest.find(" sslmode=") {
        Some(i) => (&rest[..i], &rest[i + " sslmode=".len()..]),
        None => (rest, "prefer"),
    };
    let rank = match mode {
        "disable" | "disabled" => 0,
        "allow" => 1,
        "prefer" | "preferred" => 2,
        "require" | "required" => 3,
        "verify-ca" | "verify_ca" => 4,
        "verify-full" | "verify_identity" => 5,
        _ => 0,
    };
    (place, rank, root)
}

/// The parts of a server connection (see `Target::endpoint`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Endpoint {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub database: String,
    /// PostgreSQL's `hostaddr`: the address connected to, whatever `host` says.
    pub hostaddr: Option<String>,
    /// A Unix socket (a folder on PostgreSQL, a file on MySQL) used instead of TCP.
    pub socket: Option<String>,
}

/// Moves the query parameters sqlx reads as the host, port, user and database (PostgreSQL's
/// `host`, `port`, `user`, `dbname`) into the URL's own parts, so every reader of the URL (the
/// password's binding, the dump tools, a scratch database) sees where it really connects.
/// A `host` that is a socket folder stays a parameter.
fn normalize(url: &mut Url) -> Result<()> {
    let pairs: Vec<(String, String)> = url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
    if !pairs
        .iter()
        .any(|(k, v)| matches!(k.as_str(), "port" | "user" | "dbname") || (k == "host" && !v.starts_with('/')))
    {
        return Ok(());
    }
    let bad = |what: &str| Error::input(format!("the database URL's {what} parameter is not usable"));
    let mut keep = Vec::new();
    for (k, v) in pairs {
        match k.as_str() {
            "host" if !v.starts_with('/') => url.set_host(Some(&v)).map_err(|_| bad("host"))?,
            "port" => url.set_port(Some(v.parse().map_err(|_| bad("port"))?)).map_err(|_| bad("port"))?,
            "user" => url.set_username(&v).map_err(|_| bad("user"))?,
            "dbname" => {
                url.set_path(&format!("/{}", url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()))
            }
            _ => keep.push((k, v)),
        }
    }
    url.set_query(None);
    if !keep.is_empty() {
        url.query_pairs_mut().extend_pairs(keep);
    }
    Ok(())
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
    if let Some(p) = &password {
        crate::secret::in_hand(p);
    }
    (password, url)
}

/// Text that may quote a URL (a configuration line in a parse error) as it may be shown: a
/// `user:password@` loses its password, and a `password=` or `sslpassword=` value is starred.
pub fn redact_text(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    let ends = |c: char| c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '&' | '#');
    while !rest.is_empty() {
        let lower = rest.to_ascii_lowercase();
        let scheme = lower.find("://").map(|i| (i, 3));
        let param = lower.find("password=").map(|i| (i, "password=".len()));
        let Some((at, len)) = [scheme, param].into_iter().flatten().min_by_key(|(i, _)| *i) else {
            out.push_str(rest);
            break;
        };
        out.push_str(&rest[..at + len]);
        rest = &rest[at + len..];
        let end = rest.find(|c: char| ends(c) || (len == 3 && matches!(c, '/' | '?'))).unwrap_or(rest.len());
        let (value, after) = rest.split_at(end);
        if len == 3 {
            // An authority: keep `user@host`, drop `:password`.
            match value.rfind('@') {
                Some(a) => {
                    let user = &value[..a];
                    out.push_str(user.split(':').next().unwrap_or_default());
                    out.push_str(&value[a..]);
                }
                None => out.push_str(value),
            }
        } else if !value.is_empty() {
            out.push_str("***");
        }
        rest = after;
    }
    out
}

/// A URL as it may be shown: without its password, nor a client key's (`sslpassword`).
pub(crate) fn redacted(url: &Url) -> String {
    let mut u = take_password(url.clone()).1;
    if has_ssl_password(&u) {
        let keep: Vec<(String, String)> = u
            .query_pairs()
            .filter(|(k, _)| !k.eq_ignore_ascii_case("sslpassword"))
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        u.set_query(None);
        if !keep.is_empty() {
            u.query_pairs_mut().extend_pairs(keep);
        }
    }
    u.to_string()
}

pub(crate) fn has_ssl_password(url: &Url) -> bool {
    url.query_pairs().any(|(k, _)| k.eq_ignore_ascii_case("sslpassword"))
}

pub(crate) fn percent_decode(s: &str) -> String {
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
        assert_eq!(
            b("postgres://app:pw@DB.example/app?sslmode=require"),
            "postgres://app@db.example:5432/app sslmode=require"
        );
        assert_eq!(b("postgres://app@db.example:5432/app"), b("postgresql://app@db.example/app"));
        assert_eq!(b("mariadb://root@127.0.0.1/x"), "mysql://root@127.0.0.1:3306/x");
        // Query parameters that redirect the connection are part of it.
        assert_eq!(b("postgres://app@db/app?host=evil.example"), "postgres://app@evil.example:5432/app");
        assert_eq!(b("postgres://app@db/caf%C3%A9"), "postgres://app@db:5432/café");
        assert_eq!(b("postgres://app@db/app?port=6000&dbname=x&user=y"), "postgres://y@db:6000/x");
        assert_ne!(b("postgres://app@db/app?hostaddr=10.9.9.9"), b("postgres://app@db/app"));
        assert_ne!(b("mysql://app@db/app?socket=/tmp/s"), b("mysql://app@db/app"));
        // A fleet's pattern as typed: `%` is its wildcard, not an escape; a listed name with a `%`
        // in it stays that name.
        let t = Target::parse("postgres://a@db/t%41%", Path::new("/p")).unwrap();
        assert_eq!(t.raw_database(), "t%41%");
        assert_eq!(t.with_database("50%_off").database(), "50%_off");
        let server = |u: &str| Target::parse(u, Path::new("/p")).unwrap().server();
        assert_eq!(server("postgres://app@DB/tenant_%?sslmode=require"), "postgres://app@db:5432");
        assert_eq!(server("postgres://app@db/a?hostaddr=10.9.9.9"), "postgres://app@db:5432 hostaddr=10.9.9.9");
    }

    #[test]
    fn a_password_bound_with_tls_is_not_sent_with_less() {
        let b = |u: &str| Target::parse(u, Path::new("/p")).unwrap().binding();
        let full = b("postgres://app@db/app?sslmode=verify-full&sslrootcert=/etc/ca.pem");
        assert_eq!(full, "postgres://app@db:5432/app sslmode=verify-full sslrootcert=/etc/ca.pem");
        assert!(binding_allows(&full, &full));
        for weaker in [
            "postgres://app@db/app?sslmode=disable",
            "postgres://app@db/app",
            "postgres://app@db/app?sslmode=require",
            "postgres://app@db/app?sslmode=verify-full&sslrootcert=/tmp/evil.pem",
            "postgres://app@db/app?sslmode=verify-full",
        ] {
            assert!(!binding_allows(&full, &b(weaker)), "{weaker}");
        }
        // No mode (the driver's `prefer`) may become a stronger one without asking, not a weaker.
        let plain = b("postgres://app@db/app");
        assert_eq!(plain, "postgres://app@db:5432/app");
        assert!(binding_allows(&plain, &b("postgres://app@db/app?sslmode=require")));
        assert!(!binding_allows(&plain, &b("postgres://app@db/app?sslmode=disable")));
        assert!(!binding_allows(&plain, &b("postgres://app@other/app?sslmode=require")));
        // One setting given twice (sqlx takes the last, the binding would take the first): refused.
        for twice in [
            "postgres://app@db/app?sslmode=verify-full&sslmode=disable",
            "postgres://app@db/app?sslmode=verify-full&ssl-mode=disable",
            "postgres://app@db/app?hostaddr=10.0.0.5&hostaddr=203.0.113.9",
        ] {
            assert!(Target::parse(twice, Path::new("/p")).is_err(), "{twice}");
        }
        let my = b("mysql://app@db/app?ssl-mode=VERIFY_IDENTITY");
        assert!(!binding_allows(&my, &b("mysql://app@db/app?ssl-mode=DISABLED")));
        assert!(binding_allows(&b("mysql://app@db/app?ssl-mode=REQUIRED"), &my));
    }

    #[test]
    fn query_parameters_that_redirect_become_the_urls_own_parts() {
        let t = Target::parse("postgres://app@db/app?dbname=other&sslmode=require&port=6000", Path::new("/p")).unwrap();
        assert_eq!(t.display(), "postgres://app@db:6000/other?sslmode=require");
        // A scratch database is really another database, whatever the URL said.
        assert_eq!(t.with_database("scratch").database(), "scratch");
        let e = Target::parse("postgres://app@db/x%20port%3D1", Path::new("/p")).unwrap().endpoint().unwrap();
        assert_eq!((e.database.as_str(), e.port), ("x port=1", 5432));
        let e = Target::parse("postgres://app@db/app?host=/run/pg", Path::new("/p")).unwrap().endpoint().unwrap();
        assert_eq!(e.socket.as_deref(), Some("/run/pg"));
        // MySQL's URL has no such parameters: they stay as they are.
        let t = Target::parse("mysql://app@db/app?port=1", Path::new("/p")).unwrap();
        assert_eq!(t.endpoint().unwrap().port, 3306);
    }

    #[test]
    fn text_quoting_urls_loses_their_passwords() {
        let line = "3 | url = \"postgres://app:hunter2@db/app?sslpassword=k3y&sslmode=require\" oops";
        let shown = redact_text(line);
        assert_eq!(shown, "3 | url = \"postgres://app@db/app?sslpassword=***&sslmode=require\" oops");
        assert_eq!(redact_text("mysql://u@h/d?password=x y"), "mysql://u@h/d?password=*** y");
        assert_eq!(redact_text("no url here"), "no url here");
    }

    #[test]
    fn ssl_key_passwords_are_refused_without_being_shown() {
        let e =
            Target::parse("postgres://app@db/app?sslpassword=hunter2&sslmode=require", Path::new("/p")).unwrap_err();
        assert!(!e.message.contains("hunter2") && e.message.contains("sslmode=require"), "{}", e.message);
        assert!(crate::profile::refuse_password("x", "postgres://app@db/app?sslpassword=hunter2").is_err());
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
