//! Any godwit.toml: loading the project never panics, and a project that loads keeps its
//! folders inside the project.
#![no_main]

use std::sync::OnceLock;

use godwit::project::Project;
use libfuzzer_sys::fuzz_target;

static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fuzz_target!(|text: &[u8]| {
    let root = DIR.get_or_init(|| tempfile::tempdir().unwrap()).path();
    std::fs::write(root.join("godwit.toml"), text).unwrap();
    if let Ok(p) = Project::load(root) {
        for dir in [p.migrations_dir(), p.templates_dir()] {
            let rel = dir.strip_prefix(root).unwrap_or_else(|_| panic!("{} is outside the project", dir.display()));
            assert!(
                rel.components().all(|c| c != std::path::Component::ParentDir),
                "{} leaves the project",
                dir.display()
            );
        }
    }
});
