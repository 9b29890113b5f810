//! Direct upload input: the metadata JSON, the `datatypes` list, and the file name
//! that becomes part of a storage key.
//!
//! Properties:
//! - Accepted metadata obeys every documented limit, and parses again to the same
//!   object once serialized.
//! - A datatype list has no duplicates.
//! - A basename is the last path segment of the name it came from.
//! - A storage key has four segments of safe characters, none of them `.` or `..`.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use openhumans::domain::files::{
    DatatypeRef, MAX_BASENAME_CHARS, MAX_DESCRIPTION_CHARS, MAX_KEY_NAME_BYTES, MAX_METADATA_BYTES,
    MAX_TAG_CHARS, MAX_TAGS, file_basename, is_iso8601, is_md5, parse_datatype_refs,
    parse_metadata, storage_key,
};
use serde_json::{Map, Value};

#[derive(Debug, Arbitrary)]
struct Input {
    metadata: String,
    datatypes: String,
    filename: String,
    project_id: u32,
}

fuzz_target!(|input: Input| {
    if let Ok(metadata) = parse_metadata(&input.metadata) {
        check_metadata(&metadata);
    }
    if let Ok(Some(refs)) = parse_datatype_refs(Some(&input.datatypes)) {
        check_datatype_refs(&refs);
    }
    check_file_name(&input.filename, i64::from(input.project_id));
});

fn check_metadata(metadata: &Map<String, Value>) {
    let description = metadata["description"]
        .as_str()
        .expect("description is a string");
    assert!(description.chars().count() <= MAX_DESCRIPTION_CHARS);
    let tags = metadata["tags"].as_array().expect("tags is an array");
    assert!(tags.len() <= MAX_TAGS);
    for tag in tags {
        let tag = tag.as_str().expect("every tag is a string");
        assert!(tag.chars().count() <= MAX_TAG_CHARS);
    }
    if let Some(md5) = metadata.get("md5") {
        assert!(md5.as_str().is_some_and(is_md5), "md5 {md5}");
    }
    for key in ["creation_date", "start_date", "end_date"] {
        if let Some(date) = metadata.get(key) {
            assert!(date.as_str().is_some_and(is_iso8601), "{key} {date}");
        }
    }

    // Serializing can lengthen numbers (1e5 becomes 100000.0), so only text that is
    // still within the limit must parse again.
    let text = serde_json::to_string(metadata).expect("a JSON map serializes");
    if text.len() <= MAX_METADATA_BYTES {
        assert_eq!(parse_metadata(&text).as_ref(), Ok(metadata));
    }
}

fn check_datatype_refs(refs: &[DatatypeRef]) {
    for (index, first) in refs.iter().enumerate() {
        if let DatatypeRef::Name(name) = first {
            assert!(!name.is_empty(), "empty name");
            assert_eq!(name.trim(), name, "untrimmed name");
        }
        for second in &refs[index + 1..] {
            let duplicate = match (first, second) {
                (DatatypeRef::Id(a), DatatypeRef::Id(b)) => a == b,
                (DatatypeRef::Name(a), DatatypeRef::Name(b)) => {
                    a.to_lowercase() == b.to_lowercase()
                }
                _ => false,
            };
            assert!(!duplicate, "{first} and {second} are the same datatype");
        }
    }
}

fn check_file_name(filename: &str, project_id: i64) {
    let Ok(basename) = file_basename(filename) else {
        return;
    };
    assert!(filename.ends_with(&basename));
    assert!(!basename.contains(['/', '\\']));
    assert!(!basename.chars().any(char::is_control));
    assert!(basename.chars().count() <= MAX_BASENAME_CHARS);
    assert_ne!(basename, ".");
    assert_ne!(basename, "..");

    let key = storage_key(project_id, "r4nd0m", &basename);
    let segments: Vec<&str> = key.split('/').collect();
    assert_eq!(segments.len(), 4, "{key}");
    let name = segments[3];
    assert!(
        !name.is_empty() && name.len() <= MAX_KEY_NAME_BYTES,
        "{key}"
    );
    assert!(!name.starts_with('.'), "{key}");
    let safe = |byte: u8| byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-');
    assert!(name.bytes().all(safe), "{key}");
}
