//! The consent transaction: membership, permission snapshot, history and code are
//! written together or not at all.

use super::{CODE_PURPOSE, lock_project};
use crate::clock::Micros;
use crate::crypto::{ServerKey, random_token};
use crate::db::Db;
use crate::db::memberships::{self, Membership};
use crate::domain::membership::consent_required;
use crate::domain::oauth2::cap::{self, CapReached};
use crate::domain::oauth2::redirect_uri::ResolvedRedirectUri;
use crate::domain::oauth2::scope::Scope;
use crate::domain::oauth2::{CODE_LIFETIME, TOKEN_LENGTH};

/// What the code is bound to besides the membership.
#[derive(Debug, Clone, Copy)]
pub struct CodeRequest<'a> {
    pub redirect_uri: &'a ResolvedRedirectUri,
    pub scope: &'a Scope,
    pub code_challenge: Option<&'a str>,
}

/// How the member consented.
#[derive(Debug, Clone, Copy)]
pub enum ConsentKind<'a> {
    /// On the consent page, which showed the permissions with this fingerprint
    /// (see [`crate::domain::membership::Snapshot::fingerprint`]).
    Given { shown_permissions: &'a str },
    /// The page was skipped because the member is active and the request has not
    /// changed since their consent. Nothing but the code is written.
    Skipped,
}

/// The result of a consent.
#[derive(Debug, Clone)]
pub enum ConsentOutcome {
    /// A code was issued; it is shown only here.
    Issued {
        code: String,
        membership: Membership,
    },
    ProjectNotFound,
    /// The project does not accept new authorizations.
    ProjectInactive,
    CapReached(CapReached),
    /// The project's request differs from what the member saw or granted: the consent
    /// page must be shown (again).
    ConsentRequired,
}

/// Records a member's consent and issues an authorization code, in one transaction
/// that holds the project row's lock, so that the test-member cap (`max_members`)
/// holds under concurrent authorizations.
#[allow(clippy::too_many_arguments)]
pub async fn consent_and_issue_code(
    db: &Db,
    key: &ServerKey,
    project_id: i64,
    member_id: i64,
    kind: ConsentKind<'_>,
    request: CodeRequest<'_>,
    max_members: u32,
    now: Micros,
) -> anyhow::Result<ConsentOutcome> {
    let mut tx = db.begin_write().await?;
    let Some(project) = lock_project(&mut tx, db.backend, project_id).await? else {
        return Ok(ConsentOutcome::ProjectNotFound);
    };
    if !project.active {
        return Ok(ConsentOutcome::ProjectInactive);
    }

    let existing = memberships::find(&mut tx, project_id, member_id).await?;
    let already_counted = existing
        .as_ref()
        .is_some_and(|membership| membership.status.is_active(true));
    if !already_counted {
        let active_members = memberships::count_active(&mut tx, project_id).await?;
        if let Err(reached) = cap::check(project.approved, false, active_members, max_members) {
            return Ok(ConsentOutcome::CapReached(reached));
        }
    }

    let membership = match kind {
        ConsentKind::Skipped => {
            let current = existing.as_ref().map(|m| (m.status, &m.snapshot));
            if consent_required(current, &project.requested, false) {
                return Ok(ConsentOutcome::ConsentRequired);
            }
            existing.ok_or_else(|| anyhow::anyhow!("an active membership was expected"))?
        }
        ConsentKind::Given { shown_permissions } => {
            if shown_permissions != project.requested.fingerprint() {
                return Ok(ConsentOutcome::ConsentRequired);
            }
            let membership = match existing {
                Some(membership) => membership,
                None => memberships::find_or_create(&mut tx, project_id, member_id, now).await?,
            };
            memberships::authorize(&mut tx, membership.id, &project.requested, now).await?;
            // A withdrawal webhook still waiting to be sent would tell the project to
            // erase a member who is back; it must not go out.
            crate::db::webhooks::supersede_pending(
                &mut tx,
                project_id,
                &membership.project_member_id,
                now,
            )
            .await?;
            memberships::find_by_id(&mut tx, membership.id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("membership {} vanished", membership.id))?
        }
    };

    let code = random_token(TOKEN_LENGTH);
    sqlx::query(
        "INSERT INTO oauth2_codes (code_hash, project_id, membership_id, redirect_uri, \
         redirect_uri_given, scope, code_challenge, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(key.hash(CODE_PURPOSE, &code))
    .bind(project_id)
    .bind(membership.id)
    .bind(&request.redirect_uri.uri)
    .bind(i64::from(request.redirect_uri.given))
    .bind(request.scope.to_string())
    .bind(request.code_challenge)
    .bind(now)
    .bind(now + CODE_LIFETIME)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(ConsentOutcome::Issued { code, membership })
}
