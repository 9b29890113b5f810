//! The web layer: every route of the site is listed in [`router`].

pub mod assets;
pub mod error;
pub mod middleware;
pub mod ops;
pub mod pages;
pub mod session;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use pages::home;

/// Builds the application's router with its middleware.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        // Operations.
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/static/site.css", get(assets::stylesheet))
        .route("/static/favicon.svg", get(assets::favicon))
        // Public pages.
        .route("/", get(home::home_page));

    let timeout = Duration::from_secs(state.settings.request_timeout_seconds);
    routes
        .fallback(middleware::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::load_session,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::reject_cross_site,
        ))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            timeout,
        ))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .layer(axum::middleware::from_fn(middleware::log_request))
        .with_state(state)
}
