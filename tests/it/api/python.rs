//! The unchanged Open Humans Python client (`open-humans-api` 0.2.9) against a real
//! server: token exchange and refresh, exchange-member, direct upload, download,
//! deletion and the members list, on local storage and on S3.

use crate::oauth2::{REDIRECT_URI, Setup};
use crate::support::TestApp;
use crate::support::process::run_python_script;
use crate::support::s3::S3Server;

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/ohapi_flow.py");

async fn run_ohapi_flow(app: TestApp) {
    let setup = Setup::on(app, |_| {}).await;
    let code = setup.code(&[]).await;
    let master = super::master_token(&setup.app, setup.project.id).await;

    let stdout = run_python_script(
        SCRIPT,
        &[
            ("OHAPI_OH_BASE_URL", format!("{}/", setup.app.base)),
            ("OH_CLIENT_ID", setup.project.client_id.clone()),
            ("OH_CLIENT_SECRET", setup.project.client_secret.clone()),
            ("OH_REDIRECT_URI", REDIRECT_URI.to_string()),
            ("OH_CODE", code),
            ("OH_MASTER_TOKEN", master),
        ],
    )
    .await;
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
