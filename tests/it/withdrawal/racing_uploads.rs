//! Writes of a project's file for a member that race the member leaving or deleting
//! their account: each write either happens before the withdrawal, which then finds
//! it, or finds the membership ended and changes nothing.

use std::time::Duration;

use openhumans::db::accounts;
use openhumans::db::files::{self, MemberFileWrite, NewDataFile};
use openhumans::db::memberships::{self, WithdrawOptions};
use openhumans::db::oauth2::lock_project;
use openhumans::domain::membership::Actor;

use super::joined;
use crate::oauth2::Setup;

/// What ends the membership while the write waits.
#[derive(Clone, Copy, PartialEq)]
enum Ending {
    LeaveKeepingFiles,
    LeaveDeletingFiles,
    AccountDeletion,
}

/// The write that waits: a new file row, the record of a direct upload's bytes, or a
/// completion.
#[derive(Clone, Copy)]
enum Write {
    Insert,
    Record,
    Complete,
}

#[tokio::test]
async fn insert_waiting_on_a_leave_is_refused() {
    for ending in [Ending::LeaveKeepingFiles, Ending::LeaveDeletingFiles] {
        let (setup, outcome) = write_during(ending, Write::Insert).await;
        assert_eq!(outcome, MemberFileWrite::MemberLeft);
        assert_eq!(member_files(&setup).await, 0);
    }
}

#[tokio::test]
async fn insert_waiting_on_account_deletion_is_refused() {
    // The member row is gone as well, so an unchecked insert would break a foreign key.
    let (setup, outcome) = write_during(Ending::AccountDeletion, Write::Insert).await;
    assert_eq!(outcome, MemberFileWrite::MemberLeft);
    assert_eq!(member_files(&setup).await, 0);
}

#[tokio::test]
async fn updates_waiting_on_a_leave_are_refused() {
    for write in [Write::Record, Write::Complete] {
        let (setup, outcome) = write_during(Ending::LeaveKeepingFiles, write).await;
        assert_eq!(outcome, MemberFileWrite::MemberLeft);
        let (uploaded, completed): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(uploaded_at), COUNT(completed_at) FROM data_files WHERE member_id = $1",
        )
        .bind(setup.member.id)
        .fetch_one(&setup.app.state.db.pool)
        .await
        .unwrap();
        assert_eq!(uploaded, 0, "no upload was recorded");
        assert_eq!(completed, 0, "no file was completed");
    }
}

#[tokio::test]
async fn completion_waiting_on_account_deletion_is_refused() {
    let (setup, outcome) = write_during(Ending::AccountDeletion, Write::Complete).await;
    // Depending on the database, the write finds the row deleted or the member gone.
    assert_ne!(outcome, MemberFileWrite::Written);
    assert_eq!(member_files(&setup).await, 0);
}

#[tokio::test]
async fn upload_before_a_leave_is_deleted_by_it() {
    let (setup, _) = joined(|_| {}).await;
    let app = &setup.app;
    let id = files::insert_for_membership(&app.state.db, &file(&setup), app.clock().now())
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

/// Starts ending the membership in a transaction, lets `write` start while it is
/// open, commits, and returns the write's outcome. An insert refused is reported as
/// `MemberLeft`.
async fn write_during(ending: Ending, write: Write) -> (Setup, MemberFileWrite) {
    let (setup, _) = joined(|_| {}).await;
    let app = &setup.app;
    let now = app.clock().now();
    let existing = match write {
        Write::Insert => None,
        Write::Record | Write::Complete => {
            files::insert_for_membership(&app.state.db, &file(&setup), now)
                .await
                .unwrap()
        }
    };

    let tx = begin_ending(&setup, ending).await;
    let db = app.state.db.clone();
    let new_file = file(&setup);
    let waiting = tokio::spawn(async move {
        match (write, existing) {
            (Write::Insert, _) => {
                files::insert_for_membership(&db, &new_file, now)
                    .await
                    .map(|id| match id {
                        Some(_) => MemberFileWrite::Written,
                        None => MemberFileWrite::MemberLeft,
                    })
            }
            (Write::Record, Some(id)) => files::record_upload(&db, id, 3, None, now).await,
            (Write::Complete, Some(id)) => files::mark_completed(&db, id, 3, None, now).await,
            (_, None) => unreachable!("updates have a file"),
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        !waiting.is_finished(),
        "the write waits for the withdrawal's transaction"
    );
    tx.commit().await.unwrap();

    let outcome = waiting.await.unwrap().expect("no database error");
    (setup, outcome)
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
        delete_files: ending != Ending::LeaveKeepingFiles,
        account_deleted: ending == Ending::AccountDeletion,
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
    if ending == Ending::AccountDeletion {
        accounts::delete_member(&mut tx, setup.member.id)
            .await
            .unwrap();
    }
    tx
}

/// Returns an incomplete file of the setup's member and project.
fn file(setup: &Setup) -> NewDataFile<'static> {
    NewDataFile {
        member_id: setup.member.id,
        project_id: setup.project.id,
        storage_key: "racing/upload.csv",
        basename: "upload.csv",
        metadata: "{\"description\": \"d\", \"tags\": []}",
        completed: false,
        size: None,
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
