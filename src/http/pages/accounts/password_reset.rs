//! `/account/password/reset/`: choosing a new password through a link sent by email.
//!
//! Asking for a link returns the same page whether or not an account has the
//! address, and the limit on links counts per address whether or not an account has
//! it, so neither reveals which addresses have accounts.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::confirm_email::LinkInvalidPage;
use super::{
    LinkRecipient, REJECTED, acquire_limit, email_link_limit, hash_password, send_link, with_cookie,
};
use crate::app::AppState;
use crate::db::email_tokens;
use crate::db::members::{self, Member};
use crate::db::sessions;
use crate::domain::forms::FieldErrors;
use crate::domain::member::{EmailTokenPurpose, TokenProblem, check_email_token, validate_email};
use crate::domain::password;
use crate::http::error::PageError;
use crate::http::form::FormBody;
use crate::http::session::{FlashKind, PageContext, redirect_with_flash, start_session};

const PURPOSE: EmailTokenPurpose = EmailTokenPurpose::PasswordReset;

/// The form that requests a reset link.
#[derive(Template, WebTemplate)]
#[template(path = "account/password_reset.html")]
pub struct PasswordResetPage {
    ctx: PageContext,
    email: String,
    errors: FieldErrors,
}

/// The page returned for every well-formed request for a link.
#[derive(Template, WebTemplate)]
#[template(path = "account/password_reset_sent.html")]
pub struct PasswordResetSentPage {
    ctx: PageContext,
    email: String,
}

/// The form that sets a new password.
#[derive(Template, WebTemplate)]
#[template(path = "account/password_reset_key.html")]
pub struct NewPasswordPage {
    ctx: PageContext,
    username: String,
    errors: FieldErrors,
}

/// `GET /account/password/reset/`: the form that requests a reset link.
pub async fn password_reset_form(ctx: PageContext) -> PasswordResetPage {
    PasswordResetPage {
        ctx,
        email: String::new(),
        errors: FieldErrors::new(),
    }
}

/// `POST /account/password/reset/`: emails a reset link when an active account has
/// the address, and returns the same page either way.
pub async fn request_password_reset(
    State(state): State<AppState>,
    ctx: PageContext,
    form: FormBody,
) -> Result<Response, PageError> {
    let email = form.required("email")?.trim().to_string();
    if let Err(message) = validate_email(&email) {
        let mut errors = FieldErrors::new();
        errors.add("email", message);
        let page = PasswordResetPage { ctx, email, errors };
        return Ok((REJECTED, page).into_response());
    }

    let now = state.clock.now();
    let bucket = format!(
        "password-reset:email:{}",
        state.key.hash("reset-rate-limit", &email.to_lowercase())
    );
    acquire_limit(
        &state,
        &bucket,
        email_link_limit(&state),
        now,
        "Several password reset emails were sent to this address in the last hour. Check \
         your inbox and spam folder for them.",
    )
    .await?;

    let member = members::find_by_email(&state.db, &email).await?;
    if let Some(member) = member.filter(|member| member.is_active) {
        let mut tx = state.db.begin_write().await?;
        let recipient = LinkRecipient {
            member_id: member.id,
            username: &member.username,
            email: &member.email,
        };
        send_link(&mut tx, &state, &recipient, PURPOSE, now).await?;
        tx.commit().await?;
        state.job_signal.notify();
        tracing::info!(member.id = member.id, "password reset link sent");
    }
    Ok(PasswordResetSentPage { ctx, email }.into_response())
}

/// `GET /account/password/reset/key/{token}/`: the new password form, if the link
/// still works.
pub async fn new_password_form(
    State(state): State<AppState>,
    Path(token): Path<String>,
    ctx: PageContext,
) -> Result<Response, PageError> {
    match usable_link(&state, &token).await? {
        Ok(member) => Ok(NewPasswordPage {
            ctx,
            username: member.username,
            errors: FieldErrors::new(),
        }
        .into_response()),
        Err(problem) => Ok(invalid_link_page(ctx, problem)),
    }
}

/// `POST /account/password/reset/key/{token}/`: sets the new password, uses up the
/// link (and every other reset link of the member), ends all the member's sessions
/// and logs this browser in.
pub async fn reset_password(
    State(state): State<AppState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    ctx: PageContext,
    form: FormBody,
) -> Result<Response, PageError> {
    let new_password = form.required("new_password")?;
    let confirmation = form.required("new_password_confirmation")?;
    let member = match usable_link(&state, &token).await? {
        Ok(member) => member,
        Err(problem) => return Ok(invalid_link_page(ctx, problem)),
    };

    let mut errors = FieldErrors::new();
    if let Err(message) = password::validate(new_password, &member.username) {
        errors.add("new_password", message);
    }
    if new_password != confirmation {
        errors.add(
            "new_password_confirmation",
            "The two passwords differ. Type the same password twice.",
        );
    }
    if !errors.is_empty() {
        let page = NewPasswordPage {
            ctx,
            username: member.username,
            errors,
        };
        return Ok((REJECTED, page).into_response());
    }

    let password_hash = hash_password(new_password).await?;
    let now = state.clock.now();
    let token_hash = state.key.hash(PURPOSE.as_str(), &token);
    let mut tx = state.db.begin_write().await?;
    // Using the link inside the transaction makes it single-use even when two
    // submissions race.
    let Some(link) = email_tokens::consume(&mut *tx, &token_hash, PURPOSE.as_str(), now).await?
    else {
        drop(tx);
        return Ok(invalid_link_page(ctx, LinkProblem::Used));
    };
    members::update_password_hash(&mut *tx, member.id, &password_hash).await?;
    email_tokens::revoke_for_member(&mut *tx, member.id, PURPOSE.as_str(), now).await?;
    // Opening the link proves that the member reads mail at this address.
    members::mark_email_verified(&mut *tx, member.id, &link.email, now).await?;
    // Every old session ends with the old password; this one starts afresh below.
    sessions::delete_for_member(&mut *tx, member.id).await?;
    tx.commit().await?;
    // Whoever reads the account's mail may log in again at once: the failed logins that
    // locked the account were guesses at the old password.
    crate::db::rate_limits::clear(&state.db, &super::login::account_bucket(member.id)).await?;

    let cookie = start_session(&state, member.id, &headers).await?;
    tracing::info!(member.id = member.id, "password reset");
    let response = redirect_with_flash(
        &state,
        "/",
        FlashKind::Success,
        "Your password was changed, and you are logged in. Any other device was logged out.",
    );
    Ok(with_cookie(response, cookie))
}

/// The reason a reset link cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkProblem {
    Unknown,
    Used,
    Expired,
}

/// Finds the link and its member, if the link is unused, unexpired, still for the
/// member's address, and the member is active.
async fn usable_link(
    state: &AppState,
    token: &str,
) -> Result<Result<Member, LinkProblem>, PageError> {
    let token_hash = state.key.hash(PURPOSE.as_str(), token);
    let Some(link) = email_tokens::find(&state.db, &token_hash, PURPOSE.as_str()).await? else {
        return Ok(Err(LinkProblem::Unknown));
    };
    match check_email_token(link.expires_at, link.used_at, state.clock.now()) {
        Err(TokenProblem::Used) => return Ok(Err(LinkProblem::Used)),
        Err(TokenProblem::Expired) => return Ok(Err(LinkProblem::Expired)),
        Ok(()) => {}
    }
    let member = members::find_by_id(&state.db, link.member_id).await?;
    match member {
        Some(member) if member.is_active && member.email.eq_ignore_ascii_case(&link.email) => {
            Ok(Ok(member))
        }
        _ => Ok(Err(LinkProblem::Unknown)),
    }
}

fn invalid_link_page(ctx: PageContext, problem: LinkProblem) -> Response {
    let (status, title, message) = match problem {
        LinkProblem::Used => (
            StatusCode::GONE,
            "Link already used",
            "This password reset link has already been used. Each link works once.",
        ),
        LinkProblem::Expired => (
            StatusCode::GONE,
            "Link expired",
            "This password reset link has expired. Links work for one hour after they are \
             sent.",
        ),
        LinkProblem::Unknown => (
            StatusCode::NOT_FOUND,
            "Link not valid",
            "This password reset link is not valid. Check that you copied the whole link \
             from the email.",
        ),
    };
    let page = LinkInvalidPage {
        ctx,
        title,
        message,
        purpose: PURPOSE,
    };
    (status, page).into_response()
}
