//! One file's multipart upload: bytes gathered into parts, a few parts in flight at once, and
//! the completion (which publishes the object) left to the caller, so that an extraction can
//! publish all of its files only when every one has been written.

use std::sync::Arc;

use object_store::path::Path as ObjectPath;
use object_store::{MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::{Error, Result};

/// A multipart upload in progress.
pub(crate) struct Upload {
    upload: Box<dyn MultipartUpload>,
    buffer: Vec<u8>,
    part_size: usize,
    concurrency: usize,
    tasks: tokio::task::JoinSet<object_store::Result<()>>,
    parts: usize,
    bytes: u64,
    shown: String,
}

/// A file whose bytes are all uploaded, waiting to be published.
pub(crate) struct PendingFile {
    pub(crate) path: ObjectPath,
    pub(crate) rows: u64,
    pub(crate) bytes: u64,
    pub(crate) upload: Upload,
}

impl Upload {
    /// Starts the upload of `path`.
    pub(crate) async fn start(
        store: Arc<dyn ObjectStore>,
        path: ObjectPath,
        shown: String,
        part_size: usize,
        concurrency: usize,
    ) -> Result<Self> {
        let upload = store
            .put_multipart(&path)
            .await
            .map_err(|e| Error::Output {
                target: shown.clone(),
                message: format!("cannot start the upload of `{path}`: {e}"),
            })?;
        Ok(Self {
            upload,
            buffer: Vec::new(),
            part_size,
            concurrency,
            tasks: tokio::task::JoinSet::new(),
            parts: 0,
            bytes: 0,
            shown,
        })
    }

    fn error(&self, e: impl std::fmt::Display) -> Error {
        Error::Output {
            target: self.shown.clone(),
            message: e.to_string(),
        }
    }

    /// Adds bytes; a full part goes out, waiting while `concurrency` parts are in flight.
    pub(crate) async fn write(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.bytes += bytes.len() as u64;
        if self.buffer.is_empty() {
            self.buffer = bytes;
        } else {
            self.buffer.extend_from_slice(&bytes);
        }
        if self.buffer.len() >= self.part_size {
            let part = std::mem::take(&mut self.buffer);
            self.put(part).await?;
        }
        Ok(())
    }

    async fn put(&mut self, part: Vec<u8>) -> Result<()> {
        while self.tasks.len() >= self.concurrency {
            self.join_one().await?;
        }
        let future = self.upload.put_part(PutPayload::from(part));
        self.tasks.spawn(future);
        self.parts += 1;
        Ok(())
    }

    async fn join_one(&mut self) -> Result<()> {
        match self.tasks.join_next().await {
            Some(Ok(Ok(()))) | None => Ok(()),
            Some(Ok(Err(e))) => Err(self.error(format!("uploading a part: {e}"))),
            Some(Err(e)) => Err(self.error(format!("an upload task stopped: {e}"))),
        }
    }

    /// Uploads what is left and waits for every part; returns the file's size. The object
    /// is not visible until [`Upload::complete`].
    pub(crate) async fn finish_parts(&mut self) -> Result<u64> {
        if !self.buffer.is_empty() || self.parts == 0 {
            let part = std::mem::take(&mut self.buffer);
            self.put(part).await?;
        }
        while !self.tasks.is_empty() {
            self.join_one().await?;
        }
        Ok(self.bytes)
    }

    /// Publishes the object.
    pub(crate) async fn complete(&mut self) -> Result<()> {
        self.upload
            .complete()
            .await
            .map(|_| ())
            .map_err(|e| self.error(format!("completing the upload: {e}")))
    }

    /// Gives the upload up: nothing of it becomes visible. Errors are only logged, as the
    /// caller is already reporting the error that made it give up.
    pub(crate) async fn abort(&mut self) {
        self.tasks.abort_all();
        while self.tasks.join_next().await.is_some() {}
        if let Err(e) = self.upload.abort().await {
            log::warn!("{}: aborting an upload: {e}", self.shown);
        }
    }
}
