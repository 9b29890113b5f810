//! Deletion of direct uploads that were never completed.

use anyhow::Context;

use crate::app::AppState;
use crate::clock::{DAY, Micros};
use crate::db::files;

/// Age after which a file whose upload was never completed is deleted.
pub const INCOMPLETE_UPLOAD_LIFETIME: Micros = DAY;

/// Deletes files whose upload was not completed within a day of their creation,
/// objects included, and returns how many were deleted.
pub async fn purge_incomplete_uploads(state: &AppState, now: Micros) -> anyhow::Result<usize> {
    let stale = files::list_incomplete_before(&state.db, now - INCOMPLETE_UPLOAD_LIFETIME)
        .await
        .context("listing incomplete uploads")?;
    let mut deleted = 0;
    for (file_id, storage_key) in stale {
        // The row goes first: a completion racing this deletion then fails cleanly
        // instead of completing a file whose object is gone.
        if !files::delete_incomplete(&state.db, file_id).await? {
            continue;
        }
        state.storage.delete(&storage_key).await?;
        deleted += 1;
    }
    if deleted > 0 {
        tracing::info!(count = deleted, "deleted incomplete uploads");
    }
    Ok(deleted)
}
