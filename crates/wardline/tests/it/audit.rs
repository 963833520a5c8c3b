//! The audit trail: what is recorded, that it holds no clinical content or secrets, that
//! `audit verify` catches every kind of tampering, exports and transcripts.

use std::path::Path;

use serde_json::{Value, json};

use crate::harness::{PASSWORD, Server, cli, enc};

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
            let h = wardline_types::audit::chain_hash(seq as u64, &prev, &rec);
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
    let (_, sent) = a.send_text(&room, "t1", "Please review the ECG in bed 3").await;
    b.send_text(&room, "t2", "On my way").await;
    let id = sent["event_id"].as_str().unwrap();
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
    assert!(text.contains("read by: Dr ben (@ben:localhost)"), "{text}");
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
