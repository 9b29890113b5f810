//! Confirming a member's email address: the "check your email" page, the link from
//! the email, and sending a new link.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::{LinkRecipient, acquire_limit, email_link_limit, send_link};
use crate::app::AppState;
use crate::db::{email_tokens, members};
use crate::domain::member::{EmailTokenPurpose, TokenProblem, check_email_token};
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, FlashKind, PageContext, redirect_with_flash};

const PURPOSE: EmailTokenPurpose = EmailTokenPurpose::VerifyEmail;

/// Names the rate-limit bucket of confirmation emails sent to one member.
pub fn resend_bucket(member_id: i64) -> String {
    format!("confirmation-email:member:{member_id}")
}

/// "Check your email", shown after signup and after a new link was sent.
#[derive(Template, WebTemplate)]
#[template(path = "account/email_sent.html")]
pub struct EmailSentPage {
    ctx: PageContext,
}

/// `GET /account/confirm-email/`: shows the member where the link went.
pub async fn email_sent_page(ctx: PageContext) -> EmailSentPage {
    EmailSentPage { ctx }
}

/// The address is confirmed.
#[derive(Template, WebTemplate)]
#[template(path = "account/email_confirmed.html")]
pub struct EmailConfirmedPage {
    ctx: PageContext,
    email: String,
}

/// A link from an email that no longer works, with the way to get a new one.
#[derive(Template, WebTemplate)]
#[template(path = "account/link_invalid.html")]
pub struct LinkInvalidPage {
    pub ctx: PageContext,
    pub title: &'static str,
    pub message: &'static str,
    /// The kind of link that failed, to offer the matching way to get a new one.
    pub purpose: EmailTokenPurpose,
}

/// `GET /account/confirm-email/{token}/`: marks the address the link was sent to as
/// verified. Each link works once; an unknown link is 404, a used or expired one 410.
pub async fn confirm_email(
    State(state): State<AppState>,
    Path(token): Path<String>,
    mut ctx: PageContext,
) -> Result<Response, PageError> {
    let token_hash = state.key.hash(PURPOSE.as_str(), &token);
    let now = state.clock.now();

    let mut tx = state.db.begin_write().await?;
    let consumed = email_tokens::consume(&mut *tx, &token_hash, PURPOSE.as_str(), now).await?;
    let verified = match &consumed {
        Some(link) => {
            members::mark_email_verified(&mut *tx, link.member_id, &link.email, now).await?
        }
        None => false,
    };
    let Some(link) = consumed.filter(|_| verified) else {
        drop(tx);
        return invalid_link_page(&state, ctx, &token_hash, now).await;
    };
    tx.commit().await?;
    tracing::info!(member.id = link.member_id, "email address confirmed");

    // The layout read the member before the update; show the new state.
    if let Some(member) = ctx
        .member
        .as_mut()
        .filter(|member| member.id == link.member_id)
    {
        member.email_verified = true;
    }
    Ok(EmailConfirmedPage {
        ctx,
        email: link.email,
    }
    .into_response())
}

async fn invalid_link_page(
    state: &AppState,
    ctx: PageContext,
    token_hash: &str,
    now: i64,
) -> Result<Response, PageError> {
    let stored = email_tokens::find(&state.db, token_hash, PURPOSE.as_str()).await?;
    let problem = stored.map(|link| check_email_token(link.expires_at, link.used_at, now));
    let (status, title, message) = match problem {
        Some(Err(TokenProblem::Used)) => (
            StatusCode::GONE,
            "Link already used",
            "This confirmation link has already been used. Each link works once.",
        ),
        Some(Err(TokenProblem::Expired)) => (
            StatusCode::GONE,
            "Link expired",
            "This confirmation link has expired. Ask for a new one below.",
        ),
        // Unused and unexpired, yet not consumed: the account's address has changed
        // since the link was sent.
        Some(Ok(())) | None => (
            StatusCode::NOT_FOUND,
            "Link not valid",
            "This confirmation link is not valid. Check that you copied the whole link \
             from the email, or ask for a new one below.",
        ),
    };
    let page = LinkInvalidPage {
        ctx,
        title,
        message,
        purpose: PURPOSE,
    };
    Ok((status, page).into_response())
}

/// `POST /account/email/resend/`: sends the logged-in member a new confirmation link,
/// at most as many per hour as password-reset emails.
pub async fn resend_confirmation(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
) -> Result<Response, PageError> {
    if member.email_verified {
        return Ok(redirect_with_flash(
            &state,
            "/account/confirm-email/",
            FlashKind::Success,
            "Your email address is already confirmed.",
        ));
    }
    let now = state.clock.now();
    let bucket = resend_bucket(member.id);
    acquire_limit(
        &state,
        &bucket,
        email_link_limit(&state),
        now,
        "Several confirmation emails were sent to you in the last hour. Check your inbox \
         and spam folder for them.",
    )
    .await?;

    let mut tx = state.db.begin_write().await?;
    let recipient = LinkRecipient {
        member_id: member.id,
        username: &member.username,
        email: &member.email,
    };
    send_link(&mut tx, &state, &recipient, PURPOSE, now).await?;
    tx.commit().await?;
    state.job_signal.notify();

    Ok(redirect_with_flash(
        &state,
        "/account/confirm-email/",
        FlashKind::Success,
        &format!("We sent a new confirmation link to {}.", member.email),
    ))
}
