//! The approval workflow of a project: its states, who may move it between them, and
//! what a request for approval must contain.
//!
//! A project starts as a draft. Its coordinator submits it for review; a site admin
//! then approves it or requests changes, and after changes were requested the
//! coordinator submits again. An admin may later remove the approval, which returns
//! the project to the draft state. No admin decides on a project they coordinate.
//!
//! Apart from the approval state, an admin may deactivate a project, which closes it
//! to new members. The project stays inactive until an admin reactivates it, and
//! meanwhile its coordinator cannot make it active again.

use super::forms::FieldErrors;

/// Largest ethics approval document accepted, in bytes (5 MiB).
pub const MAX_DOCUMENT_BYTES: usize = 5 * 1024 * 1024;

/// Maximum length of the ethics board's name and of the approval reference, in
/// characters.
pub const MAX_ETHICS_FIELD_CHARS: usize = 200;

/// Maximum length of a reviewer's comment, in characters.
pub const MAX_COMMENT_CHARS: usize = 5_000;

/// The guidelines a coordinator acknowledges when requesting approval.
pub const ACTIVITY_GUIDELINES: &[&str] = &[
    "The project tells members plainly what data it reads, what it does with it and \
     what it returns to them.",
    "The project uses members' data only for the purpose it describes, and keeps it \
     secure.",
    "The project never asks members for their password and never sells their data.",
    "The project lets members leave at any time, and stops reading their data when \
     they do.",
    "A study has the approval of an ethics board (an institutional review board or \
     equivalent) for what it asks of members.",
    "The project's contact address is read, and members who write to it get an answer.",
];

/// A project's stage in the approval workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalState {
    Draft,
    InReview,
    ChangesRequested,
    Approved,
}

impl ApprovalState {
    /// Returns the value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalState::Draft => "draft",
            ApprovalState::InReview => "in_review",
            ApprovalState::ChangesRequested => "changes_requested",
            ApprovalState::Approved => "approved",
        }
    }

    /// Parses a stored value; anything unknown reads as a draft.
    pub fn parse(value: &str) -> Self {
        match value {
            "in_review" => ApprovalState::InReview,
            "changes_requested" => ApprovalState::ChangesRequested,
            "approved" => ApprovalState::Approved,
            _ => ApprovalState::Draft,
        }
    }

    /// Returns the state as pages show it.
    pub fn label(self) -> &'static str {
        match self {
            ApprovalState::Draft => "Draft",
            ApprovalState::InReview => "In review",
            ApprovalState::ChangesRequested => "Changes requested",
            ApprovalState::Approved => "Approved",
        }
    }

    /// Checks whether the coordinator may submit (or resubmit) a request now.
    pub fn can_submit(self) -> bool {
        matches!(self, ApprovalState::Draft | ApprovalState::ChangesRequested)
    }
}

/// A change to a project's approval, as recorded in its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalAction {
    Submitted,
    Approved,
    ChangesRequested,
    ApprovalRemoved,
    Deactivated,
    Reactivated,
}

impl ApprovalAction {
    /// Returns the value stored in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalAction::Submitted => "submitted",
            ApprovalAction::Approved => "approved",
            ApprovalAction::ChangesRequested => "changes_requested",
            ApprovalAction::ApprovalRemoved => "approval_removed",
            ApprovalAction::Deactivated => "deactivated",
            ApprovalAction::Reactivated => "reactivated",
        }
    }

    /// Parses a stored value.
    pub fn parse(value: &str) -> Option<Self> {
        Some(match value {
            "submitted" => ApprovalAction::Submitted,
            "approved" => ApprovalAction::Approved,
            "changes_requested" => ApprovalAction::ChangesRequested,
            "approval_removed" => ApprovalAction::ApprovalRemoved,
            "deactivated" => ApprovalAction::Deactivated,
            "reactivated" => ApprovalAction::Reactivated,
            _ => return None,
        })
    }

    /// Returns the action as the history shows it, followed by "by <who>", so it
    /// never names its author itself.
    pub fn label(self) -> &'static str {
        match self {
            ApprovalAction::Submitted => "Submitted for review",
            ApprovalAction::Approved => "Approved",
            ApprovalAction::ChangesRequested => "Changes requested",
            ApprovalAction::ApprovalRemoved => "Approval removed",
            ApprovalAction::Deactivated => "Deactivated",
            ApprovalAction::Reactivated => "Reactivated",
        }
    }

    /// Returns the state a project moves to after this action, or `None` when the
    /// action does not change the approval state.
    pub fn next_state(self) -> Option<ApprovalState> {
        match self {
            ApprovalAction::Submitted => Some(ApprovalState::InReview),
            ApprovalAction::Approved => Some(ApprovalState::Approved),
            ApprovalAction::ChangesRequested => Some(ApprovalState::ChangesRequested),
            ApprovalAction::ApprovalRemoved => Some(ApprovalState::Draft),
            ApprovalAction::Deactivated | ApprovalAction::Reactivated => None,
        }
    }
}

/// The reason a reviewer's decision is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("You coordinate this project, so another site admin must review it.")]
    OwnProject,
    #[error("This project is not in review, so there is nothing to decide.")]
    NotInReview,
    #[error("This project is not approved.")]
    NotApproved,
    #[error("Write a comment that tells the coordinator what to change.")]
    CommentRequired,
    #[error("The comment may be at most {MAX_COMMENT_CHARS} characters.")]
    CommentTooLong,
}

/// Checks a reviewer's decision on a project in `state`. `own_project` is true when
/// the reviewer coordinates the project. A request for changes needs a comment.
pub fn check_decision(
    state: ApprovalState,
    action: ApprovalAction,
    own_project: bool,
    comment: &str,
) -> Result<(), DecisionError> {
    if own_project {
        return Err(DecisionError::OwnProject);
    }
    if comment.chars().count() > MAX_COMMENT_CHARS {
        return Err(DecisionError::CommentTooLong);
    }
    match action {
        ApprovalAction::ApprovalRemoved if state != ApprovalState::Approved => {
            Err(DecisionError::NotApproved)
        }
        ApprovalAction::Approved | ApprovalAction::ChangesRequested
            if state != ApprovalState::InReview =>
        {
            Err(DecisionError::NotInReview)
        }
        ApprovalAction::ChangesRequested if comment.trim().is_empty() => {
            Err(DecisionError::CommentRequired)
        }
        _ => Ok(()),
    }
}

/// The coordinator's request for approval, as submitted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApprovalRequest {
    pub guidelines_acknowledged: bool,
    pub ethics_board: String,
    pub ethics_reference: String,
}

impl ApprovalRequest {
    /// Validates the request; a study (`is_study`) must name its ethics board and its
    /// approval reference.
    pub fn validate(&self, is_study: bool) -> Result<(), FieldErrors> {
        let mut errors = FieldErrors::new();
        if !self.guidelines_acknowledged {
            errors.add(
                "guidelines",
                "Tick the box to confirm that the project follows the guidelines.",
            );
        }
        for (field, value, name) in [
            ("ethics_board", &self.ethics_board, "ethics board's name"),
            (
                "ethics_reference",
                &self.ethics_reference,
                "approval reference",
            ),
        ] {
            if is_study && value.trim().is_empty() {
                errors.add(field, format!("A study must give its {name}."));
            } else if value.chars().count() > MAX_ETHICS_FIELD_CHARS {
                errors.add(
                    field,
                    format!("The {name} may be at most {MAX_ETHICS_FIELD_CHARS} characters."),
                );
            }
        }
        errors.into_result()
    }
}

/// The reason an uploaded ethics approval document is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DocumentError {
    #[error("The approval document must be a PDF file.")]
    NotPdf,
    #[error("The approval document may be at most 5 MiB.")]
    TooLarge,
}

/// Checks that `bytes` are a PDF of at most [`MAX_DOCUMENT_BYTES`]: a PDF starts with
/// the `%PDF-` signature, whatever its file name or declared content type.
pub fn check_document(bytes: &[u8]) -> Result<(), DocumentError> {
    if bytes.len() > MAX_DOCUMENT_BYTES {
        return Err(DocumentError::TooLarge);
    }
    if !bytes.starts_with(b"%PDF-") {
        return Err(DocumentError::NotPdf);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coordinator_cannot_decide_own_project() {
        let result = check_decision(ApprovalState::InReview, ApprovalAction::Approved, true, "");
        assert_eq!(result, Err(DecisionError::OwnProject));
    }

    #[test]
    fn changes_requested_needs_comment() {
        let state = ApprovalState::InReview;
        let action = ApprovalAction::ChangesRequested;
        assert_eq!(
            check_decision(state, action, false, "  "),
            Err(DecisionError::CommentRequired)
        );
        assert_eq!(
            check_decision(state, action, false, "Fix the terms."),
            Ok(())
        );
    }

    #[test]
    fn decisions_need_review_state() {
        for state in [
            ApprovalState::Draft,
            ApprovalState::ChangesRequested,
            ApprovalState::Approved,
        ] {
            assert_eq!(
                check_decision(state, ApprovalAction::Approved, false, ""),
                Err(DecisionError::NotInReview),
                "{state:?}"
            );
        }
        assert_eq!(
            check_decision(
                ApprovalState::Draft,
                ApprovalAction::ApprovalRemoved,
                false,
                ""
            ),
            Err(DecisionError::NotApproved)
        );
    }

    #[test]
    fn resubmission_allowed_after_changes() {
        assert!(ApprovalState::Draft.can_submit());
        assert!(ApprovalState::ChangesRequested.can_submit());
        assert!(!ApprovalState::InReview.can_submit());
        assert!(!ApprovalState::Approved.can_submit());
    }

    #[test]
    fn study_needs_ethics_fields() {
        let request = ApprovalRequest {
            guidelines_acknowledged: true,
            ..ApprovalRequest::default()
        };
        let errors = request.validate(true).unwrap_err();
        assert!(errors.get("ethics_board").is_some());
        assert!(errors.get("ethics_reference").is_some());
        assert!(request.validate(false).is_ok());
    }

    #[test]
    fn guidelines_must_be_acknowledged() {
        let errors = ApprovalRequest::default().validate(false).unwrap_err();
        assert!(errors.get("guidelines").is_some());
    }

    #[test]
    fn document_must_start_with_pdf_signature() {
        assert_eq!(check_document(b"%PDF-1.7\n..."), Ok(()));
        assert_eq!(
            check_document(b"\x89PNG\r\n\x1a\n"),
            Err(DocumentError::NotPdf)
        );
        assert_eq!(check_document(b""), Err(DocumentError::NotPdf));
        let mut large = b"%PDF-1.7\n".to_vec();
        large.resize(MAX_DOCUMENT_BYTES + 1, b' ');
        assert_eq!(check_document(&large), Err(DocumentError::TooLarge));
    }

    const ACTIONS: [ApprovalAction; 6] = [
        ApprovalAction::Submitted,
        ApprovalAction::Approved,
        ApprovalAction::ChangesRequested,
        ApprovalAction::ApprovalRemoved,
        ApprovalAction::Deactivated,
        ApprovalAction::Reactivated,
    ];

    #[test]
    fn actions_round_trip() {
        for action in ACTIONS {
            assert_eq!(ApprovalAction::parse(action.as_str()), Some(action));
        }
    }

    #[test]
    fn history_labels_leave_the_author_to_the_page() {
        for action in ACTIONS {
            let label = action.label().to_lowercase();
            assert!(
                !label.contains(" by ") && !label.contains("admin"),
                "{action:?} reads {label:?}, and the history adds \"by <who>\""
            );
        }
    }

    #[test]
    fn states_round_trip() {
        for state in [
            ApprovalState::Draft,
            ApprovalState::InReview,
            ApprovalState::ChangesRequested,
            ApprovalState::Approved,
        ] {
            assert_eq!(ApprovalState::parse(state.as_str()), state);
        }
    }
}
