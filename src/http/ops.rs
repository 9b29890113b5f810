//! Health check and Prometheus metrics for operators.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;

use crate::app::AppState;

/// `GET /healthz`: 200 when the database responds, 503 otherwise.
pub async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if state.db.ping().await {
        (StatusCode::OK, "ok\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n")
    }
}

/// `GET /metrics`: request counts and latency per route, job queue depth and oldest
/// job age, and database pool use, in the Prometheus text format.
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let now = state.clock.now();
    match crate::db::jobs::queue_stats(&state.db, now).await {
        Ok((depth, oldest_age)) => {
            metrics::gauge!("jobs_queue_depth").set(depth as f64);
            metrics::gauge!("jobs_oldest_age_seconds").set(oldest_age as f64 / 1e6);
        }
        Err(error) => tracing::warn!(%error, "reading job queue statistics failed"),
    }
    let pool = &state.db.pool;
    metrics::gauge!("db_pool_connections").set(f64::from(pool.size()));
    metrics::gauge!("db_pool_idle_connections").set(pool.num_idle() as f64);
    metrics::gauge!("db_pool_max_connections").set(f64::from(pool.options().get_max_connections()));

    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
}
