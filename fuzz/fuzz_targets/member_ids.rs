//! `project_member_ids` lists and message recipients, as the project API reads them
//! from urlencoded and JSON bodies.
//!
//! Properties:
//! - A parsed list contains every valid id of the input and nothing else, each once,
//!   in order of first appearance.
//! - A rejected list names only invalid items, each once.
//! - Recipients are either all members or a non-empty list of ids.

#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use openhumans::domain::files::{is_project_member_id, parse_project_member_ids};
use openhumans::domain::messaging::{Recipients, parse_recipients};
use openhumans::http::api::body::{ApiBody, parse_json, parse_urlencoded};

#[derive(Debug, Arbitrary)]
struct Input {
    values: Vec<String>,
    form: Vec<u8>,
    json: Vec<u8>,
}

fuzz_target!(|input: Input| {
    check_member_ids(&input.values);
    if let Ok(fields) = parse_urlencoded(&input.form) {
        check_recipients(&ApiBody::from_fields(fields));
    }
    if let Ok(fields) = parse_json(&input.json) {
        check_recipients(&ApiBody::from_fields(fields));
    }
});

fn check_member_ids(values: &[String]) {
    let items: Vec<&str> = values
        .iter()
        .flat_map(|value| value.split(|c: char| c == ',' || c.is_whitespace()))
        .filter(|item| !item.is_empty())
        .collect();
    match parse_project_member_ids(values) {
        Ok(ids) => {
            let mut expected: Vec<&str> = Vec::new();
            for item in &items {
                assert!(is_project_member_id(item), "{item:?} was accepted");
                if !expected.contains(item) {
                    expected.push(item);
                }
            }
            assert_eq!(ids, expected);
        }
        Err(invalid) => {
            assert!(!invalid.is_empty());
            for (index, item) in invalid.iter().enumerate() {
                assert!(!is_project_member_id(item), "{item:?} was reported invalid");
                assert!(
                    items.contains(&item.as_str()),
                    "{item:?} is not in the input"
                );
                assert!(
                    !invalid[index + 1..].contains(item),
                    "{item:?} is listed twice"
                );
            }
        }
    }
}

fn check_recipients(body: &ApiBody) {
    let ids = body.get_all("project_member_ids");
    check_member_ids(&ids.iter().map(|id| id.to_string()).collect::<Vec<_>>());
    match parse_recipients(body.get("all_members"), &ids) {
        Ok(Recipients::AllMembers) => {}
        Ok(Recipients::Ids(ids)) => {
            assert!(!ids.is_empty());
            assert!(ids.iter().all(|id| is_project_member_id(id)));
        }
        Err(errors) => assert!(!errors.is_empty()),
    }
}
