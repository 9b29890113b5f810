//! `GET|POST /direct-sharing/projects/oauth2/authorize/` and `/oauth2/authorize/`.

use openhumans::db::projects;
use openhumans::domain::oauth2::pkce;

use super::{
    REDIRECT_URI, Setup, code_count, consent, hidden_fields, location, membership, query_param,
    submit_consent,
};
use crate::support::fixtures;

#[tokio::test]
async fn consent_page_shows_project_and_creates_nothing() {
    let setup = Setup::with_config(|config| {
        config.request_username_access = true;
        config.returned_data_description = "Weekly step summaries".into();
    })
    .await;

    let response = setup
        .browser
        .get(setup.authorize_url(&[]))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Authorize Step Study"), "{html}");
    assert!(html.contains("Dr. Ada Lovelace"));
    assert!(html.contains("Analytical Engines Lab"));
    assert!(html.contains("lab@example.org"));
    assert!(html.contains("https://example.org/terms"));
    assert!(html.contains("In development"));
    assert!(html.contains("Activity"));
    assert!(html.contains("send you email messages"));
    assert!(
        html.contains("<strong>Ada_L</strong>"),
        "the username is shown"
    );
    assert!(html.contains("Weekly step summaries"));
    assert!(html.contains("name=\"allow\""));
    assert!(html.contains("name=\"cancel\""));
    assert!(
        membership(&setup.app, setup.project.id, setup.member.id)
            .await
            .is_none()
    );
    assert_eq!(code_count(&setup.app, setup.project.id).await, 0);
}

#[tokio::test]
async fn consent_page_lists_requested_sources() {
    let app = crate::support::TestApp::spawn().await;
    let owner = fixtures::create_member(&app, "owner").await;
    let source = fixtures::create_project(
        &app,
        owner.id,
        &fixtures::project_config("Genome Vault", "https://genome.example/cb"),
    )
    .await;
    let setup = Setup::on(app, |config| config.requested_sources = vec![source.id]).await;

    let html = setup
        .browser
        .get(setup.authorize_url(&[]))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(html.contains("<strong>Genome Vault</strong>"), "{html}");
    assert!(html.contains("does not plan to add data"));
    assert!(
        html.contains("https://example.org/info"),
        "the information URL is shown"
    );
    assert!(
        html.contains("does not accept requests to erase"),
        "erasure support is stated"
    );
    assert!(
        !html.contains("you have data here"),
        "the member has no files yet"
    );
}

#[tokio::test]
async fn consent_page_marks_sources_with_data() {
    let app = crate::support::TestApp::spawn().await;
    let owner = fixtures::create_member(&app, "owner").await;
    let source = fixtures::create_project(
        &app,
        owner.id,
        &fixtures::project_config("Genome Vault", "https://genome.example/cb"),
    )
    .await;
    let setup = Setup::on(app, |config| config.requested_sources = vec![source.id]).await;
    let file = openhumans::db::files::NewDataFile {
        member_id: setup.member.id,
        project_id: source.id,
        storage_key: "member-files/test/genome.vcf",
        basename: "genome.vcf",
        metadata: r#"{"description": "", "tags": []}"#,
        completed: true,
        size: Some(3),
        md5: None,
        datatype_ids: &[],
    };
    openhumans::db::files::insert(&setup.app.state.db, &file, setup.app.clock().now())
        .await
        .unwrap();

    let html = setup
        .browser
        .get(setup.authorize_url(&[]))
        .send()
        .await
        .unwrap();
    let html = html.text().await.unwrap();

    assert!(html.contains("you have data here"), "{html}");
}

#[tokio::test]
async fn anonymous_authorize_redirects_to_login_with_full_next() {
    let setup = Setup::new().await;
    let url = setup.authorize_url(&[("redirect_uri", REDIRECT_URI), ("state", "x y")]);

    let response = setup.app.client.get(&url).send().await.unwrap();

    assert_eq!(response.status(), 303);
    let target = location(&response);
    assert!(target.starts_with("/account/login/?next="), "{target}");
    let next = query_param(&target, "next").unwrap();
    let path_and_query = url.strip_prefix(&setup.app.base).unwrap();
    assert_eq!(next, path_and_query);
}

#[tokio::test]
async fn unverified_member_sees_verify_page() {
    let setup = Setup::new().await;
    let unverified = fixtures::create_member_with(&setup.app, "Unverified", false, false).await;
    let browser = fixtures::logged_in_client(&setup.app, unverified.id).await;

    let response = browser.get(setup.authorize_url(&[])).send().await.unwrap();

    assert_eq!(response.status(), 403);
    let html = response.text().await.unwrap();
    assert!(html.contains("Verify your email address"), "{html}");
    assert!(html.contains("action=\"/account/email/resend/\""));
    assert!(html.contains("unverified@example.org"));
}

#[tokio::test]
async fn unknown_client_shows_error_page_without_redirect() {
    let setup = Setup::new().await;

    for client_id in ["nosuchclient", ""] {
        let url = super::authorize_url(&setup.app, client_id, &[("redirect_uri", REDIRECT_URI)]);
        let response = setup.browser.get(&url).send().await.unwrap();

        assert_eq!(response.status(), 400, "client_id {client_id:?}");
        assert!(response.headers().get("location").is_none());
        assert!(
            response
                .text()
                .await
                .unwrap()
                .contains("no application registered")
        );
    }
}

#[tokio::test]
async fn unregistered_redirect_uri_shows_error_page() {
    let setup = Setup::new().await;

    for uri in [
        "https://evil.example/cb",
        "https://app.example/openhumans/complete",
        "https://app.example/openhumans/complete/?x=1",
    ] {
        let url = setup.authorize_url(&[("redirect_uri", uri), ("response_type", "token")]);
        let response = setup.browser.get(&url).send().await.unwrap();

        assert_eq!(response.status(), 400, "{uri}");
        assert!(response.headers().get("location").is_none(), "{uri}");
    }
}

#[tokio::test]
async fn unsupported_response_type_redirects_with_state() {
    let setup = Setup::new().await;
    let url = format!(
        "{}?client_id={}&response_type=token&state=s%201",
        setup.app.url(super::AUTHORIZE_PATH),
        setup.project.client_id
    );

    let response = setup.browser.get(&url).send().await.unwrap();

    assert_eq!(response.status(), 303);
    let target = location(&response);
    assert!(target.starts_with(REDIRECT_URI), "{target}");
    assert_eq!(
        query_param(&target, "error").as_deref(),
        Some("unsupported_response_type")
    );
    assert_eq!(query_param(&target, "state").as_deref(), Some("s 1"));
}

#[tokio::test]
async fn unknown_scope_redirects_invalid_scope() {
    let setup = Setup::new().await;

    let response = setup
        .browser
        .get(setup.authorize_url(&[("scope", "read admin")]))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    let target = location(&response);
    assert_eq!(
        query_param(&target, "error").as_deref(),
        Some("invalid_scope")
    );
}

#[tokio::test]
async fn upstream_scopes_are_accepted() {
    let setup = Setup::new().await;

    let response = setup
        .browser
        .get(setup.authorize_url(&[(
            "scope",
            "read write american-gut go-viral pgp wildlife open-humans",
        )]))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn plain_pkce_is_rejected() {
    let setup = Setup::new().await;
    let challenge = pkce::s256(&"v".repeat(50));

    for extra in [
        vec![
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "plain"),
        ],
        vec![("code_challenge", challenge.as_str())],
        vec![("code_challenge_method", "S256")],
    ] {
        let response = setup
            .browser
            .get(setup.authorize_url(&extra))
            .send()
            .await
            .unwrap();

        assert_eq!(response.status(), 303, "{extra:?}");
        let target = location(&response);
        assert_eq!(
            query_param(&target, "error").as_deref(),
            Some("invalid_request"),
            "{extra:?}"
        );
    }
}

#[tokio::test]
async fn required_pkce_without_challenge_is_invalid_request() {
    let setup = Setup::with_config(|config| config.require_pkce = true).await;

    let response = setup
        .browser
        .get(setup.authorize_url(&[]))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    let target = location(&response);
    assert_eq!(
        query_param(&target, "error").as_deref(),
        Some("invalid_request")
    );
    let challenge = pkce::s256(&"v".repeat(50));
    let with_pkce = setup.authorize_url(&[
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ]);
    let response = setup.browser.get(with_pkce).send().await.unwrap();
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn cancel_redirects_access_denied_with_state() {
    let setup = Setup::new().await;
    let state = "a b&c=d/é";
    let url = setup.authorize_url(&[("state", state)]);
    let page = setup.browser.get(&url).send().await.unwrap();
    let html = page.text().await.unwrap();

    let response = submit_consent(&setup.browser, &url, &html, "cancel").await;

    assert_eq!(response.status(), 303);
    let target = location(&response);
    assert!(target.starts_with(&format!("{REDIRECT_URI}?")), "{target}");
    assert!(target.contains("state=a+b%26c%3Dd%2F%C3%A9"), "{target}");
    assert_eq!(
        query_param(&target, "error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(query_param(&target, "state").as_deref(), Some(state));
    assert_eq!(query_param(&target, "code"), None);
    assert!(
        membership(&setup.app, setup.project.id, setup.member.id)
            .await
            .is_none()
    );
    assert_eq!(code_count(&setup.app, setup.project.id).await, 0);
}

#[tokio::test]
async fn allow_returns_code_state_and_origin() {
    let setup = Setup::new().await;
    let state = "a b&c=d/é";

    let target = consent(&setup.browser, &setup.authorize_url(&[("state", state)])).await;

    assert!(
        target.starts_with(&format!("{REDIRECT_URI}?code=")),
        "{target}"
    );
    let code = query_param(&target, "code").unwrap();
    assert!(code.len() >= 30);
    assert!(code.chars().all(|c| c.is_ascii_alphanumeric()));
    assert_eq!(query_param(&target, "state").as_deref(), Some(state));
    assert_eq!(query_param(&target, "origin").as_deref(), Some("external"));
    let membership = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .expect("consent creates the membership");
    assert!(membership.status.is_active(true));
    assert_eq!(membership.project_member_id.len(), 8);
    assert!(membership.snapshot.message_permission);
    assert!(!membership.snapshot.username_shared);
    let events = openhumans::db::memberships::events(&setup.app.state.db, membership.id)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "authorized");
}

#[tokio::test]
async fn hidden_fields_carry_request_parameters() {
    let setup = Setup::new().await;
    let url = setup.authorize_url(&[("redirect_uri", REDIRECT_URI), ("state", "<x\"y>")]);

    let html = setup
        .browser
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    let fields = hidden_fields(&html);
    let field = |name: &str| {
        fields
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    };
    assert_eq!(field("client_id"), Some(setup.project.client_id.as_str()));
    assert_eq!(field("response_type"), Some("code"));
    assert_eq!(field("redirect_uri"), Some(REDIRECT_URI));
    assert_eq!(field("state"), Some("<x\"y>"));
    assert!(!html.contains("<x\"y>"), "state is escaped in the page");
}

#[tokio::test]
async fn inactive_project_shows_closed_page_and_forged_post_issues_nothing() {
    let setup = Setup::new().await;
    let url = setup.authorize_url(&[]);
    let html = setup
        .browser
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    set_active(&setup, false).await;

    let page = setup.browser.get(&url).send().await.unwrap();
    assert_eq!(page.status(), 403);
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("not accepting new members")
    );

    let forged = submit_consent(&setup.browser, &url, &html, "allow").await;
    assert_eq!(forged.status(), 403);
    assert!(forged.headers().get("location").is_none());
    assert_eq!(code_count(&setup.app, setup.project.id).await, 0);
    assert!(
        membership(&setup.app, setup.project.id, setup.member.id)
            .await
            .is_none()
    );

    let generic = setup
        .browser
        .get(url.replace(super::AUTHORIZE_PATH, "/oauth2/authorize/"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        generic.status(),
        403,
        "/oauth2/authorize/ applies the same checks"
    );
}

#[tokio::test]
async fn generic_authorize_path_issues_codes_too() {
    let setup = Setup::new().await;
    let url = setup
        .authorize_url(&[])
        .replace(super::AUTHORIZE_PATH, "/oauth2/authorize/");

    let target = consent(&setup.browser, &url).await;

    assert!(query_param(&target, "code").is_some());
    assert!(
        membership(&setup.app, setup.project.id, setup.member.id)
            .await
            .is_some()
    );
}

#[tokio::test]
async fn unchanged_request_skips_consent_with_fresh_code() {
    let setup = Setup::new().await;
    let first = setup.code(&[]).await;

    let response = setup
        .browser
        .get(setup.authorize_url(&[("state", "again")]))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303, "the consent page is skipped");
    let target = location(&response);
    let second = query_param(&target, "code").unwrap();
    assert_ne!(first, second);
    assert_eq!(query_param(&target, "state").as_deref(), Some("again"));
    let membership = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    let events = openhumans::db::memberships::events(&setup.app.state.db, membership.id)
        .await
        .unwrap();
    assert_eq!(events.len(), 1, "skipping records no new authorization");
}

#[tokio::test]
async fn approval_prompt_force_shows_consent() {
    let setup = Setup::new().await;
    setup.code(&[]).await;

    let response = setup
        .browser
        .get(setup.authorize_url(&[("approval_prompt", "force")]))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("authorized this project before")
    );
}

#[tokio::test]
async fn changed_request_shows_consent_and_updates_snapshot() {
    let setup = Setup::new().await;
    setup.code(&[]).await;
    let before = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    assert!(!before.snapshot.username_shared);
    update_project(&setup, |config| config.request_username_access = true).await;

    let response = setup
        .browser
        .get(setup.authorize_url(&[]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the consent page is shown again");
    let still = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    assert!(!still.snapshot.username_shared, "viewing changes nothing");

    setup.code(&[]).await;
    let after = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    assert!(after.snapshot.username_shared);
    assert_eq!(after.project_member_id, before.project_member_id);
}

#[tokio::test]
async fn request_changed_during_consent_is_shown_again() {
    let setup = Setup::new().await;
    let url = setup.authorize_url(&[]);
    let html = setup
        .browser
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    update_project(&setup, |config| config.request_username_access = true).await;

    let response = submit_consent(&setup.browser, &url, &html, "allow").await;

    assert_eq!(response.status(), 200);
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("changed what it asks for")
    );
    assert_eq!(code_count(&setup.app, setup.project.id).await, 0);
}

#[tokio::test]
async fn loopback_redirect_uri_matches_any_port() {
    let setup = Setup::with_config(|config| {
        config.redirect_uris = vec!["http://127.0.0.1/callback".into()];
    })
    .await;

    let target = consent(
        &setup.browser,
        &setup.authorize_url(&[("redirect_uri", "http://127.0.0.1:53121/callback")]),
    )
    .await;

    assert!(
        target.starts_with("http://127.0.0.1:53121/callback?code="),
        "{target}"
    );
}

#[tokio::test]
async fn cross_site_consent_post_is_rejected() {
    let setup = Setup::new().await;
    let url = setup.authorize_url(&[]);
    let html = setup
        .browser
        .get(&url)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut form = hidden_fields(&html);
    form.push(("allow".into(), "x".into()));

    let response = setup
        .browser
        .post(setup.app.url(super::AUTHORIZE_PATH))
        .header("sec-fetch-site", "cross-site")
        .form(&form)
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 403);
    assert_eq!(code_count(&setup.app, setup.project.id).await, 0);
}

async fn set_active(setup: &Setup, active: bool) {
    update_project(setup, |config| config.active = active).await;
}

/// Changes the project's configuration as its coordinator would.
pub async fn update_project(
    setup: &Setup,
    change: impl FnOnce(&mut openhumans::domain::project::ProjectConfig),
) {
    let db = &setup.app.state.db;
    let mut project = projects::find_by_id(db, setup.project.id)
        .await
        .unwrap()
        .unwrap();
    change(&mut project.config);
    projects::update_config(db, project.id, &project.config, setup.app.clock().now())
        .await
        .unwrap();
}
