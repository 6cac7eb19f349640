//! Shell completions and man pages, generated from the CLI's own definitions (clap_complete,
//! clap_mangen): they list exactly the verbs and options this binary has.

use std::path::Path;

use clap::CommandFactory;

use super::Cli;
use crate::error::{Error, Result};

pub(super) fn completions(shell: clap_complete::Shell) -> Result<()> {
    clap_complete::generate(shell, &mut Cli::command(), "godwit", &mut std::io::stdout());
    Ok(())
}

/// godwit.1 and a page per verb (godwit-up.1, godwit-env-add.1, …) in `dir`, which must exist.
pub(super) fn manpages(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        return Err(Error::input(format!("{} is not a folder: create it first", dir.display())));
    }
    clap_mangen::generate_to(Cli::command(), dir)
        .map_err(|e| Error::input(format!("cannot write the man pages into {}: {e}", dir.display())))
}
