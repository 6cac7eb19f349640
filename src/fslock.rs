//! Exclusive locks on a lock file that the OS releases when the process ends. A lock file is
//! opened without following a symlink, and one that a run removes when it is done is checked,
//! once locked, to be the file still at its path (a waiter may have opened one just removed).
//! On Windows lock files are never removed: std cannot compare file identities there yet.

use std::fs::{File, OpenOptions};
#[cfg(unix)]
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
#[cfg(windows)]
use std::os::windows::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A held lock; released (and its file removed, when asked) on drop.
pub struct FileLock {
    file: File,
    path: PathBuf,
    remove: bool,
}

impl Drop for FileLock {
    fn drop(&mut self) {
        // Removed while still held: a waiter that opened it sees another file at the path and retries.
        if self.remove && cfg!(unix) {
            let _ = std::fs::remove_file(&self.path);
        }
        let _ = self.file.unlock();
    }
}

/// Opening flags that make a symbolic link at the path fail (Unix) or open as itself (Windows).
#[cfg(unix)]
fn no_follow(o: &mut OpenOptions) -> &mut OpenOptions {
    o.mode(0o644).custom_flags(libc::O_NOFOLLOW)
}
#[cfg(windows)]
fn no_follow(o: &mut OpenOptions) -> &mut OpenOptions {
    // FILE_FLAG_OPEN_REPARSE_POINT (winbase.h): a link is opened, not its target.
    o.custom_flags(0x0020_0000)
}

fn open(path: &Path) -> Result<File> {
    let file = match no_follow(OpenOptions::new().read(true).write(true).create(true).truncate(false)).open(path) {
        Ok(f) => f,
        // Another user's lock file: locking needs only to read it.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            no_follow(OpenOptions::new().read(true)).open(path).map_err(|e| cannot(path, e))?
        }
        Err(e) => return Err(cannot(path, e)),
    };
    // Unix refused a link at open (O_NOFOLLOW); Windows opened the link itself.
    #[cfg(windows)]
    if file.metadata().is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(cannot(path, std::io::Error::other("it is a symbolic link")));
    }
    Ok(file)
}

fn cannot(path: &Path, e: std::io::Error) -> Error {
    #[cfg(unix)]
    let why = match e.raw_os_error() {
        Some(libc::ELOOP) => "it is a symbolic link".to_string(),
        Some(libc::EROFS) => "its folder is on a read-only file system, so nothing there can be changed; \
                              mount it read-write, or work on a copy elsewhere"
            .to_string(),
        _ => e.to_string(),
    };
    #[cfg(not(unix))]
    let why = e.to_string();
    Error::input(format!("cannot use the lock file {}: {why}", path.display()))
}

/// Whether `file` is still the file at `path`.
#[cfg(unix)]
fn still_there(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}
#[cfg(not(unix))]
fn still_there(_file: &File, _path: &Path) -> bool {
    // Never removed here (see the module's comment), so always the file at its path.
    true
}

/// Takes the lock at `path` if it is free. With `remove`, the file is removed on release.
pub fn try_lock(path: &Path, remove: bool) -> Result<Option<FileLock>> {
    loop {
        let file = open(path)?;
        match file.try_lock() {
            Ok(()) if !remove || still_there(&file, path) => {
                return Ok(Some(FileLock { file, path: path.to_path_buf(), remove }));
            }
            Ok(()) => continue,
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(cannot(path, e)),
        }
    }
}

/// Waits for the lock at `path`; the file stays (for folders only their owner can reach).
pub fn lock(path: &Path) -> Result<FileLock> {
    let file = open(path)?;
    file.lock().map_err(|e| cannot(path, e))?;
    Ok(FileLock { file, path: path.to_path_buf(), remove: false })
}

/// A lock file for one user's processes, named after what it protects: in the user's runtime
/// folder (or cache folder), never a shared temp folder another user could plant a link in.
pub fn private_path(what: &Path, purpose: &str) -> Result<PathBuf> {
    use sha2::{Digest, Sha256};
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .map(|d| PathBuf::from(d).join("godwit"))
        .or_else(|| dirs::cache_dir().map(|d| d.join("godwit").join("locks")))
        .ok_or_else(|| Error::input("this system has no runtime or cache folder for Godwit's lock files"))?;
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder.create(&dir).map_err(|e| Error::io("cannot create", &dir, &e))?;
    let canonical = what.canonicalize().unwrap_or_else(|_| what.to_path_buf());
    let key = hex::encode(&Sha256::digest(canonical.to_string_lossy().as_bytes())[..8]);
    Ok(dir.join(format!("{purpose}-{key}.lock")))
}
