//! Placeholders on the three databases, through the CLI: a value per environment reaches the SQL
//! (escaped for the quotes it sits in), an unset one refuses before anything is sent, the history's
//! checksums are sqlx-cli 0.9's, and a marked file sqlx-cli applied as written is flagged by
//! `check`. (Secret values, in the OS keyring, are in tests/profiles.rs with its leak scan.)

mod common;

use std::process::Command;

use common::sqlx_cli::{godwit, ok, sqlx};
use common::{Out, TestDb};
use godwit::db::Dialect;

/// The commands an error printed as remedies, as they would be pasted (without the binary's path).
fn remedies(o: &Out) -> Vec<String> {
    o.stderr
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|c| c.starts_with("godwit "))
        .map(|c| c.trim_start_matches("godwit ").to_string())
        .collect()
}

async fn values_reach_the_sql_and_unset_ones_refuse(d: Dialect) {
    let t = TestDb::new(d).await;
    std::fs::write(
        t.dir.path().join("godwit.toml"),
        format!(
            "id = \"ph-{}\"\nmigrations = \"migrations\"\n\n[env.dev]\nurl = \"{}\"\n\n[env.dev.placeholders]\n\
             tenant = \"O'Brien & co\"\ntable = \"accounts\"\nevil = 'x\\\"); DROP TABLE accounts; -- '\n",
            t.name, t.url
        ),
    )
    .unwrap();
    t.write(
        "1_accounts.up.sql",
        "-- godwit:placeholders\nCREATE TABLE ${table} (name VARCHAR(100), note VARCHAR(100));\n\
         INSERT INTO ${table} VALUES ('${tenant}', '$${tenant}');\n",
    );
    t.write("1_accounts.down.sql", "-- godwit:placeholders\nDROP TABLE ${table};\n");
    // Not marked: sent as written, as sqlx-cli sends it.
    t.write("2_plain.up.sql", "CREATE TABLE plain (note VARCHAR(100));\nINSERT INTO plain VALUES ('${tenant}');\n");
    t.write("2_plain.down.sql", "DROP TABLE plain;\n");
    t.write("3_region.up.sql", "-- godwit:placeholders\nINSERT INTO plain VALUES ('${region}');\n");
    t.write("3_region.down.sql", "-- godwit:placeholders\nDELETE FROM plain WHERE note = '${region}';\n");
    // A value that would end its string and run SQL, in each database's string with backslash escapes.
    let quoted = match d {
        Dialect::MySql => "\"${evil}\"",
        Dialect::Postgres => "E'${evil}'",
        Dialect::Sqlite => "'${evil}'",
    };
    t.write("4_evil.up.sql", &format!("-- godwit:placeholders\nINSERT INTO plain VALUES ({quoted});\n"));
    t.write("4_evil.down.sql", "-- godwit:placeholders\nDELETE FROM plain WHERE note LIKE 'x%';\n");

    // `region` has no value: refused before anything is sent, the file and the name said.
    let refused = godwit(&t, &["up"]);
    assert_eq!(refused.code, 2, "{}{}", refused.stdout, refused.stderr);
    assert_eq!(refused.problem_is(), "unset_placeholders");
    assert!(refused.stderr.contains("3_region.up.sql: ${region}"), "{}", refused.stderr);
    match d {
        Dialect::Sqlite => assert!(!t.sqlite_path().exists(), "not even the file was made"),
        _ => assert!(t.tables().await.is_empty(), "nothing was made, not even the history: {:?}", t.tables().await),
    }
    // The dry run refuses the same way, and `check` says it before anyone runs it.
    assert_eq!(godwit(&t, &["up", "--dry-run"]).problem_is(), "unset_placeholders");
    let check = godwit(&t, &["check", "--json"]);
    assert_ne!(check.code, 0, "{}", check.stdout);
    let doc: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    let unset: Vec<&serde_json::Value> =
        doc["findings"].as_array().unwrap().iter().filter(|f| f["kind"] == "unset_placeholders").collect();
    assert_eq!(unset.len(), 1, "{doc}");
    assert_eq!(unset[0]["files"], serde_json::json!(["3_region.up.sql"]), "{doc}");

    // The printed remedy, pasted (with the value piped in where a terminal would ask).
    let pasted = remedies(&refused);
    assert_eq!(pasted, ["placeholder set dev region"], "{}", refused.stderr);
    let mut args: Vec<&str> = pasted[0].split(' ').collect();
    args.push("--stdin");
    let set = Command::new(env!("CARGO_BIN_EXE_godwit"))
        .current_dir(t.dir.path())
        .env("HOME", t.dir.path().join("home"))
        .args(&args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    set.stdin.as_ref().unwrap().write_all(b"eu-west\n").unwrap();
    assert!(set.wait_with_output().unwrap().status.success());
    assert!(std::fs::read_to_string(t.dir.path().join("godwit.toml")).unwrap().contains("region = \"eu-west\""));

    // The dry run shows the SQL as sent.
    let plan = ok(godwit(&t, &["up", "--dry-run"]));
    assert!(plan.stdout.contains("INSERT INTO accounts VALUES ('O''Brien & co'"), "{}", plan.stdout);

    ok(godwit(&t, &["up"]));
    let rows = t.strings("SELECT name FROM accounts UNION ALL SELECT note FROM accounts").await;
    assert_eq!(rows, ["O'Brien & co", "${tenant}"], "escaped for its quotes; $${{}} written literally");
    let mut plain = t.strings("SELECT note FROM plain").await;
    plain.sort();
    assert_eq!(plain, ["${tenant}", "eu-west", "x\\\"); DROP TABLE accounts; -- "], "one string, nothing run");

    // sqlx-cli agrees on every checksum (the files as written), and has nothing to run.
    let info = sqlx(t.dir.path(), &t.url, &["migrate", "info"]);
    assert_eq!(info.stdout.matches("installed").count(), 4, "{}", info.stdout);
    assert!(!info.stdout.contains("checksum"), "a checksum differs: {}", info.stdout);
    let run = sqlx(t.dir.path(), &t.url, &["migrate", "run"]);
    assert!(!run.stdout.contains("Applied"), "{}", run.stdout);

    // verify fills them on its scratch database too; the downs are filled.
    ok(godwit(&t, &["verify"]));
    ok(godwit(&t, &["down", "--to", "1"]));
    assert_eq!(t.strings("SELECT note FROM accounts").await, ["${tenant}"]);
    assert!(!t.tables().await.contains(&"plain".to_string()));

    // sqlx-cli applies the marked files as written: `check` says so, naming the file.
    ok(godwit(&t, &["check"]));
    sqlx(t.dir.path(), &t.url, &["migrate", "run"]);
    let mut plain = t.strings("SELECT note FROM plain").await;
    plain.sort();
    assert_eq!(plain, ["${evil}", "${region}", "${tenant}"]);
    let check = godwit(&t, &["check", "--json"]);
    assert_ne!(check.code, 0, "{}", check.stdout);
    let doc: serde_json::Value = serde_json::from_str(&check.stdout).unwrap();
    let flagged: Vec<(String, i64)> = doc["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["kind"] == "not_filled")
        .map(|f| (f["files"][0].as_str().unwrap().to_string(), f["version"].as_i64().unwrap()))
        .collect();
    assert_eq!(flagged, [("3_region.up.sql".to_string(), 3), ("4_evil.up.sql".to_string(), 4)], "{doc}");
}

on_each_db!(values_reach_the_sql_and_unset_ones_refuse);
