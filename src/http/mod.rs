//! The web layer: every route of the site is listed in `site_routes`, and [`router`]
//! wraps them in the middleware.

pub mod api;
pub mod assets;
pub mod badges;
pub mod client_addr;
pub mod error;
pub mod form;
pub mod middleware;
pub mod oauth2;
pub mod ops;
pub mod pages;
pub mod route_list;
pub mod session;
pub mod storage;
pub mod upload_volume;
pub mod webhook_client;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::http::StatusCode;
use axum::routing::{get, post};
use tower_http::timeout::TimeoutLayer;

use crate::app::AppState;
use api::direct_sharing;
use pages::accounts::{
    confirm_email, delete, login, logout, password_change, password_reset, signup,
};
use pages::{
    admin, approval, connections, data, data_access_log, data_agreements, data_export, datatypes,
    directory, home, messages, projects,
};
use route_list::RouteList;

/// Lists the routes that run inside the request timeout and body limit.
fn site_routes() -> RouteList<AppState> {
    RouteList::new()
        // Operations.
        .route("/healthz", get(ops::healthz))
        .route("/metrics", get(ops::metrics))
        .route("/static/site.css", get(assets::stylesheet))
        .route("/static/favicon.svg", get(assets::favicon))
        // Public pages.
        .route("/", get(home::home_page))
        .route("/activities/", get(directory::list_activities))
        .route(
            "/direct-sharing/in-development/",
            get(directory::list_in_development),
        )
        .route("/activity/{slug}/", get(directory::activity_page))
        .route(
            "/activity/{slug}/contact/",
            post(directory::contact_project),
        )
        // Accounts.
        .route(
            "/account/signup/",
            get(signup::signup_form).post(signup::signup),
        )
        .route(
            "/account/confirm-email/",
            get(confirm_email::email_sent_page),
        )
        .route(
            "/account/confirm-email/{token}/",
            get(confirm_email::confirm_email),
        )
        .route(
            "/account/email/resend/",
            post(confirm_email::resend_confirmation),
        )
        .route("/account/login/", get(login::login_form).post(login::login))
        .route(
            "/account/logout/",
            get(logout::logout_page).post(logout::logout),
        )
        .route(
            "/account/password/change/",
            get(password_change::password_change_form).post(password_change::change_password),
        )
        .route(
            "/account/delete/",
            get(delete::delete_account_form).post(delete::delete_account),
        )
        .route(
            "/account/password/reset/",
            get(password_reset::password_reset_form).post(password_reset::request_password_reset),
        )
        .route(
            "/account/password/reset/key/{token}/",
            get(password_reset::new_password_form).post(password_reset::reset_password),
        )
        // Project management.
        .route(
            "/direct-sharing/projects/manage/",
            get(projects::manage::manage_projects_page),
        )
        .route(
            "/direct-sharing/projects/oauth2/create/",
            get(projects::create::create_project_form).post(
                projects::create::create_project
                    .layer(DefaultBodyLimit::max(projects::form::FORM_BODY_LIMIT)),
            ),
        )
        .route(
            "/direct-sharing/projects/oauth2/update/{slug}/",
            get(projects::update::update_project_form).post(
                projects::update::update_project
                    .layer(DefaultBodyLimit::max(projects::form::FORM_BODY_LIMIT)),
            ),
        )
        .route(
            "/direct-sharing/projects/oauth2/{slug}/",
            get(projects::detail::project_detail_page),
        )
        .route(
            "/direct-sharing/projects/oauth2/{slug}/approval/",
            get(approval::approval_page).post(
                approval::request_approval
                    .layer(DefaultBodyLimit::max(approval::REQUEST_BODY_LIMIT)),
            ),
        )
        .route(
            "/direct-sharing/projects/oauth2/{slug}/approval/document/",
            get(approval::download_document),
        )
        .route(
            "/direct-sharing/projects/oauth2/{slug}/rotate-secret/",
            post(projects::credentials::rotate_client_secret),
        )
        .route(
            "/direct-sharing/projects/oauth2/{slug}/master-token/",
            post(projects::credentials::issue_master_token),
        )
        .route(
            "/direct-sharing/projects/oauth2/{slug}/withdrawn/",
            get(projects::withdrawn::withdrawn_members_page),
        )
        .route(
            "/direct-sharing/projects/oauth2/{slug}/remove-members/",
            get(projects::remove_members::remove_members_form)
                .post(projects::remove_members::remove_members),
        )
        .route(
            "/direct-sharing/projects/oauth2/{slug}/message/",
            get(projects::message::message_form).post(projects::message::message_members),
        )
        .route(
            "/direct-sharing/projects/oauth2/{slug}/webhooks/",
            get(projects::deliveries::list_deliveries),
        )
        .route(
            "/direct-sharing/projects/oauth2/{slug}/webhooks/{delivery_id}/redeliver/",
            post(projects::deliveries::redeliver),
        )
        .route(
            "/direct-sharing/badges/{project_id}/{file}",
            get(badges::serve_badge),
        )
        // Site admin pages.
        .route(admin::QUEUE_PATH, get(admin::review_queue))
        .route("/admin/approvals/{slug}/", get(admin::review_page))
        .route("/admin/approvals/{slug}/decide/", post(admin::decide))
        .route(
            "/admin/approvals/{slug}/remove-approval/",
            post(admin::remove_approval),
        )
        .route(
            "/admin/approvals/{slug}/deactivate/",
            post(admin::deactivate),
        )
        .route(
            "/admin/approvals/{slug}/reactivate/",
            post(admin::reactivate),
        )
        .route("/admin/members/", get(admin::members::members_page))
        .route(
            "/admin/members/{member_id}/suspend/",
            post(admin::members::suspend_member),
        )
        .route(
            "/admin/members/{member_id}/unsuspend/",
            post(admin::members::unsuspend_member),
        )
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
        .route("/member/me/data/", get(data::list_data))
        .route("/member/me/messages/", get(messages::list_messages))
        .route(
            "/member/me/data/files/{file_id}/delete/",
            get(data::delete_file_form).post(data::delete_file),
        )
        .route(
            "/member/me/data/sources/{project_id}/delete/",
            get(data::delete_source_form).post(data::delete_source),
        )
        .route("/member/me/access-log/", get(data_access_log::access_log))
        .route(
            "/member/me/agreements/",
            get(data_agreements::list_agreements),
        )
        .route(
            "/member/me/export/",
            get(data_export::export_page).post(data_export::request_export),
        )
        .route(
            "/member/me/export/download/",
            get(data_export::download_export),
        )
        .route(
            "/member/me/connections/{project_member_id}/leave/",
            get(connections::leave_form).post(connections::leave),
        )
        // Files and the project API.
        .route("/api/public/datatype/{id}/", get(api::public::get_datatype))
        .route("/api/public/project/{id}/", get(api::public::get_project))
        .route(
            "/api/openapi.json",
            get(direct_sharing::openapi::openapi_json),
        )
        .route(
            "/api/direct-sharing/project/",
            get(direct_sharing::project::get_project),
        )
        .route(
            "/api/direct-sharing/project/members/",
            get(direct_sharing::members::list_members),
        )
        .route(
            "/api/direct-sharing/project/exchange-member/",
            get(direct_sharing::exchange::exchange_member),
        )
        .route(
            "/api/direct-sharing/project/remove-members/",
            post(direct_sharing::remove::remove_members),
        )
        .route(
            "/api/direct-sharing/project/message/",
            post(direct_sharing::message::message_members),
        )
        .route(
            "/api/direct-sharing/project/files/upload/",
            post(direct_sharing::upload::upload_file),
        )
        .route(
            "/api/direct-sharing/project/files/upload/direct/",
            post(direct_sharing::upload::start_direct_upload),
        )
        .route(
            "/api/direct-sharing/project/files/upload/complete/",
            post(direct_sharing::upload::complete_direct_upload),
        )
        .route(
            "/api/direct-sharing/project/files/delete/",
            post(direct_sharing::delete::delete_files),
        )
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
        )
}

/// Builds the application's router with its middleware.
pub fn router(state: AppState) -> Router {
    let timeout = Duration::from_secs(state.settings.request_timeout_seconds);
    site_routes()
        .into_router()
        .fallback(middleware::not_found)
        .layer(axum::middleware::from_fn(
            middleware::render_method_not_allowed,
        ))
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
        .merge(storage::routes().into_router())
        .layer(axum::middleware::from_fn(api::api_headers))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::security_headers,
        ))
        .layer(axum::middleware::from_fn(middleware::log_request))
        // Outermost, so the log line and every handler see the resolved client.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client_addr::resolve_client,
        ))
        .with_state(state)
}

/// Returns the path pattern of every route, so tests can check that their tables cover
/// the whole site.
pub fn route_paths() -> Vec<&'static str> {
    let mut paths = site_routes().paths().to_vec();
    paths.extend_from_slice(storage::routes().paths());
    paths
}
