//! Pages walked in headless Chromium at desktop and phone widths, with screenshots
//! saved under `target/test-artifacts/`.

use crate::support::TestApp;
use crate::support::browser::{Browser, DESKTOP, PHONE};

#[tokio::test]
async fn front_page_fits_desktop_and_phone() {
    let app = TestApp::spawn().await;
    let browser = Browser::start("front_page").await;

    for (name, viewport) in [("desktop", DESKTOP), ("phone", PHONE)] {
        browser.set_viewport(viewport).await;
        browser.goto(&app.url("/")).await;

        let text = browser.text().await;
        assert!(
            text.contains("Your data, shared on your terms"),
            "{name}: {text}"
        );
        browser
            .assert_no_horizontal_scroll(&format!("the front page at {name} width"))
            .await;
        browser.screenshot(&format!("front-{name}")).await;
    }
}
