//! The audit trail: what is recorded, that it holds no clinical content or secrets, that
//! `audit verify` catches every kind of tampering, exports and transcripts.

use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{PASSWORD, Server, cli, cli_code, enc};

const SECRET_BODY: &str = "Mrs Patel in bed 12 has a potassium of 6.9";

/// A server that has seen a bit of everything, stopped so its audit trail is complete.
async fn busy_server() -> (Server, Option<tempfile::TempDir>, String, Vec<String>) {
    let mut s = Server::start();
    let keep = s.keep_dir();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let room = a.create_room(json!({"name": "Ward 7", "invite": [b.user_id]})).await;
    b.join(&room).await;
    let (_, sent) = a.send_text(&room, "t1", SECRET_BODY).await;
    let event_id = sent["event_id"].as_str().unwrap().to_owned();
    b.sync(None, 0, None).await;
    b.get(&format!("/_matrix/client/v3/rooms/{}/messages?dir=b", enc(&room))).await;
    b.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc(&event_id))).await;
    b.post(&format!("/_matrix/client/v3/rooms/{}/receipt/m.read/{}", enc(&room), enc(&event_id)), json!({})).await;
    a.invite(&room, "@outsider:example.org").await;
    let c = s.client();
    c.post("/_matrix/client/v3/login", json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "ada"}, "password": "a wrong guess here"})).await;
    a.put(&format!("/_matrix/client/v3/rooms/{}/redact/{}/r1", enc(&room), enc(&event_id)), json!({})).await;
    a.post("/_matrix/client/v3/logout", json!({})).await;
    assert!(s.terminate());
    let tokens = [&a, &b].iter().filter_map(|c| c.token.clone()).collect();
    (s, keep, room, tokens)
}

fn export(data_dir: &Path, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "export"];
    args.extend_from_slice(extra);
    let (ok, out, err) = cli(data_dir, &args, None);
    assert!(ok, "{err}");
    out.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[tokio::test]
async fn actions_are_recorded_without_content_or_secrets() {
    let (s, _keep, room, tokens) = busy_server().await;
    let records = export(&s.data_dir, &[]);
    let has = |action: &str, pred: &dyn Fn(&Value) -> bool| records.iter().any(|r| r["action"] == action && pred(r));
    assert!(
        has("admin", &|r| r["target_user"] == "@ada:localhost" && r["detail"].as_str().unwrap().contains("via=cli"))
    );
    assert!(has("login", &|r| r["actor"] == "@ada:localhost" && r["device"].is_string() && r["ip"] == "127.0.0.1"));
    // An existing account is named by its user id, whatever was typed (`ada`).
    assert!(has("login.failed", &|r| r["target_user"] == "@ada:localhost" && r["outcome"] == "denied"));
    assert!(has("room.create", &|r| r["room_id"] == room.as_str()));
    assert!(has("room.invite", &|r| r["target_user"] == "@ben:localhost" && r["outcome"] == "success"));
    assert!(has("room.invite", &|r| r["target_user"] == "@outsider:example.org" && r["outcome"] == "denied"));
    assert!(has("room.join", &|r| r["actor"] == "@ben:localhost"));
    assert!(has("message.send", &|r| r["actor"] == "@ada:localhost" && r["room_id"] == room.as_str()));
    for via in ["via=sync", "via=messages", "via=event"] {
        assert!(
            has("room.read", &|r| r["actor"] == "@ben:localhost" && r["detail"].as_str().unwrap().contains(via)),
            "{via}"
        );
    }
    assert!(has("message.redact", &|r| r["actor"] == "@ada:localhost"));
    assert!(has("logout", &|r| r["actor"] == "@ada:localhost"));
    let all = serde_json::to_string(&records).unwrap();
    assert!(!all.contains("potassium"), "no message bodies in the audit trail");
    assert!(!all.contains(PASSWORD) && !all.contains("a wrong guess"), "no passwords");
    assert_eq!(tokens.len(), 2);
    assert!(tokens.iter().all(|t| !all.contains(t.as_str())), "no access tokens");
    // Filters.
    let ben = export(&s.data_dir, &["--user", "@ben:localhost"]);
    assert!(
        !ben.is_empty() && ben.iter().all(|r| r["actor"] == "@ben:localhost" || r["target_user"] == "@ben:localhost")
    );
    let in_room = export(&s.data_dir, &["--room", &room]);
    assert!(in_room.iter().all(|r| r["room_id"] == room.as_str()));
    let none = export(&s.data_dir, &["--to", "2000-01-01"]);
    assert!(none.is_empty());
    // Exports are themselves audited.
    let again = export(&s.data_dir, &[]);
    assert!(again.iter().any(|r| r["action"] == "export"));
}

fn db(data_dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(data_dir.join("wardline.db")).unwrap()
}

fn verify(data_dir: &Path) -> (bool, String) {
    let (ok, out, err) = cli(data_dir, &["audit", "verify"], None);
    (ok, format!("{out}{err}"))
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
        }
    }
}

#[tokio::test]
async fn verify_catches_every_kind_of_tampering() {
    let (s, _keep, _, _) = busy_server().await;
    let (ok, out) = verify(&s.data_dir);
    assert!(ok, "{out}");
    assert!(out.contains("audit trail intact"));
    let n: i64 = db(&s.data_dir).query_row("SELECT MAX(seq) FROM audit_log", [], |r| r.get(0)).unwrap();
    assert!(n > 20, "{n} records");
    let work = tempfile::tempdir().unwrap();
    let case = |name: &str, sql: &str, expect: &str| {
        let dir = work.path().join(name);
        copy_dir(&s.data_dir, &dir);
        db(&dir).execute_batch(sql).unwrap();
        let (ok, out) = verify(&dir);
        assert!(!ok, "{name}: tampering not detected: {out}");
        assert!(out.contains(expect), "{name}: expected {expect:?} in {out}");
    };
    case("edited", "UPDATE audit_log SET actor = '@someone-else:localhost' WHERE seq = 10", "record 10 was edited");
    case("deleted", "DELETE FROM audit_log WHERE seq = 10", "record(s) 10 to 10 are missing");
    case("unreadable", "UPDATE audit_log SET action = 'nothing.to.see' WHERE seq = 10", "record 10 cannot be read");
    case(
        "reordered",
        "UPDATE audit_log SET seq = -1 WHERE seq = 10; UPDATE audit_log SET seq = 10 WHERE seq = 11; UPDATE audit_log SET seq = 11 WHERE seq = -1;",
        "record 10",
    );
    case(
        "inserted",
        "UPDATE audit_log SET seq = seq + 1000000 WHERE seq >= 10; UPDATE audit_log SET seq = seq - 1000000 + 1 WHERE seq >= 1000000;
         INSERT INTO audit_log (seq, ts, action, outcome, prev_hash, hash) SELECT 10, 1, 'login', 'success', hash, hash FROM audit_log WHERE seq = 9;",
        "record 10",
    );
    case(
        "truncated",
        &format!("DELETE FROM audit_log WHERE seq > {}; DELETE FROM audit_checkpoints;", n - 5),
        "truncated",
    );
    // A line of the checkpoint file that is no checkpoint is reported as such, and the rest
    // of the trail is still checked.
    let dir = work.path().join("checkpoint-file");
    copy_dir(&s.data_dir, &dir);
    let mut file = std::fs::OpenOptions::new().append(true).open(dir.join("audit-checkpoints.jsonl")).unwrap();
    std::io::Write::write_all(&mut file, b"not a checkpoint\n").unwrap();
    let (ok, out) = verify(&dir);
    assert!(!ok && out.contains("TAMPERING: ") && out.contains("the checkpoint file was changed"), "{out}");
    assert!(out.contains(&format!("checked {n} records")), "{out}");
    // A forger who rewrites the whole chain consistently still breaks the signed checkpoints.
    let dir = work.path().join("rechained");
    copy_dir(&s.data_dir, &dir);
    {
        let conn = db(&dir);
        conn.execute("UPDATE audit_log SET actor = '@framed:localhost' WHERE seq = 5", []).unwrap();
        let mut rows: Vec<(i64, String)> = Vec::new();
        let mut stmt = conn.prepare("SELECT seq, ts, actor, device, ip, action, room_id, event_id, target_user, outcome, detail FROM audit_log ORDER BY seq").unwrap();
        let recs: Vec<(i64, wardline_types::audit::NewAuditRecord)> = stmt
            .query_map([], |r| {
                let action: String = r.get(5)?;
                let outcome: String = r.get(9)?;
                Ok((
                    r.get(0)?,
                    wardline_types::audit::NewAuditRecord {
                        ts: wardline_types::Timestamp(r.get::<_, i64>(1)? as u64),
                        actor: r.get(2)?,
                        device: r.get(3)?,
                        ip: r.get(4)?,
                        action: serde_json::from_value(Value::String(action)).unwrap(),
                        room_id: r.get(6)?,
                        event_id: r.get(7)?,
                        target_user: r.get(8)?,
                        outcome: serde_json::from_value(Value::String(outcome)).unwrap(),
                        detail: r.get(10)?,
                    },
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        let mut prev = wardline_types::audit::GENESIS.to_owned();
        for (seq, rec) in recs {
            let h = wardline_types::audit::AuditRecord::link(seq as u64, &prev, rec).hash;
            rows.push((seq, h.clone()));
            conn.execute(
                "UPDATE audit_log SET prev_hash = ?1, hash = ?2 WHERE seq = ?3",
                rusqlite::params![prev, h, seq],
            )
            .unwrap();
            prev = h;
        }
    }
    let (ok, out) = verify(&dir);
    assert!(!ok, "a rewritten chain was not detected: {out}");
    assert!(out.contains("no longer matches its signed checkpoint"), "{out}");
}

#[tokio::test]
async fn transcript_shows_who_said_what_and_who_read_it() {
    let mut s = Server::start();
    let _keep = s.keep_dir();
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let c = s.user("cat").await;
    let room = a.create_room(json!({"name": "Resus 2", "invite": [b.user_id, c.user_id]})).await;
    b.join(&room).await;
    c.join(&room).await;
    let a_since = a.sync(None, 0, None).await["next_batch"].as_str().unwrap().to_owned();
    let (_, sent) = a.send_text(&room, "t1", "Please review the ECG in bed 3").await;
    let id = sent["event_id"].as_str().unwrap();
    // Ben's device gets it (stored once Ada's long-poll hears of it), he answers and reads it.
    b.sync(None, 0, None).await;
    crate::status::until_counts(&a, &a_since, &room, id, &json!({"recipients": 2, "delivered": 1, "read": 0})).await;
    b.send_text(&room, "t2", "On my way").await;
    b.post(&format!("/_matrix/client/v3/rooms/{}/receipt/m.read/{}", enc(&room), enc(id)), json!({})).await;
    let (_, wrong) = c.send_text(&room, "t3", "Wrong patient, ignore").await;
    c.put(
        &format!("/_matrix/client/v3/rooms/{}/redact/{}/r1", enc(&room), enc(wrong["event_id"].as_str().unwrap())),
        json!({}),
    )
    .await;
    assert!(s.terminate());
    let out_file = s.data_dir.parent().unwrap().join("transcript.txt");
    let (ok, _, err) = cli(&s.data_dir, &["room", "transcript", &room, "--output", out_file.to_str().unwrap()], None);
    assert!(ok, "{err}");
    let text = std::fs::read_to_string(&out_file).unwrap();
    assert!(text.contains("Transcript of \"Resus 2\""), "{text}");
    assert!(text.contains("Dr ada (@ada:localhost): Please review the ECG in bed 3"), "{text}");
    assert!(text.contains("Dr ben (@ben:localhost): On my way"), "{text}");
    assert!(text.contains("delivered to: Dr ben (@ben:localhost) at "), "{text}");
    assert!(text.contains("read by: Dr ben (@ben:localhost) at "), "{text}");
    assert!(text.contains("not delivered to: Dr cat (@cat:localhost)"), "{text}");
    assert!(text.contains("Dr cat (@cat:localhost) joined"), "{text}");
    assert!(
        text.contains("Dr cat (@cat:localhost): [message deleted by Dr cat (@cat:localhost) at ")
            && text.contains("Original, kept for investigations: \"Wrong patient, ignore\"]"),
        "{text}"
    );
    let records = export(&s.data_dir, &["--room", &room]);
    assert!(records.iter().any(|r| r["action"] == "export" && r["detail"].as_str().unwrap().contains("transcript")));
    let (ok, _, err) = cli(&s.data_dir, &["room", "transcript", "!nope:localhost"], None);
    assert!(!ok && err.contains("no such room"), "{err}");
}

// Anchors kept off the machine: the public key and the checkpoints as they were shipped.

use std::path::PathBuf;
use std::process::Stdio;

use wardline_service::audit::CheckpointKey;
use wardline_types::audit::{AuditAction, AuditRecord, Checkpoint, GENESIS, NewAuditRecord, Outcome, Restored};

/// A collector for `audit.checkpoint_url`: stores each body POSTed to it as one line, as an
/// organisation's log host would. Returns its URL.
async fn collector(file: PathBuf) -> String {
    use axum::extract::State;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route(
            "/checkpoints",
            axum::routing::post(|State(file): State<PathBuf>, body: String| async move {
                use std::io::Write;
                let mut out = std::fs::OpenOptions::new().create(true).append(true).open(file).unwrap();
                writeln!(out, "{body}").unwrap();
            }),
        )
        .with_state(file);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/checkpoints")
}

/// Where the copies off the machine are kept.
struct Anchors {
    public_key: PathBuf,
    file: PathBuf,
    collected: PathBuf,
    log: PathBuf,
}

impl Anchors {
    /// A data directory `work/data`, started once, whose public key was stored off the machine at installation,
    /// in `work/elsewhere` with the other anchors, and a collector taking its checkpoints:
    /// (the data directory, the anchors, the collector's URL).
    async fn install(work: &Path) -> (PathBuf, Self, String) {
        let data = work.join("data");
        let anchors = Self::new(&work.join("elsewhere"));
        let url = collector(anchors.collected.clone()).await;
        // Installation: the first start (the only command that makes a data directory), with
        // the anchors configured from the start, then the public key taken off the machine.
        let mut first = anchors.start(&data, &url);
        assert!(first.terminate());
        let (ok, key_hex, err) = cli(&data, &["audit", "public-key"], None);
        assert!(ok && key_hex.trim().len() == 64, "{key_hex}{err}");
        std::fs::write(&anchors.public_key, &key_hex).unwrap();
        (data, anchors, url)
    }

    fn new(dir: &Path) -> Self {
        std::fs::create_dir_all(dir).unwrap();
        Self {
            public_key: dir.join("wardline-audit.pub"),
            file: dir.join("anchor.jsonl"),
            collected: dir.join("collected.jsonl"),
            log: dir.join("server.log"),
        }
    }

    /// A server on `data_dir` shipping its checkpoints here (the log appended to `log`).
    fn start(&self, data_dir: &Path, url: &str) -> Server {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(&self.log).unwrap();
        Server::start_in_with_stderr(
            data_dir,
            &[
                ("WARDLINE_AUDIT__CHECKPOINT_FILE", self.file.to_str().unwrap()),
                ("WARDLINE_AUDIT__CHECKPOINT_URL", url),
                ("WARDLINE_LOG", "warn,audit=info"),
            ],
            Stdio::from(log),
        )
    }

    fn all(&self) -> Vec<&Path> {
        vec![&self.file, &self.collected, &self.log]
    }

    /// The positions of the checkpoints shipped, in order, as each copy holds them.
    fn seqs(path: &Path) -> Vec<u64> {
        let text = std::fs::read_to_string(path).unwrap();
        text.lines()
            .filter(|l| l.contains("wardline-audit-checkpoint ") || l.starts_with('{'))
            .map(|l| {
                let json = &l[l.find('{').unwrap()..];
                serde_json::Deserializer::from_str(json).into_iter::<Checkpoint>().next().unwrap().unwrap().seq
            })
            .collect()
    }
}

/// `wardline audit verify` with the public key and the given checkpoint copies.
fn verify_anchored(data_dir: &Path, public_key: Option<&Path>, checkpoints: &[&Path]) -> (bool, String, Option<u64>) {
    let (code, out, first) = verify_confirming(data_dir, public_key, checkpoints, &[]);
    (code == Some(0), out, first)
}

/// `wardline audit verify` as [`verify_anchored`], confirming the restores at `confirmed`;
/// returns its exit status.
fn verify_confirming(
    data_dir: &Path,
    public_key: Option<&Path>,
    checkpoints: &[&Path],
    confirmed: &[u64],
) -> (Option<i32>, String, Option<u64>) {
    let mut args = vec!["audit".to_owned(), "verify".to_owned()];
    for seq in confirmed {
        args.extend(["--restore-confirmed".to_owned(), seq.to_string()]);
    }
    if let Some(k) = public_key {
        args.extend(["--public-key".to_owned(), k.display().to_string()]);
    }
    for c in checkpoints {
        args.extend(["--checkpoints".to_owned(), c.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, out, err) = cli_code(data_dir, &args, None);
    let first = out
        .lines()
        .find_map(|l| l.strip_prefix("first record where the trail and its checkpoints disagree: "))
        .map(|n| n.trim().parse().unwrap());
    (code, format!("{out}{err}"), first)
}

/// Waits until the server has signed a checkpoint of every record stored so far; returns it.
fn wait_for_checkpoint(data_dir: &Path) -> u64 {
    for _ in 0..600 {
        let conn = db(data_dir);
        let head: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_log", [], |r| r.get(0)).unwrap();
        let cp: i64 = conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM audit_checkpoints", [], |r| r.get(0)).unwrap();
        if head > 0 && cp == head {
            return head as u64;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("the server signed no checkpoint of its head");
}

/// The records as an insider reads them with SQLite.
fn insider_records(conn: &rusqlite::Connection) -> Vec<(u64, NewAuditRecord)> {
    let mut stmt = conn
        .prepare("SELECT seq, ts, actor, device, ip, action, room_id, event_id, target_user, outcome, detail FROM audit_log ORDER BY seq")
        .unwrap();
    stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)? as u64,
            NewAuditRecord {
                ts: wardline_types::Timestamp(r.get::<_, i64>(1)? as u64),
                actor: r.get(2)?,
                device: r.get(3)?,
                ip: r.get(4)?,
                action: AuditAction::from_name(&r.get::<_, String>(5)?).unwrap(),
                room_id: r.get(6)?,
                event_id: r.get(7)?,
                target_user: r.get(8)?,
                outcome: Outcome::from_name(&r.get::<_, String>(9)?).unwrap(),
                detail: r.get(10)?,
            },
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Renumbers the records from 1 without gaps and rebuilds the chain, as the server would have
/// written it; returns the hash at each position.
fn rechain(conn: &rusqlite::Connection) -> Vec<String> {
    let mut prev = GENESIS.to_owned();
    let mut hashes = vec![String::new()];
    for (i, (old, rec)) in insider_records(conn).into_iter().enumerate() {
        let seq = i as u64 + 1;
        let linked = AuditRecord::link(seq, &prev, rec);
        conn.execute(
            "UPDATE audit_log SET seq = ?1, prev_hash = ?2, hash = ?3, hash_version = 2 WHERE seq = ?4",
            rusqlite::params![seq as i64, prev, linked.hash, old as i64],
        )
        .unwrap();
        prev = linked.hash.clone();
        hashes.push(linked.hash);
    }
    hashes
}

fn stored_checkpoints(conn: &rusqlite::Connection) -> Vec<Checkpoint> {
    let mut stmt = conn.prepare("SELECT seq, hash, ts, signature FROM audit_checkpoints ORDER BY seq").unwrap();
    stmt.query_map([], |r| {
        Ok(Checkpoint {
            seq: r.get::<_, i64>(0)? as u64,
            hash: r.get(1)?,
            ts: wardline_types::Timestamp(r.get::<_, i64>(2)? as u64),
            signature: r.get(3)?,
        })
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

/// Replaces the checkpoints in the database and in the data directory's checkpoint file.
fn replace_checkpoints(dir: &Path, conn: &rusqlite::Connection, cps: &[Checkpoint]) {
    conn.execute("DELETE FROM audit_checkpoints", []).unwrap();
    let mut file = String::new();
    for cp in cps {
        conn.execute(
            "INSERT INTO audit_checkpoints (seq, hash, ts, signature) VALUES (?1, ?2, ?3, ?4)",
            rusqlite::params![cp.seq as i64, cp.hash, cp.ts.0 as i64, cp.signature],
        )
        .unwrap();
        file.push_str(&serde_json::to_string(cp).unwrap());
        file.push('\n');
    }
    std::fs::write(dir.join("audit-checkpoints.jsonl"), file).unwrap();
}

fn disk_key(dir: &Path) -> CheckpointKey {
    let text = std::fs::read_to_string(dir.join("audit-signing.key")).unwrap();
    CheckpointKey::from_bytes(&hex::decode(text.trim()).unwrap().try_into().unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn off_box_anchors_expose_a_rewritten_trail() {
    let work = tempfile::tempdir().unwrap();
    // At installation the public key is stored off the machine.
    let (data, anchors, url) = Anchors::install(work.path()).await;

    let mut s = anchors.start(&data, &url);
    let a = s.user("ada").await;
    let b = s.user("ben").await;
    let c = s.user("cy").await;
    let room = a.create_room(json!({"name": "Ward 7", "invite": [b.user_id]})).await;
    b.join(&room).await;
    let (st, up) = a.upload(b"ECG trace".to_vec(), "application/pdf", "ecg.pdf").await;
    assert_eq!(st, 200, "{up}");
    let media = up["content_uri"].as_str().unwrap().strip_prefix("mxc://localhost/").unwrap().to_owned();
    let (st, _) = a
        .put(
            &format!("/_matrix/client/v3/rooms/{}/send/m.room.message/f1", enc(&room)),
            json!({"msgtype": "m.file", "body": "ecg.pdf", "url": up["content_uri"]}),
        )
        .await;
    assert_eq!(st, 200);
    let before = wait_for_checkpoint(&data);
    // What the forger will want gone: a password reset and every refused download.
    let auth =
        json!({"type": "m.login.password", "identifier": {"type": "m.id.user", "user": "ben"}, "password": PASSWORD});
    let (st, body) = b
        .post("/_matrix/client/v3/account/password", json!({"new_password": "a brand new passphrase", "auth": auth}))
        .await;
    assert_eq!(st, 200, "{body}");
    for _ in 0..5 {
        assert_eq!(c.get_raw(&format!("/_matrix/client/v1/media/download/localhost/{media}")).await.0, 404);
    }
    let middle = wait_for_checkpoint(&data);
    for i in 0..5 {
        a.send_text(&room, &format!("later{i}"), "later message").await;
    }
    assert!(s.terminate());

    // Every way of shipping holds the same checkpoints, and the trail verifies against them.
    let shipped = Anchors::seqs(&anchors.file);
    assert!(shipped.contains(&before) && shipped.contains(&middle), "{shipped:?}");
    assert_eq!(Anchors::seqs(&anchors.collected), shipped);
    assert_eq!(Anchors::seqs(&anchors.log), shipped);
    let (ok, out, _) = verify_anchored(&data, Some(&anchors.public_key), &anchors.all());
    assert!(ok && out.contains("audit trail intact"), "{out}");
    let head = *shipped.last().unwrap();

    let case = |name: &str| {
        let dir = work.path().join(name);
        copy_dir(&data, &dir);
        dir
    };
    let first_anchor_from = |seq: u64| shipped.iter().copied().find(|&s| s >= seq).unwrap();

    // 1. Records deleted, the chain rebuilt, the later checkpoints dropped from the database
    //    and from the checkpoint file.
    let dir = case("deleted");
    let conn = db(&dir);
    let doomed: Vec<u64> = insider_records(&conn)
        .into_iter()
        .filter(|(_, r)| {
            r.action == AuditAction::PasswordChange
                || (r.action == AuditAction::MediaDownload && r.outcome == Outcome::Denied)
        })
        .map(|(seq, _)| seq)
        .collect();
    assert_eq!(doomed.len(), 6, "{doomed:?}");
    let d = doomed[0];
    assert!(d > before);
    for seq in &doomed {
        conn.execute("DELETE FROM audit_log WHERE seq = ?1", [*seq as i64]).unwrap();
    }
    let hashes = rechain(&conn);
    let new_head = head - doomed.len() as u64;
    assert_eq!(hashes.len() as u64, new_head + 1);
    let kept: Vec<Checkpoint> = stored_checkpoints(&conn).into_iter().filter(|c| c.seq < d).collect();
    replace_checkpoints(&dir, &conn, &kept);
    let expected = first_anchor_from(d).min(new_head + 1);
    let (ok, out) = verify(&dir);
    assert!(ok, "without anchors the forgery passes, which is why they are needed: {out}");
    assert!(out.contains("warning: without --public-key and --checkpoints"), "{out}");
    let (ok, out, first) = verify_anchored(&dir, Some(&anchors.public_key), &anchors.all());
    assert!(!ok && out.contains("TAMPERING"), "{out}");
    assert_eq!(first, Some(expected), "{out}");
    let agreed = shipped.iter().copied().filter(|&s| s < d).max().unwrap();
    assert!(out.contains(&format!("the trail agrees with its checkpoints up to record {agreed}:")), "{out}");
    // Each way of shipping is enough on its own.
    for one in anchors.all() {
        let (ok, out, first) = verify_anchored(&dir, Some(&anchors.public_key), &[one]);
        assert!(!ok && first == Some(expected), "{}: {out}", one.display());
    }

    // 2. The same, with the checkpoints re-signed for the rebuilt chain with the key on the disk.
    let resign = |key: &CheckpointKey| {
        let mut cps: Vec<Checkpoint> = kept.iter().map(|c| key.sign(c.seq, &c.hash, c.ts)).collect();
        for seq in stored_checkpoints(&db(&data)).iter().map(|c| c.seq).filter(|&s| s >= d && s <= new_head) {
            cps.push(key.sign(seq, &hashes[seq as usize], wardline_types::Timestamp(1)));
        }
        if cps.last().is_none_or(|c| c.seq != new_head) {
            cps.push(key.sign(new_head, &hashes[new_head as usize], wardline_types::Timestamp(1)));
        }
        cps
    };
    let resigned = resign(&disk_key(&dir));
    replace_checkpoints(&dir, &conn, &resigned);
    let (ok, out, first) = verify_anchored(&dir, Some(&anchors.public_key), &anchors.all());
    assert!(!ok, "{out}");
    assert_eq!(first, Some(expected), "{out}");

    //    ...and with a key pair of the forger's own, put in place of the one on the disk.
    let (forger, secret) = CheckpointKey::generate();
    std::fs::write(dir.join("audit-signing.key"), hex::encode(secret)).unwrap();
    let forged = resign(&forger);
    replace_checkpoints(&dir, &conn, &forged);
    let (ok, out) = verify(&dir);
    assert!(ok, "the data directory's own key vouches for the forgery: {out}");
    // Every checkpoint now carries the forger's signature.
    let first_forged = forged[0].seq;
    let (ok, out, first) = verify_anchored(&dir, Some(&anchors.public_key), &[]);
    assert!(!ok && out.contains("invalid signature") && out.contains("it was replaced"), "{out}");
    assert_eq!(first, Some(first_forged), "{out}");
    let (ok, out, first) = verify_anchored(&dir, Some(&anchors.public_key), &anchors.all());
    assert!(!ok, "{out}");
    assert_eq!(first, Some(expected.min(first_forged)), "{out}");
    drop(conn);

    // 3. The tail cut off, with its checkpoints.
    let cut_at = before + 2;
    let cut = |name: &str| {
        let dir = case(name);
        let conn = db(&dir);
        conn.execute("DELETE FROM audit_log WHERE seq > ?1", [cut_at as i64]).unwrap();
        let kept: Vec<Checkpoint> = stored_checkpoints(&conn).into_iter().filter(|c| c.seq <= cut_at).collect();
        replace_checkpoints(&dir, &conn, &kept);
        dir
    };
    let dir = cut("cut");
    let (ok, out) = verify(&dir);
    assert!(ok, "{out}");
    let (ok, out, first) = verify_anchored(&dir, Some(&anchors.public_key), &anchors.all());
    assert!(!ok && out.contains("truncated"), "{out}");
    assert_eq!(first, Some(cut_at + 1), "{out}");

    // 4. The tail cut off and the checkpoint file deleted.
    let dir = cut("cut-and-no-file");
    std::fs::remove_file(dir.join("audit-checkpoints.jsonl")).unwrap();
    let (ok, out) = verify(&dir);
    assert!(ok, "{out}");
    let (ok, out, first) = verify_anchored(&dir, Some(&anchors.public_key), &anchors.all());
    assert!(!ok && out.contains("truncated") && out.contains("missing from the checkpoint file"), "{out}");
    assert_eq!(first, Some(shipped[0]), "{out}");

    //    ...and the checkpoint file deleted alone.
    let dir = case("no-file");
    std::fs::remove_file(dir.join("audit-checkpoints.jsonl")).unwrap();
    let (ok, out, first) = verify_anchored(&dir, Some(&anchors.public_key), &anchors.all());
    assert!(!ok && out.contains("missing from the checkpoint file"), "{out}");
    assert_eq!(first, Some(shipped[0]), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_a_kill_and_a_restart_all_verify_clean() {
    let work = tempfile::tempdir().unwrap();
    let (data, anchors, url) = Anchors::install(work.path()).await;
    let clean = |when: &str| {
        let (ok, out, _) = verify_anchored(&data, Some(&anchors.public_key), &anchors.all());
        assert!(ok && out.contains("audit trail intact"), "after {when}: {out}");
        let (ok, out) = verify(&data);
        assert!(ok, "after {when}, without anchors: {out}");
        // One line per checkpoint in the checkpoint file.
        let seqs = Anchors::seqs(&data.join("audit-checkpoints.jsonl"));
        let mut unique = seqs.clone();
        unique.dedup();
        assert_eq!(seqs, unique, "after {when}");
    };

    let mut s = anchors.start(&data, &url);
    let a = s.user("ada").await;
    let room = a.create_room(json!({"name": "Ward 7"})).await;
    a.send_text(&room, "t1", "first").await;
    // The head is signed before the stop: the stop must not sign it again.
    wait_for_checkpoint(&data);
    assert!(s.terminate());
    clean("a stop");

    let mut s = anchors.start(&data, &url);
    let a = s.login("ada", PASSWORD).await;
    a.send_text(&room, "t2", "second").await;
    wait_for_checkpoint(&data);
    a.send_text(&room, "t3", "third").await;
    s.kill9();
    clean("kill -9");

    let mut s = anchors.start(&data, &url);
    let a = s.login("ada", PASSWORD).await;
    a.send_text(&room, "t4", "fourth").await;
    assert!(s.terminate());
    clean("a restart and a stop");
}

#[tokio::test]
async fn audited_actions_fail_while_the_trail_cannot_be_written() {
    let mut s = Server::start();
    let _keep = s.keep_dir();
    let a = s.user("ada").await;
    let room = a.create_room(json!({"name": "Ward 7"})).await;
    a.send_text(&room, "t1", "first").await;
    let messages = format!("/_matrix/client/v3/rooms/{}/messages?dir=b", enc(&room));
    assert_eq!(a.get(&messages).await.0, 200);
    let mut served = 1;
    // The disk refuses audit records.
    db(&s.data_dir)
        .execute_batch("CREATE TRIGGER refuse BEFORE INSERT ON audit_log BEGIN SELECT RAISE(ABORT, 'disk full'); END;")
        .unwrap();
    // The first read is queued; once the writer finds it cannot store it, reads are refused.
    let mut refused = None;
    for _ in 0..100 {
        let (st, body) = a.get(&messages).await;
        if st != 200 {
            refused = Some((st, body));
            break;
        }
        served += 1;
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let (st, body) = refused.expect("reads went on while the audit trail could not be written");
    assert_eq!(st, 503, "{body}");
    assert!(body["error"].as_str().unwrap().contains("audit trail"), "{body}");
    assert!(!body.to_string().contains("disk full"), "no internal detail: {body}");
    // Once the trail can be written again, so can everything waiting, and reads work again.
    db(&s.data_dir).execute_batch("DROP TRIGGER refuse").unwrap();
    let mut recovered = false;
    for _ in 0..100 {
        if a.get(&messages).await.0 == 200 {
            served += 1;
            recovered = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(recovered, "reads stayed refused after the trail recovered");
    assert!(s.terminate());
    let reads = export(&s.data_dir, &["--room", &room])
        .into_iter()
        .filter(|r| r["action"] == "room.read" && r["detail"].as_str().unwrap().contains("via=messages"))
        .count();
    // Every read that was served is in the trail, the ones queued when the store failed too.
    assert_eq!(reads, served);
    let (ok, out) = verify(&s.data_dir);
    assert!(ok, "{out}");
}

#[cfg(unix)]
#[tokio::test]
async fn exports_transcripts_and_one_time_passwords_are_private_files() {
    use std::os::unix::fs::PermissionsExt;
    let mut s = Server::start();
    let _keep = s.keep_dir();
    let a = s.user("ada").await;
    let room = a.create_room(json!({"name": "Ward 7"})).await;
    assert!(s.terminate());
    let out = tempfile::tempdir().unwrap();
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let readable_by_all = |name: &str| {
        let p = out.path().join(name);
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        p
    };
    let export_file = readable_by_all("audit.jsonl");
    let (ok, _, err) = cli(&s.data_dir, &["audit", "export", "--output", export_file.to_str().unwrap()], None);
    assert!(ok, "{err}");
    assert_eq!(mode(&export_file), 0o600);
    let transcript = readable_by_all("transcript.txt");
    let (ok, _, err) = cli(&s.data_dir, &["room", "transcript", &room, "--output", transcript.to_str().unwrap()], None);
    assert!(ok, "{err}");
    assert_eq!(mode(&transcript), 0o600);
    assert!(std::fs::read_to_string(&transcript).unwrap().contains("Ward 7"));
    let csv = out.path().join("staff.csv");
    std::fs::write(&csv, "username,display_name\ncat,Dr Cat\n").unwrap();
    let passwords = readable_by_all("passwords.csv");
    let (ok, stdout, err) =
        cli(&s.data_dir, &["user", "import", csv.to_str().unwrap(), "--output", passwords.to_str().unwrap()], None);
    assert!(ok && stdout.contains("readable by you only"), "{stdout}{err}");
    assert_eq!(mode(&passwords), 0o600);
    assert!(std::fs::read_to_string(&passwords).unwrap().starts_with("username,one_time_password"));
    // A symbolic link in the way is refused, and what it points at is left alone.
    let target = readable_by_all("elsewhere.txt");
    let link = out.path().join("link.jsonl");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let (ok, _, err) = cli(&s.data_dir, &["audit", "export", "--output", link.to_str().unwrap()], None);
    assert!(!ok && err.contains("symbolic link"), "{err}");
    assert_eq!((mode(&target), std::fs::read_to_string(&target).unwrap()), (0o644, "old".to_owned()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_names_what_no_anchor_covers_and_survives_a_checkpoint_cut_short() {
    let work = tempfile::tempdir().unwrap();
    let (data, anchors, url) = Anchors::install(work.path()).await;
    let mut s = anchors.start(&data, &url);
    let a = s.user("ada").await;
    let room = a.create_room(json!({"name": "Ward 7"})).await;
    a.send_text(&room, "t1", "first").await;
    let shipped = wait_for_checkpoint(&data);
    assert!(s.terminate());

    // Records written after the last checkpoint that left the machine (here by an export run
    // while the server was down) are named: nothing off the machine vouches for them.
    export(&data, &[]);
    let (ok, out, _) = verify_anchored(&data, Some(&anchors.public_key), &anchors.all());
    assert!(ok && out.contains("audit trail intact"), "{out}");
    assert!(out.contains(&format!("the checkpoints kept off the machine cover records 1 to {shipped} ")), "{out}");
    let after = shipped + 1;
    assert!(out.contains(&format!("no checkpoint kept off the machine covers records {after} to {after}:")), "{out}");
    // A file of copies that holds no checkpoint anchors nothing, and says so.
    let empty = work.path().join("empty.jsonl");
    std::fs::write(&empty, "").unwrap();
    let (ok, out, _) = verify_anchored(&data, Some(&anchors.public_key), &[&empty]);
    assert!(ok && out.contains("nothing in it is anchored off the machine"), "{out}");
    assert!(out.contains(&format!("no checkpoint kept off the machine covers records 1 to {after}:")), "{out}");

    // The disk filled (or the power went) halfway through writing a checkpoint to both files.
    for file in [data.join("audit-checkpoints.jsonl"), anchors.file.clone()] {
        let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
        std::io::Write::write_all(&mut f, br#"{"seq":99,"hash":"0123"#).unwrap();
    }
    let (ok, out, _) = verify_anchored(&data, Some(&anchors.public_key), &anchors.all());
    assert!(ok && out.contains("audit trail intact") && out.contains("cut short"), "{out}");
    // The next checkpoints start lines of their own, and are read back.
    let mut s = anchors.start(&data, &url);
    let a = s.login("ada", PASSWORD).await;
    a.send_text(&room, "t2", "second").await;
    let head = wait_for_checkpoint(&data);
    assert!(s.terminate());
    let (ok, out, _) = verify_anchored(&data, Some(&anchors.public_key), &[&anchors.file]);
    assert!(ok && out.contains("audit trail intact"), "{out}");
    assert!(out.contains(&format!("cover records 1 to {head} ")), "{out}");
    assert!(!out.contains("no checkpoint kept off the machine covers"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checkpoints_logged_as_json_or_kept_by_the_journal_anchor_the_trail() {
    let work = tempfile::tempdir().unwrap();
    let (data, anchors, _) = Anchors::install(work.path()).await;
    let log = std::fs::File::create(&anchors.log).unwrap();
    let mut s = Server::start_in_with_stderr(
        &data,
        &[("WARDLINE_LOG__FORMAT", "json"), ("WARDLINE_LOG", "warn,audit=info")],
        Stdio::from(log),
    );
    let a = s.user("ada").await;
    let room = a.create_room(json!({"name": "Ward 7"})).await;
    a.send_text(&room, "t1", "handover at 8").await;
    wait_for_checkpoint(&data);
    assert!(s.terminate());
    let last = *stored_checkpoints(&db(&data)).iter().map(|c| &c.seq).max().unwrap();
    let text = std::fs::read_to_string(&anchors.log).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines.iter().all(|l| l.starts_with('{')), "a JSON log: {text}");
    assert!(text.contains("\"checkpoint\":"), "the checkpoint is a field of its own: {text}");
    // The log as the server wrote it, and as `journalctl -o json` exports it.
    let journal = work.path().join("journal.json");
    let exported: String = lines
        .iter()
        .enumerate()
        .map(|(i, l)| json!({"__CURSOR": format!("s=1;i={i}"), "_PID": "812", "MESSAGE": l}).to_string() + "\n")
        .collect();
    std::fs::write(&journal, exported).unwrap();
    for copy in [&anchors.log, &journal] {
        let (ok, out, _) = verify_anchored(&data, Some(&anchors.public_key), &[copy]);
        assert!(ok && out.contains("audit trail intact"), "{}: {out}", copy.display());
        assert!(out.contains(&format!("cover records 1 to {last} ")), "{}: {out}", copy.display());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_lost_by_a_restore_are_named_as_such_and_tampering_is_still_found() {
    let work = tempfile::tempdir().unwrap();
    let (data, anchors, url) = Anchors::install(work.path()).await;
    let mut s = anchors.start(&data, &url);
    let a = s.user("ada").await;
    let room = a.create_room(json!({"name": "Ward 7"})).await;
    a.send_text(&room, "t1", "before the backup").await;
    let anchored_before = wait_for_checkpoint(&data);
    let backup = work.path().join("backup");
    let (ok, out, err) = cli(&data, &["backup", backup.to_str().unwrap()], None);
    assert!(ok, "{out}{err}");
    let manifest: Value = serde_json::from_slice(&std::fs::read(backup.join("manifest.json")).unwrap()).unwrap();
    let in_backup = manifest["audit_seq"].as_u64().unwrap();
    assert!(anchored_before < in_backup);
    // Written after the backup, checkpointed and shipped off the machine: the restore loses them.
    for i in 0..3 {
        a.send_text(&room, &format!("after{i}"), "after the backup").await;
    }
    wait_for_checkpoint(&data);
    assert!(s.terminate());
    let lost_to = *Anchors::seqs(&anchors.file).iter().max().unwrap();
    assert!(lost_to > in_backup + 1);

    // The disk is lost: the backup is restored into a new data directory and the server started
    // there, shipping its checkpoints to the same places.
    let restored = work.path().join("restored");
    let (ok, out, err) = cli(&restored, &["restore", backup.to_str().unwrap()], None);
    let record = in_backup + 1;
    assert!(ok && out.contains(&format!("audit record {record} says")), "{out}{err}");
    let mut r = anchors.start(&restored, &url);
    // The restore's record is covered by a checkpoint as the server starts.
    assert!(wait_for_checkpoint(&restored) >= record);
    let a = r.login("ada", PASSWORD).await;
    a.send_text(&room, "t9", "after the restore").await;
    wait_for_checkpoint(&restored);
    assert!(r.terminate());
    let restore_record = export(&restored, &[]).into_iter().find(|r| r["action"] == "restore").unwrap();
    assert_eq!(restore_record["seq"], json!(record), "{restore_record}");
    // Who restored it (the user id as the kernel gives it), and from where, the path resolved.
    let detail = restore_record["detail"].as_str().unwrap();
    let source = std::fs::canonicalize(&backup).unwrap();
    assert!(detail.contains(" via=cli os_user=") && detail.contains(" os_uid="), "{detail}");
    assert!(detail.contains(&format!("source={:?}", source.display().to_string())), "{detail}");

    // Checkpoints signed before the restore past the backup's last record name what it lost:
    // said plainly, and not tampering; but not "intact" either until the operator confirms
    // that the restore really was made (a restore record can be forged).
    let lost =
        format!("warning: records {record} to {lost_to} of the original trail (at least) were lost by the restore of ");
    let (code, out, first) = verify_confirming(&restored, Some(&anchors.public_key), &anchors.all(), &[]);
    assert!(code == Some(2) && first.is_none() && !out.contains("TAMPERING"), "{out}");
    assert!(out.contains(&lost) && out.contains(&format!("--restore-confirmed {record}")), "{out}");
    assert!(!out.contains("audit trail intact"), "{out}");
    let (code, out, first) = verify_confirming(&restored, Some(&anchors.public_key), &anchors.all(), &[record]);
    assert!(code == Some(0) && first.is_none() && !out.contains("TAMPERING"), "{out}");
    assert!(out.contains(&lost), "{out}");
    assert!(out.contains("audit trail intact, apart from the records lost by the restore"), "{out}");

    // An insider edits a record the backup kept, rebuilds the chain, makes the restore record
    // name the new hash, and re-signs every checkpoint with the key on the disk: the
    // checkpoints kept off the machine still show it, at or before the backup's last record.
    let dir = work.path().join("edited");
    copy_dir(&restored, &dir);
    let conn = db(&dir);
    conn.execute("UPDATE audit_log SET actor = '@someone-else:localhost' WHERE seq = 2", []).unwrap();
    let hashes = rechain(&conn);
    let detail: String =
        conn.query_row("SELECT detail FROM audit_log WHERE seq = ?1", [record as i64], |r| r.get(0)).unwrap();
    let old = manifest["audit_hash"].as_str().unwrap();
    conn.execute(
        "UPDATE audit_log SET detail = ?1 WHERE seq = ?2",
        rusqlite::params![detail.replace(old, &hashes[in_backup as usize]), record as i64],
    )
    .unwrap();
    let hashes = rechain(&conn);
    let key = disk_key(&dir);
    let resigned: Vec<Checkpoint> =
        stored_checkpoints(&conn).iter().map(|c| key.sign(c.seq, &hashes[c.seq as usize], c.ts)).collect();
    replace_checkpoints(&dir, &conn, &resigned);
    let (ok, out) = verify(&dir);
    assert!(ok, "the data directory alone vouches for itself: {out}");
    let (ok, out, first) = verify_anchored(&dir, Some(&anchors.public_key), &anchors.all());
    assert!(!ok && out.contains("TAMPERING"), "{out}");
    assert!(first.is_some_and(|f| f <= in_backup), "{out}");
}

/// An insider with the data directory (and so the signing key) forges a restore: keeps records
/// 1 to `kept`, writes a restore record after them claiming a backup that ended there, taken
/// at `taken_at`, writes a record of its own after it, and re-signs the checkpoints kept in the
/// data directory. Returns the restore record's position.
fn forge_restore(dir: &Path, kept: u64, taken_at: &str) -> u64 {
    let conn = db(dir);
    conn.execute("DELETE FROM audit_log WHERE seq > ?1", [kept as i64]).unwrap();
    let kept_hash: String = if kept == 0 {
        GENESIS.to_owned()
    } else {
        conn.query_row("SELECT hash FROM audit_log WHERE seq = ?1", [kept as i64], |r| r.get(0)).unwrap()
    };
    let now = now().0 as i64;
    let restored = Restored { backup_taken_at: taken_at.to_owned(), audit_seq: kept, audit_hash: kept_hash };
    for (seq, ts, action, detail) in [
        (kept + 1, now, "restore", Some(format!("{} via=cli os_user=root", restored.detail()))),
        (kept + 2, now + 1, "login", None),
    ] {
        conn.execute(
            "INSERT INTO audit_log (seq, ts, action, outcome, detail, prev_hash, hash) VALUES (?1, ?2, ?3, 'success', ?4, '', '')",
            rusqlite::params![seq as i64, ts, action, detail],
        )
        .unwrap();
    }
    let hashes = rechain(&conn);
    let key = disk_key(dir);
    let mut resigned: Vec<Checkpoint> = stored_checkpoints(&conn)
        .iter()
        .filter(|c| c.seq <= kept)
        .map(|c| key.sign(c.seq, &hashes[c.seq as usize], c.ts))
        .collect();
    resigned.push(key.sign(kept + 2, &hashes[kept as usize + 2], wardline_types::Timestamp(now as u64 + 2)));
    replace_checkpoints(dir, &conn, &resigned);
    kept + 1
}

fn now() -> wardline_types::Timestamp {
    use wardline_types::Clock;
    wardline_types::SystemClock.now()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_restore_does_not_pass_verify() {
    let work = tempfile::tempdir().unwrap();
    let (data, anchors, url) = Anchors::install(work.path()).await;
    let mut s = anchors.start(&data, &url);
    let a = s.user("ada").await;
    let room = a.create_room(json!({"name": "Ward 7"})).await;
    a.send_text(&room, "t1", "first").await;
    wait_for_checkpoint(&data);
    a.send_text(&room, "t2", "second").await;
    wait_for_checkpoint(&data);
    assert!(s.terminate());
    let (ok, out, _) = verify_anchored(&data, Some(&anchors.public_key), &anchors.all());
    assert!(ok && out.contains("audit trail intact"), "{out}");
    let shipped = Anchors::seqs(&anchors.file);
    let first_shipped = *shipped.iter().min().unwrap();
    assert!(shipped.iter().any(|s| *s > first_shipped + 1), "{shipped:?}");
    let ts_of = |seq: u64| -> u64 {
        db(&data).query_row("SELECT ts FROM audit_log WHERE seq = ?1", [seq as i64], |r| r.get::<_, i64>(0)).unwrap()
            as u64
    };

    // Kept: nothing, or the records up to the first checkpoint shipped off the machine. The
    // backup's time is chosen to fit: after the last record kept, before every checkpoint kept
    // off the machine that names a record after it.
    for kept in [0, first_shipped] {
        let taken = wardline_types::Timestamp(if kept == 0 { ts_of(1) - 1 } else { ts_of(kept) }).to_rfc3339();
        let dir = work.path().join(format!("forged-{kept}"));
        copy_dir(&data, &dir);
        let record = forge_restore(&dir, kept, &taken);
        let (code, out, _) = verify_confirming(&dir, Some(&anchors.public_key), &anchors.all(), &[]);
        assert_eq!(code, Some(2), "kept {kept}: a restore nobody confirmed is not intact: {out}");
        assert!(!out.contains("audit trail intact"), "kept {kept}: {out}");
        assert!(out.contains(&format!("NOT CONFIRMED: record {record} says")), "kept {kept}: {out}");
        assert!(out.contains(&format!("--restore-confirmed {record}")), "kept {kept}: {out}");
        // Confirming another restore confirms nothing.
        let (code, _, _) = verify_confirming(&dir, Some(&anchors.public_key), &anchors.all(), &[record + 1]);
        assert_eq!(code, Some(2), "kept {kept}");
    }

    // A forged restore whose times do not fit the trail or the checkpoints kept off the machine
    // is tampering, confirmed or not.
    let kept = first_shipped;
    let last_signed = std::fs::read_to_string(&anchors.file)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Checkpoint>(l).unwrap().ts.0)
        .max()
        .unwrap();
    let cases = [
        // Taken after checkpoints kept off the machine named records past the backup's last.
        (wardline_types::Timestamp(last_signed + 1).to_rfc3339(), "covers record"),
        // Taken before the last record it holds.
        (wardline_types::Timestamp(ts_of(kept) - 60_000).to_rfc3339(), "before record"),
        // Taken after the restore.
        (wardline_types::Timestamp(now().0 + 3_600_000).to_rfc3339(), "taken later"),
        // Not a time.
        ("2026-11-30".to_owned(), "does not say which backup"),
    ];
    for (taken, expect) in cases {
        let dir = work.path().join(format!("forged-at-{}", taken.replace(':', "-")));
        copy_dir(&data, &dir);
        let record = forge_restore(&dir, kept, &taken);
        let (code, out, _) = verify_confirming(&dir, Some(&anchors.public_key), &anchors.all(), &[record]);
        assert_eq!(code, Some(1), "{taken}: {out}");
        assert!(out.contains("TAMPERING") && out.contains(expect), "{taken}: expected {expect:?} in {out}");
    }
}
