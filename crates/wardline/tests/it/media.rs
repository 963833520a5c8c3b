//! Files: upload, who may download, limits, type checks, thumbnails, deletion with the message.

use std::io::Cursor;

use serde_json::{Value, json};

use crate::harness::{Client, Server, cli, enc};

fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::DynamicImage::new_rgb8(w, h);
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn media_id(mxc: &Value) -> String {
    mxc.as_str().unwrap().strip_prefix("mxc://localhost/").unwrap().to_owned()
}

async fn send_image(c: &Client, room: &str, txn: &str, mxc: &Value) -> (u16, Value) {
    c.put(
        &format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{txn}", enc(room)),
        json!({"msgtype": "m.image", "body": "wound.png", "url": mxc,
               "info": {"mimetype": "image/png", "w": 640, "h": 480, "size": 1234}}),
    )
    .await
}

#[tokio::test]
async fn only_the_uploader_and_members_who_can_see_the_message_get_the_file() {
    let s = Server::start();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let c = s.user("cy").await;
    let room = a.create_room(json!({"invite": [b.user_id]})).await;
    b.join(&room).await;
    let (st, up) = a.upload(png(640, 480), "image/png", "wound.png").await;
    assert_eq!(st, 200, "{up}");
    let id = media_id(&up["content_uri"]);
    let path = format!("/_matrix/client/v1/media/download/localhost/{id}");
    // Before it is sent: only Ada.
    assert_eq!(a.get_raw(&path).await.0, 200);
    let (st, _, body) = b.get_raw(&path).await;
    assert_eq!(st, 404);
    let unknown = c.get_raw("/_matrix/client/v1/media/download/localhost/doesNotExist").await;
    assert_eq!((unknown.0, &unknown.2), (404, &body), "a file you may not see looks like no file at all");
    // Sent in the room: Ben too, Cy (not a member) still not.
    let (st, sent) = send_image(&a, &room, "i1", &up["content_uri"]).await;
    assert_eq!(st, 200, "{sent}");
    let (st, headers, bytes) = b.get_raw(&path).await;
    assert_eq!(st, 200);
    assert_eq!(headers["content-type"], "image/png");
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("inline"));
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(headers["content-security-policy"].to_str().unwrap().starts_with("sandbox"));
    assert_eq!(image::load_from_memory(&bytes).unwrap().width(), 640);
    assert_eq!(c.get_raw(&path).await.0, 404);
    assert_eq!(c.get_raw(&format!("{path}/wound.png")).await.0, 404);
    // Without a token, and on the legacy unauthenticated paths: nothing.
    assert_eq!(s.client().get_raw(&path).await.0, 401);
    let (st, _, legacy) = b.get_raw(&format!("/_matrix/media/v3/download/localhost/{id}")).await;
    assert_eq!(st, 404);
    assert!(String::from_utf8_lossy(&legacy).contains("M_NOT_FOUND"));
    // Cy cannot send it on either: a file you cannot see cannot be forwarded.
    let cy_room = c.create_room(json!({})).await;
    let (st, err) = send_image(&c, &cy_room, "f1", &up["content_uri"]).await;
    assert_eq!((st, err["errcode"].as_str()), (400, Some("M_INVALID_PARAM")));
    // Nor through any other kind of event that names a file: a sticker, a room avatar.
    let (st, _) = c
        .put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.sticker/s1", enc(&cy_room)),
            json!({"body": "x", "url": up["content_uri"], "info": {}}),
        )
        .await;
    assert_eq!(st, 400);
    let (st, _) = c
        .put(
            &format!("/_matrix/client/v3/rooms/{}/state/m.room.avatar/", enc(&cy_room)),
            json!({"url": up["content_uri"]}),
        )
        .await;
    assert_eq!(st, 400);
    assert_eq!(c.get_raw(&path).await.0, 404, "still not Cy's to read");
    // Every download is audited, refused ones as denied.
    let mut s = s;
    let _keep = s.keep_dir();
    assert!(s.terminate());
    let (ok, out, err) = cli(&s.data_dir, &["audit", "export"], None);
    assert!(ok, "{err}");
    let outcomes: Vec<String> = out
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["action"] == "media.download")
        .map(|r| r["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert!(outcomes.contains(&"success".to_owned()) && outcomes.contains(&"denied".to_owned()), "{outcomes:?}");
}

#[tokio::test]
async fn limits_type_checks_and_bombs() {
    let s = Server::start_with_env(&[
        ("WARDLINE_MEDIA__MAX_UPLOAD_BYTES", "2000000"),
        ("WARDLINE_MEDIA__QUOTA_BYTES_PER_USER", "3000000"),
    ]);
    let a = s.user("ada").await;
    // The quota: 1.5 MB fits once, not twice.
    assert_eq!(a.upload(vec![1u8; 1_500_000], "application/octet-stream", "a.bin").await.0, 200);
    let (st, err) = a.upload(vec![2u8; 1_500_001], "application/octet-stream", "b.bin").await;
    assert_eq!((st, err["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{err}");
    let (st, err) = a.upload(vec![7u8; 2_000_001], "application/octet-stream", "big.bin").await;
    assert_eq!((st, err["errcode"].as_str()), (413, Some("M_TOO_LARGE")), "{err}");
    let html = b"<html><body><script>alert('x')</script></body></html>".to_vec();
    let (st, err) = a.upload(html.clone(), "image/png", "scan.png").await;
    assert_eq!((st, err["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{err}");
    // A small file that decodes to 64 million pixels.
    let bomb = {
        let img = image::DynamicImage::new_luma8(8000, 8000);
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    assert!(bomb.len() < 2_000_000, "{}", bomb.len());
    let (st, err) = a.upload(bomb, "image/png", "bomb.png").await;
    assert_eq!((st, err["errcode"].as_str()), (413, Some("M_TOO_LARGE")), "{err}");
    // Non-media files are served as downloads, never shown inline.
    let (st, up) = a.upload(html, "text/html", "notes.html").await;
    assert_eq!(st, 200);
    let (st, headers, _) =
        a.get_raw(&format!("/_matrix/client/v1/media/download/localhost/{}", media_id(&up["content_uri"]))).await;
    assert_eq!(st, 200);
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment; filename*=UTF-8''notes.html"));
    let (st, config) = a.get("/_matrix/client/v1/media/config").await;
    assert_eq!((st, config["m.upload.size"].as_u64()), (200, Some(2_000_000)));
}

#[tokio::test]
async fn thumbnails_create_then_upload_and_deletion_with_the_message() {
    let s = Server::start();
    let a = s.user("ada").await;
    let room = a.create_room(json!({})).await;
    // Create first, upload later.
    let (st, created) = a.post("/_matrix/media/v1/create", json!({})).await;
    assert_eq!(st, 200, "{created}");
    assert!(created["unused_expires_at"].as_u64().is_some());
    let id = media_id(&created["content_uri"]);
    let path = format!("/_matrix/client/v1/media/download/localhost/{id}");
    let (st, err) = a.get(&path).await;
    assert_eq!((st, err["errcode"].as_str()), (504, Some("M_NOT_YET_UPLOADED")));
    let put = |body: Vec<u8>| {
        let a = &a;
        let url = format!("{}/_matrix/media/v3/upload/localhost/{id}", a.base);
        async move {
            let resp = a
                .http
                .put(url)
                .bearer_auth(a.token.as_ref().unwrap())
                .header("content-type", "image/png")
                .body(body)
                .send()
                .await
                .unwrap();
            (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
        }
    };
    assert_eq!(put(png(1000, 800)).await.0, 200);
    let (st, again) = put(png(10, 10)).await;
    assert_eq!((st, again["errcode"].as_str()), (409, Some("M_CANNOT_OVERWRITE_MEDIA")));
    // Thumbnails of the sizes asked for.
    for (w, h, method, expected) in
        [(96, 96, "crop", (96, 96)), (32, 32, "crop", (32, 32)), (320, 240, "scale", (300, 240))]
    {
        let (st, headers, bytes) = a
            .get_raw(&format!("/_matrix/client/v1/media/thumbnail/localhost/{id}?width={w}&height={h}&method={method}"))
            .await;
        assert_eq!(st, 200);
        assert_eq!(headers["content-type"], "image/png");
        let t = image::load_from_memory(&bytes).unwrap();
        assert_eq!((t.width(), t.height()), expected, "{w}x{h} {method}");
    }
    // Deleting the only message that carried the file deletes the file.
    let (st, sent) = send_image(&a, &room, "i1", &created["content_uri"]).await;
    assert_eq!(st, 200);
    let event_id = sent["event_id"].as_str().unwrap();
    let blobs = s.data_dir.join("media/blobs");
    let count = || walk(&blobs);
    assert_eq!(count(), 1);
    let (st, _) =
        a.put(&format!("/_matrix/client/v3/rooms/{}/redact/{}/r1", enc(&room), enc(event_id)), json!({})).await;
    assert_eq!(st, 200);
    assert_eq!(a.get_raw(&path).await.0, 404);
    assert_eq!(count(), 0, "the blob is gone");
    assert!(!s.data_dir.join("media/thumbnails").read_dir().unwrap().any(|_| true), "and its thumbnails");
}

fn walk(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.flatten().map(|e| if e.path().is_dir() { walk(&e.path()) } else { 1 }).sum()
}

#[tokio::test]
async fn file_messages_are_validated() {
    let s = Server::start();
    let a = s.user("ada").await;
    let room = a.create_room(json!({})).await;
    let (_, up) = a.upload(b"OggS voice".to_vec(), "application/octet-stream", "note.ogg").await;
    let send = |content: Value| {
        let a = &a;
        let room = room.clone();
        async move {
            a.put(&format!("/_matrix/client/v3/rooms/{}/send/m.room.message/{}", enc(&room), rand_txn()), content).await
        }
    };
    let uri = up["content_uri"].clone();
    let ok = send(json!({"msgtype": "m.audio", "body": "voice note", "url": uri,
        "info": {"mimetype": "audio/ogg", "duration": 4100, "size": 10}}))
    .await;
    assert_eq!(ok.0, 200, "{}", ok.1);
    for bad in [
        json!({"msgtype": "m.audio", "body": "voice note", "url": uri, "info": {"duration": "4s"}}),
        json!({"msgtype": "m.file", "body": "x", "url": "https://example.org/leak.pdf"}),
        json!({"msgtype": "m.image", "url": uri}),
    ] {
        let (st, err) = send(bad.clone()).await;
        assert_eq!((st, err["errcode"].as_str()), (400, Some("M_BAD_JSON")), "{bad}");
    }
    let (st, err) = send(json!({"msgtype": "m.file", "body": "x", "url": "mxc://localhost/nope"})).await;
    assert_eq!((st, err["errcode"].as_str()), (400, Some("M_INVALID_PARAM")));
    let (st, _) = send(json!({"msgtype": "m.file", "body": "x", "url": "mxc://elsewhere.example/abc"})).await;
    assert_eq!(st, 400);
}

fn rand_txn() -> String {
    format!("t{}", std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos())
}

/// `kill -9` while an upload is half sent, with debris of an interrupted write on disk (a half
/// written temporary file, a blob renamed into place but never recorded): after a restart none of
/// it is left, and no id names a missing or partial file.
#[tokio::test]
async fn a_crash_in_the_middle_of_an_upload_leaves_nothing_behind() {
    use tokio::io::AsyncWriteExt;

    let mut s = Server::start();
    let keep = s.keep_dir();
    let a = s.user("ada").await;
    let (st, kept) = a.upload(png(64, 64), "image/png", "kept.png").await;
    assert_eq!(st, 200);
    let addr = a.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /_matrix/media/v3/upload?filename=half.bin HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/octet-stream\r\nContent-Length: 4000000\r\n\r\n",
        a.token.as_ref().unwrap()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![1u8; 1_500_000]).await.unwrap();
    stream.flush().await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let media = s.data_dir.join("media");
    std::fs::write(media.join("tmp/.tmpHALF"), vec![2u8; 1000]).unwrap();
    let orphan = "ab".repeat(32);
    std::fs::create_dir_all(media.join("blobs/ab")).unwrap();
    std::fs::write(media.join("blobs/ab").join(&orphan), b"never recorded").unwrap();
    s.kill9();
    drop(stream);

    let s2 = Server::start_in(&s.data_dir, &[]);
    let a2 = s2.login("ada", "correct horse battery staple").await;
    assert_eq!(walk(&media.join("tmp")), 0, "no temporary files");
    assert!(!media.join("blobs/ab").join(&orphan).exists(), "the unrecorded blob is gone");
    assert_eq!(walk(&media.join("blobs")), 1, "only the completed upload is kept");
    let (st, _, bytes) =
        a2.get_raw(&format!("/_matrix/client/v1/media/download/localhost/{}", media_id(&kept["content_uri"]))).await;
    assert_eq!((st, image::load_from_memory(&bytes).unwrap().width()), (200, 64));
    let db = rusqlite::Connection::open(s.data_dir.join("wardline.db")).unwrap();
    let rows: i64 = db.query_row("SELECT COUNT(*) FROM media", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 1, "no row for the interrupted upload");
    drop(keep);
}

/// A 2×2 grey TIFF whose `Artist` tag names a patient.
fn tiff_with_artist(secret: &[u8]) -> Vec<u8> {
    let entries: u16 = 10;
    let text_at = 8 + 2 + 12 * u32::from(entries) + 4;
    let text_len = secret.len() as u32 + 1;
    let pixels_at = text_at + text_len;
    let mut t = b"II*\0".to_vec();
    t.extend_from_slice(&8u32.to_le_bytes());
    t.extend_from_slice(&entries.to_le_bytes());
    for (tag, kind, count, value) in [
        (256u16, 3u16, 1u32, 2u32),
        (257, 3, 1, 2),
        (258, 3, 1, 8),
        (259, 3, 1, 1),
        (262, 3, 1, 1),
        (273, 4, 1, pixels_at),
        (277, 3, 1, 1),
        (278, 3, 1, 2),
        (279, 4, 1, 4),
        (315, 2, text_len, text_at),
    ] {
        t.extend_from_slice(&tag.to_le_bytes());
        t.extend_from_slice(&kind.to_le_bytes());
        t.extend_from_slice(&count.to_le_bytes());
        t.extend_from_slice(&value.to_le_bytes());
    }
    t.extend_from_slice(&0u32.to_le_bytes());
    t.extend_from_slice(secret);
    t.push(0);
    t.extend_from_slice(&[10, 80, 160, 240]);
    t
}

#[tokio::test]
async fn images_lose_their_metadata_whatever_they_are_declared_as() {
    let s = Server::start();
    let a = s.user("ada").await;
    let secret = b"Bed 4 J.Smith GPS 51.5072N";
    let has_secret = |b: &[u8]| b.windows(secret.len()).any(|w| w == secret);
    let tiff = tiff_with_artist(secret);
    assert!(has_secret(&tiff));
    for declared in ["application/octet-stream", "text/plain", "image/tiff", "image/png"] {
        let (st, up) = a.upload(tiff.clone(), declared, "scan.tif").await;
        assert_eq!(st, 200, "{declared}: {up}");
        let (st, headers, body) =
            a.get_raw(&format!("/_matrix/client/v1/media/download/localhost/{}", media_id(&up["content_uri"]))).await;
        assert_eq!(st, 200);
        assert_eq!(headers["content-type"], "image/png", "{declared}");
        assert!(!has_secret(&body), "{declared}: the metadata was kept");
        let img = image::load_from_memory(&body).unwrap();
        assert_eq!((img.width(), img.height()), (2, 2));
    }
    // HEIC cannot be cleaned here: refused, whatever it is declared as.
    let mut heic = vec![0, 0, 0, 24];
    heic.extend_from_slice(b"ftypheic\0\0\0\0mif1heic");
    heic.extend_from_slice(secret);
    for declared in ["application/octet-stream", "image/heic", "image/jpeg"] {
        let (st, err) = a.upload(heic.clone(), declared, "photo.heic").await;
        assert_eq!((st, err["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{declared}: {err}");
    }
}
