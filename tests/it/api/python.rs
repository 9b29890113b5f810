//! The unchanged Open Humans Python client (`open-humans-api` 0.2.9) against a real
//! server: token exchange and refresh, exchange-member, direct upload, download,
//! deletion and the members list, on local storage and on S3.

use std::time::Duration;

use crate::oauth2::{REDIRECT_URI, Setup};
use crate::support::TestApp;
use crate::support::s3::S3Server;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/ohapi_flow.py");

/// Returns the Python interpreter of the test virtual environment.
fn python() -> String {
    std::env::var("OPENHUMANS_TEST_PYTHON").unwrap_or_else(|_| {
        panic!(
            "OPENHUMANS_TEST_PYTHON is not set: run scripts/test, which installs \
             open-humans-api into .venv and sets it"
        )
    })
}

async fn run_ohapi_flow(app: TestApp) {
    let python = python();
    let setup = Setup::on(app, |_| {}).await;
    let code = setup.code(&[]).await;
    let master = super::master_token(&setup.app, setup.project.id).await;

    let run = tokio::process::Command::new(&python)
        .arg(SCRIPT)
        .env("OHAPI_OH_BASE_URL", format!("{}/", setup.app.base))
        .env("OH_CLIENT_ID", &setup.project.client_id)
        .env("OH_CLIENT_SECRET", &setup.project.client_secret)
        .env("OH_REDIRECT_URI", REDIRECT_URI)
        .env("OH_CODE", &code)
        .env("OH_MASTER_TOKEN", &master)
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
    assert!(stdout.contains("ohapi flow passed"), "{stdout}");
}

#[tokio::test]
async fn ohapi_flow_on_local_storage() {
    run_ohapi_flow(TestApp::spawn().await).await;
}

#[tokio::test]
async fn ohapi_flow_on_s3_storage() {
    let s3 = S3Server::start().await;
    let app = TestApp::builder().with(s3.configure()).spawn().await;
    run_ohapi_flow(app).await;
}
