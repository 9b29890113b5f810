//! The `openhumans admin` commands, run as the real binary against the test app's
//! database (SQLite in its data directory, or its PostgreSQL database).

use openhumans::db::members;
use openhumans::db::projects::{self, CLIENT_SECRET_PURPOSE, MASTER_TOKEN_PURPOSE};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::support::{TestApp, fixtures};

/// What a command printed and how it exited.
pub struct Outcome {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Outcome {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}): {}", self.stdout))
    }

    /// Parses the JSON error object printed on standard error.
    fn error(&self) -> Value {
        let line = self
            .stderr
            .lines()
            .find(|line| line.starts_with('{'))
            .unwrap_or_else(|| panic!("no JSON error on stderr: {}", self.stderr));
        serde_json::from_str(line).unwrap()
    }
}

/// Runs `openhumans admin ARGS` on the app's database with `stdin` as standard input.
pub async fn admin(app: &TestApp, args: &[&str], password: Option<&str>, stdin: &str) -> Outcome {
    let mut command = tokio::process::Command::new(env!("CARGO_BIN_EXE_openhumans"));
    command
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(app.dir.path())
        .env(
            "OPENHUMANS_SECRET_KEY",
            app.state.settings.secret_key.as_deref().unwrap(),
        )
        .env_remove("DATABASE_URL")
        .env_remove("OPENHUMANS_PASSWORD")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    if let Some(url) = &app.state.settings.database_url {
        command.arg("--database-url").arg(url);
    }
    if let Some(password) = password {
        command.env("OPENHUMANS_PASSWORD", password);
    }
    let mut child = command.spawn().expect("starting the openhumans binary");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.as_bytes()).await.unwrap();
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    Outcome {
        success: output.status.success(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// Builds a project file with every required key.
fn project_json(name: &str) -> Value {
    json!({
        "name": name,
        "leader": "Dr. Ada Lovelace",
        "contact_email": "lab@example.org",
        "info_url": "https://example.org/info",
        "short_description": "Made from the command line.",
        "is_study": true,
        "is_academic_or_nonprofit": false,
        "request_username_access": true,
        "request_message_permission": false,
        "enrollment_url": "https://example.org/join",
        "terms_url": "https://example.org/terms",
        "redirect_url": "https://example.org/cb http://localhost:8000/cb",
    })
}

fn write_json(app: &TestApp, file_name: &str, value: &Value) -> String {
    let path = app.dir.path().join(file_name);
    std::fs::write(&path, value.to_string()).unwrap();
    path.display().to_string()
}

async fn project_count(app: &TestApp) -> i64 {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM projects")
        .fetch_one(&app.state.db.pool)
        .await
        .unwrap();
    count
}

#[tokio::test]
async fn create_member_from_environment() {
    let app = TestApp::spawn().await;

    let outcome = admin(
        &app,
        &[
            "create-member",
            "--username",
            "Root_Admin",
            "--email",
            "root@example.org",
            "--admin",
            "--verified",
        ],
        Some("a long enough password"),
        "",
    )
    .await;

    assert!(outcome.success, "{}", outcome.stderr);
    let output = outcome.json();
    assert_eq!(output["username"], "Root_Admin");
    assert_eq!(output["email"], "root@example.org");
    assert_eq!(output["is_admin"], true);
    assert_eq!(output["email_verified"], true);
    let id = output["id"].as_i64().unwrap();
    let member = members::find_by_login(&app.state.db, "root_admin")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(member.id, id);
    assert!(member.is_admin);
    assert!(member.email_verified);
    assert!(openhumans::domain::password::verify(
        "a long enough password",
        &member.password_hash
    ));
}

#[tokio::test]
async fn create_member_reads_stdin() {
    let app = TestApp::spawn().await;

    let outcome = admin(
        &app,
        &[
            "create-member",
            "--username",
            "plain",
            "--email",
            "plain@example.org",
        ],
        None,
        "password from stdin\r\nsecond line ignored\n",
    )
    .await;

    assert!(outcome.success, "{}", outcome.stderr);
    let output = outcome.json();
    assert_eq!(output["is_admin"], false);
    assert_eq!(output["email_verified"], false);
    let member = members::find_by_login(&app.state.db, "plain")
        .await
        .unwrap()
        .unwrap();
    assert!(openhumans::domain::password::verify(
        "password from stdin",
        &member.password_hash
    ));
    assert!(!member.is_admin);
}

#[tokio::test]
async fn create_member_rejects_invalid_input() {
    let app = TestApp::spawn().await;
    fixtures::create_member(&app, "Taken").await;
    let cases = [
        (
            "ab",
            "ab@example.org",
            "a long enough password",
            "username",
            "at least 3",
        ),
        (
            "bad-name",
            "b@example.org",
            "a long enough password",
            "username",
            "underscores",
        ),
        (
            "taken",
            "new@example.org",
            "a long enough password",
            "username",
            "already taken",
        ),
        (
            "fresh",
            "not-an-email",
            "a long enough password",
            "email",
            "valid email address",
        ),
        (
            "fresh",
            "TAKEN@example.org",
            "a long enough password",
            "email",
            "already exists",
        ),
        (
            "fresh",
            "fresh@example.org",
            "short",
            "password",
            "at least 10",
        ),
    ];

    for (username, email, password, field, expected) in cases {
        let outcome = admin(
            &app,
            &["create-member", "--username", username, "--email", email],
            Some(password),
            "",
        )
        .await;

        assert!(!outcome.success, "{username} {email}");
        assert!(outcome.stdout.is_empty(), "{username}: nothing on stdout");
        let error = outcome.error();
        let message = error["fields"][field].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{username} {email}: {error}");
    }
    assert!(
        members::find_by_login(&app.state.db, "fresh")
            .await
            .unwrap()
            .is_none()
    );

    let no_password = admin(
        &app,
        &[
            "create-member",
            "--username",
            "fresh",
            "--email",
            "fresh@example.org",
        ],
        None,
        "",
    )
    .await;
    assert!(!no_password.success);
    assert!(
        no_password.error()["error"]
            .as_str()
            .unwrap()
            .contains("missing password")
    );
}

#[tokio::test]
async fn create_project_prints_credentials() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "coordinator").await;
    let mut source = fixtures::project_config("Genome Source", "https://s.example/cb");
    source.returned_data_description = "Genomes.".to_string();
    let source = fixtures::create_project(&app, member.id, &source).await;
    projects::set_approved(&app.state.db, source.id, true, app.clock().now())
        .await
        .unwrap();
    let mut value = project_json("Command Line Study");
    let extra = json!({
        "organization": "CLI Institute",
        "long_description": "Long.",
        "returned_data_description": "Step counts.",
        "active": false,
        "approved": true,
        "requested_sources": [source.slug],
        "erasure_supported": true,
        "deauth_email_notification": true,
        "deauth_webhook": "https://example.org/hook",
        "webhook_secret": "sixteen-chars-ok",
        "require_pkce": true,
        "redirect_url": ["https://example.org/cb", "com.example.app:/cb"],
    });
    for (key, extra_value) in extra.as_object().unwrap() {
        value[key] = extra_value.clone();
    }
    let path = write_json(&app, "project.json", &value);

    let outcome = admin(
        &app,
        &[
            "create-project",
            "--coordinator",
            "coordinator",
            "--json",
            &path,
        ],
        None,
        "",
    )
    .await;

    assert!(outcome.success, "{}", outcome.stderr);
    let output = outcome.json();
    assert_eq!(output["slug"], "command-line-study");
    let project = projects::find_by_slug(&app.state.db, "command-line-study")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(output["id"].as_i64(), Some(project.id));
    assert_eq!(
        output["client_id"].as_str(),
        Some(project.client_id.as_str())
    );
    let secret = output["client_secret"].as_str().unwrap();
    assert_eq!(
        app.state.key.hash(CLIENT_SECRET_PURPOSE, secret),
        project.client_secret_hash
    );
    let token = output["master_access_token"].as_str().unwrap();
    assert_eq!(token.len(), 64);
    let (token_hash,): (Option<String>,) =
        sqlx::query_as("SELECT master_token_hash FROM projects WHERE id = $1")
            .bind(project.id)
            .fetch_one(&app.state.db.pool)
            .await
            .unwrap();
    assert_eq!(
        token_hash,
        Some(app.state.key.hash(MASTER_TOKEN_PURPOSE, token))
    );
    assert!(project.master_token_expires_at.is_some());
    assert_eq!(project.coordinator_id, member.id);
    assert!(project.approved);
    let config = &project.config;
    assert!(config.is_study);
    assert!(!config.active);
    assert!(config.request_username_access);
    assert!(!config.request_message_permission);
    assert_eq!(config.organization, "CLI Institute");
    assert_eq!(config.requested_sources, vec![source.id]);
    assert_eq!(
        config.redirect_uris,
        vec!["https://example.org/cb", "com.example.app:/cb"]
    );
    assert_eq!(config.webhook_secret.as_deref(), Some("sixteen-chars-ok"));
    assert!(config.require_pkce);
    assert!(config.erasure_supported);
    assert!(config.deauth_email_notification);

    let client = fixtures::logged_in_client(&app, member.id).await;
    let page = client
        .get(app.url("/direct-sharing/projects/oauth2/command-line-study/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Command Line Study"));
    assert!(!page.contains(secret), "the page never shows the secret");
    assert!(!page.contains(token), "the page never shows the token");
}

#[tokio::test]
async fn create_project_defaults_optional_keys() {
    let app = TestApp::spawn().await;
    fixtures::create_member(&app, "coordinator").await;
    let path = write_json(&app, "project.json", &project_json("Minimal"));

    let outcome = admin(
        &app,
        &[
            "create-project",
            "--coordinator",
            "coordinator",
            "--json",
            &path,
        ],
        None,
        "",
    )
    .await;

    assert!(outcome.success, "{}", outcome.stderr);
    let project = projects::find_by_slug(&app.state.db, "minimal")
        .await
        .unwrap()
        .unwrap();
    assert!(!project.approved);
    assert!(project.config.active);
    assert_eq!(project.config.organization, "");
    assert_eq!(project.config.deauth_webhook, None);
    assert_eq!(project.config.webhook_secret, None);
    assert!(!project.config.require_pkce);
    assert!(project.config.requested_sources.is_empty());
}

#[tokio::test]
async fn create_project_rejects_invalid_fields() {
    let app = TestApp::spawn().await;
    fixtures::create_member(&app, "coordinator").await;
    let mut value = project_json("Invalid");
    value["redirect_url"] = json!("http://example.org/cb");
    value["webhook_secret"] = json!("short");
    value["requested_sources"] = json!(["no-such-project"]);
    value["deauth_webhook"] = json!("http://169.254.169.254/");
    let path = write_json(&app, "project.json", &value);

    let outcome = admin(
        &app,
        &[
            "create-project",
            "--coordinator",
            "coordinator",
            "--json",
            &path,
        ],
        None,
        "",
    )
    .await;

    assert!(!outcome.success);
    assert!(outcome.stdout.is_empty());
    let error = outcome.error();
    assert_eq!(error["error"], "invalid project");
    let fields = &error["fields"];
    assert!(
        fields["redirect_url"]
            .as_str()
            .unwrap()
            .contains("uses http on a host that is not loopback"),
        "{error}"
    );
    assert!(
        fields["webhook_secret"]
            .as_str()
            .unwrap()
            .starts_with("Webhook secret must have 16 to 64 characters"),
        "{error}"
    );
    assert!(
        fields["requested_sources"]
            .as_str()
            .unwrap()
            .contains("no-such-project"),
        "{error}"
    );
    assert!(
        fields["deauth_webhook"]
            .as_str()
            .unwrap()
            .contains("must reach a public address"),
        "{error}"
    );
    assert_eq!(project_count(&app).await, 0);

    let mut missing = project_json("Missing");
    missing.as_object_mut().unwrap().remove("name");
    missing["is_study"] = Value::Null;
    let path = write_json(&app, "missing.json", &missing);
    let outcome = admin(
        &app,
        &[
            "create-project",
            "--coordinator",
            "coordinator",
            "--json",
            &path,
        ],
        None,
        "",
    )
    .await;
    assert!(!outcome.success);
    let error = outcome.error();
    assert_eq!(error["fields"]["name"], "Name is required.");
    assert!(
        error["fields"]["is_study"]
            .as_str()
            .unwrap()
            .contains("is required")
    );
}

#[tokio::test]
async fn create_project_rejects_unknown_key_and_coordinator() {
    let app = TestApp::spawn().await;
    fixtures::create_member(&app, "coordinator").await;
    let mut value = project_json("Typo");
    value["nmae"] = json!("Typo");
    let typo = write_json(&app, "typo.json", &value);
    let valid = write_json(&app, "valid.json", &project_json("Valid"));
    let mut wrong_type = project_json("Wrong Type");
    wrong_type["is_study"] = json!("yes");
    let wrong_type = write_json(&app, "wrong-type.json", &wrong_type);

    let unknown_key = admin(
        &app,
        &[
            "create-project",
            "--coordinator",
            "coordinator",
            "--json",
            &typo,
        ],
        None,
        "",
    )
    .await;
    let unknown_coordinator = admin(
        &app,
        &[
            "create-project",
            "--coordinator",
            "nobody",
            "--json",
            &valid,
        ],
        None,
        "",
    )
    .await;
    let bad_type = admin(
        &app,
        &[
            "create-project",
            "--coordinator",
            "coordinator",
            "--json",
            &wrong_type,
        ],
        None,
        "",
    )
    .await;

    assert!(!unknown_key.success);
    let message = unknown_key.error()["error"].as_str().unwrap().to_string();
    assert!(message.contains("unknown field `nmae`"), "{message}");
    assert!(!unknown_coordinator.success);
    let message = unknown_coordinator.error()["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("coordinator not found"), "{message}");
    assert!(message.contains("nobody"), "{message}");
    assert!(!bad_type.success);
    let message = bad_type.error()["error"].as_str().unwrap().to_string();
    assert!(message.contains("expected a boolean"), "{message}");
    assert_eq!(project_count(&app).await, 0);
}

#[tokio::test]
async fn approve_project_sets_the_flag() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "coordinator").await;
    let config = fixtures::project_config("Awaiting Review", "https://example.org/cb");
    let created = fixtures::create_project(&app, member.id, &config).await;

    let outcome = admin(&app, &["approve-project", &created.slug], None, "").await;

    assert!(outcome.success, "{}", outcome.stderr);
    assert_eq!(
        outcome.json(),
        json!({ "slug": "awaiting-review", "approved": true })
    );
    let project = projects::find_by_slug(&app.state.db, &created.slug)
        .await
        .unwrap()
        .unwrap();
    assert!(project.approved);

    let unknown = admin(&app, &["approve-project", "no-such-project"], None, "").await;
    assert!(!unknown.success);
    assert!(unknown.stdout.is_empty());
    let message = unknown.error()["error"].as_str().unwrap().to_string();
    assert!(message.contains("project not found"), "{message}");
}
