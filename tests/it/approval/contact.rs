//! The contact form on a project's public page.

use super::{Review, location};
use crate::support::eventually;
use crate::support::fixtures;
use crate::support::mail::{ReceivedEmail, read_outbox};

async fn contact(
    review: &Review,
    client: &reqwest::Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    client
        .post(review.url(&format!("/activity/{}/contact/", review.slug())))
        .form(fields)
        .send()
        .await
        .unwrap()
}

async fn email_with_subject(review: &Review, subject: &str) -> ReceivedEmail {
    let dir = review.setup.app.outbox_dir();
    eventually(
        std::time::Duration::from_secs(15),
        &format!("an email titled {subject:?}"),
        || async {
            read_outbox(&dir)
                .into_iter()
                .find(|email| email.subject.contains(subject))
        },
    )
    .await
}

async fn project_member_id(review: &Review) -> String {
    crate::oauth2::membership(
        &review.setup.app,
        review.setup.project.id,
        review.setup.member.id,
    )
    .await
    .unwrap()
    .project_member_id
}

#[tokio::test]
async fn reply_to_only_when_shared() {
    let review = Review::new().await;
    review.setup.code(&[]).await;
    let pmid = project_member_id(&review).await;
    let page = review
        .setup
        .browser
        .get(review.url(&format!("/activity/{}/", review.slug())))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("contact-form"),
        "a member sees the form: {page}"
    );
    assert!(
        page.contains("You are a member of this project.")
            && page.contains("href=\"/member/me/connections/\""),
        "a member is told they joined: {page}"
    );
    assert!(!page.contains("id=\"join\""), "no join button for a member");

    let shared = contact(
        &review,
        &review.setup.browser,
        &[
            ("subject", "Shared question"),
            ("message", "When is the next survey?"),
            ("share_email", "true"),
        ],
    )
    .await;
    assert_eq!(shared.status(), 303);
    let private = contact(
        &review,
        &review.setup.browser,
        &[
            ("subject", "Private question"),
            ("message", "Keep me anonymous."),
        ],
    )
    .await;
    assert_eq!(private.status(), 303);

    let shared = email_with_subject(&review, "Shared question").await;
    assert_eq!(shared.to, "lab@example.org");
    assert_eq!(shared.reply_to.as_deref(), Some("ada_l@example.org"));
    assert!(
        shared.body.contains("When is the next survey?"),
        "{}",
        shared.body
    );
    let private = email_with_subject(&review, "Private question").await;
    assert_eq!(private.reply_to, None);
    assert!(private.body.contains(&pmid), "{}", private.body);
    assert!(
        !private.body.contains("ada_l@example.org"),
        "{}",
        private.body
    );
    assert!(
        !private.body.contains("Ada_L"),
        "the username was not shared"
    );
}

#[tokio::test]
async fn non_members_are_refused() {
    let review = Review::new().await;
    let outsider = fixtures::create_member(&review.setup.app, "outsider").await;
    let outsider_client = fixtures::logged_in_client(&review.setup.app, outsider.id).await;
    let page = outsider_client
        .get(review.url(&format!("/activity/{}/", review.slug())))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!page.contains("contact-form"), "{page}");
    assert!(
        page.contains("id=\"join\""),
        "a non-member may join: {page}"
    );
    assert!(!page.contains("You are a member"));

    let refused = contact(&review, &outsider_client, &[("message", "Hello?")]).await;
    assert_eq!(refused.status(), 403);
    let anonymous = contact(
        &review,
        &review.setup.app.new_client(),
        &[("message", "Hi")],
    )
    .await;
    assert_eq!(anonymous.status(), 303);
    assert_eq!(
        location(&anonymous),
        format!("/account/login/?next=%2Factivity%2F{}%2F", review.slug()),
        "after login the member returns to the project's page"
    );

    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (queued,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE kind = 'send_email'")
        .fetch_one(&review.setup.app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(queued, 0);
}

#[tokio::test]
async fn contact_is_validated_and_limited() {
    let review = Review::new().await;
    review.setup.code(&[]).await;

    let empty = contact(&review, &review.setup.browser, &[("message", "  ")]).await;
    assert_eq!(empty.status(), 422);
    assert!(empty.text().await.unwrap().contains("Write a message."));
    let bad_flag = contact(
        &review,
        &review.setup.browser,
        &[("message", "Hi"), ("share_email", "maybe")],
    )
    .await;
    assert_eq!(bad_flag.status(), 400);

    for index in 0..5 {
        let sent = contact(&review, &review.setup.browser, &[("message", "Hello")]).await;
        assert_eq!(sent.status(), 303, "message {index}");
    }
    let limited = contact(&review, &review.setup.browser, &[("message", "Hello")]).await;
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().get("retry-after").is_some());
}
