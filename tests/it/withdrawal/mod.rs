//! Withdrawal: leaving with erasure and file deletion, removal by the coordinator,
//! deauthorization webhooks (signatures, retries, the address guard, redelivery),
//! the withdrawn-members page, the notice email and account deletion, and a real
//! django-open-humans app receiving the webhook.

mod account;
mod django;
mod leave;
mod pages;
mod python_receiver;
mod racing_uploads;
mod retries;
mod webhook_url;
mod webhooks;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use openhumans::domain::project::ProjectConfig;

use crate::oauth2::{Setup, membership};
use crate::support::{TestApp, eventually};

/// The webhook secret of the test projects.
pub const SECRET: &str = "abcdefghijklmnop";

/// One POST a [`Receiver`] got.
#[derive(Debug, Clone)]
pub struct ReceivedHook {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl ReceivedHook {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|value| value.to_str().unwrap().to_string())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

#[derive(Clone)]
struct ReceiverState {
    received: Arc<Mutex<Vec<ReceivedHook>>>,
    status: Arc<AtomicU16>,
    secret: Arc<Mutex<Option<String>>>,
}

impl Default for ReceiverState {
    fn default() -> Self {
        ReceiverState {
            received: Arc::default(),
            status: Arc::new(AtomicU16::new(200)),
            secret: Arc::default(),
        }
    }
}

/// A webhook receiver on loopback that records every POST and responds with 200, or
/// with the status set by [`Receiver::respond_with`].
pub struct Receiver {
    pub addr: SocketAddr,
    state: ReceiverState,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        Receiver::start_on("127.0.0.1:0".parse().unwrap()).await
    }

    pub async fn start_on(addr: SocketAddr) -> Receiver {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = ReceiverState::default();
        let router = axum::Router::new()
            .route("/deauth", axum::routing::post(receive))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, router).await.unwrap();
        });
        Receiver { addr, state, task }
    }

    /// Sets the status of every later response.
    pub fn respond_with(&self, status: u16) {
        self.state.status.store(status, Ordering::SeqCst);
    }

    /// Checks the Open Humans SHA-1 signature of every later POST with `secret` and
    /// responds with 403 when it does not match.
    pub fn verify_with(&self, secret: &str) {
        *self.state.secret.lock().unwrap() = Some(secret.to_string());
    }

    pub fn url(&self) -> String {
        format!("http://{}/deauth", self.addr)
    }

    pub fn received(&self) -> Vec<ReceivedHook> {
        self.state.received.lock().unwrap().clone()
    }

    /// Waits until `count` POSTs arrived and returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<ReceivedHook> {
        eventually(
            Duration::from_secs(15),
            &format!("{count} webhook POSTs"),
            || async {
                let received = self.received();
                (received.len() >= count).then_some(received)
            },
        )
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(
    State(state): State<ReceiverState>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let secret = state.secret.lock().unwrap().clone();
    let signed = match &secret {
        Some(secret) => {
            let expected = format!("sha1={}", hex_sha1(secret, &body));
            headers
                .get("x-openhumans-webhooks-signature")
                .is_some_and(|value| value.as_bytes() == expected.as_bytes())
        }
        None => true,
    };
    state
        .received
        .lock()
        .unwrap()
        .push(ReceivedHook { headers, body });
    if !signed {
        return StatusCode::FORBIDDEN;
    }
    StatusCode::from_u16(state.status.load(Ordering::SeqCst)).unwrap()
}

/// Returns the hex HMAC-SHA1 of `body`, as the Open Humans signature header carries it.
pub fn hex_sha1(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// Returns the base64 HMAC-SHA256 of `message`, as a Standard Webhooks signature
/// carries it after `v1,`.
pub fn base64_sha256(secret: &str, message: &[u8]) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message);
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Starts an app that may deliver webhooks to loopback, with one project set up by
/// `configure` and one member who authorized it through the consent flow.
pub async fn joined(configure: impl FnOnce(&mut ProjectConfig)) -> (Setup, String) {
    let app = TestApp::builder()
        .with(|settings| settings.allow_private_webhooks = true)
        .spawn()
        .await;
    let setup = Setup::on(app, configure).await;
    setup.code(&[]).await;
    let pmid = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap()
        .project_member_id;
    (setup, pmid)
}

/// Returns the path of the leave page of the membership `pmid`.
pub fn leave_path(pmid: &str) -> String {
    format!("/member/me/connections/{pmid}/leave/")
}

/// Submits the leave form with `fields`.
pub async fn leave(setup: &Setup, pmid: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    setup
        .browser
        .post(setup.app.url(&leave_path(pmid)))
        .header("sec-fetch-site", "same-origin")
        .form(fields)
        .send()
        .await
        .unwrap()
}

/// Counts the rows of `table` for the project.
pub async fn count_rows(app: &TestApp, table: &str, project_id: i64) -> i64 {
    let (count,): (i64,) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM {table} WHERE project_id = $1"
    )))
    .bind(project_id)
    .fetch_one(&app.state.db.pool)
    .await
    .unwrap();
    count
}

/// Waits until no job is running or due now.
pub async fn wait_for_idle_queue(app: &TestApp) {
    eventually(Duration::from_secs(15), "an idle job queue", || async {
        let (count,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM jobs WHERE state = 'running' \
             OR (state = 'queued' AND run_at <= $1)",
        )
        .bind(app.clock().now())
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
        (count == 0).then_some(())
    })
    .await
}

/// The latest delivery job as the queue records it.
#[derive(Debug)]
pub struct DeliveryJobRow {
    pub state: String,
    pub run_at: i64,
    pub attempts: i64,
}

/// Waits until the latest delivery job has finished attempt `attempt` and its
/// outcome is recorded: queued for a retry, done or failed.
pub async fn wait_for_job_after(app: &TestApp, attempt: i64) -> DeliveryJobRow {
    eventually(
        Duration::from_secs(15),
        &format!("attempt {attempt} of the delivery job"),
        || async {
            let (state, run_at, attempts): (String, i64, i64) = sqlx::query_as(
                "SELECT state, run_at, attempts FROM jobs WHERE kind = 'deliver_webhook' \
                 ORDER BY id DESC LIMIT 1",
            )
            .fetch_one(&app.state.db.pool)
            .await
            .ok()?;
            (attempts >= attempt && state != "running").then_some(DeliveryJobRow {
                state,
                run_at,
                attempts,
            })
        },
    )
    .await
}

/// Moves the app clock just past `run_at` and wakes the workers.
pub fn run_due_jobs(app: &TestApp, run_at: i64) {
    let now = app.clock().now();
    if run_at >= now {
        app.clock()
            .advance(run_at - now + openhumans::clock::SECOND);
    }
    app.state.job_signal.notify();
}

/// Fetches the coordinator's webhooks page of the project.
pub async fn deliveries_page(setup: &Setup) -> String {
    let coordinator =
        crate::support::fixtures::logged_in_client(&setup.app, setup.coordinator.id).await;
    let path = format!(
        "/direct-sharing/projects/oauth2/{}/webhooks/",
        setup.project.slug
    );
    coordinator
        .get(setup.app.url(&path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}
