//! A site admin's deactivation of a project, which only an admin may undo, and the
//! coordinator closing and reopening a project themselves.

use openhumans::db::approvals;
use openhumans::domain::approval::ApprovalAction;

use super::{Review, contact_email_with, location};
use crate::projects::{post_form, set, valid_fields};

/// Posts the project edit form as the coordinator, with `active` set to `active`.
async fn edit_active(review: &Review, active: &str) -> reqwest::Response {
    let mut fields = valid_fields("Steps Renamed");
    for field in [
        "deauth_webhook",
        "webhook_secret",
        "deauth_email_notification",
    ] {
        fields.retain(|(key, _)| *key != field);
    }
    set(&mut fields, "contact_email", "lab@example.org");
    set(&mut fields, "active", active);
    post_form(
        &review.setup.app,
        &review.coordinator_client,
        &format!("/direct-sharing/projects/oauth2/update/{}/", review.slug()),
        &fields,
        None,
    )
    .await
}

/// Returns the public directory's HTML.
async fn directory(review: &Review) -> String {
    review
        .setup
        .app
        .new_client()
        .get(review.url("/activities/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn is_admin_deactivated(review: &Review) -> bool {
    approvals::is_admin_deactivated(&review.setup.app.state.db, review.setup.project.id)
        .await
        .unwrap()
}

#[tokio::test]
async fn coordinator_cannot_undo_admin_deactivation() {
    let review = Review::new().await;
    review.approve().await;
    assert_eq!(
        review
            .admin_action("deactivate", "Spam reports.")
            .await
            .status(),
        303
    );

    let refused = edit_active(&review, "true").await;

    assert_eq!(refused.status(), 422);
    let html = refused.text().await.unwrap();
    assert!(
        html.contains("A site admin deactivated this project; ask them to reactivate it."),
        "{html}"
    );
    let project = review.project().await;
    assert!(!project.config.active, "the project stays inactive");
    assert_ne!(project.config.name, "Steps Renamed", "nothing was saved");
    assert!(!directory(&review).await.contains(&project.config.name));
    assert!(is_admin_deactivated(&review).await);

    let still_closed = edit_active(&review, "false").await;
    assert_eq!(
        still_closed.status(),
        303,
        "other changes save while the project stays inactive"
    );
    assert_eq!(review.project().await.config.name, "Steps Renamed");
    assert!(!review.project().await.config.active);
}

#[tokio::test]
async fn admin_reactivation_lifts_deactivation() {
    let review = Review::new().await;
    review.approve().await;
    review.admin_action("deactivate", "Spam reports.").await;
    let page = review
        .admin_client
        .get(review.url(&review.review_path()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"reactivate\""), "{page}");
    assert!(!page.contains("id=\"deactivate\""));

    let reactivated = review.admin_action("reactivate", "Reports resolved.").await;

    assert_eq!(reactivated.status(), 303);
    assert!(location(&reactivated).contains(&review.review_path()));
    let project = review.project().await;
    assert!(project.config.active);
    assert!(!is_admin_deactivated(&review).await);
    assert!(directory(&review).await.contains(&project.config.name));
    let last = review.history().await.pop().unwrap();
    assert_eq!(last.action, ApprovalAction::Reactivated);
    assert_eq!(last.actor_name, review.admin.username);
    assert_eq!(last.comment, "Reports resolved.");
    let email = contact_email_with(&review, "was reactivated").await;
    assert!(email.body.contains("Reports resolved."), "{}", email.body);

    assert_eq!(edit_active(&review, "false").await.status(), 303);
    assert!(!review.project().await.config.active);
    assert_eq!(
        edit_active(&review, "true").await.status(),
        303,
        "after reactivation the coordinator controls enrollment again"
    );
    assert!(review.project().await.config.active);
}

#[tokio::test]
async fn coordinator_closes_and_reopens_without_admin() {
    let review = Review::new().await;
    review.approve().await;

    assert_eq!(edit_active(&review, "false").await.status(), 303);
    assert!(!review.project().await.config.active);
    assert_eq!(edit_active(&review, "true").await.status(), 303);

    let project = review.project().await;
    assert!(project.config.active);
    assert!(directory(&review).await.contains(&project.config.name));
    assert!(!is_admin_deactivated(&review).await);
}

#[tokio::test]
async fn admin_deactivation_sticks_after_coordinator_closed() {
    let review = Review::new().await;
    review.approve().await;
    assert_eq!(edit_active(&review, "false").await.status(), 303);

    let deactivated = review.admin_action("deactivate", "").await;

    assert_eq!(deactivated.status(), 303);
    assert!(is_admin_deactivated(&review).await);
    assert_eq!(edit_active(&review, "true").await.status(), 422);
    assert!(!review.project().await.config.active);
}

#[tokio::test]
async fn reactivation_needs_admin_deactivation() {
    let review = Review::new().await;
    review.approve().await;
    let before = review.history().await.len();

    let refused = review.admin_action("reactivate", "").await;

    assert_eq!(refused.status(), 303);
    assert_eq!(review.history().await.len(), before, "nothing recorded");
    let page = review
        .admin_client
        .get(review.url(&review.review_path()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("nothing to reactivate"), "{page}");

    review.admin_action("deactivate", "").await;
    let twice = review.admin_action("deactivate", "").await;
    assert_eq!(twice.status(), 303);
    let deactivations = review
        .history()
        .await
        .iter()
        .filter(|event| event.action == ApprovalAction::Deactivated)
        .count();
    assert_eq!(deactivations, 1, "a second deactivation records nothing");
}

#[tokio::test]
async fn history_names_each_author_once() {
    let review = Review::new().await;
    review.approve().await;
    review.admin_action("remove-approval", "").await;
    review.admin_action("deactivate", "").await;
    review.admin_action("reactivate", "").await;

    let page = review
        .coordinator_client
        .get(review.url(&review.approval_path()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let admin = &review.admin.username;
    let coordinator = &review.setup.coordinator.username;
    for entry in [
        format!("<strong>Submitted for review</strong> by {coordinator},"),
        format!("<strong>Approved</strong> by {admin},"),
        format!("<strong>Approval removed</strong> by {admin},"),
        format!("<strong>Deactivated</strong> by {admin},"),
        format!("<strong>Reactivated</strong> by {admin},"),
    ] {
        assert!(page.contains(&entry), "{entry:?} in {page}");
    }
    assert!(!page.contains("by a site admin by"));
}
