//! A PostgreSQL cluster of a test's own (`initdb` on a free port), for what must not touch the
//! shared server: wrong passwords, restarts, a standby.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A PostgreSQL cluster of the test's own, on a free loopback port.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub bin: PathBuf,
}

impl Cluster {
    /// `initdb` and `pg_ctl start` as the postgres user on a free loopback port: with `password`,
    /// scram-sha-256 authentication; without, trust.
    pub fn start(password: Option<&str>) -> Cluster {
        let bin = PathBuf::from(
            String::from_utf8(Command::new("pg_config").arg("--bindir").output().unwrap().stdout).unwrap().trim(),
        );
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        std::fs::write(dir.path().join("pw"), password.unwrap_or("unused")).unwrap();
        Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let run = |args: &[&str]| {
            let o = Command::new("runuser").args(["-u", "postgres", "--"]).args(args).output().unwrap();
            assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
        };
        run(&[
            bin.join("initdb").to_str().unwrap(),
            "-D",
            data.to_str().unwrap(),
            if password.is_some() { "--auth=scram-sha-256" } else { "--auth=trust" },
            "--username=postgres",
            &format!("--pwfile={}", dir.path().join("pw").display()),
        ]);
        Cluster::pg_ctl(&bin, &data, dir.path(), port, "start");
        Cluster { dir, port, bin }
    }

    /// A streaming standby of this cluster (`pg_basebackup -R`), started on a free loopback port.
    pub fn standby(&self) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
        let o = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_basebackup"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", "postgres", "-R", "-X", "stream", "-D"])
            .arg(&data)
            .output()
            .unwrap();
        assert!(o.status.success(), "pg_basebackup: {}", String::from_utf8_lossy(&o.stderr));
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        Cluster::pg_ctl(&self.bin, &data, dir.path(), port, "start");
        Cluster { dir, port, bin: self.bin.clone() }
    }

    /// `pg_ctl ACTION` (start, restart) on the cluster, waiting for it.
    pub fn pg_ctl(bin: &Path, data: &Path, dir: &Path, port: u16, action: &str) {
        let o = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .args([
                bin.join("pg_ctl").to_str().unwrap(),
                "-D",
                data.to_str().unwrap(),
                "-l",
                dir.join("log").to_str().unwrap(),
                "-o",
                &format!("-p {port} -k {} -c listen_addresses=127.0.0.1", dir.display()),
                "-w",
                "-m",
                "fast",
                action,
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "pg_ctl {action}: {}", String::from_utf8_lossy(&o.stderr));
    }

    /// Restarts the server (a fast shutdown: sessions are ended), waiting until it is back.
    pub fn restart(&self) {
        Cluster::pg_ctl(&self.bin, &self.dir.path().join("data"), self.dir.path(), self.port, "restart");
    }

    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .args(["-D", self.dir.path().join("data").to_str().unwrap(), "-m", "immediate", "stop"])
            .output();
    }
}
