//! The unchanged Open Humans Python client (`open-humans-api` 0.2.9) sends messages
//! with a member token, a list of ids and `all_members`, and gets an exception for a
//! member without the message permission.

use std::time::Duration;

use crate::support::process::run_python_script;

use super::{add_member, deny_messages, emails_to, smtp_setup, wait_until_sent};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/ohapi_message.py");

#[tokio::test]
async fn ohapi_message_reaches_members() {
    let (api, smtp) = smtp_setup().await;
    let app = api.app();
    let (second, second_pmid) = add_member(app, api.project_id(), "Grace_H").await;
    let (denied, denied_pmid) = add_member(app, api.project_id(), "Alan_T").await;
    deny_messages(app, &denied_pmid).await;

    let stdout = run_python_script(
        SCRIPT,
        &[
            ("OHAPI_OH_BASE_URL", format!("{}/", app.base)),
            ("OH_ACCESS_TOKEN", api.access_token.clone()),
            ("OH_MASTER_TOKEN", api.master_token.clone()),
            (
                "OH_LISTED_IDS",
                format!("{},{second_pmid}", api.project_member_id),
            ),
            ("OH_DENIED_ID", denied_pmid.clone()),
        ],
    )
    .await;
    assert!(stdout.contains("ohapi message flow passed"), "{stdout}");

    // The member's own message, the list of two and all members (two of three).
    smtp.wait_for_messages(5, Duration::from_secs(30)).await;
    wait_until_sent(app).await;
    let emails = smtp.messages();
    assert_eq!(emails.len(), 5, "{emails:?}");
    let first = emails_to(&emails, &api.setup.member.email);
    assert_eq!(first.len(), 3, "{first:?}");
    let second_emails = emails_to(&emails, &second.email);
    assert_eq!(second_emails.len(), 2, "{second_emails:?}");
    assert!(
        second_emails
            .iter()
            .all(|email| email.body.contains(&second_pmid))
    );
    assert!(emails_to(&emails, &denied.email).is_empty());
}
