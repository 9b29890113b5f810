//! `/member/me/access-log/`: downloads by projects and by the member, filters by
//! downloader and date range, pagination, and what the log never stores.

use openhumans::clock::DAY;
use openhumans::db::files;

use super::{page, project_download_url};
use crate::api::ApiSetup;
use crate::support::browser::{Browser, DESKTOP, PHONE};
use crate::support::fixtures;

const LOG: &str = "/member/me/access-log/";

#[tokio::test]
async fn project_download_logged_with_project() {
    let api = ApiSetup::new().await;
    let file_id = api.upload(&api.access_token, "steps.csv", b"1,2,3").await;
    let url = project_download_url(&api, file_id).await;
    assert_eq!(reqwest::get(&url).await.unwrap().status(), 200);

    let log = files::list_downloads(&api.app().state.db, api.setup.member.id, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].project_id, Some(api.project_id()));
    assert_eq!(log[0].file_id, file_id);
    assert_eq!(log[0].client_address, "127.0.0.1");

    let (status, html) = page(&api.setup.browser, &api.app().url(LOG)).await;
    assert_eq!(status, 200);
    assert!(html.contains("steps.csv"), "{html}");
    assert!(html.contains("<td>Step Study</td>"), "{html}");
    assert!(html.contains("127.0.0.1"));
}

#[tokio::test]
async fn log_stores_no_token() {
    let api = ApiSetup::new().await;
    let file_id = api.upload(&api.access_token, "steps.csv", b"1,2,3").await;
    let url = project_download_url(&api, file_id).await;
    let signed = url
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    reqwest::get(&url).await.unwrap();
    // The project also passes its token in the query of this download.
    reqwest::get(format!("{url}?access_token={}", api.access_token))
        .await
        .unwrap();

    // Every column of the table.
    let rows: Vec<files::Download> = sqlx::query_as(
        "SELECT id, member_id, file_id, basename, project_id, by_member, client_address, at \
         FROM download_log",
    )
    .fetch_all(&api.app().state.db.pool)
    .await
    .unwrap();
    assert_eq!(rows.len(), 2);
    for row in &rows {
        let text = format!("{row:?}");
        assert!(
            !text.contains(&signed),
            "the signed URL token is stored: {text}"
        );
        assert!(
            !text.contains(&api.access_token),
            "the access token is stored: {text}"
        );
    }
    let (_, html) = page(&api.setup.browser, &api.app().url(LOG)).await;
    assert!(!html.contains(&signed));
    assert!(!html.contains(&api.access_token));
}

#[tokio::test]
async fn own_download_logged_as_you() {
    let api = ApiSetup::new().await;
    api.upload(&api.access_token, "steps.csv", b"1,2,3").await;
    let (_, html) = page(&api.setup.browser, &api.app().url("/member/me/data/")).await;
    let link = html
        .split("href=\"")
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.contains("/download/"))
        .expect("the data page links a download");
    let response = api.setup.browser.get(link).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.bytes().await.unwrap().as_ref(), b"1,2,3");

    let log = files::list_downloads(&api.app().state.db, api.setup.member.id, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].project_id, None);
    assert_eq!(log[0].by_member, 1);
    let (_, html) = page(&api.setup.browser, &api.app().url(LOG)).await;
    assert!(html.contains("<td>you</td>"), "{html}");
}

#[tokio::test]
async fn filters_and_pagination() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let db = &app.state.db;
    let file_id = api.upload(&api.access_token, "steps.csv", b"1,2,3").await;
    let file = files::find_by_id(db, file_id).await.unwrap().unwrap();
    // 2026-01-10 12:00 UTC and 2026-01-20 12:00 UTC.
    let day_one = 1_768_046_400_000_000;
    let day_two = day_one + 10 * DAY;
    for n in 0..60 {
        files::insert_download(db, &file, Some(api.project_id()), "10.0.0.1", day_one + n)
            .await
            .unwrap();
    }
    for n in 0..55 {
        files::insert_download(db, &file, None, "10.0.0.2", day_two + n)
            .await
            .unwrap();
    }
    let get = |query: &str| {
        let url = app.url(&format!("{LOG}?{query}"));
        let browser = api.setup.browser.clone();
        async move { page(&browser, &url).await }
    };

    let (status, html) = get("").await;
    assert_eq!(status, 200);
    assert!(html.contains("115 downloads."), "{html}");
    assert!(html.contains("Page 1 of 3"));
    assert_eq!(html.matches("<tr><td>").count(), 50);
    assert!(html.contains("2026-01-20"), "newest first");
    assert!(!html.contains("2026-01-10"));

    let (_, html) = get("downloader=you").await;
    assert!(html.contains("55 downloads match these filters."), "{html}");
    assert!(html.contains("Page 1 of 2"));
    assert!(!html.contains("10.0.0.1"));
    let links = html.replace("&#38;", "&amp;");
    assert!(
        links.contains("?downloader=you&amp;from=&amp;to=&amp;page=2"),
        "the next page keeps the filters: {html}"
    );

    let (_, html) = get("downloader=you&page=2").await;
    assert!(html.contains("Page 2 of 2"));
    assert_eq!(html.matches("<tr><td>").count(), 5);

    let project = api.project_id().to_string();
    let (_, html) = get(&format!("downloader={project}")).await;
    assert!(html.contains("60 downloads match"), "{html}");
    assert!(!html.contains("10.0.0.2"));

    let (_, html) = get("from=2026-01-10&to=2026-01-10").await;
    assert!(html.contains("60 downloads match"), "{html}");
    let (_, html) = get("from=2026-01-11").await;
    assert!(html.contains("55 downloads match"), "{html}");
    let (_, html) = get("to=2026-01-19").await;
    assert!(html.contains("60 downloads match"), "{html}");
    let (_, html) = get("downloader=you&to=2026-01-19").await;
    assert!(
        html.contains("No download matches these filters."),
        "{html}"
    );

    let (status, html) = get("page=99").await;
    assert_eq!(
        status, 200,
        "a page past the end is empty, as the directory's"
    );
    assert!(!html.contains("Page 3 of 3"), "{html}");
    assert!(html.contains("There is no page 99"), "{html}");
    assert!(
        html.contains("page=3\">Go to the last page</a>"),
        "a link back to the last page: {html}"
    );
    let (_, html) = get("to=2026-01-19&page=3").await;
    assert!(
        html.contains("There is no page 3: the matching downloads fill 2 pages."),
        "{html}"
    );
}

/// The filter form is one panel holding every field, at desktop and phone widths.
#[tokio::test]
async fn filter_panel_is_one_box() {
    let app = crate::support::TestApp::spawn().await;
    let member = fixtures::create_member(&app, "ada").await;
    let browser = Browser::start("access_log_filters").await;
    browser
        .goto(&app.url("/account/login/?next=/member/me/access-log/"))
        .await;
    browser.fill("login", &member.username).await;
    browser.fill("password", fixtures::PASSWORD).await;
    browser.click("main button[type='submit']").await;
    browser.wait_for_path(LOG).await;
    for (name, viewport) in [("desktop", DESKTOP), ("phone", PHONE)] {
        browser.set_viewport(viewport).await;
        browser.goto(&app.url(LOG)).await;
        browser
            .wait_for_element("form[action='/member/me/access-log/']")
            .await;
        browser.screenshot(&format!("filters-{name}")).await;
        let layout = browser
            .client
            .execute(
                "const form = document.querySelector(`form[action='/member/me/access-log/']`);
                 const box = form.getBoundingClientRect();
                 const inside = [...form.querySelectorAll('.field, .actions')].every(el => {
                   const r = el.getBoundingClientRect();
                   return r.top >= box.top && r.bottom <= box.bottom
                     && r.left >= box.left && r.right <= box.right;
                 });
                 return [form.getClientRects().length, inside, box.height];",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(
            layout[0], 1,
            "the panel is one box at {name} width: {layout}"
        );
        assert_eq!(
            layout[1], true,
            "the fields sit inside the panel at {name} width"
        );
        assert!(layout[2].as_f64().unwrap() > 50.0, "{layout}");
        browser.assert_no_horizontal_scroll("the access log").await;
    }
}

#[tokio::test]
async fn invalid_filters_get_a_message() {
    let api = ApiSetup::new().await;
    let cases = [
        ("from=yesterday", "\"from\" date must be a date such as"),
        ("to=2026-02-30", "\"to\" date must be a date such as"),
        ("downloader=somebody", "downloader filter must be"),
        ("from=2026-02-02&to=2026-02-01", "The date range is empty"),
        ("page=0", "The page must be a whole number"),
        ("page=-3", "The page must be a whole number"),
    ];
    for (query, message) in cases {
        let (status, html) = page(
            &api.setup.browser,
            &api.app().url(&format!("{LOG}?{query}")),
        )
        .await;
        assert_eq!(status, 400, "{query}");
        let html = html.replace("&quot;", "\"").replace("&#34;", "\"");
        assert!(html.contains(message), "{query}: {html}");
    }
}

#[tokio::test]
async fn other_members_see_nothing() {
    let api = ApiSetup::new().await;
    let file_id = api.upload(&api.access_token, "steps.csv", b"1,2,3").await;
    let url = project_download_url(&api, file_id).await;
    reqwest::get(&url).await.unwrap();

    let stranger = fixtures::create_member(api.app(), "stranger").await;
    let other = fixtures::logged_in_client(api.app(), stranger.id).await;
    let (status, html) = page(&other, &api.app().url(LOG)).await;
    assert_eq!(status, 200);
    assert!(!html.contains("steps.csv"));
    assert!(html.contains("Nobody has downloaded your files yet."));
    let project = api.project_id().to_string();
    let (_, html) = page(
        &other,
        &api.app().url(&format!("{LOG}?downloader={project}")),
    )
    .await;
    assert!(!html.contains("steps.csv"));
    assert!(!html.contains("Step Study"), "{html}");
}
