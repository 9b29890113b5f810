//! The web layer: every route of the site is listed in [`router`].

pub mod assets;
pub mod error;
pub mod middleware;
pub mod oauth2;
pub mod ops;
pub mod pages;
pub mod session;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use pages::{connections, home};

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
        // OAuth2.
        .route(
            "/direct-sharing/projects/oauth2/authorize/",
            get(oauth2::authorize::authorize_form).post(oauth2::authorize::authorize),
        )
        .route(
            "/oauth2/authorize/",
            get(oauth2::authorize::authorize_form).post(oauth2::authorize::authorize),
        )
        .route("/oauth2/token/", post(oauth2::token::issue_token))
        .route("/oauth2/revoke_token/", post(oauth2::revoke::revoke_token))
        .route(
            "/.well-known/oauth-authorization-server",
            get(oauth2::metadata::server_metadata),
        )
        .route(
            "/member/me/connections/",
            get(connections::list_connections),
        )
        .route(
            "/member/me/connections/{project_member_id}/leave/",
            get(connections::leave_form).post(connections::leave),
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
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .layer(axum::middleware::from_fn(middleware::log_request))
        .with_state(state)
}
