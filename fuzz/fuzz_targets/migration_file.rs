//! A migrations folder with one file of any name and any bytes (and its down file): reading it,
//! its header and directives, and planning it never panic; a file that is read keeps its bytes'
//! checksum.
#![no_main]

use std::sync::OnceLock;

use godwit::migration::plan::{DownTarget, plan_down, plan_up};
use godwit::migration::source::{Source, no_transaction, parse_header};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    name: String,
    up: Vec<u8>,
    down: Option<Vec<u8>>,
}

static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();

fuzz_target!(|input: Input| {
    // Names a folder can hold.
    if input.name.is_empty()
        || input.name.len() > 200
        || input.name.contains(['/', '\0'])
        || input.name.starts_with('.')
    {
        return;
    }
    let dir = DIR.get_or_init(|| tempfile::tempdir().unwrap()).path();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        std::fs::remove_file(e.path()).unwrap();
    }
    std::fs::write(dir.join(&input.name), &input.up).unwrap();
    if let (Some(down), Some(stem)) = (&input.down, input.name.strip_suffix(".up.sql")) {
        std::fs::write(dir.join(format!("{stem}.down.sql")), down).unwrap();
    }
    let source = Source::load(dir).expect("a readable folder loads");
    for m in &source.migrations {
        let _ = parse_header(&m.sql);
        let _ = no_transaction(&m.sql);
        let _ = m.down_sql();
        use sha2::Digest;
        assert_eq!(m.checksum, sha2::Sha384::digest(&input.up).to_vec());
    }
    let _ = plan_up(&source, &[], None, false);
    let _ = plan_down(&source, &[], DownTarget::Steps(1));
});
