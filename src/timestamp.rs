//! How a moment is written in JSON, the same for every table and database: RFC 3339 in UTC with
//! milliseconds (`2026-12-03T23:24:34.120Z`). Each database keeps its own precision (SQLite
//! milliseconds, PostgreSQL and MariaDB microseconds); a reader gets one.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serializer;

pub fn millis<S: Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(SecondsFormat::Millis, true))
}

pub fn opt_millis<S: Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => millis(t, s),
        None => s.serialize_none(),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    #[test]
    fn one_precision() {
        let t =
            chrono::Utc.with_ymd_and_hms(2026, 12, 3, 23, 24, 34).unwrap() + chrono::Duration::microseconds(120_456);
        #[derive(serde::Serialize)]
        struct W {
            #[serde(serialize_with = "super::millis")]
            a: chrono::DateTime<chrono::Utc>,
            #[serde(serialize_with = "super::opt_millis")]
            b: Option<chrono::DateTime<chrono::Utc>>,
        }
        let w = W { a: t, b: Some(t - chrono::Duration::microseconds(120_456)) };
        assert_eq!(
            serde_json::to_string(&w).unwrap(),
            r#"{"a":"2026-12-03T23:24:34.120Z","b":"2026-12-03T23:24:34.000Z"}"#
        );
    }
}
