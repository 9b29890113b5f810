//! `/account/signup/`.

use futures_util::future::join_all;

use super::{
    PASSWORD, create_member, location, member_count, post_form, session_cookie, sign_up,
    wait_for_link,
};
use crate::support::TestApp;
use crate::support::mail::wait_for_email;

#[tokio::test]
async fn signup_confirm_login_logout() {
    let app = TestApp::spawn().await;

    let signup = sign_up(&app, &app.client, "Alice_1", "alice@example.org").await;
    assert_eq!(signup.status(), 303);
    assert_eq!(location(&signup), "/account/confirm-email/");
    assert!(
        session_cookie(&signup).is_some(),
        "signup logs the member in"
    );

    let sent_page = app
        .client
        .get(app.url("/account/confirm-email/"))
        .send()
        .await
        .unwrap();
    assert_eq!(sent_page.status(), 200);
    let body = sent_page.text().await.unwrap();
    assert!(body.contains("alice@example.org"), "{body}");
    assert!(body.contains("Please confirm your email address"), "{body}");

    let email = wait_for_email(&app.outbox_dir(), "alice@example.org").await;
    assert!(email.subject.contains("openhumans"), "{}", email.subject);
    assert!(email.from.contains("openhumans"), "{}", email.from);
    assert!(
        email.body.contains("did not create an account"),
        "{}",
        email.body
    );
    let link = wait_for_link(&app, "alice@example.org", "/account/confirm-email/").await;
    assert!(link.starts_with(&app.base), "the link is absolute: {link}");

    let confirmed = app.client.get(&link).send().await.unwrap();
    assert_eq!(confirmed.status(), 200);
    let body = confirmed.text().await.unwrap();
    assert!(body.contains("Email address confirmed"), "{body}");
    assert!(
        !body.contains("Please confirm your email address"),
        "{body}"
    );

    let logout = app
        .client
        .post(app.url("/account/logout/"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 303);
    assert_eq!(location(&logout), "/");
    let after_logout = app
        .client
        .get(app.url("/account/password/change/"))
        .send()
        .await
        .unwrap();
    assert_eq!(after_logout.status(), 303, "the session has ended");

    let login = super::log_in(&app, &app.client, "alice_1", PASSWORD).await;
    assert_eq!(login.status(), 303);
    assert_eq!(location(&login), "/");
    let home = app.client.get(app.url("/")).send().await.unwrap();
    let body = home.text().await.unwrap();
    assert!(body.contains("Alice_1"), "the layout shows the username");
    assert!(!body.contains("Please confirm your email address"));
}

#[tokio::test]
async fn duplicate_username_in_other_case_rejected() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;

    let response = sign_up(&app, &app.client, "ALICE", "other@example.org").await;

    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(body.contains("This username is taken"), "{body}");
    assert!(body.contains("value=\"other@example.org\""), "{body}");
    assert_eq!(member_count(&app).await, 1);
}

#[tokio::test]
async fn duplicate_email_in_other_case_rejected() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;

    let response = sign_up(&app, &app.client, "bob", "Alice@Example.org").await;

    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(
        body.contains("An account with this email address exists"),
        "{body}"
    );
    assert!(body.contains("value=\"bob\""), "{body}");
    assert_eq!(member_count(&app).await, 1);
}

#[tokio::test]
async fn concurrent_signups_create_one_account() {
    let app = TestApp::spawn().await;
    let clients: Vec<_> = (0..8).map(|_| app.new_client()).collect();

    let attempts = clients.iter().enumerate().map(|(n, client)| {
        let app = &app;
        async move {
            let email = format!("racer{n}@example.org");
            let username = if n % 2 == 0 { "racer" } else { "RACER" };
            sign_up(app, client, username, &email).await
        }
    });
    let responses = join_all(attempts).await;

    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|&&s| s == 303).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|&&s| s == 422).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(member_count(&app).await, 1);
}

#[tokio::test]
async fn invalid_usernames_rejected() {
    let app = TestApp::spawn().await;
    let too_long = "a".repeat(31);

    for username in ["with space", "名前です", "al-ice", "ab", too_long.as_str()] {
        let response = sign_up(&app, &app.client, username, "alice@example.org").await;

        assert_eq!(response.status(), 422, "{username}");
        let body = response.text().await.unwrap();
        assert!(body.contains("id=\"username-error\""), "{username}: {body}");
    }
    assert_eq!(member_count(&app).await, 0);
}

#[tokio::test]
async fn invalid_email_rejected() {
    let app = TestApp::spawn().await;
    let too_long = format!("{}@example.org", "a".repeat(250));

    for email in [
        "alice",
        "alice@",
        "alice@localhost",
        "a b@example.org",
        too_long.as_str(),
    ] {
        let response = sign_up(&app, &app.client, "alice", email).await;

        assert_eq!(response.status(), 422, "{email}");
        let body = response.text().await.unwrap();
        assert!(body.contains("id=\"email-error\""), "{email}: {body}");
    }
    assert_eq!(member_count(&app).await, 0);
}

#[tokio::test]
async fn password_mismatch_keeps_typed_values() {
    let app = TestApp::spawn().await;
    let fields = [
        ("username", "alice"),
        ("email", "alice@example.org"),
        ("password", PASSWORD),
        ("password_confirmation", "another long password"),
    ];

    let response = post_form(&app.client, &app.url("/account/signup/"), &fields).await;

    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(body.contains("The two passwords differ"), "{body}");
    assert!(body.contains("value=\"alice\""), "{body}");
    assert!(body.contains("value=\"alice@example.org\""), "{body}");
    assert!(!body.contains(PASSWORD), "passwords are never echoed");
    assert!(
        body.contains("<label for=\"password_confirmation\">"),
        "{body}"
    );
    assert_eq!(member_count(&app).await, 0);
}

#[tokio::test]
async fn short_password_rejected() {
    let app = TestApp::spawn().await;
    let fields = [
        ("username", "alice"),
        ("email", "alice@example.org"),
        ("password", "short"),
        ("password_confirmation", "short"),
    ];

    let response = post_form(&app.client, &app.url("/account/signup/"), &fields).await;

    assert_eq!(response.status(), 422);
    let body = response.text().await.unwrap();
    assert!(body.contains("id=\"password-error\""), "{body}");
    assert_eq!(member_count(&app).await, 0);
}

#[tokio::test]
async fn taken_email_signups_count_toward_limit() {
    let app = TestApp::spawn().await;
    create_member(&app, "alice", "alice@example.org").await;
    for n in 0..10 {
        let client = app.new_client();
        let probe = sign_up(&app, &client, &format!("prober{n}"), "alice@example.org").await;
        assert_eq!(probe.status(), 422, "probe {n}");
    }

    let limited = sign_up(&app, &app.new_client(), "prober10", "alice@example.org").await;

    assert_eq!(limited.status(), 429, "probing for accounts is limited");
}

#[tokio::test]
async fn typo_signups_do_not_count_toward_limit() {
    let app = TestApp::spawn().await;
    for n in 0..12 {
        let client = app.new_client();
        let typo = sign_up(&app, &client, "bad name", &format!("m{n}@example.org")).await;
        assert_eq!(typo.status(), 422, "typo {n}");
    }

    let signup = sign_up(&app, &app.client, "good_name", "good@example.org").await;

    assert_eq!(signup.status(), 303);
}
