//! The project form rejects deauthorization webhook URLs on local, private and
//! link-local hosts, unless the operator allows them.

use crate::projects::{CREATE_PATH, post_form, set, valid_fields};
use crate::support::{TestApp, fixtures};

const LOCAL_URLS: [&str; 3] = [
    "http://169.254.169.254/",
    "http://10.0.0.1/hook",
    "http://localhost:9/",
];

#[tokio::test]
async fn form_rejects_local_webhook_hosts() {
    let app = TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;

    for url in LOCAL_URLS {
        let mut fields = valid_fields("Local Hook");
        set(&mut fields, "deauth_webhook", url);

        let response = post_form(&app, &client, CREATE_PATH, &fields, None).await;

        assert_eq!(response.status(), 422, "{url}");
        let body = response.text().await.unwrap();
        assert!(
            body.contains("id=\"deauth_webhook-error\">Deauthorization webhook URL must reach a public address"),
            "{url}: no error next to the webhook field"
        );
    }
}

#[tokio::test]
async fn form_accepts_local_webhook_hosts_when_allowed() {
    let app = TestApp::builder()
        .with(|settings| settings.allow_private_webhooks = true)
        .spawn()
        .await;
    let member = fixtures::create_member(&app, "ada").await;
    let client = fixtures::logged_in_client(&app, member.id).await;

    for (index, url) in LOCAL_URLS.into_iter().enumerate() {
        let mut fields = valid_fields(&format!("Local Hook {index}"));
        set(&mut fields, "deauth_webhook", url);

        let response = post_form(&app, &client, CREATE_PATH, &fields, None).await;

        assert_eq!(response.status(), 303, "{url}");
    }
}
