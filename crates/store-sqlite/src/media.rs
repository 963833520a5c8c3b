//! [`MediaStore`] on SQLite.

use async_trait::async_trait;
use ruma::UserId;
use rusqlite::{OptionalExtension, params};
use wardline_store::{Media, MediaContent, MediaRef, MediaStore, NewMedia, StoreError, StoreResult};
use wardline_types::{StreamPos, Timestamp};

use crate::rows::{exec, parse_event_id, parse_room, parse_user, query_one, sql_ts, ts};
use crate::{SqliteStore, backend_err};

const MEDIA_COLUMNS: &str = "media_id, uploader, created_ts, upload_by_ts, content_hash, content_type, size, filename,
    width, height, key_ref";

type MediaRow = (
    String,
    String,
    i64,
    Option<i64>,
    Option<String>,
    Option<String>,
    i64,
    Option<String>,
    Option<i64>,
    Option<i64>,
    Option<String>,
);

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MediaRow> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
        r.get(7)?,
        r.get(8)?,
        r.get(9)?,
        r.get(10)?,
    ))
}

fn to_media(row: MediaRow) -> StoreResult<Media> {
    let (media_id, uploader, created, upload_by, hash, content_type, size, filename, width, height, key_ref) = row;
    let content = hash.map(|hash| MediaContent {
        hash,
        content_type: content_type.unwrap_or_else(|| "application/octet-stream".into()),
        size: u64::try_from(size).unwrap_or(0),
        filename,
        dimensions: width.zip(height).and_then(|(w, h)| Some((u32::try_from(w).ok()?, u32::try_from(h).ok()?))),
        key_ref,
    });
    Ok(Media {
        meta: NewMedia {
            media_id,
            uploader: parse_user(&uploader)?,
            created_at: ts(created),
            upload_by: upload_by.map(ts),
        },
        content,
    })
}

#[async_trait]
impl MediaStore for SqliteStore {
    async fn create_media(&self, m: NewMedia) -> StoreResult<()> {
        self.writer
            .write(move |w| {
                let n = exec(
                    w.tx,
                    "INSERT OR IGNORE INTO media (media_id, uploader, created_ts, upload_by_ts) VALUES (?1, ?2, ?3, ?4)",
                    params![m.media_id, m.uploader.as_str(), sql_ts(m.created_at), m.upload_by.map(sql_ts)],
                )
                .map_err(backend_err)?;
                if n == 0 { Err(StoreError::Conflict(format!("media {} exists", m.media_id))) } else { Ok(()) }
            })
            .await
    }

    async fn put_media_content(&self, media_id: &str, uploader: &UserId, c: MediaContent) -> StoreResult<()> {
        let (media_id, uploader) = (media_id.to_owned(), uploader.to_owned());
        self.writer
            .write(move |w| {
                let has: Option<Option<String>> = query_one(
                    w.tx,
                    "SELECT content_hash FROM media WHERE media_id = ?1 AND uploader = ?2 AND released = 0",
                    params![media_id, uploader.as_str()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(backend_err)?;
                match has {
                    None => return Err(StoreError::NotFound),
                    Some(Some(_)) => return Err(StoreError::Conflict(format!("media {media_id} has content"))),
                    Some(None) => {}
                }
                let (width, height) = c.dimensions.map_or((None, None), |(w, h)| (Some(w), Some(h)));
                exec(
                    w.tx,
                    "UPDATE media SET content_hash = ?2, content_type = ?3, size = ?4, filename = ?5, width = ?6,
                        height = ?7, key_ref = ?8, upload_by_ts = NULL WHERE media_id = ?1",
                    params![
                        media_id,
                        c.hash,
                        c.content_type,
                        i64::try_from(c.size).unwrap_or(i64::MAX),
                        c.filename,
                        width,
                        height,
                        c.key_ref
                    ],
                )
                .map_err(backend_err)?;
                Ok(())
            })
            .await
    }

    async fn media(&self, media_id: &str) -> StoreResult<Option<Media>> {
        let media_id = media_id.to_owned();
        self.readers
            .read(move |c| {
                let sql = format!("SELECT {MEDIA_COLUMNS} FROM media WHERE media_id = ?1 AND released = 0");
                query_one(c, &sql, params![media_id], read_row)
                    .optional()
                    .map_err(backend_err)?
                    .map(to_media)
                    .transpose()
            })
            .await
    }

    async fn media_bytes_of(&self, user_id: &UserId) -> StoreResult<u64> {
        let user_id = user_id.to_owned();
        self.readers
            .read(move |c| {
                let n: i64 = query_one(
                    c,
                    "SELECT COALESCE(SUM(size), 0) FROM media WHERE uploader = ?1 AND released = 0",
                    params![user_id.as_str()],
                    |r| r.get(0),
                )
                .map_err(backend_err)?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
            .await
    }

    async fn media_refs(&self, media_id: &str) -> StoreResult<Vec<MediaRef>> {
        let media_id = media_id.to_owned();
        self.readers
            .read(move |c| {
                let mut stmt = c
                    .prepare_cached(
                        "SELECT room_id, event_id, stream FROM media_refs WHERE media_id = ?1 ORDER BY stream",
                    )
                    .map_err(backend_err)?;
                let rows = stmt
                    .query_map(params![media_id], |r| {
                        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?))
                    })
                    .map_err(backend_err)?;
                let mut out = Vec::new();
                for row in rows {
                    let (room, event, stream) = row.map_err(backend_err)?;
                    out.push(MediaRef {
                        room_id: parse_room(&room)?,
                        event_id: parse_event_id(&event)?,
                        stream: StreamPos(stream),
                    });
                }
                Ok(out)
            })
            .await
    }

    async fn purge_released_media(&self, now: Timestamp) -> StoreResult<Vec<String>> {
        self.writer
            .write(move |w| {
                let hashes: Vec<Option<String>> =
                    w.tx.prepare_cached(
                        "DELETE FROM media WHERE released = 1 OR (content_hash IS NULL AND upload_by_ts < ?1)
                         RETURNING content_hash",
                    )
                    .and_then(|mut stmt| stmt.query_map(params![sql_ts(now)], |r| r.get(0))?.collect())
                    .map_err(backend_err)?;
                let mut unused = Vec::new();
                for hash in hashes.into_iter().flatten() {
                    let used: Option<i64> =
                        query_one(w.tx, "SELECT 1 FROM media WHERE content_hash = ?1 LIMIT 1", params![hash], |r| {
                            r.get(0)
                        })
                        .optional()
                        .map_err(backend_err)?;
                    if used.is_none() && !unused.contains(&hash) {
                        unused.push(hash);
                    }
                }
                Ok(unused)
            })
            .await
    }

    async fn blob_in_use(&self, hash: &str) -> StoreResult<bool> {
        let hash = hash.to_owned();
        self.readers
            .read(move |c| {
                query_one(c, "SELECT 1 FROM media WHERE content_hash = ?1 LIMIT 1", params![hash], |r| {
                    r.get::<_, i64>(0)
                })
                .optional()
                .map(|o| o.is_some())
                .map_err(backend_err)
            })
            .await
    }
}
