//! PostgreSQL's schema snapshot: `(kind, name, definition)` for every user object, read from the
//! catalogs. Deparsing (`pg_get_indexdef` and the like) is most of a snapshot's cost, and `verify`
//! takes two snapshots per migration of a schema that changes little between them; so each object
//! of the costly kinds is listed with a key, its OID and the ids of the transactions that last wrote
//! its own catalog rows (a row changed is a row rewritten, with a new one; the index flags `CREATE
//! INDEX CONCURRENTLY` sets in place are added), and only objects whose key the connection has not
//! seen are deparsed, in a second query. What a definition shows of *other* objects is their names:
//! when any object's name changes (or the search path), everything is deparsed again.

use std::collections::HashMap;
use std::sync::LazyLock;

use sqlx::postgres::PgConnection;
use sqlx::postgres::types::Oid;

use crate::error::Result;
use crate::schema::Schema;

/// What the connection's earlier snapshot read: each keyed object's row, and each object's name.
#[derive(Default)]
pub(super) struct Inspected {
    rows: HashMap<String, Object>,
    names: HashMap<String, String>,
}

type Object = (String, String, String);

/// A row of either query: `(key, kind, name, definition)`. The listing gives the key alone for a
/// keyed object (kind `keyed`), a name for each `name` row, and whole rows (no key) for the rest.
type Row = (Option<String>, String, Option<String>, Option<String>);

pub(super) async fn inspect(conn: &mut PgConnection, cache: &mut Inspected) -> Result<Schema> {
    let listed: Vec<Row> = sqlx::query_as(LIST.as_str()).fetch_all(&mut *conn).await?;
    let (mut keys, mut names, mut objects) = (Vec::new(), HashMap::new(), Vec::new());
    for (key, kind, name, definition) in listed {
        match (kind.as_str(), key) {
            ("keyed", Some(key)) => keys.push(key),
            ("name", Some(key)) => {
                names.insert(key, name.unwrap_or_default());
            }
            _ => objects.push((kind, name.unwrap_or_default(), definition.unwrap_or_default())),
        }
    }
    if names.iter().any(|(k, n)| cache.names.get(k).is_some_and(|old| old != n)) {
        cache.rows.clear();
    }
    let unknown: Vec<Oid> = keys.iter().filter(|k| !cache.rows.contains_key(*k)).filter_map(|k| oid(k)).collect();
    let mut fresh: HashMap<String, Object> = HashMap::new();
    if !unknown.is_empty() {
        let rows: Vec<Row> = sqlx::query_as(DEPARSE.as_str()).bind(&unknown).fetch_all(&mut *conn).await?;
        for (key, kind, name, definition) in rows {
            if let Some(key) = key {
                fresh.insert(key, (kind, name.unwrap_or_default(), definition.unwrap_or_default()));
            }
        }
    }
    let mut seen = HashMap::new();
    for key in keys {
        if let Some(row) = fresh.remove(&key).or_else(|| cache.rows.remove(&key)) {
            objects.push(row.clone());
            seen.insert(key, row);
        }
    }
    // An object changed between the two queries: as the second read it.
    objects.extend(fresh.into_values());
    cache.rows = seen;
    cache.names = names;
    Ok(Schema::from_rows(objects))
}

/// The OID in a key (`r16390:...`).
fn oid(key: &str) -> Option<Oid> {
    key.get(1..)?.split(':').next()?.parse().ok().map(Oid)
}

/// The namespaces of user objects: not the system's, not an extension's own. Each part also asks
/// for OIDs from 16384 (`FirstNormalObjectId`: what initdb made is below it), which lets the server
/// read the catalogs by their OID indexes instead of scanning thousands of built-in rows.
const USER: &str = "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%'";

/// The dependencies that leave an object out (an extension's own, a serial column's sequence), read
/// once per query: a hashed lookup in each part, whatever plan the catalogs' statistics suggest.
const DEPS: &str = "WITH deps AS MATERIALIZED (SELECT classid, objid, deptype FROM pg_depend \
     WHERE objid >= 16384 AND deptype IN ('a', 'i', 'e'))";

/// How an object's name reads: bare in the current schema, qualified elsewhere.
macro_rules! qualified {
    ($schema:expr, $name:expr) => {
        concat!("CASE WHEN ", $schema, " = current_schema() THEN '' ELSE ", $schema, " || '.' END || ", $name)
    };
}

/// Kinds with few objects, cheap to state: read in full each time. Objects an extension owns,
/// Godwit's and sqlx's tables, and what follows from others (the index behind a constraint, a
/// serial or identity column's sequence) are left out, here and below.
const WHOLE: [&str; 5] = [
    "SELECT NULL, 'extension', extname::text, extname || ' ' || extversion FROM pg_extension WHERE extname <> 'plpgsql'",
    "SELECT NULL, 'schema', n.nspname::text, n.nspname::text FROM pg_namespace n WHERE {USER} AND n.nspname <> 'public' \
     AND n.oid NOT IN (SELECT objid FROM deps WHERE classid = 'pg_namespace'::regclass AND deptype = 'e')",
    concat!(
        "SELECT NULL, 'type', ",
        qualified!("n.nspname", "t.typname"),
        ", coalesce(CASE t.typtype WHEN 'e' THEN 'enum (' || coalesce((SELECT string_agg(quote_literal(e.enumlabel), ', ' ORDER BY \
         e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = t.oid), '') || ')' WHEN 'd' THEN 'domain ' || \
         format_type(t.typbasetype, t.typtypmod) || CASE WHEN t.typnotnull THEN ' NOT NULL' ELSE '' END || \
         coalesce(' DEFAULT ' || t.typdefault, '') ELSE 'composite (' || coalesce((SELECT string_agg(a.attname || ' ' || \
         format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = \
         t.typrelid AND a.attnum > 0 AND NOT a.attisdropped), '') || ')' END, '') \
         FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid >= 16384 AND {USER} AND (t.typtype IN ('e', 'd') OR \
         (t.typtype = 'c' AND (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')) \
         AND t.oid NOT IN (SELECT objid FROM deps WHERE classid = 'pg_type'::regclass AND deptype = 'e')"
    ),
    concat!(
        "SELECT NULL, 'sequence', ",
        qualified!("s.schemaname", "s.sequencename"),
        ", s.data_type::text || ' start ' || s.start_value || ' increment ' || s.increment_by || ' min ' || \
         s.min_value || ' max ' || s.max_value || CASE WHEN s.cycle THEN ' cycle' ELSE '' END \
         FROM pg_sequences s JOIN pg_namespace n ON n.nspname = s.schemaname JOIN pg_class c ON c.relname = \
         s.sequencename AND c.relnamespace = n.oid WHERE c.oid >= 16384 AND {USER} AND c.oid NOT IN (SELECT objid FROM deps \
         WHERE classid = 'pg_class'::regclass)"
    ),
    concat!(
        "SELECT NULL, 'constraint', ",
        qualified!("n.nspname", "t.typname"),
        " || ' ' || pg_get_constraintdef(k.oid), pg_get_constraintdef(k.oid) \
         FROM pg_constraint k JOIN pg_type t ON t.oid = k.contypid JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE k.oid >= 16384 AND k.contypid <> 0 AND {USER}"
    ),
];

/// A kind whose objects are keyed: `inner` lists each one's `oid`, `key` and what its name is made
/// of, `oid` names the column it is read by, and `outer` deparses the rows of `{INNER}` into
/// `(key, kind, name, definition)`.
struct Keyed {
    inner: &'static str,
    oid: &'static str,
    outer: &'static str,
}

const KEYED: [Keyed; 6] = [
    // A table's key covers its own row, its partition key, and its columns with their defaults.
    Keyed {
        inner: concat!(
            "SELECT c.oid, c.relkind, ",
            qualified!("n.nspname", "c.relname"),
            " AS name, 'r' || c.oid || ':' || c.xmin || ':' || coalesce((SELECT p.xmin::text FROM pg_partitioned_table p \
             WHERE p.partrelid = c.oid), '') || ':' || coalesce((SELECT string_agg(a.xmin || '.' || \
             coalesce(ad.xmin::text, ''), ',' ORDER BY a.attnum) FROM pg_attribute a LEFT JOIN pg_attrdef ad ON \
             ad.adrelid = a.attrelid AND ad.adnum = a.attnum WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT \
             a.attisdropped), '') AS key \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p') AND {USER} AND c.relname NOT IN ('_sqlx_migrations', '_godwit_log') \
             AND c.oid NOT IN (SELECT objid FROM deps WHERE classid = 'pg_class'::regclass AND deptype = 'e')"
        ),
        oid: "c.oid",
        outer: "SELECT key, 'table', name, coalesce((SELECT string_agg(a.attname || ' ' || \
             format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END || \
             coalesce(' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid), '') || CASE a.attidentity WHEN 'a' THEN \
             ' GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END || \
             CASE WHEN a.attgenerated = 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') STORED' \
             ELSE '' END || coalesce(' COLLATE ' || nullif(co.collname, 'default'), ''), E'\\n' ORDER BY a.attnum) \
             FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
             LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0 \
             WHERE a.attrelid = s.oid AND a.attnum > 0 AND NOT a.attisdropped), '') || \
             CASE WHEN s.relkind = 'p' THEN E'\\nPARTITION BY ' || pg_get_partkeydef(s.oid) ELSE '' END FROM {INNER} s",
    },
    // A constraint is named by its definition (the server's generated names are noise); OFFSET 0
    // keeps the planner from deparsing it twice.
    Keyed {
        inner: concat!(
            "SELECT k.oid, ",
            qualified!("n.nspname", "t.relname"),
            " AS prefix, 'k' || k.oid || ':' || k.xmin AS key \
             FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE k.oid >= 16384 AND {USER} AND k.contype IN ('p', 'u', 'c', 'f', 'x') \
             AND t.relname NOT IN ('_sqlx_migrations', '_godwit_log')"
        ),
        oid: "k.oid",
        outer: "SELECT key, 'constraint', prefix || ' ' || def, def FROM (SELECT key, prefix, \
             pg_get_constraintdef(oid) AS def FROM {INNER} s OFFSET 0) d",
    },
    Keyed {
        inner: concat!(
            "SELECT i.oid, ",
            qualified!("n.nspname", "i.relname"),
            " AS name, 'i' || i.oid || ':' || x.xmin || ':' || i.xmin || ':' || x.indisvalid || x.indisready || \
             x.indislive AS key \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = i.relnamespace WHERE x.indexrelid >= 16384 AND {USER} \
             AND t.relname NOT IN ('_sqlx_migrations', '_godwit_log') \
             AND x.indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE contype IN ('p', 'u', 'x'))"
        ),
        oid: "x.indexrelid",
        outer: "SELECT key, 'index', name, coalesce(regexp_replace(pg_get_indexdef(oid), \
             ' ON ' || quote_ident(current_schema()) || '\\.', ' ON '), pg_get_indexdef(oid)) FROM {INNER} s",
    },
    Keyed {
        inner: concat!(
            "SELECT c.oid, c.relkind, ",
            qualified!("n.nspname", "c.relname"),
            " AS name, 'v' || c.oid || ':' || c.xmin || ':' || coalesce((SELECT string_agg(r.xmin::text, ',') \
             FROM pg_rewrite r WHERE r.ev_class = c.oid), '') AS key \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid >= 16384 AND c.relkind IN ('v', 'm') AND {USER} \
             AND c.oid NOT IN (SELECT objid FROM deps WHERE classid = 'pg_class'::regclass AND deptype = 'e')"
        ),
        oid: "c.oid",
        outer: "SELECT key, CASE relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END, name, pg_get_viewdef(oid) \
             FROM {INNER} s",
    },
    Keyed {
        inner: concat!(
            "SELECT p.oid, ",
            qualified!("n.nspname", "p.proname"),
            " AS name, 'f' || p.oid || ':' || p.xmin AS key \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE p.oid >= 16384 AND {USER} AND p.prokind IN ('f', 'p') \
             AND p.oid NOT IN (SELECT objid FROM deps WHERE classid = 'pg_proc'::regclass AND deptype = 'e')"
        ),
        oid: "p.oid",
        outer: "SELECT key, 'function', name || '(' || pg_get_function_identity_arguments(oid) || ')', \
             pg_get_functiondef(oid) FROM {INNER} s",
    },
    Keyed {
        inner: concat!(
            "SELECT g.oid, ",
            qualified!("n.nspname", "c.relname"),
            " || '.' || g.tgname AS name, 't' || g.oid || ':' || g.xmin AS key FROM pg_trigger g \
             JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE g.oid >= 16384 AND NOT g.tgisinternal AND {USER}"
        ),
        oid: "g.oid",
        outer: "SELECT key, 'trigger', name, pg_get_triggerdef(oid) FROM {INNER} s",
    },
];

// The names a definition may show of other objects, with the search path that decides how they
// are qualified. Any of them changed: the cached definitions may read stale.
const NAMES: &str = "SELECT 'c' || c.oid, 'name', c.relnamespace || '.' || c.relname || coalesce(':' || (SELECT string_agg(a.attname, \
     ',' ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped), ''), \
     NULL FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid >= 16384 AND {USER} AND c.relkind <> 'i' \
     UNION ALL SELECT 'y' || t.oid, 'name', t.typnamespace || '.' || t.typname, NULL FROM pg_type t \
     JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid >= 16384 AND {USER} AND t.typrelid = 0 \
     UNION ALL SELECT 'p' || p.oid, 'name', p.pronamespace || '.' || p.proname, NULL FROM pg_proc p \
     JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.oid >= 16384 AND {USER} \
     UNION ALL SELECT 'n' || n.oid, 'name', n.nspname, NULL FROM pg_namespace n \
     UNION ALL SELECT 'o' || o.oid, 'name', o.collnamespace || '.' || o.collname, NULL FROM pg_collation o \
     JOIN pg_namespace n ON n.oid = o.collnamespace WHERE o.oid >= 16384 AND {USER} \
     UNION ALL SELECT 'path', 'name', current_schema() || ' ' || current_setting('search_path'), NULL";

/// Every object: whole rows of the cheap kinds, the key of each keyed one, and the names.
static LIST: LazyLock<String> = LazyLock::new(|| {
    let parts = WHOLE
        .iter()
        .map(|p| p.to_string())
        .chain(KEYED.iter().map(|k| format!("SELECT key, 'keyed', NULL, NULL FROM ({}) s", k.inner)))
        .chain([NAMES.to_string()]);
    union(parts)
});

/// The keyed objects whose OIDs are `$1`, deparsed. Each is looked up by its OID, one at a time:
/// a new scratch database's catalog statistics are those of an empty one, and a join the planner
/// would choose from them can scan a whole catalog once per object.
static DEPARSE: LazyLock<String> = LazyLock::new(|| {
    union(KEYED.iter().map(|k| {
        let only =
            format!("(SELECT s.* FROM unnest($1::oid[]) AS u(oid), LATERAL ({} AND {} = u.oid) s)", k.inner, k.oid);
        k.outer.replace("{INNER}", &only)
    }))
});

fn union(parts: impl Iterator<Item = String>) -> String {
    let parts: Vec<String> = parts.map(|p| format!("({})", p.replace("{USER}", USER))).collect();
    format!("{DEPS}\n{}", parts.join("\nUNION ALL\n"))
}
