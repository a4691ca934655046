//! One file's multipart upload: bytes gathered into parts, a few parts in flight at once, and
//! the completion (which publishes the object) left to the caller, so that an extraction can
//! publish all of its files only when every one has been written.

use std::sync::Arc;

use bytes::Bytes;

use object_store::path::Path as ObjectPath;
use object_store::{MultipartUpload, ObjectStore, ObjectStoreExt, PutPayload};

use crate::error::{Error, Result};

/// A multipart upload in progress.
pub(crate) struct Upload {
    upload: Box<dyn MultipartUpload>,
    /// Bytes handed over and not uploaded yet (no copies: parts are cut from these).
    buffer: std::collections::VecDeque<Bytes>,
    buffered: usize,
    part_size: usize,
    concurrency: usize,
    tasks: tokio::task::JoinSet<object_store::Result<()>>,
    parts: usize,
    bytes: u64,
    shown: String,
}

impl std::fmt::Debug for Upload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Upload")
            .field("parts", &self.parts)
            .field("bytes", &self.bytes)
            .finish_non_exhaustive()
    }
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
            buffer: std::collections::VecDeque::new(),
            buffered: 0,
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

    /// Adds bytes; every full part (exactly `part_size` bytes) goes out, waiting while
    /// `concurrency` parts are in flight, so that what is in flight stays bounded however
    /// large one handover is (a Parquet row group).
    pub(crate) async fn write(&mut self, bytes: Vec<u8>) -> Result<()> {
        self.bytes += bytes.len() as u64;
        if bytes.is_empty() {
            return Ok(());
        }
        self.buffered += bytes.len();
        self.buffer.push_back(Bytes::from(bytes));
        while self.buffered >= self.part_size {
            let part = self.take(self.part_size);
            self.put(part).await?;
        }
        Ok(())
    }

    /// The first `n` buffered bytes, as slices of the buffers they are in.
    fn take(&mut self, n: usize) -> Vec<Bytes> {
        let mut part = vec![];
        let mut left = n;
        while left > 0 {
            let Some(mut front) = self.buffer.pop_front() else {
                break;
            };
            if front.len() > left {
                let head = front.split_to(left);
                self.buffer.push_front(front);
                front = head;
            }
            left -= front.len();
            self.buffered -= front.len();
            part.push(front);
        }
        part
    }

    async fn put(&mut self, part: Vec<Bytes>) -> Result<()> {
        while self.tasks.len() >= self.concurrency {
            self.join_one().await?;
        }
        let future = self
            .upload
            .put_part(part.into_iter().collect::<PutPayload>());
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
        if self.buffered > 0 || self.parts == 0 {
            let part = self.take(self.buffered);
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

#[cfg(test)]
mod tests {
    use super::*;
    use object_store::memory::InMemory;
    use object_store::ObjectStoreExt;

    #[tokio::test]
    async fn parts_are_cut_to_the_part_size_and_published_only_on_completion() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let path = ObjectPath::from("out/part.bin");
        let mut upload = Upload::start(store.clone(), path.clone(), "mem".into(), 10, 2)
            .await
            .unwrap();
        // One large handover and a few small ones: 25 + 3 + 4 bytes.
        upload.write((0u8..25).collect()).await.unwrap();
        upload.write(vec![25, 26, 27]).await.unwrap();
        upload.write(vec![]).await.unwrap();
        upload.write(vec![28, 29, 30, 31]).await.unwrap();
        assert_eq!(upload.parts, 3, "three full parts of 10 bytes");
        assert_eq!(upload.buffered, 2);
        assert_eq!(upload.finish_parts().await.unwrap(), 32);
        assert_eq!(upload.parts, 4);
        assert!(
            store.head(&path).await.is_err(),
            "not visible before completion"
        );
        upload.complete().await.unwrap();
        let got = store.get(&path).await.unwrap().bytes().await.unwrap();
        assert_eq!(got.as_ref(), (0u8..32).collect::<Vec<_>>().as_slice());
    }

    #[tokio::test]
    async fn an_aborted_upload_leaves_nothing() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let path = ObjectPath::from("x");
        let mut upload = Upload::start(store.clone(), path.clone(), "mem".into(), 4, 1)
            .await
            .unwrap();
        upload.write(vec![1; 9]).await.unwrap();
        upload.abort().await;
        assert!(store.head(&path).await.is_err());
        // An empty file still makes one (empty) part.
        let mut empty = Upload::start(store.clone(), path.clone(), "mem".into(), 4, 1)
            .await
            .unwrap();
        assert_eq!(empty.finish_parts().await.unwrap(), 0);
        empty.complete().await.unwrap();
        assert_eq!(store.head(&path).await.unwrap().size, 0);
    }
}
