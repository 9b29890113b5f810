//! Streamed writes to the local directory store.
//!
//! The bytes go to a staging file in the store's `.staging` directory. Chunks are
//! gathered into batches of 2 MiB, and each batch is written on a blocking thread while
//! the next arrives. Every 8 MiB written, a flush to disk starts on another blocking
//! thread, so the disk writes while the network delivers instead of all at the end. No
//! thread waits on a slow client.
//!
//! After the last flush the staging file is renamed to the object's path and the
//! directory is synced. So once a write returns the whole object is on disk, and a
//! crash before that leaves a staging file but never a partial object. A failed write
//! leaves no empty directory behind either, because the object's directories are only
//! created when it is published. Staging files a crash left are removed by age.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::mem;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use anyhow::Context;
use bytes::Bytes;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use tokio::task::{JoinHandle, spawn_blocking};

/// Bytes gathered before they are handed to a blocking thread to write.
const WRITE_BATCH: usize = 2 * 1024 * 1024;
/// Bytes written after which a flush of them starts.
const FLUSH_EVERY: u64 = 8 * 1024 * 1024;
/// Bytes written but not yet flushed at which the next write waits for the disk, so a
/// disk slower than the network slows the upload instead of filling the page cache.
const MAX_UNFLUSHED: u64 = 64 * 1024 * 1024;
/// Times publishing retries when the object's directory vanished in between, because
/// deleting another object removed the directories it left empty.
const PUBLISH_ATTEMPTS: usize = 3;
/// The directory of staging files, inside the store's root. Object keys are made by
/// the server and never start with a dot.
const STAGING_DIR: &str = ".staging";

/// The local store's files, for the writes object_store's own local store would
/// leave in the page cache.
#[derive(Debug, Clone)]
pub(super) struct LocalFiles {
    store: Arc<LocalFileSystem>,
    staging_dir: PathBuf,
}

impl LocalFiles {
    /// Uses `store`, whose root is `root`, and creates its staging directory.
    pub(super) fn new(store: Arc<LocalFileSystem>, root: &Path) -> anyhow::Result<Self> {
        let staging_dir = root.join(STAGING_DIR);
        fs::create_dir_all(&staging_dir)
            .with_context(|| format!("creating {}", staging_dir.display()))?;
        Ok(Self { store, staging_dir })
    }

    /// Starts a streamed write of the object `key`.
    pub(super) async fn create(&self, key: &str) -> anyhow::Result<StagedFile> {
        let dest = self
            .store
            .path_to_filesystem(&ObjectPath::from(key))
            .with_context(|| format!("finding the file of {key}"))?;
        let staging_dir = self.staging_dir.clone();
        // Shared with the blocking thread, so that a staging file created after this
        // future was dropped is removed instead of left behind.
        let opening = Arc::new(Mutex::new(Opening::Waiting));
        let mut guard = OpeningGuard(opening.clone());
        let (file, staging) = run_blocking(move || {
            let (file, staging) = open_staging(&staging_dir)?;
            let mut state = opening.lock().unwrap_or_else(PoisonError::into_inner);
            if matches!(*state, Opening::Abandoned) {
                drop(file);
                remove_quietly(&staging);
                return Err(io::Error::other("the write was dropped while starting"));
            }
            *state = Opening::Opened(staging.clone());
            Ok((file, staging))
        })
        .await
        .with_context(|| format!("starting to store {key}"))?;
        guard.disarm();
        Ok(StagedFile {
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

    /// Removes the staging files not modified for `age`, which only a crash or a write
    /// stalled that long leaves, and returns how many were removed.
    pub(super) async fn remove_stale_staging_files(&self, age: Duration) -> io::Result<usize> {
        remove_stale_files(self.staging_dir.clone(), age).await
    }
}

/// Removes the regular files directly in `dir` that were not modified for `age`, and
/// returns how many were removed. A missing directory has none. Subdirectories and
/// links are left alone.
pub async fn remove_stale_files(dir: PathBuf, age: Duration) -> io::Result<usize> {
    run_blocking(move || {
        let Some(cutoff) = SystemTime::now().checked_sub(age) else {
            return Ok(0);
        };
        let entries = match fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(0),
            Err(error) => return Err(error),
        };
        let mut removed = 0;
        for entry in entries {
            // One entry that cannot be read or removed is logged and skipped, so it does
            // not stop the rest of the clean-up. NotFound means another instance sharing
            // the directory removed it first.
            let path = match entry {
                Ok(entry) => entry.path(),
                Err(error) => {
                    tracing::warn!(dir = %dir.display(), error = %error, "reading a directory to clean up failed");
                    continue;
                }
            };
            let stale = fs::symlink_metadata(&path)
                .and_then(|metadata| Ok(metadata.is_file() && metadata.modified()? < cutoff));
            let outcome = match stale {
                Ok(true) => fs::remove_file(&path).map(|()| removed += 1),
                Ok(false) => Ok(()),
                Err(error) => Err(error),
            };
            match outcome {
                Ok(()) => {}
                Err(error) if error.kind() == io::ErrorKind::NotFound => {}
                Err(error) => tracing::warn!(path = %path.display(), error = %error,
                    "removing a stale file failed"),
            }
        }
        Ok(removed)
    })
    .await
}

/// How far opening a staging file got, as seen by the caller and the blocking thread.
enum Opening {
    Waiting,
    /// Created, and not yet received by the caller.
    Opened(PathBuf),
    /// Received by the caller, which now owns the file.
    Received,
    /// The caller was dropped first: the blocking thread removes what it creates.
    Abandoned,
}

/// Cleans up after a caller of [`LocalFiles::create`] dropped before it received the
/// staging file: removes the file, or marks it for the blocking thread to remove.
struct OpeningGuard(Arc<Mutex<Opening>>);

impl OpeningGuard {
    fn disarm(&mut self) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = Opening::Received;
    }
}

impl Drop for OpeningGuard {
    fn drop(&mut self) {
        let mut state = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match mem::replace(&mut *state, Opening::Abandoned) {
            Opening::Opened(staging) => {
                if let Ok(runtime) = tokio::runtime::Handle::try_current() {
                    drop(runtime.spawn_blocking(move || remove_quietly(&staging)));
                }
            }
            Opening::Received => *state = Opening::Received,
            Opening::Waiting | Opening::Abandoned => {}
        }
    }
}

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

    /// Writes and flushes the rest, then publishes the file under the object's path.
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
            drop(runtime.spawn_blocking(move || remove_quietly(&staging)));
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

/// Creates a staging file with a new random name in `staging_dir`.
fn open_staging(staging_dir: &Path) -> io::Result<(File, PathBuf)> {
    loop {
        let staging = staging_dir.join(crate::crypto::random_token(24));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&staging)
        {
            Ok(file) => return Ok((file, staging)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(error) => return Err(error),
        }
    }
}

/// Removes a staging file that is no longer wanted. A failure is logged, because the
/// file then stays until it is old enough for the clean-up to remove it.
fn remove_quietly(staging: &Path) {
    match fs::remove_file(staging) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(path = %staging.display(), error = %error,
            "removing an abandoned staging file failed"),
    }
}

/// Renames the staging file to `dest`, creating its missing directories, and syncs
/// the directories changed, so the object survives a crash.
fn publish(staging: &Path, dest: &Path) -> io::Result<()> {
    let mut attempts = 0;
    loop {
        create_parents(dest)?;
        match fs::rename(staging, dest) {
            Ok(()) => return sync_directory_of(dest),
            Err(error)
                if error.kind() == io::ErrorKind::NotFound && attempts < PUBLISH_ATTEMPTS =>
            {
                attempts += 1;
            }
            Err(error) => return Err(error),
        }
    }
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

fn sync_directory_of(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(directory) if !directory.as_os_str().is_empty() => File::open(directory)?.sync_all(),
        _ => Ok(()),
    }
}
