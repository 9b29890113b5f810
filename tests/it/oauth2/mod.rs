//! The OAuth2 authorization server, driven over HTTP: the consent flow with a
//! logged-in browser client, and the token endpoint with the `oauth2` crate as a
//! real client.

mod authorize;
mod cap;
mod refresh;
mod revoke;
mod token;

use oauth2::basic::BasicClient;
use oauth2::{AuthUrl, ClientId, ClientSecret, EndpointNotSet, EndpointSet, RedirectUrl, TokenUrl};
use openhumans::db::memberships;
use openhumans::db::projects::CreatedProject;
use openhumans::domain::membership::Snapshot;

use crate::support::TestApp;
use crate::support::fixtures::{self, TestMember};

pub const REDIRECT_URI: &str = "https://app.example/openhumans/complete/";
pub const AUTHORIZE_PATH: &str = "/direct-sharing/projects/oauth2/authorize/";

/// An app with one project (coordinated by `coordinator`) and one member.
pub struct Setup {
    pub app: TestApp,
    pub coordinator: TestMember,
    pub project: CreatedProject,
    pub member: TestMember,
    pub browser: reqwest::Client,
}

impl Setup {
    pub async fn new() -> Setup {
        Setup::with_config(|_| {}).await
    }

    /// A setup whose project configuration is changed by `configure` first.
    pub async fn with_config(
        configure: impl FnOnce(&mut openhumans::domain::project::ProjectConfig),
    ) -> Setup {
        let app = TestApp::spawn().await;
        Setup::on(app, configure).await
    }

    pub async fn on(
        app: TestApp,
        configure: impl FnOnce(&mut openhumans::domain::project::ProjectConfig),
    ) -> Setup {
        let coordinator = fixtures::create_member(&app, "coordinator").await;
        let mut config = fixtures::project_config("Step Study", REDIRECT_URI);
        configure(&mut config);
        let project = fixtures::create_project(&app, coordinator.id, &config).await;
        let member = fixtures::create_member(&app, "Ada_L").await;
        let browser = fixtures::logged_in_client(&app, member.id).await;
        Setup {
            app,
            coordinator,
            project,
            member,
            browser,
        }
    }

    /// The authorize URL with `client_id`, `response_type=code` and `extra`.
    pub fn authorize_url(&self, extra: &[(&str, &str)]) -> String {
        authorize_url(&self.app, &self.project.client_id, extra)
    }

    /// The `oauth2` crate's client for the project, authenticating with HTTP Basic
    /// (form-url-encoded credentials, RFC 6749 §2.3.1).
    pub fn oauth_client(&self) -> OAuthClient {
        oauth_client(&self.app, &self.project)
    }

    /// Runs the consent flow for the setup's member and returns the code.
    pub async fn code(&self, extra: &[(&str, &str)]) -> String {
        let location = consent(&self.browser, &self.authorize_url(extra)).await;
        query_param(&location, "code").expect("the redirect carries a code")
    }

    /// Authorizes and exchanges the code; returns (access token, refresh token).
    pub async fn tokens(&self) -> (String, String) {
        let code = self.code(&[]).await;
        let response = exchange_raw(&self.app, &self.project, &code, Some(REDIRECT_URI)).await;
        assert_eq!(response.status(), 200);
        let body: serde_json::Value = response.json().await.unwrap();
        (
            body["access_token"].as_str().unwrap().to_string(),
            body["refresh_token"].as_str().unwrap().to_string(),
        )
    }
}

/// The `oauth2` crate client with an authorization and a token endpoint.
pub type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

pub fn oauth_client(app: &TestApp, project: &CreatedProject) -> OAuthClient {
    BasicClient::new(ClientId::new(project.client_id.clone()))
        .set_client_secret(ClientSecret::new(project.client_secret.clone()))
        .set_auth_uri(AuthUrl::new(app.url(AUTHORIZE_PATH)).unwrap())
        .set_token_uri(TokenUrl::new(app.url("/oauth2/token/")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT_URI.to_string()).unwrap())
}

/// The HTTP client the `oauth2` crate sends token requests with.
pub fn oauth_http() -> oauth2::reqwest::Client {
    oauth2::reqwest::Client::builder()
        .redirect(oauth2::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

pub fn authorize_url(app: &TestApp, client_id: &str, extra: &[(&str, &str)]) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("client_id", client_id);
    query.append_pair("response_type", "code");
    for (name, value) in extra {
        query.append_pair(name, value);
    }
    format!("{}?{}", app.url(AUTHORIZE_PATH), query.finish())
}

/// Opens the authorize URL as `browser`; if the consent page is shown, submits it
/// with "Authorize" as a browser would. Returns the final redirect's `Location`.
pub async fn consent(browser: &reqwest::Client, url: &str) -> String {
    let response = browser.get(url).send().await.unwrap();
    if response.status() == 303 {
        return location(&response);
    }
    assert_eq!(response.status(), 200, "the consent page is shown");
    let action = response.url().clone();
    let html = response.text().await.unwrap();
    let response = submit_consent(browser, action.as_str(), &html, "allow").await;
    assert_eq!(response.status(), 303, "consent redirects to the client");
    location(&response)
}

/// Submits the consent form found in `html` with the button `button`.
pub async fn submit_consent(
    browser: &reqwest::Client,
    page_url: &str,
    html: &str,
    button: &str,
) -> reqwest::Response {
    let mut form = hidden_fields(html);
    form.push((button.to_string(), "x".to_string()));
    let url = reqwest::Url::parse(page_url).unwrap();
    let action = format!("{}://{}{}", url.scheme(), url.authority(), url.path());
    browser
        .post(action)
        .header("sec-fetch-site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// The hidden inputs of a page, HTML entities decoded.
pub fn hidden_fields(html: &str) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for input in html.split("<input type=\"hidden\"").skip(1) {
        let name = attribute(input, "name").expect("a hidden input has a name");
        let value = attribute(input, "value").unwrap_or_default();
        fields.push((name, value));
    }
    fields
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

/// Decodes the entities an HTML escaper produces: named ones and `&#NN;`/`&#xNN;`.
fn unescape(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find('&') {
        out.push_str(&rest[..start]);
        let tail = &rest[start..];
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..end];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .map(|hex| u32::from_str_radix(hex, 16))
                .or_else(|| entity.strip_prefix('#').map(str::parse::<u32>))
                .and_then(Result::ok)
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &tail[end + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

pub fn location(response: &reqwest::Response) -> String {
    response
        .headers()
        .get("location")
        .expect("a Location header")
        .to_str()
        .unwrap()
        .to_string()
}

/// A query parameter of a URL, decoded.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// A code exchange sent like `ohapi` sends it: raw HTTP Basic credentials.
pub async fn exchange_raw(
    app: &TestApp,
    project: &CreatedProject,
    code: &str,
    redirect_uri: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![("grant_type", "authorization_code"), ("code", code)];
    if let Some(uri) = redirect_uri {
        form.push(("redirect_uri", uri));
    }
    token_request(app, project, &form).await
}

/// A token request with raw HTTP Basic credentials.
pub async fn token_request(
    app: &TestApp,
    project: &CreatedProject,
    form: &[(&str, &str)],
) -> reqwest::Response {
    reqwest::Client::new()
        .post(app.url("/oauth2/token/"))
        .basic_auth(&project.client_id, Some(&project.client_secret))
        .form(form)
        .send()
        .await
        .unwrap()
}

pub async fn refresh_raw(
    app: &TestApp,
    project: &CreatedProject,
    refresh_token: &str,
) -> reqwest::Response {
    token_request(
        app,
        project,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
    .await
}

/// The RFC 6749 `error` code of a failed token response.
pub async fn error_code(response: reqwest::Response) -> String {
    let body: serde_json::Value = response.json().await.unwrap();
    body["error"].as_str().unwrap_or_default().to_string()
}

/// Whether the project API would accept `access_token` now.
pub async fn access_token_works(app: &TestApp, access_token: &str) -> bool {
    openhumans::db::oauth2::find_access_token(
        &app.state.db,
        &app.state.key,
        access_token,
        app.clock().now(),
    )
    .await
    .unwrap()
    .is_some()
}

/// Makes `member_id` an active member of `project_id` directly in the database,
/// granting what the project requests; for filling a project to its cap.
pub async fn make_active_member(app: &TestApp, project_id: i64, member_id: i64) {
    let db = &app.state.db;
    let project = openhumans::db::projects::find_by_id(db, project_id)
        .await
        .unwrap()
        .unwrap();
    let mut tx = db.begin_write().await.unwrap();
    let membership = memberships::find_or_create(&mut tx, project_id, member_id, app.clock().now())
        .await
        .unwrap();
    memberships::authorize(
        &mut tx,
        membership.id,
        &Snapshot::requested_by(&project.config),
        app.clock().now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// Ends the membership as the member's own leaving does, keeping the project's files.
pub async fn withdraw_member(app: &TestApp, project_id: i64, member_id: i64) {
    let db = &app.state.db;
    let mut tx = db.begin_write().await.unwrap();
    openhumans::db::oauth2::lock_project(&mut tx, db.backend, project_id)
        .await
        .unwrap();
    let current = memberships::find(&mut tx, project_id, member_id)
        .await
        .unwrap()
        .expect("a membership to end");
    memberships::withdraw(
        &mut tx,
        &current,
        openhumans::domain::membership::Actor::Member,
        app.clock().now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// The membership of `member_id` in `project_id`.
pub async fn membership(
    app: &TestApp,
    project_id: i64,
    member_id: i64,
) -> Option<memberships::Membership> {
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    memberships::find(&mut conn, project_id, member_id)
        .await
        .unwrap()
}

/// Number of authorization codes stored for a project.
pub async fn code_count(app: &TestApp, project_id: i64) -> i64 {
    let (count,): (i64,) =
        sqlx::query_as("SELECT COUNT(*) FROM oauth2_codes WHERE project_id = $1")
            .bind(project_id)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    count
}
