//! The test-member cap: an unapproved project has at most 20 active members.

use openhumans::db::projects;

use super::{Setup, code_count, consent, make_active_member, query_param, submit_consent};
use crate::support::fixtures;

/// Fills the project with `count` other active members.
async fn fill(setup: &Setup, count: usize) {
    for index in 0..count {
        let member = fixtures::create_member(&setup.app, &format!("filler{index}")).await;
        make_active_member(&setup.app, setup.project.id, member.id).await;
    }
}

#[tokio::test]
async fn twenty_first_member_is_refused() {
    let setup = Setup::new().await;
    fill(&setup, 20).await;

    let response = setup
        .browser
        .get(setup.authorize_url(&[]))
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 403);
    assert!(response.headers().get("location").is_none());
    let html = response.text().await.unwrap();
    assert!(html.contains("no room for more test members"), "{html}");
    assert!(html.contains("at most 20 members"));
}

#[tokio::test]
async fn twentieth_member_is_admitted() {
    let setup = Setup::new().await;
    fill(&setup, 19).await;

    let target = consent(&setup.browser, &setup.authorize_url(&[])).await;

    assert!(query_param(&target, "code").is_some());
}

#[tokio::test]
async fn counted_member_reauthorizes_at_cap() {
    let setup = Setup::new().await;
    setup.code(&[]).await;
    fill(&setup, 19).await;

    let response = setup
        .browser
        .get(setup.authorize_url(&[("approval_prompt", "force")]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "the consent page is shown");
    let url = response.url().to_string();
    let html = response.text().await.unwrap();
    let answer = submit_consent(&setup.browser, &url, &html, "allow").await;

    assert_eq!(answer.status(), 303);
}

#[tokio::test]
async fn leaver_frees_a_slot() {
    let setup = Setup::new().await;
    let leaver = fixtures::create_member(&setup.app, "leaver").await;
    let leaver_browser = fixtures::logged_in_client(&setup.app, leaver.id).await;
    consent(&leaver_browser, &setup.authorize_url(&[])).await;
    fill(&setup, 19).await;
    let refused = setup
        .browser
        .get(setup.authorize_url(&[]))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);

    let pmid = super::membership(&setup.app, setup.project.id, leaver.id)
        .await
        .unwrap()
        .project_member_id;
    let left = leaver_browser
        .post(
            setup
                .app
                .url(&format!("/member/me/connections/{pmid}/leave/")),
        )
        .header("sec-fetch-site", "same-origin")
        .send()
        .await
        .unwrap();
    assert_eq!(left.status(), 303);

    let target = consent(&setup.browser, &setup.authorize_url(&[])).await;
    assert!(query_param(&target, "code").is_some());
}

#[tokio::test]
async fn suspended_members_do_not_count() {
    let setup = Setup::new().await;
    fill(&setup, 20).await;
    sqlx::query("UPDATE members SET is_active = 0 WHERE username = 'filler0'")
        .execute(&setup.app.state.db.pool)
        .await
        .unwrap();

    let target = consent(&setup.browser, &setup.authorize_url(&[])).await;

    assert!(query_param(&target, "code").is_some());
}

#[tokio::test]
async fn approval_lifts_the_cap() {
    let setup = Setup::new().await;
    fill(&setup, 20).await;
    projects::set_approved(
        &setup.app.state.db,
        setup.project.id,
        true,
        setup.app.clock().now(),
    )
    .await
    .unwrap();

    let target = consent(&setup.browser, &setup.authorize_url(&[])).await;

    assert!(query_param(&target, "code").is_some());
}

#[tokio::test]
async fn concurrent_joins_admit_exactly_one() {
    let setup = Setup::new().await;
    fill(&setup, 19).await;
    let mut pages = Vec::new();
    for index in 0..8 {
        let member = fixtures::create_member(&setup.app, &format!("racer{index}")).await;
        let browser = fixtures::logged_in_client(&setup.app, member.id).await;
        let url = setup.authorize_url(&[]);
        let page = browser.get(&url).send().await.unwrap();
        assert_eq!(page.status(), 200, "each racer sees the consent page");
        let html = page.text().await.unwrap();
        pages.push((browser, url, html));
    }

    let submissions = pages
        .iter()
        .map(|(browser, url, html)| submit_consent(browser, url, html, "allow"));
    let responses = futures_util::future::join_all(submissions).await;

    let admitted = responses.iter().filter(|r| r.status() == 303).count();
    let refused = responses.iter().filter(|r| r.status() == 403).count();
    assert_eq!(admitted, 1, "exactly one racer gets the last place");
    assert_eq!(refused, 7);
    let mut conn = setup.app.state.db.pool.acquire().await.unwrap();
    let active = openhumans::db::memberships::count_active(&mut conn, setup.project.id)
        .await
        .unwrap();
    assert_eq!(active, 20);
    assert_eq!(code_count(&setup.app, setup.project.id).await, 1);
}
