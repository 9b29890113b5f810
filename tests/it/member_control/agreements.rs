//! `/member/me/agreements/`: the consent record of each project the member authorized.

use super::page;
use crate::api::ApiSetup;
use crate::support::fixtures;

const AGREEMENTS: &str = "/member/me/agreements/";

/// The "What" cells of the history tables, in page order.
fn history(html: &str) -> Vec<String> {
    html.split("<td>You ")
        .skip(1)
        .map(|rest| format!("You {}", rest.split('<').next().unwrap()))
        .collect()
}

#[tokio::test]
async fn authorize_withdraw_authorize_again() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let pmid = api.project_member_id.clone();

    let (status, html) = page(&api.setup.browser, &app.url(AGREEMENTS)).await;
    assert_eq!(status, 200);
    assert!(html.contains("Step Study"));
    assert!(html.contains(&pmid));
    assert!(html.contains("connected since"), "{html}");
    assert_eq!(history(&html), ["You authorized the project"]);

    let leave = format!("/member/me/connections/{pmid}/leave/");
    let response = api
        .setup
        .browser
        .post(app.url(&leave))
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let (_, html) = page(&api.setup.browser, &app.url(AGREEMENTS)).await;
    assert!(html.contains("not connected"), "{html}");
    assert!(
        !html.contains("Data it may read"),
        "no permissions are in force"
    );
    assert_eq!(
        history(&html),
        ["You withdrew", "You authorized the project"],
        "newest first"
    );

    api.setup.code(&[]).await;
    let (_, html) = page(&api.setup.browser, &app.url(AGREEMENTS)).await;
    assert!(html.contains("connected since"), "{html}");
    assert!(html.contains("Data it may read"));
    assert_eq!(
        history(&html),
        [
            "You authorized the project",
            "You withdrew",
            "You authorized the project"
        ]
    );
    assert_eq!(
        html.matches("<td>Step Study</td>").count(),
        0,
        "the project reads no other source"
    );
    // Each row shows the permissions of its event: messages were granted each time.
    assert_eq!(html.matches("<td>yes</td>").count(), 3, "{html}");
}

#[tokio::test]
async fn other_members_see_only_their_own() {
    let api = ApiSetup::new().await;
    let stranger = fixtures::create_member(api.app(), "stranger").await;
    let other = fixtures::logged_in_client(api.app(), stranger.id).await;
    let (status, html) = page(&other, &api.app().url(AGREEMENTS)).await;
    assert_eq!(status, 200);
    assert!(!html.contains("Step Study"));
    assert!(!html.contains(&api.project_member_id));
    assert!(html.contains("You have not authorized any project."));
}
