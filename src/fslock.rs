//! Exclusive locks on a file in the temp dir named after what they protect (a migrations folder,
//! a SQLite database): the OS releases them when the process ends, and nothing appears beside the
//! user's files.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

fn lock_path(what: &Path, purpose: &str) -> PathBuf {
    let canonical = what.canonicalize().unwrap_or_else(|_| what.to_path_buf());
    let key = hex::encode(&Sha256::digest(canonical.to_string_lossy().as_bytes())[..8]);
    std::env::temp_dir().join(format!("godwit-{purpose}-{key}.lock"))
}

fn open(what: &Path, purpose: &str) -> Result<File> {
    let path = lock_path(what, purpose);
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| Error::input(format!("cannot create the lock file {}: {e}", path.display())))
}

/// Waits for the lock. Released when the returned file is dropped.
pub fn lock(what: &Path, purpose: &str) -> Result<File> {
    let f = open(what, purpose)?;
    f.lock().map_err(|e| Error::input(format!("cannot lock {}: {e}", lock_path(what, purpose).display())))?;
    Ok(f)
}

/// Takes the lock if it is free.
pub fn try_lock(what: &Path, purpose: &str) -> Result<Option<File>> {
    let f = open(what, purpose)?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => {
            Err(Error::input(format!("cannot lock {}: {e}", lock_path(what, purpose).display())))
        }
    }
}
