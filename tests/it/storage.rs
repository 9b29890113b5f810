//! Signed upload and download URLs, on local storage and on a real S3 server, and the
//! clean-up of uploads that were never completed.

use std::time::Duration;

use openhumans::clock::{DAY, HOUR, MINUTE};
use openhumans::db::files::{self, MemberFileWrite, NewDataFile};
use openhumans::http::storage::{mint_download_url, mint_upload_url};
use rand::RngCore;

use crate::support::s3::S3Server;
use crate::support::{TestApp, eventually, fixtures};

/// A member, a project and one incomplete direct-upload file row.
struct UploadFixture {
    member_id: i64,
    project_id: i64,
    file_id: i64,
    storage_key: String,
}

async fn upload_fixture(app: &TestApp) -> UploadFixture {
    let member = fixtures::create_member(app, "uploader").await;
    let coordinator = fixtures::create_member(app, "coordinator").await;
    let project = fixtures::create_project(
        app,
        coordinator.id,
        &fixtures::project_config("Step Study", "https://example.org/callback"),
    )
    .await;
    // Links minted for a project work only while the member shares data with it.
    crate::oauth2::make_active_member(app, project.id, member.id).await;
    let file_id = insert_file(app, member.id, project.id, false).await;
    let file = files::find_by_id(&app.state.db, file_id)
        .await
        .unwrap()
        .unwrap();
    UploadFixture {
        member_id: member.id,
        project_id: project.id,
        file_id,
        storage_key: file.storage_key,
    }
}

async fn insert_file(app: &TestApp, member_id: i64, project_id: i64, completed: bool) -> i64 {
    let random = openhumans::crypto::random_token(16);
    let key = openhumans::domain::files::storage_key(project_id, &random, "steps 2024.csv");
    files::insert(
        &app.state.db,
        &NewDataFile {
            member_id,
            project_id,
            storage_key: &key,
            basename: "steps 2024.csv",
            metadata: r#"{"description": "Steps", "tags": ["steps"]}"#,
            completed,
            size: None,
            md5: None,
            datatype_ids: &[],
        },
        app.clock().now(),
    )
    .await
    .expect("inserting a file")
}

fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(bytes))
}

fn random_bytes(len: usize) -> Vec<u8> {
    let mut bytes = vec![0u8; len];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

/// Marks the fixture's file completed, as the completion endpoint will.
async fn complete(app: &TestApp, file_id: i64, size: usize) {
    let written =
        files::mark_completed(&app.state.db, file_id, size as i64, None, app.clock().now())
            .await
            .unwrap();
    assert_eq!(written, MemberFileWrite::Written);
}

#[tokio::test]
async fn upload_records_metadata_md5() {
    let app = TestApp::spawn().await;
    let fixture = upload_fixture(&app).await;
    let bytes = random_bytes(200_000);
    let metadata = format!(
        r#"{{"description": "Steps", "tags": ["steps"], "md5": "{}"}}"#,
        md5_hex(&bytes)
    );
    let key = openhumans::domain::files::storage_key(fixture.project_id, "checked", "steps.csv");
    let file_id = files::insert(
        &app.state.db,
        &NewDataFile {
            member_id: fixture.member_id,
            project_id: fixture.project_id,
            storage_key: &key,
            basename: "steps.csv",
            metadata: &metadata,
            completed: false,
            size: None,
            md5: None,
            datatype_ids: &[],
        },
        app.clock().now(),
    )
    .await
    .unwrap();
    let url = mint_upload_url(&app.state, file_id, app.clock().now())
        .await
        .unwrap();

    let response = app
        .client
        .put(&url)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let file = files::find_by_id(&app.state.db, file_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(file.md5, Some(md5_hex(&bytes)));
}

#[tokio::test]
async fn upload_url_accepts_exactly_one_put() {
    let app = TestApp::spawn().await;
    let fixture = upload_fixture(&app).await;
    let url = mint_upload_url(&app.state, fixture.file_id, app.clock().now())
        .await
        .unwrap();
    assert!(url.starts_with(&app.url("/upload/")), "{url}");
    let bytes = random_bytes(300_000);

    // No token header and no Content-Type, as ohapi sends it.
    let response = app
        .client
        .put(&url)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "");
    let stored = app.state.storage.get(&fixture.storage_key).await.unwrap();
    assert_eq!(stored.as_deref(), Some(&bytes[..]));
    let file = files::find_by_id(&app.state.db, fixture.file_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(file.size, Some(300_000));
    assert_eq!(file.md5, None, "the metadata gives no md5 to check");
    assert!(file.uploaded_at.is_some());
    assert!(!file.completed, "completion is a separate call");

    let second = app.client.put(&url).body("other").send().await.unwrap();
    assert_eq!(second.status(), 409);
    let stored = app.state.storage.get(&fixture.storage_key).await.unwrap();
    assert_eq!(
        stored.as_deref(),
        Some(&bytes[..]),
        "the first upload is kept"
    );
}

#[tokio::test]
async fn upload_kept_when_client_leaves_early() {
    upload_kept_when_client_leaves(3 * 1024 * 1024).await;
}

#[tokio::test]
async fn small_upload_kept_when_client_leaves_at_once() {
    // The close arrives with the body, before the handler has read it.
    upload_kept_when_client_leaves(4 * 1024).await;
}

/// Sends a PUT of `size` bytes in one write and closes the connection without reading
/// the response: the upload must still be stored and recorded.
async fn upload_kept_when_client_leaves(size: usize) {
    use tokio::io::AsyncWriteExt;

    let app = TestApp::spawn().await;
    let fixture = upload_fixture(&app).await;
    let url = mint_upload_url(&app.state, fixture.file_id, app.clock().now())
        .await
        .unwrap();
    let url = reqwest::Url::parse(&url).unwrap();
    let bytes = random_bytes(size);

    let mut socket = tokio::net::TcpStream::connect((url.host_str().unwrap(), url.port().unwrap()))
        .await
        .unwrap();
    let mut request = format!(
        "PUT {} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
        url.path(),
        url.host_str().unwrap(),
        bytes.len()
    )
    .into_bytes();
    request.extend_from_slice(&bytes);
    socket.write_all(&request).await.unwrap();
    drop(socket);

    let file = eventually(Duration::from_secs(10), "the upload's record", || async {
        files::find_by_id(&app.state.db, fixture.file_id)
            .await
            .unwrap()
            .filter(|file| file.uploaded_at.is_some())
    })
    .await;
    assert_eq!(file.size, Some(bytes.len() as i64));
    let stored = app.state.storage.get(&fixture.storage_key).await.unwrap();
    assert!(
        stored.as_deref() == Some(&bytes[..]),
        "the bytes are stored"
    );
    complete(&app, fixture.file_id, bytes.len()).await;
}

/// Starts a PUT of 2000 bytes to the fixture's upload URL, sends the first 1000, and
/// returns once the upload is claimed, with the sender of the rest.
async fn start_claimed_put(
    app: &TestApp,
    fixture: &UploadFixture,
) -> (
    tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let url = mint_upload_url(&app.state, fixture.file_id, app.clock().now())
        .await
        .unwrap();
    let (parts, put) = put_in_parts(app, &url);
    parts.send(Ok(vec![1; 1000])).await.unwrap();
    eventually(Duration::from_secs(10), "the upload's claim", || async {
        files::find_by_id(&app.state.db, fixture.file_id)
            .await
            .unwrap()
            .and_then(|file| file.upload_started_at)
    })
    .await;
    (parts, put)
}

/// Starts a PUT of 2000 bytes to `url` whose body sends what the returned sender
/// passes to it, and ends when the sender is dropped.
fn put_in_parts(
    app: &TestApp,
    url: &str,
) -> (
    tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
    tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
) {
    let (parts, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Vec<u8>>>(1);
    let body = futures_util::stream::unfold(receiver, |mut receiver| async {
        receiver.recv().await.map(|part| (part, receiver))
    });
    let put = app
        .client
        .put(url)
        .header("content-length", "2000")
        .body(reqwest::Body::wrap_stream(body))
        .send();
    (parts, tokio::spawn(put))
}

#[tokio::test]
async fn stalled_upload_times_out() {
    let app = TestApp::builder()
        .with(|settings| settings.request_timeout_seconds = 1)
        .spawn()
        .await;
    let fixture = upload_fixture(&app).await;
    let url = mint_upload_url(&app.state, fixture.file_id, app.clock().now())
        .await
        .unwrap();
    let (parts, put) = put_in_parts(&app, &url);

    // Half of the body, then nothing while the connection stays open.
    parts.send(Ok(vec![1; 1000])).await.unwrap();
    let response = put.await.unwrap().unwrap();

    assert_eq!(response.status(), 408);
    assert!(
        response.text().await.unwrap().contains("same URL"),
        "the message says what to do"
    );
    drop(parts);
    let retry = app
        .client
        .put(&url)
        .body(vec![3; 2000])
        .send()
        .await
        .unwrap();
    assert_eq!(retry.status(), 200, "the link can be used again");
}

#[tokio::test]
async fn upload_of_deleted_file_is_discarded() {
    let app = TestApp::spawn().await;
    let fixture = upload_fixture(&app).await;
    let (parts, put) = start_claimed_put(&app, &fixture).await;
    // As when the member leaves the project with their data erased mid-upload.
    files::delete(&app.state.db, fixture.file_id).await.unwrap();
    parts.send(Ok(vec![2; 1000])).await.unwrap();
    drop(parts);

    let response = put.await.unwrap().unwrap();
    assert_eq!(response.status(), 404);
    assert!(
        response.text().await.unwrap().contains("deleted"),
        "the message says why"
    );
    assert_eq!(
        app.state.storage.size(&fixture.storage_key).await.unwrap(),
        None,
        "no object is left without its file"
    );
}

#[tokio::test]
async fn upload_after_member_left_is_discarded() {
    let app = TestApp::spawn().await;
    let fixture = upload_fixture(&app).await;
    let (parts, put) = start_claimed_put(&app, &fixture).await;
    // The member leaves and keeps the project's files: the row stays.
    crate::oauth2::withdraw_member(&app, fixture.project_id, fixture.member_id).await;
    parts.send(Ok(vec![2; 1000])).await.unwrap();
    drop(parts);

    let response = put.await.unwrap().unwrap();
    assert_eq!(response.status(), 403);
    assert!(
        response.text().await.unwrap().contains("left the project"),
        "the message says why"
    );
    assert_eq!(
        app.state.storage.size(&fixture.storage_key).await.unwrap(),
        None,
        "none of the bytes are kept"
    );
    let file = files::find_by_id(&app.state.db, fixture.file_id)
        .await
        .unwrap()
        .unwrap();
    // So completing it fails with "file not present", even if the member joins again.
    assert_eq!(file.uploaded_at, None, "the upload is not recorded");
}

#[tokio::test]
async fn upload_url_tampered_or_expired_is_403() {
    let app = TestApp::spawn().await;
    let fixture = upload_fixture(&app).await;
    let url = mint_upload_url(&app.state, fixture.file_id, app.clock().now())
        .await
        .unwrap();

    let token = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let (value, tag) = token.split_once('.').unwrap();
    let other_file = value.replacen(&fixture.file_id.to_string(), "999", 1);
    let tampered = app.url(&format!("/upload/{other_file}.{tag}/"));
    let response = app.client.put(&tampered).body("x").send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert!(response.text().await.unwrap().contains("not valid"));

    let garbage = app
        .client
        .put(app.url("/upload/garbage/"))
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(garbage.status(), 403);

    app.clock().advance(6 * HOUR + MINUTE);
    let expired = app.client.put(&url).body("x").send().await.unwrap();
    assert_eq!(expired.status(), 403);
    assert!(expired.text().await.unwrap().contains("expired"));
    assert_eq!(
        app.state.storage.get(&fixture.storage_key).await.unwrap(),
        None
    );
}

#[tokio::test]
async fn upload_over_limit_is_413_and_keeps_nothing() {
    let app = TestApp::builder()
        .with(|settings| settings.max_upload_bytes = 100_000)
        .spawn()
        .await;
    let fixture = upload_fixture(&app).await;
    let url = mint_upload_url(&app.state, fixture.file_id, app.clock().now())
        .await
        .unwrap();

    // Announced too large: rejected before any byte is read.
    let announced = app
        .client
        .put(&url)
        .body(random_bytes(100_001))
        .send()
        .await
        .unwrap();
    assert_eq!(announced.status(), 413);

    // Streamed without a length: rejected once the limit is passed.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..30).map(|_| Ok(random_bytes(10_000))).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    let streamed = app.client.put(&url).body(body).send().await.unwrap();
    assert_eq!(streamed.status(), 413);
    assert_eq!(
        app.state.storage.get(&fixture.storage_key).await.unwrap(),
        None
    );

    // The URL still works for a body within the limit.
    let bytes = random_bytes(100_000);
    let ok = app
        .client
        .put(&url)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 200);
    let stored = app.state.storage.get(&fixture.storage_key).await.unwrap();
    assert_eq!(stored.as_deref(), Some(&bytes[..]));
}

#[tokio::test]
async fn download_url_serves_bytes_and_ranges() {
    let app = TestApp::spawn().await;
    let fixture = upload_fixture(&app).await;
    let bytes = random_bytes(5_000);
    let upload = mint_upload_url(&app.state, fixture.file_id, app.clock().now())
        .await
        .unwrap();
    app.client
        .put(&upload)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    complete(&app, fixture.file_id, bytes.len()).await;
    let url = mint_download_url(
        &app.state,
        fixture.file_id,
        Some(fixture.project_id),
        app.clock().now(),
    );

    let full = app.client.get(&url).send().await.unwrap();
    assert_eq!(full.status(), 200);
    assert_eq!(full.headers()["content-length"], "5000");
    assert_eq!(full.headers()["accept-ranges"], "bytes");
    assert!(
        full.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("filename=\"steps 2024.csv\"")
    );
    assert_eq!(full.bytes().await.unwrap().as_ref(), &bytes[..]);

    let partial = app
        .client
        .get(&url)
        .header("range", "bytes=10-19")
        .send()
        .await
        .unwrap();
    assert_eq!(partial.status(), 206);
    assert_eq!(partial.headers()["content-range"], "bytes 10-19/5000");
    assert_eq!(partial.headers()["content-length"], "10");
    assert_eq!(partial.bytes().await.unwrap().as_ref(), &bytes[10..20]);

    let suffix = app
        .client
        .get(&url)
        .header("range", "bytes=-100")
        .send()
        .await
        .unwrap();
    assert_eq!(suffix.status(), 206);
    assert_eq!(suffix.bytes().await.unwrap().as_ref(), &bytes[4_900..]);

    let outside = app
        .client
        .get(&url)
        .header("range", "bytes=6000-7000")
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 416);
    assert_eq!(outside.headers()["content-range"], "bytes */5000");
}

#[tokio::test]
async fn download_is_logged_without_tokens() {
    let app = TestApp::spawn().await;
    let fixture = upload_fixture(&app).await;
    let upload = mint_upload_url(&app.state, fixture.file_id, app.clock().now())
        .await
        .unwrap();
    app.client.put(&upload).body("hello").send().await.unwrap();
    complete(&app, fixture.file_id, 5).await;
    let url = mint_download_url(
        &app.state,
        fixture.file_id,
        Some(fixture.project_id),
        app.clock().now(),
    );

    let response = app.client.get(&url).send().await.unwrap();
    assert_eq!(response.status(), 200);

    let log = files::list_downloads(&app.state.db, fixture.member_id, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].file_id, fixture.file_id);
    assert_eq!(log[0].project_id, Some(fixture.project_id));
    assert_eq!(log[0].by_member, 0);
    assert_eq!(log[0].client_address, "127.0.0.1");
    assert_eq!(log[0].basename, "steps 2024.csv");

    // No column of the log contains the signed token or any part of it.
    let token = url.trim_end_matches('/').rsplit('/').next().unwrap();
    let signature = token.rsplit('.').next().unwrap();
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT CAST(id AS TEXT) || '|' || CAST(member_id AS TEXT) || '|' || \
         CAST(file_id AS TEXT) || '|' || basename || '|' || client_address || '|' || \
         CAST(at AS TEXT) FROM download_log",
    )
    .fetch_all(&app.state.db.pool)
    .await
    .unwrap();
    for (row,) in rows {
        assert!(!row.contains(signature), "{row}");
        assert!(!row.contains(token), "{row}");
    }
}

#[tokio::test]
async fn download_url_expired_tampered_or_incomplete_is_403() {
    let app = TestApp::spawn().await;
    let fixture = upload_fixture(&app).await;
    let incomplete = mint_download_url(&app.state, fixture.file_id, None, app.clock().now());
    let response = app.client.get(&incomplete).send().await.unwrap();
    assert_eq!(response.status(), 403, "an incomplete file is not served");

    let upload = mint_upload_url(&app.state, fixture.file_id, app.clock().now())
        .await
        .unwrap();
    app.client.put(&upload).body("hello").send().await.unwrap();
    complete(&app, fixture.file_id, 5).await;
    let url = mint_download_url(&app.state, fixture.file_id, None, app.clock().now());

    // An upload token is not a download token.
    let token = upload.trim_end_matches('/').rsplit('/').next().unwrap();
    let swapped = app
        .client
        .get(app.url(&format!("/download/{token}/")))
        .send()
        .await
        .unwrap();
    assert_eq!(swapped.status(), 403);

    app.clock().advance(HOUR + MINUTE);
    let expired = app.client.get(&url).send().await.unwrap();
    assert_eq!(expired.status(), 403);
    assert!(expired.text().await.unwrap().contains("expired"));
    let log = files::list_downloads(&app.state.db, fixture.member_id, 10)
        .await
        .unwrap();
    assert!(log.is_empty(), "refused downloads are not logged: {log:?}");
}

#[tokio::test]
async fn incomplete_upload_is_purged_after_a_day() {
    let app = TestApp::spawn().await;
    let fixture = upload_fixture(&app).await;
    let upload = mint_upload_url(&app.state, fixture.file_id, app.clock().now())
        .await
        .unwrap();
    app.client
        .put(&upload)
        .body("never completed")
        .send()
        .await
        .unwrap();
    let kept_id = insert_file(&app, fixture.member_id, fixture.project_id, true).await;
    let kept = files::find_by_id(&app.state.db, kept_id)
        .await
        .unwrap()
        .unwrap();
    app.state
        .storage
        .put(&kept.storage_key, bytes::Bytes::from_static(b"kept"))
        .await
        .unwrap();

    // Younger than a day: nothing is deleted.
    app.clock().advance(23 * HOUR);
    openhumans::jobs::clean_up(&app.state).await.unwrap();
    assert!(
        files::find_by_id(&app.state.db, fixture.file_id)
            .await
            .unwrap()
            .is_some()
    );

    app.clock().advance(HOUR + MINUTE);
    openhumans::jobs::clean_up(&app.state).await.unwrap();

    assert!(
        files::find_by_id(&app.state.db, fixture.file_id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.state.storage.get(&fixture.storage_key).await.unwrap(),
        None
    );
    assert!(
        files::find_by_id(&app.state.db, kept_id)
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        app.state
            .storage
            .get(&kept.storage_key)
            .await
            .unwrap()
            .as_deref(),
        Some(&b"kept"[..])
    );
}

#[tokio::test]
async fn s3_presigned_upload_and_redirected_download() {
    let s3 = S3Server::start().await;
    let app = TestApp::builder().with(s3.configure()).spawn().await;
    let fixture = upload_fixture(&app).await;
    let url = mint_upload_url(&app.state, fixture.file_id, app.clock().now())
        .await
        .unwrap();
    assert!(url.starts_with(&s3.endpoint), "a presigned S3 URL: {url}");
    let bytes = random_bytes(200_000);

    let response = app
        .client
        .put(&url)
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        app.state.storage.size(&fixture.storage_key).await.unwrap(),
        Some(200_000)
    );
    complete(&app, fixture.file_id, bytes.len()).await;

    let download = mint_download_url(
        &app.state,
        fixture.file_id,
        Some(fixture.project_id),
        app.clock().now(),
    );
    let redirect = app.client.get(&download).send().await.unwrap();
    assert_eq!(redirect.status(), 302);
    let location = redirect.headers()["location"].to_str().unwrap().to_string();
    assert!(location.starts_with(&s3.endpoint), "{location}");
    assert!(location.contains("X-Amz-Expires=300"), "{location}");

    let fetched = app.client.get(&location).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.headers()["content-length"], "200000");
    assert_eq!(fetched.bytes().await.unwrap().as_ref(), &bytes[..]);
    let log = files::list_downloads(&app.state.db, fixture.member_id, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
}

#[tokio::test]
async fn s3_incomplete_upload_object_is_purged() {
    let s3 = S3Server::start().await;
    let app = TestApp::builder().with(s3.configure()).spawn().await;
    let fixture = upload_fixture(&app).await;
    let url = mint_upload_url(&app.state, fixture.file_id, app.clock().now())
        .await
        .unwrap();
    app.client.put(&url).body("abandoned").send().await.unwrap();
    assert_eq!(
        app.state.storage.size(&fixture.storage_key).await.unwrap(),
        Some(9)
    );

    app.clock().advance(DAY + MINUTE);
    openhumans::jobs::clean_up(&app.state).await.unwrap();

    assert_eq!(
        app.state.storage.size(&fixture.storage_key).await.unwrap(),
        None
    );
    assert!(
        files::find_by_id(&app.state.db, fixture.file_id)
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn s3_streamed_put_stores_large_objects() {
    let s3 = S3Server::start().await;
    let storage = openhumans::blob::Storage::open_with(
        &format!("s3://{}", crate::support::s3::BUCKET),
        &s3.options(),
    )
    .unwrap();
    // Larger than one 5 MiB part, so the write goes through several parts.
    let bytes = random_bytes(11 * 1024 * 1024 + 7);
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = bytes
        .chunks(64 * 1024)
        .map(|chunk| Ok(bytes::Bytes::copy_from_slice(chunk)))
        .collect();

    let stored = storage
        .put_stream(
            "big/object.bin",
            futures_util::stream::iter(chunks),
            u64::MAX,
            true,
        )
        .await
        .unwrap();

    assert_eq!(stored.size, bytes.len() as u64);
    assert_eq!(stored.md5, Some(md5_hex(&bytes)));
    assert_eq!(
        storage.size("big/object.bin").await.unwrap(),
        Some(stored.size)
    );
    let read = storage
        .read("big/object.bin", Some(10..20))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.range, 10..20);
    assert_eq!(read.size, stored.size);
    let back = storage.get("big/object.bin").await.unwrap().unwrap();
    assert!(back.as_ref() == &bytes[..], "the object round-trips");
}
