//! A real Django project built on the published `django-open-humans` 0.2.0 package,
//! unchanged, against our server. A member connects from the app in Chromium, and the
//! app lists and uploads files. The member's withdrawal then reaches the package's own
//! deauthorization view, which checks the signature, and its own receiver acts on it.
//!
//! The project lives in `tests/django/`; `scripts/test` installs Django and the
//! package into the test virtual environment.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use openhumans::db::projects::CreatedProject;
use openhumans::db::webhooks::{self, DELIVERED};
use openhumans::domain::webhooks::{
    OPEN_HUMANS_SIGNATURE_HEADER, deauthorization_body, open_humans_signature,
};
use openhumans::http::webhook_client;
use serde_json::Value;

use super::SECRET;
use crate::support::browser::Browser;
use crate::support::fixtures::{self, PASSWORD, TestMember};
use crate::support::process::{ChildProcess, free_port, test_python, wait_until_serving};
use crate::support::{TestApp, eventually};

const PROJECT_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/django");

/// The Django development server running the demo project, with its SQLite database
/// in a temporary directory. Dropping it stops the server.
struct DjangoApp {
    base: String,
    server: ChildProcess,
    _data: tempfile::TempDir,
}

impl DjangoApp {
    /// Migrates the demo project's database and starts `runserver` on a free port,
    /// configured as the project `project` of `app`. Returns once it responds.
    async fn start(app: &TestApp, port: u16, project: &CreatedProject) -> DjangoApp {
        let python = test_python();
        let data = tempfile::tempdir().expect("creating the Django data directory");
        let base = format!("http://127.0.0.1:{port}");
        let command = |args: &[&str]| {
            let mut command = Command::new(&python);
            // A clean environment, so a proxy or Django setting of the shell running
            // the tests cannot reach the app.
            command
                .env_clear()
                .current_dir(PROJECT_DIR)
                .arg("manage.py")
                .args(args)
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("PYTHONDONTWRITEBYTECODE", "1")
                .env("DJANGO_SETTINGS_MODULE", "demo_site.settings")
                .env("DEMO_DATA_DIR", data.path())
                .env("DEMO_SECRET_KEY", "demo-secret-key-for-this-test-only")
                .env("OPENHUMANS_APP_BASE_URL", &base)
                .env("OPENHUMANS_OH_BASE_URL", &app.base)
                .env("OHAPI_OH_BASE_URL", format!("{}/", app.base))
                .env("OPENHUMANS_CLIENT_ID", &project.client_id)
                .env("OPENHUMANS_CLIENT_SECRET", &project.client_secret)
                .env("OPENHUMANS_WEBHOOK_SECRET", SECRET);
            command
        };

        let migrate = command(&["migrate", "--noinput", "-v", "0"])
            .output()
            .unwrap_or_else(|error| panic!("starting {python}: {error}"));
        assert!(
            migrate.status.success(),
            "manage.py migrate failed ({}); is Django installed in the test \
             environment? Run scripts/test.\n{}\n{}",
            migrate.status,
            String::from_utf8_lossy(&migrate.stdout),
            String::from_utf8_lossy(&migrate.stderr)
        );

        let address = format!("127.0.0.1:{port}");
        let mut server = ChildProcess::spawn(
            command(&["runserver", &address, "--noreload"]),
            "django",
            data.path(),
        );
        wait_until_serving(
            &mut server,
            &format!("{base}/me.json"),
            Duration::from_secs(60),
        )
        .await;
        DjangoApp {
            base,
            server,
            _data: data,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Reads the app's JSON status of the browser's logged-in user, as the member would.
    async fn status(&self, browser: &Browser) -> Value {
        browser.goto(&self.url("/me.json")).await;
        let text = browser.text().await;
        serde_json::from_str(&text).unwrap_or_else(|error| {
            panic!(
                "the status view answered {text:?} ({error}); the app's output:\n{}",
                self.server.output()
            )
        })
    }
}

/// A server, a project whose redirect URI and webhook are the Django app's, the
/// running app, and a member who connected to it in Chromium.
struct Connected {
    app: TestApp,
    project: CreatedProject,
    django: DjangoApp,
    browser: Browser,
    pmid: String,
}

/// Starts everything and walks the member through connecting: logging in on our
/// server, following the app's authorization link, consenting, and coming back to
/// the app, which exchanges the code and logs the member in.
async fn connect(test_name: &str) -> Connected {
    let app = TestApp::builder()
        .with(|settings| settings.allow_private_webhooks = true)
        .spawn()
        .await;
    let port = free_port();
    let django_base = format!("http://127.0.0.1:{port}");
    // The package builds its redirect URI from its own base URL and the path of its
    // `openhumans:complete` view, which has no trailing slash.
    let mut config =
        fixtures::project_config("Demo Study", &format!("{django_base}/openhumans/complete"));
    config.deauth_webhook = Some(format!("{django_base}/openhumans/deauth/"));
    config.webhook_secret = Some(SECRET.to_string());
    config.erasure_supported = true;
    let coordinator = fixtures::create_member(&app, "coordinator").await;
    let project = fixtures::create_project(&app, coordinator.id, &config).await;
    let member = fixtures::create_member(&app, "Grace_H").await;
    let django = DjangoApp::start(&app, port, &project).await;
    let browser = Browser::start(test_name).await;

    log_in(&browser, &app, &member).await;
    browser.goto(&django.url("/")).await;
    browser.screenshot("1-app-index").await;
    browser.click("#connect").await;
    browser
        .wait_for_path("/direct-sharing/projects/oauth2/authorize/")
        .await;
    browser.wait_for_text("Authorize Demo Study").await;
    browser.screenshot("2-consent").await;
    browser.click("button[name='allow']").await;

    let member_id = browser.wait_for_element("#member-id").await;
    let pmid = member_id.text().await.expect("reading the member id");
    browser.screenshot("3-connected").await;
    let membership = crate::oauth2::membership(&app, project.id, member.id)
        .await
        .expect("consenting created a membership");
    assert_eq!(pmid, membership.project_member_id);
    let status = django.status(&browser).await;
    assert_eq!(status["member"]["oh_id"], pmid.as_str(), "{status}");
    assert_eq!(status["member"]["oh_deauth"], false, "{status}");

    Connected {
        app,
        project,
        django,
        browser,
        pmid,
    }
}

pub(super) async fn log_in(browser: &Browser, app: &TestApp, member: &TestMember) {
    browser.goto(&app.url("/account/login/")).await;
    browser.fill("login", &member.username).await;
    browser.fill("password", PASSWORD).await;
    browser.click("main button[type='submit']").await;
    browser.wait_for_text("Log out").await;
}

/// Leaves the project from our connections page, asking for erasure or not, and
/// waits until the delivery is recorded as delivered. Returns the status codes of
/// its attempts.
async fn withdraw(connected: &Connected, erasure: bool) -> Vec<Option<i64>> {
    let browser = &connected.browser;
    browser
        .goto(&connected.app.url("/member/me/connections/"))
        .await;
    browser
        .click(&format!("a[href$='/{}/leave/']", connected.pmid))
        .await;
    browser.wait_for_text("Leave Demo Study?").await;
    if erasure {
        browser.click("input[name='erasure_requested']").await;
    }
    browser.screenshot("5-leave").await;
    browser.click("button.button-danger").await;
    browser.wait_for_text("You left Demo Study").await;

    let db = connected.app.state.db.clone();
    let project_id = connected.project.id;
    let delivery = eventually(Duration::from_secs(20), "a delivered webhook", || async {
        let delivery = webhooks::list_for_project(&db, project_id, 1, 0)
            .await
            .unwrap()
            .pop()?;
        (delivery.state == DELIVERED).then_some(delivery)
    })
    .await;
    assert_eq!(delivery.project_member_id, connected.pmid);
    webhooks::attempts(&db, delivery.id)
        .await
        .unwrap()
        .iter()
        .map(|attempt| attempt.status_code)
        .collect()
}

/// Returns the name and the download link of the first file on the app's files page.
async fn listed_file(browser: &Browser) -> (String, String) {
    let link = browser.wait_for_element("a.download").await;
    let name = link.text().await.expect("reading the file name");
    let href = link
        .attr("href")
        .await
        .expect("reading the download link")
        .expect("the link has an href");
    (name, href)
}

/// Writes an upload with bytes that a text conversion would change.
fn upload_file(dir: &Path) -> (PathBuf, Vec<u8>) {
    let mut content = b"night,hours\n2024-01-01,7.5\r\n".to_vec();
    content.extend((0..=255u8).rev());
    let path = dir.join("sleep-diary.csv");
    std::fs::write(&path, &content).expect("writing the upload");
    (path, content)
}

#[tokio::test]
async fn app_uploads_then_erases_member() {
    let connected = connect("django_erasure").await;
    let (app, django, browser) = (&connected.app, &connected.django, &connected.browser);

    // The app lists the member's files through the API, none yet, and uploads one.
    browser.goto(&django.url("/files/")).await;
    browser.wait_for_element("#no-files").await;
    let dir = tempfile::tempdir().unwrap();
    let (path, content) = upload_file(dir.path());
    let input = browser.wait_for_element("#file").await;
    input
        .send_keys(path.to_str().expect("a UTF-8 path"))
        .await
        .expect("choosing the file");
    browser.click("#upload").await;
    let (name, href) = listed_file(browser).await;
    browser.screenshot("4-files").await;
    assert_eq!(name, "sleep-diary.csv");
    assert!(href.starts_with(&app.base), "{href}");
    let download = reqwest::get(&href).await.unwrap();
    assert_eq!(download.status(), 200, "{href}");
    assert_eq!(download.bytes().await.unwrap().as_ref(), content.as_slice());
    browser.goto(&app.url("/member/me/data/")).await;
    browser.wait_for_text("sleep-diary.csv").await;

    // The package's view rejects a delivery with the wrong signature, or none, and the
    // member stays.
    let deauth_url = django.url("/openhumans/deauth/");
    let body = deauthorization_body(&connected.pmid, true, app.clock().now());
    let forged = [(
        OPEN_HUMANS_SIGNATURE_HEADER,
        open_humans_signature("not the webhook secret", &body),
    )];
    for headers in [&forged[..], &[]] {
        let status = webhook_client::post(&deauth_url, headers, &body, true)
            .await
            .unwrap();
        assert_eq!(status, 403, "{headers:?}");
    }
    let status = django.status(browser).await;
    assert_eq!(
        status["member"]["oh_id"],
        connected.pmid.as_str(),
        "{status}"
    );

    // With erasure requested, the package's receiver deletes the member but keeps the
    // Django user logged in. Its pre-delete hook first calls remove-members with the
    // member's access token. The withdrawal revoked that token, so our server rejects
    // the call, and the package does not check the response.
    let attempts = withdraw(&connected, true).await;
    assert_eq!(attempts, [Some(200)], "the first attempt was accepted");
    let status = django.status(browser).await;
    assert_eq!(status["logged_in"], true, "{status}");
    assert_eq!(status["member"], Value::Null, "{status}");
    browser.goto(&django.url("/")).await;
    browser.wait_for_element("#connect").await;
    browser.screenshot("6-erased").await;
}

#[tokio::test]
async fn app_marks_member_without_erasure() {
    let connected = connect("django_deauth").await;
    let (django, browser) = (&connected.django, &connected.browser);

    // Without erasure the package keeps the member and its data, marked as
    // deauthorized.
    let attempts = withdraw(&connected, false).await;
    assert_eq!(attempts, [Some(200)], "the first attempt was accepted");
    let status = django.status(browser).await;
    assert_eq!(
        status["member"]["oh_id"],
        connected.pmid.as_str(),
        "{status}"
    );
    assert_eq!(status["member"]["oh_deauth"], true, "{status}");
    browser.goto(&django.url("/")).await;
    browser.wait_for_element("#left").await;
    browser.wait_for_element("#connect").await;
    browser.screenshot("6-left").await;
}
