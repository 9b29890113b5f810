//! A rate limit across two `openhumans serve` processes: the in-process pairs of
//! `limits` share a clock, but these instances share only the database.

use openhumans::clock::{MINUTE, SECOND};

use super::{Cluster, cluster_postgres_url};
use crate::limits::retry_after;
use crate::support::fixtures::PASSWORD;

async fn log_in(cluster: &Cluster, n: usize, password: &str) -> reqwest::Response {
    crate::support::browser_client()
        .post(cluster.at(n).url("/account/login/"))
        .form(&[("login", "alice"), ("password", password)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn failed_logins_limited_across_processes() {
    let Some(postgres) = cluster_postgres_url() else {
        return;
    };
    let cluster = Cluster::start(&postgres, 300).await;
    cluster.create_member("alice");
    for n in 0..10 {
        let response = log_in(&cluster, n, "wrong password").await;
        assert_eq!(response.status(), 422, "failed login {n}");
    }

    let limited = log_in(&cluster, 10, PASSWORD).await;

    retry_after(&limited, 15 * 60);
    // The processes' clocks cannot be moved, so the failures are moved back in time.
    sqlx::query("UPDATE rate_events SET at = at - $1")
        .bind(15 * MINUTE + SECOND)
        .execute(&cluster.db.pool)
        .await
        .unwrap();
    let later = log_in(&cluster, 11, PASSWORD).await;
    assert_eq!(later.status(), 303, "the window moved on");
}
