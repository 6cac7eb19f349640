//! Writing migrations: `new` and `templates`.

use super::*;
use crate::migration::new;

/// What `new` writes: an up/down pair, one irreversible file, a repeatable file, or what the
/// project's sqlx.toml says.
pub(super) enum Shape {
    Default,
    Pair,
    Simple,
    Repeatable,
}

pub(super) fn new_verb(
    ctx: &Ctx,
    name: Option<String>,
    shape: Shape,
    template: Option<&str>,
    params: &[String],
    dialect: Option<&str>,
) -> Result<()> {
    let reversible = match shape {
        Shape::Pair => Some(true),
        Shape::Simple => Some(false),
        Shape::Default | Shape::Repeatable => None,
    };
    let tty = std::io::stdin().is_terminal();
    let name = match name {
        Some(n) => n,
        None if tty => prompt("Migration name (e.g. create_todos_table): ")?,
        None => return Err(Error::input("give the migration a name: `godwit new create_todos_table`")),
    };
    // Without a template, the files are written to be filled in: the command says so.
    let dir = ctx.source_dir()?;
    let simple = reversible == Some(false);
    let mut spec = new::NewMigration {
        name,
        reversible: reversible.unwrap_or_else(|| new::reversible_by_default(&dir, ctx.sqlx.as_ref())),
        // The raw template is such files, with a comment in each.
        allow_empty: template.is_none_or(|t| t == crate::template::RAW),
        // With an sqlx.toml, numbered as `sqlx migrate add` numbers them.
        versioning: ctx.sqlx.as_ref().map(|c| c.versioning),
        ..Default::default()
    };
    if let Some(t) = template {
        let mut values = parse_params(params)?;
        let dir = ctx.templates_dir();
        if values.is_empty() && tty {
            let info = template::list(dir.as_deref())?.into_iter().find(|i| i.name == t);
            for p in info.map(|i| i.params).unwrap_or_default() {
                let help = p.help.as_deref().map(|h| format!(" ({h})")).unwrap_or_default();
                let default =
                    p.default.as_deref().filter(|d| !d.is_empty()).map(|d| format!(" [{d}]")).unwrap_or_default();
                let answer =
                    prompt(&format!("{}{help}{default}: ", if p.label.is_empty() { &p.name } else { &p.label }))?;
                if !answer.is_empty() {
                    values.insert(p.name, answer);
                }
            }
        }
        let rendered = match &ctx.project {
            Some(p) => ops::render_template(p, ctx.dialect(dialect)?, t, &values)?,
            None => template::render(t, &values, ctx.dialect(dialect)?, dir.as_deref())?,
        };
        for w in &rendered.warnings {
            eprintln!("warning: {w}");
        }
        spec.reversible = rendered.down.is_some() && !simple;
        spec.up = rendered.up;
        spec.down = rendered.down.unwrap_or_default();
        spec.no_transaction = rendered.no_transaction;
        spec.own_downs = rendered.own_downs;
    }
    if let Shape::Repeatable = shape {
        let dir = ctx.repeatable_dir()?;
        let path = new::create_repeatable(&dir, &spec.name, &spec.up)?;
        println!("Created {}", path.display());
        println!("`{} up` applies it (after any pending migration), and again each time it changes.", ctx.again);
        return Ok(());
    }
    let files = new::create(&dir, &spec, chrono::Utc::now())?;
    for f in &files {
        println!("Created {}", f.display());
    }
    if !new::has_statement(&spec.up) {
        println!(
            "Write its SQL in {} before `{} up`: an empty migration is recorded as applied and changes nothing.",
            files[0].display(),
            ctx.again
        );
    }
    Ok(())
}

pub(super) fn parse_params(params: &[String]) -> Result<BTreeMap<String, String>> {
    params
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.to_string()))
                .ok_or_else(|| Error::input(format!("--param takes KEY=VALUE, not `{kv}`")))
        })
        .collect()
}

pub(super) fn templates(ctx: &Ctx, json: bool) -> Result<()> {
    let all = template::list(ctx.templates_dir().as_deref())?;
    if json {
        print_json(None, "templates", &all);
        return Ok(());
    }
    for t in &all {
        let origin = match t.origin {
            template::Origin::BuiltIn => "built in",
            template::Origin::Project => "project",
        };
        println!("{} ({origin}): {}", t.name, t.description);
        for p in &t.params {
            let default =
                p.default.as_deref().filter(|d| !d.is_empty()).map(|d| format!(", default {d}")).unwrap_or_default();
            let req = if p.required && p.default.is_none() { ", required" } else { "" };
            let help = p.help.as_deref().map(|h| format!(": {h}")).unwrap_or_default();
            println!("    {:<20} {:?}{default}{req}{help}", p.name, p.kind);
        }
    }
    Ok(())
}
