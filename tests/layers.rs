//! The layer rules ARCHITECTURE.md states, checked against the source: a rule broken fails here,
//! not in a review months later.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Every `.rs` file under `src/`, with its top-level module (`ops` for `src/ops/run.rs`).
fn sources() -> Vec<(String, PathBuf, String)> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    walk(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let rel = p.strip_prefix(&src).unwrap();
            let top = rel.components().next().unwrap().as_os_str().to_string_lossy();
            let module = top.trim_end_matches(".rs").to_string();
            let text = std::fs::read_to_string(&p).unwrap();
            (module, rel.to_path_buf(), text)
        })
        .collect()
}

/// The top-level modules a file names through `crate::` (`use crate::{a, b::c}` included).
fn references(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices("crate::") {
        let rest = &text[i + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group[..group.find('}').unwrap_or(group.len())].split(',').collect(),
            None => vec![rest],
        };
        for n in names {
            let n: String = n.trim().chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            if !n.is_empty() && n != "self" {
                out.insert(n);
            }
        }
    }
    out
}

/// The code before its unit tests: what ships.
fn shipped(text: &str) -> &str {
    &text[..text.find("#[cfg(test)]").unwrap_or(text.len())]
}

#[test]
fn each_layer_names_only_the_layers_below_it() {
    // (module, the modules it must not name, why)
    let below_ops = ["ops", "fleet", "cli"];
    let rules: Vec<(&str, Vec<&str>, &str)> = vec![
        (
            "db",
            below_ops.iter().copied().chain(["backup", "lint", "import", "template", "project"]).collect(),
            "db is spoken to, it does not ask upwards",
        ),
        ("migration", below_ops.to_vec(), "migration is used by ops"),
        ("backup", below_ops.to_vec(), "backup is used by ops"),
        ("template", below_ops.to_vec(), "template is used by ops"),
        ("lint", below_ops.to_vec(), "lint is used by ops"),
        ("import", below_ops.to_vec(), "import is used by ops"),
        ("schema", below_ops.to_vec(), "schema is used by ops"),
        ("project", below_ops.to_vec(), "project is used by ops"),
        ("profile", below_ops.to_vec(), "profile is used by ops"),
        ("ops", vec!["fleet", "cli"], "fleet runs ops on many databases; ops does not know fleets"),
        ("fleet", vec!["cli"], "the CLI is a face over the core"),
    ];
    let mut broken = Vec::new();
    for (module, path, text) in sources() {
        let named = references(shipped(&text));
        for (m, denied, why) in &rules {
            if module == *m {
                for d in denied.iter().filter(|d| named.contains(**d)) {
                    broken.push(format!("{} names crate::{d}: {why}", path.display()));
                }
            }
        }
        // Leaves.
        let allowed: Option<&[&str]> = match module.as_str() {
            "syntax" => Some(&["syntax", "error"]),
            "process" => Some(&["process", "error"]),
            "error" => Some(&["error", "import"]),
            _ => None,
        };
        if let Some(allowed) = allowed {
            for n in named.iter().filter(|n| !allowed.contains(&n.as_str())) {
                broken.push(format!("{} names crate::{n}: {module} is a leaf", path.display()));
            }
        }
        if module != "cli" && module != "lib" && module != "bin" && named.contains("cli") {
            broken.push(format!("{} names crate::cli: only the binary starts the CLI", path.display()));
        }
    }
    assert!(broken.is_empty(), "layer rules broken:\n{}", broken.join("\n"));
}

#[test]
fn error_names_only_what_its_remedies_carry() {
    let (_, _, text) = sources().into_iter().find(|(m, _, _)| m == "error").unwrap();
    let uses: Vec<&str> = text.match_indices("crate::import::").map(|(i, _)| &text[i..]).collect();
    for u in uses {
        let name: String = u["crate::import::".len()..].chars().take_while(|c| c.is_alphanumeric()).collect();
        assert!(["Tool", "CodeToRun"].contains(&name.as_str()), "error.rs names crate::import::{name}");
    }
}

#[test]
fn only_db_and_the_dump_tools_speak_to_a_server() {
    for (module, path, text) in sources() {
        if ["db", "backup"].contains(&module.as_str()) {
            continue;
        }
        assert!(
            !shipped(&text).contains("sqlx::"),
            "{} uses sqlx: only db/ and backup/ reach a server",
            path.display()
        );
    }
}

/// What each database does differently lives in the modules that write or read its SQL; elsewhere
/// a dialect is only compared in these few places, each for a reason.
#[test]
fn a_dialect_is_matched_only_where_databases_differ() {
    let owners = ["db", "backup", "syntax", "template", "lint", "import", "schema"];
    // (file, why it may)
    let named: [(&str, &str); 6] = [
        ("ops/mod.rs", "a SQLite file not made yet has no schema to dump"),
        (
            "ops/desired.rs",
            "a migration is generated from a schema file on PostgreSQL only so far (its constraint names, a dump's search path)",
        ),
        ("ops/squash.rs", "a SQLite scratch database has no server version for its dump tool"),
        ("fleet/members.rs", "a SQLite member is shown by its file's name"),
        ("project/fleets.rs", "a fleet's `pattern` names a server's databases, which a SQLite URL does not"),
        ("migration/runner.rs", "a message says where a statement ran"),
    ];
    let mut broken = Vec::new();
    for (module, path, text) in sources() {
        let rel = path.display().to_string();
        if owners.contains(&module.as_str()) || named.iter().any(|(f, _)| *f == rel) {
            continue;
        }
        for (n, line) in shipped(&text).lines().enumerate() {
            let matched = ["Postgres", "MySql", "Sqlite"].iter().any(|d| {
                let d = format!("Dialect::{d}");
                line.contains(&format!("{d} =>"))
                    || line.contains(&format!("{d} |"))
                    || line.contains(&format!("== {d}"))
                    || line.contains(&format!("!= {d}"))
            });
            if matched {
                broken.push(format!("{rel}:{}: {}", n + 1, line.trim()));
            }
        }
    }
    assert!(broken.is_empty(), "a dialect matched outside {owners:?}:\n{}", broken.join("\n"));
}

/// The string literals of Rust code, with the line each starts on (comments, char literals and
/// lifetimes left out; enough for this crate's code, not a Rust parser).
fn literals(code: &str) -> Vec<(usize, String)> {
    let (mut out, mut line, mut chars) = (Vec::new(), 1, code.chars().peekable());
    while let Some(c) = chars.next() {
        match c {
            '\n' => line += 1,
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        line += 1;
                        break;
                    }
                }
            }
            // '"' and the like: a char literal holding a quote.
            '\'' => {
                let ahead: String = chars.clone().take(3).collect();
                if ahead.starts_with("\"'") {
                    chars.nth(1);
                } else if ahead.starts_with("\\\"") {
                    chars.nth(2);
                }
            }
            '"' => {
                let (start, mut text) = (line, String::new());
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                if n == '\n' {
                                    line += 1;
                                } else {
                                    text.push(n);
                                }
                            }
                        }
                        '"' => break,
                        '\n' => {
                            line += 1;
                            text.push(c);
                        }
                        c => text.push(c),
                    }
                }
                out.push((start, text));
            }
            _ => {}
        }
    }
    out
}

/// The core's words reach the app as they are: a flag or a `godwit` command in them means nothing
/// there. The CLI words remedies as commands (`cli::remedy`); the app draws them as buttons.
#[test]
fn the_cores_messages_name_no_cli_command_or_flag() {
    let mut broken = Vec::new();
    for (module, path, text) in sources() {
        if ["cli", "bin"].contains(&module.as_str()) {
            continue;
        }
        for (line, literal) in literals(shipped(&text)) {
            // What a migration file says of itself is the file's text, not a message.
            if literal.starts_with("-- ") {
                continue;
            }
            // Another tool's command, quoted as that tool's, is not Godwit's syntax.
            let literal: String = literal
                .split('`')
                .enumerate()
                .filter(|(i, part)| i % 2 == 0 || part.starts_with("godwit "))
                .map(|(_, part)| part)
                .collect::<Vec<_>>()
                .join("`");
            let flag = literal
                .match_indices(" --")
                .any(|(i, _)| literal[i + 3..].chars().next().is_some_and(|c| c.is_ascii_lowercase()));
            if literal.contains("`godwit ") || flag {
                broken.push(format!("{}:{line}: {literal}", path.display()));
            }
        }
    }
    assert!(broken.is_empty(), "CLI syntax in the core's messages:\n{}", broken.join("\n"));
}
