//! Object storage behind one interface: a local directory by default, an
//! S3-compatible bucket in production.

use std::sync::Arc;

use anyhow::Context;
use bytes::Bytes;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

/// Which kind of store is configured; local storage lets the app serve bytes itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    Local,
    S3,
}

/// The file store shared by every part of the app.
#[derive(Debug, Clone)]
pub struct Storage {
    store: Arc<dyn ObjectStore>,
    pub kind: StorageKind,
}

impl Storage {
    /// Opens `url`: `s3://BUCKET` (credentials, region and `AWS_ENDPOINT_URL` from the
    /// environment), or a directory path, created when missing.
    pub fn open(url: &str) -> anyhow::Result<Self> {
        if let Some(bucket) = url.strip_prefix("s3://") {
            let bucket = bucket.trim_end_matches('/');
            anyhow::ensure!(
                !bucket.is_empty(),
                "invalid storage URL {url}: the bucket is missing"
            );
            let store = AmazonS3Builder::from_env()
                .with_bucket_name(bucket)
                .with_allow_http(true)
                .build()
                .with_context(|| format!("configuring S3 storage for bucket {bucket}"))?;
            return Ok(Self {
                store: Arc::new(store),
                kind: StorageKind::S3,
            });
        }
        let dir = url.strip_prefix("file://").unwrap_or(url);
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating storage directory {dir}"))?;
        let store = LocalFileSystem::new_with_prefix(dir)
            .with_context(|| format!("opening storage directory {dir}"))?
            .with_automatic_cleanup(true);
        Ok(Self {
            store: Arc::new(store),
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

    /// The underlying store, for streaming reads and writes.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }
}
