//! `/member/me/connections/` and leaving a project.

use crate::oauth2::{Setup, access_token_works, error_code, membership, refresh_raw};
use crate::support::fixtures;

fn leave_path(project_member_id: &str) -> String {
    format!("/member/me/connections/{project_member_id}/leave/")
}

#[tokio::test]
async fn connections_list_authorized_projects_and_permissions() {
    let app = crate::support::TestApp::spawn().await;
    let owner = fixtures::create_member(&app, "owner").await;
    let source = fixtures::create_project(
        &app,
        owner.id,
        &fixtures::project_config("Genome Vault", "https://genome.example/cb"),
    )
    .await;
    let setup = Setup::on(app, |config| {
        config.requested_sources = vec![source.id];
        config.request_username_access = true;
    })
    .await;
    setup.code(&[]).await;
    let pmid = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap()
        .project_member_id;

    let response = setup
        .browser
        .get(setup.app.url("/member/me/connections/"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 200);
    let html = response.text().await.unwrap();
    assert!(html.contains("Step Study"), "{html}");
    assert!(html.contains("Genome Vault"));
    assert!(html.contains("yes, Ada_L"));
    assert!(html.contains(&pmid));
    assert!(html.contains(&leave_path(&pmid)));
    assert!(html.contains("UTC"), "the authorization time is shown");
}

#[tokio::test]
async fn connections_need_login() {
    let app = crate::support::TestApp::spawn().await;

    let response = app
        .client
        .get(app.url("/member/me/connections/"))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"],
        "/account/login/?next=%2Fmember%2Fme%2Fconnections%2F"
    );
}

#[tokio::test]
async fn leaving_revokes_tokens_and_clears_snapshot() {
    let setup = Setup::with_config(|config| config.request_username_access = true).await;
    let (access, refresh_token) = setup.tokens().await;
    let before = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    let path = leave_path(&before.project_member_id);

    let page = setup
        .browser
        .get(setup.app.url(&path))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("Leave Step Study?"));
    let response = setup
        .browser
        .post(setup.app.url(&path))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/member/me/connections/");
    assert!(!access_token_works(&setup.app, &access).await);
    let refreshed = refresh_raw(&setup.app, &setup.project, &refresh_token).await;
    assert_eq!(error_code(refreshed).await, "invalid_grant");
    let after = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    assert!(after.status.revoked);
    assert!(!after.status.authorized);
    assert!(!after.status.joined);
    assert!(!after.snapshot.username_shared);
    assert!(!after.snapshot.message_permission);
    let events = openhumans::db::memberships::events(&setup.app.state.db, after.id)
        .await
        .unwrap();
    let kinds: Vec<&str> = events.iter().map(|event| event.kind.as_str()).collect();
    assert_eq!(kinds, ["authorized", "withdrawn"]);
    assert!(
        events[1].snapshot.username_shared,
        "the event keeps what ended"
    );
    let list = setup
        .browser
        .get(setup.app.url("/member/me/connections/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("You left Step Study"), "{list}");
    assert!(list.contains("not authorized any project"));
    let again = setup
        .browser
        .get(setup.app.url(&path))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 404, "a left membership has no leave page");
}

#[tokio::test]
async fn rejoining_keeps_project_member_id() {
    let setup = Setup::new().await;
    setup.code(&[]).await;
    let before = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    setup
        .browser
        .post(setup.app.url(&leave_path(&before.project_member_id)))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();

    let response = setup
        .browser
        .get(setup.authorize_url(&[]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status(),
        200,
        "a former member sees the consent page"
    );
    setup.code(&[]).await;

    let after = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    assert!(after.status.is_active(true));
    assert_eq!(after.project_member_id, before.project_member_id);
}

#[tokio::test]
async fn other_member_gets_404_on_leave_page() {
    let setup = Setup::new().await;
    let (access, _) = setup.tokens().await;
    let pmid = membership(&setup.app, setup.project.id, setup.member.id)
        .await
        .unwrap()
        .project_member_id;
    let intruder = fixtures::create_member(&setup.app, "intruder").await;
    let browser = fixtures::logged_in_client(&setup.app, intruder.id).await;

    let page = browser
        .get(setup.app.url(&leave_path(&pmid)))
        .send()
        .await
        .unwrap();
    let post = browser
        .post(setup.app.url(&leave_path(&pmid)))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    let unknown = browser
        .get(setup.app.url(&leave_path("00000000")))
        .send()
        .await
        .unwrap();

    assert_eq!(page.status(), 404);
    assert_eq!(post.status(), 404);
    assert_eq!(unknown.status(), 404);
    assert!(access_token_works(&setup.app, &access).await);
}
