//! Where Godwit keeps a person's own files: one place for every part (the CLI, the app, backups,
//! personal environments) to ask. `GODWIT_CONFIG_DIR` and `GODWIT_DATA_DIR` move them (tests do).

use std::path::PathBuf;

use serde::Serialize;

/// Settings: the person's own for each project folder (`projects/ID-FOLDERHASH.toml`), recent
/// projects, window state.
pub fn config_dir() -> Option<PathBuf> {
    std::env::var_os("GODWIT_CONFIG_DIR").map(PathBuf::from).or_else(|| dirs::config_dir().map(|d| d.join("godwit")))
}

/// Data: backups (`backups/PROJECT/ENV/`) and the demo project's copy.
pub fn data_dir() -> Option<PathBuf> {
    std::env::var_os("GODWIT_DATA_DIR").map(PathBuf::from).or_else(|| dirs::data_dir().map(|d| d.join("godwit")))
}

pub fn backups_dir() -> Option<PathBuf> {
    data_dir().map(|d| d.join("backups"))
}

/// What Help → About shows.
#[derive(Debug, Clone, Serialize, ts_rs::TS)]
#[ts(export)]
pub struct About {
    pub version: String,
    pub config_dir: Option<String>,
    pub data_dir: Option<String>,
    pub backups_dir: Option<String>,
    /// Where passwords are kept: the OS keyring's name on this system.
    pub keyring: String,
}

pub fn about() -> About {
    let shown = |p: Option<PathBuf>| p.map(|p| p.display().to_string());
    About {
        version: env!("CARGO_PKG_VERSION").to_string(),
        config_dir: shown(config_dir()),
        data_dir: shown(data_dir()),
        backups_dir: shown(backups_dir()),
        keyring: crate::secret::backend_name().to_string(),
    }
}
