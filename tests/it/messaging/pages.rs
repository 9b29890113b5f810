//! The coordinator's message page with its preview, and the member's list of
//! received messages. Emails go to the development outbox of `.eml` files here.

use openhumans::domain::messaging::email_subject;

use super::{PROJECT_NAME, add_member, api_setup, recipient_count, wait_until_sent};
use crate::api::ApiSetup;
use crate::support::fixtures::{self, logged_in_client};
use crate::support::mail::read_outbox;

fn message_path(api: &ApiSetup) -> String {
    format!(
        "/direct-sharing/projects/oauth2/{}/message/",
        api.setup.project.slug
    )
}

async fn submit(
    api: &ApiSetup,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(api.app().url(&message_path(api)))
        .form(fields)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn coordinator_previews_then_sends() {
    let api = api_setup(|_| {}).await;
    let app = api.app();
    let (second, _) = add_member(app, api.project_id(), "Grace_H").await;
    let coordinator = logged_in_client(app, api.setup.coordinator.id).await;
    let detail = coordinator
        .get(app.url(&format!(
            "/direct-sharing/projects/oauth2/{}/",
            api.setup.project.slug
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        detail.contains(&message_path(&api)),
        "no link on the detail page"
    );
    let form = coordinator
        .get(app.url(&message_path(&api)))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    let fields = [
        ("all_members", "on"),
        ("subject", "Page news"),
        ("message", "Dear {{ PROJECT_MEMBER_ID }}"),
    ];

    let preview = submit(
        &api,
        &coordinator,
        &[&fields[..], &[("action", "preview")]].concat(),
    )
    .await;

    assert_eq!(preview.status(), 200);
    let html = preview.text().await.unwrap();
    assert!(
        html.contains("2 members will receive this message."),
        "{html}"
    );
    let mut ids = [
        api.project_member_id.clone(),
        add_member_pmid(&api, second.id).await,
    ];
    ids.sort();
    assert!(html.contains(&format!("Dear {}", ids[0])), "{html}");
    assert!(html.contains("Send to 2 members"), "{html}");
    assert_eq!(recipient_count(app, api.project_id()).await, 0);

    let sent = submit(
        &api,
        &coordinator,
        &[&fields[..], &[("action", "send")]].concat(),
    )
    .await;

    assert_eq!(sent.status(), 303);
    wait_until_sent(app).await;
    let emails = read_outbox(&app.outbox_dir());
    assert_eq!(emails.len(), 2, "{emails:?}");
    for email in &emails {
        assert_eq!(email.subject, email_subject("openhumans", "Page news"));
        assert_eq!(email.from, format!("{PROJECT_NAME} <noreply@localhost>"));
        assert_eq!(email.reply_to.as_deref(), Some("lab@example.org"));
        assert!(!email.message_id.is_empty());
    }
    assert!(emails.iter().any(|email| email.to.contains(&second.email)));
}

async fn add_member_pmid(api: &ApiSetup, member_id: i64) -> String {
    crate::oauth2::membership(api.app(), api.project_id(), member_id)
        .await
        .unwrap()
        .project_member_id
}

#[tokio::test]
async fn page_names_invalid_input() {
    let api = api_setup(|_| {}).await;
    let coordinator = logged_in_client(api.app(), api.setup.coordinator.id).await;

    let missing = submit(
        &api,
        &coordinator,
        &[("all_members", "on"), ("message", "M")],
    )
    .await;
    assert_eq!(missing.status(), 422);
    assert!(
        missing
            .text()
            .await
            .unwrap()
            .contains("This field is required.")
    );

    let unknown = submit(
        &api,
        &coordinator,
        &[
            ("project_member_ids", "99999999"),
            ("subject", "S"),
            ("message", "M"),
            ("action", "send"),
        ],
    )
    .await;
    assert_eq!(unknown.status(), 422);
    let html = unknown.text().await.unwrap();
    assert!(
        html.contains("not active members of this project: 99999999"),
        "{html}"
    );
    assert_eq!(recipient_count(api.app(), api.project_id()).await, 0);
}

#[tokio::test]
async fn page_enforces_the_daily_limit() {
    let api = api_setup(|settings| settings.messages_per_project_per_day = 1).await;
    add_member(api.app(), api.project_id(), "Grace_H").await;
    let coordinator = logged_in_client(api.app(), api.setup.coordinator.id).await;

    let refused = submit(
        &api,
        &coordinator,
        &[("all_members", "on"), ("subject", "S"), ("message", "M")],
    )
    .await;

    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "86400");
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("at most 1 recipients per day")
    );
}

#[tokio::test]
async fn others_get_404() {
    let api = api_setup(|_| {}).await;
    let app = api.app();
    let admin = fixtures::create_member_with(app, "Site_Admin", true, true).await;
    let fields = [
        ("all_members", "on"),
        ("subject", "S"),
        ("message", "M"),
        ("action", "send"),
    ];

    for client in [
        api.setup.browser.clone(),
        logged_in_client(app, admin.id).await,
    ] {
        let page = client
            .get(app.url(&message_path(&api)))
            .send()
            .await
            .unwrap();
        assert_eq!(page.status(), 404);
        let post = submit(&api, &client, &fields).await;
        assert_eq!(post.status(), 404);
    }
    let anonymous = app
        .new_client()
        .get(app.url(&message_path(&api)))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
    assert_eq!(recipient_count(app, api.project_id()).await, 0);
}

#[tokio::test]
async fn member_sees_only_own_messages() {
    let api = api_setup(|_| {}).await;
    let app = api.app();
    let (outsider, _) = add_member(app, api.project_id(), "Grace_H").await;
    let response = api
        .post(
            "message/",
            &api.master_token,
            &[
                ("subject", "Only for you"),
                ("message", "Your id: {{ PROJECT_MEMBER_ID }}"),
                ("project_member_ids", &api.project_member_id),
            ],
        )
        .await;
    assert_eq!(response.status(), 200);
    wait_until_sent(app).await;

    let page = api
        .setup
        .browser
        .get(app.url("/member/me/messages/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Only for you"), "{html}");
    assert!(
        html.contains(&format!("Your id: {}", api.project_member_id)),
        "{html}"
    );
    assert!(html.contains("From Zürich"), "{html}");

    let other = logged_in_client(app, outsider.id).await;
    let html = other
        .get(app.url("/member/me/messages/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("Only for you"), "{html}");
    assert!(
        html.contains("No project has sent you a message."),
        "{html}"
    );

    let connections = api
        .setup
        .browser
        .get(app.url("/member/me/connections/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(connections.contains("/member/me/messages/"));
    let anonymous = app
        .new_client()
        .get(app.url("/member/me/messages/"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
}
