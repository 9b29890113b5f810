//! The daily upload volume limit of a project, as the upload endpoints apply it.
//!
//! The rule: a project may store `--upload-bytes-per-project-per-day` bytes in any
//! 24 hours, counted over every instance. Once its bytes reach the limit, starting a
//! direct upload, a multipart upload and a PUT to an upload URL are all rejected with
//! 429 and `Retry-After`. An upload whose bytes would pass the limit is rejected too,
//! before anything is stored when its size is known, and otherwise as soon as the bytes
//! streamed pass what is left. A rejected or failed upload stores nothing and counts
//! nothing. Bytes that were stored count even when the upload is later discarded for a
//! wrong MD5, because they were still transferred and written.
//!
//! On S3 storage the bytes go straight to S3, so they are counted when the upload is
//! completed. An upload over the limit is then deleted, row and object.
//! NOTE: on S3, bytes PUT to a presigned URL and never completed are not counted. The
//! clean-up job deletes such uploads once they are a day old.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;

use crate::app::AppState;
use crate::db::rate_limits::RetryAfter;
use crate::db::upload_volume;

/// Bytes a streaming upload reserves at a time beyond what it needs, so it does not
/// take the project's lock for every chunk.
const RESERVE_STEP: u64 = 8 * 1024 * 1024;

/// Returns the message of a 429 for a project over its upload volume.
pub fn volume_exceeded_message(state: &AppState) -> String {
    format!(
        "This project has uploaded as many bytes as it may in 24 hours ({} bytes); \
         retry later.",
        state.settings.upload_bytes_per_project_per_day
    )
}

/// The reason a metered upload stopped early.
#[derive(Debug)]
pub enum Stop {
    /// The project's volume has no room for the bytes that arrived.
    OverLimit(RetryAfter),
    /// Reserving more volume failed.
    Database(sqlx::Error),
}

/// The volume reserved for one upload to an upload URL, grown while its bytes stream.
pub struct UploadBudget<'a> {
    state: &'a AppState,
    project_id: i64,
    reservation: i64,
    reserved: AtomicU64,
    streamed: AtomicU64,
    stop: Mutex<Option<Stop>>,
}

impl<'a> UploadBudget<'a> {
    /// Reserves `content_length` bytes of the project's volume, or nothing yet when the
    /// length is unknown. Rejected when the project is at its limit or the length
    /// would pass it.
    pub async fn open(
        state: &'a AppState,
        project_id: i64,
        content_length: Option<u64>,
    ) -> sqlx::Result<Result<UploadBudget<'a>, RetryAfter>> {
        let reserved = content_length.unwrap_or(0);
        let reservation = upload_volume::reserve(
            &state.db,
            project_id,
            reserved,
            state.settings.upload_bytes_per_project_per_day,
            state.clock.now(),
        )
        .await?;
        Ok(reservation.map(|reservation| UploadBudget {
            state,
            project_id,
            reservation,
            reserved: AtomicU64::new(reserved),
            streamed: AtomicU64::new(0),
            stop: Mutex::new(None),
        }))
    }

    /// Passes `body` through, counting its bytes and reserving more volume whenever
    /// they pass the reservation. When the volume has no more room, the stream ends
    /// with an error, and [`UploadBudget::stop`] returns the reason.
    pub fn meter<E: std::fmt::Display + Send>(
        &self,
        body: impl futures_util::Stream<Item = Result<Bytes, E>> + Send,
    ) -> impl futures_util::Stream<Item = Result<Bytes, String>> + Send {
        use futures_util::StreamExt;

        body.then(move |chunk| async move {
            let chunk = chunk.map_err(|error| error.to_string())?;
            self.admit(chunk.len() as u64).await?;
            Ok(chunk)
        })
    }

    /// Takes the reason the metered stream stopped, if it was the budget.
    pub fn stop(&self) -> Option<Stop> {
        self.stop
            .lock()
            .expect("no thread panics holding it")
            .take()
    }

    /// Sets the reservation to the bytes the upload stored.
    pub async fn settle(self, stored: u64) -> sqlx::Result<()> {
        upload_volume::settle(&self.state.db, self.reservation, stored).await
    }

    /// Gives the whole reservation back, for an upload that stored nothing.
    pub async fn cancel(self) -> sqlx::Result<()> {
        upload_volume::cancel(&self.state.db, self.reservation).await
    }

    async fn admit(&self, length: u64) -> Result<(), String> {
        let streamed = self.streamed.fetch_add(length, Ordering::Relaxed) + length;
        let reserved = self.reserved.load(Ordering::Relaxed);
        if streamed <= reserved {
            return Ok(());
        }
        let needed = streamed - reserved;
        let extended = upload_volume::extend(
            &self.state.db,
            self.reservation,
            self.project_id,
            needed,
            needed.max(RESERVE_STEP),
            self.state.settings.upload_bytes_per_project_per_day,
            self.state.clock.now(),
        )
        .await;
        let stop = match extended {
            Ok(Ok(granted)) => {
                self.reserved.fetch_add(granted, Ordering::Relaxed);
                return Ok(());
            }
            Ok(Err(retry_after)) => Stop::OverLimit(retry_after),
            Err(error) => Stop::Database(error),
        };
        *self.stop.lock().expect("no thread panics holding it") = Some(stop);
        Err("the upload stopped at the project's upload volume limit".to_string())
    }
}
