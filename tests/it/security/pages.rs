//! Attacks through the site's HTML pages: redirects out of the leave form, API tokens
//! used as page logins, OAuth2 application pages this server does not serve, script in a
//! project's name, and forged values in the project edit form.

use openhumans::db::projects::{self, CreatedProject};
use openhumans::domain::project::ProjectConfig;

use crate::oauth2::{Setup, access_token_works, location, membership};
use crate::projects::{CREATE_PATH, load, post_form, project_count, set, valid_fields};
use crate::support::{TestApp, fixtures};
use crate::withdrawal::leave_path;

#[tokio::test]
async fn leave_ignores_offsite_next() {
    let setup = Setup::new().await;
    setup.code(&[]).await;
    let pmid = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap()
        .project_member_id;
    let path = format!("{}?next=https://evil.example/", leave_path(&pmid));

    let page = setup
        .browser
        .get(setup.app.url(&path))
        .send()
        .await
        .unwrap();
    let response = setup
        .browser
        .post(setup.app.url(&path))
        .header("sec-fetch-site", "same-origin")
        .form(&[
            ("next", "https://evil.example/"),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(page.status(), 200);
    assert!(!page.text().await.unwrap().contains("evil.example"));
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/member/me/connections/");
}

#[tokio::test]
async fn api_tokens_do_not_work_as_page_logins() {
    let setup = Setup::new().await;
    let (access, _) = setup.tokens().await;
    let master = crate::api::master_token(&setup.app, setup.project.id).await;
    let pmid = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap()
        .project_member_id;
    let detail = format!("/direct-sharing/projects/oauth2/{}/", setup.project.slug);
    let before = load(&setup.app, &setup.project.slug).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let actions = [
        leave_path(&pmid),
        format!("{detail}rotate-secret/"),
        format!("{detail}master-token/"),
        CREATE_PATH.to_string(),
    ];

    for token in [&access, &master] {
        for path in &actions {
            let response = client
                .post(setup.app.url(path))
                .query(&[("access_token", token)])
                .bearer_auth(token)
                .header("sec-fetch-site", "same-origin")
                .form(&[("name", "Made by a token"), ("remove_datafiles", "on")])
                .send()
                .await
                .unwrap();

            assert_eq!(response.status(), 303, "{path}");
            assert!(
                location(&response).starts_with("/account/login/?next="),
                "{path} asks for a login"
            );
        }
    }

    let after = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    assert!(after.status.is_active(true), "the member did not leave");
    assert!(access_token_works(&setup.app, &access).await);
    let project = load(&setup.app, &setup.project.slug).await;
    assert_eq!(project.client_secret_hash, before.client_secret_hash);
    assert_eq!(
        project.master_token_expires_at,
        before.master_token_expires_at
    );
    let info = client
        .get(setup.app.url("/api/direct-sharing/project/"))
        .bearer_auth(&master)
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200, "the master token was not replaced");
    assert_eq!(project_count(&setup.app).await, 1, "no project was created");
}

#[tokio::test]
async fn oauth2_application_pages_do_not_exist() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let browser = fixtures::logged_in_client(&app, member.id).await;
    let registration = [
        ("name", "Self-made client"),
        ("client_type", "confidential"),
        ("authorization_grant_type", "authorization-code"),
        ("redirect_uris", "https://evil.example/cb"),
    ];

    for path in [
        "/oauth2/applications/",
        "/oauth2/applications/register/",
        "/oauth2/applications/1/",
        "/oauth2/applications/1/update/",
        "/oauth2/authorized_tokens/",
    ] {
        let page = browser.get(app.url(path)).send().await.unwrap();
        let post = browser
            .post(app.url(path))
            .header("sec-fetch-site", "same-origin")
            .form(&registration)
            .send()
            .await
            .unwrap();

        assert_eq!(page.status(), 404, "GET {path}");
        assert_eq!(post.status(), 404, "POST {path}");
    }
    assert_eq!(project_count(&app).await, 0, "no client was registered");
}

#[tokio::test]
async fn project_name_is_inert_on_member_pages() {
    let name = "\"><script>alert(1)</script>";
    let setup = Setup::with_config(|config| {
        config.name = name.to_string();
        config.erasure_supported = true;
    })
    .await;
    let app = &setup.app;
    projects::set_approved(&app.state.db, setup.project.id, true, app.clock().now())
        .await
        .unwrap();
    let consent = setup
        .browser
        .get(setup.authorize_url(&[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    setup.code(&[]).await;
    let pmid = membership(app, setup.project.id, setup.member.id)
        .await
        .unwrap()
        .project_member_id;

    let mut pages = vec![("consent page".to_string(), consent)];
    for path in [
        "/member/me/connections/".to_string(),
        leave_path(&pmid),
        "/member/me/agreements/".to_string(),
        format!("/activity/{}/", setup.project.slug),
        "/activities/".to_string(),
    ] {
        let response = setup.browser.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200, "{path}");
        pages.push((path, response.text().await.unwrap()));
    }

    for (page, html) in pages {
        assert!(!html.contains(name), "{page} shows the name raw");
        assert!(!html.contains("<script>alert(1)"), "{page} runs the name");
        assert!(
            html.contains("&#60;script&#62;alert(1)"),
            "{page} shows the name escaped"
        );
    }
}

#[tokio::test]
async fn edit_form_rejects_forged_sources() {
    let edit = EditForm::open("Requester").await;
    let (app, member) = (&edit.app, &edit.coordinator);
    let mut unapproved = fixtures::project_config("Unapproved", "https://a.example/cb");
    unapproved.returned_data_description = "Data.".to_string();
    let unapproved = fixtures::create_project(app, member.id, &unapproved).await;
    let silent = fixtures::project_config("Returns Nothing", "https://a.example/cb");
    let silent = fixtures::create_project(app, member.id, &silent).await;
    projects::set_approved(&app.state.db, silent.id, true, app.clock().now())
        .await
        .unwrap();

    for forged in [
        unapproved.id.to_string(),
        silent.id.to_string(),
        "999999".to_string(),
    ] {
        let mut fields = edit_fields("Requester");
        fields.push(("requested_sources", forged.clone()));

        let response = edit.submit(&fields).await;

        assert_eq!(response.status(), 422, "source {forged}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("id=\"requested_sources-error\">Requested data sources:"),
            "source {forged}"
        );
    }
    let stored = edit.stored().await;
    assert!(stored.requested_sources.is_empty());
    assert_eq!(
        stored.short_description,
        "Studies how people use their step counts."
    );
}

#[tokio::test]
async fn edit_form_rejects_unsafe_redirect_uris() {
    let edit = EditForm::open("Redirects").await;

    for uri in [
        "javascript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "/relative/callback",
        "https://",
        "https://example.org/cb\u{7}",
    ] {
        let mut fields = edit_fields("Redirects");
        set(
            &mut fields,
            "redirect_url",
            &format!("https://example.org/ok {uri}"),
        );

        let response = edit.submit(&fields).await;

        assert_eq!(response.status(), 422, "{uri:?}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("id=\"redirect_url-error\">Redirect URIs:"),
            "{uri:?}: no error next to the field"
        );
    }
    let stored = edit.stored().await;
    assert_eq!(
        stored.redirect_uris,
        vec!["https://example.org/cb".to_string()]
    );
}

/// A project and its coordinator, logged in, ready to submit the project's edit form.
struct EditForm {
    app: TestApp,
    coordinator: fixtures::TestMember,
    client: reqwest::Client,
    project: CreatedProject,
}

impl EditForm {
    async fn open(name: &str) -> EditForm {
        let app = TestApp::spawn().await;
        let coordinator = fixtures::create_member(&app, "ada").await;
        let client = fixtures::logged_in_client(&app, coordinator.id).await;
        let config = fixtures::project_config(name, "https://example.org/cb");
        let project = fixtures::create_project(&app, coordinator.id, &config).await;
        EditForm {
            app,
            coordinator,
            client,
            project,
        }
    }

    /// Posts `fields` to the project's edit form.
    async fn submit(&self, fields: &[(&'static str, String)]) -> reqwest::Response {
        let path = format!(
            "/direct-sharing/projects/oauth2/update/{}/",
            self.project.slug
        );
        post_form(&self.app, &self.client, &path, fields, None).await
    }

    /// Loads the project's stored configuration.
    async fn stored(&self) -> ProjectConfig {
        load(&self.app, &self.project.slug).await.config
    }
}

/// Returns every field of the project form with a valid value, but without a webhook
/// URL, so that saving the form resolves no host name.
fn edit_fields(name: &str) -> Vec<(&'static str, String)> {
    let mut fields = valid_fields(name);
    set(&mut fields, "deauth_webhook", "");
    set(&mut fields, "webhook_secret", "");
    fields
}
