//! Outgoing email through a real SMTP server and through the development outbox:
//! headers, non-ASCII text and the scrubbing of sent bodies.

use std::time::Duration;

use openhumans::jobs::enqueue_email;
use openhumans::mail::{Email, new_message_id};

use crate::support::mail::{ReceivedEmail, wait_for_email};
use crate::support::smtp::SmtpServer;
use crate::support::{TestApp, eventually};

const SENDER: &str = "openhumans <noreply@openhumans.example>";

/// Builds an email with non-ASCII text in every header and in the body.
fn international_email() -> Email {
    Email {
        to: "Jörg Müller <joerg@example.org>".to_string(),
        from_name: Some("Zürich Dätenprojekt ✓".to_string()),
        reply_to: Some("Åsa Lindqvist <asa@project.example>".to_string()),
        subject: "Grüße: new data for you — 日本語".to_string(),
        body: "Hallo Jörg,\n\nyour project member id is 12345678.\nÜmlauts, ñ, 日本語 and ✓ survive.\n"
            .to_string(),
        message_id: new_message_id(SENDER),
    }
}

/// Compares every field a recipient reads with what was queued.
fn assert_same_email(received: &ReceivedEmail, sent: &Email) {
    assert_eq!(received.to, sent.to);
    assert_eq!(
        received.from, "Zürich Dätenprojekt ✓ <noreply@openhumans.example>",
        "the display name is the project's, the address the configured sender"
    );
    assert_eq!(received.reply_to.as_deref(), sent.reply_to.as_deref());
    assert_eq!(received.subject, sent.subject);
    assert_eq!(
        received.message_id,
        sent.message_id.trim_matches(['<', '>'])
    );
    assert_eq!(
        received.body.replace("\r\n", "\n").trim_end(),
        sent.body.trim_end()
    );
}

async fn queue_email(app: &TestApp, email: &Email) -> i64 {
    let id = enqueue_email(&app.state.db.pool, email, app.clock().now())
        .await
        .expect("queueing an email");
    app.state.job_signal.notify();
    id
}

/// Waits for the job to be done and returns its stored payload.
async fn payload_when_done(app: &TestApp, id: i64) -> Email {
    let payload = eventually(Duration::from_secs(20), "the job to be done", || async {
        let (state, payload): (String, String) =
            sqlx::query_as("SELECT state, payload FROM jobs WHERE id = $1")
                .bind(id)
                .fetch_one(&app.state.db.pool)
                .await
                .unwrap();
        (state == "done").then_some(payload)
    })
    .await;
    serde_json::from_str(&payload).expect("the payload is still an email")
}

#[tokio::test]
async fn smtp_delivery_keeps_headers_and_text() {
    let smtp = SmtpServer::start().await;
    let url = smtp.url();
    let app = TestApp::builder()
        .with(move |settings| {
            settings.smtp_url = Some(url);
            settings.mail_from = SENDER.to_string();
        })
        .spawn()
        .await;
    let email = international_email();

    let id = queue_email(&app, &email).await;

    let received = smtp.wait_for_messages(1, Duration::from_secs(20)).await;
    assert_eq!(received.len(), 1);
    assert_same_email(&received[0], &email);
    let kept = payload_when_done(&app, id).await;
    assert_eq!(
        kept.body, "",
        "a sent body, with its one-time links, is not kept"
    );
    assert_eq!(kept.message_id, email.message_id);
}

#[tokio::test]
async fn outbox_delivery_keeps_headers_and_text() {
    let app = TestApp::builder()
        .with(|settings| settings.mail_from = SENDER.to_string())
        .spawn()
        .await;
    let email = international_email();

    let id = queue_email(&app, &email).await;

    let received = wait_for_email(&app.outbox_dir(), "joerg@example.org").await;
    assert_same_email(&received, &email);
    assert_eq!(payload_when_done(&app, id).await.body, "");
}
