//! Messages sent through the API and received by a real SMTP server: recipients,
//! headers, bodies, the message permission, member tokens and the daily limit.

use std::time::Duration;

use openhumans::clock::{DAY, SECOND};
use serde_json::Value;

use super::{
    BODY, PROJECT_NAME, add_member, api_setup, deny_messages, emails_to, errors_of, post_message,
    recipient_count, smtp_setup, wait_until_sent,
};

#[tokio::test]
async fn master_token_messages_listed_members() {
    let (api, smtp) = smtp_setup().await;
    let app = api.app();
    let (second, _) = add_member(app, api.project_id(), "Grace_H").await;
    let (third, third_pmid) = add_member(app, api.project_id(), "Alan_T").await;

    let response = post_message(
        &api,
        &api.master_token,
        &[
            ("subject", "Weekly steps"),
            ("message", BODY),
            ("all_members", "False"),
            ("project_member_ids", &api.project_member_id),
            ("project_member_ids", &third_pmid),
        ],
    )
    .await;

    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap(), "success");
    smtp.wait_for_messages(2, Duration::from_secs(20)).await;
    wait_until_sent(app).await;
    let emails = smtp.messages();
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert!(emails_to(&emails, &second.email).is_empty(), "{emails:?}");
    let first = emails_to(&emails, &api.setup.member.email);
    let last = emails_to(&emails, &third.email);
    assert_eq!(first.len(), 1);
    assert_eq!(last.len(), 1);
    let (first, last) = (first[0], last[0]);

    assert_eq!(first.from, format!("{PROJECT_NAME} <noreply@localhost>"));
    assert_eq!(first.reply_to.as_deref(), Some("lab@example.org"));
    assert_eq!(first.subject, "[openhumans project message] Weekly steps");
    let pmid = &api.project_member_id;
    let first_body = first.body.replace("\r\n", "\n");
    assert!(
        first_body.starts_with(&format!(
            "Hello {pmid},\nyour id is {pmid}; {{{{ name }}}} and {{% tag %}} stay as written."
        )),
        "{first_body}"
    );
    assert!(last.body.contains(&format!("your id is {third_pmid};")));
    assert!(!last.body.contains(pmid.as_str()), "{}", last.body);
    assert!(first.body.contains(&format!("\"{PROJECT_NAME}\"")));
    assert!(first.body.contains(&app.url("/member/me/connections/")));
    assert!(first.body.contains("withdraw from the project"));

    let stored: Vec<(String, String)> = sqlx::query_as(
        "SELECT project_member_id, message_id_header FROM message_recipients \
         ORDER BY project_member_id",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    assert_eq!(stored.len(), 2);
    for email in [first, last] {
        let header = stored
            .iter()
            .find(|(id, _)| email.body.contains(id.as_str()))
            .map(|(_, header)| header.trim_matches(['<', '>']).to_string())
            .expect("a stored recipient for the email");
        assert_eq!(email.message_id, header);
    }
    assert_ne!(first.message_id, last.message_id);
}

#[tokio::test]
async fn all_members_skips_members_without_permission() {
    let (api, smtp) = smtp_setup().await;
    let app = api.app();
    let (permitted, _) = add_member(app, api.project_id(), "Grace_H").await;
    let (denied, denied_pmid) = add_member(app, api.project_id(), "Alan_T").await;
    deny_messages(app, &denied_pmid).await;

    let response = post_message(
        &api,
        &api.master_token,
        &[
            ("subject", "News"),
            ("message", "Hi"),
            ("all_members", "True"),
        ],
    )
    .await;

    assert_eq!(response.status(), 200);
    smtp.wait_for_messages(2, Duration::from_secs(20)).await;
    wait_until_sent(app).await;
    let emails = smtp.messages();
    assert_eq!(emails.len(), 2, "{emails:?}");
    assert_eq!(emails_to(&emails, &api.setup.member.email).len(), 1);
    assert_eq!(emails_to(&emails, &permitted.email).len(), 1);
    assert!(emails_to(&emails, &denied.email).is_empty());
}

#[tokio::test]
async fn explicit_member_without_permission_is_named() {
    let (api, smtp) = smtp_setup().await;
    let app = api.app();
    let (_, denied_pmid) = add_member(app, api.project_id(), "Alan_T").await;
    deny_messages(app, &denied_pmid).await;

    let response = post_message(
        &api,
        &api.master_token,
        &[
            ("subject", "News"),
            ("message", "Hi"),
            (
                "project_member_ids",
                &format!("{},{denied_pmid}", api.project_member_id),
            ),
        ],
    )
    .await;

    let errors = errors_of(response).await;
    let message = errors["project_member_ids"][0].as_str().unwrap();
    assert!(message.contains(&denied_pmid), "{message}");
    assert!(message.contains("permission"), "{message}");
    assert!(!message.contains(&api.project_member_id), "{message}");
    assert_eq!(recipient_count(app, api.project_id()).await, 0);
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn member_token_messages_own_member() {
    let (api, smtp) = smtp_setup().await;
    let app = api.app();
    let (other, other_pmid) = add_member(app, api.project_id(), "Grace_H").await;

    // ohapi sends only subject and message with a member token; ids are ignored.
    let response = post_message(
        &api,
        &api.access_token,
        &[
            ("subject", "Your results"),
            ("message", "Member {{ PROJECT_MEMBER_ID }}"),
            ("project_member_ids", &other_pmid),
        ],
    )
    .await;

    assert_eq!(response.status(), 200);
    smtp.wait_for_messages(1, Duration::from_secs(20)).await;
    wait_until_sent(app).await;
    let emails = smtp.messages();
    assert_eq!(emails.len(), 1);
    assert!(emails[0].to.contains(&api.setup.member.email));
    assert!(
        emails[0]
            .body
            .starts_with(&format!("Member {}", api.project_member_id))
    );
    assert!(emails_to(&emails, &other.email).is_empty());
}

#[tokio::test]
async fn member_token_without_permission_is_named() {
    let (api, smtp) = smtp_setup().await;
    deny_messages(api.app(), &api.project_member_id).await;

    let response = post_message(
        &api,
        &api.access_token,
        &[("subject", "Your results"), ("message", "Hello")],
    )
    .await;

    let errors = errors_of(response).await;
    let message = errors["project_member_ids"][0].as_str().unwrap();
    assert!(message.contains(&api.project_member_id), "{message}");
    assert_eq!(recipient_count(api.app(), api.project_id()).await, 0);
    assert!(smtp.messages().is_empty());
}

#[tokio::test]
async fn daily_limit_answers_429() {
    let api = api_setup(|settings| settings.messages_per_project_per_day = 2).await;
    let app = api.app();
    let (_, second_pmid) = add_member(app, api.project_id(), "Grace_H").await;
    let both = format!("{} {second_pmid}", api.project_member_id);
    let send = |ids: String| {
        let api = &api;
        async move {
            post_message(
                api,
                &api.master_token,
                &[
                    ("subject", "S"),
                    ("message", "M"),
                    ("project_member_ids", ids.as_str()),
                ],
            )
            .await
        }
    };

    assert_eq!(send(both.clone()).await.status(), 200);
    app.clock().advance(3600 * SECOND);
    let refused = send(api.project_member_id.clone()).await;

    assert_eq!(refused.status(), 429);
    let retry_after: i64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    // The test clock keeps running, so a slow machine can take a few seconds off.
    assert!(
        (23 * 3600 - 10..=23 * 3600).contains(&retry_after),
        "{retry_after}"
    );
    let body: Value = refused.json().await.unwrap();
    let detail = body["detail"].as_str().unwrap();
    assert!(detail.contains("at most 2 recipients per day"), "{detail}");
    assert_eq!(recipient_count(app, api.project_id()).await, 2);

    // A day after the first message the quota is free again. The master token has
    // expired by then, so the project gets a new one.
    app.clock().advance(DAY - 3600 * SECOND + SECOND);
    let token = crate::api::master_token(app, api.project_id()).await;
    let fields = [
        ("subject", "S"),
        ("message", "M"),
        ("project_member_ids", both.as_str()),
    ];
    assert_eq!(post_message(&api, &token, &fields).await.status(), 200);
    assert_eq!(recipient_count(app, api.project_id()).await, 4);
}

#[tokio::test]
async fn request_over_whole_limit_is_refused_whole() {
    let api = api_setup(|settings| settings.messages_per_project_per_day = 1).await;
    let app = api.app();
    add_member(app, api.project_id(), "Grace_H").await;

    let refused = post_message(
        &api,
        &api.master_token,
        &[("subject", "S"), ("message", "M"), ("all_members", "true")],
    )
    .await;

    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "86400");
    assert_eq!(recipient_count(app, api.project_id()).await, 0);
}
