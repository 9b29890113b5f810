//! A member's whole journey with each step on a different instance from the step
//! before, so nothing a step needs may live in one instance's memory.

use std::time::Duration;

use serde_json::Value;

use super::receiver::StallingReceiver;
use super::{Cluster, Instance, cluster_postgres_url, count};
use crate::oauth2::{REDIRECT_URI, consent, query_param};
use crate::support::fixtures::PASSWORD;
use crate::support::mail::{find_link, read_outbox};
use crate::support::{browser_client, eventually};

const API: &str = "/api/direct-sharing/project/";
const EMAIL: &str = "walker@example.org";

#[tokio::test]
async fn member_walk_alternates_instances() {
    let Some(postgres) = cluster_postgres_url() else {
        return;
    };
    let receiver = StallingReceiver::start().await;
    let cluster = Cluster::start(&postgres, 30).await;
    let project = cluster.create_project(&receiver.url());
    let client_id = project["client_id"].as_str().unwrap().to_string();
    let client_secret = project["client_secret"].as_str().unwrap().to_string();
    let (first, second) = (cluster.at(0), cluster.at(1));

    // Signup on the first instance; the confirmation link is opened on the second.
    let browser = browser_client();
    let response = post_form(
        &browser,
        first,
        "/account/signup/",
        &[
            ("username", "walker"),
            ("email", EMAIL),
            ("password", PASSWORD),
            ("password_confirmation", PASSWORD),
        ],
    )
    .await;
    assert_eq!(response.status(), 303, "signup: {}", cluster.output());
    let link = confirmation_link(&cluster).await;
    let path = &link[link.find("/account/").expect("a site path in the link")..];
    let confirmed = browser.get(second.url(path)).send().await.unwrap();
    assert!(
        confirmed.status().is_success() || confirmed.status().is_redirection(),
        "confirming the email: {}",
        confirmed.status()
    );
    let verified = count(
        &cluster.db,
        "SELECT COUNT(*) FROM members WHERE username = 'walker' AND email_verified_at IS NOT NULL",
    )
    .await;
    assert_eq!(verified, 1, "the second instance confirmed the address");

    // Login on the first instance, in a new browser.
    let browser = browser_client();
    let response = post_form(
        &browser,
        first,
        "/account/login/",
        &[("login", "walker"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(response.status(), 303, "login");

    // Consent on the second instance, with the session the first one started.
    let authorize = format!(
        "{}?client_id={client_id}&response_type=code",
        second.url("/direct-sharing/projects/oauth2/authorize/")
    );
    let location = consent(&browser, &authorize).await;
    let code = query_param(&location, "code").expect("the redirect carries a code");

    // Code exchange on the first instance.
    let response = reqwest::Client::new()
        .post(first.url("/oauth2/token/"))
        .basic_auth(&client_id, Some(&client_secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT_URI),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "code exchange");
    let tokens: Value = response.json().await.unwrap();
    let token = tokens["access_token"].as_str().unwrap().to_string();

    // Direct upload on the second instance, to the shared S3 store.
    let member = api_get(second, &token, "exchange-member/").await;
    let pmid = member["project_member_id"].as_str().unwrap().to_string();
    let bytes = b"date,steps\n2026-12-01,10412\n".to_vec();
    let file_id = upload(second, &token, &pmid, &bytes).await;

    // Download and listing on the first instance.
    let member = api_get(first, &token, "exchange-member/").await;
    let files = member["data"].as_array().expect("a data list");
    assert_eq!(files.len(), 1, "{member}");
    assert_eq!(files[0]["id"].as_i64(), Some(file_id));
    assert_eq!(files[0]["basename"], "steps.csv");
    let download_url = files[0]["download_url"].as_str().unwrap();
    assert!(download_url.starts_with(&first.base), "{download_url}");
    let client = reqwest::Client::new();
    let downloaded = client.get(download_url).send().await.unwrap();
    assert_eq!(
        downloaded.status(),
        200,
        "the download follows the S3 redirect"
    );
    assert_eq!(downloaded.bytes().await.unwrap().as_ref(), &bytes[..]);
    let page = browser
        .get(first.url("/member/me/data/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("steps.csv"));

    // Withdrawal on the second instance queues one webhook.
    let leave = format!("/member/me/connections/{pmid}/leave/");
    let response = post_form(&browser, second, &leave, &[]).await;
    assert_eq!(response.status(), 303, "leaving the project");
    let arrivals = receiver.wait_for(1, Duration::from_secs(15)).await;
    let (webhook_id,): (String,) = sqlx::query_as("SELECT webhook_id FROM webhook_deliveries")
        .fetch_one(&cluster.db.pool)
        .await
        .unwrap();
    assert_eq!(arrivals, vec![webhook_id]);

    // Exactly once: the job is done, and two more polls of both instances' workers
    // send nothing else.
    let db = cluster.db.clone();
    eventually(Duration::from_secs(10), "the delivery job done", || async {
        let done = count(
            &db,
            "SELECT COUNT(*) FROM jobs WHERE kind = 'deliver_webhook' AND state = 'done'",
        )
        .await;
        (done == 1).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(receiver.arrivals().len(), 1);
}

/// Submits a page form to `instance` as a same-origin browser would.
async fn post_form(
    browser: &reqwest::Client,
    instance: &Instance,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    browser
        .post(instance.url(path))
        .header("sec-fetch-site", "same-origin")
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Returns the confirmation link sent to [`EMAIL`] by whichever instance's worker
/// sent it.
async fn confirmation_link(cluster: &Cluster) -> String {
    eventually(
        Duration::from_secs(15),
        "the confirmation email",
        || async {
            cluster
                .instances
                .iter()
                .flat_map(|instance| read_outbox(&instance.data_dir.path().join("outbox")))
                .filter(|email| email.to.contains(EMAIL))
                .find_map(|email| find_link(&email.body, "/account/confirm-email/"))
        },
    )
    .await
}

async fn api_get(instance: &Instance, token: &str, path: &str) -> Value {
    let response = reqwest::Client::new()
        .get(instance.url(&format!("{API}{path}")))
        .query(&[("access_token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.unwrap()
}

async fn api_post(instance: &Instance, token: &str, path: &str, form: &[(&str, &str)]) -> Value {
    let response = reqwest::Client::new()
        .post(instance.url(&format!("{API}{path}")))
        .query(&[("access_token", token)])
        .form(form)
        .send()
        .await
        .unwrap();
    let status = response.status();
    let body = response.text().await.unwrap();
    assert!(status.is_success(), "POST {path}: {status} {body}");
    serde_json::from_str(&body).unwrap()
}

/// Uploads `bytes` as `steps.csv` through the direct upload; returns the file id.
async fn upload(instance: &Instance, token: &str, pmid: &str, bytes: &[u8]) -> i64 {
    let metadata = r#"{"description": "Daily steps", "tags": ["steps"]}"#;
    let started = api_post(
        instance,
        token,
        "files/upload/direct/",
        &[
            ("project_member_id", pmid),
            ("metadata", metadata),
            ("filename", "steps.csv"),
        ],
    )
    .await;
    let file_id = started["id"].as_i64().expect("a file id");
    let put = reqwest::Client::new()
        .put(started["url"].as_str().expect("an upload URL"))
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200, "the PUT to S3");
    let id = file_id.to_string();
    api_post(
        instance,
        token,
        "files/upload/complete/",
        &[("project_member_id", pmid), ("file_id", &id)],
    )
    .await;
    file_id
}
