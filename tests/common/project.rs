//! A project folder around a test database, run as a person runs `godwit` (its own data and
//! config folders), for the tests that start, signal and kill the real binary.

use std::io::Read;
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use godwit::db::Dialect;

use super::TestDb;

/// A project around a test database: `godwit.toml` with `[env.dev]`, and the person's data and
/// config folders of its own.
pub struct Project {
    pub t: TestDb,
    pub home: tempfile::TempDir,
}

impl Project {
    pub async fn new(d: Dialect) -> Project {
        let t = TestDb::new(d).await;
        std::fs::write(
            t.dir.path().join("godwit.toml"),
            format!("id = \"trust-test\"\n[env.dev]\nurl = \"{}\"\n", t.url),
        )
        .unwrap();
        Project { t, home: tempfile::tempdir().unwrap() }
    }

    pub fn data(&self) -> PathBuf {
        self.home.path().join("data")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_godwit"));
        c.current_dir(self.t.dir.path())
            .args(args)
            .env_remove("DATABASE_URL")
            .env("GODWIT_DATA_DIR", self.data())
            .env("GODWIT_CONFIG_DIR", self.home.path().join("config"))
            .stdin(Stdio::null());
        c
    }

    pub fn godwit(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    pub fn store(&self) -> PathBuf {
        // Keyed by what its backups are of, as Godwit keys it.
        let target = godwit::db::Target::parse(&self.t.url, self.t.dir.path()).unwrap();
        self.data().join("backups/trust-test").join(godwit::backup::Store::folder("dev", &target))
    }
}

pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

pub fn signal(child: &Child, sig: i32) {
    // SAFETY: a plain kill(2) to our own child.
    assert_eq!(unsafe { libc::kill(child.id() as i32, sig) }, 0);
}

/// Starts `godwit up` and returns once it has said which migration it is applying, with a thread
/// that keeps reading its stderr (so it never blocks) and gives all it said.
pub fn start_up(p: &Project) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = p.command(&["up"]).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut buf = [0u8; 256];
    while !seen.contains("applying") {
        assert!(Instant::now() < deadline, "the run did not start: {seen}");
        let n = stderr.read(&mut buf).unwrap();
        assert!(n > 0, "godwit ended early: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let rest = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = stderr.read_to_string(&mut rest);
        seen + &rest
    });
    (child, rest)
}
