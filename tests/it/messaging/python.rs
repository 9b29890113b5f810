//! The unchanged Open Humans Python client (`open-humans-api` 0.2.9) sends messages
//! with a member token, a list of ids and `all_members`, and gets an exception for a
//! member without the message permission.

use std::time::Duration;

use super::{add_member, deny_messages, emails_to, smtp_setup, wait_until_sent};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/ohapi_message.py");

#[tokio::test]
async fn ohapi_message_reaches_members() {
    let python = std::env::var("OPENHUMANS_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "OPENHUMANS_TEST_PYTHON is not set: run scripts/test, which installs \
             open-humans-api into .venv and sets it"
        )
    });
    let (api, smtp) = smtp_setup().await;
    let app = api.app();
    let (second, second_pmid) = add_member(app, api.project_id(), "Grace_H").await;
    let (denied, denied_pmid) = add_member(app, api.project_id(), "Alan_T").await;
    deny_messages(app, &denied_pmid).await;

    let run = tokio::process::Command::new(&python)
        .arg(SCRIPT)
        .env("OHAPI_OH_BASE_URL", format!("{}/", app.base))
        .env("OH_ACCESS_TOKEN", &api.access_token)
        .env("OH_MASTER_TOKEN", &api.master_token)
        .env(
            "OH_LISTED_IDS",
            format!("{},{second_pmid}", api.project_member_id),
        )
        .env("OH_DENIED_ID", &denied_pmid)
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(Duration::from_secs(120), run)
        .await
        .expect("the ohapi script finished within two minutes")
        .unwrap_or_else(|error| panic!("starting {python}: {error}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "ohapi script failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
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
