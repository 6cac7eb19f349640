//! Connection profiles, passwords and placeholders: `env`, `secret` and `placeholder`.

use super::*;
use crate::profile::PasswordSource;
use crate::project::NewValue;

pub(super) fn project_of(ctx: &Ctx) -> Result<Project> {
    ctx.project.clone().ok_or_else(|| {
        Error::input("environments live in godwit.toml: run this inside a project (or `godwit init` to make one).")
    })
}

pub(super) async fn env_verb(ctx: &Ctx, cmd: &EnvCmd) -> Result<()> {
    match cmd {
        EnvCmd::Add { name, driver, host, port, database, user, color, protected, personal } => {
            let mut p = project_of(ctx)?;
            // `--url` is the global flag; here it is the new environment's URL.
            let url = ctx.cli.url.clone();
            if url.is_some() == driver.is_some() {
                return Err(Error::input(
                    "give the environment's database as --url URL, or as --driver with --database (and --host, --port, --user)",
                ));
            }
            let env = crate::profile::EnvConfig {
                url,
                driver: driver.clone(),
                host: host.clone(),
                port: *port,
                database: database.clone(),
                user: user.clone(),
                color: color.clone(),
                protected: *protected,
                ..Default::default()
            };
            let path = p.add_env(name, env, *personal)?;
            println!("Added environment `{name}` to {}.", path.display());
            let w = p.workspace(Some(name))?;
            if let Some(file) = crate::project::ignore_local_db(&p.root, name, &w.target) {
                println!("Added {file} to .gitignore: a database file in git would change under its history.");
            }
            if w.target.dialect().has_passwords() {
                let g = &ctx.again;
                let source = p.envs().into_iter().find(|e| &e.name == name).map(|e| e.password);
                let var = crate::project::password_var(name);
                match source {
                    Some(PasswordSource::Environment) => {
                        println!("Its password comes from {var}: check it with `{g} env test {name}`.")
                    }
                    // `secret set` would fail here: say what works instead.
                    Some(PasswordSource::Unknown) => println!(
                        "If its server asks for a password: no OS keyring answers here to store it, so set {var} where \
                         Godwit runs (or start a Secret Service and use `{g} secret set {name}`). `{g} env test {name}` \
                         checks the connection."
                    ),
                    _ => println!(
                        "Store its password with `{g} secret set {name}`, then check it with `{g} env test {name}`."
                    ),
                }
            }
            Ok(())
        }
        EnvCmd::List(json) => {
            let p = project_of(ctx)?;
            let envs = p.envs();
            if json.json {
                print_json(None, "environments", &envs);
                return Ok(());
            }
            if envs.is_empty() {
                println!("No environments yet: `godwit env add NAME --url URL`.");
            }
            for e in envs {
                let mut tags = Vec::new();
                if e.protected {
                    tags.push("protected".to_string());
                }
                if e.personal {
                    tags.push("personal".to_string());
                }
                if let Some(c) = &e.color {
                    tags.push(c.clone());
                }
                tags.push(
                    match e.password {
                        PasswordSource::Keyring => "password in the keyring",
                        PasswordSource::Environment => "password from the environment",
                        PasswordSource::None => "no password stored",
                        PasswordSource::KeyringOtherServer => "password stored for another server",
                        PasswordSource::Unknown => "keyring not available",
                        PasswordSource::Ambient => "your own PGPASSWORD or pass file",
                    }
                    .to_string(),
                );
                println!("{:<12} {}  [{}]", e.name, e.url, tags.join(", "));
            }
            if let Some((old, now)) = p.unread_personal_file() {
                println!(
                    "\n{} holds your own settings for projects with this id, from a Godwit that did not tie them \
                     to a folder; they are not used. If they are this folder's: `mv {} {}`",
                    old.display(),
                    shell_quote(&old.display().to_string()),
                    shell_quote(&now.display().to_string())
                );
            }
            Ok(())
        }
        EnvCmd::Test { name } => {
            let p = project_of(ctx)?;
            let s = ctx.session_of(p.workspace(name.as_deref().or(ctx.cli.env.as_deref()))?)?;
            let probe = ops::test_env(&s, ctx.cli.connect_timeout.map(Duration::from_secs)).await?;
            let w = s.ws;
            let env = w.env.unwrap_or_default();
            println!("{env}: connected to {} {} at {}", probe.dialect.name(), probe.server_version, w.target.display());
            let history = if probe.history_table {
                format!(
                    "{} migration(s) applied{}",
                    probe.applied,
                    if probe.failed > 0 { format!(", {} failed part way", probe.failed) } else { String::new() }
                )
            } else {
                "no history table yet (nothing applied)".to_string()
            };
            println!("  round trip {:.1} ms · {history}", probe.round_trip_ms);
            Ok(())
        }
        EnvCmd::Remove { name } => {
            let mut p = project_of(ctx)?;
            match p.remove_env(name)? {
                project::PasswordRemoval::Removed => {
                    println!("Removed environment `{name}` and its stored password.")
                }
                project::PasswordRemoval::NoneStored => println!("Removed environment `{name}`."),
                project::PasswordRemoval::NotReached(why) => {
                    tracing::info!("the keyring was not reached: {why}");
                    println!(
                        "Removed environment `{name}`. The OS keyring did not answer here: a password stored for it \
                         from another session, if any, stays there."
                    )
                }
            }
            Ok(())
        }
    }
}

/// A password to store: one line from stdin (`--stdin`), else typed without echo after `ask`.
/// An empty one is refused.
pub(super) fn read_password(stdin: bool, ask: &str) -> Result<secrecy::SecretString> {
    let password = if stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| Error::input(format!("cannot read stdin: {e}")))?;
        line.trim_end_matches(['\n', '\r']).to_string()
    } else if std::io::stdin().is_terminal() {
        rpassword::prompt_password(ask).map_err(|e| Error::input(format!("cannot read the password: {e}")))?
    } else {
        return Err(Error::input("no terminal to type the password at: pipe it in with --stdin."));
    };
    if password.is_empty() {
        return Err(Error::input("the password is empty; nothing was stored."));
    }
    Ok(secrecy::SecretString::from(password))
}

pub(super) fn secret_verb(ctx: &Ctx, cmd: &SecretCmd) -> Result<()> {
    let p = project_of(ctx)?;
    match cmd {
        SecretCmd::Set { env, stdin } => {
            let env = env.as_deref().expect("checked before: a name, or --fleet");
            let w = p.workspace(Some(env))?;
            if !w.target.dialect().has_passwords() {
                return Err(Error::input(format!("`{env}` is a SQLite file: it has no password.")));
            }
            let password = read_password(*stdin, &format!("Password for {env} ({}): ", w.target.display()))?;
            w.store_password(&password)?;
            println!("Stored the password of `{env}` in the OS keyring, for {} only.", w.target.binding());
            Ok(())
        }
        SecretCmd::Ambient { env, off } => {
            let path = p.clone().allow_ambient(env, !*off)?;
            match off {
                false => println!(
                    "`{env}` may now use your own PGPASSWORD and pass file when no password is stored for it \
                     (noted in {}).",
                    path.display()
                ),
                true => println!("`{env}` no longer uses your own PGPASSWORD or pass file."),
            }
            Ok(())
        }
        SecretCmd::Remove { env } => {
            p.workspace(Some(env))?;
            if secret::remove(&p.secret_key(env))? {
                println!("Removed the password of `{env}` from the OS keyring.");
            } else {
                println!("No password was stored for `{env}`.");
            }
            Ok(())
        }
    }
}

pub(super) fn placeholder_verb(ctx: &Ctx, cmd: &PlaceholderCmd) -> Result<()> {
    let mut p = project_of(ctx)?;
    match cmd {
        PlaceholderCmd::Set { env, name, value, secret, stdin } => {
            let value = match (value, secret) {
                (Some(v), _) => NewValue::Text(v.clone()),
                (None, true) => {
                    NewValue::Secret(read_password(*stdin, &format!("Secret value of {name} for {env}: "))?)
                }
                (None, false) => NewValue::Text(read_value(*stdin, &format!("Value of {name} for {env}: "))?),
            };
            let secret = matches!(value, NewValue::Secret(_));
            let path = p.set_placeholder(env, name, value)?;
            match secret {
                true => println!(
                    "Stored {name} of `{env}` in the OS keyring, for {} only ({} says it is secret).",
                    p.workspace(Some(env))?.target.binding(),
                    path.display()
                ),
                false => println!("Set {name} of `{env}` in {}.", path.display()),
            }
            Ok(())
        }
        PlaceholderCmd::Remove { env, name } => {
            match p.remove_placeholder(env, name)? {
                true => println!("`{env}` no longer has placeholder {name}."),
                false => println!("`{env}` has no placeholder {name}."),
            }
            Ok(())
        }
        PlaceholderCmd::List { env, json } => {
            let env = p.env_name(env.as_deref())?;
            let ws = p.workspace(Some(&env))?;
            let list = p.placeholders(&env, &ws.source()?)?;
            if json.json {
                print_json(Some(&ws), "placeholders", &list);
                return Ok(());
            }
            if list.is_empty() {
                println!("`{env}` has no placeholders, and no marked migration file uses one.");
                return Ok(());
            }
            println!("Placeholders of `{env}`:");
            let width = list.iter().map(|i| i.name.len()).max().unwrap_or(0);
            for i in &list {
                let value = match (&i.value, i.secret, i.stored) {
                    (Some(v), ..) => format!("= {v}"),
                    (None, true, Some(true)) => "secret, stored in the OS keyring".into(),
                    (None, true, Some(false)) => "secret, NOT STORED".into(),
                    (None, true, None) => "secret (the OS keyring could not be asked)".into(),
                    (None, false, _) => "NO VALUE".into(),
                };
                let used = match i.used_by.len() {
                    0 => "no marked file uses it".to_string(),
                    _ => format!("used by {}", i.used_by.join(", ")),
                };
                println!("  {:width$}  {value}  ({used})", i.name);
            }
            Ok(())
        }
    }
}

/// A placeholder's value: one line from stdin (`--stdin`), else typed at the terminal.
fn read_value(stdin: bool, ask: &str) -> Result<String> {
    if !stdin && !std::io::stdin().is_terminal() {
        return Err(Error::input(
            "no terminal to type the value at: give it after the name, or pipe it in with --stdin.",
        ));
    }
    if !stdin {
        eprint!("{ask}");
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| Error::input(format!("cannot read stdin: {e}")))?;
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}
