//! Streamed writes to the local directory store.
//!
//! The bytes go to a staging file beside the object, named `NAME#N` as object_store
//! names its own (its listings skip such names). Chunks are gathered into batches of
//! 2 MiB, and each batch is written on a blocking thread while the next arrives.
//! Every 8 MiB written, a flush to disk starts on another blocking thread, so the disk
//! writes while the network delivers instead of all at the end. No thread waits on a
//! slow client.
//!
//! After the last flush the staging file is renamed to the object's name and the
//! directory is synced. So once a write returns the whole object is on disk, and a
//! crash before that leaves a staging file but never a partial object.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::mem;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use tokio::task::{JoinHandle, spawn_blocking};

/// Bytes gathered before they are handed to a blocking thread to write.
const WRITE_BATCH: usize = 2 * 1024 * 1024;
/// Bytes written after which a flush of them starts.
const FLUSH_EVERY: u64 = 8 * 1024 * 1024;
/// Bytes written but not yet flushed at which the next write waits for the disk, so a
/// disk slower than the network slows the upload instead of filling the page cache.
const MAX_UNFLUSHED: u64 = 64 * 1024 * 1024;
/// Times the staging file is opened again when its directory was removed meanwhile
/// (deleting an object removes directories it leaves empty).
const OPEN_ATTEMPTS: usize = 3;

/// A blocking operation on the staging file, and the byte count it covers.
type Pending = Option<(JoinHandle<io::Result<()>>, u64)>;

/// A streamed write in progress. Dropping it unfinished removes the staging file.
pub(super) struct StagedFile {
    file: Arc<File>,
    /// Chunks received and not yet handed to a write.
    batch: Vec<Bytes>,
    batch_bytes: usize,
    /// The write in progress, of how many bytes.
    writing: Pending,
    /// The flush in progress, and how many bytes are on disk once it is done.
    flushing: Pending,
    written: u64,
    flushed: u64,
    /// `None` once the file is published or removed.
    staging: Option<PathBuf>,
    dest: PathBuf,
}

impl StagedFile {
    /// Creates the staging file for the object at `dest`, and any missing directories.
    pub(super) async fn create(dest: PathBuf) -> io::Result<Self> {
        let target = dest.clone();
        let (file, staging) = run_blocking(move || open_staging(&target)).await?;
        Ok(Self {
            file: Arc::new(file),
            batch: Vec::new(),
            batch_bytes: 0,
            writing: None,
            flushing: None,
            written: 0,
            flushed: 0,
            staging: Some(staging),
            dest,
        })
    }

    /// Adds `chunk` to the file. Waits only for the previous batch's write, and for
    /// the disk when it has fallen `MAX_UNFLUSHED` bytes behind.
    pub(super) async fn write(&mut self, chunk: Bytes) -> io::Result<()> {
        self.batch_bytes += chunk.len();
        self.batch.push(chunk);
        if self.batch_bytes >= WRITE_BATCH {
            self.start_write().await?;
        }
        Ok(())
    }

    /// Writes and flushes the rest, then publishes the file under the object's name.
    pub(super) async fn finish(mut self) -> io::Result<()> {
        self.start_write().await?;
        self.finish_write().await?;
        self.finish_flush().await?;
        let (Some(staging), dest) = (self.staging.clone(), self.dest.clone()) else {
            return Err(io::Error::other("the staging file is gone"));
        };
        let file = self.file.clone();
        run_blocking(move || {
            // The bytes written since the last flush, and the file's final size.
            file.sync_data()?;
            publish(&staging, &dest)
        })
        .await?;
        // Published: nothing is left for `drop` to remove.
        self.staging = None;
        Ok(())
    }

    /// Stops writing and removes the staging file.
    pub(super) async fn abort(mut self) -> io::Result<()> {
        let Some(staging) = self.staging.take() else {
            return Ok(());
        };
        // A write or flush still running finishes on the unlinked file, harmlessly.
        run_blocking(move || fs::remove_file(staging)).await
    }

    /// Hands the gathered chunks to a blocking thread once the previous write is done.
    async fn start_write(&mut self) -> io::Result<()> {
        self.finish_write().await?;
        if self.batch.is_empty() {
            return Ok(());
        }
        let batch = mem::take(&mut self.batch);
        let bytes = mem::take(&mut self.batch_bytes) as u64;
        let file = self.file.clone();
        let write = spawn_blocking(move || {
            batch
                .iter()
                .try_for_each(|chunk| file.as_ref().write_all(chunk))
        });
        self.writing = Some((write, bytes));
        Ok(())
    }

    /// Waits for the write in progress, then starts a flush when one is due.
    async fn finish_write(&mut self) -> io::Result<()> {
        let Some(bytes) = wait_for(&mut self.writing).await? else {
            return Ok(());
        };
        self.written += bytes;
        if self
            .flushing
            .as_ref()
            .is_some_and(|(flush, _)| flush.is_finished())
            || self.written - self.flushed > MAX_UNFLUSHED
        {
            self.finish_flush().await?;
        }
        if self.flushing.is_none() && self.written - self.flushed >= FLUSH_EVERY {
            let file = self.file.clone();
            self.flushing = Some((spawn_blocking(move || file.sync_data()), self.written));
        }
        Ok(())
    }

    async fn finish_flush(&mut self) -> io::Result<()> {
        if let Some(flushed) = wait_for(&mut self.flushing).await? {
            self.flushed = flushed;
        }
        Ok(())
    }
}

impl Drop for StagedFile {
    fn drop(&mut self) {
        // A write dropped midway, such as a request cancelled by its client.
        if let Some(staging) = self.staging.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            drop(runtime.spawn_blocking(move || fs::remove_file(staging)));
        }
    }
}

/// Waits for `pending`, if any, and returns the byte count it covered.
async fn wait_for(pending: &mut Pending) -> io::Result<Option<u64>> {
    match pending.take() {
        Some((task, bytes)) => {
            task.await.map_err(io::Error::other)??;
            Ok(Some(bytes))
        }
        None => Ok(None),
    }
}

/// Runs `operation` on a blocking thread and returns its result.
async fn run_blocking<T: Send + 'static>(
    operation: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    spawn_blocking(operation).await.map_err(io::Error::other)?
}

/// Opens a new staging file beside `dest`: `dest#1`, or the next free number.
fn open_staging(dest: &Path) -> io::Result<(File, PathBuf)> {
    let mut suffix = 1;
    let mut attempts = 0;
    loop {
        let staging = staging_path(dest, suffix);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staging)
        {
            Ok(file) => return Ok((file, staging)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => suffix += 1,
            Err(error) if error.kind() == io::ErrorKind::NotFound && attempts < OPEN_ATTEMPTS => {
                attempts += 1;
                create_parents(&staging)?;
            }
            Err(error) => return Err(error),
        }
    }
}

fn staging_path(dest: &Path, suffix: u32) -> PathBuf {
    let mut staging = dest.as_os_str().to_owned();
    staging.push(format!("#{suffix}"));
    PathBuf::from(staging)
}

/// Removes the staging files beside `dest`, from `dest#1` up to the first number not
/// in use: what a crash mid-write left, or a write still in progress, which then fails.
pub(super) async fn remove_staging_files(dest: PathBuf) -> io::Result<()> {
    run_blocking(move || {
        for suffix in 1.. {
            match fs::remove_file(staging_path(&dest, suffix)) {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => break,
                Err(error) => return Err(error),
            }
        }
        Ok(())
    })
    .await
}

/// Creates the missing directories above `path`, syncing the directory that contains
/// each new one so that it survives a crash.
fn create_parents(path: &Path) -> io::Result<()> {
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    if parent.as_os_str().is_empty() || parent.is_dir() {
        return Ok(());
    }
    create_parents(parent)?;
    match fs::create_dir(parent) {
        Ok(()) => sync_directory_of(parent),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(error) => Err(error),
    }
}

/// Renames the staging file to the object's name and syncs the directory, so the
/// new name survives a crash.
fn publish(staging: &Path, dest: &Path) -> io::Result<()> {
    fs::rename(staging, dest)?;
    sync_directory_of(dest)
}

fn sync_directory_of(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(directory) if !directory.as_os_str().is_empty() => File::open(directory)?.sync_all(),
        _ => Ok(()),
    }
}
