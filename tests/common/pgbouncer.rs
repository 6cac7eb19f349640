//! Debian's PgBouncer of a test's own, in front of a PostgreSQL cluster, on a free loopback port,
//! in the pool mode asked for; its configuration as people write it (no `ignore_startup_parameters`).

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct PgBouncer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Child,
}

impl PgBouncer {
    /// PgBouncer in `mode` (session, transaction, statement) for every database of the server at
    /// `server_port`, trusting the postgres user.
    pub fn start(server_port: u16, mode: &str) -> PgBouncer {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let d = dir.path().display();
        std::fs::write(dir.path().join("users.txt"), "\"postgres\" \"\"\n").unwrap();
        std::fs::write(
            dir.path().join("pgbouncer.ini"),
            format!(
                "[databases]\n* = host=127.0.0.1 port={server_port}\n\n[pgbouncer]\nlisten_addr = 127.0.0.1\n\
                 listen_port = {port}\nunix_socket_dir =\nauth_type = trust\nauth_file = {d}/users.txt\n\
                 pool_mode = {mode}\nlogfile = {d}/log\npidfile = {d}/pid\n"
            ),
        )
        .unwrap();
        Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
        // PgBouncer will not run as root.
        let child = Command::new("runuser")
            .args(["-u", "postgres", "--", "pgbouncer"])
            .arg(dir.path().join("pgbouncer.ini"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            let log = std::fs::read_to_string(dir.path().join("log")).unwrap_or_default();
            assert!(Instant::now() < deadline, "pgbouncer did not start: {log}");
            std::thread::sleep(Duration::from_millis(50));
        }
        PgBouncer { dir, port, child }
    }

    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        if let Some(pid) = std::fs::read_to_string(self.dir.path().join("pid")).ok().and_then(|p| p.trim().parse().ok())
        {
            unsafe { libc::kill(pid, libc::SIGTERM) };
        }
        let _ = self.child.wait();
    }
}
