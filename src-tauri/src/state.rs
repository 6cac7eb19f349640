//! What the app holds between commands: the open project, and a cancel token per running job.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

use godwit::migration::runner::Cancel;
use godwit::project::Project;

#[derive(Default)]
pub struct AppState {
    pub project: Mutex<Option<Project>>,
    /// Held while an environment is saved or removed: each reads, changes and writes back the
    /// project, so two at once would lose one of the changes.
    pub editing: Mutex<()>,
    runs: Mutex<HashMap<u32, Cancel>>,
    next: AtomicU32,
    close_requests: AtomicU32,
}

impl AppState {
    /// A new job that `cancel` can stop; forgotten when the returned guard drops.
    pub fn start_job(&self) -> Job<'_> {
        let id = self.next.fetch_add(1, Ordering::SeqCst) + 1;
        let cancel = Cancel::default();
        self.runs.lock().expect("not poisoned").insert(id, cancel.clone());
        Job { state: self, id, cancel }
    }

    /// The window asked to close while jobs run, as Ctrl-C does in the CLI: the first time every
    /// job stops between migrations (the running one finishes and is recorded: on MariaDB a
    /// migration stopped inside is left part way); after that the running statement is stopped
    /// on the server. Which time this is, or `None` when nothing runs and the window may close.
    pub fn stop_for_close(&self) -> Option<u32> {
        let runs = self.runs.lock().expect("not poisoned");
        if runs.is_empty() {
            return None;
        }
        let n = self.close_requests.fetch_add(1, Ordering::SeqCst) + 1;
        runs.values().for_each(if n == 1 { Cancel::cancel } else { Cancel::abort });
        Some(n)
    }

    pub fn has_jobs(&self) -> bool {
        !self.runs.lock().expect("not poisoned").is_empty()
    }

    /// Asks a job to stop (between migrations, or by stopping a dump tool); asked again, to stop
    /// the running statement on the server too, as a second Ctrl-C does in the CLI. `false` if the
    /// job is gone.
    pub fn cancel(&self, id: u32) -> bool {
        match self.runs.lock().expect("not poisoned").get(&id) {
            Some(c) if c.is_cancelled() => {
                c.abort();
                true
            }
            Some(c) => {
                c.cancel();
                true
            }
            None => false,
        }
    }
}

pub struct Job<'a> {
    state: &'a AppState,
    pub id: u32,
    pub cancel: Cancel,
}

impl Drop for Job<'_> {
    fn drop(&mut self) {
        self.state.runs.lock().expect("not poisoned").remove(&self.id);
    }
}
