//! Other programs Godwit runs (the dump tools, pt-online-schema-change): found on PATH, started
//! with an allow-listed environment, and ended with Godwit.

use std::path::{Path, PathBuf};

use tokio::process::Command;

use crate::error::{Error, Result};

/// Finds the first of `names` on PATH.
pub(crate) fn find(names: &[&str], install: &str) -> Result<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        let file = if cfg!(windows) { format!("{name}.exe") } else { name.to_string() };
        for dir in std::env::split_paths(&path) {
            let p = dir.join(&file);
            if p.is_file() {
                return Ok(p);
            }
        }
    }
    Err(Error::input(format!("{} was not found on PATH: install it ({install}) and try again.", names.join(" or "))))
}

/// A tool's command with only the environment it needs: PATH, HOME, the locale and the time
/// zone. Nothing else of Godwit's environment reaches it (`DATABASE_URL`, `GODWIT_PASSWORD_*`,
/// `LD_PRELOAD` and the like); the caller adds the tool's own variables, such as its password.
pub(crate) fn command(program: &Path) -> Command {
    command_ended_by(program, END_SIGNAL)
}

/// The signal a tool gets when Godwit dies: pg_dump and pg_restore answer SIGTERM by cancelling
/// their query on the server.
#[cfg(unix)]
const END_SIGNAL: i32 = libc::SIGTERM;
#[cfg(not(unix))]
const END_SIGNAL: i32 = 15;

/// [`command`], sent `signal` when Godwit dies (psql cancels its query on SIGINT, not SIGTERM:
/// a session waiting for a lock would otherwise wait on, then run, after Godwit is gone).
pub(crate) fn command_ended_by(program: &Path, #[allow(unused_variables)] signal: i32) -> Command {
    let mut c = Command::new(program);
    c.env_clear();
    for (k, v) in std::env::vars_os() {
        // Windows names are case-insensitive (`Path`).
        let name =
            if cfg!(windows) { k.to_string_lossy().to_ascii_uppercase() } else { k.to_string_lossy().into_owned() };
        let wanted = matches!(name.as_str(), "PATH" | "HOME" | "LANG" | "LANGUAGE" | "TZ") || name.starts_with("LC_");
        // What Windows programs need to start at all (sockets need SystemRoot).
        let windows = cfg!(windows)
            && matches!(
                name.as_str(),
                "SYSTEMROOT" | "WINDIR" | "TEMP" | "TMP" | "USERPROFILE" | "APPDATA" | "LOCALAPPDATA" | "PATHEXT"
            );
        if wanted || windows {
            c.env(&k, v);
        }
    }
    #[cfg(target_os = "linux")]
    {
        // A tool outlives a killed Godwit otherwise: a pg_restore would go on restoring with no
        // migration lock held, over whatever runs next. Linux ends it with Godwit instead (the
        // threads that spawn tools live as long as the process).
        let parent = std::process::id() as libc::pid_t;
        // SAFETY: only async-signal-safe calls (prctl, getppid, _exit) between fork and exec.
        unsafe {
            c.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, signal) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // Godwit died before the line above: nobody would end this tool.
                if libc::getppid() != parent {
                    libc::_exit(1);
                }
                Ok(())
            });
        }
    }
    c
}
