//! PostgreSQL's schema snapshot: `(kind, name, definition)` for every user object, read from the
//! catalogs. Deparsing (`pg_get_indexdef` and the like) is most of a snapshot's cost, and `verify`
//! takes two snapshots per migration of a schema that changes little between them. So a snapshot
//! first lists, catalog by catalog, each user row's OID and the transaction that last wrote it (a
//! row changed is a row rewritten, with a new one; the index flags `CREATE INDEX CONCURRENTLY` sets
//! in place are added): an object's key is the ids of its own rows. Only objects whose key the
//! connection has not seen are deparsed, in a second query. What a definition shows of *other*
//! objects is their names: when a name changes (or the search path), everything is read again.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::LazyLock;

use sqlx::AssertSqlSafe;
use sqlx::postgres::PgConnection;
use sqlx::postgres::types::Oid;

use crate::db::{Dialect, Tables};
use crate::error::Result;
use crate::schema::{Object, Schema};

/// What the connection's earlier snapshots read, by object: its key, its row (none for what is not
/// a user object: a TOAST table, an extension's function), and the names others may show of it.
#[derive(Default)]
pub(super) struct Inspected {
    objects: HashMap<Id, Read>,
    names: HashMap<String, String>,
}

struct Read {
    key: Key,
    row: Option<Object>,
    names: String,
}

/// A hash of the `(catalog, xmin)` pairs of an object's rows, in no order: any row rewritten, added
/// or removed changes it.
type Key = u128;

/// An object by its catalog (`c` a relation, `k` a constraint, `f` a function, `t` a trigger) and OID.
type Id = (char, u32);

/// A row of the listing: `(tag, kind, name, definition)`. Kind `ids` carries, in `definition`, a
/// catalog's rows as `oid xmin` pairs (`tag` says which catalog), kind `name` one name others may
/// show; the rest are whole objects of the cheap kinds.
type Row = (Option<String>, String, Option<String>, Option<String>);

/// A deparsed object: `(oid, catalog, kind, name, definition, names)`.
type Deparsed = (String, String, String, String, String, String);

/// Constraints' names by table (or domain) and definition, keyed as the schema names them.
pub(super) async fn catalog(conn: &mut PgConnection) -> Result<crate::schema::generate::Catalog> {
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT coalesce(CASE WHEN tn.nspname = current_schema() THEN '' ELSE tn.nspname || '.' END || t.relname, \
         CASE WHEN yn.nspname = current_schema() THEN '' ELSE yn.nspname || '.' END || y.typname), \
         pg_get_constraintdef(c.oid), c.conname::text FROM pg_constraint c \
         JOIN pg_namespace n ON n.oid = c.connamespace \
         LEFT JOIN pg_class t ON t.oid = c.conrelid LEFT JOIN pg_namespace tn ON tn.oid = t.relnamespace \
         LEFT JOIN pg_type y ON y.oid = c.contypid LEFT JOIN pg_namespace yn ON yn.oid = y.typnamespace \
         WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')",
    )
    .fetch_all(&mut *conn)
    .await?;
    Ok(crate::schema::generate::Catalog {
        constraint_names: rows.into_iter().map(|(table, def, name)| ((table, def), name)).collect(),
        statements: Default::default(),
    })
}

/// The schema; with `tables`, also each user table (the event log left out) and whether it has
/// storage, read in the same query.
pub(super) async fn inspect(
    conn: &mut PgConnection,
    history: &Tables,
    cache: &mut Inspected,
    tables: bool,
) -> Result<(Schema, Vec<(String, bool)>)> {
    let list = history.fill(if tables { LIST_WITH_TABLES.as_str() } else { LIST.as_str() }, Dialect::Postgres);
    let listed: Vec<Row> = sqlx::query_as(AssertSqlSafe(list)).fetch_all(&mut *conn).await?;
    let (mut ids, mut names, mut objects, mut stored) = (HashMap::new(), HashMap::new(), Vec::new(), Vec::new());
    for (tag, kind, name, definition) in listed {
        match kind.as_str() {
            "stored" => stored.push((name.unwrap_or_default(), definition.is_some_and(|d| d == "true"))),
            "ids" => {
                ids.insert(tag.unwrap_or_default(), definition.unwrap_or_default());
            }
            "name" => {
                names.insert(tag.unwrap_or_default(), name.unwrap_or_default());
            }
            _ => objects.extend(Object::from_row(&kind, name.unwrap_or_default(), &definition.unwrap_or_default())),
        }
    }
    if names.iter().any(|(k, n)| cache.names.get(k).is_some_and(|old| old != n)) {
        cache.objects.clear();
    }
    let keys = keys(&ids);
    let mut read = deparse(conn, history, &keys, |id, key| cache.objects.get(id).is_none_or(|r| r.key != key)).await?;
    // A relation, column or function renamed: what others show of it may be stale; read them all.
    if read.iter().any(|(id, r)| cache.objects.get(id).is_some_and(|old| renamed(&old.names, &r.names))) {
        cache.objects.clear();
        read = deparse(conn, history, &keys, |_, _| true).await?;
    }
    let mut kept = HashMap::new();
    for (id, key) in keys {
        let known = read.remove(&id).or_else(|| cache.objects.remove(&id).filter(|r| r.key == key));
        // Listed but not deparsed: dropped between the two queries.
        let Some(r) = known else { continue };
        objects.extend(r.row.clone());
        kept.insert(id, Read { key, ..r });
    }
    cache.objects = kept;
    cache.names = names;
    Ok((Schema::from_objects(objects), stored))
}

/// Whether what others may show of an object changed from `old` to `new` (`name` or
/// `name:attnum column,…`): its name, or the name at a column's place (column numbers are never
/// reused). A column only added or only dropped is not shown by any other object's definition
/// (the server refuses to drop one that is, short of dropping that object too), so it leaves the
/// others' definitions as they were.
fn renamed(old: &str, new: &str) -> bool {
    let split = |s: &'_ str| -> (String, Vec<(String, String)>) {
        match s.split_once(':') {
            Some((name, cols)) => (
                name.to_string(),
                cols.split(',')
                    .filter_map(|c| c.split_once(' ').map(|(n, c)| (n.to_string(), c.to_string())))
                    .collect(),
            ),
            None => (s.to_string(), Vec::new()),
        }
    };
    let ((old_name, old_cols), (new_name, new_cols)) = (split(old), split(new));
    old_name != new_name || old_cols.iter().any(|(n, c)| new_cols.iter().any(|(m, d)| m == n && d != c))
}

/// Each object's key, from the listed ids: a relation's own row with its columns, defaults,
/// partition key, index row and rules; a constraint's, function's or trigger's own row.
fn keys(ids: &HashMap<String, String>) -> HashMap<Id, Key> {
    let pairs = |tag: &str| {
        ids.get(tag).map(String::as_str).unwrap_or("").split(',').filter_map(|p| {
            let (oid, xmin) = p.split_once(' ')?;
            Some((oid.parse::<u32>().ok()?, xmin))
        })
    };
    // Two independent 64-bit hashes per row, summed: the sum does not depend on the rows' order.
    let row = |part: &str, xmin: &str| -> Key {
        let half = |seed: u8| {
            let mut h = std::collections::hash_map::DefaultHasher::new();
            (seed, part, xmin).hash(&mut h);
            h.finish() as u128
        };
        (half(0) << 64) | half(1)
    };
    let mut keys: HashMap<Id, Key> = HashMap::new();
    for (oid, xmin) in pairs("c") {
        keys.insert(('c', oid), row("c", xmin));
    }
    for part in ["a", "d", "p", "x", "w"] {
        for (oid, xmin) in pairs(part) {
            if let Some(key) = keys.get_mut(&('c', oid)) {
                *key = key.wrapping_add(row(part, xmin));
            }
        }
    }
    for tag in ["k", "f", "t"] {
        for (oid, xmin) in pairs(tag) {
            keys.insert((tag.chars().next().unwrap_or('k'), oid), row(tag, xmin));
        }
    }
    keys
}

/// Deparses the objects `stale` picks, each catalog's OIDs in their own parameter.
async fn deparse(
    conn: &mut PgConnection,
    history: &Tables,
    keys: &HashMap<Id, Key>,
    stale: impl Fn(&Id, Key) -> bool,
) -> Result<HashMap<Id, Read>> {
    let wanted: Vec<&Id> = keys.iter().filter(|(id, key)| stale(id, **key)).map(|(id, _)| id).collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let of = |tag: char| wanted.iter().filter(|(t, _)| *t == tag).map(|(_, oid)| Oid(*oid)).collect::<Vec<_>>();
    let rows: Vec<Deparsed> = sqlx::query_as(AssertSqlSafe(history.fill(DEPARSE.as_str(), Dialect::Postgres)))
        .bind(of('c'))
        .bind(of('k'))
        .bind(of('f'))
        .bind(of('t'))
        .fetch_all(&mut *conn)
        .await?;
    let mut found: HashMap<Id, Read> = HashMap::new();
    for (oid, tag, kind, name, definition, names) in rows {
        let (Ok(oid), Some(tag)) = (oid.parse::<u32>(), tag.chars().next()) else { continue };
        let key = keys.get(&(tag, oid)).copied().unwrap_or_default();
        found.insert((tag, oid), Read { key, row: Object::from_row(&kind, name, &definition), names });
    }
    // What the deparsing leaves out is not a user object: remembered as such.
    for id in wanted {
        found.entry(*id).or_insert_with(|| Read { key: keys[id], row: None, names: String::new() });
    }
    Ok(found)
}

/// The namespaces of user objects: not the system's, not an extension's own. Each part also asks
/// for OIDs from 16384 (`FirstNormalObjectId`: what initdb made is below it), which lets the server
/// read the catalogs by their OID indexes instead of scanning thousands of built-in rows.
pub(crate) const USER: &str =
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg\\_%'";

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
     AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_namespace'::regclass AND d.objid = n.oid AND d.deptype = 'e')",
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
         AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_type'::regclass AND d.objid = t.oid AND d.deptype = 'e')"
    ),
    concat!(
        "SELECT NULL, 'sequence', ",
        qualified!("n.nspname", "c.relname"),
        ", format_type(s.seqtypid, NULL) || ' start ' || s.seqstart || ' increment ' || s.seqincrement || ' min ' || \
         s.seqmin || ' max ' || s.seqmax || CASE WHEN s.seqcycle THEN ' cycle' ELSE '' END \
         FROM pg_sequence s JOIN pg_class c ON c.oid = s.seqrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE s.seqrelid >= 16384 AND {USER} AND NOT EXISTS (SELECT 1 FROM pg_depend d \
         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i', 'e'))"
    ),
    concat!(
        "SELECT NULL, 'constraint', ",
        qualified!("n.nspname", "t.typname"),
        " || ' ' || pg_get_constraintdef(k.oid), pg_get_constraintdef(k.oid) \
         FROM pg_constraint k JOIN pg_type t ON t.oid = k.contypid JOIN pg_namespace n ON n.oid = t.typnamespace \
         WHERE k.oid >= 16384 AND k.contypid <> 0 AND {USER}"
    ),
];

/// A kind deparsed only when changed: `inner` lists its objects with their `oid` and what their
/// names are made of, `oid` names the column to look one up by, and `outer` deparses the rows of
/// `{INNER}` into `(oid, catalog, kind, name, definition, names)`, where `names` is what other
/// objects' definitions may show of it.
struct Keyed {
    inner: &'static str,
    oid: &'static str,
    /// The parameter with the OIDs wanted: `$1` relations, `$2` constraints, `$3` functions, `$4` triggers.
    param: &'static str,
    outer: &'static str,
}

const KEYED: [Keyed; 6] = [
    Keyed {
        inner: concat!(
            "SELECT c.oid, c.relkind, ",
            qualified!("n.nspname", "c.relname"),
            " AS name \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p') AND {USER} AND c.relname NOT IN ({history_name}, {log_name}) \
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')"
        ),
        oid: "c.oid",
        param: "$1",
        outer: "SELECT oid::text, 'c', 'table', name, coalesce((SELECT string_agg(a.attname || ' ' || \
             format_type(a.atttypid, a.atttypmod) || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END || \
             CASE WHEN a.attgenerated = '' THEN coalesce(' DEFAULT ' || pg_get_expr(ad.adbin, ad.adrelid), '') \
             ELSE '' END || CASE a.attidentity WHEN 'a' THEN \
             ' GENERATED ALWAYS AS IDENTITY' WHEN 'd' THEN ' GENERATED BY DEFAULT AS IDENTITY' ELSE '' END || \
             CASE a.attgenerated WHEN 's' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') STORED' \
             WHEN 'v' THEN ' GENERATED ALWAYS AS (' || pg_get_expr(ad.adbin, ad.adrelid) || ') VIRTUAL' ELSE '' END || coalesce(' COLLATE ' || nullif(co.collname, 'default'), ''), E'\\n' ORDER BY a.attnum) \
             FROM pg_attribute a LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum \
             LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0 \
             WHERE a.attrelid = s.oid AND a.attnum > 0 AND NOT a.attisdropped), '') || \
             CASE WHEN s.relkind = 'p' THEN E'\\nPARTITION BY ' || pg_get_partkeydef(s.oid) ELSE '' END, {RELNAMES} FROM {INNER} s",
    },
    // A constraint is named by its definition (the server's generated names are noise); OFFSET 0
    // keeps the planner from deparsing it twice.
    Keyed {
        inner: concat!(
            "SELECT k.oid, ",
            qualified!("n.nspname", "t.relname"),
            " AS prefix \
             FROM pg_constraint k JOIN pg_class t ON t.oid = k.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace \
             WHERE k.oid >= 16384 AND {USER} AND k.contype IN ('p', 'u', 'c', 'f', 'x') \
             AND t.relname NOT IN ({history_name}, {log_name})"
        ),
        oid: "k.oid",
        param: "$2",
        outer: "SELECT oid::text, 'k', 'constraint', prefix || ' ' || def, def, '' FROM (SELECT oid, prefix, \
             pg_get_constraintdef(oid) AS def FROM {INNER} s OFFSET 0) d",
    },
    Keyed {
        inner: concat!(
            "SELECT i.oid, ",
            qualified!("n.nspname", "i.relname"),
            " AS name \
             FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
             JOIN pg_namespace n ON n.oid = i.relnamespace WHERE x.indexrelid >= 16384 AND {USER} \
             AND t.relname NOT IN ({history_name}, {log_name}) \
             AND x.indexrelid NOT IN (SELECT conindid FROM pg_constraint WHERE contype IN ('p', 'u', 'x'))"
        ),
        oid: "x.indexrelid",
        param: "$1",
        outer: "SELECT oid::text, 'c', 'index', name, coalesce(regexp_replace(pg_get_indexdef(oid), \
             ' ON ' || quote_ident(current_schema()) || '\\.', ' ON '), pg_get_indexdef(oid)), name FROM {INNER} s",
    },
    Keyed {
        inner: concat!(
            "SELECT c.oid, c.relkind, ",
            qualified!("n.nspname", "c.relname"),
            " AS name \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid >= 16384 AND c.relkind IN ('v', 'm') AND {USER} \
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')"
        ),
        oid: "c.oid",
        param: "$1",
        outer: "SELECT oid::text, 'c', CASE relkind WHEN 'm' THEN 'materialized view' ELSE 'view' END, name, \
             pg_get_viewdef(oid), {RELNAMES} FROM {INNER} s",
    },
    Keyed {
        inner: concat!(
            "SELECT p.oid, ",
            qualified!("n.nspname", "p.proname"),
            " AS name, p.pronamespace || '.' || p.proname AS names \
             FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace \
             WHERE p.oid >= 16384 AND {USER} AND p.prokind IN ('f', 'p') \
             AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')"
        ),
        oid: "p.oid",
        param: "$3",
        outer: "SELECT oid::text, 'f', 'function', name || '(' || pg_get_function_identity_arguments(oid) || ')', \
             pg_get_functiondef(oid), names FROM {INNER} s",
    },
    Keyed {
        inner: concat!(
            "SELECT g.oid, ",
            qualified!("n.nspname", "c.relname"),
            " || '.' || g.tgname AS name FROM pg_trigger g \
             JOIN pg_class c ON c.oid = g.tgrelid JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE g.oid >= 16384 AND NOT g.tgisinternal AND {USER}"
        ),
        oid: "g.oid",
        param: "$4",
        outer: "SELECT oid::text, 't', 'trigger', name, pg_get_triggerdef(oid), '' FROM {INNER} s",
    },
];

/// Each catalog's user rows as `oid xmin` pairs, one row per catalog (a relation's columns,
/// defaults, partition key, index row and rules under the relation's OID).
const IDS: &str = "SELECT 'c', 'ids', NULL, string_agg(oid || ' ' || xmin, ',') FROM pg_class \
     WHERE oid >= 16384 AND relkind IN ('r', 'p', 'i', 'I', 'v', 'm') \
     UNION ALL SELECT 'a', 'ids', NULL, string_agg(attrelid || ' ' || xmin, ',') \
     FROM pg_attribute WHERE attrelid >= 16384 AND attnum > 0 \
     UNION ALL SELECT 'd', 'ids', NULL, string_agg(adrelid || ' ' || xmin, ',') FROM pg_attrdef \
     WHERE adrelid >= 16384 \
     UNION ALL SELECT 'p', 'ids', NULL, string_agg(partrelid || ' ' || xmin, ',') FROM pg_partitioned_table \
     WHERE partrelid >= 16384 \
     UNION ALL SELECT 'x', 'ids', NULL, string_agg(indexrelid || ' ' || xmin || indisvalid || indisready || indislive, ',') \
     FROM pg_index WHERE indexrelid >= 16384 \
     UNION ALL SELECT 'w', 'ids', NULL, string_agg(ev_class || ' ' || xmin, ',') FROM pg_rewrite \
     WHERE ev_class >= 16384 \
     UNION ALL SELECT 'k', 'ids', NULL, string_agg(oid || ' ' || xmin, ',') FROM pg_constraint \
     WHERE oid >= 16384 AND conrelid <> 0 \
     UNION ALL SELECT 'f', 'ids', NULL, string_agg(oid || ' ' || xmin, ',') FROM pg_proc WHERE oid >= 16384 \
     UNION ALL SELECT 't', 'ids', NULL, string_agg(oid || ' ' || xmin, ',') FROM pg_trigger \
     WHERE oid >= 16384 AND NOT tgisinternal";

/// The names of the cheap kinds a definition may show (types, sequences, schemas, collations), with
/// the search path that decides how names are qualified.
const NAMES: &str = "SELECT 'y' || t.oid, 'name', t.typnamespace || '.' || t.typname, NULL FROM pg_type t \
     JOIN pg_namespace n ON n.oid = t.typnamespace WHERE t.oid >= 16384 AND {USER} AND t.typrelid = 0 \
     AND t.typcategory <> 'A' \
     UNION ALL SELECT 's' || c.oid, 'name', c.relnamespace || '.' || c.relname, NULL FROM pg_class c \
     WHERE c.oid >= 16384 AND c.relkind = 'S' \
     UNION ALL SELECT 'n' || n.oid, 'name', n.nspname, NULL FROM pg_namespace n \
     UNION ALL SELECT 'o' || o.oid, 'name', o.collnamespace || '.' || o.collname, NULL FROM pg_collation o \
     WHERE o.oid >= 16384 \
     UNION ALL SELECT 'path', 'name', current_schema() || ' ' || current_setting('search_path'), NULL";

/// Whole rows of the cheap kinds, each catalog's ids, and the names.
static LIST: LazyLock<String> = LazyLock::new(|| union(WHOLE.iter().chain([&IDS, &NAMES]).map(|p| p.to_string())));

/// The same, with each table and whether it has storage.
static LIST_WITH_TABLES: LazyLock<String> =
    LazyLock::new(|| union(WHOLE.iter().chain([&IDS, &NAMES, &TABLES]).map(|p| p.to_string())));

/// Each user table by its quoted name, and whether its file holds anything (a partitioned table
/// holds nothing itself but is counted).
const TABLES: &str = "SELECT NULL, 'stored', quote_ident(n.nspname) || '.' || quote_ident(c.relname), \
     (c.relkind = 'p' OR pg_relation_size(c.oid) > 0)::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE c.oid >= 16384 AND c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') \
     AND n.nspname NOT LIKE 'pg\\_%' AND c.relname <> {log_name}";

/// The user tables alone, as [`TABLES`] lists them.
pub(super) async fn tables(conn: &mut PgConnection, history: &Tables) -> Result<Vec<(String, bool)>> {
    let rows: Vec<Row> =
        sqlx::query_as(AssertSqlSafe(history.fill(TABLES, Dialect::Postgres))).fetch_all(&mut *conn).await?;
    Ok(rows
        .into_iter()
        .map(|(_, _, name, stored)| (name.unwrap_or_default(), stored.is_some_and(|s| s == "true")))
        .collect())
}

/// The objects whose OIDs are `$1` to `$4`, deparsed, each catalog read from the OIDs wanted: a new
/// scratch database plans with an empty one's statistics, and a join the planner would choose from
/// them can scan a whole catalog once per object.
static DEPARSE: LazyLock<String> = LazyLock::new(|| {
    union(KEYED.iter().map(|k| {
        let only = format!("({} AND {} = ANY({}::oid[]))", k.inner, k.oid, k.param);
        k.outer.replace("{INNER}", &only).replace("{RELNAMES}", RELNAMES)
    }))
});

/// What others may show of a relation: its name and its columns' names.
const RELNAMES: &str = "name || ':' || coalesce((SELECT string_agg(a.attnum || ' ' || a.attname, ',' ORDER BY a.attnum) \
     FROM pg_attribute a WHERE a.attrelid = s.oid AND a.attnum > 0 AND NOT a.attisdropped), '')";

fn union(parts: impl Iterator<Item = String>) -> String {
    let parts: Vec<String> = parts.map(|p| format!("({})", p.replace("{USER}", USER))).collect();
    parts.join("\nUNION ALL\n")
}

#[cfg(test)]
mod tests {
    use super::renamed;

    #[test]
    fn only_a_name_that_changed_is_a_rename() {
        assert!(!renamed("t:1 a,2 b", "t:1 a,2 b,3 c"), "a column added");
        assert!(!renamed("t:1 a,2 b,3 c", "t:1 a,3 c"), "a column dropped");
        assert!(renamed("t:1 a,2 b", "t:1 a,2 x"), "a column renamed");
        assert!(renamed("t:1 a,2 b", "t:1 b,2 a"), "two columns' names swapped");
        assert!(renamed("t:1 a,2 b", "t:1 b"), "b dropped and a renamed to it");
        assert!(renamed("t:1 a,2 b", "u:1 a,2 b"), "the table renamed");
        assert!(renamed("2200.f", "2200.g"), "a function renamed");
        assert!(!renamed("2200.f", "2200.f"));
    }
}
