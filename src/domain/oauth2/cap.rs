//! The test-member cap: until a site admin approves a project, at most a fixed
//! number of members (20 by default) may be active in it, so that projects in
//! development cannot enroll the public.

/// The default cap on active members of an unapproved project.
pub const DEFAULT_MAX_UNAPPROVED_MEMBERS: u32 = 20;

/// The cap is reached and the member is not one of the counted members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this project is in development and already has {active_members} of {cap} test members")]
pub struct CapReached {
    pub active_members: i64,
    pub cap: u32,
}

/// Decides whether one more member may authorize. A member who is already active
/// (and therefore counted) may always authorize again; approval lifts the cap.
pub fn check(
    approved: bool,
    already_counted: bool,
    active_members: i64,
    cap: u32,
) -> Result<(), CapReached> {
    if approved || already_counted || active_members < i64::from(cap) {
        Ok(())
    } else {
        Err(CapReached {
            active_members,
            cap,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn twentieth_member_fits_and_twenty_first_does_not() {
        assert_eq!(check(false, false, 19, 20), Ok(()));
        assert!(check(false, false, 20, 20).is_err());
    }

    #[test]
    fn counted_member_may_reauthorize_at_cap() {
        assert_eq!(check(false, true, 20, 20), Ok(()));
    }

    #[test]
    fn approval_lifts_cap() {
        assert_eq!(check(true, false, 500, 20), Ok(()));
    }
}
