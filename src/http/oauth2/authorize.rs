//! The authorization endpoint (RFC 6749 §3.1), served at
//! `/direct-sharing/projects/oauth2/authorize/`, where Open Humans clients send
//! members, and at `/oauth2/authorize/` with the same checks.
//!
//! GET validates the request and shows the consent page (or, for an active member
//! whose permissions have not changed, issues a code at once). POST is the consent
//! form: "Authorize" records the membership and issues a code in one transaction,
//! "Cancel" sends `access_denied` back to the client.

use std::borrow::Cow;

use axum::extract::{RawForm, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::consent_page::{
    ConsentView, cap_reached_page, consent_page, inactive_page, verify_email_page,
};
use crate::app::AppState;
use crate::db::members::Member;
use crate::db::memberships;
use crate::db::oauth2::{CodeRequest, ConsentKind, ConsentOutcome, consent_and_issue_code};
use crate::db::projects::{self, Project};
use crate::domain::membership::{Snapshot, consent_required};
use crate::domain::oauth2::authorize::{
    self, AuthorizationRequest, AuthorizeErrorCode, AuthorizeParams, AuthorizeRejection,
};
use crate::domain::oauth2::cap;
use crate::http::error::{PageError, error_page};
use crate::http::session::{CurrentMember, PageContext, urlencode};

/// `GET …/authorize/`: validates the request, then shows the consent page.
pub async fn authorize_form(
    State(state): State<AppState>,
    member: Option<CurrentMember>,
    ctx: PageContext,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Result<Response, PageError> {
    let query = query.unwrap_or_default();
    let params = match AuthorizeParams::from_pairs(url::form_urlencoded::parse(query.as_bytes())) {
        Ok(params) => params,
        Err(problem) => return Ok(invalid_request_page(&problem)),
    };
    let (project, request) = match validate(&state, &params).await? {
        Ok(valid) => valid,
        Err(response) => return Ok(response),
    };
    if !project.config.active {
        return Ok(inactive_page(ctx, &project.config.name));
    }
    let Some(CurrentMember(member)) = member else {
        let next = uri.path_and_query().map_or(uri.path(), |pq| pq.as_str());
        return Ok(login_redirect(next));
    };
    if !member.email_verified {
        return Ok(verify_email_page(ctx, &project.config.name, &member.email));
    }

    let mut conn = state.db.pool.acquire().await?;
    let membership = memberships::find(&mut conn, project.id, member.id).await?;
    let already_counted = membership
        .as_ref()
        .is_some_and(|membership| membership.status.is_active(true));
    let active_members = memberships::count_active(&mut conn, project.id).await?;
    drop(conn);
    let max_members = state.settings.max_unapproved_members;
    if cap::check(
        project.approved,
        already_counted,
        active_members,
        max_members,
    )
    .is_err()
    {
        return Ok(cap_reached_page(ctx, &project.config.name, max_members));
    }

    let requested = Snapshot::requested_by(&project.config);
    let current = membership.as_ref().map(|m| (m.status, &m.snapshot));
    if !consent_required(current, &requested, request.force_prompt) {
        let outcome = issue_code(&state, &project, &member, &request, ConsentKind::Skipped).await?;
        if !matches!(outcome, ConsentOutcome::ConsentRequired) {
            return Ok(answer_outcome(ctx, &project, outcome, &request));
        }
    }

    let view = ConsentView {
        action: uri.path(),
        project: &project,
        member: &member,
        membership: membership.as_ref(),
        params: &params,
        request_changed: false,
    };
    consent_page(&state, ctx, view).await
}

/// `POST …/authorize/`: the consent form. `allow` authorizes; anything else cancels.
pub async fn authorize(
    State(state): State<AppState>,
    member: Option<CurrentMember>,
    ctx: PageContext,
    uri: Uri,
    RawForm(body): RawForm,
) -> Result<Response, PageError> {
    let pairs: Vec<(Cow<'_, str>, Cow<'_, str>)> = url::form_urlencoded::parse(&body).collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_ref())
    };
    let allow = field("allow").is_some();
    let shown_permissions = field("permissions").unwrap_or_default().to_string();
    let params = match AuthorizeParams::from_pairs(pairs.iter().cloned()) {
        Ok(params) => params,
        Err(problem) => return Ok(invalid_request_page(&problem)),
    };
    let (project, request) = match validate(&state, &params).await? {
        Ok(valid) => valid,
        Err(response) => return Ok(response),
    };

    if !allow {
        tracing::info!(
            project.id = project.id,
            "authorization cancelled by the member"
        );
        let url = authorize::error_redirect_url(
            &request.redirect_uri.uri,
            AuthorizeErrorCode::AccessDenied,
            "the member cancelled the authorization",
            request.state.as_deref(),
        );
        return Ok(redirect_to_client(&url));
    }
    if !project.config.active {
        return Ok(inactive_page(ctx, &project.config.name));
    }
    let Some(CurrentMember(member)) = member else {
        let query = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(params.to_pairs())
            .finish();
        return Ok(login_redirect(&format!("{}?{query}", uri.path())));
    };
    if !member.email_verified {
        return Ok(verify_email_page(ctx, &project.config.name, &member.email));
    }

    let kind = ConsentKind::Given {
        shown_permissions: &shown_permissions,
    };
    match issue_code(&state, &project, &member, &request, kind).await? {
        ConsentOutcome::ConsentRequired => {
            let mut conn = state.db.pool.acquire().await?;
            let membership = memberships::find(&mut conn, project.id, member.id).await?;
            drop(conn);
            // The project changed between page and consent: show it again, current.
            let project = projects::find_by_id(&state.db, project.id)
                .await?
                .ok_or(PageError::NotFound)?;
            let view = ConsentView {
                action: uri.path(),
                project: &project,
                member: &member,
                membership: membership.as_ref(),
                params: &params,
                request_changed: true,
            };
            consent_page(&state, ctx, view).await
        }
        outcome => Ok(answer_outcome(ctx, &project, outcome, &request)),
    }
}

/// Finds the client and validates the request. Errors that must not redirect become
/// an error page; the others become a redirect to the client.
async fn validate(
    state: &AppState,
    params: &AuthorizeParams,
) -> Result<Result<(Project, AuthorizationRequest), Response>, PageError> {
    let project = match params.client_id.as_deref() {
        Some(client_id) => projects::find_by_client_id(&state.db, client_id).await?,
        None => None,
    };
    let Some(project) = project else {
        return Ok(Err(invalid_request_page(
            "The link names no application registered on this site (client_id is missing or \
             unknown). Go back to the site that sent you here and tell its operators.",
        )));
    };
    match authorize::validate(
        params,
        &project.config.redirect_uris,
        project.config.require_pkce,
    ) {
        Ok(request) => Ok(Ok((project, request))),
        Err(AuthorizeRejection::RedirectUri(error)) => Ok(Err(invalid_request_page(&format!(
            "The link to authorize {} cannot be used: {error}. Go back to the site that sent \
             you here and tell its operators.",
            project.config.name
        )))),
        Err(AuthorizeRejection::Redirect {
            redirect_uri,
            code,
            description,
            state,
        }) => {
            let url =
                authorize::error_redirect_url(&redirect_uri, code, &description, state.as_deref());
            Ok(Err(redirect_to_client(&url)))
        }
    }
}

async fn issue_code(
    state: &AppState,
    project: &Project,
    member: &Member,
    request: &AuthorizationRequest,
    kind: ConsentKind<'_>,
) -> anyhow::Result<ConsentOutcome> {
    let code_request = CodeRequest {
        redirect_uri: &request.redirect_uri,
        scope: &request.scope,
        code_challenge: request.code_challenge.as_deref(),
    };
    consent_and_issue_code(
        &state.db,
        &state.key,
        project.id,
        member.id,
        kind,
        code_request,
        state.settings.max_unapproved_members,
        state.clock.now(),
    )
    .await
}

/// Builds the response to every consent outcome except
/// [`ConsentOutcome::ConsentRequired`].
fn answer_outcome(
    ctx: PageContext,
    project: &Project,
    outcome: ConsentOutcome,
    request: &AuthorizationRequest,
) -> Response {
    match outcome {
        ConsentOutcome::Issued { code, membership } => {
            tracing::info!(
                project.id = project.id,
                membership.id = membership.id,
                "issued an authorization code"
            );
            let mut params = vec![("code", code.as_str())];
            if let Some(state) = request.state.as_deref() {
                params.push(("state", state));
            }
            params.push(("origin", "external"));
            let url = authorize::redirect_url(&request.redirect_uri.uri, &params);
            redirect_to_client(&url)
        }
        ConsentOutcome::ProjectInactive => inactive_page(ctx, &project.config.name),
        ConsentOutcome::CapReached(reached) => {
            cap_reached_page(ctx, &project.config.name, reached.cap)
        }
        ConsentOutcome::ProjectNotFound | ConsentOutcome::ConsentRequired => {
            PageError::NotFound.into_response()
        }
    }
}

/// 303 to a validated redirect URI. A registered URI that cannot be a header value
/// gets the error page instead of a panic.
fn redirect_to_client(url: &str) -> Response {
    match HeaderValue::from_str(url) {
        Ok(location) => (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response(),
        Err(_) => {
            tracing::warn!("a registered redirect URI is not a valid Location header");
            invalid_request_page(
                "The application's registered redirect URI is malformed, so you cannot be sent \
                 back to it. Tell the application's operators.",
            )
        }
    }
}

/// 303 to the login page, which returns to `next` (a path on this site) afterwards.
fn login_redirect(next: &str) -> Response {
    Redirect::to(&format!("/account/login/?next={}", urlencode(next))).into_response()
}

fn invalid_request_page(message: &str) -> Response {
    error_page(
        StatusCode::BAD_REQUEST,
        "Invalid authorization request",
        message,
        &message,
    )
}
