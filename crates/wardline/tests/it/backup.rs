//! `wardline backup` of a running server under load, `wardline restore`, and what both refuse.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::harness::{Client, PASSWORD, Server, cli, enc};

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn file_bytes(i: usize) -> Vec<u8> {
    format!("scan {i} of the ward round\n").repeat(50).into_bytes()
}

/// Uploads a file and sends it as a message; returns (event id, mxc uri).
async fn send_file(c: &Client, room: &str, i: usize) -> (String, String) {
    let (st, up) = c.upload(file_bytes(i), "application/octet-stream", &format!("scan-{i}.bin")).await;
    assert_eq!(st, 200, "{up}");
    let mxc = up["content_uri"].as_str().unwrap().to_owned();
    let (st, sent) = c
        .put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.room.message/f{i}", enc(room)),
            json!({"msgtype": "m.file", "body": format!("scan-{i}.bin"), "url": mxc}),
        )
        .await;
    assert_eq!(st, 200, "{sent}");
    (sent["event_id"].as_str().unwrap().to_owned(), mxc)
}

async fn send_text(c: &Client, room: &str, txn: &str, body: &str) -> String {
    let (st, sent) = c.send_text(room, txn, body).await;
    assert_eq!(st, 200, "{sent}");
    sent["event_id"].as_str().unwrap().to_owned()
}

fn backup(data_dir: &Path, dest: &Path) -> (bool, String, String) {
    cli(data_dir, &["backup", dest.to_str().unwrap()], None)
}

fn restore(src: &Path, target: &Path) -> (bool, String, String) {
    cli(target, &["restore", src.to_str().unwrap()], None)
}

fn manifest(dir: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap()
}

fn db(data_dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(data_dir.join("wardline.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .unwrap()
}

/// Every event: id → content.
fn events(data_dir: &Path) -> BTreeMap<String, String> {
    let conn = db(data_dir);
    let mut stmt = conn.prepare("SELECT event_id, content FROM events").unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().map(Result::unwrap).collect()
}

fn count(data_dir: &Path, table: &str) -> u64 {
    db(data_dir).query_row(&format!("SELECT COUNT(*) FROM {table}"), [], |r| r.get::<_, i64>(0)).unwrap() as u64
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// Every directory 0700 and every file 0600, under `dir`.
#[cfg(unix)]
fn assert_owner_only(dir: &Path) {
    assert_eq!(mode(dir), 0o700, "{}", dir.display());
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            assert_owner_only(&path);
        } else {
            assert_eq!(mode(&path), 0o600, "{}", path.display());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_under_load_restores_to_the_same_conversations_files_and_audit_trail() {
    let mut s = Server::start();
    let ada = s.user("ada").await;
    let ben = s.user("ben").await;
    let room = ada.room_with(&[&ben]).await;
    // Acknowledged before the backup begins: all of it must be in the backup.
    let mut before = Vec::new();
    let mut files = Vec::new();
    for i in 0..10 {
        before.push(send_text(&ada, &room, &format!("b{i}"), &format!("before the backup {i}")).await);
        if i % 3 == 0 {
            let (event, mxc) = send_file(&ben, &room, i).await;
            before.push(event);
            files.push((mxc, sha256(&file_bytes(i))));
        }
    }

    // Load: messages, files (each audited) and reads, from a task of their own, all through the backup.
    let stop = Arc::new(AtomicBool::new(false));
    let writes = Arc::new(AtomicUsize::new(0));
    let load = {
        let (ada, ben, room, stop, writes) =
            (ada.clone(), ben.clone(), room.clone(), Arc::clone(&stop), Arc::clone(&writes));
        tokio::spawn(async move {
            let mut i = 100;
            while !stop.load(Ordering::Acquire) {
                send_text(&ada, &room, &format!("l{i}"), &format!("during the backup {i}")).await;
                if i % 4 == 0 {
                    send_file(&ben, &room, i).await;
                }
                let _ = ben.sync(None, 0, None).await;
                writes.fetch_add(1, Ordering::AcqRel);
                i += 1;
            }
        })
    };
    let wait_for_writes = |n: usize| {
        let writes = Arc::clone(&writes);
        async move {
            while writes.load(Ordering::Acquire) < n {
                tokio::task::yield_now().await;
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
        }
    };
    wait_for_writes(3).await;
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backup");
    let (data_dir, dest_copy) = (s.data_dir.clone(), dest.clone());
    let (ok, out, err) = tokio::task::spawn_blocking(move || backup(&data_dir, &dest_copy)).await.unwrap();
    assert!(ok, "backup failed: {out} {err}");
    // The load goes on after the backup ended, so the server holds more than the backup.
    let after_backup = writes.load(Ordering::Acquire);
    wait_for_writes(after_backup + 3).await;
    stop.store(true, Ordering::Release);
    load.await.unwrap();

    let m = manifest(&dest);
    assert_eq!(m["format"], "wardline-backup/1");
    assert_eq!(m["server_name"], "localhost");
    assert_eq!(m["wardline_version"], env!("CARGO_PKG_VERSION"));
    assert!(m["missing"].as_array().unwrap().is_empty(), "{m}");
    #[cfg(unix)]
    assert_owner_only(&dest);

    let target = dir.path().join("restored");
    let (ok, out, err) = restore(&dest, &target);
    assert!(ok, "restore failed: {out} {err}");
    #[cfg(unix)]
    assert_owner_only(&target);

    // A prefix of the live server: everything acknowledged before the backup, nothing the live
    // server does not have, and less than it has now.
    let live = events(&s.data_dir);
    let restored = events(&target);
    for e in &before {
        assert!(restored.contains_key(e), "{e}, sent before the backup, is not in it");
    }
    for (id, content) in &restored {
        assert_eq!(live.get(id), Some(content), "{id} differs from the live server");
    }
    assert!(restored.len() < live.len(), "the writes after the backup are not in it");
    assert_eq!(restored.len() as u64, m["counts"]["events"].as_u64().unwrap());
    assert_eq!(count(&target, "media"), m["counts"]["media"].as_u64().unwrap());
    // The backup's records, and the restore's own.
    assert_eq!(count(&target, "audit_log"), m["audit_seq"].as_u64().unwrap() + 1);
    assert!(count(&target, "media") > files.len() as u64, "files uploaded during the backup are in it");
    // Every file the restored database names is there, with the content its name says.
    let hashes: BTreeSet<String> = {
        let conn = db(&target);
        let mut stmt = conn.prepare("SELECT DISTINCT content_hash FROM media WHERE content_hash IS NOT NULL").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    for h in &hashes {
        let bytes = std::fs::read(target.join("media/blobs").join(&h[..2]).join(h)).unwrap();
        assert_eq!(&sha256(&bytes), h);
    }
    s.terminate();

    // A server on the restored directory shows the same conversation and files.
    let mut r = Server::start_in(&target, &[]);
    let ada2 = r.login("ada", PASSWORD).await;
    let (st, page) = ada2.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit=1000", enc(&room))).await;
    assert_eq!(st, 200, "{page}");
    let shown: BTreeSet<String> =
        page["chunk"].as_array().unwrap().iter().map(|e| e["event_id"].as_str().unwrap().to_owned()).collect();
    for e in &before {
        assert!(shown.contains(e), "{e} is not readable on the restored server");
    }
    let messages = restored.values().filter(|c| c.contains("\"msgtype\"")).count();
    assert_eq!(shown.iter().filter(|id| restored[*id].contains("\"msgtype\"")).count(), messages);
    for (mxc, hash) in &files {
        let id = mxc.strip_prefix("mxc://localhost/").unwrap();
        let (st, _, bytes) = ada2.get_raw(&format!("/_matrix/client/v1/media/download/localhost/{id}")).await;
        assert_eq!(st, 200);
        assert_eq!(&sha256(&bytes), hash);
    }
    r.terminate();

    // The restored audit trail verifies, with the checkpoints copied up to the snapshot.
    let (ok, out, err) = cli(&target, &["audit", "verify"], None);
    assert!(ok && out.contains("audit trail intact"), "{out} {err}");
    // And the backup itself is in the trail, with who took it, followed by the restore's record
    // naming the backup's last record.
    let (ok, out, err) = cli(&target, &["audit", "export"], None);
    assert!(ok, "{err}");
    assert!(out.lines().any(|l| l.contains("\"export\"") && l.contains("backup to ")), "{out}");
    let restore: Value =
        out.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()).find(|r| r["action"] == "restore").unwrap();
    let audit_seq = m["audit_seq"].as_u64().unwrap();
    assert_eq!(restore["seq"], json!(audit_seq + 1), "{restore}");
    assert!(restore["detail"].as_str().unwrap().contains(&format!("backup_audit_seq={audit_seq} ")), "{restore}");
}

#[tokio::test]
async fn restore_checks_the_backup_first_and_only_fills_an_empty_directory() {
    let mut s = Server::start();
    let ada = s.user("ada").await;
    let room = ada.create_room(json!({"name": "Ward 7"})).await;
    send_text(&ada, &room, "t1", "handover at 8").await;
    let (_, mxc) = send_file(&ada, &room, 1).await;
    assert!(mxc.starts_with("mxc://"));
    // A stopped server is backed up the same way.
    s.terminate();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backup");
    let (ok, out, err) = backup(&s.data_dir, &dest);
    assert!(ok, "{out} {err}");
    // Nothing is written over: a non-empty destination, a directory without a database.
    let (ok, _, err) = backup(&s.data_dir, &dest);
    assert!(!ok && err.contains("not empty"), "{err}");
    let (ok, _, err) = backup(&dir.path().join("nowhere"), &dir.path().join("b2"));
    assert!(!ok && err.contains("no Wardline database"), "{err}");
    assert!(!dir.path().join("nowhere").exists() && !dir.path().join("b2").exists());
    let (ok, _, err) = backup(&s.data_dir, &s.data_dir.join("media/backups/today"));
    assert!(!ok && err.contains("inside the data directory"), "{err}");
    assert!(!s.data_dir.join("media/backups").exists());
    // However it is named: through `..` after a directory still to be made, or a link.
    let home = s.data_dir.parent().unwrap();
    std::os::unix::fs::symlink(&s.data_dir, dir.path().join("shortcut")).unwrap();
    for sneaky in [
        home.join("new/../data/backups"),
        dir.path().join("shortcut/backups"),
        dir.path().join("new/../shortcut/media/../backups"),
    ] {
        let (ok, _, err) = backup(&s.data_dir, &sneaky);
        assert!(!ok && err.contains("inside the data directory"), "{}: {err}", sneaky.display());
        for made in [s.data_dir.join("backups"), home.join("new"), dir.path().join("new")] {
            assert!(!made.exists(), "{}: {}", sneaky.display(), made.display());
        }
    }

    // Restore refuses a data directory that is not empty, and leaves it as it was.
    let before = events(&s.data_dir);
    let (ok, _, err) = restore(&dest, &s.data_dir);
    assert!(!ok && err.contains("not empty"), "{err}");
    assert_eq!(events(&s.data_dir), before);

    // A backup changed after it was taken is refused, and nothing is written.
    let copy = |name: &str| -> PathBuf {
        let to = dir.path().join(name);
        copy_dir(&dest, &to);
        to
    };
    let m = manifest(&dest);
    let blob = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"].as_str().unwrap().starts_with("media/"))
        .unwrap()["path"]
        .as_str()
        .unwrap()
        .to_owned();
    for (name, damage) in [
        ("changed-blob", blob.as_str()),
        ("changed-db", "wardline.db"),
        ("changed-key", "audit-signing.key"),
        ("changed-checkpoints", "audit-checkpoints.jsonl"),
    ] {
        let tampered = copy(name);
        let path = tampered.join(damage);
        let mut bytes = std::fs::read(&path).unwrap();
        let last = bytes.len() - 2;
        bytes[last] ^= 1;
        std::fs::write(&path, &bytes).unwrap();
        let target = dir.path().join(format!("{name}-restored"));
        let (ok, _, err) = restore(&tampered, &target);
        assert!(!ok && err.contains(damage) && err.contains("does not match its manifest"), "{name}: {err}");
        assert!(!target.exists(), "{name}: nothing restored");
    }
    let truncated = copy("no-manifest");
    std::fs::remove_file(truncated.join("manifest.json")).unwrap();
    let (ok, _, err) = restore(&truncated, &dir.path().join("t"));
    assert!(!ok && err.contains("manifest"), "{err}");
    let sneaky = copy("outside");
    let mut m2 = manifest(&sneaky);
    m2["files"][0]["path"] = json!("../backup/wardline.db");
    std::fs::write(sneaky.join("manifest.json"), m2.to_string()).unwrap();
    let (ok, _, err) = restore(&sneaky, &dir.path().join("t"));
    assert!(!ok && err.contains("not a path inside the backup"), "{err}");
    // A backup from a newer Wardline is refused by this one.
    let newer = copy("newer");
    let mut m3 = manifest(&newer);
    m3["schema_version"] = json!(wardline_store_sqlite::SCHEMA_VERSION + 1);
    std::fs::write(newer.join("manifest.json"), m3.to_string()).unwrap();
    let (ok, _, err) = restore(&newer, &dir.path().join("t"));
    assert!(!ok && err.contains("knows schema versions up to"), "{err}");
    assert!(!dir.path().join("t").exists());
    // A manifest naming a file Wardline never writes (SQLite would apply a `-wal` beside the
    // database after every check), or a time that is not one, is refused.
    let wal = copy("with-wal");
    std::fs::write(wal.join("wardline.db-wal"), b"frames").unwrap();
    let mut m4 = manifest(&wal);
    m4["files"]
        .as_array_mut()
        .unwrap()
        .push(json!({"path": "wardline.db-wal", "size": 6, "sha256": sha256(b"frames")}));
    std::fs::write(wal.join("manifest.json"), m4.to_string()).unwrap();
    let (ok, _, err) = restore(&wal, &dir.path().join("t"));
    assert!(!ok && err.contains("\"wardline.db-wal\", which is no file Wardline keeps"), "{err}");
    let crafted = copy("crafted-time");
    let mut m5 = manifest(&crafted);
    m5["created_at"] = json!("2026-11-30T02:00:00Z backup_audit_seq=0");
    std::fs::write(crafted.join("manifest.json"), m5.to_string()).unwrap();
    let (ok, _, err) = restore(&crafted, &dir.path().join("t"));
    assert!(!ok && err.contains("is not an RFC 3339 time"), "{err}");
    assert!(!dir.path().join("t").exists());

    // The untouched backup restores into an empty directory that already exists.
    let target = dir.path().join("empty");
    std::fs::create_dir(&target).unwrap();
    let (ok, out, err) = restore(&dest, &target);
    assert!(ok, "{out} {err}");
    assert_eq!(events(&target), before);
}

#[tokio::test]
async fn a_file_missing_from_the_data_directory_is_reported_not_skipped() {
    let mut s = Server::start();
    let ada = s.user("ada").await;
    let room = ada.create_room(json!({"name": "Ward 7"})).await;
    send_file(&ada, &room, 1).await;
    send_file(&ada, &room, 2).await;
    s.terminate();
    let lost = sha256(&file_bytes(2));
    std::fs::remove_file(s.data_dir.join("media/blobs").join(&lost[..2]).join(&lost)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backup");
    let (ok, _, err) = backup(&s.data_dir, &dest);
    assert!(!ok, "a backup lacking a file fails");
    assert!(err.contains(&lost) && err.contains("still names"), "{err}");
    let m = manifest(&dest);
    assert_eq!(m["missing"].as_array().unwrap().len(), 1, "{m}");
    assert!(m["missing"][0]["path"].as_str().unwrap().ends_with(&lost));
    // What there was is restored, and the gap is said again.
    let (ok, _, err) = restore(&dest, &dir.path().join("restored"));
    assert!(ok && err.contains(&lost), "{err}");
}

#[tokio::test]
async fn the_server_refuses_a_database_from_a_newer_wardline() {
    let mut s = Server::start();
    s.terminate();
    let conn = rusqlite::Connection::open(s.data_dir.join("wardline.db")).unwrap();
    conn.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [wardline_store_sqlite::SCHEMA_VERSION + 1]).unwrap();
    drop(conn);
    let out = std::process::Command::new(crate::harness::bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("written by a newer Wardline") && err.contains("wardline restore"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if path.is_dir() {
            copy_dir(&path, &to.join(entry.file_name()));
        } else {
            std::fs::copy(&path, to.join(entry.file_name())).unwrap();
        }
    }
}

/// Replaces `path` with a symbolic link to `to`.
fn link_over(path: &Path, to: &Path) {
    std::fs::remove_file(path).unwrap();
    std::os::unix::fs::symlink(to, path).unwrap();
}

/// Replaces `path` with a FIFO (named pipe), which no one writes to: reading it would wait forever.
fn fifo_over(path: &Path) {
    std::fs::remove_file(path).unwrap();
    assert!(std::process::Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[tokio::test]
async fn a_link_or_a_fifo_where_a_file_should_be_is_refused_not_followed() {
    let mut s = Server::start();
    let ada = s.user("ada").await;
    let room = ada.create_room(json!({"name": "Ward 7"})).await;
    send_file(&ada, &room, 1).await;
    s.terminate();
    let dir = tempfile::tempdir().unwrap();
    let blob = {
        let h = sha256(&file_bytes(1));
        format!("media/blobs/{}/{h}", &h[..2])
    };
    let key = s.data_dir.join("audit-signing.key");
    let kept = dir.path().join("kept");
    std::fs::create_dir(&kept).unwrap();
    std::fs::copy(&key, kept.join("key")).unwrap();
    std::fs::copy(s.data_dir.join(&blob), kept.join("blob")).unwrap();

    // In the data directory: the key a link to a file elsewhere, then a file a FIFO.
    let elsewhere = dir.path().join("elsewhere.key");
    std::fs::write(&elsewhere, "ab".repeat(32)).unwrap();
    link_over(&key, &elsewhere);
    let (ok, _, err) = backup(&s.data_dir, &dir.path().join("b1"));
    assert!(!ok && err.contains("audit-signing.key") && err.contains("symbolic link"), "{err}");
    std::fs::remove_file(&key).unwrap();
    std::fs::copy(kept.join("key"), &key).unwrap();
    fifo_over(&s.data_dir.join(&blob));
    let (ok, _, err) = backup(&s.data_dir, &dir.path().join("b2"));
    assert!(!ok && err.contains(&blob) && err.contains("FIFO"), "{err}");
    std::fs::remove_file(s.data_dir.join(&blob)).unwrap();
    std::fs::copy(kept.join("blob"), s.data_dir.join(&blob)).unwrap();
    let good = dir.path().join("good");
    let (ok, out, err) = backup(&s.data_dir, &good);
    assert!(ok, "{out} {err}");

    // In a backup: a file replaced by a link to one with the same bytes (it would pass the
    // manifest if it were followed), or by a FIFO. Nothing is restored.
    for (name, damage) in [("linked", "link"), ("piped", "fifo")] {
        let copy = dir.path().join(name);
        copy_dir(&good, &copy);
        let file = copy.join(&blob);
        if damage == "link" {
            link_over(&file, &kept.join("blob"));
        } else {
            fifo_over(&file);
        }
        let target = dir.path().join(format!("{name}-restored"));
        let (ok, _, err) = restore(&copy, &target);
        assert!(!ok && err.contains(&blob) && err.contains("does not match its manifest"), "{name}: {err}");
        assert!(err.contains(if damage == "link" { "symbolic link" } else { "FIFO" }), "{name}: {err}");
        assert!(!target.exists(), "{name}");
    }
}

#[tokio::test]
async fn a_restore_that_did_not_finish_is_named_and_refused() {
    let mut s = Server::start();
    s.user("ada").await;
    s.terminate();
    let dir = tempfile::tempdir().unwrap();
    let dest = dir.path().join("backup");
    let (ok, out, err) = backup(&s.data_dir, &dest);
    assert!(ok, "{out} {err}");
    // What a restore cut short by a power cut leaves: its marker, and a part of the backup.
    let target = dir.path().join("half");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join(".restore-incomplete"), "A restore began here").unwrap();
    std::fs::copy(dest.join("audit-signing.key"), target.join("audit-signing.key")).unwrap();
    let (ok, _, err) = restore(&dest, &target);
    assert!(!ok && err.contains(".restore-incomplete") && err.contains("did not finish"), "{err}");
    assert!(err.contains("Empty the directory"), "{err}");
    // Emptied, it is restored into.
    std::fs::remove_file(target.join(".restore-incomplete")).unwrap();
    std::fs::remove_file(target.join("audit-signing.key")).unwrap();
    let (ok, out, err) = restore(&dest, &target);
    assert!(ok, "{out} {err}");
    assert!(!target.join(".restore-incomplete").exists());
}

/// `serve` and every command refuse it (`serve::open` checks for the marker).
#[tokio::test]
async fn the_server_refuses_a_directory_a_restore_did_not_finish() {
    let mut s = Server::start();
    s.terminate();
    std::fs::write(s.data_dir.join(".restore-incomplete"), "A restore began here").unwrap();
    let out = std::process::Command::new(crate::harness::bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&s.data_dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains(".restore-incomplete") && err.contains("did not finish"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
}

/// The effective user of this test, as the owner of a file it creates.
fn my_uid(dir: &Path) -> u32 {
    use std::os::unix::fs::MetadataExt;
    let probe = dir.join("probe");
    std::fs::write(&probe, b"").unwrap();
    let uid = std::fs::metadata(&probe).unwrap().uid();
    std::fs::remove_file(probe).unwrap();
    uid
}

/// Every file and directory under `dir`, with its owner.
fn owners(dir: &Path) -> Vec<(PathBuf, u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        out.push((path.clone(), meta.uid(), meta.gid()));
        if meta.is_dir() {
            out.extend(owners(&path));
        }
    }
    out
}

/// The rule itself, for every user, is tested in `restore::target`; this runs it for real where
/// the tests run as root.
#[tokio::test]
async fn a_restore_runs_as_the_data_directorys_owner_and_root_does_not_restore_for_another_user() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let dir = tempfile::tempdir().unwrap();
    if my_uid(dir.path()) != 0 {
        eprintln!("skipped: only root can run a restore as root and as another user");
        return;
    }
    let mut s = Server::start();
    s.user("ada").await;
    s.terminate();
    let dest = dir.path().join("backup");
    let (ok, out, err) = backup(&s.data_dir, &dest);
    assert!(ok, "{out} {err}");
    // The service user's data directory, made as DEPLOYMENT.md says: root does not restore into
    // it (the service user controls it and the backup), and says what to run instead.
    let (uid, gid) = (4242, 4243);
    let target = dir.path().join("data");
    std::fs::create_dir(&target).unwrap();
    std::os::unix::fs::chown(&target, Some(uid), Some(gid)).unwrap();
    let (ok, out, err) = restore(&dest, &target);
    assert!(!ok && err.contains("belongs to user 4242") && err.contains("sudo -u "), "{out} {err}");
    assert!(std::fs::read_dir(&target).unwrap().next().is_none(), "nothing written");
    // Nor into a directory to be made in that user's directory.
    let (ok, out, err) = restore(&dest, &target.join("inner"));
    assert!(!ok && err.contains("belongs to user 4242"), "{out} {err}");
    assert!(!target.join("inner").exists(), "nothing written");
    // Into root's own directory it restores, warning that the server's account cannot read it.
    let roots = dir.path().join("roots");
    let (ok, out, err) = restore(&dest, &roots);
    assert!(ok && err.contains("cannot read them unless it runs as root"), "{out} {err}");
    assert!(owners(&roots).iter().all(|(_, u, _)| *u == 0));
    // Run as another user than the directory's owner, the restore is refused before anything
    // is written.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let theirs = dir.path().join("theirs");
    std::fs::create_dir(&theirs).unwrap();
    std::fs::set_permissions(&theirs, std::fs::Permissions::from_mode(0o755)).unwrap();
    // The binary where that user can run it (the build's may be in root's home).
    let bin = dir.path().join("wardline");
    std::fs::copy(crate::harness::bin(), &bin).unwrap();
    std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
    let run_as_service_user = |target: &Path| {
        std::process::Command::new(&bin)
            .args(["restore", dest.to_str().unwrap(), "--data-dir"])
            .arg(target)
            .uid(uid)
            .gid(gid)
            .output()
            .unwrap()
    };
    let out = run_as_service_user(&theirs);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("belongs to user 0") && err.contains("runs as user 4242"), "{err}");
    assert!(std::fs::read_dir(&theirs).unwrap().next().is_none(), "nothing written");
    // As the owner, with a backup it can read, it restores; every file is its own.
    for (path, _, _) in owners(&dest).into_iter().chain([(dest.clone(), 0, 0)]) {
        std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).unwrap();
    }
    let out = run_as_service_user(&target);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let all = owners(&target);
    assert!(all.len() > 3, "{all:?}");
    for (path, u, g) in all {
        assert_eq!((u, g), (uid, gid), "{}", path.display());
    }
}
