//! Deleting files from `/member/me/data/`: one file or every file of a source, after a
//! confirmation page; the object leaves storage and the project's listing.

use openhumans::db::{exports, files};

use super::{exchange_member, page, post_form, project_download_url};
use crate::api::{ApiSetup, file_ids};
use crate::support::fixtures;

async fn listed_ids(api: &ApiSetup) -> Vec<i64> {
    file_ids(&exchange_member(api).await)
}

#[tokio::test]
async fn deleting_a_file_removes_object_and_listing() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let kept = api.upload(&api.access_token, "kept.csv", b"kept").await;
    let doomed = api.upload(&api.access_token, "doomed.csv", b"doomed").await;
    let file = files::find_by_id(&app.state.db, doomed)
        .await
        .unwrap()
        .unwrap();
    let download_url = project_download_url(&api, doomed).await;
    assert_eq!(
        app.state.storage.size(&file.storage_key).await.unwrap(),
        Some(6)
    );

    let path = format!("/member/me/data/files/{doomed}/delete/");
    let (status, html) = page(&api.setup.browser, &app.url(&path)).await;
    assert_eq!(status, 200);
    assert!(html.contains("Delete doomed.csv?"), "{html}");
    assert!(
        files::find_by_id(&app.state.db, doomed)
            .await
            .unwrap()
            .is_some(),
        "the confirmation page deletes nothing"
    );

    let response = post_form(&api.setup.browser, &app.url(&path)).await;
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/member/me/data/");

    assert!(
        files::find_by_id(&app.state.db, doomed)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        app.state.storage.size(&file.storage_key).await.unwrap(),
        None
    );
    assert_eq!(listed_ids(&api).await, vec![kept]);
    assert_eq!(
        reqwest::get(&download_url).await.unwrap().status(),
        403,
        "a download URL handed out before stops working"
    );
    let (_, html) = page(&api.setup.browser, &app.url("/member/me/data/")).await;
    assert!(html.contains("doomed.csv was deleted."), "{html}");
    assert!(html.contains("kept.csv"));
}

#[tokio::test]
async fn deleting_a_source_removes_its_files() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let first = api.upload(&api.access_token, "a.csv", b"a").await;
    let second = api.upload(&api.access_token, "b.csv", b"b").await;
    let mut keys = Vec::new();
    for id in [first, second] {
        let file = files::find_by_id(&app.state.db, id).await.unwrap().unwrap();
        keys.push(file.storage_key);
    }
    let path = format!("/member/me/data/sources/{}/delete/", api.project_id());

    let (status, html) = page(&api.setup.browser, &app.url(&path)).await;
    assert_eq!(status, 200);
    assert!(html.contains("Delete all files from Step Study?"), "{html}");
    assert!(html.contains("Delete 2 files"));

    let response = post_form(&api.setup.browser, &app.url(&path)).await;
    assert_eq!(response.status(), 303);
    for key in &keys {
        assert_eq!(app.state.storage.size(key).await.unwrap(), None, "{key}");
    }
    assert!(listed_ids(&api).await.is_empty());
    let (_, html) = page(&api.setup.browser, &app.url("/member/me/data/")).await;
    assert!(
        html.contains("2 files from Step Study were deleted."),
        "{html}"
    );

    let (status, _) = page(&api.setup.browser, &app.url(&path)).await;
    assert_eq!(status, 404, "a source without files has nothing to delete");
}

#[tokio::test]
async fn other_member_cannot_delete() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let file_id = api.upload(&api.access_token, "steps.csv", b"1,2,3").await;
    let stranger = fixtures::create_member(app, "stranger").await;
    let other = fixtures::logged_in_client(app, stranger.id).await;

    let file_path = format!("/member/me/data/files/{file_id}/delete/");
    let source_path = format!("/member/me/data/sources/{}/delete/", api.project_id());
    for path in [&file_path, &source_path] {
        let (status, html) = page(&other, &app.url(path)).await;
        assert_eq!(status, 404, "{path}");
        assert!(!html.contains("steps.csv"));
        let response = post_form(&other, &app.url(path)).await;
        assert_eq!(response.status(), 404, "{path}");
    }
    assert_eq!(listed_ids(&api).await, vec![file_id]);

    let anonymous = app.new_client();
    let response = post_form(&anonymous, &app.url(&file_path)).await;
    assert_eq!(
        response.status(),
        303,
        "anonymous requests go to the login page"
    );
    assert_eq!(listed_ids(&api).await, vec![file_id]);
}

/// A file the member deletes leaves no copy in an export: a ready export is deleted
/// with its zip, and one still being built is cancelled and can never become ready.
#[tokio::test]
async fn deleting_files_withdraws_exports() {
    let api = ApiSetup::new().await;
    let app = api.app();
    let doomed = api.upload(&api.access_token, "doomed.csv", b"doomed").await;
    api.upload(&api.access_token, "other.csv", b"other").await;
    post_form(&api.setup.browser, &app.url("/member/me/export/")).await;
    super::export::wait_for_state(&api, "ready").await;
    let ready = exports::latest_for_member(&app.state.db, api.setup.member.id)
        .await
        .unwrap()
        .unwrap();
    let key = ready.storage_key.clone().unwrap();
    assert!(app.state.storage.size(&key).await.unwrap().is_some());

    let path = format!("/member/me/data/files/{doomed}/delete/");
    let (_, html) = page(&api.setup.browser, &app.url(&path)).await;
    assert!(
        html.contains("is deleted too, as it contains the file."),
        "{html}"
    );
    post_form(&api.setup.browser, &app.url(&path)).await;
    let (_, html) = page(&api.setup.browser, &app.url("/member/me/data/")).await;
    assert!(
        html.contains("Your data export, which contained them, was deleted too"),
        "{html}"
    );
    assert!(
        exports::find_by_id(&app.state.db, ready.id)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(app.state.storage.size(&key).await.unwrap(), None);
    let (status, _) = page(&api.setup.browser, &app.url("/member/me/export/download/")).await;
    assert_eq!(status, 404);

    // An export being built when the member deletes the rest of a source.
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    let building = exports::insert_queued(&mut conn, api.setup.member.id, app.clock().now())
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    assert!(
        exports::mark_building(&app.state.db, building, app.clock().now())
            .await
            .unwrap()
    );
    // Another member's export is untouched by this member's deletions.
    let stranger = fixtures::create_member(app, "stranger").await;
    let mut conn = app.state.db.pool.acquire().await.unwrap();
    let theirs = exports::insert_queued(&mut conn, stranger.id, app.clock().now())
        .await
        .unwrap()
        .unwrap();
    drop(conn);
    let source = format!("/member/me/data/sources/{}/delete/", api.project_id());
    post_form(&api.setup.browser, &app.url(&source)).await;
    let cancelled = exports::find_by_id(&app.state.db, building)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cancelled.state, exports::ExportState::Failed);
    let (_, html) = page(&api.setup.browser, &app.url("/member/me/export/")).await;
    assert!(
        html.contains("Cancelled because you deleted files"),
        "{html}"
    );
    let mut tx = app.state.db.begin_write().await.unwrap();
    let resurrected = exports::mark_ready(&mut tx, building, "exports/x.zip", 1, i64::MAX, 0)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert!(!resurrected, "a cancelled export never becomes ready");

    let kept = exports::find_by_id(&app.state.db, theirs)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(kept.state, exports::ExportState::Queued);
}
