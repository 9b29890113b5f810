//! Headless Chromium driven through ChromeDriver (WebDriver), for tests that walk
//! pages as a person would.
//!
//! Chromium and ChromeDriver come from Debian's `chromium` and `chromium-driver`
//! packages, which `scripts/test` installs; `OPENHUMANS_TEST_CHROMIUM` and
//! `OPENHUMANS_TEST_CHROMEDRIVER` override their paths. A missing browser fails the
//! test: it never skips.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// Viewport widths the page tests check: a desktop and a phone.
pub const DESKTOP: (u32, u32) = (1280, 900);
pub const PHONE: (u32, u32) = (390, 844);

/// A ChromeDriver process and a browser session on it. Dropping it ends both.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    artifacts: PathBuf,
}

impl Browser {
    /// Starts ChromeDriver and a headless Chromium with an empty profile. Screenshots
    /// go to `target/test-artifacts/<test_name>/`.
    pub async fn start(test_name: &str) -> Browser {
        let chromium = tool_path("OPENHUMANS_TEST_CHROMIUM", "chromium");
        let chromedriver = tool_path("OPENHUMANS_TEST_CHROMEDRIVER", "chromedriver");
        let port = free_port();
        // In a process group of its own, so that dropping the browser can end the
        // Chromium processes ChromeDriver started along with it.
        let driver = Command::new(&chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "cannot start {}: {error}; run scripts/test to install it",
                    chromedriver.display()
                )
            });
        let profile = tempfile::tempdir().expect("creating a browser profile directory");

        // Without the background-networking flags Chromium keeps trying to reach
        // Google's services, which a closed network refuses.
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={},{}", DESKTOP.0, DESKTOP.1),
                ]
            }
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("the capabilities literal is an object")
        };

        let url = format!("http://127.0.0.1:{port}");
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        let client = loop {
            match ClientBuilder::rustls()
                .expect("building the WebDriver client")
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => break client,
                Err(error) if std::time::Instant::now() > deadline => {
                    panic!("cannot start a Chromium session through ChromeDriver: {error}")
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        };

        let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("target/test-artifacts")
            .join(test_name);
        std::fs::create_dir_all(&artifacts).expect("creating the screenshot directory");
        Browser {
            client,
            driver,
            _profile: profile,
            artifacts,
        }
    }

    /// Resizes the window so that the page's viewport is `width` pixels wide.
    pub async fn set_viewport(&self, (width, height): (u32, u32)) {
        self.client
            .set_window_size(width, height)
            .await
            .expect("resizing the window");
        // Headless windows have no frame, but if one takes space, widen the window by it.
        let inner = self
            .client
            .execute("return window.innerWidth;", vec![])
            .await
            .unwrap();
        let frame = width.saturating_sub(inner.as_u64().unwrap_or(0) as u32);
        if frame > 0 {
            self.client
                .set_window_size(width + frame, height)
                .await
                .expect("resizing the window");
        }
    }

    pub async fn goto(&self, url: &str) {
        self.client
            .goto(url)
            .await
            .unwrap_or_else(|error| panic!("opening {url}: {error}"));
    }

    /// Saves a PNG of the viewport as `<name>.png` among the test's artifacts.
    pub async fn screenshot(&self, name: &str) {
        let png = self.client.screenshot().await.expect("taking a screenshot");
        let path = self.artifacts.join(format!("{name}.png"));
        std::fs::write(&path, png)
            .unwrap_or_else(|error| panic!("writing {}: {error}", path.display()));
    }

    /// Types `text` into the input labelled by the element with id `field_id`.
    pub async fn fill(&self, field_id: &str, text: &str) {
        let input = self
            .client
            .find(Locator::Id(field_id))
            .await
            .unwrap_or_else(|error| panic!("no input #{field_id}: {error}"));
        input.clear().await.expect("clearing an input");
        input.send_keys(text).await.expect("typing into an input");
    }

    pub async fn click(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|error| panic!("no element matches {css}: {error}"))
            .click()
            .await
            .unwrap_or_else(|error| panic!("clicking {css}: {error}"));
    }

    pub async fn path(&self) -> String {
        let url = self
            .client
            .current_url()
            .await
            .expect("reading the current URL");
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_string(),
        }
    }

    /// Waits until the current path starts with `prefix` (a click's navigation may
    /// still be under way when the click returns), failing after ten seconds.
    pub async fn wait_for_path(&self, prefix: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let path = self.path().await;
            if path.starts_with(prefix) {
                return path;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the browser stayed at {path}, expected a path starting with {prefix}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until an element matches `css` (the page may still be loading after a
    /// click or a redirect), failing after ten seconds with the page's text.
    pub async fn wait_for_element(&self, css: &str) -> Element {
        match self
            .client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
        {
            Ok(element) => element,
            Err(error) => panic!(
                "no element matches {css} at {}: {error}; the page says:\n{}",
                self.path().await,
                self.try_text().await.unwrap_or_default()
            ),
        }
    }

    /// Waits until the page's text contains `needle`, failing after ten seconds, and
    /// returns the text.
    pub async fn wait_for_text(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            // A navigation may replace the document between finding the body and
            // reading its text. That read fails, and the next poll reads the new page.
            let text = self.try_text().await.unwrap_or_default();
            if text.contains(needle) {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the page at {} never said {needle:?}; it says:\n{text}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn try_text(&self) -> Option<String> {
        let body = self.client.find(Locator::Css("body")).await.ok()?;
        body.text().await.ok()
    }

    /// Returns the text of the current page. A navigation that replaces the document
    /// between finding the body and reading it makes the read fail, so it is retried
    /// for a few seconds.
    pub async fn text(&self) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(text) = self.try_text().await {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "could not read the text of the page at {}",
                self.path().await
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Fails when the page is wider than the viewport, i.e. it would scroll sideways.
    pub async fn assert_no_horizontal_scroll(&self, page: &str) {
        let widths = self
            .client
            .execute(
                "return [document.documentElement.scrollWidth, window.innerWidth];",
                vec![],
            )
            .await
            .expect("measuring the page");
        let scroll = widths[0].as_u64().unwrap_or(u64::MAX);
        let viewport = widths[1].as_u64().unwrap_or(0);
        assert!(
            scroll <= viewport,
            "{page} is {scroll} px wide in a {viewport} px viewport"
        );
    }
}

impl Drop for Browser {
    /// Kills ChromeDriver's whole process group. Killing ChromeDriver alone left its
    /// Chromium processes running, about 16 for each browser test.
    fn drop(&mut self) {
        let group = format!("-{}", self.driver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn tool_path(variable: &str, default: &str) -> PathBuf {
    if let Ok(path) = std::env::var(variable)
        && !path.is_empty()
    {
        return PathBuf::from(path);
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(default))
            .find(|path| path.is_file())
    });
    found.unwrap_or_else(|| {
        panic!("{default} is not installed (set {variable} or run scripts/test, which installs it)")
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("finding a free port")
}
