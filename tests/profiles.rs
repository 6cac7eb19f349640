//! Connection profiles and passwords against real parts: a real Secret Service (gnome-keyring on
//! its own D-Bus session, HOME in a temporary folder), a PostgreSQL cluster of the test's own that
//! checks passwords (scram-sha-256), a MariaDB user with a password.

mod common;

use common::cluster::Cluster;
use common::problem_in;

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A private session bus with an unlocked gnome-keyring on it, and a HOME of its own.
struct Keyring {
    dir: tempfile::TempDir,
    bus: Child,
    keyring: Option<Child>,
    address: String,
}

impl Keyring {
    fn start(unlocked: bool) -> Keyring {
        let dir = tempfile::tempdir().unwrap();
        for d in ["home", "run"] {
            std::fs::create_dir(dir.path().join(d)).unwrap();
        }
        let socket = dir.path().join("bus");
        let address = format!("unix:path={}", socket.display());
        // A session bus without service files: nothing is started on demand. With the standard
        // ones, a client asking for the Secret Service before our daemon registers makes the bus
        // start a locked gnome-keyring of its own, and ours then gives way to it ("another secret
        // service is running").
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            "<!DOCTYPE busconfig PUBLIC \"-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN\" \
             \"http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd\">\n<busconfig><type>session</type>\
             <listen>unix:tmpdir=/tmp</listen><auth>EXTERNAL</auth><policy context=\"default\">\
             <allow send_destination=\"*\" eavesdrop=\"true\"/><allow eavesdrop=\"true\"/><allow own=\"*\"/>\
             </policy></busconfig>\n",
        )
        .unwrap();
        let bus = Command::new("dbus-daemon")
            .args([
                &format!("--config-file={}", config.display()),
                "--nofork",
                "--nopidfile",
                &format!("--address={address}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon (make test installs dbus): cannot start a session bus");
        let deadline = Instant::now() + Duration::from_secs(10);
        while !socket.exists() {
            assert!(Instant::now() < deadline, "the session bus did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut k = Keyring { dir, bus, keyring: None, address };
        if unlocked {
            // Ready when the unlocked login keyring takes a secret (it is created asynchronously).
            // A daemon that has not made it after a while on two busy cores is started again.
            let (mut ready, mut last) = (false, String::new());
            'attempts: for attempt in 0..3 {
                if let Some(mut old) = k.keyring.take() {
                    let _ = old.kill();
                    let _ = old.wait();
                }
                let mut child = k
                    .command("gnome-keyring-daemon")
                    .args(["--foreground", "--unlock", "--components=secrets"])
                    .stdin(Stdio::piped())
                    .stdout(Stdio::null())
                    // Kept, so a daemon that never comes up says why.
                    .stderr(std::fs::File::create(k.dir.path().join(format!("keyring-{attempt}.log"))).unwrap())
                    .spawn()
                    .expect("gnome-keyring-daemon (make test installs gnome-keyring)");
                child.stdin.take().unwrap().write_all(b"keyring-unlock-pw").unwrap();
                k.keyring = Some(child);
                let deadline = Instant::now() + Duration::from_secs(20);
                while Instant::now() < deadline {
                    let mut probe = k
                        .command("secret-tool")
                        .args(["store", "--label=probe", "godwit-probe", "1"])
                        .stdin(Stdio::piped())
                        .stdout(Stdio::null())
                        .stderr(Stdio::piped())
                        .spawn()
                        .unwrap();
                    probe.stdin.take().unwrap().write_all(b"x").unwrap();
                    let o = probe.wait_with_output().unwrap();
                    if o.status.success() {
                        k.command("secret-tool").args(["clear", "godwit-probe", "1"]).status().unwrap();
                        ready = true;
                        break 'attempts;
                    }
                    last = String::from_utf8_lossy(&o.stderr).into_owned();
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
            let logs: Vec<String> = (0..3)
                .map(|i| std::fs::read_to_string(k.dir.path().join(format!("keyring-{i}.log"))).unwrap_or_default())
                .collect();
            assert!(ready, "gnome-keyring did not come up, started three times: {last}\ndaemon said: {logs:?}");
        }
        k
    }

    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }

    fn command(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("HOME", self.home())
            .env("XDG_RUNTIME_DIR", self.dir.path().join("run"))
            .env("DBUS_SESSION_BUS_ADDRESS", &self.address)
            // Keyring calls that cannot succeed fail fast in tests.
            .env("GODWIT_KEYRING_TIMEOUT", "5");
        c
    }

    fn godwit(&self, project: &Path, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = self.command(env!("CARGO_BIN_EXE_godwit"));
        c.current_dir(project).args(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        child.wait_with_output().unwrap()
    }
}

impl Drop for Keyring {
    fn drop(&mut self) {
        if let Some(k) = &mut self.keyring {
            let _ = k.kill();
            let _ = k.wait();
        }
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

fn project(dir: &Path, envs: &str) -> PathBuf {
    let root = dir.join("proj");
    std::fs::create_dir_all(root.join("migrations")).unwrap();
    std::fs::write(root.join("godwit.toml"), format!("id = \"test-project\"\n{envs}")).unwrap();
    std::fs::write(root.join("migrations/1_t.up.sql"), "CREATE TABLE t (id INTEGER);").unwrap();
    std::fs::write(root.join("migrations/1_t.down.sql"), "DROP TABLE t;").unwrap();
    root
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

#[test]
fn passwords_live_in_the_keyring_and_wrong_ones_are_named() {
    let pw = "Cluster-Pw-7731";
    let cluster = Cluster::start(Some(pw));
    let k = Keyring::start(true);
    let root = project(k.dir.path(), "");
    let url = cluster.url();

    // A URL with a password is refused, without echoing it.
    let o = k.godwit(
        &root,
        &["env", "add", "pg", "--url", &format!("postgres://postgres:{pw}@127.0.0.1:{}/postgres", cluster.port)],
        None,
    );
    assert_eq!(o.status.code(), Some(2));
    // No `secret set` to paste: `pg` does not exist yet, so it would fail.
    assert!(!text(&o).contains("secret set") && !text(&o).contains(pw), "{}", text(&o));

    let o = k.godwit(&root, &["env", "add", "pg", "--url", &url, "--color", "amber"], None);
    assert!(o.status.success(), "{}", text(&o));
    // Without a password yet: the server refuses, and the message says how to store one.
    let o = k.godwit(&root, &["env", "test", "pg"], None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("no password is stored for `pg`") && text(&o).contains("GODWIT_PASSWORD_PG"),
        "{}",
        text(&o)
    );

    // A wrong password, stored: refused, and named as such.
    let o = k.godwit(&root, &["secret", "set", "pg", "--stdin"], Some("not-it\n"));
    assert!(o.status.success(), "{}", text(&o));
    let o = k.godwit(&root, &["env", "test", "pg"], None);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).contains("refused the password") && text(&o).contains("OS keyring"), "{}", text(&o));

    // The right one: never typed again.
    let o = k.godwit(&root, &["secret", "set", "pg", "--stdin"], Some(&format!("{pw}\n")));
    assert!(o.status.success(), "{}", text(&o));
    let o = k.godwit(&root, &["env", "test", "pg"], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("connected to PostgreSQL 15") && text(&o).contains("no history table yet"),
        "{}",
        text(&o)
    );
    let o = k.godwit(&root, &["--env", "pg", "up"], None);
    assert!(o.status.success(), "{}", text(&o));
    let o = k.godwit(&root, &["env", "test", "pg"], None);
    assert!(text(&o).contains("1 migration(s) applied"), "{}", text(&o));
    let o = k.godwit(&root, &["env", "list", "--json"], None);
    let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(list["environments"][0]["password"], "keyring");
    assert_eq!(list["environments"][0]["color"], "amber");
    // Nothing on disk holds it.
    assert_no_file_holds(k.dir.path(), pw);

    // GODWIT_PASSWORD_<ENV> wins, for pipelines: a wrong one there is refused and named.
    let mut c = k.command(env!("CARGO_BIN_EXE_godwit"));
    let o = c.current_dir(&root).env("GODWIT_PASSWORD_PG", "wrong").args(["env", "test", "pg"]).output().unwrap();
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).contains("GODWIT_PASSWORD_PG"), "{}", text(&o));

    // Removing the environment removes its password.
    let o = k.godwit(&root, &["env", "remove", "pg"], None);
    assert!(o.status.success(), "{}", text(&o));
    let o = k.command("secret-tool").args(["lookup", "service", "godwit"]).output().unwrap();
    assert!(o.stdout.is_empty());
    assert!(!std::fs::read_to_string(root.join("godwit.toml")).unwrap().contains("[env.pg]"));
}

#[test]
fn headless_pipelines_use_the_environment_variable_without_any_keyring() {
    let pw = "Headless-Pw-4410";
    let cluster = Cluster::start(Some(pw));
    let dir = tempfile::tempdir().unwrap();
    let root = project(dir.path(), &format!("[env.ci]\nurl = \"{}\"\n", cluster.url()));
    let run = |extra: &[(&str, &str)], args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_godwit"));
        c.current_dir(&root)
            .env("HOME", dir.path())
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("GODWIT_KEYRING_TIMEOUT", "3");
        for (k, v) in extra {
            c.env(k, v);
        }
        c.args(args).output().unwrap()
    };
    let started = Instant::now();
    let o = run(&[], &["--env", "ci", "status"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(started.elapsed() < Duration::from_secs(15));
    assert!(text(&o).contains("GODWIT_PASSWORD_CI") && text(&o).contains("keyring"), "{}", text(&o));
    let o = run(&[("GODWIT_PASSWORD_CI", pw)], &["--env", "ci", "up"]);
    assert!(o.status.success(), "{}", text(&o));

    // Adding an environment here advises what works without a keyring, not `secret set`; `--url`
    // and `--driver` together are a conflict, not a missing `--database`.
    let o = run(&[], &["env", "add", "staging", "--url", &cluster.url()]);
    assert!(o.status.success(), "{}", text(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("GODWIT_PASSWORD_STAGING") && out.contains("no OS keyring"), "{out}");
    let o = run(&[], &["env", "add", "qa", "--url", &cluster.url(), "--driver", "postgres"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("--database"), "{}", text(&o));
}

#[test]
fn a_keyring_that_is_missing_or_locked_is_a_bounded_clear_error() {
    // A session bus with no Secret Service on it.
    let k = Keyring::start(false);
    let root = project(k.dir.path(), "[env.db]\nurl = \"postgres://app@127.0.0.1:1/app\"\n");
    let started = Instant::now();
    let o = k.godwit(&root, &["secret", "set", "db", "--stdin"], None);
    assert!(started.elapsed() < Duration::from_secs(10), "bounded");
    assert_eq!(o.status.code(), Some(2), "an empty password is refused first: {}", text(&o));
    let o = k.godwit(&root, &["secret", "set", "db", "--stdin"], Some("pw\n"));
    assert!(started.elapsed() < Duration::from_secs(15), "bounded");
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("keyring"), "{}", text(&o));

    // A keyring daemon that is running but locked (no --unlock): storing would need an unlock
    // prompt nobody can answer. It fails or times out; it never hangs.
    let mut locked = k
        .command("gnome-keyring-daemon")
        .args(["--foreground", "--components=secrets"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let started = Instant::now();
    let o = k.godwit(&root, &["secret", "set", "db", "--stdin"], Some("pw\n"));
    let _ = locked.kill();
    let _ = locked.wait();
    assert!(started.elapsed() < Duration::from_secs(15), "bounded: {:?}", started.elapsed());
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("keyring"), "{}", text(&o));
}

#[tokio::test]
async fn mariadb_wrong_password_refused_port_silent_host_missing_database() {
    use sqlx::{Connection, Executor};
    let user = format!("godwit_pw_{}", std::process::id());
    let mut admin = sqlx::MySqlConnection::connect(&common::mysql_admin_url()).await.unwrap();
    admin
        .execute(sqlx::AssertSqlSafe(format!("DROP USER IF EXISTS '{user}'@'%', '{user}'@'127.0.0.1'")))
        .await
        .unwrap();
    for host in ["%", "127.0.0.1"] {
        admin
            .execute(sqlx::AssertSqlSafe(format!("CREATE USER '{user}'@'{host}' IDENTIFIED BY 'Right-Pw-1'")))
            .await
            .unwrap();
    }
    let t = common::TestDb::new(godwit::db::Dialect::MySql).await;
    let mut base = url::Url::parse(&t.url).unwrap();
    let _ = base.set_username(&user);
    let refused = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let envs = format!(
        "[env.my]\nurl = \"{base}\"\n[env.refused]\nurl = \"mysql://u@127.0.0.1:{refused}/x\"\n[env.silent]\nurl = \"postgres://u@127.0.0.1:{}/x\"\n\
         [env.nodb]\nurl = \"mysql://root@127.0.0.1:3306/godwit_no_such_db\"\n",
        silent.local_addr().unwrap().port()
    );
    let dir = tempfile::tempdir().unwrap();
    let root = project(dir.path(), &envs);
    let godwit = |vars: &[(&str, &str)], args: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_godwit"));
        c.current_dir(&root)
            .env("HOME", dir.path())
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("GODWIT_KEYRING_TIMEOUT", "2");
        for (k, v) in vars {
            c.env(k, v);
        }
        c.args(args).output().unwrap()
    };
    let o = godwit(&[("GODWIT_PASSWORD_MY", "Wrong-Pw")], &["--errors", "json", "env", "test", "my"]);
    assert_eq!((o.status.code(), problem_in(&o.stderr)), (Some(3), "auth_refused".into()));
    assert!(!text(&o).contains("Wrong-Pw"), "{}", text(&o));
    // The user has no rights on the test database yet: a different message from a wrong password.
    let o = godwit(&[("GODWIT_PASSWORD_MY", "Right-Pw-1")], &["env", "test", "my"]);
    assert_eq!(o.status.code(), Some(3));
    assert!(text(&o).contains("does not let this user in"), "{}", text(&o));
    admin
        .execute(sqlx::AssertSqlSafe(format!("GRANT ALL ON {}.* TO '{user}'@'%', '{user}'@'127.0.0.1'", t.name)))
        .await
        .unwrap();
    let o = godwit(&[("GODWIT_PASSWORD_MY", "Right-Pw-1")], &["env", "test", "my"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("MariaDB") || text(&o).contains("10.11"), "{}", text(&o));

    let o = godwit(&[], &["--errors", "json", "env", "test", "refused"]);
    assert_eq!((o.status.code(), problem_in(&o.stderr)), (Some(3), "cannot_connect".into()));
    let started = Instant::now();
    let o = godwit(&[], &["--errors", "json", "--connect-timeout", "1", "env", "test", "silent"]);
    assert_eq!((o.status.code(), problem_in(&o.stderr)), (Some(3), "cannot_connect".into()));
    assert!(started.elapsed() < Duration::from_secs(6));
    let o = godwit(&[], &["--errors", "json", "env", "test", "nodb"]);
    assert_eq!((o.status.code(), problem_in(&o.stderr)), (Some(3), "no_database".into()));
    admin
        .execute(sqlx::AssertSqlSafe(format!("DROP USER IF EXISTS '{user}'@'%', '{user}'@'127.0.0.1'")))
        .await
        .unwrap();
    drop(silent);
}

#[tokio::test]
async fn protected_environments_ask_for_their_name() {
    let t = common::TestDb::new(godwit::db::Dialect::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let root = project(dir.path(), &format!("[env.prod]\nurl = \"{}\"\nprotected = true\n", t.url));
    let godwit = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(&root)
            .env("HOME", dir.path())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let o = godwit(&["up"]);
    assert_eq!(o.status.code(), Some(5), "{}", text(&o));
    assert!(text(&o).contains("--confirm prod"), "{}", text(&o));
    assert!(!t.sqlite_path().exists(), "nothing was done");
    let o = godwit(&["--errors", "json", "up", "--confirm", "staging"]);
    assert_eq!((o.status.code(), problem_in(&o.stderr)), (Some(5), "protected".into()));
    // Reading needs no confirmation.
    assert!(godwit(&["status"]).status.success());
    // On a terminal, the name is typed at a prompt (a pseudo-terminal through `script`).
    let on_tty = |typed: &str| {
        let cmd = format!("{} up", env!("CARGO_BIN_EXE_godwit"));
        let mut child = Command::new("script")
            .args(["-qec", &cmd, "/dev/null"])
            .current_dir(&root)
            .env("HOME", dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        input.write_all(format!("{typed}\n").as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        drop(input);
        o
    };
    let o = on_tty("prdo");
    assert!(text(&o).contains("Type its name") && text(&o).contains("`prdo` is not `prod`"), "{}", text(&o));
    assert!(!t.sqlite_path().exists());
    let o = on_tty("prod");
    assert!(text(&o).contains("Applied 1 migration"), "{}", text(&o));
    let o = godwit(&["down", "--confirm", "prod"]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(godwit(&["repair", "1", "--reason", "x"]).status.code(), Some(5));
    assert_eq!(godwit(&["resolve", "1", "--applied"]).status.code(), Some(5));
}

#[test]
fn personal_environments_stay_out_of_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let root = project(dir.path(), "");
    let godwit = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_godwit"))
            .current_dir(&root)
            .env("HOME", dir.path())
            .env_remove("XDG_CONFIG_HOME")
            .args(args)
            .output()
            .unwrap()
    };
    let o = godwit(&["env", "add", "mine", "--driver", "sqlite", "--database", "mine.db", "--personal"]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!std::fs::read_to_string(root.join("godwit.toml")).unwrap().contains("mine"));
    // Tied to this folder as well as the id: `test-project-<folder hash>.toml`.
    let projects = dir.path().join(".config/godwit/projects");
    let files: Vec<PathBuf> = std::fs::read_dir(&projects).unwrap().flatten().map(|e| e.path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let name = files[0].file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("test-project-") && name.ends_with(".toml"), "{name}");
    assert!(std::fs::read_to_string(&files[0]).unwrap().contains("[env.mine]"), "{name}");
    let o = godwit(&["env", "list"]);
    assert!(text(&o).contains("mine") && text(&o).contains("personal"), "{}", text(&o));
    assert!(godwit(&["--env", "mine", "up"]).status.success());
    assert!(root.join("mine.db").exists());
}

/// Every verb, success and failure (a refused password, a server gone), with tracing at TRACE:
/// the password appears in no output, no file, no process argument list.
#[test]
fn the_password_leaks_nowhere() {
    let pw = "Zq9-Distinctive-Pw-Leak-Check";
    let cluster = Cluster::start(Some(pw));
    let k = Keyring::start(true);
    let root = project(k.dir.path(), "");
    std::fs::write(root.join("migrations/2_bad.up.sql"), "CREATE TABLE nope (id INTEGER);\nSELECT * FROM missing;")
        .unwrap();
    std::fs::write(root.join("migrations/2_bad.down.sql"), "DROP TABLE nope;").unwrap();

    let watch = ArgWatch::start(pw);

    let mut outputs = Vec::new();
    let mut run = |args: &[&str], stdin: Option<&str>| {
        let mut c = k.command(env!("CARGO_BIN_EXE_godwit"));
        c.current_dir(&root)
            .env("GODWIT_LOG", "trace")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        let o = child.wait_with_output().unwrap();
        outputs.push((args.join(" "), text(&o)));
        o
    };
    run(&["env", "add", "pg", "--url", &cluster.url(), "--protected"], None);
    run(&["secret", "set", "pg", "--stdin"], Some("wrong-one\n"));
    run(&["--env", "pg", "status"], None);
    run(&["--env", "pg", "env", "test", "pg"], None);
    run(&["secret", "set", "pg", "--stdin"], Some(&format!("{pw}\n")));
    for args in [
        &["env", "test", "pg"][..],
        &["env", "list"],
        &["env", "list", "--json"],
        &["--env", "pg", "status", "--json"],
        &["--env", "pg", "up", "--dry-run"],
        &["--env", "pg", "up", "--confirm", "pg"],
        &["--env", "pg", "history", "--json"],
        &["--env", "pg", "history"],
        &["--env", "pg", "check", "--json"],
        &["--env", "pg", "verify"],
        &["--env", "pg", "down", "--confirm", "pg"],
        &["--env", "pg", "redo", "--confirm", "pg"],
        &["--env", "pg", "templates", "--json"],
        &["--env", "pg", "new", "x", "--template", "add_column", "--param", "table=t", "--param", "column=c"],
        &["--env", "pg", "backup"],
        &["--env", "pg", "backups", "--json"],
        &["--env", "pg", "up", "--backup", "--verify", "--confirm", "pg"],
        &["--env", "pg", "restore", "--confirm", "pg"],
        &["--env", "pg", "backups"],
        &["secret", "remove", "pg"],
        &["--env", "pg", "status"],
    ] {
        run(args, None);
    }
    // A server gone mid-session: stopped, with the password in hand.
    run(&["secret", "set", "pg", "--stdin"], Some(&format!("{pw}\n")));
    Cluster::pg_ctl(&cluster.bin, &cluster.dir.path().join("data"), cluster.dir.path(), cluster.port, "stop");
    for args in [&["--env", "pg", "status"][..], &["--env", "pg", "up", "--confirm", "pg"], &["--env", "pg", "backup"]]
    {
        let o = run(args, None);
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    }
    let seen = watch.stop();

    assert!(outputs.iter().any(|(_, o)| o.contains("2_bad.up.sql")), "the failing migration ran: {outputs:#?}");
    assert!(outputs.iter().any(|(_, o)| o.contains("refused the password")), "the wrong password was tried");
    assert!(outputs.iter().any(|(_, o)| o.contains("TRACE") || o.contains("DEBUG")), "tracing was on");
    assert!(outputs.iter().any(|(_, o)| o.contains("Restored")), "a backup was restored");
    for (args, out) in &outputs {
        assert!(!out.contains(pw), "`godwit {args}` printed the password:\n{out}");
    }
    assert!(seen.is_empty(), "a process argument list held the password: {seen:?}");
    assert_no_file_holds(k.dir.path(), pw);
}

/// Every process's argument list, watched for a secret while verbs run.
struct ArgWatch {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    seen: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    thread: std::thread::JoinHandle<()>,
}

impl ArgWatch {
    fn start(needle: &str) -> ArgWatch {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (s, found, needle) = (stop.clone(), seen.clone(), needle.to_string());
        let thread = std::thread::spawn(move || {
            while !s.load(std::sync::atomic::Ordering::SeqCst) {
                for e in std::fs::read_dir("/proc").unwrap().flatten() {
                    if let Ok(cmd) = std::fs::read(e.path().join("cmdline"))
                        && String::from_utf8_lossy(&cmd).contains(&needle)
                    {
                        found.lock().unwrap().push(String::from_utf8_lossy(&cmd).replace('\0', " "));
                    }
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        ArgWatch { stop, seen, thread }
    }

    /// The argument lists that held it.
    fn stop(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        self.thread.join().unwrap();
        self.seen.lock().unwrap().clone()
    }
}

/// A secret placeholder: stored in the OS keyring, it reaches the SQL and nothing else — not the
/// dry run, an error that quotes it, the log, history, a backup, a process's arguments — and it
/// goes only to the server it was stored for.
#[test]
fn a_secret_placeholder_leaks_nowhere_and_goes_only_to_its_server() {
    let secret = "Tk-9f3Distinctive-Placeholder";
    let cluster = Cluster::start(None);
    let k = Keyring::start(true);
    let env = format!("[env.pg]\nurl = \"{}\"\n\n[env.pg.placeholders]\nowner = \"app\"\n", cluster.url());
    let root = project(k.dir.path(), &env);
    let write = |name: &str, sql: &str| std::fs::write(root.join("migrations").join(name), sql).unwrap();
    write(
        "2_role.up.sql",
        "-- godwit:placeholders\nCREATE ROLE ${owner}_reader;\nCOMMENT ON ROLE ${owner}_reader IS '${api_key}';\n\
         DO $$ BEGIN RAISE WARNING 'the server says %', '${api_key}'; END $$;\n",
    );
    write("2_role.down.sql", "-- godwit:placeholders\nDROP ROLE ${owner}_reader;\n");
    // The server quotes the value in its error: `invalid input syntax for type integer: "…"`.
    write("3_bad.up.sql", "-- godwit:placeholders\nSELECT '${api_key}'::int;\n");
    write("3_bad.down.sql", "SELECT 1;\n");
    let comment = || {
        let o = Command::new(cluster.bin.join("psql"))
            .args(["-h", "127.0.0.1", "-p", &cluster.port.to_string(), "-U", "postgres", "-Atc"])
            .arg("SELECT COALESCE(shobj_description(oid, 'pg_authid'), '') FROM pg_roles WHERE rolname = 'app_reader'")
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    };

    let watch = ArgWatch::start(secret);
    let mut outputs = Vec::new();
    let mut run = |args: &[&str], stdin: Option<&str>| {
        let mut c = k.command(env!("CARGO_BIN_EXE_godwit"));
        c.current_dir(&root).env("GODWIT_LOG", "trace").args(args).stdin(Stdio::piped());
        let mut child = c.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let mut input = child.stdin.take().unwrap();
        if let Some(s) = stdin {
            input.write_all(s.as_bytes()).unwrap();
        }
        drop(input);
        let o = child.wait_with_output().unwrap();
        outputs.push((args.join(" "), text(&o)));
        o
    };
    // Not given yet: refused before anything runs.
    let o = run(&["--errors", "json", "--env", "pg", "up"], None);
    assert_eq!(problem_in(&o.stderr), "unset_placeholders", "{}", text(&o));
    assert_eq!(comment(), "", "nothing ran");
    assert!(
        run(&["placeholder", "set", "pg", "api_key", "--secret", "--stdin"], Some(&format!("{secret}\n")))
            .status
            .success()
    );
    let toml = std::fs::read_to_string(root.join("godwit.toml")).unwrap();
    assert!(toml.contains("api_key = { secret = true }"), "{toml}");
    for args in [
        &["placeholder", "list", "pg"][..],
        &["placeholder", "list", "pg", "--json"],
        &["--env", "pg", "up", "--dry-run"],
        &["--env", "pg", "up", "--dry-run", "--json"],
        &["--env", "pg", "up"],
        &["--env", "pg", "status", "--json"],
        &["--env", "pg", "history"],
        &["--env", "pg", "history", "--json"],
        &["--env", "pg", "check", "--json"],
        &["--env", "pg", "verify"],
        &["--env", "pg", "backup"],
        &["--env", "pg", "down"],
        &["--env", "pg", "up", "--to", "2"],
    ] {
        run(args, None);
    }
    // It reached the SQL.
    assert_eq!(comment(), secret);

    // The environment now names another server: the value is not sent there.
    let other = Cluster::start(None);
    std::fs::write(root.join("godwit.toml"), toml.replace(&cluster.url(), &other.url())).unwrap();
    let o = run(&["--errors", "json", "--env", "pg", "up"], None);
    assert_eq!(problem_in(&o.stderr), "server_changed", "{}", text(&o));
    let seen = watch.stop();

    let failed = &outputs.iter().find(|(a, _)| a == "--env pg up").unwrap().1;
    assert!(failed.contains("3_bad.up.sql") && failed.contains("${api_key}"), "the error names it: {failed}");
    let dry = &outputs.iter().find(|(a, _)| a == "--env pg up --dry-run").unwrap().1;
    assert!(dry.contains("IS '${api_key}'"), "{dry}");
    for (args, out) in &outputs {
        assert!(!out.contains(secret), "`godwit {args}` printed the secret:\n{out}");
        assert!(!out.contains("Tk-9f3Distinct"), "`godwit {args}` printed part of the secret:\n{out}");
    }
    assert!(seen.is_empty(), "a process argument list held the secret: {seen:?}");
    assert_no_file_holds(k.dir.path(), secret);
}

/// No file under `dir` (project, HOME with its config and data dirs) contains `needle`, except the
/// keyring's own encrypted store, which is checked to be encrypted (it does not hold it either).
fn assert_no_file_holds(dir: &Path, needle: &str) {
    for entry in walk(dir) {
        if let Ok(bytes) = std::fs::read(&entry) {
            assert!(!String::from_utf8_lossy(&bytes).contains(needle), "{} holds the password", entry.display());
        }
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else if p.is_file() {
            out.push(p);
        }
    }
    out
}

/// A stored password goes only to the server it was stored for: a godwit.toml that now names
/// another host, port or database (a fork with the same project id, a query parameter that
/// redirects) gets nothing sent until a person confirms the new server once.
#[test]
fn a_stored_password_goes_only_to_the_server_it_was_stored_for() {
    let pw = "Bound-Pw-5521";
    let cluster = Cluster::start(Some(pw));
    let k = Keyring::start(true);
    let root = project(k.dir.path(), &format!("[env.prod]\nurl = \"{}\"\n", cluster.url()));
    let o = k.godwit(&root, &["secret", "set", "prod", "--stdin"], Some(&format!("{pw}\n")));
    assert!(o.status.success(), "{}", text(&o));
    assert!(k.godwit(&root, &["env", "test", "prod"], None).status.success());

    // The attacker's server: it records whether anyone connected at all.
    let attacker = TcpListener::bind("127.0.0.1:0").unwrap();
    attacker.set_nonblocking(true).unwrap();
    let port = attacker.local_addr().unwrap().port();
    let set_url = |url: &str| {
        std::fs::write(root.join("godwit.toml"), format!("id = \"test-project\"\n[env.prod]\nurl = \"{url}\"\n"))
            .unwrap()
    };
    for url in [
        format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        format!("postgres://postgres@127.0.0.1:{}/postgres?port={port}", cluster.port),
    ] {
        set_url(&url);
        let o = k.godwit(&root, &["env", "test", "prod"], None);
        assert_eq!(o.status.code(), Some(3), "{}", text(&o));
        // The printed remedy names the command that confirms the new server.
        assert!(text(&o).contains("`godwit --env prod --trust-host env test prod`"), "{}", text(&o));
        assert!(!text(&o).contains(pw));
        assert!(attacker.accept().is_err(), "something connected to the unconfirmed server");
        let o = k.godwit(&root, &["env", "list", "--json"], None);
        let list: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(list["environments"][0]["password"], "keyring_other_server");
    }

    // The same server with weaker TLS than the password was stored with: asked first, like another
    // server (the password would cross the network in the clear).
    set_url(&format!("{}?sslmode=disable", cluster.url()));
    let o = k.godwit(&root, &["env", "test", "prod"], None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(text(&o).contains("--trust-host env test prod"), "{}", text(&o));

    // A real move (another database on the same server): refused once, then confirmed with the
    // command as printed, and from then on the password goes there without asking.
    set_url(&format!("postgres://postgres@127.0.0.1:{}/template1", cluster.port));
    assert_eq!(k.godwit(&root, &["env", "test", "prod"], None).status.code(), Some(3));
    let o = k.godwit(&root, &["--trust-host", "env", "test", "prod"], None);
    assert!(o.status.success(), "{}", text(&o));
    let o = k.godwit(&root, &["env", "test", "prod"], None);
    assert!(o.status.success(), "{}", text(&o));
    // And the old server is now the other one.
    set_url(&cluster.url());
    assert_eq!(k.godwit(&root, &["env", "test", "prod"], None).status.code(), Some(3));
}

#[test]
fn a_fleets_password_is_stored_per_server_and_sent_only_there() {
    let pw = "Fleet-Pw-7731";
    let cluster = Cluster::start(Some(pw));
    let k = Keyring::start(true);
    let root = project(k.dir.path(), "[fleet.f]\nfile = \"dbs.txt\"\n");
    std::fs::write(root.join("dbs.txt"), format!("{}\n", cluster.url())).unwrap();
    // Before one is stored: the server asks for one and gets none.
    assert_eq!(k.godwit(&root, &["--fleet", "f", "status"], None).status.code(), Some(3));
    let o = k.godwit(&root, &["--fleet", "f", "secret", "set", "--stdin"], Some(&format!("{pw}\n")));
    assert!(o.status.success(), "{}", text(&o));
    let o = k.godwit(&root, &["--fleet", "f", "up"], None);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!text(&o).contains(pw));

    // The same database through another name for the server is another server: the password
    // stored for 127.0.0.1 is not sent to localhost.
    std::fs::write(root.join("dbs.txt"), format!("{}\n", cluster.url().replace("127.0.0.1", "localhost"))).unwrap();
    let o = k.godwit(&root, &["--fleet", "f", "status", "--json"], None);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["members"][0]["error"]["problem"]["problem"], "auth_refused", "{r}");
    // A URL with a password in the fleet's file is refused before anything connects.
    std::fs::write(root.join("dbs.txt"), cluster.url().replace("postgres@", &format!("postgres:{pw}@"))).unwrap();
    let o = k.godwit(&root, &["--fleet", "f", "status"], None);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!text(&o).contains(pw));
    // One piped password for a fleet on several servers (a stranger's file may add one): refused.
    std::fs::write(root.join("dbs.txt"), format!("{}\npostgres://app@127.0.0.1:1/x\n", cluster.url())).unwrap();
    let o = k.godwit(&root, &["--fleet", "f", "secret", "set", "--stdin"], Some(&format!("{pw}\n")));
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}
