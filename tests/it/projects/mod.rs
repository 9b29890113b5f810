//! Project management pages: the list, the create and edit forms, the detail page with
//! its credential actions, and badges.

mod access;
mod badge;
mod create;
mod credentials;
mod update;

use openhumans::db::projects::{self, Project};
use reqwest::multipart::{Form, Part};

use crate::support::TestApp;

pub const CREATE_PATH: &str = "/direct-sharing/projects/oauth2/create/";

/// Returns every field of the project form with a valid value, keyed by input name.
pub fn valid_fields(name: &str) -> Vec<(&'static str, String)> {
    [
        ("is_study", "true"),
        ("name", name),
        ("leader", "Dr. Grace Hopper"),
        ("organization", "Compiler Lab"),
        ("is_academic_or_nonprofit", "true"),
        ("contact_email", "team@example.org"),
        ("info_url", "https://example.org/about"),
        ("short_description", "Counting steps for science."),
        ("long_description", "A long description\nover two lines."),
        ("returned_data_description", "Daily step counts as CSV."),
        ("active", "true"),
        ("request_message_permission", "true"),
        ("request_username_access", "false"),
        ("enrollment_url", "https://example.org/join"),
        ("terms_url", "https://example.org/terms"),
        (
            "redirect_url",
            "https://example.org/callback\nhttp://127.0.0.1:8080/cb com.example.steps:/oauth",
        ),
        ("deauth_webhook", "https://example.org/hooks/deauth"),
        ("webhook_secret", "0123456789abcdef-secret"),
        ("erasure_supported", "true"),
        ("deauth_email_notification", "true"),
        ("require_pkce", "true"),
    ]
    .into_iter()
    .map(|(key, value)| (key, value.to_string()))
    .collect()
}

/// Replaces the value of `field` in `fields`, or adds it.
pub fn set(fields: &mut Vec<(&'static str, String)>, field: &'static str, value: &str) {
    fields.retain(|(key, _)| *key != field);
    fields.push((field, value.to_string()));
}

/// Builds a multipart form from `fields`, plus a badge part when given.
pub fn multipart(fields: &[(&'static str, String)], badge: Option<Part>) -> Form {
    let mut form = Form::new();
    for (key, value) in fields {
        form = form.text(*key, value.clone());
    }
    if let Some(badge) = badge {
        form = form.part("badge", badge);
    }
    form
}

/// Posts the project form to `path`.
pub async fn post_form(
    app: &TestApp,
    client: &reqwest::Client,
    path: &str,
    fields: &[(&'static str, String)],
    badge: Option<Part>,
) -> reqwest::Response {
    client
        .post(app.url(path))
        .multipart(multipart(fields, badge))
        .send()
        .await
        .unwrap()
}

/// Returns the `Location` of a redirect.
pub fn location(response: &reqwest::Response) -> String {
    response.headers()["location"].to_str().unwrap().to_string()
}

/// Returns the text of the element with `id`, such as the one-time secret's `<code>`.
pub fn element_text(body: &str, id: &str) -> Option<String> {
    let start = body.find(&format!("id=\"{id}\">"))? + id.len() + 6;
    let end = body[start..].find('<')? + start;
    Some(body[start..end].to_string())
}

pub async fn load(app: &TestApp, slug: &str) -> Project {
    projects::find_by_slug(&app.state.db, slug)
        .await
        .unwrap()
        .expect("the project exists")
}

pub async fn project_count(app: &TestApp) -> i64 {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM projects")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    count
}

/// Encodes a PNG of `width` × `height` pixels of random noise, which does not compress.
pub fn png(width: u32, height: u32) -> Vec<u8> {
    use rand::RngCore;

    let mut pixels = vec![0u8; (width * height * 3) as usize];
    rand::rng().fill_bytes(&mut pixels);
    let image = image::RgbImage::from_raw(width, height, pixels).unwrap();
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

pub fn png_part(bytes: Vec<u8>, file_name: &str) -> Part {
    Part::bytes(bytes)
        .file_name(file_name.to_string())
        .mime_str("image/png")
        .unwrap()
}
