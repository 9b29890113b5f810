//! Object storage behind one interface: a local directory by default, an
//! S3-compatible bucket in production.

mod local;

use std::ops::Range;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use futures_util::stream::{BoxStream, Stream, StreamExt};
use md5::{Digest, Md5};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::signer::Signer;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

pub use local::remove_stale_files;
pub use object_store::signer::Method;

/// Which kind of store is configured; local storage lets the app serve bytes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    Local,
    S3,
}

/// S3 connection settings that override the `AWS_*` environment variables, so that
/// several stores with different settings can live in one process.
#[derive(Debug, Clone, Default)]
pub struct S3Options {
    /// Endpoint of an S3-compatible server, e.g. `http://127.0.0.1:8333`.
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
}

/// The file store shared by every part of the app.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    /// The S3 store again, for presigning URLs; `None` on local storage.
    signer: Option<Arc<AmazonS3>>,
    /// The local store's files, for streamed writes; `None` on S3.
    local: Option<local::LocalFiles>,
    pub kind: StorageKind,
}

/// Why a streamed write failed. Nothing is kept under the key after a failure.
#[derive(Debug, thiserror::Error)]
pub enum PutStreamError {
    /// The bytes exceeded the size limit; the write stopped when they did.
    #[error("the body exceeds the limit of {limit} bytes")]
    TooLarge { limit: u64 },
    /// Reading the incoming bytes failed, e.g. the client disconnected.
    #[error("reading the body failed: {0}")]
    Body(String),
    #[error(transparent)]
    Store(#[from] anyhow::Error),
}

/// What a streamed write stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredObject {
    pub size: u64,
    /// MD5 of the bytes, lowercase hex, when the write was asked to compute it.
    pub md5: Option<String>,
}

/// A byte range of an object, read as a stream.
pub struct ObjectRead {
    /// Size of the whole object in bytes.
    pub size: u64,
    /// The bytes this read covers.
    pub range: Range<u64>,
    pub stream: BoxStream<'static, Result<Bytes, object_store::Error>>,
}

/// Bytes buffered per part of a streamed write to S3: its minimum part size, so memory
/// use stays constant whatever the object's size.
const PART_BYTES: usize = 5 * 1024 * 1024;
/// Parts of one streamed write to S3 uploaded at the same time.
const PARTS_IN_FLIGHT: usize = 2;

impl Storage {
    /// Opens `url`: `s3://BUCKET` (credentials, region and `AWS_ENDPOINT_URL` from the
    /// environment), or a directory path, created when missing.
    pub fn open(url: &str) -> anyhow::Result<Self> {
        Self::open_with(url, &S3Options::default())
    }

    /// Opens `url` like [`Storage::open`], with `s3` taking precedence over the
    /// environment.
    pub fn open_with(url: &str, s3: &S3Options) -> anyhow::Result<Self> {
        if let Some(bucket) = url.strip_prefix("s3://") {
            let bucket = bucket.trim_end_matches('/');
            anyhow::ensure!(
                !bucket.is_empty(),
                "invalid storage URL {url}: the bucket is missing"
            );
            let mut builder = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_allow_http(true);
            if let Some(endpoint) = &s3.endpoint {
                builder = builder.with_endpoint(endpoint);
            }
            if let Some(region) = &s3.region {
                builder = builder.with_region(region);
            }
            if let Some(access_key_id) = &s3.access_key_id {
                builder = builder.with_access_key_id(access_key_id);
            }
            if let Some(secret_access_key) = &s3.secret_access_key {
                builder = builder.with_secret_access_key(secret_access_key);
            }
            let store = Arc::new(
                builder
                    .build()
                    .with_context(|| format!("configuring S3 storage for bucket {bucket}"))?,
            );
            return Ok(Self {
                store: store.clone(),
                signer: Some(store),
                local: None,
                kind: StorageKind::S3,
            });
        }
        let dir = url.strip_prefix("file://").unwrap_or(url);
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating storage directory {dir}"))?;
        // Synced writes: an object is on disk before the server reports it stored.
        let store = Arc::new(
            LocalFileSystem::new_with_prefix(dir)
                .with_context(|| format!("opening storage directory {dir}"))?
                .with_automatic_cleanup(true)
                .with_fsync(true),
        );
        let local = local::LocalFiles::new(store.clone(), std::path::Path::new(dir))?;
        Ok(Self {
            store,
            signer: None,
            local: Some(local),
            kind: StorageKind::Local,
        })
    }

    pub async fn put(&self, key: &str, bytes: Bytes) -> anyhow::Result<()> {
        self.store
            .put(&ObjectPath::from(key), PutPayload::from(bytes))
            .await
            .with_context(|| format!("storing {key}"))?;
        Ok(())
    }

    /// Reads a whole object; for small objects such as badges.
    pub async fn get(&self, key: &str) -> anyhow::Result<Option<Bytes>> {
        match self.store.get(&ObjectPath::from(key)).await {
            Ok(result) => Ok(Some(
                result
                    .bytes()
                    .await
                    .with_context(|| format!("reading {key}"))?,
            )),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error).with_context(|| format!("reading {key}")),
        }
    }

    /// Deletes an object; deleting a missing object is not an error.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(error) => Err(error).with_context(|| format!("deleting {key}")),
        }
    }

    /// Writes the bytes of `body` to `key` in constant memory, stopping as soon as
    /// they exceed `max_bytes`, and computes their MD5 when `md5` is true. MD5 is slower
    /// than a local disk (`openssl speed md5` gave 760 MB/s on one core here), so callers
    /// ask for it only when they check it. On any failure the partial object is deleted.
    /// On local storage the object is on disk when this returns.
    pub async fn put_stream<S, E>(
        &self,
        key: &str,
        body: S,
        max_bytes: u64,
        md5: bool,
    ) -> Result<StoredObject, PutStreamError>
    where
        S: Stream<Item = Result<Bytes, E>> + Send,
        E: std::fmt::Display,
    {
        let mut sink = self.open_sink(key).await?;
        let mut hasher = md5.then(Md5::new);
        let mut size: u64 = 0;
        let mut body = std::pin::pin!(body);

        let failure = loop {
            let chunk = match body.next().await {
                None => break None,
                Some(Ok(chunk)) => chunk,
                Some(Err(error)) => break Some(PutStreamError::Body(error.to_string())),
            };
            size += chunk.len() as u64;
            if size > max_bytes {
                break Some(PutStreamError::TooLarge { limit: max_bytes });
            }
            if let Some(hasher) = &mut hasher {
                hasher.update(&chunk);
            }
            if let Err(error) = sink.write(chunk).await {
                break Some(PutStreamError::Store(
                    error.context(format!("storing {key}")),
                ));
            }
        };
        if let Some(failure) = failure {
            if let Err(error) = sink.abort().await {
                tracing::warn!(key, error = %error, "discarding a partial upload failed");
            }
            return Err(failure);
        }
        sink.finish()
            .await
            .with_context(|| format!("finishing storing {key}"))?;
        Ok(StoredObject {
            size,
            md5: hasher.map(|hasher| hex::encode(hasher.finalize())),
        })
    }

    /// Starts a streamed write to `key`: to a staging file on local storage, as a
    /// multipart upload on S3.
    async fn open_sink(&self, key: &str) -> anyhow::Result<Sink> {
        let location = ObjectPath::from(key);
        if let Some(local) = &self.local {
            return Ok(Sink::Local(local.create(key).await?));
        }
        let upload = self
            .store
            .put_multipart(&location)
            .await
            .with_context(|| format!("starting to store {key}"))?;
        Ok(Sink::Multipart(WriteMultipart::new_with_chunk_size(
            upload, PART_BYTES,
        )))
    }

    /// Removes the staging files of local storage's streamed writes that were not
    /// modified for `age`: what a crash mid-write left. Returns how many were removed.
    pub async fn remove_stale_staging_files(&self, age: Duration) -> anyhow::Result<usize> {
        match &self.local {
            Some(local) => local
                .remove_stale_staging_files(age)
                .await
                .context("removing stale staging files"),
            None => Ok(0),
        }
    }

    /// The size of an object in bytes, or `None` when it does not exist.
    pub async fn size(&self, key: &str) -> anyhow::Result<Option<u64>> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error).with_context(|| format!("reading the size of {key}")),
        }
    }

    /// Reads an object, or the byte range `range` of it, as a stream. `None` when the
    /// object does not exist. The caller checks the range against the size first.
    pub async fn read(
        &self,
        key: &str,
        range: Option<Range<u64>>,
    ) -> anyhow::Result<Option<ObjectRead>> {
        let options = GetOptions::new().with_range(range.map(GetRange::Bounded));
        match self.store.get_opts(&ObjectPath::from(key), options).await {
            Ok(result) => Ok(Some(ObjectRead {
                size: result.meta.size,
                range: result.range.clone(),
                stream: result.into_stream(),
            })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(error) => Err(error).with_context(|| format!("reading {key}")),
        }
    }

    /// A presigned URL that allows `method` on `key` for `expires_in`, on S3 storage.
    /// Returns `None` on local storage, where the app serves signed URLs itself.
    pub async fn presigned_url(
        &self,
        method: Method,
        key: &str,
        expires_in: Duration,
    ) -> anyhow::Result<Option<String>> {
        let Some(signer) = &self.signer else {
            return Ok(None);
        };
        let url = signer
            .signed_url(method, &ObjectPath::from(key), expires_in)
            .await
            .with_context(|| format!("presigning a URL for {key}"))?;
        Ok(Some(url.to_string()))
    }

    /// Returns the underlying store, for streaming reads and writes.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }
}

/// The destination of a streamed write.
enum Sink {
    Local(local::StagedFile),
    Multipart(WriteMultipart),
}

impl Sink {
    async fn write(&mut self, chunk: Bytes) -> anyhow::Result<()> {
        match self {
            Self::Local(file) => file.write(chunk).await?,
            Self::Multipart(writer) => {
                writer.wait_for_capacity(PARTS_IN_FLIGHT).await?;
                writer.put(chunk);
            }
        }
        Ok(())
    }

    async fn finish(self) -> anyhow::Result<()> {
        match self {
            Self::Local(file) => file.finish().await?,
            Self::Multipart(writer) => drop(writer.finish().await?),
        }
        Ok(())
    }

    async fn abort(self) -> anyhow::Result<()> {
        match self {
            Self::Local(file) => file.abort().await?,
            Self::Multipart(writer) => writer.abort().await?,
        }
        Ok(())
    }
}
