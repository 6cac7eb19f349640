//! A MariaDB server of a test's own (`mariadb-install-db` on a free port), for what must not touch
//! the shared server: restarts.

use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct MariaDbServer {
    pub dir: tempfile::TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl MariaDbServer {
    /// A fresh data folder and a server on a free loopback port, run as the mysql user; root may
    /// connect over TCP without a password.
    pub fn start() -> MariaDbServer {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Command::new("chown").args(["mysql:mysql"]).arg(dir.path()).status().unwrap();
        let o = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=mysql", "--auth-root-authentication-method=normal", "--skip-test-db"])
            .arg(format!("--datadir={}", data.display()))
            // Its own: servers made at once elsewhere would share /tmp's temporary tables' names.
            .arg(format!("--tmpdir={}", dir.path().display()))
            .output()
            .unwrap();
        assert!(o.status.success(), "mariadb-install-db: {}", String::from_utf8_lossy(&o.stderr));
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mut server = MariaDbServer { dir, port, child: None };
        server.run();
        server
    }

    fn run(&mut self) {
        let dir: &Path = self.dir.path();
        let child = Command::new("mariadbd")
            .args(["--no-defaults", "--user=mysql", "--bind-address=127.0.0.1", "--skip-grant-tables"])
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--port={}", self.port))
            .arg(format!("--socket={}", dir.join("sock").display()))
            .arg(format!("--pid-file={}", dir.join("pid").display()))
            .arg(format!("--log-error={}", dir.join("log").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "mariadbd did not start: {}", self.log());
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("log")).unwrap_or_default()
    }

    /// Stops the server as a service manager does (SIGTERM: a clean shutdown that ends the
    /// sessions), then starts it again and waits until it listens.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
            let _ = child.wait();
        }
    }

    /// The server's URL for `database` (which the test creates).
    pub fn url(&self, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{database}", self.port)
    }
}

impl Drop for MariaDbServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
