//! `/member/me/export/`: queueing an export, its states, the email, the download that
//! only the owner can use, and removal after expiry.

use std::time::Duration;

use chrono::{Datelike, Timelike};
use futures_util::StreamExt;
use openhumans::clock::{DAY, HOUR};
use openhumans::db::exports;

use super::{page, post_form, project_download_url, read_zip, save_body, sha256};
use crate::api::ApiSetup;
use crate::support::mail::{find_link, wait_for_email};
use crate::support::{eventually, fixtures};

const EXPORT: &str = "/member/me/export/";

/// Waits until the page shows the export in `state`.
pub(super) async fn wait_for_state(api: &ApiSetup, state: &str) -> String {
    let marker = format!("data-state=\"{state}\"");
    eventually(
        Duration::from_secs(60),
        &format!("an export {state}"),
        || async {
            let (_, html) = page(&api.setup.browser, &api.app().url(EXPORT)).await;
            html.contains(&marker).then_some(html)
        },
    )
    .await
}

/// Returns the `[year, month, day, hour, minute, second]` a zip entry stores for an
/// ISO 8601 time. Zip dates have two-second steps.
fn zip_date(iso: &str) -> serde_json::Value {
    let at = chrono::DateTime::parse_from_rfc3339(iso).unwrap().to_utc();
    serde_json::json!([
        at.year(),
        at.month(),
        at.day(),
        at.hour(),
        at.minute(),
        at.second() / 2 * 2
    ])
}

/// Extracts the zip with Info-ZIP's `unzip` and checks that every extracted file has
/// mode 0644, so that any user, not only root, can read it.
async fn assert_unzip_keeps_modes(zip_path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    let out = tempfile::tempdir().unwrap();
    let status = tokio::process::Command::new("unzip")
        .arg("-q")
        .arg(zip_path)
        .arg("-d")
        .arg(out.path())
        .status()
        .await
        .expect("running unzip (install Debian's unzip package)");
    assert!(status.success(), "unzip failed: {status}");
    let mut checked = 0;
    let mut dirs = vec![out.path().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for item in std::fs::read_dir(&dir).unwrap() {
            let item = item.unwrap();
            let meta = item.metadata().unwrap();
            if meta.is_dir() {
                dirs.push(item.path());
            } else {
                assert_eq!(
                    meta.permissions().mode() & 0o777,
                    0o644,
                    "{}",
                    item.path().display()
                );
                checked += 1;
            }
        }
    }
    assert_eq!(checked, 3, "two files and the manifest extracted");
}

#[tokio::test]
async fn export_contains_files_and_manifest() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let steps = api.upload(&api.access_token, "steps.csv", b"1,2,3").await;
    let sleep = api
        .upload(&api.access_token, "../sleep log.txt", b"slept well")
        .await;
    reqwest::get(project_download_url(&api, steps).await)
        .await
        .unwrap();

    let (status, html) = page(&api.setup.browser, &app.url(EXPORT)).await;
    assert_eq!(status, 200);
    assert!(!html.contains("data-state="), "no export yet");
    let response = post_form(&api.setup.browser, &app.url(EXPORT)).await;
    assert_eq!(response.status(), 303);
    wait_for_state(&api, "ready").await;

    let email = wait_for_email(&app.outbox_dir(), &api.setup.member.email).await;
    assert!(
        email.subject.contains("export is ready"),
        "{}",
        email.subject
    );
    let link = find_link(&email.body, "/member/me/export/download/").expect("a download link");
    assert_eq!(link, app.url("/member/me/export/download/"));

    // The owner's session receives the zip itself; there is no bearer link to leak.
    let response = api.setup.browser.get(&link).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/zip");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let dir = tempfile::tempdir().unwrap();
    let zip_path = dir.path().join("export.zip");
    save_body(response, &zip_path).await;
    let export = exports::latest_for_member(&app.state.db, api.setup.member.id)
        .await
        .unwrap()
        .unwrap();
    let stored = app
        .state
        .storage
        .read(export.storage_key.as_deref().unwrap(), None)
        .await
        .unwrap()
        .unwrap();
    let mut stored_bytes = Vec::new();
    let mut stream = stored.stream;
    while let Some(chunk) = stream.next().await {
        stored_bytes.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(
        std::fs::read(&zip_path).unwrap(),
        stored_bytes,
        "the download is the stored zip, byte for byte"
    );

    let zip = read_zip(&zip_path).await;
    let manifest = &zip.manifest;
    let files = manifest["files"].as_array().unwrap();
    assert_eq!(files.len(), 2);
    for (id, bytes) in [(steps, &b"1,2,3"[..]), (sleep, &b"slept well"[..])] {
        let entry = files.iter().find(|f| f["id"] == id).unwrap();
        assert_eq!(entry["included"], true);
        assert_eq!(entry["source"]["name"], "Step Study");
        assert_eq!(entry["metadata"]["description"], "Daily steps");
        let path = entry["path"].as_str().unwrap();
        assert!(!path.contains(".."), "{path}");
        assert_eq!(zip.entries[path]["sha256"], sha256(bytes), "{path}");
    }
    assert_eq!(zip.entries.len(), 3, "two files and the manifest");
    // Every entry is a regular file readable by all, dated when its file was uploaded
    // and the manifest when the export was built.
    for (path, entry) in &zip.entries {
        assert_eq!(entry["mode"], 0o100_644, "{path}: {entry}");
    }
    for file in files {
        let path = file["path"].as_str().unwrap();
        assert_eq!(
            zip.entries[path]["date_time"],
            zip_date(file["created"].as_str().unwrap()),
            "{path}"
        );
    }
    assert_eq!(
        zip.entries["manifest.json"]["date_time"],
        zip_date(manifest["generated_at"].as_str().unwrap())
    );
    assert_unzip_keeps_modes(&zip_path).await;
    assert_eq!(manifest["username"], api.setup.member.username);
    let membership = &manifest["memberships"][0];
    assert_eq!(membership["project_member_id"], api.project_member_id);
    assert_eq!(membership["granted"]["message_permission"], true);
    assert_eq!(membership["history"][0]["event"], "authorized");
    let log = manifest["access_log"].as_array().unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["file_id"], steps);
    assert_eq!(log[0]["downloaded_by"]["project"]["name"], "Step Study");
}

#[tokio::test]
async fn one_export_at_a_time() {
    let app = crate::support::TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let browser = fixtures::logged_in_client(&app, member.id).await;
    // An export queued without a job stays queued, as one waiting for a busy worker.
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    let queued = exports::insert_queued(&mut conn, member.id, app.clock().now())
        .await
        .unwrap();
    assert!(queued.is_some());
    drop(conn);

    let second = post_form(&browser, &app.url(EXPORT)).await;
    assert_eq!(second.status(), 303);
    let (_, html) = page(&browser, &app.url(EXPORT)).await;
    assert!(html.contains("already being built"), "{html}");
    assert!(html.contains("data-state=\"queued\""), "{html}");
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM exports")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
    let (status, _) = page(&browser, &app.url("/member/me/export/download/")).await;
    assert_eq!(status, 404, "a queued export cannot be downloaded");
}

#[tokio::test]
async fn other_member_cannot_download() {
    let api = ApiSetup::new().await;
    let app = api.app();
    api.upload(&api.access_token, "steps.csv", b"1,2,3").await;
    post_form(&api.setup.browser, &app.url(EXPORT)).await;
    wait_for_state(&api, "ready").await;

    let stranger = fixtures::create_member(app, "stranger").await;
    let other = fixtures::logged_in_client(app, stranger.id).await;
    let (status, _) = page(&other, &app.url("/member/me/export/download/")).await;
    assert_eq!(status, 404);
    let (status, html) = page(&other, &app.url(EXPORT)).await;
    assert_eq!(status, 200);
    assert!(!html.contains("data-state="), "{html}");

    let response = app
        .new_client()
        .get(app.url("/member/me/export/download/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        303,
        "anonymous visitors are sent to log in"
    );
    assert!(
        response.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/account/login/")
    );
    let (status, _) = page(&api.setup.browser, &app.url("/member/me/export/download/")).await;
    assert_eq!(status, 200, "the owner still downloads it");
    // No URL outside the session serves an export.
    let old_link = app
        .new_client()
        .get(app.url(&format!("/export/{}/", export_id(&api).await)))
        .send()
        .await
        .unwrap();
    assert_eq!(old_link.status(), 404);
}

async fn export_id(api: &ApiSetup) -> i64 {
    exports::latest_for_member(&api.app().state.db, api.setup.member.id)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn expired_export_is_removed() {
    let api = ApiSetup::new().await;
    let app = api.app();
    api.upload(&api.access_token, "steps.csv", b"1,2,3").await;
    post_form(&api.setup.browser, &app.url(EXPORT)).await;
    wait_for_state(&api, "ready").await;
    let export = exports::latest_for_member(&app.state.db, api.setup.member.id)
        .await
        .unwrap()
        .unwrap();
    let key = export.storage_key.clone().unwrap();
    assert!(app.state.storage.size(&key).await.unwrap().is_some());
    app.clock().advance(DAY - HOUR);
    openhumans::jobs::clean_up(&app.state).await.unwrap();
    assert!(
        exports::find_by_id(&app.state.db, export.id)
            .await
            .unwrap()
            .is_some(),
        "kept for 24 hours"
    );
    let (status, _) = page(&api.setup.browser, &app.url("/member/me/export/download/")).await;
    assert_eq!(status, 200, "downloadable until it expires");

    app.clock().advance(2 * HOUR);
    let (_, html) = page(&api.setup.browser, &app.url(EXPORT)).await;
    assert!(html.contains("data-state=\"expired\""), "{html}");
    let (status, _) = page(&api.setup.browser, &app.url("/member/me/export/download/")).await;
    assert_eq!(status, 404);
    openhumans::jobs::clean_up(&app.state).await.unwrap();
    assert!(
        exports::find_by_id(&app.state.db, export.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.state.storage.size(&key).await.unwrap(), None);
}

#[tokio::test]
async fn account_deletion_returns_export_key() {
    let api = ApiSetup::new().await;
    let app = api.app();
    api.upload(&api.access_token, "steps.csv", b"1,2,3").await;
    post_form(&api.setup.browser, &app.url(EXPORT)).await;
    wait_for_state(&api, "ready").await;
    let export = exports::latest_for_member(&app.state.db, api.setup.member.id)
        .await
        .unwrap()
        .unwrap();

    let mut tx = app.state.db.begin_write().await.unwrap();
    let keys = openhumans::db::accounts::delete_member(&mut tx, api.setup.member.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(
        keys.contains(&export.storage_key.unwrap()),
        "the export's object is deleted with the account: {keys:?}"
    );
    assert!(
        exports::find_by_id(&app.state.db, export.id)
            .await
            .unwrap()
            .is_none()
    );
}

/// On S3 the owner is redirected to a presigned URL of the zip that expires after one
/// minute. No other visitor gets one.
#[tokio::test]
async fn s3_download_redirects_briefly() {
    let s3 = crate::support::s3::S3Server::start().await;
    let app = crate::support::TestApp::builder()
        .with(s3.configure())
        .spawn()
        .await;
    let member = fixtures::create_member(&app, "ada").await;
    let browser = fixtures::logged_in_client(&app, member.id).await;
    let now = app.clock().now();
    let bytes = b"PK not really a zip".to_vec();
    let key = format!("exports/{}/1-test.zip", member.id);
    app.state
        .storage
        .put(&key, bytes.clone().into())
        .await
        .unwrap();
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    let id = exports::insert_queued(&mut conn, member.id, now)
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    assert!(
        exports::mark_building(&app.state.db, id, now)
            .await
            .unwrap()
    );
    let mut tx = app.state.db.begin_write().await.unwrap();
    let size = bytes.len() as i64;
    assert!(
        exports::mark_ready(&mut tx, id, &key, size, now + DAY, now)
            .await
            .unwrap()
    );
    tx.commit().await.unwrap();

    let response = browser
        .get(app.url("/member/me/export/download/"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&s3.endpoint), "{location}");
    assert!(location.contains("X-Amz-Expires=60"), "{location}");
    let fetched = app.new_client().get(&location).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), &bytes[..]);

    let stranger = fixtures::create_member(&app, "stranger").await;
    let other = fixtures::logged_in_client(&app, stranger.id).await;
    let (status, _) = page(&other, &app.url("/member/me/export/download/")).await;
    assert_eq!(status, 404);
    let anonymous = app
        .new_client()
        .get(app.url("/member/me/export/download/"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303);
    let login = anonymous.headers()["location"].to_str().unwrap();
    assert!(login.starts_with("/account/login/"), "{login}");
}
