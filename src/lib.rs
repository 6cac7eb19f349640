//! Godwit's core: migration files, the databases, the engine. No Tauri and no terminal here; the CLI
//! and the desktop app are thin layers over it.

pub mod backup;
#[cfg(feature = "cli")]
pub mod cli;
pub mod db;
pub mod error;
pub mod event;
pub mod fleet;
pub mod folders;
mod fslock;
pub mod import;
pub mod lint;
pub mod migration;
pub mod ops;
mod process;
pub mod profile;
pub mod project;
pub mod schema;
pub mod secret;
pub mod sqlx_config;
pub mod syntax;
pub mod template;
pub mod timestamp;

pub use error::{Error, ErrorKind, Named, Problem, Result};
