//! The withdrawn-members page and the links to the coordinator's pages.

use openhumans::db::withdrawals::{self, Withdrawal};

use super::{joined, leave};
use crate::support::browser::{Browser, DESKTOP, PHONE};
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

#[tokio::test]
async fn one_withdrawal_is_counted_in_the_singular() {
    let (setup, pmid) = joined(|_| {}).await;
    let app = &setup.app;
    leave(&setup, &pmid, &[]).await;
    let coordinator = fixtures::logged_in_client(app, setup.coordinator.id).await;
    let path = format!(
        "/direct-sharing/projects/oauth2/{}/withdrawn/",
        setup.project.slug
    );

    let html = coordinator
        .get(app.url(&path))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();

    assert!(html.contains("1 withdrawal, newest first"), "{html}");
}

/// A pending delivery whose receiver refuses connections: the long error stays inside
/// the card at desktop and phone widths, and the next attempt's time is shown.
#[tokio::test]
async fn long_delivery_errors_wrap_inside_the_card() {
    // Nothing listens on port 9 of the loopback address, so the connection is refused.
    let url = "http://127.0.0.1:9/a/rather/long/path/to/the/deauthorization/webhook/receiver/";
    let (setup, pmid) = joined(|config| config.deauth_webhook = Some(url.to_string())).await;
    let app = &setup.app;
    leave(&setup, &pmid, &[]).await;
    let job = super::wait_for_job_after(app, 1).await;
    assert_eq!(job.state, "queued");
    let path = format!(
        "/direct-sharing/projects/oauth2/{}/webhooks/",
        setup.project.slug
    );

    for (width_name, viewport) in [("desktop", DESKTOP), ("phone", PHONE)] {
        let browser = Browser::start(&format!("deliveries_{width_name}")).await;
        browser.set_viewport(viewport).await;
        super::django::log_in(&browser, app, &setup.coordinator).await;
        browser.goto(&app.url(&path)).await;
        let text = browser.wait_for_text("Connection refused").await;
        assert!(text.contains("Next attempt"), "{text}");
        browser
            .assert_no_horizontal_scroll("the deliveries page")
            .await;
        let overflow = browser
            .client
            .execute(
                "return Array.from(document.querySelectorAll('.table-wrap')) \
                 .map(w => w.scrollWidth - w.clientWidth);",
                vec![],
            )
            .await
            .expect("measuring the tables");
        let overflow: Vec<i64> = serde_json::from_value(overflow).unwrap();
        assert!(!overflow.is_empty());
        assert!(
            overflow.iter().all(|&extra| extra <= 0),
            "{width_name}: the attempts table is wider than its card by {overflow:?} px"
        );
        browser
            .client
            .execute(
                "document.querySelector('table.attempts').scrollIntoView();",
                vec![],
            )
            .await
            .expect("scrolling to the attempts");
        browser.screenshot(width_name).await;
    }
}
