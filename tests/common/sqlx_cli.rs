//! sqlx-cli 0.9 and Godwit in a test database's folder, as a person runs them there.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{Out, TestDb, output};

/// sqlx-cli as people install it (scripts/setup-test.sh installs it).
pub fn sqlx_cli() -> PathBuf {
    let p = dirs::home_dir().unwrap().join(".cache/godwit/tools/sqlx-cli-0.9.0-default/bin/sqlx");
    assert!(p.is_file(), "sqlx-cli is not at {} (scripts/setup-test.sh installs it)", p.display());
    p
}

/// sqlx-cli in `dir` on `url`; it must succeed.
pub fn sqlx(dir: &Path, url: &str, args: &[&str]) -> Out {
    let o = output(Command::new(sqlx_cli()).current_dir(dir).args(args).args(["--database-url", url]));
    assert_eq!(o.code, 0, "sqlx {args:?}: {}{}", o.stdout, o.stderr);
    o
}

/// Godwit in the test database's folder (its godwit.toml), with a HOME of its own and errors as JSON.
pub fn godwit(t: &TestDb, args: &[&str]) -> Out {
    output(
        Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(t.dir.path())
            .env("HOME", t.dir.path().join("home"))
            .env_remove("XDG_CONFIG_HOME")
            .args(["--errors", "json"])
            .args(args),
    )
}

/// `o`, which must have succeeded.
pub fn ok(o: Out) -> Out {
    assert_eq!(o.code, 0, "{}{}", o.stdout, o.stderr);
    o
}
