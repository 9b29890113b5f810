//! Attacks on member files: completing another member's upload, stretching a
//! download URL past its hour or onto another file, file names that climb out of the
//! storage directory, and MD5 values that only contain a checksum somewhere.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use openhumans::clock::{HOUR, MINUTE};
use openhumans::db::files;
use serde_json::Value;

use crate::api::{API, ApiSetup, METADATA};
use crate::oauth2::{make_active_member, membership};
use crate::support::files_under;
use crate::withdrawal::count_rows;

/// Every table of the schema, to show that a request writes no row anywhere.
const TABLES: [&str; 29] = [
    "members",
    "sessions",
    "email_tokens",
    "rate_events",
    "projects",
    "requested_sources",
    "jobs",
    "job_attempts",
    "memberships",
    "membership_sources",
    "membership_events",
    "oauth2_codes",
    "oauth2_grants",
    "oauth2_access_tokens",
    "oauth2_refresh_tokens",
    "datatypes",
    "project_datatypes",
    "data_files",
    "data_file_datatypes",
    "download_log",
    "withdrawals",
    "webhook_deliveries",
    "webhook_attempts",
    "messages",
    "message_recipients",
    "project_approvals",
    "approval_events",
    "exports",
    "disabled_webhooks",
];

#[tokio::test]
async fn other_members_upload_cannot_be_completed() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let second = crate::support::fixtures::create_member(app, "second").await;
    make_active_member(app, api.project_id(), second.id).await;
    let second_pmid = membership(app, api.project_id(), second.id)
        .await
        .unwrap()
        .project_member_id;
    let first_pmid = api.project_member_id.clone();
    let started: Value = start(&api, &first_pmid, "steps.csv", METADATA)
        .await
        .json()
        .await
        .unwrap();
    let id = started["id"].as_i64().unwrap();
    let put = reqwest::Client::new()
        .put(started["url"].as_str().unwrap())
        .body("hello")
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 200);

    let stolen = complete(&api, &second_pmid, id).await;

    assert_eq!(stolen.status(), 400);
    assert_eq!(
        stolen.json::<Value>().await.unwrap()["detail"],
        "file does not exist"
    );
    let file = files::find_by_id(&app.state.db, id).await.unwrap().unwrap();
    assert!(!file.completed, "the file is still incomplete");
    assert_eq!(file.member_id, api.setup.member.id);
    let listed: Value = api
        .get(
            "exchange-member/",
            &api.master_token,
            &[("project_member_id", &second_pmid)],
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed["count"], 0, "the second member got no file");
    assert_eq!(complete(&api, &first_pmid, id).await.status(), 200);
}

#[tokio::test]
async fn download_url_lives_one_hour_for_one_file() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let first = api
        .upload(&api.access_token, "first.csv", b"first file")
        .await;
    let second = api.upload(&api.access_token, "second.csv", b"second").await;
    let pmid = api.project_member_id.clone();
    let rows_before = row_counts(&api).await;

    let mut listing = Value::Null;
    for _ in 0..3 {
        listing = api
            .get(
                "exchange-member/",
                &api.master_token,
                &[("project_member_id", &pmid)],
            )
            .await
            .json()
            .await
            .unwrap();
    }

    assert_eq!(
        row_counts(&api).await,
        rows_before,
        "listing stores nothing"
    );
    let link = download_url(&listing, first);
    let other_link = download_url(&listing, second);
    assert!(!link.contains(&api.master_token));
    assert!(!link.contains(&api.access_token));

    // Reusable within the hour, and every download is logged.
    for _ in 0..2 {
        let response = reqwest::get(&link).await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.bytes().await.unwrap().as_ref(), b"first file");
    }
    assert_eq!(downloads(&api).await, 2);

    // The signed value names one file, one project and one expiry.
    let token = link.trim_end_matches('/').rsplit('/').next().unwrap();
    let (value, signature) = token.rsplit_once('.').unwrap();
    let other_signature = other_link.trim_end_matches('/').rsplit_once('.').unwrap().1;
    let parts: Vec<&str> = value.splitn(3, '-').collect();
    let (project, expires_at) = (parts[1], parts[2].parse::<i64>().unwrap());
    let other_project = crate::support::fixtures::create_project(
        app,
        api.setup.coordinator.id,
        &crate::support::fixtures::project_config("Other", "https://other.example/cb"),
    )
    .await;
    make_active_member(app, other_project.id, api.setup.member.id).await;
    for forged in [
        format!("{second}-{project}-{expires_at}.{signature}"),
        format!("{first}-{project}-{}.{signature}", expires_at + HOUR),
        format!("{first}-p{}-{expires_at}.{signature}", other_project.id),
        format!("{value}.{other_signature}"),
    ] {
        let response = reqwest::get(app.url(&format!("/download/{forged}/")))
            .await
            .unwrap();
        assert_eq!(response.status(), 403, "{forged}");
    }
    assert_eq!(
        downloads(&api).await,
        2,
        "rejected downloads are not logged"
    );

    app.clock().advance(HOUR - MINUTE);
    assert_eq!(reqwest::get(&link).await.unwrap().status(), 200);
    app.clock().advance(2 * MINUTE);
    let expired = reqwest::get(&link).await.unwrap();
    assert_eq!(expired.status(), 403);
    assert!(expired.text().await.unwrap().contains("expired"));
    assert_eq!(downloads(&api).await, 3);
}

#[tokio::test]
async fn upload_names_stay_inside_storage() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let pmid = api.project_member_id.clone();
    let prefix = format!("member-files/direct-sharing-{}/", api.project_id());
    let cases = [
        ("../../escape.txt", "escape.txt", "escape.txt"),
        ("..\\..\\escape.txt", "escape.txt", "escape.txt"),
        ("/etc/passwd", "passwd", "passwd"),
        ("sub/dir/my data.csv", "my data.csv", "my_data.csv"),
        ("..hidden", "..hidden", "hidden"),
    ];
    let mut random_parts = HashSet::new();

    for (filename, basename, key_name) in cases {
        let started: Value = start(&api, &pmid, filename, METADATA)
            .await
            .json()
            .await
            .unwrap();
        let id = started["id"].as_i64().unwrap();
        reqwest::Client::new()
            .put(started["url"].as_str().unwrap())
            .body(filename.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(complete(&api, &pmid, id).await.status(), 200, "{filename}");

        let file = files::find_by_id(&app.state.db, id).await.unwrap().unwrap();
        assert_eq!(file.basename, basename, "{filename}");
        let rest = file.storage_key.strip_prefix(&prefix).expect("the prefix");
        let (random, name) = rest.split_once('/').expect("a random directory");
        assert_eq!(name, key_name, "{filename}");
        assert_eq!(random.len(), 16, "{filename}");
        assert!(random.chars().all(|c| c.is_ascii_alphanumeric()));
        assert!(random_parts.insert(random.to_string()), "a fresh directory");
        let stored = app.state.storage.get(&file.storage_key).await.unwrap();
        assert_eq!(stored.as_deref(), Some(filename.as_bytes()));
    }
    for name in ["escape.txt", "passwd"] {
        let found = files_named(app.dir.path(), name);
        assert!(!found.is_empty(), "no stored file is called {name}");
        for path in found {
            let path = path.to_string_lossy();
            assert!(
                path.contains(&prefix),
                "{path} is outside the project's keys"
            );
        }
    }

    let before = count_rows(app, "data_files", api.project_id()).await;
    for filename in ["..", ".", "dir/", "a\nb.txt", "a\u{0}b.txt", "tab\t.txt"] {
        let response = start(&api, &pmid, filename, METADATA).await;

        assert_eq!(response.status(), 400, "{filename:?}");
        let body: Value = response.json().await.unwrap();
        assert!(body["filename"].is_array(), "{filename:?}: {body}");
    }
    assert_eq!(
        count_rows(app, "data_files", api.project_id()).await,
        before
    );
}

#[tokio::test]
async fn md5_must_be_exactly_32_hex_digits() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let pmid = api.project_member_id.clone();
    let hex = "0123456789abcdef0123456789abcdef";

    for md5 in [
        "g".repeat(32),
        format!("x{hex}"),
        format!("{hex}0"),
        format!("{hex}\n"),
        format!(" {hex}"),
        format!("{}z", &hex[..31]),
        format!("md5={hex}"),
    ] {
        let metadata = serde_json::json!({"description": "d", "tags": [], "md5": md5});
        let metadata = metadata.to_string();

        let direct = start(&api, &pmid, "a.txt", &metadata).await;
        let form = reqwest::multipart::Form::new()
            .text("metadata", metadata.clone())
            .part(
                "data_file",
                reqwest::multipart::Part::bytes(b"a".to_vec()).file_name("a.txt"),
            );
        let multipart = reqwest::Client::new()
            .post(app.url(&format!("{API}files/upload/")))
            .query(&[("access_token", &api.access_token)])
            .multipart(form)
            .send()
            .await
            .unwrap();

        for (kind, response) in [("direct", direct), ("multipart", multipart)] {
            assert_eq!(response.status(), 400, "{kind} {md5:?}");
            let body: Value = response.json().await.unwrap();
            let message = body["metadata"][0].as_str().unwrap_or_default();
            assert!(message.contains("md5"), "{kind} {md5:?}: {body}");
        }
    }
    assert_eq!(count_rows(app, "data_files", api.project_id()).await, 0);

    let upper = serde_json::json!({"description": "d", "tags": [], "md5": hex.to_uppercase()});
    let accepted = start(&api, &pmid, "a.txt", &upper.to_string()).await;
    assert_eq!(
        accepted.status(),
        201,
        "32 hex digits in either case are valid"
    );
}

/// Starts a direct upload for `pmid` with the master token.
async fn start(api: &ApiSetup, pmid: &str, filename: &str, metadata: &str) -> reqwest::Response {
    api.post(
        "files/upload/direct/",
        &api.master_token,
        &[
            ("project_member_id", pmid),
            ("metadata", metadata),
            ("filename", filename),
        ],
    )
    .await
}

/// Completes direct upload `file_id` for `pmid` with the master token.
async fn complete(api: &ApiSetup, pmid: &str, file_id: i64) -> reqwest::Response {
    let file_id = file_id.to_string();
    api.post(
        "files/upload/complete/",
        &api.master_token,
        &[("project_member_id", pmid), ("file_id", &file_id)],
    )
    .await
}

/// Returns the `download_url` of file `id` in an exchange-member listing.
fn download_url(listing: &Value, id: i64) -> String {
    listing["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|file| file["id"] == id)
        .and_then(|file| file["download_url"].as_str())
        .expect("the file is listed with a download URL")
        .to_string()
}

/// Counts the downloads logged for the setup's member.
async fn downloads(api: &ApiSetup) -> i64 {
    files::count_downloads(&api.app().state.db, api.setup.member.id)
        .await
        .unwrap()
}

/// Counts the rows of every table.
async fn row_counts(api: &ApiSetup) -> Vec<(&'static str, i64)> {
    let mut counts = Vec::new();
    for table in TABLES {
        let (count,): (i64,) =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&api.app().state.db.pool)
                .await
                .unwrap();
        counts.push((table, count));
    }
    counts
}

/// Lists the files called `name` anywhere below `dir`.
fn files_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|path| path.file_name().is_some_and(|file| file == name))
        .collect()
}
