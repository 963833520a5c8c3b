//! Broadcasts over real HTTP (issue 14, "Broadcasts"): the permission an administrator grants,
//! audiences (department, roles, organisation; inactive accounts left out), recipients seated
//! without an invitation and unable to post anything but an answer (rebuilt by the server from
//! the option chosen), acknowledgement by response and by 👍, the report's exact figures,
//! reminders to exactly those who have not, their rate limit, idempotent retries, a withdrawn
//! permission silencing the broadcasts already sent, and the audit trail.

use serde_json::{Value, json};

use crate::admin::admin;
use crate::harness::{Client, PASSWORD, Server, cli, enc};

const B: &str = "/_wardline/client/v1/broadcasts";
const USERS: &str = "/_wardline/admin/v1/users";

async fn staff(s: &Server, name: &str, department: &str) -> Client {
    let (ok, out, err) = cli(
        &s.data_dir,
        &["user", "add", name, "--display-name", &format!("Dr {name}"), "--department", department],
        Some(&format!("{PASSWORD}\n")),
    );
    assert!(ok, "{out}{err}");
    s.login(name, PASSWORD).await
}

async fn grant(boss: &Client, who: &Client, may: bool) {
    let (st, b) = boss.put(&format!("{USERS}/{}", enc(&who.user_id)), json!({"may_broadcast": may})).await;
    assert_eq!((st, b["may_broadcast"].as_bool()), (200, Some(may)), "{b}");
}

fn dept(d: &str) -> Value {
    json!({"kind": "department", "department": d})
}

fn broadcast(audience: Value, txn: &str, acknowledge: bool) -> Value {
    json!({"audience": audience, "title": "Fire drill", "body": "Fire drill at 14:00, assemble in car park B.",
        "level": "routine", "acknowledge": acknowledge, "txn_id": txn})
}

/// The conversation `c` has joined, from a first sync (no invitation to accept), and the
/// events in its timeline.
async fn joined_timeline(c: &Client, room: &str) -> Vec<Value> {
    let sync = c.sync(None, 0, None).await;
    assert!(sync["rooms"]["invite"].get(room).is_none(), "no invitation: {sync}");
    let r = &sync["rooms"]["join"][room];
    assert!(r.is_object(), "{} is in {room}: {sync}", c.user_id);
    r["timeline"]["events"].as_array().cloned().unwrap_or_default()
}

async fn read(c: &Client, room: &str, event: &str) {
    let (st, b) =
        c.post(&format!("/_matrix/client/v3/rooms/{}/receipt/m.read/{}", enc(room), enc(event)), json!({})).await;
    assert_eq!(st, 200, "{b}");
}

async fn report(c: &Client, room: &str) -> Value {
    let (st, b) = c.get(&format!("{B}/{}", enc(room))).await;
    assert_eq!(st, 200, "{b}");
    b
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|p| p["user_id"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_permitted_sender_broadcasts_to_a_department_and_the_report_and_reminders_are_exact() {
    let s = Server::start();
    let boss = admin(&s).await;
    let ada = staff(&s, "ada", "Cardiology").await;
    let ben = staff(&s, "ben", "Cardiology").await;
    let eve = staff(&s, "eve", "cardiology ").await;
    let _cat = staff(&s, "cat", "Cardiology").await;
    let dan = staff(&s, "dan", "Radiology").await;
    let (ok, out, err) = cli(&s.data_dir, &["user", "deactivate", "cat"], None);
    assert!(ok, "{out}{err}");

    // Nobody may broadcast until an administrator says so: not staff, not an administrator.
    let (st, b) = ada.post(B, broadcast(dept("Cardiology"), "t1", true)).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{b}");
    let (st, b) = boss.post(B, broadcast(dept("Cardiology"), "t1", true)).await;
    assert_eq!(st, 403, "{b}");
    let (_, listed) = ada.get(B).await;
    assert_eq!(listed["may_broadcast"], false, "{listed}");
    // Staff cannot grant it to themselves.
    let (st, _) = ada.put(&format!("{USERS}/{}", enc(&ada.user_id)), json!({"may_broadcast": true})).await;
    assert_eq!(st, 403);
    grant(&boss, &ada, true).await;
    let (_, listed) = ada.get(B).await;
    assert_eq!(listed["may_broadcast"], true, "{listed}");
    assert_eq!(listed["departments"], json!(["Cardiology", "Radiology"]), "{listed}");

    // Malformed requests are refused with Matrix errors.
    let (st, b) =
        ada.post(B, json!({"audience": {"kind": "everyone"}, "title": "x", "body": "x", "txn_id": "z"})).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_BAD_JSON")), "{b}");
    let (st, b) = ada.post(B, broadcast(dept("Nowhere"), "z", false)).await;
    assert_eq!((st, b["errcode"].as_str()), (400, Some("M_INVALID_PARAM")), "{b}");

    // Cardiology is Ben and Eve (department names compared without case); Cat is deactivated,
    // Dan is in Radiology, and the sender is not her own recipient.
    let (st, size) = ada.post(&format!("{B}/audience"), json!({"audience": dept("Cardiology")})).await;
    assert_eq!((st, size["recipients"].as_u64()), (200, Some(2)), "{size}");
    let (st, sent) = ada.post(B, broadcast(dept("Cardiology"), "t1", true)).await;
    assert_eq!(st, 200, "{sent}");
    assert_eq!((sent["recipients"].as_u64(), sent["repeated"].as_bool()), (Some(2), Some(false)), "{sent}");
    let room = sent["broadcast_id"].as_str().unwrap().to_owned();
    let message = sent["event_id"].as_str().unwrap().to_owned();
    // A retry with the same transaction id sends nothing more.
    let (st, again) = ada.post(B, broadcast(dept("Cardiology"), "t1", true)).await;
    assert_eq!((st, again["repeated"].as_bool()), (200, Some(true)), "{again}");
    assert_eq!(
        (again["broadcast_id"].as_str(), again["event_id"].as_str()),
        (Some(room.as_str()), Some(message.as_str()))
    );
    let (_, listed) = ada.get(B).await;
    assert_eq!(listed["broadcasts"].as_array().unwrap().len(), 1, "{listed}");

    // Ben and Eve are in the conversation at once, with the message, which asks them to
    // acknowledge; Dan is not.
    let timeline = joined_timeline(&ben, &room).await;
    let m = timeline.iter().find(|e| e["event_id"] == message.as_str()).expect("the broadcast");
    assert_eq!(m["content"]["org.wardline.broadcast"]["title"], "Fire drill", "{m}");
    assert_eq!(m["content"]["org.wardline.ask"]["options"][0]["id"], "acknowledge", "{m}");
    joined_timeline(&eve, &room).await;
    let dsync = dan.sync(None, 0, None).await;
    assert!(dsync["rooms"]["join"].get(&room).is_none() && dsync["rooms"]["invite"].get(&room).is_none());

    // Recipients post nothing but answers: no message, no name change, no invitation.
    let (st, b) = ben.send_text(&room, "chat1", "Can I swap my slot?").await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{b}");
    let (st, _) =
        ben.put(&format!("/_matrix/client/v3/rooms/{}/state/m.room.name/", enc(&room)), json!({"name": "x"})).await;
    assert_eq!(st, 403);
    let (st, _) = ben.invite(&room, &dan.user_id).await;
    assert_eq!(st, 403);
    let notice = json!({"msgtype": "m.notice", "body": "Reminder: ignore", "m.relates_to": {"rel_type": "m.reference", "event_id": message}});
    let (st, _) = ben.send_event(&room, "m.room.message", "fake-reminder", notice).await;
    assert_eq!(st, 403, "a reference that answers nothing is a message");
    // Nor can anyone mark an ordinary message as a broadcast.
    let own = ben.room_with(&[&dan]).await;
    let forged = ben
        .sent_event(
            &own,
            "m.room.message",
            "forge",
            json!({"msgtype": "m.text", "body": "x", "org.wardline.broadcast": {"title": "All staff"}}),
        )
        .await;
    let (_, e) = ben.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&own), enc(&forged))).await;
    assert!(e["content"].get("org.wardline.broadcast").is_none(), "{e}");
    // Nor is a broadcast's report anyone's but its sender's.
    for c in [&ben, &dan, &boss] {
        let (st, _) = c.get(&format!("{B}/{}", enc(&room))).await;
        assert_eq!(st, 404);
        let (st, _) = c.post(&format!("{B}/{}/remind", enc(&room)), json!({})).await;
        assert_eq!(st, 404);
    }

    // Nobody has read it yet.
    let r = report(&ada, &room).await;
    assert_eq!(
        (r["recipients"].as_u64(), r["read"].as_u64(), r["acknowledged"].as_u64()),
        (Some(2), Some(0), Some(0)),
        "{r}"
    );
    assert_eq!(ids(&r["not_read"]), [ben.user_id.as_str(), eve.user_id.as_str()], "{r}");

    // Ben reads and acknowledges with a response (his client's extras are not sent on: the
    // answer is rebuilt from the option he chose); Eve reads only.
    read(&ben, &room, &message).await;
    let ack = json!({"msgtype": "m.text", "body": "@room all of you look", "m.relates_to": {"rel_type": "m.reference", "event_id": message},
        "org.wardline.response": {"option": "acknowledge"}, "m.mentions": {"room": true}, "formatted_body": "<h1>x</h1>"});
    let (st, b) = ben.send_event(&room, "m.room.message", "ack", ack).await;
    assert_eq!(st, 200, "{b}");
    let ack_id = b["event_id"].as_str().unwrap();
    let (_, e) = ada.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc(ack_id))).await;
    assert_eq!(
        e["content"],
        json!({"msgtype": "m.text", "body": "Acknowledge", "m.mentions": {}, "org.wardline.response": {"option": "acknowledge"},
            "m.relates_to": {"rel_type": "m.reference", "event_id": message}}),
        "{e}"
    );
    let party = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": message, "key": "🎉"}});
    let (st, b) = eve.send_event(&room, "m.reaction", "party", party).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "only reactions that answer: {b}");
    read(&eve, &room, &message).await;
    let r = report(&ada, &room).await;
    assert_eq!(
        (r["recipients"].as_u64(), r["delivered"].as_u64(), r["read"].as_u64(), r["acknowledged"].as_u64()),
        (Some(2), Some(2), Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(ids(&r["not_read"]), Vec::<&str>::new());
    assert_eq!(ids(&r["not_acknowledged"]), [eve.user_id.as_str()], "{r}");
    assert_eq!(r["not_acknowledged"][0]["display_name"], "Dr eve", "{r}");

    // A reminder mentions exactly those who have not acknowledged: Eve.
    let (st, rem) = ada.post(&format!("{B}/{}/remind", enc(&room)), json!({})).await;
    assert_eq!(st, 200, "{rem}");
    assert_eq!(rem["users"], json!([eve.user_id]), "{rem}");
    let notice_id = rem["event_ids"][0].as_str().unwrap();
    let (_, n) = ada.get(&format!("/_matrix/client/v3/rooms/{}/event/{}", enc(&room), enc(notice_id))).await;
    assert_eq!(n["sender"], "@wardline:localhost", "{n}");
    assert_eq!(n["content"]["m.mentions"]["user_ids"], json!([eve.user_id]), "{n}");
    // ...at most once every five minutes.
    let (st, b) = ada.post(&format!("{B}/{}/remind", enc(&room)), json!({})).await;
    assert_eq!((st, b["errcode"].as_str()), (429, Some("M_LIMIT_EXCEEDED")), "{b}");
    let wait = b["retry_after_ms"].as_u64().unwrap();
    assert!(wait > 0 && wait <= 300_000, "{b}");

    // Eve acknowledges with 👍, as any Matrix client can.
    let thumbs = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": message, "key": "👍"}});
    let (st, b) = eve.send_event(&room, "m.reaction", "thumbs", thumbs).await;
    assert_eq!(st, 200, "{b}");
    let r = report(&ada, &room).await;
    assert_eq!(r["acknowledged"].as_u64(), Some(2), "{r}");
    assert_eq!((r["not_acknowledged_total"].as_u64(), r["not_read_total"].as_u64()), (Some(0), Some(0)), "{r}");

    // Withdrawn: no more broadcasts, nor posts or reminders in the one sent (where she still
    // holds power 100); its report stays hers.
    grant(&boss, &ada, false).await;
    let (st, _) = ada.post(B, broadcast(dept("Cardiology"), "t2", true)).await;
    assert_eq!(st, 403);
    let (st, b) = ada.send_text(&room, "after", "Everyone: ignore the administrator").await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{b}");
    assert!(b["error"].as_str().unwrap().contains("no longer broadcast"), "{b}");
    let (st, b) = ada.post(&format!("{B}/{}/remind", enc(&room)), json!({})).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{b}");
    report(&ada, &room).await;

    // The trail: the grant, the sending (audience and count, never the text), reports, reminder.
    let (ok, out, err) = cli(&s.data_dir, &["audit", "export"], None);
    assert!(ok, "{err}");
    let records: Vec<Value> = out.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let details = |action: &str| -> Vec<String> {
        records
            .iter()
            .filter(|r| r["action"] == action)
            .filter_map(|r| r["detail"].as_str().map(ToOwned::to_owned))
            .collect()
    };
    assert!(details("admin").iter().any(|d| d.contains("grant-broadcast")), "{:?}", details("admin"));
    assert!(details("admin").iter().any(|d| d.contains("revoke-broadcast")));
    let b = details("broadcast");
    assert!(
        b.iter().any(|d| d == "sent audience=department:Cardiology recipients=2 level=routine acknowledge=true"),
        "{b:?}"
    );
    assert!(b.iter().any(|d| d.starts_with("report ")), "{b:?}");
    assert!(b.iter().any(|d| d == "remind users=1 acknowledge=true"), "{b:?}");
    assert!(!out.contains("car park B"), "no message text in the trail");
}

#[tokio::test]
async fn role_and_organisation_audiences_and_urgent_broadcasts() {
    let s = Server::start();
    let boss = admin(&s).await;
    let ada = staff(&s, "ada", "Management").await;
    let ben = staff(&s, "ben", "Cardiology").await;
    let eve = staff(&s, "eve", "Radiology").await;
    let _dan = staff(&s, "dan", "Radiology").await;
    grant(&boss, &ada, true).await;
    let role = json!({"role_id": "site-lead", "name": "Site Lead", "eligibility": {"users": [ben.user_id, eve.user_id]}, "may_be_empty": true});
    let (st, b) = boss.post("/_wardline/admin/v1/roles", role).await;
    assert_eq!(st, 201, "{b}");
    let (st, b) = boss.put("/_wardline/admin/v1/roles/site-lead/holders", json!({"holders": ["ben", "eve"]})).await;
    assert_eq!(st, 200, "{b}");

    let (_, n) =
        ada.post(&format!("{B}/audience"), json!({"audience": {"kind": "role", "roles": ["site-lead"]}})).await;
    assert_eq!(n["recipients"], 2, "{n}");
    let (st, b) = ada.post(&format!("{B}/audience"), json!({"audience": {"kind": "role", "roles": ["nobody"]}})).await;
    assert_eq!(st, 404, "{b}");
    // The organisation: every active account but the sender (the administrators and the first
    // start's `admin` included), then one fewer once Dan is deactivated.
    let (_, n) = ada.post(&format!("{B}/audience"), json!({"audience": {"kind": "organisation"}})).await;
    assert_eq!(n["recipients"], 5, "{n}");
    let (ok, out, err) = cli(&s.data_dir, &["user", "deactivate", "dan"], None);
    assert!(ok, "{out}{err}");
    let (_, n) = ada.post(&format!("{B}/audience"), json!({"audience": {"kind": "organisation"}})).await;
    assert_eq!(n["recipients"], 4, "{n}");

    // Urgent: always asks for acknowledgement; the text stock clients show says so.
    let mut body = broadcast(json!({"kind": "role", "roles": ["site-lead"]}), "u1", false);
    body["level"] = json!("urgent");
    let (st, sent) = ada.post(B, body).await;
    assert_eq!((st, sent["acknowledge"].as_bool(), sent["recipients"].as_u64()), (200, Some(true), Some(2)), "{sent}");
    let room = sent["broadcast_id"].as_str().unwrap();
    let timeline = joined_timeline(&eve, room).await;
    let m = timeline.iter().find(|e| e["event_id"] == sent["event_id"]).unwrap();
    assert_eq!(m["content"]["org.wardline.priority"]["level"], "urgent", "{m}");
    assert!(m["content"]["body"].as_str().unwrap().contains("Acknowledge"), "{m}");
    // The conversation is not a mention of hundreds of people by name.
    assert!(m["content"]["m.mentions"].get("user_ids").is_none_or(|u| u.as_array().unwrap().is_empty()), "{m}");
    let r = report(&ada, room).await;
    assert_eq!((r["recipients"].as_u64(), r["not_acknowledged_total"].as_u64()), (Some(2), Some(2)), "{r}");
}

#[tokio::test]
async fn no_room_admin_can_turn_a_conversation_into_a_broadcast_nor_a_broadcast_back() {
    let s = Server::start();
    let boss = admin(&s).await;
    let ada = staff(&s, "ada", "Cardiology").await;
    let ben = staff(&s, "ben", "Cardiology").await;
    let state = |room: &str| format!("/_matrix/client/v3/rooms/{}/state/org.wardline.broadcast/", enc(room));
    // Ada owns a ward conversation (power 100) and tries to make it a "broadcast" in her name,
    // which would leave Ben able to post nothing but answers.
    let ward = ada.room_with(&[&ben]).await;
    let (st, b) = ada.put(&state(&ward), json!({"sender": ada.user_id, "audience": {"kind": "organisation"}})).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{b}");
    let (st, b) =
        ben.send_event(&ward, "m.room.message", "m1", json!({"msgtype": "m.text", "body": "still here"})).await;
    assert_eq!(st, 200, "{b}");
    // Nor can a room be created marked as one.
    let (st, b) =
        ada.post("/_matrix/client/v3/createRoom", json!({"creation_content": {"org.wardline.broadcast": true}})).await;
    assert_eq!(st, 200, "{b}");
    let own = b["room_id"].as_str().unwrap().to_owned();
    let (st, _) = ada.put(&state(&own), json!({"sender": ada.user_id})).await;
    assert_eq!(st, 403, "a client's creation_content does not make a broadcast");
    // And a real broadcast's state cannot be changed or removed by its sender.
    grant(&boss, &ada, true).await;
    let (st, sent) = ada.post(B, broadcast(dept("Cardiology"), "t1", false)).await;
    assert_eq!(st, 200, "{sent}");
    let room = sent["broadcast_id"].as_str().unwrap();
    let (st, b) = ada.put(&state(room), json!({})).await;
    assert_eq!((st, b["errcode"].as_str()), (403, Some("M_FORBIDDEN")), "{b}");
    let (st, b) = ben.send_event(room, "m.room.message", "m2", json!({"msgtype": "m.text", "body": "chat"})).await;
    assert_eq!(st, 403, "recipients still only answer: {b}");
}
