//! The content repository: uploads, downloads and thumbnails of the files clinicians share.
//!
//! **Invariants:**
//! - A file is served only to its uploader and to users allowed to see an event that refers to
//!   it ([`MediaService::can_read`]); to everyone else it does not exist (`M_NOT_FOUND`, exactly
//!   as for an unknown id). Every download, allowed or not, is in the audit trail.
//! - What is stored has been checked against its declared type and, for images, stripped of
//!   metadata ([`content::prepare`]).
//! - Content is written durably before the database names it ([`blobs::Blobs`]).

pub mod blobs;
pub mod content;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rand::RngCore;
use ruma::{OwnedRoomId, OwnedServerName, UserId};
use wardline_store::{Media, MediaContent, NewMedia, Store, StoreError};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::media::{MxcRef, referenced, validate_file_message};
use wardline_types::{Clock, Timestamp};

use crate::audit::{Actor, AuditService, AuditSlot};
use crate::config::MediaSettings;
use crate::core::Core;
use crate::metrics::{Metrics, Served};
use crate::settings::SettingsHandle;
use crate::timeline::TimelineService;
use crate::{ServiceError, ServiceResult};
use blobs::Blobs;

/// A file to serve.
#[derive(Debug, Clone)]
pub struct Download {
    /// The bytes.
    pub bytes: Vec<u8>,
    /// Their type.
    pub content_type: String,
    /// The name it was uploaded with (or asked for).
    pub filename: Option<String>,
}

/// A file as the patient's record gets it.
#[derive(Debug, Clone)]
pub struct RecordFile {
    /// Its type, as stored.
    pub content_type: String,
    /// Its size in bytes, as stored.
    pub size: u64,
    /// Its bytes, when small enough to be read.
    pub bytes: Option<Vec<u8>>,
}

/// An upload.
#[derive(Debug, Clone)]
pub struct Upload {
    /// The bytes as sent.
    pub bytes: Vec<u8>,
    /// The declared `Content-Type`.
    pub content_type: Option<String>,
    /// The file name given.
    pub filename: Option<String>,
}

/// Uploads, downloads, thumbnails.
pub struct MediaService {
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    server_name: OwnedServerName,
    audit: AuditService,
    settings: SettingsHandle,
    timeline: TimelineService,
    blobs: Blobs,
    /// Image work is CPU-heavy: at most one per core at a time.
    image_work: tokio::sync::Semaphore,
    /// Blob writes with their recording, and blob deletions, take turns.
    blob_lock: tokio::sync::Mutex<()>,
    metrics: Metrics,
}

impl std::fmt::Debug for MediaService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaService").field("blobs", &self.blobs).finish_non_exhaustive()
    }
}

fn new_media_id() -> String {
    let mut bytes = [0u8; 18];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn clean_filename(name: Option<String>) -> Option<String> {
    name.map(|n| n.chars().filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | '"')).take(255).collect::<String>())
        .filter(|n: &String| !n.trim().is_empty())
}

impl MediaService {
    /// The media service, keeping files under `data_dir/media`.
    pub fn new(core: &Core, timeline: TimelineService, data_dir: &std::path::Path) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
        Self {
            store: Arc::clone(&core.store),
            clock: Arc::clone(&core.clock),
            server_name: core.server_name.clone(),
            audit: core.audit.clone(),
            settings: core.settings.clone(),
            timeline,
            blobs: Blobs::new(data_dir),
            image_work: tokio::sync::Semaphore::new(cores),
            blob_lock: tokio::sync::Mutex::new(()),
            metrics: core.metrics.clone(),
        }
    }

    fn limits(&self) -> MediaSettings {
        self.settings.get().media
    }

    /// `mxc://` URI of a media id here.
    #[must_use]
    pub fn mxc(&self, media_id: &str) -> String {
        format!("mxc://{}/{media_id}", self.server_name)
    }

    /// Checks size and quota, then the content, off the request threads.
    async fn prepare(&self, uploader: &UserId, upload: Upload) -> ServiceResult<(content::Prepared, Option<String>)> {
        let limits = self.limits();
        let size = upload.bytes.len() as u64;
        if size > limits.max_upload_bytes {
            return Err(ServiceError::TooLarge(format!("files may be at most {} bytes", limits.max_upload_bytes)));
        }
        let used = self.store.media_bytes_of(uploader).await?;
        if used.saturating_add(size) > limits.quota_bytes_per_user {
            return Err(ServiceError::forbidden(format!(
                "your files would take {} bytes; the limit per person is {}",
                used.saturating_add(size),
                limits.quota_bytes_per_user
            )));
        }
        let _permit = self.image_work.acquire().await.map_err(|e| ServiceError::Internal(e.to_string()))?;
        let Upload { bytes, content_type, filename } = upload;
        let prepared = tokio::task::spawn_blocking(move || content::prepare(bytes, content_type.as_deref(), &limits))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        Ok((prepared, clean_filename(filename)))
    }

    /// Stores the blob and records it as the content of `media_id`. Blob writes and deletions
    /// take turns ([`MediaService::blob_lock`]), so a purge never deletes a blob that an upload of
    /// the same bytes is about to name.
    async fn record(
        &self,
        uploader: &UserId,
        media_id: &str,
        prepared: content::Prepared,
        filename: Option<String>,
    ) -> ServiceResult<MediaContent> {
        let _turn = self.blob_lock.lock().await;
        let blobs = self.blobs.clone();
        let content::Prepared { bytes, content_type, dimensions } = prepared;
        let size = bytes.len() as u64;
        let hash = tokio::task::spawn_blocking(move || blobs.put(&bytes))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        let content = MediaContent { hash, content_type, size, filename, dimensions, key_ref: None };
        match self.store.put_media_content(media_id, uploader, content.clone()).await {
            Ok(()) => {
                self.metrics.uploaded(size);
                Ok(content)
            }
            Err(StoreError::Conflict(_)) => Err(ServiceError::CannotOverwriteMedia),
            Err(e) => Err(e.into()),
        }
    }

    fn audit_upload(&self, slot: AuditSlot, by: &Actor, media_id: &str, content: &MediaContent) {
        let mut r = self.audit.entry(Some(by), AuditAction::MediaUpload, Outcome::Success);
        r.detail = Some(format!("media={media_id} type={} size={}", content.content_type, content.size));
        slot.record(r);
    }

    /// `POST /upload`: stores a file and returns its `mxc://` URI.
    pub async fn upload(&self, by: &Actor, upload: Upload) -> ServiceResult<String> {
        let (prepared, filename) = self.prepare(&by.user_id, upload).await?;
        let media_id = new_media_id();
        let now = self.clock.now();
        // The id and its content are two writes: should the second never happen (a crash), the
        // deadline lets housekeeping remove the empty id, and the blob goes as unrecorded.
        let upload_by = Some(now.plus(Duration::from_secs(3600)));
        self.store
            .create_media(NewMedia {
                media_id: media_id.clone(),
                uploader: by.user_id.clone(),
                created_at: now,
                upload_by,
            })
            .await?;
        let slot = self.audit.reserve()?;
        let content = self.record(&by.user_id, &media_id, prepared, filename).await?;
        self.audit_upload(slot, by, &media_id, &content);
        Ok(self.mxc(&media_id))
    }

    /// `POST /create`: an id to upload to later; returns it and when it stops accepting.
    pub async fn create(&self, by: &Actor) -> ServiceResult<(String, Timestamp)> {
        let media_id = new_media_id();
        let now = self.clock.now();
        let upload_by = now.plus(Duration::from_secs(self.limits().unused_id_minutes * 60));
        self.store
            .create_media(NewMedia {
                media_id: media_id.clone(),
                uploader: by.user_id.clone(),
                created_at: now,
                upload_by: Some(upload_by),
            })
            .await?;
        Ok((self.mxc(&media_id), upload_by))
    }

    /// `PUT /upload/{server}/{id}`: the content of an id from [`MediaService::create`].
    pub async fn upload_to(&self, by: &Actor, server: &str, media_id: &str, upload: Upload) -> ServiceResult<()> {
        let media = self.local(server, media_id).await?.filter(|m| m.meta.uploader == by.user_id);
        let Some(media) = media else { return Err(ServiceError::forbidden("not an id you created")) };
        if media.content.is_some() {
            return Err(ServiceError::CannotOverwriteMedia);
        }
        if media.meta.upload_by.is_some_and(|t| t <= self.clock.now()) {
            return Err(ServiceError::not_found("this id has expired"));
        }
        let (prepared, filename) = self.prepare(&by.user_id, upload).await?;
        let slot = self.audit.reserve()?;
        let content = self.record(&by.user_id, media_id, prepared, filename).await?;
        self.audit_upload(slot, by, media_id, &content);
        Ok(())
    }

    async fn local(&self, server: &str, media_id: &str) -> ServiceResult<Option<Media>> {
        if server != self.server_name.as_str() || MxcRef::parse(&format!("mxc://{server}/{media_id}")).is_none() {
            return Ok(None);
        }
        Ok(self.store.media(media_id).await?)
    }

    /// May `user` fetch this item? Its uploader may; anyone else only if an event that refers to
    /// it is visible to them.
    pub async fn can_read(&self, user: &UserId, media: &Media) -> ServiceResult<bool> {
        if media.meta.uploader == user {
            return Ok(true);
        }
        for r in self.store.media_refs(&media.meta.media_id).await? {
            if self.timeline.visibility(user, &r.room_id).await?.can_see(r.stream) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Through which conversation `user` may fetch this item: `None` if they may not; else the
    /// conversation of the first event referring to it that they can see (`Some(None)`: its
    /// uploader, where no such event is visible to them). The rule of [`Self::can_read`].
    async fn read_through(&self, user: &UserId, media: &Media) -> ServiceResult<Option<Option<OwnedRoomId>>> {
        for r in self.store.media_refs(&media.meta.media_id).await? {
            if self.timeline.visibility(user, &r.room_id).await?.can_see(r.stream) {
                return Ok(Some(Some(r.room_id)));
            }
        }
        Ok((media.meta.uploader == user).then_some(None))
    }

    /// The item and its content, if `by` may read it; audited either way, with the conversation
    /// it was read through (so an investigation of a conversation finds its files' reads).
    async fn readable(&self, by: &Actor, server: &str, media_id: &str, what: &str) -> ServiceResult<MediaContent> {
        let media = self.local(server, media_id).await?;
        let through = match &media {
            Some(m) => self.read_through(&by.user_id, m).await?,
            None => None,
        };
        let allowed = through.is_some();
        let outcome = if allowed { Outcome::Success } else { Outcome::Denied };
        let mut r = self.audit.entry(Some(by), AuditAction::MediaDownload, outcome);
        r.room_id = through.flatten().map(|room| room.to_string());
        r.detail = Some(format!("media=mxc://{server}/{media_id} {what}"));
        self.audit.record(r)?;
        let not_found = || ServiceError::not_found("no such file");
        let media = media.filter(|_| allowed).ok_or_else(not_found)?;
        media.content.ok_or(ServiceError::NotYetUploaded)
    }

    /// A file's content.
    pub async fn download(&self, by: &Actor, server: &str, media_id: &str) -> ServiceResult<Download> {
        let content = self.readable(by, server, media_id, "download").await?;
        let blobs = self.blobs.clone();
        let hash = content.hash.clone();
        let bytes = tokio::task::spawn_blocking(move || blobs.get(&hash))
            .await
            .map_err(|e| ServiceError::Internal(e.to_string()))??;
        self.metrics.served(Served::File, bytes.len() as u64);
        Ok(Download { bytes, content_type: content.content_type, filename: content.filename })
    }

    /// A file for the patient's record, read as `by` (the same check and audit record as a
    /// download): its type and size as stored, and its bytes only when it is at most `max`
    /// bytes (a bigger one is never read).
    pub async fn file_for_record(
        &self,
        by: &Actor,
        server: &str,
        media_id: &str,
        max: u64,
    ) -> ServiceResult<RecordFile> {
        let content = self.readable(by, server, media_id, "filing").await?;
        let bytes = if content.size <= max {
            let blobs = self.blobs.clone();
            let hash = content.hash.clone();
            Some(
                tokio::task::spawn_blocking(move || blobs.get(&hash))
                    .await
                    .map_err(|e| ServiceError::Internal(e.to_string()))??,
            )
        } else {
            None
        };
        Ok(RecordFile { content_type: content.content_type, size: content.size, bytes })
    }

    /// A thumbnail of an image, made once per offered size and kept.
    pub async fn thumbnail(
        &self,
        by: &Actor,
        server: &str,
        media_id: &str,
        width: u32,
        height: u32,
        crop: bool,
    ) -> ServiceResult<Download> {
        let size = content::thumbnail_size(width, height, crop);
        let name = format!("{}x{}-{}", size.0, size.1, if size.2 { "crop" } else { "scale" });
        let media = self.readable(by, server, media_id, &format!("thumbnail={name}")).await?;
        let max_pixels = self.limits().max_image_pixels;
        let blobs = self.blobs.clone();
        let _permit = self.image_work.acquire().await.map_err(|e| ServiceError::Internal(e.to_string()))?;
        let (bytes, content_type) = tokio::task::spawn_blocking(move || -> ServiceResult<(Vec<u8>, String)> {
            let png = matches!(media.content_type.as_str(), "image/png" | "image/gif");
            let kind = if png { "image/png" } else { "image/jpeg" };
            if let Some(cached) = blobs.thumbnail(&media.hash, &name) {
                return Ok((cached, kind.to_owned()));
            }
            let original = blobs.get(&media.hash)?;
            let (thumb, kind) = content::thumbnail(&original, &media.content_type, size, max_pixels)?;
            blobs.put_thumbnail(&media.hash, &name, &thumb)?;
            Ok((thumb, kind.to_owned()))
        })
        .await
        .map_err(|e| ServiceError::Internal(e.to_string()))??;
        self.metrics.served(Served::Thumbnail, bytes.len() as u64);
        Ok(Download { bytes, content_type, filename: None })
    }

    /// Checks the shape of a message before it is sent: file messages must have the spec's.
    pub fn validate_message(content: &serde_json::Value) -> ServiceResult<()> {
        validate_file_message(content).map_err(|e| ServiceError::BadJson(e.0))
    }

    /// Checks the files an event's content refers to (any event type: messages, stickers,
    /// avatars): each must be a file of this server, with its content, that the sender may read
    /// (their own upload, or one they can see, when forwarding). Otherwise sending it would hand
    /// the file to everyone in the room.
    pub async fn check_references(&self, sender: &UserId, content: &serde_json::Value) -> ServiceResult<()> {
        for r in referenced(content) {
            if r.server != self.server_name.as_str() {
                return Err(ServiceError::invalid("files must be uploaded to this server"));
            }
            let media = self.store.media(&r.media_id).await?;
            let readable = match &media {
                Some(m) => m.content.is_some() && self.can_read(sender, m).await?,
                None => false,
            };
            if !readable {
                return Err(ServiceError::invalid(format!("no such file: mxc://{}/{}", r.server, r.media_id)));
            }
        }
        Ok(())
    }

    /// Deletes files no message refers to any more, ids whose upload never came, and (at start)
    /// what a crash left half written or unnamed. Returns how many blobs were deleted.
    pub async fn purge(&self, at_start: bool) -> ServiceResult<usize> {
        let mut deleted = 0;
        for hash in self.store.purge_released_media(self.clock.now()).await? {
            let _turn = self.blob_lock.lock().await;
            if !self.store.blob_in_use(&hash).await? {
                self.blobs.delete(&hash);
                deleted += 1;
            }
        }
        if at_start {
            let blobs = self.blobs.clone();
            let names = tokio::task::spawn_blocking(move || blobs.recover())
                .await
                .map_err(|e| ServiceError::Internal(e.to_string()))??;
            for hash in names {
                let _turn = self.blob_lock.lock().await;
                if !self.store.blob_in_use(&hash).await? {
                    self.blobs.delete(&hash);
                    deleted += 1;
                }
            }
        }
        Ok(deleted)
    }

    /// Purges every hour (ids whose upload never came). Runs until the task is dropped.
    pub async fn run_housekeeping(self: Arc<Self>) {
        let mut every = tokio::time::interval(Duration::from_secs(3600));
        loop {
            every.tick().await;
            if let Err(e) = self.purge(false).await {
                tracing::warn!(error = %e, "media housekeeping failed");
            }
        }
    }

    /// The largest upload accepted now.
    #[must_use]
    pub fn max_upload_bytes(&self) -> u64 {
        self.limits().max_upload_bytes
    }
}
