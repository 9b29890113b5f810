//! Withdrawal: leaving with erasure and file deletion, removal by the coordinator,
//! deauthorization webhooks (signatures, retries, the address guard, redelivery),
//! the withdrawn-members page, the notice email and account deletion.

mod account;
mod leave;
mod pages;
mod python_receiver;
mod webhook_url;
mod webhooks;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
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

#[derive(Clone, Default)]
struct ReceiverState {
    received: Arc<Mutex<Vec<ReceivedHook>>>,
}

/// A webhook receiver on loopback that records every POST and responds with 200.
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
    state
        .received
        .lock()
        .unwrap()
        .push(ReceivedHook { headers, body });
    StatusCode::OK
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
