//! `/account/logout/`: ending the session. Only a POST logs out, so a link or an
//! image on another page cannot.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::with_cookie;
use crate::app::AppState;
use crate::http::error::PageError;
use crate::http::session::{FlashKind, PageContext, end_session, redirect_with_flash};

/// Asks the member to confirm logging out.
#[derive(Template, WebTemplate)]
#[template(path = "account/logout.html")]
pub struct LogoutPage {
    ctx: PageContext,
}

/// `GET /account/logout/`: a button that logs out.
pub async fn logout_page(ctx: PageContext) -> LogoutPage {
    LogoutPage { ctx }
}

/// `POST /account/logout/`: ends the session and redirects (303) to the front page.
pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let cookie = end_session(&state, &headers).await?;
    let response = redirect_with_flash(&state, "/", FlashKind::Success, "You have logged out.");
    Ok(with_cookie(response, cookie))
}
