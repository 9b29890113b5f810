//! The member cap following approval, and closing a project to new members.

use super::{Review, location};
use crate::oauth2::{consent, make_active_member, query_param};
use crate::projects::{multipart, set, valid_fields};
use crate::support::fixtures;

/// Fills the project with `count` active members besides the setup's member.
async fn fill(review: &Review, count: usize) {
    for index in 0..count {
        let member = fixtures::create_member(&review.setup.app, &format!("filler{index}")).await;
        make_active_member(&review.setup.app, review.setup.project.id, member.id).await;
    }
}

/// Checks whether a new member may authorize the project now: 303 with a code, or
/// the refusal page.
async fn new_member_admitted(review: &Review, username: &str) -> bool {
    let member = fixtures::create_member(&review.setup.app, username).await;
    let browser = fixtures::logged_in_client(&review.setup.app, member.id).await;
    let response = browser
        .get(review.setup.authorize_url(&[]))
        .send()
        .await
        .unwrap();
    match response.status().as_u16() {
        200 => {
            let target = consent(&browser, &review.setup.authorize_url(&[])).await;
            query_param(&target, "code").is_some()
        }
        403 => false,
        other => panic!("unexpected status {other} for {username}"),
    }
}

#[tokio::test]
async fn cap_lifts_on_approval_and_returns() {
    let review = Review::new().await;
    fill(&review, 20).await;
    assert!(
        !new_member_admitted(&review, "early21").await,
        "member 21 is refused before approval"
    );

    review.approve().await;
    assert!(
        new_member_admitted(&review, "member21").await,
        "approval admits member 21"
    );

    let removed = review.admin_action("remove-approval", "").await;
    assert_eq!(removed.status(), 303);
    assert!(
        !new_member_admitted(&review, "member22").await,
        "without approval a new member is refused again"
    );
    let mut conn = review.setup.app.state.db.pool.acquire().await.unwrap();
    let active = openhumans::db::memberships::count_active(&mut conn, review.setup.project.id)
        .await
        .unwrap();
    assert_eq!(active, 21, "existing members stay");
}

#[tokio::test]
async fn closed_project_keeps_existing_members() {
    let review = Review::new().await;
    let (access_token, _refresh) = review.setup.tokens().await;
    assert!(crate::oauth2::access_token_works(&review.setup.app, &access_token).await);

    // The coordinator turns "active" off on the project's edit form.
    let mut fields = valid_fields("Step Study");
    set(&mut fields, "active", "false");
    set(&mut fields, "is_study", "false");
    set(&mut fields, "redirect_url", crate::oauth2::REDIRECT_URI);
    set(&mut fields, "require_pkce", "false");
    set(&mut fields, "deauth_webhook", "");
    set(&mut fields, "webhook_secret", "");
    let saved = review
        .coordinator_client
        .post(review.url(&format!(
            "/direct-sharing/projects/oauth2/update/{}/",
            review.slug()
        )))
        .multipart(multipart(&fields, None))
        .send()
        .await
        .unwrap();
    assert_eq!(saved.status(), 303, "{}", saved.text().await.unwrap());
    assert!(!review.project().await.config.active);

    let newcomer = fixtures::create_member(&review.setup.app, "newcomer").await;
    let browser = fixtures::logged_in_client(&review.setup.app, newcomer.id).await;
    let refused = browser
        .get(review.setup.authorize_url(&[]))
        .send()
        .await
        .unwrap();
    assert_ne!(refused.status(), 200);
    assert!(
        refused.headers().get("location").is_none(),
        "no code is issued"
    );
    assert!(crate::oauth2::access_token_works(&review.setup.app, &access_token).await);
    let api = review
        .setup
        .app
        .new_client()
        .get(review.url("/api/direct-sharing/project/exchange-member/"))
        .bearer_auth(&access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 200, "the member's token still reads the API");

    let page = review
        .setup
        .app
        .new_client()
        .get(review.url(&format!("/activity/{}/", review.slug())))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Enrollment is closed"), "{page}");
    assert!(!page.contains("id=\"join\""), "no join button");
}

#[tokio::test]
async fn admin_deactivation_closes_project() {
    let review = Review::new().await;
    review.approve().await;
    let (access_token, _refresh) = review.setup.tokens().await;

    let deactivated = review.admin_action("deactivate", "Spam reports.").await;

    assert_eq!(deactivated.status(), 303);
    assert!(location(&deactivated).contains(&review.review_path()));
    assert!(!review.project().await.config.active);
    assert!(crate::oauth2::access_token_works(&review.setup.app, &access_token).await);
    assert!(!new_member_admitted(&review, "latecomer").await);
    let last = review.history().await.pop().unwrap();
    assert_eq!(
        last.action,
        openhumans::domain::approval::ApprovalAction::Deactivated
    );
    assert_eq!(last.comment, "Spam reports.");
}
