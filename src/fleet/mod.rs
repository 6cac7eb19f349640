//! Fleets: one migration set on many databases (tenants, shards, regions). `members` says which
//! databases a `[fleet.NAME]` is; `run` works on them a few at a time and says where each stands.
//! The state lives in each database's own history: a rerun finds exactly the ones still behind.

mod members;
mod preview;
mod run;

pub use members::*;
pub use preview::preview;
pub use run::*;
