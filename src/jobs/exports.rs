//! Exports of a member's data: a zip of every file of theirs plus `manifest.json`
//! (files with metadata and sources, memberships with their snapshots and history,
//! and the access log), built by a background job and kept for 24 hours.
//!
//! The zip is streamed in constant memory: each object is read from storage chunk by
//! chunk into the zip writer, which writes into a bounded in-memory pipe whose other
//! end is streamed into the export's storage object. Entries are stored without
//! compression, because most data files (genomes, archives, images) are compressed
//! already and deflating hundreds of megabytes would cost minutes of CPU.

use std::collections::HashMap;

use anyhow::Context;
use async_zip::base::write::ZipFileWriter;
use async_zip::{Compression, ZipDateTime, ZipDateTimeBuilder, ZipEntryBuilder};
use chrono::{Datelike, Timelike};
use futures_lite::io::AsyncWriteExt as _;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt as _;
use tokio_util::io::ReaderStream;

use super::JobError;
use crate::app::AppState;
use crate::clock::{DAY, HOUR, Micros, iso8601};
use crate::db::exports::{self, Export};
use crate::db::files::{self, DataFile};
use crate::db::jobs as queue;
use crate::db::{members, memberships, oauth2::project_names};
use crate::mail::{Email, new_message_id};

/// Kind of the job that builds one export.
pub const EXPORT_JOB: &str = "build_export";

/// How long a finished export can be downloaded.
pub const EXPORT_LIFETIME: Micros = DAY;

/// Attempts of an export job before the export is marked failed.
const EXPORT_MAX_ATTEMPTS: i64 = 3;

/// Bytes buffered between the zip writer and the storage upload.
const PIPE_BYTES: usize = 256 * 1024;

/// An export's state older than this while still queued or building means its job
/// gave up without recording the outcome (e.g. the process crashed on the last try).
const STUCK_AFTER: Micros = 6 * HOUR;

/// Failed exports stay visible on the member's page this long.
const FAILED_KEPT: Micros = 7 * DAY;

/// ZIP64 records are written once an archive may pass the 4 GiB limit of plain ZIP
/// (a margin is kept for headers and the manifest).
const ZIP64_THRESHOLD: i64 = 4_000_000_000;

#[derive(Debug, Serialize, Deserialize)]
struct ExportPayload {
    export_id: i64,
}

/// Queues an export of the member's data. Returns `None` when one is already queued
/// or building.
pub async fn queue_export(
    state: &AppState,
    member_id: i64,
    now: Micros,
) -> anyhow::Result<Option<i64>> {
    let mut tx = state.db.begin_write().await?;
    let Some(export_id) = exports::insert_queued(&mut tx, member_id, now).await? else {
        return Ok(None);
    };
    let payload = serde_json::to_string(&ExportPayload { export_id })
        .expect("an export payload always serializes");
    queue::insert(
        &mut *tx,
        EXPORT_JOB,
        &payload,
        EXPORT_MAX_ATTEMPTS,
        now,
        now,
    )
    .await
    .context("queueing an export job")?;
    tx.commit().await?;
    state.job_signal.notify();
    tracing::info!(
        export.id = export_id,
        member.id = member_id,
        "queued an export"
    );
    Ok(Some(export_id))
}

/// Runs an export job: builds the zip, marks the export ready and queues the email
/// that notifies the member. After the last failed attempt the export is marked failed.
pub async fn build_export(state: &AppState, job: &queue::ClaimedJob) -> Result<(), JobError> {
    let payload: ExportPayload = serde_json::from_str(&job.payload)
        .map_err(|error| JobError::Permanent(format!("invalid export payload: {error}")))?;
    let export_id = payload.export_id;
    let result = build(state, export_id).await;
    if let Err(error) = &result {
        let last_attempt =
            matches!(error, JobError::Permanent(_)) || job.attempts >= job.max_attempts;
        if last_attempt {
            let message = "Building the export failed. Request a new one; if it fails \
                           again, contact the site's operators.";
            if let Err(error) =
                exports::mark_failed(&state.db, export_id, message, state.clock.now()).await
            {
                tracing::error!(export.id = export_id, error = %error,
                    "marking an export failed did not succeed");
            }
        }
    }
    result
}

async fn build(state: &AppState, export_id: i64) -> Result<(), JobError> {
    let retry = |error: anyhow::Error| JobError::Retry(format!("{error:#}"));
    let Some(export) = exports::find_by_id(&state.db, export_id)
        .await
        .map_err(|error| retry(error.into()))?
    else {
        return Ok(());
    };
    if !exports::mark_building(&state.db, export_id, state.clock.now())
        .await
        .map_err(|error| retry(error.into()))?
    {
        return Ok(());
    }

    let key = format!(
        "exports/{}/{}-{}.zip",
        export.member_id,
        export.id,
        crate::crypto::random_token(16)
    );
    let size = write_export(state, &export, &key).await.map_err(retry)?;

    let now = state.clock.now();
    let finished = finish(state, &export, &key, size, now).await;
    match finished {
        Ok(true) => {
            state.job_signal.notify();
            tracing::info!(export.id = export.id, size, "export ready");
            Ok(())
        }
        Ok(false) => {
            // The export was marked failed (or removed) meanwhile; keep nothing.
            delete_object(state, &key).await;
            Ok(())
        }
        Err(error) => {
            delete_object(state, &key).await;
            Err(retry(error))
        }
    }
}

/// Marks the export ready and queues its email in one transaction.
async fn finish(
    state: &AppState,
    export: &Export,
    key: &str,
    size: i64,
    now: Micros,
) -> anyhow::Result<bool> {
    let member = members::find_by_id(&state.db, export.member_id)
        .await?
        .context("the export's member no longer exists")?;
    let expires_at = now + EXPORT_LIFETIME;
    let mut tx = state.db.begin_write().await?;
    if !exports::mark_ready(&mut tx, export.id, key, size, expires_at, now).await? {
        return Ok(false);
    }
    let email = ready_email(state, &member.username, &member.email, expires_at);
    super::enqueue_email(&mut *tx, &email, now)
        .await
        .context("queueing the export email")?;
    tx.commit().await?;
    Ok(true)
}

/// Streams the zip of `export` into storage under `key` and returns its size. On
/// failure nothing is left under `key`.
async fn write_export(state: &AppState, export: &Export, key: &str) -> anyhow::Result<i64> {
    let plan = ExportPlan::load(state, export.member_id).await?;
    let (zip_end, store_end) = tokio::io::duplex(PIPE_BYTES);
    let body = ReaderStream::with_capacity(store_end, 64 * 1024);
    let (written, stored) = tokio::join!(
        write_zip(state, &plan, zip_end),
        state.storage.put_stream(key, body, u64::MAX, false),
    );
    let outcome = written
        .context("writing the export zip")
        .and_then(|()| stored.map_err(|error| anyhow::anyhow!("storing the export zip: {error}")));
    match outcome {
        Ok(stored) => Ok(i64::try_from(stored.size).unwrap_or(i64::MAX)),
        Err(error) => {
            // A failed zip writer closes the pipe early, which the upload treats as the
            // end of a shorter object; that object must not survive.
            delete_object(state, key).await;
            Err(error)
        }
    }
}

/// The contents of an export, read before the zip is written.
struct ExportPlan {
    username: String,
    files: Vec<PlannedFile>,
    project_names: HashMap<i64, String>,
    memberships: Vec<Value>,
    access_log: Vec<Value>,
}

struct PlannedFile {
    file: DataFile,
    datatype_ids: Vec<i64>,
    /// Path of the file inside the zip.
    path: String,
}

impl ExportPlan {
    async fn load(state: &AppState, member_id: i64) -> anyhow::Result<Self> {
        let db = &state.db;
        let member = members::find_by_id(db, member_id)
            .await?
            .context("the export's member no longer exists")?;
        let list = files::list_completed_for_member(db, member_id).await?;
        let memberships = memberships::list_ever_authorized_for_member(db, member_id).await?;
        let downloads = files::list_downloads(db, member_id, i64::MAX).await?;

        let mut ids: Vec<i64> = list.iter().map(|file| file.project_id).collect();
        ids.extend(memberships.iter().map(|m| m.project_id));
        ids.extend(
            memberships
                .iter()
                .flat_map(|m| m.snapshot.granted_sources.clone()),
        );
        ids.extend(downloads.iter().filter_map(|d| d.project_id));
        ids.sort_unstable();
        ids.dedup();
        let names: HashMap<i64, String> = project_names(db, &ids).await?.into_iter().collect();
        let name_of = |id: i64| {
            names
                .get(&id)
                .cloned()
                .unwrap_or_else(|| format!("Project {id}"))
        };

        // Datatypes in batches, so that the query's parameter count stays small.
        let mut datatypes = HashMap::new();
        for chunk in list.chunks(500) {
            let ids: Vec<i64> = chunk.iter().map(|file| file.id).collect();
            datatypes.extend(files::datatype_ids(db, &ids).await?);
        }
        let mut planned = Vec::with_capacity(list.len());
        for file in list {
            let datatype_ids = datatypes.remove(&file.id).unwrap_or_default();
            let path = format!(
                "files/{}/{}-{}",
                zip_name(&format!(
                    "{} ({})",
                    name_of(file.project_id),
                    file.project_id
                )),
                file.id,
                zip_name(&file.basename)
            );
            planned.push(PlannedFile {
                file,
                datatype_ids,
                path,
            });
        }

        let mut membership_values = Vec::with_capacity(memberships.len());
        for membership in &memberships {
            let history = memberships::events(db, membership.id).await?;
            membership_values.push(json!({
                "project": {"id": membership.project_id, "name": name_of(membership.project_id)},
                "project_member_id": membership.project_member_id,
                "active": membership.status.is_active(true),
                "authorized_at": membership.authorized_at.map(iso8601),
                "revoked_at": membership.revoked_at.map(iso8601),
                "granted": snapshot_json(&membership.snapshot, &name_of),
                "history": history.iter().map(|event| json!({
                    "event": event.kind,
                    "by": event.actor,
                    "at": iso8601(event.at),
                    "permissions": snapshot_json(&event.snapshot, &name_of),
                })).collect::<Vec<_>>(),
            }));
        }
        let access_log = downloads
            .iter()
            .map(|download| {
                json!({
                    "at": iso8601(download.at),
                    "file_id": download.file_id,
                    "file_name": download.basename,
                    "downloaded_by": match download.project_id {
                        Some(id) => json!({"project": {"id": id, "name": name_of(id)}}),
                        None if download.by_member != 0 => json!("you"),
                        None => json!({"project": null}),
                    },
                    "client_address": download.client_address,
                })
            })
            .collect();
        Ok(Self {
            username: member.username,
            files: planned,
            project_names: names,
            memberships: membership_values,
            access_log,
        })
    }

    fn manifest(&self, missing: &[i64], now: Micros) -> Value {
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|planned| {
                let file = &planned.file;
                let metadata: Value = serde_json::from_str(&file.metadata).unwrap_or(Value::Null);
                let included = !missing.contains(&file.id);
                json!({
                    "id": file.id,
                    "name": file.basename,
                    "path": included.then_some(&planned.path),
                    "included": included,
                    "size": file.size,
                    "md5": file.md5,
                    "created": iso8601(file.created_at),
                    "source": {
                        "id": file.project_id,
                        "name": self.project_names.get(&file.project_id),
                    },
                    "metadata": metadata,
                    "datatype_ids": planned.datatype_ids,
                })
            })
            .collect();
        json!({
            "username": self.username,
            "generated_at": iso8601(now),
            "files": files,
            "memberships": self.memberships,
            "access_log": self.access_log,
        })
    }
}

fn snapshot_json(
    snapshot: &crate::domain::membership::Snapshot,
    name_of: &impl Fn(i64) -> String,
) -> Value {
    json!({
        "sources": snapshot.granted_sources.iter()
            .map(|&id| json!({"id": id, "name": name_of(id)}))
            .collect::<Vec<_>>(),
        "message_permission": snapshot.message_permission,
        "username_shared": snapshot.username_shared,
    })
}

/// Writes the zip into `pipe`: every file's bytes streamed from storage, then the
/// manifest. A file whose object is missing is listed in the manifest as not included.
async fn write_zip(
    state: &AppState,
    plan: &ExportPlan,
    pipe: tokio::io::DuplexStream,
) -> anyhow::Result<()> {
    let mut zip = ZipFileWriter::with_tokio(pipe);
    let total: i64 = plan.files.iter().filter_map(|p| p.file.size).sum();
    if total >= ZIP64_THRESHOLD {
        zip = zip.force_zip64();
    }
    let mut missing = Vec::new();
    for planned in &plan.files {
        let file = &planned.file;
        let Some(read) = state.storage.read(&file.storage_key, None).await? else {
            tracing::warn!(file.id = file.id, "an exported file's object is missing");
            missing.push(file.id);
            continue;
        };
        let entry = zip_entry(planned.path.clone(), file.created_at);
        let mut writer = zip
            .write_entry_stream(entry)
            .await
            .with_context(|| format!("starting the zip entry of file {}", file.id))?;
        let mut stream = read.stream;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.with_context(|| format!("reading file {}", file.id))?;
            writer
                .write_all(&chunk)
                .await
                .context("writing to the export zip")?;
        }
        writer
            .close()
            .await
            .with_context(|| format!("finishing the zip entry of file {}", file.id))?;
    }

    let now = state.clock.now();
    let manifest = plan.manifest(&missing, now);
    let manifest = serde_json::to_vec_pretty(&manifest).expect("a JSON value always serializes");
    let entry = zip_entry("manifest.json".to_string(), now);
    zip.write_entry_whole(entry, &manifest)
        .await
        .context("writing the export manifest")?;
    let mut pipe = zip
        .close()
        .await
        .context("finishing the export zip")?
        .into_inner();
    pipe.shutdown().await.context("closing the export pipe")?;
    Ok(())
}

/// Mode of every entry: a regular file readable by all, writable by its owner.
/// Without it, unzip on Unix extracts files that no user can read.
const ENTRY_MODE: u16 = 0o100_644;

/// Builds a stored (uncompressed) zip entry marked as a regular Unix file modified at
/// `modified`.
fn zip_entry(path: String, modified: Micros) -> ZipEntryBuilder {
    ZipEntryBuilder::new(path.into(), Compression::Stored)
        .unix_permissions(ENTRY_MODE)
        .last_modification_date(zip_date(modified))
}

/// Converts a time to the MS-DOS date of a zip entry, in UTC because the format has no
/// time zone. Dates before 1980, which the format cannot hold, become 1980-01-01.
fn zip_date(at: Micros) -> ZipDateTime {
    let at = chrono::DateTime::from_timestamp_micros(at).unwrap_or_default();
    if at.year() < 1980 {
        return ZipDateTimeBuilder::new().year(1980).month(1).day(1).build();
    }
    ZipDateTimeBuilder::new()
        .year(at.year())
        .month(at.month())
        .day(at.day())
        .hour(at.hour())
        .minute(at.minute())
        .second(at.second())
        .build()
}

/// Turns a name into one path segment of a zip entry: no separators, no leading
/// dots, no control characters.
fn zip_name(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    let cleaned = cleaned.trim_start_matches('.').trim();
    if cleaned.is_empty() {
        "file".to_string()
    } else {
        cleaned.to_string()
    }
}

fn ready_email(state: &AppState, username: &str, to: &str, expires_at: Micros) -> Email {
    let site = &state.settings.site_name;
    let body = format!(
        "Hello {username},\n\
         \n\
         The export of your data on {site} is ready. Download it while logged in as \
         \"{username}\" from:\n\
         \n\
         {link}\n\
         \n\
         It can be downloaded until {expires} and is deleted after that.\n\
         \n\
         {site}\n",
        link = state.url(EXPORT_DOWNLOAD_PATH),
        expires = crate::clock::human(expires_at),
    );
    Email {
        to: to.to_string(),
        from_name: Some(site.clone()),
        reply_to: None,
        subject: format!("Your {site} data export is ready"),
        body,
        message_id: new_message_id(&state.settings.mail_from),
    }
}

/// The page that downloads a member's ready export; it needs the member's session.
pub const EXPORT_DOWNLOAD_PATH: &str = "/member/me/export/download/";

/// Removes expired, replaced and long-failed exports (objects and rows), and marks
/// failed the exports whose jobs gave up without finishing. Returns how many exports
/// were removed.
pub async fn purge_exports(state: &AppState, now: Micros) -> anyhow::Result<usize> {
    let stuck = exports::fail_stuck(&state.db, now - STUCK_AFTER, now)
        .await
        .context("failing stuck exports")?;
    if stuck > 0 {
        tracing::warn!(count = stuck, "marked unfinished exports failed");
    }
    let removable = exports::list_removable(&state.db, now, now - FAILED_KEPT)
        .await
        .context("listing expired exports")?;
    let count = removable.len();
    for (id, key) in removable {
        // The row goes first, so a download can never find a row whose object is gone.
        exports::delete(&state.db, id).await?;
        if let Some(key) = key {
            state.storage.delete(&key).await?;
        }
    }
    if count > 0 {
        tracing::info!(count, "removed expired exports");
    }
    Ok(count)
}

async fn delete_object(state: &AppState, key: &str) {
    if let Err(error) = state.storage.delete(key).await {
        tracing::error!(error = %format!("{error:#}"), "deleting a partial export failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zip_names_have_no_separators_or_leading_dots() {
        assert_eq!(zip_name("../etc/passwd"), "_etc_passwd");
        assert_eq!(zip_name("a\\b"), "a_b");
        assert_eq!(zip_name("..."), "file");
        assert_eq!(zip_name("steps.csv"), "steps.csv");
    }

    #[test]
    fn zip_dates_are_valid() {
        // 2024-03-05 06:07:08 UTC.
        let date = zip_date(1_709_618_828_000_000);
        assert_eq!(
            (date.year(), date.month(), date.day()),
            (2024, 3, 5),
            "{date:?}"
        );
        assert_eq!((date.hour(), date.minute(), date.second()), (6, 7, 8));
        let early = zip_date(0);
        assert_eq!((early.year(), early.month(), early.day()), (1980, 1, 1));
    }
}
