//! Memberships: a member's connection to a project and the permission snapshot it
//! carries. A project reads only what the snapshot grants, never what its current
//! configuration requests, so changing a request needs the member's new consent.

use rand::Rng;

use crate::domain::project::ProjectConfig;

/// The permissions a member granted a project at their last authorization.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Ids of the source projects whose data the project may read, sorted.
    pub granted_sources: Vec<i64>,
    pub message_permission: bool,
    pub username_shared: bool,
}

impl Snapshot {
    /// Builds the snapshot a project's current configuration requests.
    pub fn requested_by(config: &ProjectConfig) -> Snapshot {
        Snapshot::new(
            config.requested_sources.clone(),
            config.request_message_permission,
            config.request_username_access,
        )
    }

    pub fn new(mut sources: Vec<i64>, message_permission: bool, username_shared: bool) -> Self {
        sources.sort_unstable();
        sources.dedup();
        Snapshot {
            granted_sources: sources,
            message_permission,
            username_shared,
        }
    }

    /// Formats the snapshot compactly. The consent form carries it, so that consent
    /// given to one request is never recorded for a request that changed in between.
    pub fn fingerprint(&self) -> String {
        let sources: Vec<String> = self.granted_sources.iter().map(i64::to_string).collect();
        format!(
            "sources={};message={};username={}",
            sources.join(","),
            u8::from(self.message_permission),
            u8::from(self.username_shared)
        )
    }

    /// Serializes the sources as a JSON array, as membership events store them.
    pub fn sources_json(&self) -> String {
        serde_json::to_string(&self.granted_sources).expect("a list of integers serializes")
    }
}

/// The membership flags. A membership is active when it is joined, authorized and not
/// revoked, and the member's account is active.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MembershipStatus {
    pub joined: bool,
    pub authorized: bool,
    pub revoked: bool,
}

impl MembershipStatus {
    pub fn is_active(self, account_active: bool) -> bool {
        self.joined && self.authorized && !self.revoked && account_active
    }
}

/// Whether the consent page must be shown. It is skipped only for an active member
/// whose snapshot equals what the project requests now, unless the client forces it.
pub fn consent_required(
    current: Option<(MembershipStatus, &Snapshot)>,
    requested: &Snapshot,
    force_prompt: bool,
) -> bool {
    match current {
        Some((status, snapshot)) if status.is_active(true) => force_prompt || snapshot != requested,
        _ => true,
    }
}

/// An entry of a membership's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MembershipEventKind {
    Authorized,
    Withdrawn,
}

impl MembershipEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            MembershipEventKind::Authorized => "authorized",
            MembershipEventKind::Withdrawn => "withdrawn",
        }
    }
}

/// The party that caused a membership event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// The member, on the consent page or their connections page.
    Member,
    /// The project, through its API or management pages.
    Project,
}

impl Actor {
    /// Returns the stored name. Open Humans calls these `self` and
    /// `project-coordinator`.
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::Member => "self",
            Actor::Project => "project-coordinator",
        }
    }
}

/// Kind of the job that emails a project's contact address about a withdrawal.
pub const WITHDRAWAL_NOTICE_JOB: &str = "send_withdrawal_notice";

/// Why a membership ended, as the withdrawals record and the notice email state it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WithdrawalReason {
    /// The member left from their connections page.
    Member,
    /// The project removed the member.
    Project,
    /// The member deleted their account.
    AccountDeleted,
}

impl WithdrawalReason {
    pub fn as_str(self) -> &'static str {
        match self {
            WithdrawalReason::Member => "self",
            WithdrawalReason::Project => "project-coordinator",
            WithdrawalReason::AccountDeleted => "account-deleted",
        }
    }

    /// Reads a stored name; unknown names read as a member's own withdrawal.
    pub fn parse(value: &str) -> Self {
        match value {
            "project-coordinator" => WithdrawalReason::Project,
            "account-deleted" => WithdrawalReason::AccountDeleted,
            _ => WithdrawalReason::Member,
        }
    }

    /// Describes the withdrawal for the project, e.g. "withdrew".
    pub fn describe(self) -> &'static str {
        match self {
            WithdrawalReason::Member => "withdrew",
            WithdrawalReason::Project => "was removed by the project",
            WithdrawalReason::AccountDeleted => "withdrew by deleting their account",
        }
    }
}

/// Digits in a `project_member_id`.
pub const PROJECT_MEMBER_ID_DIGITS: usize = 8;

/// Draws a random `project_member_id`: 8 decimal digits, leading zeros allowed, from the
/// thread-local CSPRNG. Uniqueness is the database's job.
pub fn random_project_member_id() -> String {
    let value: u32 = rand::rng().random_range(0..100_000_000);
    format!("{value:08}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACTIVE: MembershipStatus = MembershipStatus {
        joined: true,
        authorized: true,
        revoked: false,
    };

    #[test]
    fn project_member_id_has_eight_digits() {
        for _ in 0..100 {
            let id = random_project_member_id();
            assert_eq!(id.len(), PROJECT_MEMBER_ID_DIGITS);
            assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
        }
    }

    #[test]
    fn unchanged_request_skips_consent() {
        let snapshot = Snapshot::new(vec![3, 1], true, false);
        let requested = Snapshot::new(vec![1, 3], true, false);
        assert!(!consent_required(
            Some((ACTIVE, &snapshot)),
            &requested,
            false
        ));
    }

    #[test]
    fn changed_request_or_force_shows_consent() {
        let snapshot = Snapshot::new(vec![1], true, false);
        let more = Snapshot::new(vec![1], true, true);
        assert!(consent_required(Some((ACTIVE, &snapshot)), &more, false));
        assert!(consent_required(Some((ACTIVE, &snapshot)), &snapshot, true));
    }

    #[test]
    fn revoked_or_new_member_sees_consent() {
        let snapshot = Snapshot::default();
        let revoked = MembershipStatus {
            revoked: true,
            ..ACTIVE
        };
        assert!(consent_required(
            Some((revoked, &snapshot)),
            &snapshot,
            false
        ));
        assert!(consent_required(None, &snapshot, false));
    }

    #[test]
    fn fingerprint_names_every_permission() {
        assert_eq!(
            Snapshot::new(vec![7, 2], true, false).fingerprint(),
            "sources=2,7;message=1;username=0"
        );
    }
}
