//! A schema in words every database shares, for comparing two databases of different kinds: each
//! object says what it does, not how its database spells it. `integer`, `int(11)` and `INTEGER`
//! are one type; a default loses its casts (`'open'::character varying` is `'open'`); a primary or
//! unique key is a constraint everywhere (MariaDB states both as indexes, SQLite a primary key on its
//! columns); an index is named by its table and columns (the names are each database's own habit);
//! a collation or engine that is the table's default is left out; a view is its query, without
//! quotes, casts, qualifiers and redundant brackets. What stays different behaves differently.

use std::collections::BTreeMap;

use super::{Object, ObjectKind, Schema};
use crate::syntax::Dialect;

/// The portable schema, and for each of its objects the definitions it was read from (`kind name:
/// definition`), to show what was merely spelt differently.
pub struct Portable {
    pub schema: Schema,
    pub sources: BTreeMap<(ObjectKind, String), Vec<String>>,
}

/// `schema` (as `dialect` states it) in shared words.
pub fn portable(schema: &Schema, dialect: Dialect) -> Portable {
    let mut out: Vec<(Object, String)> = Vec::new();
    let source = |o: &Object| format!("{} {}: {}", o.kind.as_str(), o.name, o.definition.replace('\n', "; "));
    // Foreign keys' columns by table: MariaDB adds an index for each, which does nothing else.
    let mut fk_columns: Vec<(String, String)> = Vec::new();
    let mut json_checks: Vec<(String, String)> = Vec::new();
    for o in schema.objects.iter().filter(|o| o.kind == ObjectKind::Constraint) {
        let (table, def) = split_table(&o.name);
        let c = canonical(def);
        if let Some(rest) = c.strip_prefix("foreign key(") {
            fk_columns.push((table.to_string(), rest.split(')').next().unwrap_or_default().to_string()));
        }
        // MariaDB's JSON is longtext with a check that it is JSON.
        if dialect == Dialect::MySql
            && let Some(col) = c.strip_prefix("check json_valid(").and_then(|r| r.strip_suffix(')'))
        {
            json_checks.push((table.to_string(), col.to_string()));
        }
    }
    for o in &schema.objects {
        match o.kind {
            ObjectKind::Table => {
                let (table, pk) = table(&o.name, &o.definition, dialect, &json_checks);
                out.push((table, source(o)));
                if let Some(pk) = pk {
                    out.push((pk, source(o)));
                }
            }
            ObjectKind::Constraint => {
                let (table, def) = split_table(&o.name);
                let c = canonical(def);
                if json_checks.iter().any(|(t, col)| t == table && c == format!("check json_valid({col})")) {
                    continue;
                }
                out.push((constraint(table, &c), source(o)));
            }
            ObjectKind::Index => {
                if let Some(p) = index(o, dialect, &fk_columns) {
                    out.push((p, source(o)));
                }
            }
            ObjectKind::View | ObjectKind::MaterializedView => {
                let def = Object { kind: o.kind, name: bare(&o.name), definition: query(&o.definition) };
                out.push((def, source(o)));
            }
            _ => out.push((o.clone(), source(o))),
        }
    }
    let mut sources: BTreeMap<(ObjectKind, String), Vec<String>> = BTreeMap::new();
    for (o, s) in &out {
        sources.entry((o.kind, o.name.clone())).or_default().push(s.clone());
    }
    Portable { schema: Schema::from_objects(out.into_iter().map(|(o, _)| o)), sources }
}

/// `table rest` of a constraint's name.
fn split_table(name: &str) -> (&str, &str) {
    name.split_once(' ').unwrap_or((name, ""))
}

/// A name without its schema (`public.todos` is `todos`): the other database has none.
fn bare(name: &str) -> String {
    name.rsplit('.').next().unwrap_or(name).to_string()
}

fn constraint(table: &str, canonical_def: &str) -> Object {
    // A foreign key's default actions, however each database words them.
    let mut def = canonical_def.to_string();
    for default_action in [" on delete restrict", " on delete no action", " on update restrict", " on update no action"]
    {
        def = def.replace(default_action, "");
    }
    Object { kind: ObjectKind::Constraint, name: format!("{} {def}", bare(table)), definition: def }
}

/// One column as its database states it.
#[derive(Debug, Default)]
struct Column {
    name: String,
    ty: String,
    not_null: bool,
    default: Option<String>,
    auto_increment: bool,
    generated: Option<String>,
    collate: Option<String>,
    /// SQLite's primary key position.
    key: Option<u32>,
}

/// A table's portable object, and its primary key as a constraint where the table's own lines
/// state it (SQLite).
fn table(name: &str, definition: &str, d: Dialect, json: &[(String, String)]) -> (Object, Option<Object>) {
    let name = bare(name);
    let mut columns: Vec<Column> = Vec::new();
    let mut table_collation = None;
    let mut options = Vec::new();
    for line in definition.lines() {
        if let Some(rest) = line.strip_prefix("ENGINE=") {
            // `ENGINE=InnoDB COLLATE=…`: InnoDB is the default; another engine behaves differently.
            let (engine, collation) = rest.split_once(" COLLATE=").unwrap_or((rest, ""));
            table_collation = Some(collation.to_string());
            if !engine.eq_ignore_ascii_case("innodb") && !engine.is_empty() {
                options.push(format!("engine {}", engine.to_lowercase()));
            }
            continue;
        }
        if matches!(line, "STRICT" | "WITHOUT ROWID") || line.starts_with("PARTITION BY ") {
            // SQLite's storage and typing choices; a partitioning is PostgreSQL's layout.
            if line.starts_with("PARTITION BY ") {
                options.push(canonical(line));
            }
            continue;
        }
        // SQLite's collation lines: `column COLLATE name`.
        if let Some((col, coll)) = line.split_once(" COLLATE ")
            && !col.contains(' ')
            && let Some(c) = columns.iter_mut().find(|c| c.name == col)
        {
            c.collate = Some(coll.to_lowercase());
            continue;
        }
        columns.push(column(line, d));
    }
    for c in &mut columns {
        if json.iter().any(|(t, col)| *t == name && *col == c.name) {
            c.ty = "json".into();
        }
        if c.collate.is_some() && c.collate == table_collation.as_ref().map(|s| s.to_lowercase()) {
            c.collate = None;
        }
    }
    let mut keyed: Vec<&Column> = columns.iter().filter(|c| c.key.is_some()).collect();
    keyed.sort_by_key(|c| c.key);
    let pk = (!keyed.is_empty()).then(|| {
        let cols: Vec<&str> = keyed.iter().map(|c| c.name.as_str()).collect();
        constraint(&name, &canonical(&format!("primary key ({})", cols.join(", "))))
    });
    let mut lines: Vec<String> = columns
        .iter()
        .map(|c| {
            let mut l = format!("{} {}", c.name, c.ty);
            // A primary key's columns are NOT NULL everywhere (SQLite alone lets them be null, by an
            // old mistake it keeps).
            if c.not_null || c.key.is_some() {
                l.push_str(" not null");
            }
            if let Some(dflt) = &c.default {
                l.push_str(&format!(" default {dflt}"));
            }
            if c.auto_increment {
                l.push_str(" auto increment");
            }
            if let Some(g) = &c.generated {
                l.push_str(&format!(" generated ({g})"));
            }
            if let Some(coll) = &c.collate {
                l.push_str(&format!(" collate {coll}"));
            }
            l
        })
        .collect();
    lines.extend(options);
    (Object { kind: ObjectKind::Table, name, definition: lines.join("\n") }, pk)
}

/// Splits a column line at the words that follow its type, as each database's inspection writes it.
fn column(line: &str, d: Dialect) -> Column {
    let (name, rest) = line.split_once(' ').unwrap_or((line, ""));
    let mut c = Column { name: name.to_string(), ..Default::default() };
    // The clauses, each from its keyword to the next, outside quotes and brackets; the longest
    // first, so `GENERATED BY DEFAULT AS IDENTITY` is not read as a `DEFAULT`. MySQL's EXTRA
    // (`auto_increment`, `on update …`, `VIRTUAL GENERATED`) rides among them.
    let mut marks = [
        " NOT NULL",
        " DEFAULT ",
        " PRIMARY KEY",
        " GENERATED ALWAYS AS IDENTITY",
        " GENERATED BY DEFAULT AS IDENTITY",
        " GENERATED ALWAYS AS (",
        " GENERATED VIRTUAL",
        " GENERATED STORED",
        " VIRTUAL GENERATED",
        " STORED GENERATED",
        " AS (",
        " COLLATE ",
        " auto_increment",
        " on update ",
    ];
    marks.sort_by_key(|m| std::cmp::Reverse(m.len()));
    let text = format!(" {rest}");
    let mut cuts: Vec<(usize, &str)> = Vec::new();
    for m in marks {
        if let Some(at) = find_outside_quotes(&text, m)
            && !cuts.iter().any(|(a, other)| at < a + other.len() && *a < at + m.len())
        {
            cuts.push((at, m));
        }
    }
    cuts.sort();
    let first = cuts.first().map_or(text.len(), |(a, _)| *a);
    c.ty = portable_type(text[..first].trim(), d);
    for (i, (at, mark)) in cuts.iter().enumerate() {
        let end = cuts.get(i + 1).map_or(text.len(), |(a, _)| *a);
        let value = text[at + mark.len()..end].trim();
        match *mark {
            " NOT NULL" => c.not_null = true,
            " DEFAULT " => c.default = default(value, &c.ty),
            // `PRIMARY KEY`, or `PRIMARY KEY (key column 2)` for a key of several columns.
            " PRIMARY KEY" => {
                c.key = Some(value.trim_start_matches("(key column ").trim_end_matches(')').parse().unwrap_or(1))
            }
            " GENERATED ALWAYS AS IDENTITY" | " GENERATED BY DEFAULT AS IDENTITY" | " auto_increment" => {
                c.auto_increment = true
            }
            " GENERATED ALWAYS AS (" | " AS (" => {
                let expr = value.trim_end_matches(" STORED");
                c.generated = Some(canonical(expr.strip_suffix(')').unwrap_or(expr)))
            }
            // SQLite states that a column is generated, not from what.
            " GENERATED VIRTUAL" | " GENERATED STORED" => c.generated = Some("expression not stated".into()),
            " COLLATE " => c.collate = Some(value.to_lowercase()),
            " on update " => c.generated = c.generated.take().or(Some(format!("on update {}", canonical(value)))),
            _ => {}
        }
    }
    // MariaDB states a generated column's default (NULL) too.
    if c.generated.is_some() {
        c.default = None;
    }
    // PostgreSQL's serial: a default from a sequence.
    if c.default.as_deref().is_some_and(|dflt| dflt.starts_with("nextval(")) {
        c.default = None;
        c.auto_increment = true;
    }
    c
}

fn find_outside_quotes(text: &str, needle: &str) -> Option<usize> {
    let (mut quote, mut depth) = (None, 0i32);
    for (i, ch) in text.char_indices() {
        match (quote, ch) {
            (None, '\'' | '"' | '`') => quote = Some(ch),
            (Some(q), _) if ch == q => quote = None,
            (None, _) if depth == 0 && text[i..].starts_with(needle) => return Some(i),
            (None, '(') => depth += 1,
            (None, ')') => depth -= 1,
            _ => {}
        }
    }
    None
}

/// A type in shared words.
fn portable_type(raw: &str, d: Dialect) -> String {
    let t = raw.to_lowercase();
    let t = t.trim();
    // `timestamp(3) with time zone`: the size is the brackets, the name what is around them.
    let (base, args) = match (t.find('('), t.find(')')) {
        (Some(i), Some(j)) if j > i => {
            let base = format!("{} {}", t[..i].trim(), t[j + 1..].trim());
            (base.trim().to_string(), t[i..=j].replace(' ', ""))
        }
        _ => (t.to_string(), String::new()),
    };
    let base = base.as_str();
    let unsigned = base.contains(" unsigned");
    let base = base.trim_end_matches(" zerofill").trim_end_matches(" unsigned");
    let args = args.to_string();
    let named = match base {
        "int" | "integer" | "int4" | "mediumint" | "serial" => "integer".to_string(),
        "bigint" | "int8" | "bigserial" => "bigint".into(),
        "smallint" | "int2" | "smallserial" => "smallint".into(),
        "tinyint" if args == "(1)" => "boolean".into(),
        "bool" | "boolean" => "boolean".into(),
        "character varying" | "varchar" | "nvarchar" | "varchar2" if !args.is_empty() => format!("varchar{args}"),
        "character varying" | "varchar" | "text" | "longtext" | "mediumtext" | "tinytext" | "clob" => "text".into(),
        "character" | "char" | "bpchar" | "nchar" => format!("char{}", if args.is_empty() { "(1)" } else { &args }),
        "numeric" | "decimal" => format!("decimal{args}"),
        "real" | "float4" if d == Dialect::Sqlite => "double".into(),
        "real" | "float4" => "real".into(),
        "float" if d == Dialect::MySql && args.is_empty() => "real".into(),
        "float" | "double" | "double precision" | "float8" => "double".into(),
        "timestamp" | "timestamp without time zone" | "datetime" => format!("timestamp{args}"),
        "timestamp with time zone" | "timestamptz" => format!("timestamptz{args}"),
        "time" | "time without time zone" => format!("time{args}"),
        "date" => "date".into(),
        "bytea" | "blob" | "longblob" | "mediumblob" | "tinyblob" => "blob".into(),
        "json" | "jsonb" => "json".into(),
        "uuid" => "uuid".into(),
        other => format!("{other}{args}"),
    };
    // Only integers keep the word: an integer's display width is no type.
    match (unsigned, named.as_str()) {
        (true, "integer" | "bigint" | "smallint") => format!("{named} unsigned"),
        _ => named,
    }
}

/// A default in shared words; none for `NULL` (a column's default anyway).
fn default(raw: &str, ty: &str) -> Option<String> {
    let mut c = canonical(raw);
    // A number as PostgreSQL states it for a numeric column (`'-1'::integer`), and a negative one
    // as a number, not an operator.
    let numeric =
        ["integer", "bigint", "smallint", "tinyint", "decimal", "real", "double"].iter().any(|t| ty.starts_with(t));
    if numeric
        && let Some(inner) = c.strip_prefix('\'').and_then(|x| x.strip_suffix('\''))
        && inner.parse::<f64>().is_ok()
    {
        c = canonical(inner);
    }
    if let Some(n) = c.strip_prefix("- ").filter(|n| n.parse::<f64>().is_ok()) {
        c = format!("-{n}");
    }
    match c.as_str() {
        "null" => None,
        "1" | "true" | "'1'" | "'t'" if ty == "boolean" => Some("true".into()),
        "0" | "false" | "'0'" | "'f'" if ty == "boolean" => Some("false".into()),
        _ => Some(c),
    }
}

/// An index named by its table and columns; a unique one (or MariaDB's PRIMARY) a constraint; none
/// for the index MariaDB adds for a foreign key.
fn index(o: &Object, d: Dialect, fk_columns: &[(String, String)]) -> Option<Object> {
    let c = canonical(&o.definition);
    let (table, unique, method, columns, rest) = match d {
        Dialect::MySql => {
            // `[UNIQUE ]BTREE (columns)`, named `table.index`.
            let (table, name) = o.name.split_once('.').unwrap_or(("", &o.name));
            let open = c.find('(')?;
            let close = matching(&c, open)?;
            let words: Vec<&str> = c[..open].split_whitespace().collect();
            let columns = c[open..=close].to_string();
            if name == "PRIMARY" {
                return Some(constraint(table, &format!("primary key{columns}")));
            }
            let unique = words.first() == Some(&"unique");
            (table.to_string(), unique, words.last().unwrap_or(&"btree").to_string(), columns, String::new())
        }
        _ => {
            // `CREATE [UNIQUE] INDEX name ON [schema.]table [USING method] (columns) [WHERE …]`.
            let unique = c.starts_with("create unique index");
            let on = c.find(" on ")?;
            let after = &c[on + 4..];
            let table = after.split([' ', '(']).next()?.to_string();
            let open = after.find('(')?;
            let close = matching(after, open)?;
            let between: Vec<&str> = after[table.len()..open].split_whitespace().collect();
            let method = match between.as_slice() {
                ["using", m] => m.to_string(),
                _ => "btree".into(),
            };
            (bare(&table), unique, method, after[open..=close].to_string(), after[close + 1..].trim().to_string())
        }
    };
    let method = if method == "btree" { String::new() } else { format!(" using {method}") };
    if unique && rest.is_empty() && method.is_empty() {
        return Some(constraint(&table, &format!("unique{columns}")));
    }
    let inner = columns.trim_start_matches('(').trim_end_matches(')');
    if d == Dialect::MySql && !unique && fk_columns.iter().any(|(t, cols)| *t == table && cols == inner) {
        return None;
    }
    let kind = if unique { "unique index" } else { "index" };
    let rest = if rest.is_empty() { String::new() } else { format!(" {rest}") };
    // Two indexes on the same columns (one partial, or of another method) stay two.
    Some(Object {
        kind: ObjectKind::Index,
        name: format!("{table} {columns}{method}{rest}"),
        definition: format!("{kind}{method}{columns}{rest}"),
    })
}

/// The byte index of the `)` that closes the `(` at `open`.
fn matching(s: &str, open: usize) -> Option<usize> {
    let mut depth = 0;
    for (i, ch) in s[open..].char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// A view's query in shared words (SQLite keeps the whole `CREATE VIEW`).
fn query(def: &str) -> String {
    let c = canonical(def);
    let c = match c.strip_prefix("create ") {
        Some(rest) => rest.split_once(" as ").map_or(c.clone(), |(_, q)| q.to_string()),
        None => c,
    };
    c.trim_end_matches(';').trim().to_string()
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Punct(String),
}

fn tokens(text: &str) -> Vec<Tok> {
    let b: Vec<char> = text.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let ch = b[i];
        if ch.is_whitespace() {
            i += 1;
        } else if ch == '\'' {
            let mut s = String::from("'");
            i += 1;
            while i < b.len() {
                if b[i] == '\'' && b.get(i + 1) == Some(&'\'') {
                    s.push_str("''");
                    i += 2;
                } else if b[i] == '\'' {
                    i += 1;
                    break;
                } else {
                    s.push(b[i]);
                    i += 1;
                }
            }
            s.push('\'');
            out.push(Tok::Str(s));
        } else if ch == '"' || ch == '`' {
            let mut s = String::new();
            i += 1;
            while i < b.len() && b[i] != ch {
                s.push(b[i]);
                i += 1;
            }
            i += 1;
            out.push(Tok::Word(s.to_lowercase()));
        } else if ch.is_alphanumeric() || ch == '_' || ch == '$' {
            let mut s = String::new();
            while i < b.len()
                && (b[i].is_alphanumeric()
                    || b[i] == '_'
                    || b[i] == '$'
                    || (b[i] == '.'
                        && s.chars().all(|c| c.is_ascii_digit())
                        && b.get(i + 1).is_some_and(char::is_ascii_digit)))
            {
                s.push(b[i]);
                i += 1;
            }
            out.push(Tok::Word(s.to_lowercase()));
        } else {
            let two: String = b[i..(i + 2).min(b.len())].iter().collect();
            let p = if ["::", ">=", "<=", "<>", "!=", "||"].contains(&two.as_str()) { two } else { ch.to_string() };
            i += p.chars().count();
            out.push(Tok::Punct(if p == "!=" { "<>".into() } else { p }));
        }
    }
    out
}

fn is(t: Option<&Tok>, p: &str) -> bool {
    matches!(t, Some(Tok::Punct(x)) if x == p)
}

fn word(t: Option<&Tok>) -> Option<&str> {
    match t {
        Some(Tok::Word(w)) => Some(w),
        _ => None,
    }
}

/// Words after which a bracket opens an expression, not a function's arguments.
const KEYWORDS: [&str; 16] = [
    "where", "and", "or", "not", "on", "check", "when", "then", "else", "having", "select", "as", "in", "by", "from",
    "return",
];

/// Text in shared words: lower case outside strings, no quotes around names, no `::type` casts, no
/// `table.` qualifiers, no `x AS x`, numbers without trailing zeros, `now()` as `current_timestamp`,
/// no brackets that change nothing; one space between tokens, none inside brackets or before commas.
pub fn canonical(text: &str) -> String {
    let mut t = tokens(text);
    // Casts: `::` and the type after it (words, a bracketed size, `[]`).
    let mut i = 0;
    while i < t.len() {
        if is(t.get(i), "::") {
            let mut j = i + 1;
            if word(t.get(j)).is_some() {
                j += 1;
                while word(t.get(j))
                    .is_some_and(|w| ["varying", "precision", "without", "with", "time", "zone"].contains(&w))
                {
                    j += 1;
                }
            }
            if is(t.get(j), "(") {
                while j < t.len() && !is(t.get(j), ")") {
                    j += 1;
                }
                j += 1;
            }
            while is(t.get(j), "[") && is(t.get(j + 1), "]") {
                j += 2;
            }
            t.drain(i..j.min(t.len()));
        } else {
            i += 1;
        }
    }
    // Qualifiers. A schema's (`app.todos.status`, `app.todos` as a table, `app.f(…)`) says what
    // the other servers leave out. A table's says which table: where several are named it is kept,
    // so that `a.id = b.a_id` and `b.id = a.a_id` do not read alike; over one it adds nothing.
    let dotted =
        |t: &[Tok], i: usize| word(t.get(i)).is_some() && is(t.get(i + 1), ".") && word(t.get(i + 2)).is_some();
    let mut i = 0;
    while i + 2 < t.len() {
        let three = dotted(&t, i) && dotted(&t, i + 2);
        let call = dotted(&t, i) && is(t.get(i + 3), "(");
        let mut before = i;
        while before > 0 && is(t.get(before - 1), "(") {
            before -= 1;
        }
        let table = dotted(&t, i) && before > 0 && matches!(word(t.get(before - 1)), Some("from" | "join")) && {
            // Not the FROM of `IS DISTINCT FROM x.y` or `extract(year FROM x.y)`.
            let f = before - 1;
            let distinct = f > 0 && word(t.get(f - 1)) == Some("distinct");
            let mut depth = 0i32;
            let mut call = None;
            for k in (0..f).rev() {
                if is(t.get(k), ")") {
                    depth += 1;
                } else if is(t.get(k), "(") {
                    if depth == 0 {
                        call = k.checked_sub(1).and_then(|p| word(t.get(p)));
                        break;
                    }
                    depth -= 1;
                }
            }
            !distinct && !matches!(call, Some("extract" | "substring" | "trim" | "overlay" | "position"))
        };
        if three || call || table {
            t.drain(i..i + 2);
        } else {
            i += 1;
        }
    }
    let qualifiers: std::collections::BTreeSet<&str> =
        (0..t.len().saturating_sub(2)).filter(|&i| dotted(&t, i)).filter_map(|i| word(t.get(i))).collect();
    if qualifiers.len() < 2 {
        let mut i = 0;
        while i + 2 < t.len() {
            if dotted(&t, i) {
                t.drain(i..i + 2);
            } else {
                i += 1;
            }
        }
    }
    // `x AS x`, as MariaDB states a view's columns.
    let mut i = 0;
    while i + 2 < t.len() {
        if word(t.get(i + 1)) == Some("as") && word(t.get(i)).is_some() && t.get(i) == t.get(i + 2) {
            t.drain(i + 1..i + 3);
        } else {
            i += 1;
        }
    }
    for tok in t.iter_mut() {
        if let Tok::Word(w) = tok
            && w.contains('.')
            && w.chars().all(|c| c.is_ascii_digit() || c == '.')
        {
            *w = w.trim_end_matches('0').trim_end_matches('.').to_string();
        }
    }
    // `now()`, `current_timestamp()`: one word.
    let mut i = 0;
    while i < t.len() {
        if matches!(word(t.get(i)), Some("now" | "current_timestamp" | "localtimestamp"))
            && is(t.get(i + 1), "(")
            && is(t.get(i + 2), ")")
        {
            t[i] = Tok::Word("current_timestamp".into());
            t.drain(i + 1..i + 3);
        }
        i += 1;
    }
    // Brackets that change nothing: around one token, around the whole of what follows a keyword
    // or another bracket, and around a comparison between ANDs and ORs.
    loop {
        let before = t.len();
        let mut i = 0;
        while i < t.len() {
            if is(t.get(i), "(") {
                let close = close_of(&t, i);
                if let Some(close) = close {
                    let prev = if i == 0 { None } else { t.get(i - 1) };
                    let call = word(prev).is_some_and(|w| !KEYWORDS.contains(&w));
                    let next = t.get(close + 1);
                    let bounded_after = next.is_none()
                        || is(next, ")")
                        || is(next, ";")
                        || matches!(word(next), Some("group" | "order" | "limit" | "having" | "union"));
                    let bounded_before = prev.is_none()
                        || is(prev, "(")
                        || matches!(word(prev), Some("where" | "check" | "on" | "having" | "when"));
                    let joined_after = matches!(word(next), Some("and" | "or"));
                    let joined_before = matches!(word(prev), Some("and" | "or"));
                    let single = close == i + 2;
                    // No AND or OR of its own: a comparison, which binds tighter than either.
                    let flat = !t[i + 1..close].iter().enumerate().any(|(k, x)| {
                        matches!(x, Tok::Word(w) if w == "and" || w == "or") && depth(&t[i + 1..i + 1 + k]) == 0
                    });
                    let redundant = (single && !is(prev, "in"))
                        || (bounded_before && bounded_after)
                        || (flat && (bounded_before || joined_before) && (bounded_after || joined_after));
                    if !call && redundant {
                        t.remove(close);
                        t.remove(i);
                        continue;
                    }
                }
            }
            i += 1;
        }
        if t.len() == before {
            break;
        }
    }
    let mut out = String::new();
    for (k, tok) in t.iter().enumerate() {
        let text = match tok {
            Tok::Word(w) => w.as_str(),
            Tok::Str(s) => s.as_str(),
            Tok::Punct(p) => p.as_str(),
        };
        let prev = k.checked_sub(1).and_then(|p| t.get(p));
        let glue = k == 0
            || is(prev, "(")
            || is(Some(tok), ")")
            || is(Some(tok), ",")
            || is(Some(tok), ".")
            || is(prev, ".")
            || (is(Some(tok), "(") && matches!(prev, Some(Tok::Word(w)) if !KEYWORDS.contains(&w.as_str())));
        if !glue {
            out.push(' ');
        }
        out.push_str(text);
    }
    out
}

fn close_of(t: &[Tok], open: usize) -> Option<usize> {
    let mut d = 0;
    for (k, x) in t.iter().enumerate().skip(open) {
        if is(Some(x), "(") {
            d += 1;
        } else if is(Some(x), ")") {
            d -= 1;
            if d == 0 {
                return Some(k);
            }
        }
    }
    None
}

fn depth(t: &[Tok]) -> i32 {
    t.iter()
        .map(|x| {
            if is(Some(x), "(") {
                1
            } else if is(Some(x), ")") {
                -1
            } else {
                0
            }
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expressions_lose_what_each_database_adds() {
        assert_eq!(canonical("CHECK ((priority > 0))"), "check priority > 0");
        assert_eq!(canonical("CHECK (`priority` > 0)"), "check priority > 0");
        assert_eq!(canonical("CHECK (priority>0)"), "check priority > 0");
        assert_eq!(canonical("'open'::character varying"), "'open'");
        assert_eq!(canonical("0.00"), "0");
        assert_eq!(canonical("current_timestamp()"), "current_timestamp");
        let pg =
            canonical("SELECT todos.id,\n todos.title\n FROM todos\n WHERE ((todos.status)::text = 'open'::text);");
        let my = canonical(
            "select `todos`.`id` AS `id`,`todos`.`title` AS `title` from `todos` where `todos`.`status` = 'open'",
        );
        assert_eq!(pg.trim_end_matches(';').trim(), my);
        assert_eq!(my, "select id, title from todos where status = 'open'");
        // A join keeps which table each column is from, and reads alike from each server.
        let pg = canonical(
            "SELECT a.name,\n    b.note\n   FROM (a\n     JOIN b ON ((a.id = b.a_id)))\n  WHERE (b.note IS NOT NULL);",
        );
        let my = canonical(
            "select `gwj`.`a`.`name` AS `name`,`gwj`.`b`.`note` AS `note` from (`gwj`.`a` join `gwj`.`b` \
             on(`gwj`.`a`.`id` = `gwj`.`b`.`a_id`)) where `gwj`.`b`.`note` is not null",
        );
        assert_eq!(pg.trim_end_matches(';').trim(), my);
        assert_eq!(my, "select a.name, b.note from (a join b on a.id = b.a_id) where b.note is not null");
        assert_ne!(
            canonical("SELECT a.name FROM a JOIN b ON b.id = a.a_id"),
            canonical("SELECT a.name FROM a JOIN b ON a.id = b.a_id")
        );
        assert_eq!(canonical("SELECT app.f(x) FROM app.t"), "select f(x) from t");
        assert_ne!(
            canonical("SELECT extract(year FROM a.d) FROM a JOIN b ON a.id = b.id"),
            canonical("SELECT extract(year FROM b.d) FROM a JOIN b ON a.id = b.id")
        );
        // What changes meaning stays.
        assert_eq!(canonical("a * (b + c)"), "a * (b + c)");
        assert_eq!(canonical("WHERE (a = 1 OR b = 2) AND c = 3"), "where (a = 1 or b = 2) and c = 3");
        assert_eq!(canonical("WHERE ((a = 1) AND (b = 2))"), "where a = 1 and b = 2");
        assert_eq!(canonical("lower(name)"), "lower(name)");
        assert_eq!(canonical("'It''s'"), "'It''s'");
    }

    #[test]
    fn types_are_named_alike() {
        for (raw, d, want) in [
            ("integer", Dialect::Postgres, "integer"),
            ("int(11)", Dialect::MySql, "integer"),
            ("INTEGER", Dialect::Sqlite, "integer"),
            ("character varying(200)", Dialect::Postgres, "varchar(200)"),
            ("VARCHAR(200)", Dialect::Sqlite, "varchar(200)"),
            ("tinyint(1)", Dialect::MySql, "boolean"),
            ("tinyint(4)", Dialect::MySql, "tinyint(4)"),
            ("numeric(10,2)", Dialect::Postgres, "decimal(10,2)"),
            ("DECIMAL(10, 2)", Dialect::Sqlite, "decimal(10,2)"),
            ("double precision", Dialect::Postgres, "double"),
            ("REAL", Dialect::Sqlite, "double"),
            ("real", Dialect::Postgres, "real"),
            ("timestamp without time zone", Dialect::Postgres, "timestamp"),
            ("datetime", Dialect::MySql, "timestamp"),
            ("bigint(20) unsigned", Dialect::MySql, "bigint unsigned"),
            ("int(10) unsigned zerofill", Dialect::MySql, "integer unsigned"),
            ("timestamp(3) with time zone", Dialect::Postgres, "timestamptz(3)"),
            ("datetime(3)", Dialect::MySql, "timestamp(3)"),
            ("longtext", Dialect::MySql, "text"),
        ] {
            assert_eq!(portable_type(raw, d), want, "{raw}");
        }
    }

    #[test]
    fn generated_and_identity_columns_read_alike() {
        let pg = column("n integer NOT NULL GENERATED BY DEFAULT AS IDENTITY", Dialect::Postgres);
        assert!(pg.auto_increment && pg.default.is_none(), "{pg:?}");
        let my = column("n int(11) NOT NULL auto_increment", Dialect::MySql);
        assert!(my.auto_increment);
        let pg = column("t integer GENERATED ALWAYS AS ((a + b)) STORED", Dialect::Postgres);
        let my = column("t int(11) DEFAULT NULL STORED GENERATED AS (`a` + `b`)", Dialect::MySql);
        assert_eq!((pg.generated.as_deref(), pg.default.as_deref()), (Some("a + b"), None), "{pg:?}");
        assert_eq!(my.generated.as_deref(), Some("a + b"), "{my:?}");
        let (pg, my) = (
            column("n integer DEFAULT '-1'::integer", Dialect::Postgres),
            column("n int(11) DEFAULT -1", Dialect::MySql),
        );
        assert_eq!((pg.default.as_deref(), my.default.as_deref()), (Some("-1"), Some("-1")));
        let pg = column("p numeric(5,2) DEFAULT 1.50", Dialect::Postgres);
        assert_eq!(pg.default.as_deref(), Some("1.5"));
        let lite = column("t INTEGER GENERATED STORED", Dialect::Sqlite);
        assert!(lite.generated.is_some(), "a generated column is never a plain one: {lite:?}");
        // A clause word inside brackets or quotes is the expression's, not a clause.
        let c = column("c text DEFAULT ('a NOT NULL' || coalesce(x, 'y'))", Dialect::Postgres);
        assert!(!c.not_null && c.default.as_deref().is_some_and(|d| d.contains("'a NOT NULL'")), "{c:?}");
    }

    fn schema(rows: &[(&str, &str, &str)]) -> Schema {
        Schema::from_rows(rows.iter().map(|(k, n, d)| (k.to_string(), n.to_string(), d.to_string())))
    }

    #[test]
    fn the_same_table_on_three_databases_reads_alike() {
        let pg = schema(&[
            (
                "table",
                "todos",
                "id integer NOT NULL\nstatus character varying(20) NOT NULL DEFAULT 'open'::character varying\nowner integer",
            ),
            ("constraint", "todos PRIMARY KEY (id)", "PRIMARY KEY (id)"),
            (
                "constraint",
                "todos FOREIGN KEY (owner) REFERENCES users(id)",
                "FOREIGN KEY (owner) REFERENCES users(id)",
            ),
            ("index", "todos_status_idx", "CREATE INDEX todos_status_idx ON public.todos USING btree (status)"),
        ]);
        let my = schema(&[
            (
                "table",
                "todos",
                "id int(11) NOT NULL\nstatus varchar(20) NOT NULL DEFAULT 'open' COLLATE utf8mb4_general_ci\nowner int(11) DEFAULT NULL\nENGINE=InnoDB COLLATE=utf8mb4_general_ci",
            ),
            (
                "constraint",
                "todos FOREIGN KEY (owner) REFERENCES users (id) ON DELETE RESTRICT ON UPDATE RESTRICT",
                "FOREIGN KEY (owner) REFERENCES users (id) ON DELETE RESTRICT ON UPDATE RESTRICT",
            ),
            ("index", "todos.PRIMARY", "UNIQUE BTREE (id)"),
            ("index", "todos.owner", "BTREE (owner)"),
            ("index", "todos.todos_status_idx", "BTREE (status)"),
        ]);
        let lite = schema(&[
            ("table", "todos", "id INTEGER PRIMARY KEY\nstatus VARCHAR(20) NOT NULL DEFAULT 'open'\nowner INTEGER"),
            (
                "constraint",
                "todos FOREIGN KEY (owner) REFERENCES users (id) ON DELETE NO ACTION ON UPDATE NO ACTION",
                "FOREIGN KEY (owner) REFERENCES users (id) ON DELETE NO ACTION ON UPDATE NO ACTION",
            ),
            ("index", "todos.todos_status_idx", "CREATE INDEX todos_status_idx ON todos (status)"),
        ]);
        let (pg, my, lite) = (
            portable(&pg, Dialect::Postgres).schema,
            portable(&my, Dialect::MySql).schema,
            portable(&lite, Dialect::Sqlite).schema,
        );
        assert_eq!(super::super::diff(&pg, &my), []);
        assert_eq!(super::super::diff(&pg, &lite), []);
    }
}
