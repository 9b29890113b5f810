//! The ethics approval document: PDF only, size-limited, private to the coordinator
//! and site admins.

use openhumans::domain::approval::{ApprovalState, MAX_DOCUMENT_BYTES};

use super::{PDF, Review, location};
use crate::support::fixtures;

fn study_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("guidelines", "true"),
        ("ethics_board", "Example University IRB"),
        ("ethics_reference", "IRB-2026-042"),
    ]
}

#[tokio::test]
async fn non_pdf_document_is_rejected() {
    let review = Review::with_config(|config| config.is_study = true).await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();

    let renamed = review
        .submit_as(
            &review.coordinator_client,
            &study_fields(),
            Some((png, "approval.pdf")),
        )
        .await;

    assert_eq!(renamed.status(), 422);
    let html = renamed.text().await.unwrap();
    assert!(html.contains("must be a PDF file"), "{html}");
    assert_eq!(review.state().await, ApprovalState::Draft);
}

#[tokio::test]
async fn oversized_document_is_rejected() {
    let review = Review::with_config(|config| config.is_study = true).await;
    let mut large = PDF.to_vec();
    large.resize(MAX_DOCUMENT_BYTES + 1, b' ');

    let response = review
        .submit_as(
            &review.coordinator_client,
            &study_fields(),
            Some((large, "approval.pdf")),
        )
        .await;

    assert_eq!(response.status(), 422);
    let html = response.text().await.unwrap();
    assert!(html.contains("at most 5 MiB"), "{html}");
    assert_eq!(review.state().await, ApprovalState::Draft);
}

#[tokio::test]
async fn document_is_private_to_coordinator_and_admins() {
    let review = Review::with_config(|config| config.is_study = true).await;
    let submitted = review
        .submit_as(
            &review.coordinator_client,
            &study_fields(),
            Some((PDF.to_vec(), "irb letter.pdf")),
        )
        .await;
    assert_eq!(submitted.status(), 303);
    let path = format!("{}document/", review.approval_path());

    for client in [&review.coordinator_client, &review.admin_client] {
        let response = client.get(review.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/pdf");
        let disposition = response.headers()["content-disposition"].to_str().unwrap();
        assert!(disposition.contains("irb_letter.pdf"), "{disposition}");
        assert_eq!(response.bytes().await.unwrap().as_ref(), PDF);
    }
    let other = fixtures::create_member(&review.setup.app, "curious").await;
    let other_client = fixtures::logged_in_client(&review.setup.app, other.id).await;
    let refused = other_client.get(review.url(&path)).send().await.unwrap();
    assert_eq!(refused.status(), 404);
    let anonymous = review
        .setup
        .app
        .new_client()
        .get(review.url(&path))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
    assert!(location(&anonymous).starts_with("/account/login/"));

    let review_page = review
        .admin_client
        .get(review.url(&review.review_path()))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        review_page.contains(&path),
        "the review page links the document"
    );
}
