//! `godwit init`: a folder made a project.

use super::*;

/// `godwit init`: writes `godwit.toml` in `root`, adopting an existing migrations folder. In an sqlx
/// project whose sqlx.toml names the folder, that stays the one place that says it. Inside another
/// project's folder it is refused unless the person named `root` on purpose (`named`): a second
/// project there is more often a mistaken folder than a wish.
pub fn init(root: &Path, asked: Option<&str>, named: bool, dev_url: Option<&str>) -> Result<Created> {
    let path = root.join(CONFIG_FILE);
    // The `dev` environment: a SQLite file beside godwit.toml, or the database the person named.
    let dev = dev_url.unwrap_or(DEV_URL);
    let target = crate::db::Target::parse(dev, root)?;
    if target.has_password() {
        return Err(Error::input(
            "the URL holds a password, and godwit.toml is committed: give the URL without it, then store the \
             password in the OS keyring for `dev`. Nothing was written.",
        )
        .with_remedy(crate::error::Remedy::SetPassword { env: "dev".into() }));
    }
    if path.exists() {
        return Err(Error::input(format!(
            "{} already exists; this folder is already a Godwit project.",
            path.display()
        )));
    }
    // `root` has no godwit.toml: what `find` finds is a parent's (only from the person's own folders).
    let absolute = std::path::absolute(root).unwrap_or_else(|_| root.to_path_buf());
    if !named && let Some(enclosing) = Project::find(&absolute).ok().flatten() {
        return Err(Error::input(format!(
            "{} is inside the Godwit project in {}; nothing was written. Run Godwit from there, or name this \
             folder to make a second project inside it.",
            root.display(),
            enclosing.root.display()
        ))
        .with_remedy(crate::error::Remedy::NestedProject {
            root: absolute.display().to_string(),
            migrations: asked.map(str::to_string),
        }));
    }
    let sqlx = sqlx_config::in_folder(root)?;
    let theirs = sqlx.as_ref().and_then(|c| c.migrations_dir.clone().map(|d| (c.path.clone(), d)));
    let migrations = match (asked, &theirs) {
        (Some(ours), Some((file, theirs))) if !sqlx_config::same_folder(ours, theirs) => {
            return Err(Error::input(format!(
                "{} says the migrations are in `{theirs}`, not `{ours}`: sqlx-cli and Godwit would apply different \
                 folders. Let the project use `{theirs}` (its sqlx.toml says so for both tools). Nothing was written.",
                file.display()
            )));
        }
        (Some(ours), _) => ours.to_string(),
        (None, Some((_, theirs))) => theirs.clone(),
        (None, None) => "migrations".into(),
    };
    inside(root, &migrations).map_err(|why| Error::input(format!("the migrations folder `{migrations}` {why}")))?;
    let dir = root.join(&migrations);
    let (adopted, problems) = match dir.is_dir() {
        true => {
            let s = Source::load_with(&dir, &sqlx_config::checksums(sqlx.as_ref()))?;
            (s.migrations.len(), s.problems.len())
        }
        false => (0, 0),
    };
    fs::create_dir_all(&dir).map_err(|e| Error::io("cannot create", &dir, &e))?;
    let name: String = root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "project".into())
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '-' })
        .collect();
    let id = format!("{name}-{:08x}", rand_u32());
    // The folder's name is quoted as TOML: whatever it holds stays a string.
    let folder = match theirs {
        Some(_) => "# The migrations folder, the history table and checksums: as sqlx.toml says.\n".to_string(),
        None => format!("migrations = {}\n", toml_edit::Value::from(migrations.as_str())),
    };
    let text = format!(
        "# Godwit project settings. Commit this file; never put a password in it.\n\
         # `id` names this project's passwords in each person's OS keyring.\nid = \"{id}\"\n\
         {folder}\n[env.dev]\nurl = {}\n",
        toml_edit::Value::from(dev)
    );
    fs::write(&path, text).map_err(|e| Error::io("cannot write", &path, &e))?;
    let ignored = dev == DEV_URL && ignore_db(root, "dev", "dev.db");
    Ok(Created { config: path, migrations, adopted, problems, ignored, dev: target.display() })
}

/// The `dev` environment `init` makes unless told another database.
const DEV_URL: &str = "sqlite://dev.db";

/// A local environment's SQLite file inside the project (`env` its name), kept out of git:
/// committed, switching branches would swap the database under its history. Lines added to
/// `.gitignore` (made if missing); nothing when it already ignores it or is not a plain file (a link
/// could point anywhere). The file, as `.gitignore` names it, when it added it.
pub fn ignore_local_db(root: &Path, env: &str, target: &crate::db::Target) -> Option<String> {
    let file = target.local_file()?;
    let root = root.canonicalize().ok()?;
    let file = file.parent()?.canonicalize().ok()?.join(file.file_name()?);
    let rel = file.strip_prefix(&root).ok()?;
    let rel: Vec<String> = rel
        .components()
        .map(|c| match c {
            std::path::Component::Normal(n) => n.to_str().map(str::to_string),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let rel = rel.join("/");
    ignore_db(&root, env, &rel).then_some(rel)
}

fn ignore_db(root: &Path, env: &str, rel: &str) -> bool {
    let path = root.join(".gitignore");
    let text = match fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_file() => fs::read_to_string(&path).unwrap_or_default(),
        Ok(_) => return false,
        Err(_) => String::new(),
    };
    let has = |l: &str| {
        let l = l.trim().trim_start_matches('/');
        l == rel || l == format!("{rel}*") || (l == "*.db" && rel.ends_with(".db") && !rel.contains('/'))
    };
    // A name with a glob character or a newline is not written as a pattern.
    if text.lines().any(has) || rel.contains(['*', '?', '[', '\\', '\n', '!', '#']) {
        return false;
    }
    let sep = if text.is_empty() || text.ends_with('\n') { "" } else { "\n" };
    let lines = format!("# The local SQLite database of the `{env}` environment (godwit)\n/{rel}\n/{rel}-*\n");
    fs::write(&path, format!("{text}{sep}{lines}")).is_ok()
}

/// A project made by `init`.
pub struct Created {
    pub config: PathBuf,
    /// The migrations folder, relative to the project.
    pub migrations: String,
    /// Migrations already in the folder.
    pub adopted: usize,
    /// Files in the folder that are not usable as they are (`check` lists them).
    pub problems: usize,
    /// `.gitignore` was given the `dev` database's file.
    pub ignored: bool,
    /// The `dev` environment's database, as shown (never with a password).
    pub dev: String,
}

/// Enough randomness for a project id, without a dependency: time and process, hashed.
fn rand_u32() -> u32 {
    use sha2::Digest;
    let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
    let h = sha2::Sha256::digest(seed.as_bytes());
    u32::from_le_bytes([h[0], h[1], h[2], h[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn init_keeps_the_dev_database_out_of_git() {
        let d = tempfile::tempdir().unwrap();
        assert!(init(d.path(), None, false, None).unwrap().ignored);
        let text = fs::read_to_string(d.path().join(".gitignore")).unwrap();
        assert!(text.lines().any(|l| l == "/dev.db") && text.lines().any(|l| l == "/dev.db-*"), "{text}");

        // A .gitignore of the project's own is added to, after its last line, once.
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(".gitignore"), "target").unwrap();
        init(d.path(), None, false, None).unwrap();
        let text = fs::read_to_string(d.path().join(".gitignore")).unwrap();
        assert!(text.starts_with("target\n# ") && text.ends_with("/dev.db-*\n"), "{text}");
        assert!(!ignore_db(d.path(), "dev", "dev.db"), "already there");

        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join(".gitignore"), "*.db\n").unwrap();
        assert!(!init(d.path(), None, false, None).unwrap().ignored);
        assert_eq!(fs::read_to_string(d.path().join(".gitignore")).unwrap(), "*.db\n");
    }

    #[test]
    fn other_local_databases_are_kept_out_of_git_too() {
        let d = tempfile::tempdir().unwrap();
        fs::create_dir(d.path().join("data")).unwrap();
        let at = |url: &str| crate::db::Target::parse(url, d.path()).unwrap();
        assert_eq!(ignore_local_db(d.path(), "local", &at("sqlite://data/local.db")).as_deref(), Some("data/local.db"));
        assert_eq!(ignore_local_db(d.path(), "local", &at("sqlite://data/local.db")), None, "once");
        let text = fs::read_to_string(d.path().join(".gitignore")).unwrap();
        assert!(text.lines().any(|l| l == "/data/local.db") && text.lines().any(|l| l == "/data/local.db-*"), "{text}");
        let outside = tempfile::tempdir().unwrap();
        let elsewhere = format!("sqlite://{}/x.db", outside.path().display());
        for url in [elsewhere.as_str(), "sqlite::memory:", "sqlite://../x.db", "postgres://u@h/db"] {
            assert_eq!(ignore_local_db(d.path(), "x", &at(url)), None, "{url}");
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_gitignore_that_is_a_link_is_not_written_through() {
        let d = tempfile::tempdir().unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::os::unix::fs::symlink(outside.path(), d.path().join(".gitignore")).unwrap();
        assert!(!init(d.path(), None, false, None).unwrap().ignored);
        assert_eq!(fs::read(outside.path()).unwrap(), b"");
    }
}
