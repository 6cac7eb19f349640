//! What the MySQL/MariaDB client tools are given to connect as sqlx does: an option file with the
//! password (never an argument or the environment) and the URL's TLS settings. The dump tools
//! (`backup`) and pt-online-schema-change (`online`) both take them.

use std::path::Path;

use tokio::process::Command;

use super::Target;
use crate::error::Result;

#[cfg(unix)]
/// The client's options: `[client]` with the password, if any, in the option file's escapes
/// (a quoted value; newlines and quotes escaped, so no password ends the line or the value).
pub(crate) fn options_text(target: &Target) -> String {
    let mut text = String::from("[client]\n");
    if let Some(p) = target.password() {
        text.push_str(&format!("password=\"{}\"\n", quoted(p)));
    }
    text
}

/// A value in an option file's escapes, to go between double quotes.
#[cfg(unix)]
fn quoted(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push(c),
        }
    }
    out
}

/// A tool that reads its options file more than once (Percona's, once per connection): the
/// options, TLS settings with them, in a file in memory at `/dev/fd/3`, which each open reads from
/// the start. The person's own option files are not read.
#[cfg(target_os = "linux")]
pub(crate) fn with_options_in_memory(program: &Path, target: &Target) -> Result<Command> {
    use crate::error::Error;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    let text = with_tls(target);
    // SAFETY: a plain system call; the name is a NUL-terminated literal.
    let fd = unsafe { libc::memfd_create(c"godwit-options".as_ptr(), libc::MFD_CLOEXEC) };
    if fd < 0 {
        return Err(Error::failed(format!(
            "cannot make an options file in memory: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: `fd` was just made and nothing else owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    let mut file = std::fs::File::from(owned);
    std::io::Write::write_all(&mut file, text.as_bytes())
        .map_err(|e| Error::failed(format!("cannot write the options file in memory: {e}")))?;
    let mut c = crate::process::command(program);
    // SAFETY: only async-signal-safe calls (dup2, fcntl) between fork and exec. The closure owns
    // the file, so it stays open until the command is gone.
    unsafe {
        c.pre_exec(move || {
            let fd = file.as_raw_fd();
            let r = if fd == 3 { libc::fcntl(3, libc::F_SETFD, 0) } else { libc::dup2(fd, 3) };
            if r < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) }
        });
    }
    c.env("MYSQL_TEST_LOGIN_FILE", "/nonexistent/godwit-no-login-file");
    Ok(c)
}
/// The options with the URL's TLS settings, each quoted as the password is: a value from a
/// project's file must not end its line and add options of its own (a client plugin to load, say).
#[cfg(unix)]
fn with_tls(target: &Target) -> String {
    let mut text = options_text(target);
    for option in tls_options(target) {
        let option = option.trim_start_matches("--");
        match option.split_once('=') {
            Some((name, value)) => text.push_str(&format!("{name}=\"{}\"\n", quoted(value))),
            None => text.push_str(&format!("{option}\n")),
        }
    }
    text
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn with_options_in_memory(_: &Path, _: &Target) -> Result<Command> {
    Err(crate::error::Error::input("online ALTER (pt-online-schema-change) is run by Godwit on Linux only"))
}

/// The URL's TLS settings as the MariaDB clients take them, so the tools reach the server as
/// securely as sqlx does (and as the stored password's binding says).
pub(crate) fn tls_options(target: &Target) -> Vec<String> {
    use crate::db::target::{SSL_MODE, SSL_ROOT_CERT};
    let q = |keys: &[&str]| target.param(keys);
    let mut out = Vec::new();
    match q(SSL_MODE).map(|m| m.to_ascii_uppercase()).as_deref() {
        Some("DISABLED") => out.push("--skip-ssl".to_string()),
        Some("REQUIRED" | "VERIFY_CA") => out.push("--ssl".into()),
        Some("VERIFY_IDENTITY") => out.extend(["--ssl".into(), "--ssl-verify-server-cert".into()]),
        _ => {}
    }
    for (keys, option) in [
        (SSL_ROOT_CERT, "--ssl-ca"),
        (&["sslcert", "ssl-cert"][..], "--ssl-cert"),
        (&["sslkey", "ssl-key"][..], "--ssl-key"),
    ] {
        if let Some(v) = q(keys) {
            out.push(format!("{option}={v}"));
        }
    }
    out
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn a_urls_tls_setting_cannot_add_options_of_its_own() {
        let url = "mysql://app:p%0Aw@db:3306/app?ssl-mode=REQUIRED&ssl-ca=/x%0Aplugin-dir%3D./p%0Adefault-auth%3Devil";
        let text = with_tls(&Target::parse(url, Path::new("/p")).unwrap());
        let keys: Vec<&str> = text.lines().skip(1).map(|l| l.split('=').next().unwrap()).collect();
        assert_eq!(keys, ["password", "ssl", "ssl-ca"], "{text}");
    }
}
