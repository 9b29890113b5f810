//! The public directory, the list of projects in development and project pages.

use openhumans::db::projects;

use super::Review;
use crate::support::TestApp;
use crate::support::fixtures;

/// Creates a project named `name` with the given flags; returns its slug.
async fn project(
    app: &TestApp,
    coordinator: i64,
    name: &str,
    approved: bool,
    active: bool,
) -> String {
    let mut config = fixtures::project_config(name, "https://example.org/cb");
    config.active = active;
    config.organization = format!("{name} Institute");
    config.short_description = format!("The {name} project, in short.");
    let created = fixtures::create_project(app, coordinator, &config).await;
    if approved {
        projects::set_approved(&app.state.db, created.id, true, app.clock().now())
            .await
            .unwrap();
    }
    created.slug
}

async fn page(app: &TestApp, path: &str) -> (u16, String) {
    let response = app.new_client().get(app.url(path)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.text().await.unwrap())
}

#[tokio::test]
async fn directory_lists_approved_active_projects() {
    let app = TestApp::spawn().await;
    let coordinator = fixtures::create_member(&app, "coordinator").await;
    project(&app, coordinator.id, "Listed Sleep", true, true).await;
    project(&app, coordinator.id, "Closed Approved", true, false).await;
    project(&app, coordinator.id, "Draft Steps", false, true).await;
    project(&app, coordinator.id, "Closed Draft", false, false).await;

    let (status, directory) = page(&app, "/activities/").await;
    assert_eq!(status, 200);
    assert!(directory.contains("Listed Sleep"), "{directory}");
    assert!(directory.contains("Listed Sleep Institute"));
    assert!(directory.contains("The Listed Sleep project, in short."));
    assert!(directory.contains("/activity/listed-sleep/"));
    for absent in ["Closed Approved", "Draft Steps", "Closed Draft"] {
        assert!(!directory.contains(absent), "{absent} is not listed");
    }
    assert!(directory.contains("1 project"));

    let (status, development) = page(&app, "/direct-sharing/in-development/").await;
    assert_eq!(status, 200);
    assert!(development.contains("Draft Steps"), "{development}");
    for absent in ["Listed Sleep", "Closed Approved", "Closed Draft"] {
        assert!(
            !development.contains(absent),
            "{absent} is not in development"
        );
    }
}

#[tokio::test]
async fn directory_search_matches_fields() {
    let app = TestApp::spawn().await;
    let coordinator = fixtures::create_member(&app, "coordinator").await;
    project(&app, coordinator.id, "Sleep Diary", true, true).await;
    project(&app, coordinator.id, "Heart Rate", true, true).await;

    for (query, expected, other) in [
        ("sleep", "Sleep Diary", "Heart Rate"),
        ("HEART rate institute", "Heart Rate", "Sleep Diary"),
        ("heart rate project", "Heart Rate", "Sleep Diary"),
    ] {
        let (_, html) = page(&app, &format!("/activities/?q={}", query.replace(' ', "+"))).await;
        assert!(html.contains(expected), "{query}: {html}");
        assert!(
            !html.contains(&format!(">{other}<")),
            "{query} leaves out {other}"
        );
    }
    let (_, none) = page(&app, "/activities/?q=%25").await;
    assert!(none.contains("0 projects"), "a % matches literally: {none}");
    let (status, _) = page(&app, "/activities/?page=0").await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn directory_page_past_the_end_is_empty() {
    let app = TestApp::spawn().await;
    let coordinator = fixtures::create_member(&app, "coordinator").await;
    project(&app, coordinator.id, "Sleep Study", true, true).await;

    let (status, html) = page(&app, &format!("/activities/?page={}", i64::MAX)).await;

    assert_eq!(status, 200);
    assert_eq!(html.matches("class=\"panel directory-entry\"").count(), 0);
    assert!(!html.contains("Sleep Study"), "{html}");
    assert!(
        !html.contains("?page=-"),
        "a link to a negative page: {html}"
    );
}

#[tokio::test]
async fn directory_pages_through_projects() {
    let app = TestApp::spawn().await;
    let coordinator = fixtures::create_member(&app, "coordinator").await;
    for index in 0..22 {
        project(
            &app,
            coordinator.id,
            &format!("Study {index:02}"),
            true,
            true,
        )
        .await;
    }

    let (_, first) = page(&app, "/activities/").await;
    let (_, second) = page(&app, "/activities/?page=2").await;

    assert!(first.contains("22 projects"));
    assert_eq!(first.matches("class=\"panel directory-entry\"").count(), 20);
    assert!(first.contains("/activities/?page=2"), "a next link");
    assert_eq!(second.matches("class=\"panel directory-entry\"").count(), 2);
    assert!(second.contains("Study 21"));
    assert!(!second.contains("Study 00"));
}

#[tokio::test]
async fn activity_page_shows_permissions_and_join() {
    let review = Review::with_config(|config| config.request_username_access = true).await;
    let app = &review.setup.app;

    let (status, html) = page(app, &format!("/activity/{}/", review.slug())).await;

    assert_eq!(status, 200);
    assert!(
        html.contains("A longer description of the project."),
        "{html}"
    );
    assert!(html.contains("What it asks for"));
    assert!(html.contains("Your username</dt><dd>Yes"));
    assert!(html.contains("Permission to email you</dt><dd>Yes"));
    assert!(html.contains("In development"));
    let join = format!(
        "/direct-sharing/projects/oauth2/authorize/?client_id={}&#38;response_type=code",
        review.setup.project.client_id
    );
    assert!(
        html.contains(&join),
        "the join button leads to the authorize URL: {html}"
    );
    assert!(
        !html.contains("contact-form"),
        "anonymous visitors see no contact form"
    );
    let (status, _) = page(app, "/activity/no-such-project/").await;
    assert_eq!(status, 404);
    let (_, home) = page(app, "/").await;
    assert!(
        home.contains("href=\"/activities/\""),
        "the navigation links the directory"
    );
}
