//! Failed logins, signups, password-reset emails and contact-form messages, each
//! limited across two instances.

use openhumans::clock::{HOUR, MINUTE, SECOND};

use super::{Pair, retry_after};
use crate::accounts::password_reset::request_reset;
use crate::accounts::{PASSWORD, create_member, log_in, member_count, post_form, sign_up};
use crate::oauth2::Setup;

const LOGIN_WINDOW_SECONDS: u64 = 15 * 60;
const HOUR_SECONDS: u64 = 3600;

#[tokio::test]
async fn failed_logins_per_account() {
    let pair = Pair::start(|_| {}).await;
    create_member(&pair.apps[0], "alice", "alice@example.org").await;
    for n in 0..10 {
        let app = pair.at(n);
        let response = log_in(app, &app.new_client(), "alice", "wrong password").await;
        assert_eq!(response.status(), 422, "failed login {n}");
    }

    let app = pair.at(10);
    let limited = log_in(app, &app.new_client(), "alice", PASSWORD).await;

    retry_after(&limited, LOGIN_WINDOW_SECONDS);
    let body = limited.text().await.unwrap();
    assert!(body.contains("too many failed logins"), "{body}");
    pair.clock.advance(15 * MINUTE + SECOND);
    let app = pair.at(11);
    let later = log_in(app, &app.new_client(), "alice", PASSWORD).await;
    assert_eq!(later.status(), 303, "the window moved on");
}

#[tokio::test]
async fn failed_logins_per_address() {
    let pair = Pair::start(|_| {}).await;
    create_member(&pair.apps[0], "alice", "alice@example.org").await;
    for n in 0..20 {
        let app = pair.at(n);
        let login = format!("nobody{n}");
        let response = log_in(app, &app.new_client(), &login, "wrong password").await;
        assert_eq!(response.status(), 422, "failed login {n}");
    }

    let app = pair.at(20);
    let limited = log_in(app, &app.new_client(), "alice", PASSWORD).await;

    retry_after(&limited, LOGIN_WINDOW_SECONDS);
    pair.clock.advance(15 * MINUTE + SECOND);
    let app = pair.at(21);
    let later = log_in(app, &app.new_client(), "alice", PASSWORD).await;
    assert_eq!(later.status(), 303, "the window moved on");
}

#[tokio::test]
async fn burst_of_failed_logins_counts_exactly() {
    let pair = Pair::start(|_| {}).await;
    let member_id = create_member(&pair.apps[0], "alice", "alice@example.org").await;

    let guesses = (0..50).map(|n| {
        let app = pair.at(n);
        let client = app.new_client();
        let url = app.url("/account/login/");
        async move {
            let fields = [("login", "alice"), ("password", "wrong password")];
            let response = client.post(url).form(&fields).send().await.unwrap();
            response.status().as_u16()
        }
    });
    let statuses = futures_util::future::join_all(guesses).await;

    let checked = statuses.iter().filter(|&&status| status == 422).count();
    let limited = statuses.iter().filter(|&&status| status == 429).count();
    assert_eq!(checked, 10, "passwords checked: {statuses:?}");
    assert_eq!(limited, 40, "requests limited: {statuses:?}");
    let bucket = format!("login-failure:member:{member_id}");
    let (events,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM rate_events WHERE bucket = $1")
        .bind(&bucket)
        .fetch_one(&pair.apps[1].state.db.pool)
        .await
        .unwrap();
    assert_eq!(events, 10, "failed logins recorded for the account");
}

#[tokio::test]
async fn signups_per_address() {
    let pair = Pair::start(|_| {}).await;
    for n in 0..10 {
        let app = pair.at(n);
        let response = sign_up(
            app,
            &app.new_client(),
            &format!("member{n}"),
            &format!("m{n}@example.org"),
        )
        .await;
        assert_eq!(response.status(), 303, "signup {n}");
    }

    let app = pair.at(10);
    let limited = sign_up(app, &app.new_client(), "member10", "m10@example.org").await;

    retry_after(&limited, HOUR_SECONDS);
    let body = limited.text().await.unwrap();
    assert!(body.contains("Too many signups"), "{body}");
    assert_eq!(member_count(&pair.apps[0]).await, 10);
    pair.clock.advance(HOUR + SECOND);
    let app = pair.at(11);
    let later = sign_up(app, &app.new_client(), "member10", "m10@example.org").await;
    assert_eq!(later.status(), 303, "the window moved on");
    assert_eq!(member_count(&pair.apps[1]).await, 11);
}

#[tokio::test]
async fn reset_emails_per_account() {
    let pair = Pair::start(|_| {}).await;
    create_member(&pair.apps[0], "alice", "alice@example.org").await;
    for n in 0..5 {
        let response = request_reset(pair.at(n), "alice@example.org").await;
        assert_eq!(response.status(), 200, "reset request {n}");
    }

    let limited = request_reset(pair.at(5), "ALICE@example.org").await;

    retry_after(&limited, HOUR_SECONDS);
    pair.clock.advance(HOUR + SECOND);
    let later = request_reset(pair.at(6), "alice@example.org").await;
    assert_eq!(later.status(), 200, "the window moved on");
}

#[tokio::test]
async fn contact_messages_per_member() {
    let Pair {
        apps: [first, second],
        clock,
        database: _database,
    } = Pair::start(|settings| settings.contacts_per_member_per_hour = 3).await;
    let setup = Setup::on(first, |_| {}).await;
    setup.code(&[]).await;
    let apps = [&setup.app, &second];
    let contact = |n: usize| {
        let url = apps[n % 2].url(&format!("/activity/{}/contact/", setup.project.slug));
        let browser = setup.browser.clone();
        async move {
            let fields = [("message", "Hello")];
            post_form(&browser, &url, &fields).await
        }
    };
    for n in 0..3 {
        assert_eq!(contact(n).await.status(), 303, "message {n}");
    }

    let limited = contact(3).await;

    retry_after(&limited, HOUR_SECONDS);
    clock.advance(HOUR + SECOND);
    assert_eq!(contact(4).await.status(), 303, "the window moved on");
}
