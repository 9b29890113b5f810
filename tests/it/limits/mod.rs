//! Abuse limits that hold across instances. Each test runs two apps on one database
//! (a SQLite file or a PostgreSQL database, whichever the pass uses), one data
//! directory and one clock, sends its requests to them in turn, and checks the exact
//! request at which 429 starts, its `Retry-After`, and that the window frees up.
//!
//! The apps run in this process rather than as two `openhumans serve` children
//! because the binary has no way to move its clock. They share nothing in memory:
//! each has its own connection pool, and the limits live in the database. The test in
//! `scale::limits` checks the failed-login limit across two real processes.

mod accounts;
mod messages;
mod oauth2;
mod rate_events;
mod uploads;

use openhumans::clock::Clock;
use openhumans::config::Settings;

use crate::support::{SharedDatabase, TestApp};

/// Two instances of the site on one database, one data directory and one clock.
pub struct Pair {
    pub apps: [TestApp; 2],
    pub clock: Clock,
    pub database: SharedDatabase,
}

impl Pair {
    /// Starts both instances with every setting at its default but those `configure`
    /// changes.
    pub async fn start(configure: fn(&mut Settings)) -> Pair {
        Pair::start_each(|| configure).await
    }

    /// Starts both instances, each with the settings change that `configure` returns.
    pub async fn start_each<F>(mut configure: impl FnMut() -> F) -> Pair
    where
        F: FnOnce(&mut Settings) + Send + 'static,
    {
        let database = SharedDatabase::create().await;
        let clock = Clock::default();
        let mut apps = Vec::with_capacity(2);
        // One after the other, so that only the first applies the migrations.
        for _ in 0..2 {
            let app = TestApp::builder()
                .shared(&database)
                .clock(&clock)
                .with(configure())
                .spawn()
                .await;
            apps.push(app);
        }
        let apps: [TestApp; 2] = apps.try_into().ok().expect("two apps were started");
        Pair {
            apps,
            clock,
            database,
        }
    }

    /// Returns the instance that serves request `n`, so requests alternate.
    pub fn at(&self, n: usize) -> &TestApp {
        &self.apps[n % 2]
    }
}

/// Returns the `Retry-After` of a 429, failing unless it is a whole number of seconds
/// from 1 to `window_seconds`.
pub fn retry_after(response: &reqwest::Response, window_seconds: u64) -> u64 {
    assert_eq!(response.status(), 429, "the request was not limited");
    let value = response
        .headers()
        .get("retry-after")
        .expect("a 429 has Retry-After")
        .to_str()
        .expect("Retry-After is ASCII");
    let seconds: u64 = value
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After {value:?} is not a whole number of seconds"));
    assert!(seconds >= 1, "Retry-After {seconds} is not positive");
    assert!(
        seconds <= window_seconds,
        "Retry-After {seconds} is longer than the {window_seconds}-second window"
    );
    seconds
}
