//! Where an import reads from: a folder, or an S3 prefix.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use bytes::Bytes;

/// A folder or an S3 prefix, listed once and read file by file. Paths are
/// relative to the folder or prefix, with `/` between parts.
pub enum Source {
    Folder(PathBuf),
    S3 {
        client: aws_sdk_s3::Client,
        bucket: String,
        prefix: String,
    },
}

impl Source {
    /// `s3://bucket/prefix` (with `endpoint` for a non-AWS S3) or a folder.
    pub async fn open(
        location: &str,
        endpoint: Option<&str>,
        region: &str,
    ) -> anyhow::Result<Self> {
        if let Some(rest) = location.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                bail!("{location}: no bucket");
            }
            let client = callvault_blob::s3::client_for(endpoint, region).await;
            let prefix = if prefix.is_empty() || prefix.ends_with('/') {
                prefix.to_owned()
            } else {
                format!("{prefix}/")
            };
            return Ok(Source::S3 {
                client,
                bucket: bucket.to_owned(),
                prefix,
            });
        }
        let folder = PathBuf::from(location);
        if !folder.is_dir() {
            bail!("{location} is not a folder (nor s3://bucket/prefix)");
        }
        Ok(Source::Folder(folder))
    }

    /// Every file, with its size, sorted by path.
    pub async fn list(&self) -> anyhow::Result<Vec<(String, u64)>> {
        let mut files = Vec::new();
        match self {
            Source::Folder(root) => walk(root, root, &mut files)?,
            Source::S3 {
                client,
                bucket,
                prefix,
            } => {
                let mut pages = client
                    .list_objects_v2()
                    .bucket(bucket)
                    .prefix(prefix)
                    .into_paginator()
                    .send();
                while let Some(page) = pages.next().await {
                    let page = page.with_context(|| format!("listing s3://{bucket}/{prefix}"))?;
                    for object in page.contents() {
                        let Some(key) = object.key() else { continue };
                        let relative = key.strip_prefix(prefix.as_str()).unwrap_or(key);
                        if relative.is_empty() || relative.ends_with('/') {
                            continue;
                        }
                        let size = u64::try_from(object.size().unwrap_or_default()).unwrap_or(0);
                        files.push((relative.to_owned(), size));
                    }
                }
            }
        }
        files.sort();
        Ok(files)
    }

    pub async fn read(&self, path: &str) -> anyhow::Result<Bytes> {
        match self {
            Source::Folder(root) => {
                let full = root.join(path);
                let bytes = tokio::fs::read(&full)
                    .await
                    .with_context(|| format!("reading {}", full.display()))?;
                Ok(Bytes::from(bytes))
            }
            Source::S3 {
                client,
                bucket,
                prefix,
            } => {
                let key = format!("{prefix}{path}");
                let object = client
                    .get_object()
                    .bucket(bucket)
                    .key(&key)
                    .send()
                    .await
                    .with_context(|| format!("reading s3://{bucket}/{key}"))?;
                let body = object
                    .body
                    .collect()
                    .await
                    .with_context(|| format!("reading s3://{bucket}/{key}"))?;
                Ok(body.into_bytes())
            }
        }
    }
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, u64)>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let entry = entry?;
        let path = entry.path();
        let meta = entry.metadata()?;
        if meta.is_dir() {
            walk(root, &path, files)?;
        } else if meta.is_file() {
            let relative = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .components()
                .map(|part| part.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push((relative, meta.len()));
        }
    }
    Ok(())
}
