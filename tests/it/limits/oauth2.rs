//! Failed client authentications at the token endpoint, limited across two
//! instances, and successful grants, which are never limited.

use openhumans::clock::{MINUTE, SECOND};

use super::{Pair, retry_after};
use crate::oauth2::{Setup, exchange_raw, refresh_raw};
use crate::support::TestApp;

async fn wrong_secret(app: &TestApp, client_id: &str) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/oauth2/token/"))
        .basic_auth(client_id, Some("wrong"))
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .send()
        .await
        .unwrap()
}

async fn rate_event_count(app: &TestApp) -> i64 {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM rate_events")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    count
}

#[tokio::test]
async fn failed_client_authentications_per_client() {
    let Pair {
        apps: [first, second],
        clock,
        database: _database,
    } = Pair::start(|_| {}).await;
    let setup = Setup::on(first, |_| {}).await;
    let apps = [&setup.app, &second];
    let client_id = setup.project.client_id.as_str();
    for n in 0..20 {
        let response = wrong_secret(apps[n % 2], client_id).await;
        assert_eq!(response.status(), 401, "failed authentication {n}");
    }

    let limited = wrong_secret(apps[0], client_id).await;

    retry_after(&limited, 60);
    let code = setup.code(&[]).await;
    let good = exchange_raw(apps[1], &setup.project, &code, None).await;
    assert_eq!(good.status(), 200, "a correct secret is never limited");
    clock.advance(MINUTE + SECOND);
    let later = wrong_secret(apps[1], client_id).await;
    assert_eq!(later.status(), 401, "the window moved on");
}

#[tokio::test]
async fn successful_grants_are_never_counted() {
    let Pair {
        apps: [first, second],
        clock: _,
        database: _database,
    } = Pair::start(|settings| settings.client_auth_failures_per_minute = 1).await;
    let setup = Setup::on(first, |_| {}).await;
    let apps = [&setup.app, &second];
    let (_, mut refresh_token) = setup.tokens().await;

    for n in 0..40 {
        let response = refresh_raw(apps[n % 2], &setup.project, &refresh_token).await;
        assert_eq!(response.status(), 200, "refresh {n}");
        let body: serde_json::Value = response.json().await.unwrap();
        refresh_token = body["refresh_token"].as_str().unwrap().to_string();
    }

    assert_eq!(
        rate_event_count(&second).await,
        0,
        "successful grants recorded rate events"
    );
    let client_id = setup.project.client_id.as_str();
    let failed = wrong_secret(apps[0], client_id).await;
    assert_eq!(
        failed.status(),
        401,
        "the first failure is within the limit"
    );
    let limited = wrong_secret(apps[1], client_id).await;
    retry_after(&limited, 60);
}
