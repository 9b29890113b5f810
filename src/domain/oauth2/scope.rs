//! Scopes. No endpoint checks them: what a project may read is decided by the
//! member's permission snapshot. They are accepted and returned because clients
//! written for Open Humans may send them.

use std::fmt;

/// Every scope Open Humans defines, in the order they are listed and returned.
pub const SUPPORTED_SCOPES: [&str; 7] = [
    "read",
    "write",
    "american-gut",
    "go-viral",
    "pgp",
    "wildlife",
    "open-humans",
];

/// The scope granted when a request names none.
pub const DEFAULT_SCOPE: &str = "read";

/// A set of supported scopes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(Vec<&'static str>);

/// A scope name that is not in [`SUPPORTED_SCOPES`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown scope {0:?}; supported scopes are {list}", list = SUPPORTED_SCOPES.join(" "))]
pub struct UnknownScope(pub String);

impl Scope {
    /// Parses a space-separated `scope` parameter; absent or blank means
    /// [`DEFAULT_SCOPE`]. Repeated names count once.
    pub fn parse(value: Option<&str>) -> Result<Scope, UnknownScope> {
        let value = value.map(str::trim).filter(|value| !value.is_empty());
        let value = value.unwrap_or(DEFAULT_SCOPE);
        let mut names = Vec::new();
        for name in value.split(' ').filter(|name| !name.is_empty()) {
            let known = SUPPORTED_SCOPES
                .iter()
                .find(|supported| **supported == name)
                .ok_or_else(|| UnknownScope(name.to_string()))?;
            names.push(*known);
        }
        let mut scope: Vec<&'static str> = SUPPORTED_SCOPES
            .iter()
            .copied()
            .filter(|supported| names.contains(supported))
            .collect();
        scope.dedup();
        Ok(Scope(scope))
    }

    /// True when every scope of `other` is in this one.
    pub fn contains_all(&self, other: &Scope) -> bool {
        other.0.iter().all(|name| self.0.contains(name))
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_scope_defaults_to_read() {
        assert_eq!(Scope::parse(None).unwrap().to_string(), "read");
        assert_eq!(Scope::parse(Some("  ")).unwrap().to_string(), "read");
    }

    #[test]
    fn scopes_are_deduplicated_in_canonical_order() {
        let scope = Scope::parse(Some("wildlife read  read write")).unwrap();
        assert_eq!(scope.to_string(), "read write wildlife");
    }

    #[test]
    fn unknown_scope_is_rejected() {
        assert_eq!(
            Scope::parse(Some("read admin")),
            Err(UnknownScope("admin".to_string()))
        );
    }

    #[test]
    fn contains_all_checks_subsets() {
        let wide = Scope::parse(Some("read write")).unwrap();
        let narrow = Scope::parse(Some("write")).unwrap();
        assert!(wide.contains_all(&narrow));
        assert!(!narrow.contains_all(&wide));
    }
}
