//! A webhook receiver on 127.0.0.1 that records the `webhook-id` of every POST when it
//! arrives, and can hold its responses back so that deliveries stay in flight.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use tokio::sync::watch;

use crate::support::eventually;

#[derive(Clone)]
struct ReceiverState {
    arrivals: Arc<Mutex<Vec<String>>>,
    /// True while responses are held back.
    stalled: watch::Sender<bool>,
}

/// The receiver; dropping it stops the server.
pub struct StallingReceiver {
    addr: SocketAddr,
    state: ReceiverState,
    task: tokio::task::JoinHandle<()>,
}

impl StallingReceiver {
    pub async fn start() -> StallingReceiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the receiver");
        let addr = listener.local_addr().expect("reading the receiver address");
        let state = ReceiverState {
            arrivals: Arc::default(),
            stalled: watch::Sender::new(false),
        };
        let router = axum::Router::new()
            .route("/deauth", axum::routing::post(receive))
            .with_state(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, router)
                .await
                .expect("serving the receiver");
        });
        StallingReceiver { addr, state, task }
    }

    pub fn url(&self) -> String {
        format!("http://{}/deauth", self.addr)
    }

    /// Holds back every response, from now until [`StallingReceiver::release`].
    pub fn stall(&self) {
        self.state.stalled.send_replace(true);
    }

    /// Responds 200 to every held-back and later POST.
    pub fn release(&self) {
        self.state.stalled.send_replace(false);
    }

    /// Returns the `webhook-id` of every POST so far, in order of arrival.
    pub fn arrivals(&self) -> Vec<String> {
        self.state.arrivals.lock().unwrap().clone()
    }

    /// Waits until at least `count` POSTs arrived, failing after `timeout`.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<String> {
        eventually(timeout, &format!("{count} webhook POSTs"), || async {
            let arrivals = self.arrivals();
            (arrivals.len() >= count).then_some(arrivals)
        })
        .await
    }
}

impl Drop for StallingReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn receive(State(state): State<ReceiverState>, headers: HeaderMap) -> StatusCode {
    let id = headers
        .get("webhook-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("missing")
        .to_string();
    state.arrivals.lock().unwrap().push(id);
    let mut stalled = state.stalled.subscribe();
    let _ = stalled.wait_for(|stalled| !*stalled).await;
    StatusCode::OK
}

/// Counts how many times each id occurs in `arrivals`.
pub fn tally(arrivals: &[String]) -> HashMap<&str, usize> {
    let mut counts = HashMap::new();
    for id in arrivals {
        *counts.entry(id.as_str()).or_insert(0) += 1;
    }
    counts
}
