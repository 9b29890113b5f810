//! Datatype pages: public list and detail, create and update for site admins only.

use openhumans::db::{datatypes, projects};
use openhumans::domain::datatypes::DatatypeInput;

use crate::support::{TestApp, fixtures};

async fn admin_client(app: &TestApp) -> (i64, reqwest::Client) {
    let admin = fixtures::create_member_with(app, "siteadmin", true, true).await;
    (admin.id, fixtures::logged_in_client(app, admin.id).await)
}

async fn insert_datatype(app: &TestApp, editor: i64, name: &str, uploadable: bool) -> i64 {
    datatypes::insert(
        &app.state.db,
        &DatatypeInput {
            name: name.to_string(),
            parent_id: None,
            description: format!("{name} description"),
            details: String::new(),
            uploadable,
        },
        editor,
        app.clock().now(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn admin_creates_a_datatype() {
    let app = TestApp::spawn().await;
    let (admin_id, client) = admin_client(&app).await;
    let category = insert_datatype(&app, admin_id, "Activity", false).await;

    let form = client
        .get(app.url("/data-management/datatypes/create/"))
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 200);
    assert!(form.text().await.unwrap().contains("Activity"));

    let response = client
        .post(app.url("/data-management/datatypes/create/"))
        .form(&[
            ("name", "Step counts"),
            ("parent", &category.to_string()),
            ("description", "Daily step counts"),
            ("details", "From wearables."),
            ("uploadable", "on"),
        ])
        .send()
        .await
        .unwrap();

    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().unwrap().to_string();
    let all = datatypes::list(&app.state.db).await.unwrap();
    let created = all.iter().find(|d| d.name == "Step counts").unwrap();
    assert_eq!(
        location,
        format!("/data-management/datatypes/{}/", created.id)
    );
    assert_eq!(created.parent_id, Some(category));
    assert!(created.uploadable);
    assert_eq!(created.last_editor_id, Some(admin_id));

    let page = app.client.get(app.url(&location)).send().await.unwrap();
    assert_eq!(page.status(), 200, "the detail page is public");
    let body = page.text().await.unwrap();
    assert!(body.contains("Step counts"));
    assert!(body.contains("From wearables."));
}

#[tokio::test]
async fn invalid_or_duplicate_datatype_shows_errors() {
    let app = TestApp::spawn().await;
    let (admin_id, client) = admin_client(&app).await;
    insert_datatype(&app, admin_id, "Sleep", true).await;

    let cases = [
        (
            vec![("name", "bad/name"), ("description", "d")],
            "only letters",
        ),
        (
            vec![("name", "SLEEP"), ("description", "d")],
            "already exists",
        ),
        (
            vec![("name", "Ok"), ("description", "")],
            "Enter a description",
        ),
    ];
    for (fields, expected) in cases {
        let response = client
            .post(app.url("/data-management/datatypes/create/"))
            .form(&fields)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{fields:?}");
        let body = response.text().await.unwrap();
        assert!(body.contains(expected), "{fields:?}: {expected}");
    }
    assert_eq!(datatypes::list(&app.state.db).await.unwrap().len(), 1);
}

#[tokio::test]
async fn create_and_update_are_admin_only() {
    let app = TestApp::spawn().await;
    let (admin_id, _) = admin_client(&app).await;
    let id = insert_datatype(&app, admin_id, "Sleep", true).await;
    let member = fixtures::create_member(&app, "member").await;
    let member_client = fixtures::logged_in_client(&app, member.id).await;
    let update = format!("/data-management/datatypes/update/{id}/");

    for path in ["/data-management/datatypes/create/", update.as_str()] {
        let get = member_client.get(app.url(path)).send().await.unwrap();
        assert_eq!(get.status(), 404, "member GET {path}");
        let post = member_client
            .post(app.url(path))
            .form(&[("name", "Hacked"), ("description", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(post.status(), 404, "member POST {path}");

        let anonymous = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(anonymous.status(), 303, "anonymous GET {path}");
        let location = anonymous.headers()["location"].to_str().unwrap();
        assert!(location.starts_with("/account/login/?next="), "{location}");
        let anonymous_post = app
            .client
            .post(app.url(path))
            .form(&[("name", "Hacked"), ("description", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(anonymous_post.status(), 303, "anonymous POST {path}");
    }
    let names: Vec<String> = datatypes::list(&app.state.db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, vec!["Sleep"]);

    let list = app
        .client
        .get(app.url("/data-management/datatypes/"))
        .send()
        .await
        .unwrap();
    assert_eq!(list.status(), 200, "the list is public");
    let body = list.text().await.unwrap();
    assert!(body.contains("Sleep"));
    assert!(
        !body.contains("Add a datatype"),
        "no create link for visitors"
    );
}

#[tokio::test]
async fn admin_updates_and_locked_fields_stay() {
    let app = TestApp::spawn().await;
    let (admin_id, client) = admin_client(&app).await;
    let id = insert_datatype(&app, admin_id, "Sleep", true).await;
    let url = app.url(&format!("/data-management/datatypes/update/{id}/"));

    let response = client
        .post(&url)
        .form(&[
            ("name", "Sleep stages"),
            ("description", "Nightly"),
            ("uploadable", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let saved = datatypes::find_by_id(&app.state.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.name, "Sleep stages");

    // Once an approved project registers it, only the details may change.
    let coordinator = fixtures::create_member(&app, "coordinator").await;
    let project = fixtures::create_project(
        &app,
        coordinator.id,
        &fixtures::project_config("Sleep Study", "https://example.org/cb"),
    )
    .await;
    datatypes::set_registered_for_project(&app.state.db, project.id, &[id])
        .await
        .unwrap();
    projects::set_approved(&app.state.db, project.id, true, app.clock().now())
        .await
        .unwrap();

    let renamed = client
        .post(&url)
        .form(&[
            ("name", "Renamed"),
            ("description", "Nightly"),
            ("uploadable", "on"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(renamed.status(), 200);
    assert!(
        renamed
            .text()
            .await
            .unwrap()
            .contains("only its details can change")
    );

    let details = client
        .post(&url)
        .form(&[
            ("name", "Sleep stages"),
            ("description", "Nightly"),
            ("uploadable", "on"),
            ("details", "More words."),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(details.status(), 303);
    let saved = datatypes::find_by_id(&app.state.db, id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved.name, "Sleep stages");
    assert_eq!(saved.details, "More words.");
}

#[tokio::test]
async fn unknown_datatype_page_is_404() {
    let app = TestApp::spawn().await;
    for path in [
        "/data-management/datatypes/999/",
        "/data-management/datatypes/x/",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
}
