//! The upload volume of a project per day, limited across two instances: starting a
//! direct upload, the PUT to its URL, and the multipart upload.

use openhumans::clock::{DAY, SECOND};
use openhumans::config::Settings;
use openhumans::db::files;
use serde_json::Value;

use super::{Pair, retry_after};
use crate::api::{API, ApiSetup, METADATA, master_token};
use crate::oauth2::Setup;
use crate::support::TestApp;
use crate::support::s3::S3Server;

const DAY_SECONDS: u64 = 86_400;

/// The project's master token and the member the test uploads for.
struct Uploader {
    token: String,
    project_member_id: String,
}

/// Creates a project on `app` with one member, returning the project and its uploader.
async fn project_on(app: TestApp) -> (ApiSetup, Uploader) {
    let api = ApiSetup::from_setup(Setup::on(app, |_| {}).await).await;
    let uploader = Uploader {
        token: api.master_token.clone(),
        project_member_id: api.project_member_id.clone(),
    };
    (api, uploader)
}

/// Starts a direct upload on `app`; returns the response.
async fn start(app: &TestApp, uploader: &Uploader) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url(&format!("{API}files/upload/direct/")))
        .query(&[("access_token", &uploader.token)])
        .form(&[
            ("project_member_id", uploader.project_member_id.as_str()),
            ("metadata", METADATA),
            ("filename", "steps.csv"),
        ])
        .send()
        .await
        .unwrap()
}

/// Starts a direct upload on `app` and returns the file id and its upload URL.
async fn start_ok(app: &TestApp, uploader: &Uploader) -> (i64, String) {
    let response = start(app, uploader).await;
    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
    let body: Value = response.json().await.unwrap();
    (
        body["id"].as_i64().unwrap(),
        body["url"].as_str().unwrap().to_string(),
    )
}

/// PUTs `bytes` with a `Content-Length` to an upload URL, sent to `app` whichever
/// instance minted the URL.
async fn put(app: &TestApp, url: &str, bytes: usize) -> reqwest::Response {
    reqwest::Client::new()
        .put(on(app, url))
        .body(vec![b'x'; bytes])
        .send()
        .await
        .unwrap()
}

/// PUTs `chunks` chunks of `chunk_bytes` each without a `Content-Length`.
async fn put_streamed(app: &TestApp, url: &str, chunks: usize, chunk_bytes: usize) -> u16 {
    let parts: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..chunks).map(|_| Ok(vec![b'x'; chunk_bytes])).collect();
    let body = reqwest::Body::wrap_stream(futures_util::stream::iter(parts));
    let response = reqwest::Client::new()
        .put(on(app, url))
        .body(body)
        .send()
        .await
        .unwrap();
    if response.status() == 429 {
        retry_after(&response, DAY_SECONDS);
    }
    response.status().as_u16()
}

async fn complete(app: &TestApp, uploader: &Uploader, file_id: i64) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url(&format!("{API}files/upload/complete/")))
        .query(&[("access_token", &uploader.token)])
        .form(&[
            ("project_member_id", uploader.project_member_id.clone()),
            ("file_id", file_id.to_string()),
        ])
        .send()
        .await
        .unwrap()
}

async fn multipart(app: &TestApp, uploader: &Uploader, bytes: usize) -> reqwest::Response {
    let form = reqwest::multipart::Form::new()
        .text("project_member_id", uploader.project_member_id.clone())
        .text("metadata", METADATA)
        .part(
            "data_file",
            reqwest::multipart::Part::bytes(vec![b'x'; bytes]).file_name("steps.csv"),
        );
    reqwest::Client::new()
        .post(app.url(&format!("{API}files/upload/")))
        .query(&[("access_token", &uploader.token)])
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// Moves a URL minted by either instance to `app`.
fn on(app: &TestApp, url: &str) -> String {
    let path = url.split_once("/upload/").expect("an upload URL").1;
    app.url(&format!("/upload/{path}"))
}

/// Checks that a rejected PUT left its file as it was: not claimed, no bytes recorded
/// and no object stored.
async fn assert_untouched(app: &TestApp, file_id: i64) {
    let file = files::find_by_id(&app.state.db, file_id)
        .await
        .unwrap()
        .expect("the file row of a rejected PUT is kept for a retry");
    assert_eq!(file.upload_started_at, None, "file {file_id} was claimed");
    assert_eq!(file.uploaded_at, None, "bytes recorded for file {file_id}");
    assert_eq!(file.size, None, "size recorded for file {file_id}");
    assert_eq!(
        app.state.storage.size(&file.storage_key).await.unwrap(),
        None,
        "an object was stored for file {file_id}"
    );
}

async fn volume_used(app: &TestApp) -> i64 {
    let (used,): (i64,) =
        sqlx::query_as("SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM upload_volume")
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    used
}

#[tokio::test]
async fn upload_volume_per_project_per_day() {
    let Pair {
        apps: [first, second],
        clock,
        database: _database,
    } = Pair::start(|settings| settings.upload_bytes_per_project_per_day = 1000).await;
    let (api, uploader) = project_on(first).await;
    let apps = [api.app(), &second];

    // 600 bytes through a direct upload, started on one instance and sent to the other.
    let (file_id, url) = start_ok(apps[0], &uploader).await;
    assert_eq!(put(apps[1], &url, 600).await.status(), 200);
    assert_eq!(complete(apps[0], &uploader, file_id).await.status(), 200);
    // 300 bytes through a multipart upload.
    assert_eq!(multipart(apps[1], &uploader, 300).await.status(), 201);
    assert_eq!(volume_used(apps[0]).await, 900);

    // 200 more would pass the limit: announced, streamed, and in a multipart body.
    let (file_id, url) = start_ok(apps[0], &uploader).await;
    let announced = put(apps[1], &url, 200).await;
    retry_after(&announced, DAY_SECONDS);
    assert_untouched(apps[0], file_id).await;
    assert_eq!(put_streamed(apps[0], &url, 4, 50).await, 429);
    assert_untouched(apps[1], file_id).await;
    let refused = multipart(apps[1], &uploader, 200).await;
    retry_after(&refused, DAY_SECONDS);
    assert_eq!(
        volume_used(apps[0]).await,
        900,
        "rejected uploads count nothing"
    );

    // 100 bytes fit exactly, through the same link; then the project is at its limit.
    assert_eq!(put_streamed(apps[1], &url, 2, 50).await, 200);
    assert_eq!(complete(apps[0], &uploader, file_id).await.status(), 200);
    assert_eq!(volume_used(apps[1]).await, 1000);
    let at_limit = start(apps[1], &uploader).await;
    let seconds = retry_after(&at_limit, DAY_SECONDS);
    assert!(seconds > DAY_SECONDS - 60, "Retry-After {seconds}");
    retry_after(&multipart(apps[0], &uploader, 1).await, DAY_SECONDS);

    // A day after the first upload its bytes age out.
    clock.advance(DAY + SECOND);
    // The master token expired with the day, so the project gets a new one.
    let uploader = Uploader {
        token: master_token(apps[1], api.project_id()).await,
        ..uploader
    };
    let (_, url) = start_ok(apps[0], &uploader).await;
    assert_eq!(put(apps[1], &url, 500).await.status(), 200);
}

#[tokio::test]
async fn s3_upload_over_volume_is_deleted_at_completion() {
    let s3 = S3Server::start().await;
    let Pair {
        apps: [first, second],
        clock: _,
        database: _database,
    } = Pair::start_each(|| {
        let storage = s3.configure();
        move |settings: &mut Settings| {
            storage(settings);
            settings.upload_bytes_per_project_per_day = 1000;
        }
    })
    .await;
    let (api, uploader) = project_on(first).await;
    let apps = [api.app(), &second];
    let (file_id, url) = start_ok(apps[0], &uploader).await;
    let stored = reqwest::Client::new()
        .put(&url)
        .body(vec![b'x'; 600])
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    assert_eq!(complete(apps[1], &uploader, file_id).await.status(), 200);

    // The bytes reach S3 without passing the site, so completion rejects them.
    let (file_id, url) = start_ok(apps[1], &uploader).await;
    let file = files::find_by_id(&apps[0].state.db, file_id)
        .await
        .unwrap()
        .unwrap();
    let stored = reqwest::Client::new()
        .put(&url)
        .body(vec![b'x'; 600])
        .send()
        .await
        .unwrap();
    assert_eq!(stored.status(), 200);
    let refused = complete(apps[0], &uploader, file_id).await;

    retry_after(&refused, DAY_SECONDS);
    assert_eq!(volume_used(apps[1]).await, 600);
    let row = files::find_by_id(&apps[1].state.db, file_id).await.unwrap();
    assert!(row.is_none(), "the rejected upload's row was kept");
    assert_eq!(
        apps[1].state.storage.size(&file.storage_key).await.unwrap(),
        None,
        "the rejected upload's object was kept"
    );
}
