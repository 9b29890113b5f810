//! The approval walk in headless Chromium: the coordinator requests approval, a site
//! admin approves it from the review queue, and the directory lists the project.

use crate::support::TestApp;
use crate::support::browser::{Browser, DESKTOP, PHONE};
use crate::support::fixtures::{self, PASSWORD};

async fn log_in(browser: &Browser, app: &TestApp, username: &str, next: &str) {
    browser
        .goto(&app.url(&format!("/account/login/?next={next}")))
        .await;
    browser.fill("login", username).await;
    browser.fill("password", PASSWORD).await;
    browser.click("main button[type='submit']").await;
    browser.wait_for_path(next).await;
}

#[tokio::test]
async fn request_review_approve_walk() {
    for (width_name, viewport) in [("desktop", DESKTOP), ("phone", PHONE)] {
        let app = TestApp::spawn().await;
        let coordinator = fixtures::create_member(&app, "coordinator").await;
        fixtures::create_member_with(&app, "reviewer", true, true).await;
        let mut config = fixtures::project_config("Walk Study", "https://example.org/cb");
        config.is_study = true;
        let project = fixtures::create_project(&app, coordinator.id, &config).await;
        let browser = Browser::start(&format!("approval_walk_{width_name}")).await;
        browser.set_viewport(viewport).await;
        let shot = |step: &str| format!("{width_name}-{step}");
        let detail = format!("/direct-sharing/projects/oauth2/{}/", project.slug);

        // The coordinator requests approval from the project page.
        log_in(&browser, &app, &coordinator.username, &detail).await;
        assert!(browser.text().await.contains("Draft"), "{width_name}");
        browser.click("#request-approval").await;
        browser.wait_for_path(&format!("{detail}approval/")).await;
        assert!(browser.text().await.contains("Activity guidelines"));
        browser.click("#guidelines").await;
        browser.fill("ethics_board", "Example University IRB").await;
        browser.fill("ethics_reference", "IRB-2026-042").await;
        browser
            .assert_no_horizontal_scroll("the approval request page")
            .await;
        browser.screenshot(&shot("1-request")).await;
        browser.click("#submit-approval").await;
        // The approval page's path starts with the detail page's, so waiting for the
        // path would pass before the redirect; the notice marks the new page.
        let page = browser.wait_for_text("Your project is in review").await;
        assert_eq!(browser.path().await, detail, "{width_name}");
        assert!(page.contains("In review"));
        browser.screenshot(&shot("2-in-review")).await;
        browser
            .client
            .delete_all_cookies()
            .await
            .expect("logging the coordinator out");

        // A site admin approves it from the queue.
        log_in(&browser, &app, "reviewer", "/admin/approvals/").await;
        assert!(browser.text().await.contains("Walk Study"), "{width_name}");
        browser.screenshot(&shot("3-queue")).await;
        browser.click("#review-queue a").await;
        browser
            .wait_for_path(&format!("/admin/approvals/{}/", project.slug))
            .await;
        let review = browser.text().await;
        assert!(review.contains("IRB-2026-042"), "{width_name}: {review}");
        browser.assert_no_horizontal_scroll("the review page").await;
        browser.screenshot(&shot("4-review")).await;
        browser.fill("comment", "Clear and complete.").await;
        browser.click("#approve").await;
        // The review page's path starts with the queue's too, so wait for the queue
        // itself rather than for its path.
        browser.wait_for_element("#queue-empty").await;
        assert!(
            browser
                .text()
                .await
                .contains("No project is waiting for review")
        );

        // The directory lists it.
        browser.goto(&app.url("/activities/")).await;
        let directory = browser.text().await;
        assert!(
            directory.contains("Walk Study"),
            "{width_name}: {directory}"
        );
        browser.assert_no_horizontal_scroll("the directory").await;
        browser.screenshot(&shot("5-directory")).await;
        browser.click("#directory a").await;
        browser
            .wait_for_path(&format!("/activity/{}/", project.slug))
            .await;
        assert!(browser.text().await.contains("Join Walk Study"));
        browser.screenshot(&shot("6-activity")).await;
    }
}
