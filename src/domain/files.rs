//! Rules for data files: upload metadata, datatype lists, file names and storage
//! keys, and the list and boolean fields of project API requests.

use std::collections::HashSet;

use serde_json::{Map, Value};

pub use super::forms::parse_bool;

/// Maximum size of the metadata JSON text, in bytes.
pub const MAX_METADATA_BYTES: usize = 64 * 1024;
/// Maximum length of the metadata `description`, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 10_000;
/// Maximum number of metadata `tags`.
pub const MAX_TAGS: usize = 50;
/// Maximum length of one tag, in characters.
pub const MAX_TAG_CHARS: usize = 100;
/// Maximum length of a file's basename, in characters.
pub const MAX_BASENAME_CHARS: usize = 255;
/// Maximum length of the sanitized file name inside a storage key, in bytes.
pub const MAX_KEY_NAME_BYTES: usize = 100;

/// Metadata keys holding ISO 8601 dates.
const DATE_KEYS: [&str; 3] = ["creation_date", "start_date", "end_date"];

/// Parses and checks upload metadata, which arrives as JSON text.
///
/// The value must be an object with `description` (a string of at most 10,000
/// characters) and `tags` (an array of at most 50 strings of at most 100 characters
/// each). `md5`, when present, is exactly 32 hex digits in either case; `creation_date`,
/// `start_date` and `end_date`, when present, are ISO 8601 strings. Other keys are
/// kept as they are. The whole text is at most 64 KiB. The error message names the
/// problem.
pub fn parse_metadata(text: &str) -> Result<Map<String, Value>, String> {
    if text.len() > MAX_METADATA_BYTES {
        return Err(format!(
            "metadata is {} bytes long, the maximum is {MAX_METADATA_BYTES} bytes",
            text.len()
        ));
    }
    let value: Value = serde_json::from_str(text)
        .map_err(|error| format!("metadata is not valid JSON: {error}"))?;
    let Value::Object(metadata) = value else {
        return Err(format!(
            "metadata must be a JSON object, not {}",
            json_kind(&value)
        ));
    };

    match metadata.get("description") {
        None => return Err("metadata is missing the required key \"description\"".to_string()),
        Some(Value::String(description)) => {
            let chars = description.chars().count();
            if chars > MAX_DESCRIPTION_CHARS {
                return Err(format!(
                    "metadata \"description\" has {chars} characters, the maximum is \
                     {MAX_DESCRIPTION_CHARS}"
                ));
            }
        }
        Some(other) => {
            return Err(format!(
                "metadata \"description\" must be a string, not {}",
                json_kind(other)
            ));
        }
    }

    match metadata.get("tags") {
        None => return Err("metadata is missing the required key \"tags\"".to_string()),
        Some(Value::Array(tags)) => check_tags(tags)?,
        Some(other) => {
            return Err(format!(
                "metadata \"tags\" must be an array of strings, not {}",
                json_kind(other)
            ));
        }
    }

    if let Some(md5) = metadata.get("md5") {
        match md5 {
            Value::String(md5) if is_md5(md5) => {}
            Value::String(_) => {
                return Err("metadata \"md5\" must be exactly 32 hexadecimal digits".to_string());
            }
            other => {
                return Err(format!(
                    "metadata \"md5\" must be a string of 32 hexadecimal digits, not {}",
                    json_kind(other)
                ));
            }
        }
    }

    for key in DATE_KEYS {
        match metadata.get(key) {
            None => {}
            Some(Value::String(date)) if is_iso8601(date) => {}
            Some(Value::String(date)) => {
                return Err(format!(
                    "metadata \"{key}\" is not an ISO 8601 date or date and time: {date:?}"
                ));
            }
            Some(other) => {
                return Err(format!(
                    "metadata \"{key}\" must be an ISO 8601 string, not {}",
                    json_kind(other)
                ));
            }
        }
    }
    Ok(metadata)
}

fn check_tags(tags: &[Value]) -> Result<(), String> {
    if tags.len() > MAX_TAGS {
        return Err(format!(
            "metadata \"tags\" has {} items, the maximum is {MAX_TAGS}",
            tags.len()
        ));
    }
    for (index, tag) in tags.iter().enumerate() {
        let Value::String(tag) = tag else {
            return Err(format!(
                "metadata \"tags\" item {index} must be a string, not {}",
                json_kind(tag)
            ));
        };
        let chars = tag.chars().count();
        if chars > MAX_TAG_CHARS {
            return Err(format!(
                "metadata \"tags\" item {index} has {chars} characters, the maximum is \
                 {MAX_TAG_CHARS}"
            ));
        }
    }
    Ok(())
}

/// True for exactly 32 hexadecimal digits, in either case.
pub fn is_md5(value: &str) -> bool {
    value.len() == 32 && value.bytes().all(|b| b.is_ascii_hexdigit())
}

/// True for an ISO 8601 date (`2024-05-01`), or a date and time with optional
/// fractional seconds and an optional `Z` or numeric offset
/// (`2024-05-01T12:30:00.5+02:00`), with `T` or a space between date and time.
pub fn is_iso8601(value: &str) -> bool {
    use chrono::{DateTime, NaiveDate, NaiveDateTime};

    if NaiveDate::parse_from_str(value, "%Y-%m-%d").is_ok() {
        return true;
    }
    let value = value.replacen(' ', "T", 1);
    DateTime::parse_from_rfc3339(&value).is_ok()
        || DateTime::parse_from_str(&value, "%Y-%m-%dT%H:%M:%S%.f%z").is_ok()
        || DateTime::parse_from_str(&value, "%Y-%m-%dT%H:%M%z").is_ok()
        || NaiveDateTime::parse_from_str(&value, "%Y-%m-%dT%H:%M:%S%.f").is_ok()
        || NaiveDateTime::parse_from_str(&value, "%Y-%m-%dT%H:%M").is_ok()
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// One item of an upload's `datatypes` list: a datatype id or a datatype name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatatypeRef {
    Id(i64),
    /// A name, matched ignoring case.
    Name(String),
}

impl std::fmt::Display for DatatypeRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DatatypeRef::Id(id) => write!(f, "{id}"),
            DatatypeRef::Name(name) => write!(f, "{name:?}"),
        }
    }
}

/// Parses the `datatypes` field of an upload: a JSON array whose items are datatype
/// ids (numbers or numeric strings) or names, mixed as needed. Returns `None` when the
/// field is absent or empty, so the caller applies its default. Duplicates collapse,
/// names ignoring case; the first spelling is kept.
pub fn parse_datatype_refs(text: Option<&str>) -> Result<Option<Vec<DatatypeRef>>, String> {
    let Some(text) = text.filter(|text| !text.trim().is_empty()) else {
        return Ok(None);
    };
    let value: Value = serde_json::from_str(text)
        .map_err(|error| format!("datatypes is not valid JSON: {error}"))?;
    let Value::Array(items) = value else {
        return Err(format!(
            "datatypes must be a JSON array of datatype ids or names, not {}",
            json_kind(&value)
        ));
    };

    let mut refs: Vec<DatatypeRef> = Vec::with_capacity(items.len());
    let mut invalid = Vec::new();
    for item in &items {
        let parsed = match item {
            Value::Number(number) => number.as_i64().map(DatatypeRef::Id),
            Value::String(text) => {
                let text = text.trim();
                if text.is_empty() {
                    None
                } else if let Ok(id) = text.parse::<i64>() {
                    Some(DatatypeRef::Id(id))
                } else {
                    Some(DatatypeRef::Name(text.to_string()))
                }
            }
            _ => None,
        };
        match parsed {
            Some(parsed) if !refs.iter().any(|seen| same_ref(seen, &parsed)) => refs.push(parsed),
            Some(_) => {}
            None => invalid.push(item.to_string()),
        }
    }
    if !invalid.is_empty() {
        return Err(format!(
            "datatypes items must be datatype ids or names; these are neither: {}",
            invalid.join(", ")
        ));
    }
    Ok(Some(refs))
}

fn same_ref(a: &DatatypeRef, b: &DatatypeRef) -> bool {
    match (a, b) {
        (DatatypeRef::Id(a), DatatypeRef::Id(b)) => a == b,
        (DatatypeRef::Name(a), DatatypeRef::Name(b)) => a.to_lowercase() == b.to_lowercase(),
        _ => false,
    }
}

/// Resolves datatype references against every existing datatype (`(id, name)`
/// pairs) and the ids registered for the uploading project. Returns the ids, in the
/// order given and without duplicates, or a message listing the unknown items, or
/// else the ones the project has not registered.
pub fn resolve_datatypes(
    refs: &[DatatypeRef],
    existing: &[(i64, String)],
    registered: &HashSet<i64>,
) -> Result<Vec<i64>, String> {
    let mut ids = Vec::with_capacity(refs.len());
    let mut unknown = Vec::new();
    for datatype in refs {
        let found = match datatype {
            DatatypeRef::Id(id) => existing.iter().find(|(existing, _)| existing == id),
            DatatypeRef::Name(name) => {
                let name = name.to_lowercase();
                existing
                    .iter()
                    .find(|(_, existing)| existing.to_lowercase() == name)
            }
        };
        match found {
            Some((id, _)) if !ids.contains(id) => ids.push(*id),
            Some(_) => {}
            None => unknown.push(datatype.to_string()),
        }
    }
    if !unknown.is_empty() {
        return Err(format!(
            "these datatypes do not exist: {}",
            unknown.join(", ")
        ));
    }

    let unregistered: Vec<String> = ids
        .iter()
        .filter(|id| !registered.contains(id))
        .map(|id| {
            let name = existing
                .iter()
                .find(|(existing, _)| existing == id)
                .map(|(_, name)| name.as_str())
                .unwrap_or_default();
            format!("{id} ({name})")
        })
        .collect();
    if !unregistered.is_empty() {
        return Err(format!(
            "these datatypes are not registered for this project: {}",
            unregistered.join(", ")
        ));
    }
    Ok(ids)
}

/// Returns the basename of an uploaded file's name: the part after the last `/` or
/// `\`. It must not be empty, `.` or `..`, contain control characters, or be longer
/// than 255 characters.
pub fn file_basename(filename: &str) -> Result<String, String> {
    let basename = filename.rsplit(['/', '\\']).next().unwrap_or_default();
    if basename.is_empty() || basename == "." || basename == ".." {
        return Err(format!(
            "filename {filename:?} has no file name after its last path separator"
        ));
    }
    if basename.chars().any(char::is_control) {
        return Err("filename must not contain control characters".to_string());
    }
    let chars = basename.chars().count();
    if chars > MAX_BASENAME_CHARS {
        return Err(format!(
            "filename has {chars} characters, the maximum is {MAX_BASENAME_CHARS}"
        ));
    }
    Ok(basename.to_string())
}

/// Turns a basename into the last segment of a storage key: spaces become `_`, every
/// character other than `A-Z a-z 0-9 . _ -` is dropped, leading dots are removed, and
/// the result is cut to 100 bytes keeping a short extension. Never empty: `file`
/// is used when nothing is left.
pub fn sanitize_key_name(basename: &str) -> String {
    let mut name: String = basename
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('_'),
            c if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') => Some(c),
            _ => None,
        })
        .collect();
    name = name.trim_start_matches('.').to_string();
    if name.len() > MAX_KEY_NAME_BYTES {
        let extension = name
            .rfind('.')
            .map(|dot| name[dot..].to_string())
            .filter(|extension| extension.len() <= 16)
            .unwrap_or_default();
        name.truncate(MAX_KEY_NAME_BYTES - extension.len());
        name.push_str(&extension);
    }
    if name.is_empty() {
        "file".to_string()
    } else {
        name
    }
}

/// Builds the storage key of a project's upload:
/// `member-files/direct-sharing-<project id>/<random>/<sanitized name>`. `random` is a
/// fresh random token that keeps keys of equal names apart.
pub fn storage_key(project_id: i64, random: &str, basename: &str) -> String {
    format!(
        "member-files/{}/{random}/{}",
        id_label(project_id),
        sanitize_key_name(basename)
    )
}

/// The source label of a project's files: `direct-sharing-<project id>`.
pub fn id_label(project_id: i64) -> String {
    format!("direct-sharing-{project_id}")
}

/// Parses the `project_member_ids` values of a request. Every value counts (a form may
/// repeat the field, and a JSON array gives one value per item), and each value is
/// also split on commas, spaces and newlines. Duplicates collapse, keeping the first
/// position. Each id must be 8 digits, or 16 for ids from older systems. Returns the
/// ids, or every invalid value.
pub fn parse_project_member_ids<S: AsRef<str>>(values: &[S]) -> Result<Vec<String>, Vec<String>> {
    let mut ids: Vec<String> = Vec::new();
    let mut invalid: Vec<String> = Vec::new();
    for value in values {
        for item in value
            .as_ref()
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|item| !item.is_empty())
        {
            if !is_project_member_id(item) {
                if !invalid.iter().any(|seen| seen == item) {
                    invalid.push(item.to_string());
                }
            } else if !ids.iter().any(|seen| seen == item) {
                ids.push(item.to_string());
            }
        }
    }
    if invalid.is_empty() {
        Ok(ids)
    } else {
        Err(invalid)
    }
}

/// True for 8 ASCII digits, or 16 for ids from older systems.
pub fn is_project_member_id(value: &str) -> bool {
    matches!(value.len(), 8 | 16) && value.bytes().all(|b| b.is_ascii_digit())
}

/// Reads a form boolean named `field`; the error names the field and the accepted
/// spellings.
pub fn parse_bool_field(field: &str, value: &str) -> Result<bool, String> {
    parse_bool(value).ok_or_else(|| {
        format!(
            "{field} must be true or false (true, True, on, 1 / false, False or empty), not \
             {value:?}"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_accepts_valid_objects() {
        let cases = [
            r#"{"description": "", "tags": []}"#,
            r#"{"description": "Steps", "tags": ["a", "b"], "md5": "0123456789abcdefABCDEF0123456789"}"#,
            r#"{"description": "x", "tags": [], "creation_date": "2018-01-01T00:00:00+00:00"}"#,
            r#"{"description": "x", "tags": [], "start_date": "2018-01-01", "end_date": "2018-01-02T03:04:05.123456Z"}"#,
            r#"{"description": "x", "tags": [], "creation_date": "2018-01-01 10:00:00"}"#,
            r#"{"description": "x", "tags": [], "extra": {"nested": [1, 2]}}"#,
        ];
        for text in cases {
            assert!(
                parse_metadata(text).is_ok(),
                "{text}: {:?}",
                parse_metadata(text)
            );
        }
    }

    #[test]
    fn metadata_keeps_other_keys() {
        let metadata = parse_metadata(r#"{"description": "d", "tags": [], "k": 5}"#).unwrap();
        assert_eq!(metadata["k"], 5);
    }

    #[test]
    fn metadata_rejects_each_rule_with_a_message() {
        let long_description = format!(
            r#"{{"description": "{}", "tags": []}}"#,
            "a".repeat(MAX_DESCRIPTION_CHARS + 1)
        );
        let many_tags = format!(
            r#"{{"description": "", "tags": [{}]}}"#,
            vec!["\"t\""; MAX_TAGS + 1].join(",")
        );
        let long_tag = format!(
            r#"{{"description": "", "tags": ["{}"]}}"#,
            "t".repeat(MAX_TAG_CHARS + 1)
        );
        let huge = format!(
            r#"{{"description": "", "tags": [], "x": "{}"}}"#,
            "a".repeat(MAX_METADATA_BYTES)
        );
        let cases: Vec<(&str, &str)> = vec![
            ("not json", "not valid JSON"),
            ("[]", "must be a JSON object, not an array"),
            ("\"text\"", "must be a JSON object, not a string"),
            ("5", "must be a JSON object, not a number"),
            (
                r#"{"tags": []}"#,
                "missing the required key \"description\"",
            ),
            (
                r#"{"description": 5, "tags": []}"#,
                "\"description\" must be a string",
            ),
            (&long_description, "\"description\" has 10001 characters"),
            (
                r#"{"description": ""}"#,
                "missing the required key \"tags\"",
            ),
            (
                r#"{"description": "", "tags": "a"}"#,
                "\"tags\" must be an array",
            ),
            (
                r#"{"description": "", "tags": [1]}"#,
                "item 0 must be a string",
            ),
            (&many_tags, "\"tags\" has 51 items"),
            (&long_tag, "item 0 has 101 characters"),
            (
                r#"{"description": "", "tags": [], "md5": "abc"}"#,
                "32 hexadecimal",
            ),
            (
                r#"{"description": "", "tags": [], "md5": "0123456789abcdef0123456789abcdefXX"}"#,
                "32 hexadecimal",
            ),
            (
                r#"{"description": "", "tags": [], "md5": "0123456789abcdef0123456789abcdeg"}"#,
                "32 hexadecimal",
            ),
            (
                r#"{"description": "", "tags": [], "md5": 5}"#,
                "\"md5\" must be a string",
            ),
            (
                r#"{"description": "", "tags": [], "creation_date": "yesterday"}"#,
                "\"creation_date\" is not an ISO 8601",
            ),
            (
                r#"{"description": "", "tags": [], "start_date": 1500000000}"#,
                "\"start_date\" must be an ISO 8601 string",
            ),
            (
                r#"{"description": "", "tags": [], "end_date": "2018-13-01"}"#,
                "\"end_date\" is not an ISO 8601",
            ),
            (&huge, "the maximum is 65536 bytes"),
        ];
        for (text, expected) in cases {
            let error = parse_metadata(text).expect_err(text);
            assert!(
                error.contains(expected),
                "{text:.60}: {error:?} lacks {expected:?}"
            );
        }
    }

    #[test]
    fn datatype_refs_accept_ids_names_and_mixtures() {
        let cases: Vec<(&str, Vec<DatatypeRef>)> = vec![
            ("[]", vec![]),
            ("[1, 2]", vec![DatatypeRef::Id(1), DatatypeRef::Id(2)]),
            (r#"["3", 4]"#, vec![DatatypeRef::Id(3), DatatypeRef::Id(4)]),
            (
                r#"["Steps", 7]"#,
                vec![DatatypeRef::Name("Steps".into()), DatatypeRef::Id(7)],
            ),
            (
                r#"["Steps", "steps", 1, "1"]"#,
                vec![DatatypeRef::Name("Steps".into()), DatatypeRef::Id(1)],
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(
                parse_datatype_refs(Some(text)),
                Ok(Some(expected)),
                "{text}"
            );
        }
        assert_eq!(parse_datatype_refs(None), Ok(None));
        assert_eq!(parse_datatype_refs(Some("")), Ok(None));
    }

    #[test]
    fn datatype_refs_reject_non_arrays_and_odd_items() {
        let cases = [
            ("\"Steps\"", "not a string"),
            ("5", "not a number"),
            (r#"{"a": 1}"#, "not an object"),
            ("[1.5]", "neither: 1.5"),
            ("[true, null]", "neither: true, null"),
            ("[[1]]", "neither: [1]"),
            ("[1,", "not valid JSON"),
        ];
        for (text, expected) in cases {
            let error = parse_datatype_refs(Some(text)).expect_err(text);
            assert!(error.contains(expected), "{text}: {error:?}");
        }
    }

    #[test]
    fn datatypes_resolve_by_id_and_name() {
        let existing = vec![(1, "Steps".to_string()), (2, "Sleep".to_string())];
        let registered: HashSet<i64> = [1, 2].into();
        let refs = vec![
            DatatypeRef::Name("sLEEP".into()),
            DatatypeRef::Id(1),
            DatatypeRef::Id(2),
        ];
        assert_eq!(
            resolve_datatypes(&refs, &existing, &registered),
            Ok(vec![2, 1])
        );
    }

    #[test]
    fn datatypes_unknown_or_unregistered_are_listed() {
        let existing = vec![(1, "Steps".to_string()), (2, "Sleep".to_string())];
        let registered: HashSet<i64> = [1].into();

        let unknown = vec![
            DatatypeRef::Id(9),
            DatatypeRef::Name("Mood".into()),
            DatatypeRef::Id(1),
        ];
        let error = resolve_datatypes(&unknown, &existing, &registered).unwrap_err();
        assert!(error.contains("do not exist: 9, \"Mood\""), "{error}");

        let unregistered = vec![DatatypeRef::Id(1), DatatypeRef::Name("sleep".into())];
        let error = resolve_datatypes(&unregistered, &existing, &registered).unwrap_err();
        assert!(
            error.contains("not registered for this project: 2 (Sleep)"),
            "{error}"
        );
    }

    #[test]
    fn basename_drops_any_path() {
        let cases = [
            ("data.csv", "data.csv"),
            ("dir/sub/data.csv", "data.csv"),
            ("C:\\Users\\me\\data 1.csv", "data 1.csv"),
            ("Schrödinger's cat.txt", "Schrödinger's cat.txt"),
            ("..hidden", "..hidden"),
        ];
        for (filename, expected) in cases {
            assert_eq!(
                file_basename(filename).as_deref(),
                Ok(expected),
                "{filename}"
            );
        }
    }

    #[test]
    fn basename_rejects_empty_dots_controls_and_long_names() {
        for filename in ["", "dir/", "..", "a/.", "a\nb", &"x".repeat(256)] {
            assert!(file_basename(filename).is_err(), "{filename:?}");
        }
    }

    #[test]
    fn key_name_keeps_only_safe_characters() {
        let long = format!("{}.csv", "a".repeat(200));
        let cases = [
            ("data.csv", "data.csv"),
            ("my data (1).csv", "my_data_1.csv"),
            ("..hidden", "hidden"),
            ("..", "file"),
            ("ü€", "file"),
            ("../../etc/passwd", "etcpasswd"),
            ("a\u{0}b", "ab"),
        ];
        for (basename, expected) in cases {
            assert_eq!(sanitize_key_name(basename), expected, "{basename:?}");
        }
        let cut = sanitize_key_name(&long);
        assert_eq!(cut.len(), MAX_KEY_NAME_BYTES);
        assert!(cut.ends_with(".csv"), "{cut}");
    }

    #[test]
    fn storage_key_has_project_label_and_random_part() {
        assert_eq!(
            storage_key(12, "abc123", "my file.txt"),
            "member-files/direct-sharing-12/abc123/my_file.txt"
        );
        let key = storage_key(1, "r", "../x/..");
        assert!(
            key.split('/').all(|part| part != ".." && !part.is_empty()),
            "{key}"
        );
    }

    #[test]
    fn member_ids_from_repeated_and_split_values() {
        let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
            (vec!["12345678"], vec!["12345678"]),
            (vec!["12345678", "87654321"], vec!["12345678", "87654321"]),
            (vec!["12345678,87654321"], vec!["12345678", "87654321"]),
            (
                vec!["12345678 87654321\n11111111, 22222222"],
                vec!["12345678", "87654321", "11111111", "22222222"],
            ),
            (vec!["12345678", "12345678,12345678"], vec!["12345678"]),
            (vec!["1234567812345678"], vec!["1234567812345678"]),
            (vec!["", " , "], vec![]),
        ];
        for (values, expected) in cases {
            assert_eq!(
                parse_project_member_ids(&values),
                Ok(expected.iter().map(|id| id.to_string()).collect()),
                "{values:?}"
            );
        }
    }

    #[test]
    fn member_ids_invalid_values_are_all_returned() {
        let values = ["12345678,1234", "abcdefgh", "123456789", "1234"];
        assert_eq!(
            parse_project_member_ids(&values),
            Err(vec![
                "1234".to_string(),
                "abcdefgh".to_string(),
                "123456789".to_string()
            ])
        );
    }

    #[test]
    fn bool_field_names_the_field() {
        assert_eq!(parse_bool_field("all_files", "True"), Ok(true));
        assert_eq!(parse_bool_field("all_files", ""), Ok(false));
        let error = parse_bool_field("all_files", "0").unwrap_err();
        assert!(
            error.starts_with("all_files must be true or false"),
            "{error}"
        );
    }
}
