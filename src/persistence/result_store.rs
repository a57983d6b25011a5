//! The result store, through `object_store`: a local directory by default, S3-compatible
//! storage by configuration. It holds the results inbox (`completed/`, then `processed/YYYY_MM/`,
//! `stuck/`, `denied/`, `deleted/`) and the report files of finished exams (`reports/`). Paths
//! here are relative to the store's root, with `/` separators.

use std::path::PathBuf;
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};

use super::{StoreError, StoreResult};
use crate::domain::results_inbox::INBOX_FOLDER;

/// Where the result store is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultsLocation {
    /// A local directory (created when missing).
    Directory(PathBuf),
    /// A bucket of S3-compatible storage (`s3://bucket`), under `prefix`; credentials, region
    /// and endpoint come from the usual `AWS_*` environment variables.
    S3 { bucket_url: String, prefix: String },
}

impl ResultsLocation {
    /// `s3://bucket/prefix`, `file:///dir` or a plain directory path.
    pub fn parse(value: &str) -> Result<Self, String> {
        let value = value.trim();
        if let Some(rest) = value.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err("an s3:// URL must name a bucket".to_owned());
            }
            return Ok(ResultsLocation::S3 {
                bucket_url: format!("s3://{bucket}"),
                prefix: prefix.trim_matches('/').to_owned(),
            });
        }
        if value.contains("://") && !value.starts_with("file://") {
            return Err("must be a directory, a file:// URL or an s3:// URL".to_owned());
        }
        let dir = value.strip_prefix("file://").unwrap_or(value);
        if dir.is_empty() {
            return Err("must not be empty".to_owned());
        }
        Ok(ResultsLocation::Directory(PathBuf::from(dir)))
    }
}

/// A file in the store, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub path: String,
    /// The e-tag, or the size and modification time where the store has none.
    pub fingerprint: String,
    pub size: u64,
}

impl From<ObjectMeta> for StoredFile {
    fn from(meta: ObjectMeta) -> Self {
        let fingerprint = meta
            .e_tag
            .clone()
            .unwrap_or_else(|| format!("{}-{}", meta.size, meta.last_modified.timestamp_micros()));
        Self {
            path: meta.location.to_string(),
            fingerprint,
            size: meta.size,
        }
    }
}

fn failed(e: object_store::Error) -> StoreError {
    StoreError::Objects(e.to_string())
}

fn path(p: &str) -> StoreResult<Path> {
    Path::parse(p).map_err(|e| StoreError::Objects(format!("path {p}: {e}")))
}

#[derive(Clone, Debug)]
pub struct ResultStore {
    objects: Arc<dyn ObjectStore>,
}

impl ResultStore {
    pub fn open(location: &ResultsLocation) -> StoreResult<Self> {
        let objects: Arc<dyn ObjectStore> = match location {
            ResultsLocation::Directory(dir) => {
                // The inbox folder is made up front so that the producer can drop files at
                // once, and so that listing an empty inbox is not an error.
                std::fs::create_dir_all(dir.join(INBOX_FOLDER))
                    .map_err(|e| StoreError::Objects(format!("{}: {e}", dir.display())))?;
                Arc::new(
                    LocalFileSystem::new_with_prefix(dir)
                        .map_err(failed)?
                        // A moved result must survive a power cut as surely as the database row
                        // saying it was moved.
                        .with_fsync(true),
                )
            }
            ResultsLocation::S3 { bucket_url, prefix } => {
                let bucket = AmazonS3Builder::from_env()
                    .with_url(bucket_url)
                    .build()
                    .map_err(failed)?;
                if prefix.is_empty() {
                    Arc::new(bucket)
                } else {
                    Arc::new(PrefixStore::new(bucket, prefix.as_str()))
                }
            }
        };
        Ok(Self { objects })
    }

    /// Every file under `folder`, sub-folders included, in path order.
    pub async fn list(&self, folder: &str) -> StoreResult<Vec<StoredFile>> {
        let prefix = path(folder)?;
        let mut files: Vec<StoredFile> = self
            .objects
            .list(Some(&prefix))
            .map_ok(StoredFile::from)
            .try_collect()
            .await
            .map_err(failed)?;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// The file at `p`, if there is one.
    pub async fn head(&self, p: &str) -> StoreResult<Option<StoredFile>> {
        match self.objects.head(&path(p)?).await {
            Ok(meta) => Ok(Some(meta.into())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(failed(e)),
        }
    }

    pub async fn read(&self, p: &str) -> StoreResult<Vec<u8>> {
        let got = self.objects.get(&path(p)?).await.map_err(failed)?;
        Ok(got.bytes().await.map_err(failed)?.to_vec())
    }

    pub async fn put(&self, p: &str, bytes: Vec<u8>) -> StoreResult<()> {
        self.objects
            .put(&path(p)?, PutPayload::from(bytes))
            .await
            .map(drop)
            .map_err(failed)
    }

    /// Moves `from` to `to`, replacing what is there (the caller picks a free name).
    pub async fn rename(&self, from: &str, to: &str) -> StoreResult<()> {
        self.objects
            .rename(&path(from)?, &path(to)?)
            .await
            .map_err(failed)
    }
}
