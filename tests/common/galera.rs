//! A Galera cluster of a test's own: three mariadbd nodes with Debian's galera-4 provider on free
//! loopback ports, joined by rsync state transfer, root without a password over TCP.

use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PROVIDER: &str = "/usr/lib/galera/libgalera_smm.so";

pub struct Node {
    /// The client port.
    pub port: u16,
    /// Galera's group communication, incremental and state transfer ports.
    gcomm: u16,
    ist: u16,
    sst: u16,
    child: Option<Child>,
}

pub struct Galera {
    pub dir: tempfile::TempDir,
    pub nodes: Vec<Node>,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Galera {
    /// Three nodes: the first bootstraps the cluster, the others join it; returns once each says
    /// it is ready and the cluster has three members.
    pub fn start() -> Galera {
        assert!(std::path::Path::new(PROVIDER).exists(), "galera-4 is not installed: run scripts/setup-test.sh");
        let dir = tempfile::tempdir().unwrap();
        Command::new("chown").args(["mysql:mysql"]).arg(dir.path()).status().unwrap();
        let mut ports = std::collections::HashSet::new();
        let mut port = || loop {
            let p = free_port();
            if ports.insert(p) {
                return p;
            }
        };
        let nodes =
            (0..3).map(|_| Node { port: port(), gcomm: port(), ist: port(), sst: port(), child: None }).collect();
        let mut g = Galera { dir, nodes };
        // One data folder made, copied for each node (the joiners' are replaced by state transfer).
        let made = g.dir.path().join("made");
        let tmp = g.dir.path().join("tmp");
        std::fs::create_dir_all(&tmp).unwrap();
        Command::new("chown").args(["-R", "mysql:mysql"]).arg(&tmp).status().unwrap();
        let o = Command::new("mariadb-install-db")
            .args(["--no-defaults", "--user=mysql", "--auth-root-authentication-method=normal", "--skip-test-db"])
            .arg(format!("--datadir={}", made.display()))
            .arg(format!("--tmpdir={}", tmp.display()))
            .output()
            .unwrap();
        assert!(o.status.success(), "mariadb-install-db: {}", String::from_utf8_lossy(&o.stderr));
        for i in 0..3 {
            let node = g.dir.path().join(format!("n{i}"));
            std::fs::create_dir_all(&node).unwrap();
            let o = Command::new("cp").arg("-a").arg(&made).arg(node.join("data")).output().unwrap();
            assert!(o.status.success(), "cp: {}", String::from_utf8_lossy(&o.stderr));
            Command::new("chown").args(["-R", "mysql:mysql"]).arg(&node).status().unwrap();
        }
        for i in 0..3 {
            g.run(i, i == 0);
            g.wait_ready(i);
        }
        g.wait_size(0, 3);
        g
    }

    fn run(&mut self, i: usize, bootstrap: bool) {
        let dir = self.dir.path().join(format!("n{i}"));
        let members: Vec<String> = self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.gcomm)).collect();
        let n = &self.nodes[i];
        let mut c = Command::new("mariadbd");
        c.args(["--no-defaults", "--user=mysql", "--bind-address=127.0.0.1"])
            .arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--port={}", n.port))
            .arg(format!("--socket={}", dir.join("sock").display()))
            .arg(format!("--pid-file={}", dir.join("pid").display()))
            .arg(format!("--log-error={}", dir.join("log").display()))
            .arg(format!("--tmpdir={}", self.dir.path().join("tmp").display()))
            .args(["--wsrep_on=ON", &format!("--wsrep_provider={PROVIDER}"), "--wsrep_cluster_name=godwit-test"])
            .arg(format!("--wsrep_cluster_address=gcomm://{}", members.join(",")))
            .arg(format!(
                "--wsrep_provider_options=gmcast.listen_addr=tcp://127.0.0.1:{};ist.recv_addr=127.0.0.1:{}",
                n.gcomm, n.ist
            ))
            .arg(format!("--wsrep_node_address=127.0.0.1:{}", n.gcomm))
            .arg(format!("--wsrep_node_name=node{}", i + 1))
            .args(["--wsrep_sst_method=rsync", &format!("--wsrep_sst_receive_address=127.0.0.1:{}", n.sst)])
            .args(["--binlog_format=ROW", "--innodb_autoinc_lock_mode=2", "--innodb_buffer_pool_size=32M"])
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if bootstrap {
            c.arg("--wsrep-new-cluster");
        }
        self.nodes[i].child = Some(c.spawn().unwrap());
    }

    fn log(&self, i: usize) -> String {
        std::fs::read_to_string(self.dir.path().join(format!("n{i}/log"))).unwrap_or_default()
    }

    fn status(&self, i: usize, name: &str) -> Option<String> {
        let o = Command::new("mariadb")
            .args(["-h", "127.0.0.1", "-P", &self.nodes[i].port.to_string(), "-u", "root", "-N", "-B", "-e"])
            .arg(format!("SHOW STATUS LIKE '{name}'"))
            .output()
            .ok()?;
        let out = String::from_utf8_lossy(&o.stdout);
        out.split_whitespace().nth(1).map(str::to_string)
    }

    fn wait_ready(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while TcpStream::connect(("127.0.0.1", self.nodes[i].port)).is_err()
            || self.status(i, "wsrep_ready").as_deref() != Some("ON")
        {
            assert!(Instant::now() < deadline, "galera node {} did not get ready: {}", i + 1, self.log(i));
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn wait_size(&self, i: usize, size: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.status(i, "wsrep_cluster_size") != Some(size.to_string()) {
            assert!(Instant::now() < deadline, "the cluster did not reach {size} nodes: {}", self.log(i));
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Node `i`'s URL for `database`.
    pub fn url(&self, i: usize, database: &str) -> String {
        format!("mysql://root@127.0.0.1:{}/{database}", self.nodes[i].port)
    }

    /// Kills node `i` at once (SIGKILL), as a crash or a cut cable ends it.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut child) = self.nodes[i].child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Galera {
    fn drop(&mut self) {
        for i in 0..self.nodes.len() {
            self.kill(i);
        }
    }
}
