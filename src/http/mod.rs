//! The web layer: every route of the site is listed in [`router`].

pub mod api;
pub mod assets;
pub mod error;
pub mod middleware;
pub mod ops;
pub mod pages;
pub mod session;
pub mod storage;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::get;
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use pages::{datatypes, home};

/// Builds the application's router with its middleware.
pub fn router(state: AppState) -> Router {
    let routes = Router::new()
        // Operations.
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/static/site.css", get(assets::stylesheet))
        .route("/static/favicon.svg", get(assets::favicon))
        // Public pages.
        .route("/", get(home::home_page))
        // Files and the project API.
        .route("/api/public/datatype/{id}/", get(api::public::get_datatype))
        .route("/api/public/project/{id}/", get(api::public::get_project))
        .route(
            "/data-management/datatypes/",
            get(datatypes::list_datatypes),
        )
        .route(
            "/data-management/datatypes/create/",
            get(datatypes::create_datatype_form).post(datatypes::create_datatype),
        )
        .route(
            "/data-management/datatypes/update/{id}/",
            get(datatypes::update_datatype_form).post(datatypes::update_datatype),
        )
        .route(
            "/data-management/datatypes/{id}/",
            get(datatypes::datatype_page),
        );

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
        // Signed upload and download URLs stream bodies of any size for as long as they
        // take, so they are merged after the timeout and the body limit.
        .merge(storage::router())
        .layer(axum::middleware::from_fn(api::api_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .layer(axum::middleware::from_fn(middleware::log_request))
        .with_state(state)
}
