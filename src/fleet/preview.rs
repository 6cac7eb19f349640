//! What a fleet's run would send, for a person to read before it starts.

use std::collections::BTreeSet;

use crate::error::Result;
use crate::event::Direction;
use crate::migration::runner::{self, Step};
use crate::migration::source::Source;

/// The steps a run in `direction` would take across members whose newest applied versions are
/// `newest` (`None`: nothing applied): applying, every migration newer than the oldest member's;
/// rolling back one step, the down of each member's newest. Each member runs only its own part.
pub fn preview(source: &Source, direction: Direction, newest: &[Option<i64>]) -> Result<Vec<Step>> {
    let picked: Vec<_> = match direction {
        Direction::Up => {
            let from = newest.iter().min().copied().flatten();
            source.migrations.iter().filter(|m| from.is_none_or(|v| m.version > v)).collect()
        }
        Direction::Down => {
            let versions: BTreeSet<i64> = newest.iter().flatten().copied().collect();
            source.migrations.iter().rev().filter(|m| versions.contains(&m.version)).collect()
        }
    };
    // Each member fills its own placeholders: the files are shown as written.
    let values = crate::migration::placeholders::Values::as_written();
    picked.into_iter().map(|m| runner::step(m, direction, None, &values)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> (tempfile::TempDir, Source) {
        let dir = tempfile::tempdir().unwrap();
        for v in 1..=3 {
            std::fs::write(dir.path().join(format!("{v}_m{v}.up.sql")), format!("CREATE TABLE t{v} (id INT);"))
                .unwrap();
            std::fs::write(dir.path().join(format!("{v}_m{v}.down.sql")), format!("DROP TABLE t{v};")).unwrap();
        }
        let s = Source::load(dir.path()).unwrap();
        (dir, s)
    }

    #[test]
    fn up_from_the_oldest_member_and_down_from_each_newest() {
        let (_d, s) = source();
        let versions = |steps: Vec<Step>| steps.iter().map(|s| s.version).collect::<Vec<_>>();
        assert_eq!(versions(preview(&s, Direction::Up, &[Some(3), Some(1)]).unwrap()), [2, 3]);
        assert_eq!(versions(preview(&s, Direction::Up, &[Some(3), None]).unwrap()), [1, 2, 3]);
        assert!(preview(&s, Direction::Up, &[Some(3)]).unwrap().is_empty());
        let down = preview(&s, Direction::Down, &[Some(3), Some(1), Some(3), None]).unwrap();
        assert_eq!(versions(down.clone()), [3, 1]);
        assert_eq!(down[0].sql, "DROP TABLE t3;");
    }
}
