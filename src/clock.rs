//! Time as the rest of the code sees it. Everything that checks an expiry or a rate
//! reads `now` from a [`Clock`], so tests can move time instead of sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};

/// Microseconds since the Unix epoch, UTC: the unit of every timestamp column.
pub type Micros = i64;

pub const SECOND: Micros = 1_000_000;
pub const MINUTE: Micros = 60 * SECOND;
pub const HOUR: Micros = 60 * MINUTE;
pub const DAY: Micros = 24 * HOUR;

/// The system clock plus an offset that only tests change.
#[derive(Clone, Debug, Default)]
pub struct Clock {
    offset: Arc<AtomicI64>,
}

impl Clock {
    pub fn now(&self) -> Micros {
        Utc::now().timestamp_micros() + self.offset.load(Ordering::Relaxed)
    }

    /// Moves this clock (and every clone of it) forward by `by` microseconds.
    pub fn advance(&self, by: Micros) {
        self.offset.fetch_add(by, Ordering::Relaxed);
    }
}

/// Formats a timestamp as ISO 8601 in UTC with microseconds, as the API returns them:
/// `2016-05-19T18:33:10.513837Z`.
pub fn iso8601(at: Micros) -> String {
    to_datetime(at).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Formats a timestamp for people, e.g. `2026-12-04 16:55 UTC`.
pub fn human(at: Micros) -> String {
    to_datetime(at).format("%Y-%m-%d %H:%M UTC").to_string()
}

fn to_datetime(at: Micros) -> DateTime<Utc> {
    Utc.timestamp_micros(at).single().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso8601_has_microseconds_and_z() {
        assert_eq!(
            iso8601(1_463_682_790_513_837),
            "2016-05-19T18:33:10.513837Z"
        );
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000000Z");
    }

    #[test]
    fn advance_moves_every_clone() {
        let clock = Clock::default();
        let copy = clock.clone();
        let before = copy.now();
        clock.advance(HOUR);
        assert!(copy.now() - before >= HOUR);
    }
}
