//! An upload whose file row is written while its member leaves or deletes their
//! account: the row must either be deleted with the withdrawal or never written.

use std::time::Duration;

use openhumans::db::accounts;
use openhumans::db::files::{self, NewDataFile};
use openhumans::db::memberships::{self, WithdrawOptions};
use openhumans::db::oauth2::lock_project;
use openhumans::domain::membership::Actor;

use super::joined;
use crate::oauth2::{Setup, membership};

/// What ends the membership while the upload waits.
#[derive(Clone, Copy)]
enum Ending {
    LeaveDeletingFiles,
    AccountDeletion,
}

#[tokio::test]
async fn upload_waiting_on_a_leave_is_not_kept() {
    let setup = upload_during(Ending::LeaveDeletingFiles).await;
    assert_eq!(member_files(&setup).await, 0);
}

#[tokio::test]
async fn upload_waiting_on_account_deletion_is_not_kept() {
    // The member row is gone as well, so an unchecked insert would break a foreign key.
    let setup = upload_during(Ending::AccountDeletion).await;
    assert_eq!(member_files(&setup).await, 0);
}

#[tokio::test]
async fn upload_before_a_leave_is_deleted_by_it() {
    let (setup, _) = joined(|_| {}).await;
    let app = &setup.app;
    let current = membership(app, setup.project.id, setup.member.id)
        .await
        .unwrap();
    let id =
        files::insert_for_membership(&app.state.db, current.id, &file(&setup), app.clock().now())
            .await
            .unwrap();
    assert!(id.is_some(), "an active membership takes uploads");

    begin_ending(&setup, Ending::LeaveDeletingFiles)
        .await
        .commit()
        .await
        .unwrap();
    assert_eq!(member_files(&setup).await, 0);
}

/// Starts ending the membership in a transaction, lets an upload's insert start
/// while it is open, commits, and checks that the insert gave up cleanly.
async fn upload_during(ending: Ending) -> Setup {
    let (setup, _) = joined(|_| {}).await;
    let app = &setup.app;
    let checked = membership(app, setup.project.id, setup.member.id)
        .await
        .unwrap();

    let tx = begin_ending(&setup, ending).await;
    let db = app.state.db.clone();
    let new_file = file(&setup);
    let now = app.clock().now();
    let insert =
        tokio::spawn(
            async move { files::insert_for_membership(&db, checked.id, &new_file, now).await },
        );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !insert.is_finished(),
        "the insert waits for the withdrawal's transaction"
    );
    tx.commit().await.unwrap();

    let inserted = insert.await.unwrap().expect("no database error");
    assert_eq!(inserted, None, "the ended membership takes no file");
    setup
}

/// Opens a write transaction that ends the membership the way `ending` does, taking
/// the project's lock first as every withdrawal does, and returns it uncommitted.
async fn begin_ending(setup: &Setup, ending: Ending) -> sqlx::Transaction<'static, sqlx::Any> {
    let app = &setup.app;
    let mut tx = app.state.db.begin_write().await.unwrap();
    lock_project(&mut tx, app.state.db.backend, setup.project.id)
        .await
        .unwrap();
    let current = memberships::find(&mut tx, setup.project.id, setup.member.id)
        .await
        .unwrap()
        .unwrap();
    let options = WithdrawOptions {
        erasure_requested: false,
        delete_files: true,
        account_deleted: matches!(ending, Ending::AccountDeletion),
    };
    memberships::withdraw_with(
        &mut tx,
        &current,
        Actor::Member,
        &options,
        app.clock().now(),
    )
    .await
    .unwrap();
    if matches!(ending, Ending::AccountDeletion) {
        accounts::delete_member(&mut tx, setup.member.id)
            .await
            .unwrap();
    }
    tx
}

fn file(setup: &Setup) -> NewDataFile<'static> {
    NewDataFile {
        member_id: setup.member.id,
        project_id: setup.project.id,
        storage_key: "racing/upload.csv",
        basename: "upload.csv",
        metadata: "{\"description\": \"d\", \"tags\": []}",
        completed: true,
        size: Some(3),
        md5: None,
        datatype_ids: &[],
    }
}

/// Counts the file rows of the setup's member, whatever their project.
async fn member_files(setup: &Setup) -> i64 {
    let (count,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM data_files WHERE member_id = $1")
        .bind(setup.member.id)
        .fetch_one(&setup.app.state.db.pool)
        .await
        .unwrap();
    count
}
