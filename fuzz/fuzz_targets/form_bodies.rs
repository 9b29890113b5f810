//! Form and query decoding: the page form parser, the project API's urlencoded and
//! JSON body parsers, the token endpoint's form parser and API pagination.
//!
//! Properties:
//! - The three urlencoded parsers decode any body to the same fields, and the two
//!   strict ones reject the same bodies.
//! - Serialized fields parse back unchanged.
//! - The JSON parser returns only keys of the object it was given.
//! - A page's `next` link selects the following page and keeps every other parameter.

#![no_main]

use std::collections::HashMap;

use axum::http::HeaderValue;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use openhumans::fuzzing;
use openhumans::http::api::body::{parse_json, parse_urlencoded};
use openhumans::http::api::direct_sharing::query_value;
use openhumans::http::api::pagination::{MAX_LIMIT, PageRequest};
use serde_json::Value;
use url::Url;

const PUBLIC_URL: &str = "https://openhumans.example";
const LIST_PATH: &str = "/api/direct-sharing/project/members/";

#[derive(Debug, Arbitrary)]
struct Input {
    body: Vec<u8>,
    fields: Vec<(String, String)>,
    query: String,
}

fuzz_target!(|input: Input| {
    check_urlencoded_parsers_agree(&input.body);
    check_json_fields(&input.body);
    check_serialized_fields_round_trip(&input.fields);
    check_next_page_link(&input.query);
});

fn check_urlencoded_parsers_agree(body: &[u8]) {
    let page = fuzzing::parse_page_form(body);
    let api = parse_urlencoded(body).ok();
    assert_eq!(page, api, "the page and API form parsers disagree");

    // The token endpoint decodes invalid UTF-8 lossily, so it agrees where the others
    // accept the body, except that it rejects repeated names.
    let Some(fields) = page else { return };
    let form = HeaderValue::from_static("application/x-www-form-urlencoded");
    let token_form = fuzzing::parse_token_form(Some(&form), body);
    match unique_names(&fields) {
        Some(expected) => assert_eq!(token_form.ok(), Some(expected)),
        None => assert!(token_form.is_err(), "a repeated name was accepted"),
    }
}

fn check_json_fields(body: &[u8]) {
    let Ok(fields) = parse_json(body) else { return };
    let Ok(Value::Object(object)) = serde_json::from_slice::<Value>(body) else {
        assert!(
            fields.is_empty(),
            "fields from a body that is not an object"
        );
        return;
    };
    for (name, value) in &fields {
        let sent = object
            .get(name)
            .unwrap_or_else(|| panic!("field {name:?} is not a key of the object"));
        match sent {
            Value::String(text) => assert_eq!(text, value),
            Value::Array(items) => assert!(!items.is_empty()),
            Value::Null => panic!("a null field {name:?} was kept"),
            _ => {}
        }
    }
}

fn check_serialized_fields_round_trip(fields: &[(String, String)]) {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let expected = Some(fields.to_vec());
    assert_eq!(fuzzing::parse_page_form(body.as_bytes()), expected);
    assert_eq!(parse_urlencoded(body.as_bytes()).ok(), expected);
}

fn check_next_page_link(query: &str) {
    let page = PageRequest::new(PUBLIC_URL, LIST_PATH, Some(query));
    assert!(
        (1..=MAX_LIMIT).contains(&page.limit),
        "limit {}",
        page.limit
    );
    assert!(page.offset >= 0, "offset {}", page.offset);

    let Some(following_offset) = page.offset.checked_add(page.limit) else {
        return;
    };
    let next = page
        .next_url(following_offset + 1)
        .expect("a page that ends before the count has a next link");
    let next = Url::parse(&next).expect("the next link is an absolute URL");
    assert_eq!(next.origin().ascii_serialization(), PUBLIC_URL);
    assert_eq!(next.path(), LIST_PATH);

    let following = PageRequest::new(PUBLIC_URL, LIST_PATH, next.query());
    assert_eq!(following.limit, page.limit);
    assert_eq!(following.offset, following_offset);
    assert_eq!(
        query_value(next.query(), "access_token"),
        query_value(Some(query), "access_token"),
        "the next link changed the credential"
    );
}

/// Collects the fields into a map, or returns `None` when a name repeats.
fn unique_names(fields: &[(String, String)]) -> Option<HashMap<String, String>> {
    let mut map = HashMap::new();
    for (name, value) in fields {
        if map.insert(name.clone(), value.clone()).is_some() {
            return None;
        }
    }
    Some(map)
}
