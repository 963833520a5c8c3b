//! The search benchmark's fixture: a Wardline data directory holding a large hospital's ward
//! messages, written through the store crate directly (`wardline-bench seed-search`).
//!
//! Sending a million messages over HTTP would take hours, so accounts and rooms are made by
//! Wardline's own services (the same code `wardline serve` runs, so rooms are exactly what
//! `createRoom` makes) and the messages are appended to the store in large batches. The store
//! indexes them for search in the same transactions, as it does for messages sent over HTTP.
//! Messages appended this way have no audit records (nobody sent them through a session).
//!
//! The searcher (`{prefix}0`) is in half the rooms; in a few of those they joined halfway
//! through and the history is `joined`, so their searches cover only part of those rooms.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use ruma::{OwnedEventId, OwnedRoomId, OwnedUserId};
use serde_json::json;
use wardline_service::accounts::NewStaff;
use wardline_service::audit::Actor;
use wardline_service::rooms::CreateRoom;
use wardline_service::{Config, Services};
use wardline_store::{MetaStore, RoomStore, Store};
use wardline_store_sqlite::{Durability, SqliteStore};
use wardline_types::{Clock, NewEvent, SystemClock, Timestamp, kinds};

use crate::texts::{self, Rng};

/// What to seed.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The data directory to create (it must not hold a database yet).
    pub data_dir: PathBuf,
    /// Messages in all.
    pub messages: usize,
    /// Rooms.
    pub rooms: usize,
    /// Users `{prefix}0..{prefix}{users}`, all with `password`; `{prefix}0` is the searcher.
    pub users: usize,
    /// Username prefix.
    pub user_prefix: String,
    /// The users' password.
    pub password: String,
    /// Seed of the text generator.
    pub seed: u64,
}

/// What was seeded.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Seeded {
    /// Messages appended (edits included).
    pub messages: usize,
    /// Of which edits of an earlier message.
    pub edits: usize,
    /// Rooms.
    pub rooms: usize,
    /// Rooms the searcher is in.
    pub searcher_rooms: usize,
    /// Seconds it took.
    pub seconds: f64,
}

/// Why seeding failed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct SeedError(String);

fn err(what: &str) -> impl Fn(String) -> SeedError + '_ {
    move |e| SeedError(format!("{what}: {e}"))
}

/// Events per store transaction.
const BATCH: usize = 2_000;

fn event_id(r: &mut Rng) -> OwnedEventId {
    let mut bytes = [0u8; 32];
    for chunk in bytes.chunks_mut(8) {
        chunk.copy_from_slice(&r.next_u64().to_le_bytes());
    }
    let id = format!("${}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes));
    OwnedEventId::try_from(id).unwrap_or_else(|_| ruma::owned_event_id!("$x"))
}

/// Seeds the fixture.
pub async fn seed(f: &Fixture) -> Result<Seeded, SeedError> {
    let started = Instant::now();
    std::fs::create_dir_all(&f.data_dir).map_err(|e| err("data directory")(e.to_string()))?;
    let db = f.data_dir.join("wardline.db");
    if db.exists() {
        return Err(SeedError(format!("{} already exists: seed a new data directory", db.display())));
    }
    // The fixture is rebuilt from nothing if lost: commits need not wait for the disk.
    let store = Arc::new(SqliteStore::open(&db, Durability::Normal).map_err(|e| err("open")(e.to_string()))?);
    store.bind_server_name("localhost").await.map_err(|e| err("server name")(e.to_string()))?;
    let mut config = Config { data_dir: f.data_dir.clone(), ..Config::default() };
    config.rate_limits.enabled = false;
    let services = Services::new(config, store.clone() as Arc<dyn Store>, Arc::new(SystemClock))
        .map_err(|e| err("services")(e.to_string()))?;
    tokio::spawn(services.audit.clone().run_writer());

    let users: Vec<OwnedUserId> = (0..f.users.max(2))
        .map(|i| OwnedUserId::try_from(format!("@{}{i}:localhost", f.user_prefix)))
        .collect::<Result<_, _>>()
        .map_err(|e| err("user id")(e.to_string()))?;
    for (i, _) in users.iter().enumerate() {
        services
            .accounts
            .create(NewStaff {
                username: format!("{}{i}", f.user_prefix),
                display_name: Some(format!("Nurse {}", texts::SURNAMES.get(i % texts::SURNAMES.len()).unwrap_or(&"X"))),
                password: Some(f.password.clone()),
                ..NewStaff::default()
            })
            .await
            .map_err(|e| err("account")(e.to_string()))?;
    }
    let searcher = users.first().cloned().ok_or_else(|| SeedError("no users".into()))?;

    // Rooms of six: the searcher is in every other room, arriving halfway (with history
    // `joined`) in every fifth of those.
    let mut rooms: Vec<(OwnedRoomId, Vec<OwnedUserId>)> = Vec::new();
    let mut late: Vec<(OwnedRoomId, OwnedUserId)> = Vec::new();
    for r in 0..f.rooms {
        let mut others: Vec<OwnedUserId> = Vec::new();
        for k in 0..5 {
            let u = &users[1 + (r * 3 + k) % (users.len() - 1)];
            if !others.contains(u) {
                others.push(u.clone());
            }
        }
        let creator = others[0].clone();
        let with_searcher = r % 2 == 0;
        let arrives_late = with_searcher && r % 10 == 4;
        let mut invite: Vec<OwnedUserId> = others[1..].to_vec();
        if with_searcher && !arrives_late {
            invite.push(searcher.clone());
        }
        let mut initial_state = Vec::new();
        if arrives_late {
            initial_state.push((
                kinds::HISTORY_VISIBILITY.to_owned(),
                String::new(),
                json!({"history_visibility": "joined"}),
            ));
        }
        let room = services
            .rooms
            .create_room(
                &Actor::system(creator.clone()),
                CreateRoom {
                    name: Some(format!("Ward {} {}", r + 1, ["North", "South", "East", "West"][r % 4])),
                    topic: Some(format!("Bay {} handover and jobs", r % 6 + 1)),
                    invite: invite.clone(),
                    initial_state,
                    ..CreateRoom::default()
                },
            )
            .await
            .map_err(|e| err("createRoom")(e.to_string()))?;
        for u in &invite {
            services.rooms.join(&room, &Actor::system(u.clone())).await.map_err(|e| err("join")(e.to_string()))?;
        }
        if arrives_late {
            late.push((room.clone(), creator.clone()));
        }
        let mut senders = vec![creator];
        senders.extend(invite.into_iter().filter(|u| *u != searcher));
        rooms.push((room, senders));
    }

    let mut r = Rng::new(f.seed);
    let year_ago = SystemClock.now().0.saturating_sub(365 * 24 * 3600 * 1000);
    let step = (365 * 24 * 3600 * 1000) / (f.messages.max(1) as u64);
    let mut last_by: std::collections::HashMap<(usize, usize), OwnedEventId> = std::collections::HashMap::new();
    let (mut batch, mut edits) = (Vec::with_capacity(BATCH), 0);
    let mut report_at = Instant::now();
    for n in 0..f.messages {
        if n == f.messages / 2 {
            flush(&store, &mut batch).await?;
            for (room, creator) in &late {
                services
                    .rooms
                    .invite(room, &Actor::system(creator.clone()), &searcher, None)
                    .await
                    .map_err(|e| err("invite")(e.to_string()))?;
                services
                    .rooms
                    .join(room, &Actor::system(searcher.clone()))
                    .await
                    .map_err(|e| err("join")(e.to_string()))?;
            }
        }
        let room_ix = r.below(rooms.len());
        let (room, senders) = &rooms[room_ix];
        let sender_ix = r.below(senders.len());
        let body = texts::message(&mut r);
        let id = event_id(&mut r);
        let content = match last_by.get(&(room_ix, sender_ix)) {
            Some(target) if r.chance(1) => {
                edits += 1;
                json!({
                    "msgtype": "m.text", "body": format!("* {body}"),
                    "m.new_content": {"msgtype": "m.text", "body": body},
                    "m.relates_to": {"rel_type": "m.replace", "event_id": target},
                })
            }
            _ => {
                last_by.insert((room_ix, sender_ix), id.clone());
                json!({"msgtype": "m.text", "body": body})
            }
        };
        batch.push(NewEvent {
            event_id: id,
            room_id: room.clone(),
            sender: senders[sender_ix].clone(),
            kind: kinds::MESSAGE.into(),
            state_key: None,
            content,
            origin_server_ts: Timestamp(year_ago + step * n as u64),
            redacts: None,
            txn: None,
        });
        if batch.len() >= BATCH {
            flush(&store, &mut batch).await?;
            if report_at.elapsed() > Duration::from_secs(10) {
                eprintln!("seed-search: {n} of {} messages", f.messages);
                report_at = Instant::now();
            }
        }
    }
    flush(&store, &mut batch).await?;
    services.audit.flush().await.map_err(|e| err("audit")(e.to_string()))?;
    Ok(Seeded {
        messages: f.messages,
        edits,
        rooms: rooms.len(),
        searcher_rooms: (0..f.rooms).filter(|r| r % 2 == 0).count(),
        seconds: started.elapsed().as_secs_f64(),
    })
}

async fn flush(store: &SqliteStore, batch: &mut Vec<NewEvent>) -> Result<(), SeedError> {
    if batch.is_empty() {
        return Ok(());
    }
    store.append_events(std::mem::take(batch), Vec::new()).await.map_err(|e| err("append")(e.to_string()))?;
    Ok(())
}
