//! Trusted proxies: `X-Forwarded-For` and `X-Forwarded-Proto` decide the client's
//! address and scheme only when the TCP peer is a configured proxy. The tests connect
//! from 127.0.0.1, so trusting `127.0.0.1` makes the test client a proxy.

use std::time::Duration;

use openhumans::db::files;

use crate::api::ApiSetup;
use crate::oauth2::Setup;
use crate::support::fixtures::PASSWORD;
use crate::support::process::{ChildProcess, free_port, openhumans, wait_until_serving};
use crate::support::{TestApp, eventually};

/// A client address no test machine has.
const FORWARDED: &str = "198.51.100.7";

/// Starts an app that allows one signup per client address per hour and trusts
/// `proxies`.
async fn app_trusting(proxies: &str) -> TestApp {
    let proxies = proxies.parse().expect("a valid proxy list");
    TestApp::builder()
        .with(move |settings| {
            settings.signups_per_address_per_hour = 1;
            settings.trusted_proxies = proxies;
        })
        .spawn()
        .await
}

async fn signup(app: &TestApp, username: &str, forwarded_for: &str) -> u16 {
    let email = format!("{username}@example.org");
    app.new_client()
        .post(app.url("/account/signup/"))
        .header("sec-fetch-site", "same-origin")
        .header("x-forwarded-for", forwarded_for)
        .form(&[
            ("username", username),
            ("email", email.as_str()),
            ("password", PASSWORD),
            ("password_confirmation", PASSWORD),
        ])
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn spoofed_forwarded_for_is_ignored() {
    let app = app_trusting("").await;

    assert_eq!(signup(&app, "first", "198.51.100.1").await, 303);
    // A different forged address does not escape the per-address limit.
    assert_eq!(signup(&app, "second", "198.51.100.2").await, 429);
}

#[tokio::test]
async fn untrusted_range_ignores_forwarded_for() {
    // The peer is 127.0.0.1, outside the trusted range.
    let app = app_trusting("10.0.0.0/8").await;

    assert_eq!(signup(&app, "first", "198.51.100.1").await, 303);
    assert_eq!(signup(&app, "second", "198.51.100.2").await, 429);
}

#[tokio::test]
async fn trusted_proxy_separates_clients() {
    let app = app_trusting("127.0.0.0/8").await;

    assert_eq!(signup(&app, "first", "198.51.100.1").await, 303);
    assert_eq!(signup(&app, "second", "198.51.100.2").await, 303);
    // The rightmost address is the one the proxy saw; a forged one left of it is not.
    assert_eq!(
        signup(&app, "third", "203.0.113.5, 198.51.100.1").await,
        429
    );
}

#[tokio::test]
async fn hsts_needs_https_from_trusted_proxy() {
    let untrusted = TestApp::spawn().await;
    let trusted = app_trusting("127.0.0.1").await;
    let hsts = |app: &TestApp, proto: &'static str| {
        let request = app
            .new_client()
            .get(app.url("/healthz"))
            .header("x-forwarded-proto", proto);
        async move {
            let response = request.send().await.unwrap();
            response.headers().contains_key("strict-transport-security")
        }
    };

    assert!(!hsts(&untrusted, "https").await, "forged by the client");
    assert!(hsts(&trusted, "https").await, "reported by a trusted proxy");
    assert!(!hsts(&trusted, "http").await, "plain http behind the proxy");
    let direct = trusted.new_client().get(trusted.url("/healthz"));
    let response = direct.send().await.unwrap();
    assert!(!response.headers().contains_key("strict-transport-security"));
}

/// Downloads the setup member's only file with `forwarded_for`, returns the address
/// the access log recorded.
async fn logged_download_address(app: TestApp, forwarded_for: &str) -> String {
    let api = ApiSetup::from_setup(Setup::on(app, |_| {}).await).await;
    api.upload(&api.access_token, "steps.csv", b"date,steps\n")
        .await;
    let member: serde_json::Value = api
        .get("exchange-member/", &api.access_token, &[])
        .await
        .json()
        .await
        .unwrap();
    let url = member["data"][0]["download_url"].as_str().unwrap();
    let response = reqwest::Client::new()
        .get(url)
        .header("x-forwarded-for", forwarded_for)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let log = files::list_downloads(&api.app().state.db, api.setup.member.id, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    log[0].client_address.clone()
}

#[tokio::test]
async fn access_log_records_resolved_address() {
    let trusted = app_trusting("127.0.0.1").await;
    assert_eq!(logged_download_address(trusted, FORWARDED).await, FORWARDED);

    let untrusted = TestApp::spawn().await;
    assert_eq!(
        logged_download_address(untrusted, FORWARDED).await,
        "127.0.0.1"
    );
}

/// Starts `openhumans serve` with `proxies` trusted, sends one request to `/`
/// forwarded for [`FORWARDED`], and returns the `client` of its log line.
async fn logged_client(proxies: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let bind = format!("127.0.0.1:{}", free_port());
    let mut command = openhumans(&["serve"]);
    command
        .env("OPENHUMANS_DATA_DIR", dir.path())
        .env("OPENHUMANS_BIND", &bind)
        .env("OPENHUMANS_LOG_FORMAT", "json")
        .env("OPENHUMANS_TRUSTED_PROXIES", proxies);
    let mut server = ChildProcess::spawn(command, "openhumans-serve", dir.path());
    let url = format!("http://{bind}/healthz");
    wait_until_serving(&mut server, &url, Duration::from_secs(30)).await;
    let response = reqwest::Client::new()
        .get(format!("http://{bind}/"))
        .header("x-forwarded-for", FORWARDED)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);

    // The line is written just after the response is sent.
    eventually(Duration::from_secs(5), "the request's log line", || async {
        server.stderr().lines().find_map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).ok()?;
            (line["message"] == "request" && line["route"] == "/")
                .then(|| line["client"].as_str().unwrap_or_default().to_string())
        })
    })
    .await
}

#[tokio::test]
async fn request_log_shows_resolved_client() {
    assert_eq!(logged_client("127.0.0.1,::1").await, FORWARDED);
    assert_eq!(logged_client("").await, "127.0.0.1");
}

#[test]
fn invalid_trusted_proxies_rejected_at_startup() {
    for (value, named) in [
        ("10.0.0.0/33", "\"10.0.0.0/33\" is not an IP address"),
        (
            "10.0.0.1, proxy.internal",
            "\"proxy.internal\" is not an IP address",
        ),
        ("10.0.0.1:8080", "\"10.0.0.1:8080\" is not an IP address"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let output = openhumans(&["serve"])
            .env("OPENHUMANS_DATA_DIR", dir.path())
            .env("OPENHUMANS_BIND", format!("127.0.0.1:{}", free_port()))
            .env("OPENHUMANS_TRUSTED_PROXIES", value)
            .output()
            .unwrap();
        assert!(!output.status.success(), "{value} was accepted");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("--trusted-proxies"), "{value}: {stderr}");
        assert!(stderr.contains(named), "{value}: {stderr}");
        assert!(
            !dir.path().join("openhumans.db").exists(),
            "{value}: refused before touching the database"
        );
    }
}
