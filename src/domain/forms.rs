//! Shared rules for reading form input.

use std::collections::BTreeMap;

/// Reads a form boolean as the Open Humans API does: `true`, `True`, `on` and `1` are
/// true; `false`, `False` and the empty string are false; anything else, `0`
/// included, is `None` and must be rejected naming the field.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "true" | "True" | "on" | "1" => Some(true),
        "false" | "False" | "" => Some(false),
        _ => None,
    }
}

/// Validation messages keyed by field name, shown next to each field.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a message for `field`; the first message per field wins.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0
            .entry(field.to_string())
            .or_insert_with(|| message.into());
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(field, message)| (field.as_str(), message.as_str()))
    }

    /// `Ok(())` when no field has an error.
    pub fn into_result(self) -> Result<(), FieldErrors> {
        if self.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl std::fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (field, message) in &self.0 {
            if !first {
                f.write_str("; ")?;
            }
            write!(f, "{field}: {message}")?;
            first = false;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_bool_accepts_documented_spellings() {
        for value in ["true", "True", "on", "1"] {
            assert_eq!(parse_bool(value), Some(true), "{value}");
        }
        for value in ["false", "False", ""] {
            assert_eq!(parse_bool(value), Some(false), "{value}");
        }
        for value in ["yes", "TRUE", "0", "off", " true"] {
            assert_eq!(parse_bool(value), None, "{value}");
        }
    }
}
