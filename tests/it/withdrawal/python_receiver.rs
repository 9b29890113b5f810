//! A receiver written as django-open-humans checks deliveries, in Python's standard
//! library, accepts our webhook.

use std::process::Command;
use std::time::Duration;

use super::{SECRET, joined, leave};
use crate::support::eventually;
use crate::support::process::{ChildProcess, free_port};

const RECEIVER: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/it/withdrawal/deauth_receiver.py"
);

#[tokio::test]
async fn django_style_receiver_accepts_delivery() {
    let Ok(python) = std::env::var("OPENHUMANS_TEST_PYTHON") else {
        assert!(
            !crate::support::in_ci(),
            "OPENHUMANS_TEST_PYTHON is not set"
        );
        eprintln!("skipped: OPENHUMANS_TEST_PYTHON is not set");
        return;
    };
    let port = free_port();
    let logs = tempfile::tempdir().unwrap();
    let mut command = Command::new(&python);
    command.arg(RECEIVER).arg(port.to_string()).arg(SECRET);
    let receiver = ChildProcess::spawn(command, "deauth_receiver", logs.path());
    eventually(Duration::from_secs(15), "the Python receiver", || async {
        tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .ok()
    })
    .await;
    let (setup, pmid) = joined(|config| {
        config.deauth_webhook = Some(format!("http://127.0.0.1:{port}/openhumans/deauth"));
        config.webhook_secret = Some(SECRET.to_string());
        config.erasure_supported = true;
    })
    .await;

    leave(&setup, &pmid, &[("erasure_requested", "on")]).await;

    let line = eventually(Duration::from_secs(15), "an accepted delivery", || async {
        receiver.stdout().lines().next().map(str::to_string)
    })
    .await;
    let accepted: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(accepted["project_member_id"], pmid.as_str());
    assert_eq!(accepted["erasure_requested"], true);
    let db = setup.app.state.db.clone();
    let status = eventually(Duration::from_secs(15), "a recorded attempt", || async {
        let delivery = openhumans::db::webhooks::list_for_project(&db, setup.project.id, 1, 0)
            .await
            .unwrap()
            .pop()?;
        let attempts = openhumans::db::webhooks::attempts(&db, delivery.id)
            .await
            .unwrap();
        attempts.first().map(|attempt| attempt.status_code)
    })
    .await;
    assert_eq!(status, Some(200));
}
