//! The withdrawn-members page and the links to the coordinator's pages.

use openhumans::db::withdrawals::{self, Withdrawal};

use super::{joined, leave};
use crate::support::fixtures;

#[tokio::test]
async fn withdrawn_page_paginates_newest_first() {
    let (setup, pmid) = joined(|config| config.erasure_supported = true).await;
    let app = &setup.app;
    let start = app.clock().now() - 1_000_000_000;
    for n in 0..54 {
        let withdrawal = Withdrawal {
            id: 0,
            project_id: setup.project.id,
            project_member_id: format!("{:08}", 10_000_000 + n),
            reason: "project-coordinator".to_string(),
            erasure_requested: false,
            files_deleted: false,
            at: start + n,
        };
        withdrawals::insert(&app.state.db.pool, &withdrawal)
            .await
            .unwrap();
    }
    leave(&setup, &pmid, &[("erasure_requested", "on")]).await;
    let coordinator = fixtures::logged_in_client(app, setup.coordinator.id).await;
    let path = format!(
        "/direct-sharing/projects/oauth2/{}/withdrawn/",
        setup.project.slug
    );

    let first = coordinator.get(app.url(&path)).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let first = first.text().await.unwrap();
    let second = coordinator
        .get(app.url(&format!("{path}?page=2")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert_eq!(
        first.matches("<tr>").count(),
        51,
        "a header row and 50 rows"
    );
    let newest = first.find(&pmid).expect("the newest withdrawal is listed");
    assert!(newest < first.find("10000053").unwrap(), "newest first");
    assert!(first.contains("<strong>Yes</strong>"), "erasure is shown");
    assert!(first.contains("UTC"), "dates are shown");
    assert!(first.contains("?page=2"));
    assert_eq!(second.matches("<tr>").count(), 6);
    assert!(second.contains("10000000"));
    assert!(second.contains("?page=1"));
    let detail = coordinator
        .get(app.url(&format!(
            "/direct-sharing/projects/oauth2/{}/",
            setup.project.slug
        )))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(detail.contains(&path));
    let member_view = setup.browser.get(app.url(&path)).send().await.unwrap();
    assert_eq!(member_view.status(), 404, "only the coordinator sees it");
}
