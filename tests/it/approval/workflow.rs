//! Every state change of the approval workflow and who may make it.

use openhumans::domain::approval::{ApprovalAction, ApprovalState};

use super::{Review, contact_email_with, location};
use crate::admin::admin;

#[tokio::test]
async fn submission_moves_draft_to_review() {
    let review = Review::new().await;
    let page = review
        .coordinator_client
        .get(review.url(&review.approval_path()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("Activity guidelines"), "{html}");
    assert!(html.contains("never asks members for their password"));
    assert_eq!(review.state().await, ApprovalState::Draft);

    let unacknowledged = review
        .submit_as(&review.coordinator_client, &[("ethics_board", "")], None)
        .await;
    assert_eq!(unacknowledged.status(), 422);
    let html = unacknowledged.text().await.unwrap();
    assert!(
        html.contains("confirm that the project follows the guidelines"),
        "{html}"
    );
    assert_eq!(review.state().await, ApprovalState::Draft);

    let submitted = review.submit().await;
    assert_eq!(submitted.status(), 303);
    assert_eq!(review.state().await, ApprovalState::InReview);
    let history = review.history().await;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].action, ApprovalAction::Submitted);
    assert_eq!(history[0].actor_name, "coordinator");

    let again = review.submit().await;
    assert_eq!(again.status(), 303);
    assert_eq!(
        review.history().await.len(),
        1,
        "a second submission is refused"
    );

    let queue = review
        .admin_client
        .get(review.url("/admin/approvals/"))
        .send()
        .await
        .unwrap();
    let html = queue.text().await.unwrap();
    assert!(
        html.contains(&format!("/admin/approvals/{}/", review.slug())),
        "{html}"
    );
}

#[tokio::test]
async fn study_must_name_ethics_approval() {
    let review = Review::with_config(|config| config.is_study = true).await;

    let missing = review.submit().await;
    assert_eq!(missing.status(), 422);
    let html = missing.text().await.unwrap();
    assert!(
        html.contains("A study must give its ethics board"),
        "{html}"
    );
    assert!(
        html.contains("A study must give its approval reference"),
        "{html}"
    );
    assert_eq!(review.state().await, ApprovalState::Draft);

    let complete = review
        .submit_as(
            &review.coordinator_client,
            &[
                ("guidelines", "true"),
                ("ethics_board", "Example University IRB"),
                ("ethics_reference", "IRB-2026-042"),
            ],
            None,
        )
        .await;
    assert_eq!(complete.status(), 303);
    let project = review.project().await;
    let approval = openhumans::db::approvals::find(&review.setup.app.state.db, &project)
        .await
        .unwrap();
    assert_eq!(approval.state, ApprovalState::InReview);
    assert_eq!(approval.ethics_board, "Example University IRB");
    assert_eq!(approval.ethics_reference, "IRB-2026-042");

    let page = review
        .admin_client
        .get(review.url(&review.review_path()))
        .send()
        .await
        .unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("Example University IRB"), "{html}");
    assert!(html.contains("IRB-2026-042"));
    assert!(
        html.contains("lab@example.org"),
        "the review page shows every field"
    );

    let own = review
        .coordinator_client
        .get(review.url(&review.approval_path()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        own.contains("<dd id=\"ethics-board\">Example University IRB</dd>"),
        "the coordinator sees the board they entered: {own}"
    );
    assert!(
        own.contains("<dd id=\"ethics-reference\">IRB-2026-042</dd>"),
        "the coordinator sees the reference they entered"
    );
}

#[tokio::test]
async fn changes_requested_then_resubmitted() {
    let review = Review::new().await;
    review.submit().await;

    let no_comment = review.decide("request_changes", "   ").await;
    assert_eq!(no_comment.status(), 422);
    let html = no_comment.text().await.unwrap();
    assert!(html.contains("Write a comment"), "{html}");
    assert_eq!(review.state().await, ApprovalState::InReview);

    let requested = review
        .decide("request_changes", "Describe how long you keep the data.")
        .await;
    assert_eq!(requested.status(), 303);
    assert_eq!(review.state().await, ApprovalState::ChangesRequested);

    let page = review
        .coordinator_client
        .get(review.url(&review.approval_path()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Describe how long you keep the data."),
        "{page}"
    );
    assert!(
        page.contains("site_admin"),
        "the history names the reviewer"
    );
    let email = contact_email_with(&review, "changes requested").await;
    assert!(
        email.body.contains("Describe how long you keep the data."),
        "{}",
        email.body
    );

    let resubmitted = review.submit().await;
    assert_eq!(resubmitted.status(), 303);
    assert_eq!(review.state().await, ApprovalState::InReview);
    let actions: Vec<_> = review.history().await.iter().map(|e| e.action).collect();
    assert_eq!(
        actions,
        [
            ApprovalAction::Submitted,
            ApprovalAction::ChangesRequested,
            ApprovalAction::Submitted
        ]
    );
}

#[tokio::test]
async fn approval_records_history_and_emails() {
    let review = Review::new().await;
    assert!(!review.project().await.approved);

    review.approve().await;

    assert!(review.project().await.approved);
    let history = review.history().await;
    assert_eq!(history.len(), 2);
    assert_eq!(history[1].action, ApprovalAction::Approved);
    assert_eq!(history[1].actor_name, "site_admin");
    let email = contact_email_with(&review, "is approved").await;
    assert!(email.body.contains("Step Study"), "{}", email.body);
    assert!(
        email.body.contains(&review.approval_path()),
        "{}",
        email.body
    );
}

#[tokio::test]
async fn decisions_need_a_project_in_review() {
    let review = Review::new().await;

    let early = review.decide("approve", "").await;

    assert_eq!(early.status(), 422);
    assert!(early.text().await.unwrap().contains("not in review"));
    assert_eq!(review.state().await, ApprovalState::Draft);
    assert!(!review.project().await.approved);
}

#[tokio::test]
async fn coordinator_cannot_approve_own_project() {
    let review = Review::new().await;
    sqlx::query("UPDATE members SET is_admin = 1 WHERE id = $1")
        .bind(review.setup.coordinator.id)
        .execute(&review.setup.app.state.db.pool)
        .await
        .unwrap();
    review.submit().await;

    let own = review
        .decide_as(&review.coordinator_client, "approve", "")
        .await;

    assert_eq!(own.status(), 422);
    let html = own.text().await.unwrap();
    assert!(html.contains("another site admin must review it"), "{html}");
    assert_eq!(review.state().await, ApprovalState::InReview);
    assert!(!review.project().await.approved);
}

#[tokio::test]
async fn non_admins_get_404_on_admin_pages() {
    let review = Review::new().await;
    review.submit().await;
    let member_id = review.setup.member.id;
    let gets = [
        "/admin/approvals/".to_string(),
        review.review_path(),
        "/admin/members/?q=ada".to_string(),
    ];
    let posts = [
        format!("{}decide/", review.review_path()),
        format!("{}remove-approval/", review.review_path()),
        format!("{}deactivate/", review.review_path()),
        format!("{}reactivate/", review.review_path()),
        format!("/admin/members/{member_id}/suspend/"),
        format!("/admin/members/{member_id}/unsuspend/"),
    ];

    for client in [&review.coordinator_client, &review.setup.browser] {
        for path in &gets {
            let response = client.get(review.url(path)).send().await.unwrap();
            assert_eq!(response.status(), 404, "GET {path}");
        }
        for path in &posts {
            let response = client
                .post(review.url(path))
                .form(&[("decision", "approve"), ("comment", "")])
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 404, "POST {path}");
        }
    }
    let anonymous = review.setup.app.new_client();
    let response = anonymous
        .get(review.url("/admin/approvals/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with("/account/login/"));
    assert_eq!(review.state().await, ApprovalState::InReview);
    assert!(review.project().await.config.active);
}

#[tokio::test]
async fn others_cannot_see_or_submit_request() {
    let review = Review::new().await;
    let page = review
        .setup
        .browser
        .get(review.url(&review.approval_path()))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 404);

    let submitted = review
        .submit_as(&review.setup.browser, &[("guidelines", "true")], None)
        .await;
    assert_eq!(submitted.status(), 404);

    let by_admin = review
        .submit_as(&review.admin_client, &[("guidelines", "true")], None)
        .await;
    assert_eq!(by_admin.status(), 303);
    assert_eq!(review.state().await, ApprovalState::Draft);
}

#[tokio::test]
async fn removing_approval_returns_to_draft() {
    let review = Review::new().await;
    review.approve().await;

    let removed = review
        .admin_action("remove-approval", "Terms changed.")
        .await;

    assert_eq!(removed.status(), 303);
    assert_eq!(review.state().await, ApprovalState::Draft);
    assert!(!review.project().await.approved);
    let last = review.history().await.pop().unwrap();
    assert_eq!(last.action, ApprovalAction::ApprovalRemoved);
    assert_eq!(last.comment, "Terms changed.");
    let email = contact_email_with(&review, "no longer approved").await;
    assert!(email.body.contains("Terms changed."), "{}", email.body);
}

#[tokio::test]
async fn cli_approval_records_operator() {
    let review = Review::new().await;
    review.submit().await;

    let outcome = admin(
        &review.setup.app,
        &["approve-project", review.slug()],
        None,
        "",
    )
    .await;

    assert!(outcome.success, "{}", outcome.stderr);
    assert_eq!(outcome.json()["approved"], true);
    assert_eq!(review.state().await, ApprovalState::Approved);
    let last = review.history().await.pop().unwrap();
    assert_eq!(last.action, ApprovalAction::Approved);
    assert_eq!(last.actor_name, "operator (command line)");
    let (emails,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM jobs WHERE kind = 'send_email' AND payload LIKE $1")
            .bind("%is approved%")
            .fetch_one(&review.setup.app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(emails, 1, "the approval email is queued");

    let page = review
        .coordinator_client
        .get(review.url(&review.approval_path()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("operator (command line)"), "{page}");
}
