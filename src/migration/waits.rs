//! How long a migration's statements may wait for the locks other sessions hold, and how often a
//! migration that could not get one is tried again: what keeps a migration from queueing every
//! query behind it on a busy database. Set per environment (`lock_wait`, `lock_retries`,
//! `statement_timeout`) and per run; a protected environment has a safe default.

use std::time::Duration;

use serde::Serialize;

use crate::error::{Error, Result};

/// What a protected environment waits when nothing is set: a few seconds, then try again later.
const PROTECTED_WAIT: Duration = Duration::from_secs(5);
const PROTECTED_RETRIES: u32 = 3;
/// The pause before the n-th retry doubles from this, up to `MAX_BACKOFF`.
const FIRST_BACKOFF: Duration = Duration::from_secs(1);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The most retries a file or a flag may ask for: beyond, a run would wait for many minutes.
pub const MAX_RETRIES: u32 = 20;

#[derive(ts_rs::TS, Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[ts(export)]
pub struct Waits {
    /// The longest each statement waits for a lock another session holds (PostgreSQL
    /// `lock_timeout`, MySQL/MariaDB `lock_wait_timeout` and `innodb_lock_wait_timeout`, SQLite's
    /// busy timeout). `None`: the server's own (usually for ever).
    #[serde(with = "millis")]
    #[ts(type = "number | null")]
    pub lock_wait: Option<Duration>,
    /// How many times a migration that failed only for want of a lock (it changed nothing) is tried
    /// again, after a pause that doubles each time.
    pub retries: u32,
    /// The longest a statement may run (PostgreSQL `statement_timeout`, MariaDB
    /// `max_statement_time`). `None`: no limit.
    #[serde(with = "millis")]
    #[ts(type = "number | null")]
    pub statement_timeout: Option<Duration>,
}

/// What a file or a flag says, before the environment's defaults fill it in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Asked {
    pub lock_wait: Option<Setting>,
    pub retries: Option<u32>,
    pub statement_timeout: Option<Setting>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// No limit, whatever the default.
    Off,
    Limit(Duration),
}

impl Setting {
    /// `5s`, `500ms`, `2m`, `1h 30m`, or `off`.
    pub fn parse(what: &str, text: &str) -> Result<Setting> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("off") {
            return Ok(Setting::Off);
        }
        match humantime::parse_duration(text) {
            Ok(d) if d.is_zero() => Err(Error::input(format!("{what} `{text}`: to set no limit, write `off`"))),
            // The databases count in milliseconds, where 0 would mean no limit at all.
            Ok(d) if d < Duration::from_millis(1) => {
                Err(Error::input(format!("{what} `{text}` is shorter than the 1ms the databases can count")))
            }
            Ok(d) if d > Duration::from_secs(24 * 3600) => {
                Err(Error::input(format!("{what} `{text}` is longer than a day: write `off` for no limit")))
            }
            Ok(d) => Ok(Setting::Limit(d)),
            Err(e) => {
                Err(Error::input(format!("{what} `{text}` is not a duration ({e}): write it as 5s, 500ms, 2m or off")))
            }
        }
    }
}

impl Asked {
    /// `later` over `self`: a run's flags over the environment's settings.
    pub fn over(self, later: &Asked) -> Asked {
        Asked {
            lock_wait: later.lock_wait.or(self.lock_wait),
            retries: later.retries.or(self.retries),
            statement_timeout: later.statement_timeout.or(self.statement_timeout),
        }
    }

    /// What runs on an environment wait: what was asked, else a protected environment's defaults.
    pub fn resolve(&self, protected: bool) -> Waits {
        let limit = |s: Option<Setting>, default: Option<Duration>| match s {
            Some(Setting::Off) => None,
            Some(Setting::Limit(d)) => Some(d),
            None => default,
        };
        let lock_wait = limit(self.lock_wait, protected.then_some(PROTECTED_WAIT));
        Waits {
            lock_wait,
            // Retrying is for a lock wait that gave up: without a limit nothing gives up.
            retries: match lock_wait {
                Some(_) => self.retries.unwrap_or(if protected { PROTECTED_RETRIES } else { 0 }),
                None => 0,
            },
            statement_timeout: limit(self.statement_timeout, None),
        }
    }
}

impl Waits {
    pub fn is_set(&self) -> bool {
        self.lock_wait.is_some() || self.statement_timeout.is_some()
    }

    /// The pause before retry `n` (1 for the first).
    pub fn backoff(n: u32) -> Duration {
        FIRST_BACKOFF.saturating_mul(1 << n.saturating_sub(1).min(16)).min(MAX_BACKOFF)
    }

    /// In words, for the dry run and the run's first line; `None` when nothing is limited.
    pub fn describe(&self) -> Option<String> {
        let mut parts = Vec::new();
        if let Some(w) = self.lock_wait {
            parts.push(format!("each statement waits at most {} for a lock", short(w)));
            parts.push(match self.retries {
                0 => "a migration that cannot get one is not retried".to_string(),
                n => format!("a migration that cannot get one is retried up to {n} time(s), changing nothing"),
            });
        }
        if let Some(t) = self.statement_timeout {
            parts.push(format!("a statement running longer than {} is stopped", short(t)));
        }
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// `5s`, `1.5s`, `250ms`, `2m`: as a person writes it.
pub fn short(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        _ if ms < 1000 => format!("{ms}ms"),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ => format!("{:.1}s", d.as_secs_f64()),
    }
}

mod millis {
    use std::time::Duration;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_some(&d.map(|d| d.as_millis() as u64))
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        let ms: Option<u64> = serde::Deserialize::deserialize(d)?;
        Ok(ms.map(Duration::from_millis))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_protected_environment_waits_a_few_seconds_unless_told_otherwise() {
        let w = Asked::default().resolve(true);
        assert_eq!(w.lock_wait, Some(PROTECTED_WAIT));
        assert_eq!(w.retries, PROTECTED_RETRIES);
        assert_eq!(Asked::default().resolve(false), Waits::default());
        let off = Asked { lock_wait: Some(Setting::Off), ..Default::default() }.resolve(true);
        assert_eq!((off.lock_wait, off.retries), (None, 0), "no limit: nothing gives up, nothing to retry");
    }

    #[test]
    fn a_run_overrides_the_environment() {
        let env =
            Asked { lock_wait: Some(Setting::Limit(Duration::from_secs(9))), retries: Some(1), ..Default::default() };
        let run = Asked { retries: Some(4), ..Default::default() };
        let w = env.over(&run).resolve(false);
        assert_eq!((w.lock_wait, w.retries), (Some(Duration::from_secs(9)), 4));
    }

    #[test]
    fn durations_are_read_as_people_write_them() {
        assert_eq!(Setting::parse("x", "500ms").unwrap(), Setting::Limit(Duration::from_millis(500)));
        assert_eq!(Setting::parse("x", "2m").unwrap(), Setting::Limit(Duration::from_secs(120)));
        assert_eq!(Setting::parse("x", "OFF").unwrap(), Setting::Off);
        for bad in ["0s", "5", "soon", "2d", "500us"] {
            assert!(Setting::parse("x", bad).is_err(), "{bad}");
        }
        assert_eq!(short(Duration::from_millis(1500)), "1.5s");
        assert_eq!(Waits::backoff(1), Duration::from_secs(1));
        assert_eq!(Waits::backoff(3), Duration::from_secs(4));
        assert_eq!(Waits::backoff(40), MAX_BACKOFF);
    }
}
