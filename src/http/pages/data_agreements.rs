//! `/member/me/agreements/`: what the member agreed to. For each project they ever
//! authorized, the permissions they granted (the snapshot the project works with),
//! when, and the history of authorizations and withdrawals.

use std::collections::HashMap;

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::State;

use super::data::{names_of, project_name};
use crate::app::AppState;
use crate::clock::human;
use crate::db::memberships;
use crate::domain::membership::{Actor, MembershipEventKind, Snapshot};
use crate::http::error::PageError;
use crate::http::session::{CurrentMember, PageContext};

/// Permissions as the page shows them.
pub struct Permissions {
    /// Names of the sources whose data the project may read, beyond its own uploads.
    pub sources: Vec<String>,
    pub message_permission: bool,
    pub username_shared: bool,
}

/// One authorization or withdrawal.
pub struct HistoryItem {
    pub at: String,
    pub what: &'static str,
    pub permissions: Permissions,
}

/// One project the member authorized at some time.
pub struct Agreement {
    pub project_name: String,
    pub project_member_id: String,
    pub active: bool,
    /// The permissions in force, for a current connection.
    pub current: Option<Permissions>,
    pub authorized_at: String,
    pub history: Vec<HistoryItem>,
}

#[derive(Template, WebTemplate)]
#[template(path = "data/agreements.html")]
pub struct AgreementsPage {
    ctx: PageContext,
    agreements: Vec<Agreement>,
}

/// `GET /member/me/agreements/`: the member's consent record, newest connection first.
pub async fn list_agreements(
    State(state): State<AppState>,
    CurrentMember(member): CurrentMember,
    ctx: PageContext,
) -> Result<AgreementsPage, PageError> {
    let list = memberships::list_ever_authorized_for_member(&state.db, member.id).await?;
    let mut histories = Vec::with_capacity(list.len());
    for membership in &list {
        histories.push(memberships::events(&state.db, membership.id).await?);
    }
    let ids = list
        .iter()
        .flat_map(|m| std::iter::once(m.project_id).chain(m.snapshot.granted_sources.clone()))
        .chain(
            histories
                .iter()
                .flatten()
                .flat_map(|event| event.snapshot.granted_sources.clone()),
        );
    let names = names_of(&state, ids).await?;

    let agreements = list
        .into_iter()
        .zip(histories)
        .map(|(membership, history)| {
            let active = membership.status.is_active(true);
            Agreement {
                project_name: project_name(&names, membership.project_id),
                project_member_id: membership.project_member_id,
                active,
                current: active.then(|| permissions(&membership.snapshot, &names)),
                authorized_at: membership.authorized_at.map(human).unwrap_or_default(),
                history: history
                    .iter()
                    .rev()
                    .map(|event| HistoryItem {
                        at: human(event.at),
                        what: describe_event(&event.kind, &event.actor),
                        permissions: permissions(&event.snapshot, &names),
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(AgreementsPage { ctx, agreements })
}

fn permissions(snapshot: &Snapshot, names: &HashMap<i64, String>) -> Permissions {
    Permissions {
        sources: snapshot
            .granted_sources
            .iter()
            .map(|&id| project_name(names, id))
            .collect(),
        message_permission: snapshot.message_permission,
        username_shared: snapshot.username_shared,
    }
}

/// Describes a stored membership event for the member.
fn describe_event(kind: &str, actor: &str) -> &'static str {
    let authorized = kind == MembershipEventKind::Authorized.as_str();
    match (authorized, actor == Actor::Member.as_str()) {
        (true, _) => "You authorized the project",
        (false, true) => "You withdrew",
        (false, false) => "The project removed you",
    }
}
