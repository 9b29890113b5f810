//! Creating projects through the form.

use openhumans::db::projects::{self, CLIENT_SECRET_PURPOSE};

use super::{
    CREATE_PATH, element_text, load, location, post_form, project_count, set, valid_fields,
};
use crate::support::{TestApp, fixtures};

/// Creates an approved project that describes its returned data, so it can be requested.
async fn create_data_source(app: &TestApp, coordinator_id: i64, name: &str) -> i64 {
    let mut config = fixtures::project_config(name, "https://source.example/cb");
    config.returned_data_description = "Genome data.".to_string();
    let created = fixtures::create_project(app, coordinator_id, &config).await;
    projects::set_approved(&app.state.db, created.id, true, app.clock().now())
        .await
        .unwrap();
    created.id
}

#[tokio::test]
async fn create_form_labels_every_field() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;

    let response = client.get(app.url(CREATE_PATH)).send().await.unwrap();

    assert_eq!(response.status(), 200);
    let body = response.text().await.unwrap();
    for (field, _) in valid_fields("x") {
        assert!(body.contains(&format!("name=\"{field}\"")), "input {field}");
        let labelled = body.contains(&format!("for=\"{field}\""))
            || body.contains(&format!("for=\"{field}-true\""));
        assert!(labelled, "label for {field}");
        assert!(
            body.contains(&format!("id=\"{field}-help\"")),
            "help for {field}"
        );
    }
    assert!(body.contains("name=\"badge\""));
    assert!(body.contains("enctype=\"multipart/form-data\""));
}

#[tokio::test]
async fn create_with_every_field_shows_everything() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let source_id = create_data_source(&app, member.id, "Genome Source").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let mut fields = valid_fields("Step Counter");
    fields.push(("requested_sources", source_id.to_string()));

    let response = post_form(&app, &client, CREATE_PATH, &fields, None).await;

    assert_eq!(response.status(), 303);
    assert_eq!(
        location(&response),
        "/direct-sharing/projects/oauth2/step-counter/"
    );
    let project = load(&app, "step-counter").await;
    assert_eq!(project.coordinator_id, member.id);
    let config = &project.config;
    assert!(config.is_study);
    assert_eq!(config.name, "Step Counter");
    assert_eq!(config.leader, "Dr. Grace Hopper");
    assert_eq!(config.organization, "Compiler Lab");
    assert!(config.is_academic_or_nonprofit);
    assert_eq!(config.contact_email, "team@example.org");
    assert_eq!(
        config.long_description,
        "A long description\nover two lines."
    );
    assert!(config.request_message_permission);
    assert!(!config.request_username_access);
    assert_eq!(
        config.redirect_uris,
        vec![
            "https://example.org/callback",
            "http://127.0.0.1:8080/cb",
            "com.example.steps:/oauth"
        ]
    );
    assert_eq!(
        config.deauth_webhook.as_deref(),
        Some("https://example.org/hooks/deauth")
    );
    assert_eq!(
        config.webhook_secret.as_deref(),
        Some("0123456789abcdef-secret")
    );
    assert!(config.erasure_supported);
    assert!(config.deauth_email_notification);
    assert!(config.require_pkce);
    assert_eq!(config.requested_sources, vec![source_id]);
    assert!(!project.approved);

    let detail = client
        .get(app.url("/direct-sharing/projects/oauth2/step-counter/"))
        .send()
        .await
        .unwrap();
    assert_eq!(detail.status(), 200);
    assert_eq!(detail.headers()["cache-control"], "no-store");
    let body = detail.text().await.unwrap();
    let secret = element_text(&body, "client-secret").expect("the secret is shown once");
    assert_eq!(secret.len(), 64);
    assert_eq!(
        app.state.key.hash(CLIENT_SECRET_PURPOSE, &secret),
        project.client_secret_hash
    );
    let expected = [
        "Step Counter",
        "Dr. Grace Hopper",
        "Compiler Lab",
        "team@example.org",
        "https://example.org/about",
        "Counting steps for science.",
        "A long description\nover two lines.",
        "Daily step counts as CSV.",
        "https://example.org/join",
        "https://example.org/terms",
        "https://example.org/callback",
        "http://127.0.0.1:8080/cb",
        "com.example.steps:/oauth",
        "https://example.org/hooks/deauth",
        "0123456789abcdef-secret",
        // base64 of the UTF-8 bytes of the webhook secret.
        "whsec_MDEyMzQ1Njc4OWFiY2RlZi1zZWNyZXQ=",
        "Genome Source",
        "Study",
        "Project created.",
    ];
    for text in expected {
        assert!(body.contains(text), "the detail page shows {text:?}");
    }
    assert!(body.contains(&project.client_id));
    let authorize = format!(
        "{}/direct-sharing/projects/oauth2/authorize/?client_id={}&#38;response_type=code",
        app.base, project.client_id
    );
    assert!(body.contains(&authorize), "authorize URL");
    assert!(body.contains(&format!("{}/oauth2/token/", app.base)));

    let again = client
        .get(app.url("/direct-sharing/projects/oauth2/step-counter/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!again.contains(&secret), "the secret is shown only once");
    assert!(element_text(&again, "client-secret").is_none());
    assert!(again.contains(&project.client_id));
}

#[tokio::test]
async fn manage_page_lists_projects_or_explains() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;

    let empty = client
        .get(app.url("/direct-sharing/projects/manage/"))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 200);
    let body = empty.text().await.unwrap();
    assert!(body.contains("You do not coordinate any project yet."));
    assert!(body.contains("A project is a study or an activity"));
    assert!(body.contains(CREATE_PATH));

    let config = fixtures::project_config("Sleep Diary", "https://example.org/cb");
    fixtures::create_project(&app, member.id, &config).await;
    let other = fixtures::create_member(&app, "bob").await;
    let others = fixtures::project_config("Bob's Project", "https://example.org/cb");
    fixtures::create_project(&app, other.id, &others).await;

    let body = client
        .get(app.url("/direct-sharing/projects/manage/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("Sleep Diary"));
    assert!(body.contains("/direct-sharing/projects/oauth2/sleep-diary/"));
    assert!(body.contains("/direct-sharing/projects/oauth2/update/sleep-diary/"));
    assert!(body.contains("Not yet approved"));
    assert!(body.contains("Active"));
    assert!(!body.contains("Bob&#39;s Project"));
}

#[tokio::test]
async fn invalid_fields_are_named_and_values_kept() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let long_name = "n".repeat(101);
    let cases: Vec<(&'static str, String, &str)> = vec![
        ("is_study", String::new(), "Study or activity is required"),
        ("name", String::new(), "Name is required"),
        ("name", long_name, "Name must have at most 100 characters"),
        ("leader", String::new(), "Leader is required"),
        ("leader", "l".repeat(101), "Leader must have at most 100"),
        (
            "organization",
            "o".repeat(101),
            "Organization must have at most 100",
        ),
        (
            "is_academic_or_nonprofit",
            String::new(),
            "Academic or non-profit is required",
        ),
        (
            "contact_email",
            "not an email".into(),
            "Contact email must be a valid email",
        ),
        (
            "info_url",
            "example.org".into(),
            "Information URL must be an absolute URL",
        ),
        (
            "enrollment_url",
            "ftp://example.org/".into(),
            "Enrollment URL must start with https://",
        ),
        ("terms_url", String::new(), "Terms URL is required"),
        (
            "short_description",
            "s".repeat(141),
            "Short description must have at most 140",
        ),
        (
            "short_description",
            String::new(),
            "Short description is required",
        ),
        (
            "long_description",
            "l".repeat(10_001),
            "Long description must have at most 10000",
        ),
        (
            "returned_data_description",
            "r".repeat(1001),
            "Description of returned data must have at most 1000",
        ),
        ("active", "maybe".into(), "Active must be true or false"),
        (
            "request_message_permission",
            String::new(),
            "Permission to message members is required",
        ),
        (
            "request_username_access",
            String::new(),
            "Access to usernames is required",
        ),
        ("redirect_url", String::new(), "Redirect URIs are required"),
        (
            "deauth_webhook",
            "https://example.org/hook#x".into(),
            "Deauthorization webhook URL must not contain a fragment",
        ),
        (
            "webhook_secret",
            "too short".into(),
            "Webhook secret must have 16 to 64 characters",
        ),
        (
            "webhook_secret",
            "0123456789abcdefé".into(),
            "Webhook secret must contain only printable ASCII",
        ),
        (
            "require_pkce",
            "0".into(),
            "Require PKCE must be true or false",
        ),
    ];

    for (field, value, expected) in cases {
        let mut fields = valid_fields("Kept Name Value");
        set(&mut fields, field, &value);
        if field == "name" {
            set(&mut fields, "leader", "Kept Leader Value");
        }

        let response = post_form(&app, &client, CREATE_PATH, &fields, None).await;

        assert_eq!(response.status(), 422, "{field}={value:?}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains(&format!("id=\"{field}-error\">{expected}")),
            "{field}={value:?}: expected {expected:?} next to the field"
        );
        assert!(body.contains("The project was not saved."), "{field}");
        let kept = if field == "name" {
            "Kept Leader Value"
        } else {
            "Kept Name Value"
        };
        assert!(
            body.contains(&format!("value=\"{kept}\"")),
            "{field}: typed values kept"
        );
        if field != "long_description" {
            assert!(
                body.contains("A long description\nover two lines.</textarea>"),
                "{field}: textarea kept"
            );
        }
        assert!(
            body.contains("value=\"true\" checked"),
            "{field}: choices kept"
        );
    }
    assert_eq!(project_count(&app).await, 0, "no project was created");
}

#[tokio::test]
async fn bad_redirect_uris_are_rejected() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let cases = [
        (
            "https://example.org/cb#fragment",
            "must not contain a fragment",
        ),
        (
            "http://example.org/cb",
            "uses http on a host that is not loopback",
        ),
        ("myapp://callback", "neither https nor a private-use scheme"),
        (
            "https://user:pw@example.org/cb",
            "must not contain a user name",
        ),
    ];

    for (uri, expected) in cases {
        let mut fields = valid_fields("Redirects");
        set(
            &mut fields,
            "redirect_url",
            &format!("https://example.org/ok {uri}"),
        );

        let response = post_form(&app, &client, CREATE_PATH, &fields, None).await;

        assert_eq!(response.status(), 422, "{uri}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("id=\"redirect_url-error\">Redirect URIs:"),
            "{uri}"
        );
        assert!(body.contains(expected), "{uri}: {expected}");
    }
    assert_eq!(project_count(&app).await, 0);
}

#[tokio::test]
async fn forged_requested_sources_are_rejected() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let mut unapproved = fixtures::project_config("Unapproved", "https://a.example/cb");
    unapproved.returned_data_description = "Data.".to_string();
    let unapproved = fixtures::create_project(&app, member.id, &unapproved).await;
    let silent = fixtures::project_config("Returns Nothing", "https://a.example/cb");
    let silent = fixtures::create_project(&app, member.id, &silent).await;
    projects::set_approved(&app.state.db, silent.id, true, app.clock().now())
        .await
        .unwrap();

    for forged in [
        unapproved.id.to_string(),
        silent.id.to_string(),
        "999999".into(),
    ] {
        let mut fields = valid_fields("Forger");
        fields.push(("requested_sources", forged.clone()));

        let response = post_form(&app, &client, CREATE_PATH, &fields, None).await;

        assert_eq!(response.status(), 422, "source {forged}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("id=\"requested_sources-error\">Requested data sources:"),
            "source {forged}"
        );
    }
    assert_eq!(project_count(&app).await, 2, "only the fixtures exist");
}

#[tokio::test]
async fn script_in_name_is_escaped() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let name = "<script>alert(1)</script>";

    let response = post_form(&app, &client, CREATE_PATH, &valid_fields(name), None).await;

    assert_eq!(response.status(), 303);
    let detail = location(&response);
    let edit = detail.replace("/oauth2/", "/oauth2/update/");
    for path in [
        detail.as_str(),
        "/direct-sharing/projects/manage/",
        edit.as_str(),
    ] {
        let body = client
            .get(app.url(path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!body.contains(name), "{path} renders the name inert");
        assert!(
            body.contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path} escapes the name"
        );
    }
    let mut fields = valid_fields(name);
    set(&mut fields, "leader", "");
    let body = post_form(&app, &client, CREATE_PATH, &fields, None)
        .await
        .text()
        .await
        .unwrap();
    assert!(!body.contains(name), "the rejected form escapes the name");
}

#[tokio::test]
async fn invalid_utf8_body_is_400() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;
    let boundary = "XBOUNDARYX";
    let mut body = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n")
        .into_bytes();
    body.extend_from_slice(&[0xff, 0xfe, 0xfd]);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());

    let response = client
        .post(app.url(CREATE_PATH))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 400);
    let text = response.text().await.unwrap();
    assert!(text.contains("is not valid UTF-8"), "{text}");
    assert_eq!(project_count(&app).await, 0);
}

#[tokio::test]
async fn malformed_bodies_are_4xx_pages() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;

    let urlencoded = client
        .post(app.url(CREATE_PATH))
        .form(&[("name", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(urlencoded.status(), 400);
    assert!(
        urlencoded
            .text()
            .await
            .unwrap()
            .contains("multipart/form-data")
    );

    let truncated = client
        .post(app.url(CREATE_PATH))
        .header("content-type", "multipart/form-data; boundary=abc")
        .body("--abc\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nunfinished")
        .send()
        .await
        .unwrap();
    assert_eq!(truncated.status(), 400);

    let huge = client
        .post(app.url(CREATE_PATH))
        .multipart(super::multipart(
            &[("long_description", "x".repeat(5 * 1024 * 1024))],
            None,
        ))
        .send()
        .await
        .unwrap();
    assert!(
        huge.status() == 413 || huge.status() == 400,
        "{}",
        huge.status()
    );

    let only_name = [("name", "Only A Name".to_string())];
    let missing = post_form(&app, &client, CREATE_PATH, &only_name, None).await;
    assert_eq!(missing.status(), 422, "missing fields are field errors");
    assert_eq!(project_count(&app).await, 0);
}
