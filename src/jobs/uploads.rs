//! Deletion of direct uploads that were never completed.

use anyhow::Context;

use crate::app::AppState;
use crate::blob::remove_stale_files;
use crate::clock::{DAY, Micros};
use crate::db::files;
use crate::http::api::body::spool_dir;

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

/// Removes the files of uploads that stopped, unfinished, more than
/// [`INCOMPLETE_UPLOAD_LIFETIME`] ago: a crash or a kill mid-write leaves local
/// storage's staging files, with or without a file row, and the spooled bodies of
/// multipart uploads. Returns how many were removed.
pub async fn remove_abandoned_upload_files(state: &AppState) -> anyhow::Result<usize> {
    let age = std::time::Duration::from_micros(INCOMPLETE_UPLOAD_LIFETIME.unsigned_abs());
    let staged = state.storage.remove_stale_staging_files(age).await?;
    let spool_dir = spool_dir(&state.settings.data_dir);
    let spooled = remove_stale_files(spool_dir.clone(), age)
        .await
        .with_context(|| format!("removing stale files in {}", spool_dir.display()))?;
    if staged + spooled > 0 {
        tracing::info!(staged, spooled, "removed the files of interrupted uploads");
    }
    Ok(staged + spooled)
}
