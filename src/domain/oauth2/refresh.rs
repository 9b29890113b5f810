//! Refresh token rotation (RFC 9700 §4.14.2): every refresh issues a new refresh
//! token and retires the old one. A retired token that comes back may be a stolen
//! copy, so after a short grace period its reuse revokes the whole grant. Within the
//! grace period it is most likely the same client retrying, or two of its workers
//! racing, so it is only rejected.

use crate::clock::Micros;

/// What to do when a rotated refresh token is presented again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RotatedTokenReuse {
    /// Reject it and keep the grant.
    Reject,
    /// Reject it and revoke every token of its grant.
    RevokeGrant,
}

/// Decides how to treat reuse of a token rotated at `rotated_at`.
pub fn rotated_token_reuse(rotated_at: Micros, now: Micros, grace: Micros) -> RotatedTokenReuse {
    if now - rotated_at > grace {
        RotatedTokenReuse::RevokeGrant
    } else {
        RotatedTokenReuse::Reject
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SECOND;

    #[test]
    fn reuse_within_grace_keeps_grant() {
        assert_eq!(
            rotated_token_reuse(100 * SECOND, 130 * SECOND, 30 * SECOND),
            RotatedTokenReuse::Reject
        );
    }

    #[test]
    fn reuse_after_grace_revokes_grant() {
        assert_eq!(
            rotated_token_reuse(100 * SECOND, 131 * SECOND, 30 * SECOND),
            RotatedTokenReuse::RevokeGrant
        );
    }
}
