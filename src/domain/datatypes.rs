//! Datatypes: the categories that classify data files, arranged in a tree.

use std::collections::HashMap;

use super::forms::FieldErrors;

/// Maximum length of a datatype name, in characters.
pub const MAX_NAME_CHARS: usize = 40;
/// Maximum length of a datatype description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 100;
/// Maximum length of a datatype's details, in characters.
pub const MAX_DETAILS_CHARS: usize = 10_000;

/// A datatype as submitted by a site admin, after validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatatypeInput {
    pub name: String,
    pub parent_id: Option<i64>,
    pub description: String,
    pub details: String,
    /// Whether files may be uploaded with this datatype; an uploadable datatype cannot
    /// have children.
    pub uploadable: bool,
}

/// The parent and uploadable flag of one existing datatype, as validation needs them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeNode {
    pub parent_id: Option<i64>,
    pub uploadable: bool,
}

/// Checks a datatype submitted for creation (`editing` is `None`) or for an update of
/// datatype `editing`.
///
/// The name has 1 to 40 letters, digits, `_`, `-` or spaces; the description 1 to 100
/// characters. The parent must exist, must not be uploadable, and must be neither the
/// datatype itself nor one of its descendants. An uploadable datatype must not have
/// children. Name uniqueness is left to the database.
pub fn validate(
    input: &DatatypeInput,
    editing: Option<i64>,
    tree: &HashMap<i64, TreeNode>,
) -> Result<DatatypeInput, FieldErrors> {
    let mut errors = FieldErrors::new();
    let name = input.name.trim().to_string();
    let description = input.description.trim().to_string();

    if name.is_empty() {
        errors.add("name", "Enter a name.");
    } else if name.chars().count() > MAX_NAME_CHARS {
        errors.add(
            "name",
            format!("The name must be at most {MAX_NAME_CHARS} characters long."),
        );
    } else if !name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | ' '))
    {
        errors.add(
            "name",
            "The name may contain only letters, digits, underscores, hyphens and spaces.",
        );
    }

    if description.is_empty() {
        errors.add("description", "Enter a description.");
    } else if description.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.add(
            "description",
            format!("The description must be at most {MAX_DESCRIPTION_CHARS} characters long."),
        );
    }
    if input.details.chars().count() > MAX_DETAILS_CHARS {
        errors.add(
            "details",
            format!("The details must be at most {MAX_DETAILS_CHARS} characters long."),
        );
    }

    if let Some(parent_id) = input.parent_id {
        match tree.get(&parent_id) {
            None => errors.add("parent", "The chosen parent datatype does not exist."),
            Some(parent) if parent.uploadable => errors.add(
                "parent",
                "An uploadable datatype cannot be a parent; choose a category instead.",
            ),
            Some(_) => {
                if let Some(editing) = editing
                    && is_self_or_descendant(parent_id, editing, tree)
                {
                    errors.add(
                        "parent",
                        "A datatype cannot be its own parent or a child of its descendants.",
                    );
                }
            }
        }
    }

    if input.uploadable
        && let Some(editing) = editing
        && tree.values().any(|node| node.parent_id == Some(editing))
    {
        errors.add(
            "uploadable",
            "A datatype with children cannot be uploadable.",
        );
    }

    errors.into_result()?;
    Ok(DatatypeInput {
        name,
        parent_id: input.parent_id,
        description,
        details: input.details.clone(),
        uploadable: input.uploadable,
    })
}

/// True when `candidate` is `ancestor` or lies below it in the tree. A cycle already in
/// the stored tree ends the walk instead of looping.
fn is_self_or_descendant(candidate: i64, ancestor: i64, tree: &HashMap<i64, TreeNode>) -> bool {
    let mut current = Some(candidate);
    let mut steps = 0;
    while let Some(id) = current {
        if id == ancestor {
            return true;
        }
        steps += 1;
        if steps > tree.len() {
            return false;
        }
        current = tree.get(&id).and_then(|node| node.parent_id);
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(name: &str, parent_id: Option<i64>, uploadable: bool) -> DatatypeInput {
        DatatypeInput {
            name: name.to_string(),
            parent_id,
            description: "A description".to_string(),
            details: String::new(),
            uploadable,
        }
    }

    /// 1 (category) → 2 (category) → 3 (uploadable)
    fn tree() -> HashMap<i64, TreeNode> {
        HashMap::from([
            (
                1,
                TreeNode {
                    parent_id: None,
                    uploadable: false,
                },
            ),
            (
                2,
                TreeNode {
                    parent_id: Some(1),
                    uploadable: false,
                },
            ),
            (
                3,
                TreeNode {
                    parent_id: Some(2),
                    uploadable: true,
                },
            ),
        ])
    }

    #[test]
    fn valid_names_pass_trimmed() {
        for name in ["Steps", "Heart rate", "gps-track_2", "Schlaf Ä", " Padded "] {
            let checked = validate(&input(name, None, true), None, &tree()).unwrap();
            assert_eq!(checked.name, name.trim());
        }
    }

    #[test]
    fn invalid_names_are_rejected() {
        for name in ["", "   ", "a/b", "semi;colon", "dot.name", &"n".repeat(41)] {
            let errors = validate(&input(name, None, true), None, &tree()).unwrap_err();
            assert!(errors.get("name").is_some(), "{name:?}");
        }
    }

    #[test]
    fn description_is_required_and_limited() {
        let mut missing = input("Steps", None, true);
        missing.description = " ".to_string();
        let errors = validate(&missing, None, &tree()).unwrap_err();
        assert_eq!(errors.get("description"), Some("Enter a description."));

        let mut long = input("Steps", None, true);
        long.description = "d".repeat(101);
        assert!(validate(&long, None, &tree()).is_err());
    }

    #[test]
    fn parent_rules() {
        let cases: Vec<(Option<i64>, Option<i64>, bool)> = vec![
            // (parent, editing, valid)
            (Some(1), None, true),
            (Some(2), None, true),
            (Some(3), None, false),  // uploadable parent
            (Some(99), None, false), // unknown parent
            (Some(1), Some(1), false),
            (Some(2), Some(1), false), // descendant as parent
            (Some(1), Some(2), true),
        ];
        for (parent, editing, valid) in cases {
            let result = validate(&input("X", parent, false), editing, &tree());
            assert_eq!(
                result.is_ok(),
                valid,
                "parent {parent:?}, editing {editing:?}"
            );
        }
    }

    #[test]
    fn datatype_with_children_cannot_be_uploadable() {
        let errors = validate(&input("X", None, true), Some(1), &tree()).unwrap_err();
        assert!(errors.get("uploadable").is_some());
        assert!(validate(&input("X", Some(2), true), Some(3), &tree()).is_ok());
    }
}
