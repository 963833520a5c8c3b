//! Escalation over the real store with the manual clock: steps on time, answers that end or
//! hasten it, steps that reach nobody, do-not-disturb, the failsafe (reached, and not
//! reachable), a restart and a crash mid-step, and the checks on saving a policy.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::Duration;

use ruma::{OwnedEventId, OwnedRoomId};
use serde_json::{Value, json};
use wardline_store::{Direction, EscalationEnd, PosRange};
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::escalation::{Action, Policy, Scope, Step, Target};
use wardline_types::priority::Level;
use wardline_types::{Membership, NewAccount, Timestamp, kinds};

use crate::audit::{By, Operator};
use crate::roles::tests::{Night, T0, actor, id, user};
use crate::rooms::{CreateRoom, SendEvent};
use crate::{Config, ServiceError, Services};

mod acceptance;
mod deadlines;

const MIN: u64 = 60_000;

fn op() -> Operator {
    Operator { os_user: "root".into(), os_uid: None }
}

fn person(name: &str) -> Target {
    Target::User { user_id: user(name) }
}

fn step(after_min: u64, action: Action) -> Step {
    Step { after_ms: after_min * MIN, action }
}

impl Night {
    /// Adds Con, a consultant.
    async fn with_consultant(self) -> Self {
        let account = NewAccount {
            user_id: user("con"),
            password_hash: "not a password".into(),
            display_name: Some("Dr con".into()),
            is_admin: false,
            must_change_password: false,
            job_title: Some("Consultant".into()),
            department: Some("Acute Medicine".into()),
            email: None,
            phone: None,
        };
        self.store.create_account(account, T0).await.unwrap();
        self
    }

    /// The organisation's urgent policy: re-notify at these minutes, then the failsafe (Ann).
    async fn renotifying_policy(&self, renotify_at: &[u64], failsafe_at: u64) {
        let mut steps: Vec<Step> = renotify_at.iter().map(|m| step(*m, Action::Renotify)).collect();
        steps.push(step(failsafe_at, Action::Failsafe { targets: vec![person("ann")] }));
        self.set_org_policy(Level::Urgent, steps).await;
    }

    /// The organisation's urgent policy: bring in Con (the consultant) at `add_at` minutes, then
    /// the failsafe (Ann) at `failsafe_at`.
    async fn consultant_then_failsafe(&self, add_at: u64, failsafe_at: u64) {
        let steps = vec![
            step(add_at, Action::Add { targets: vec![person("con")] }),
            step(failsafe_at, Action::Failsafe { targets: vec![person("ann")] }),
        ];
        self.set_org_policy(Level::Urgent, steps).await;
    }

    /// `who` deletes (redacts) `target`.
    async fn delete(&self, who: &str, room: &OwnedRoomId, target: &OwnedEventId) {
        let req = SendEvent {
            room_id: room.clone(),
            kind: kinds::REDACTION.into(),
            state_key: None,
            content: json!({}),
            redacts: Some(target.clone()),
            txn: None,
        };
        self.s.rooms.send(&actor(who), req).await.unwrap();
    }

    async fn set_org_policy(&self, level: Level, steps: Vec<Step>) {
        self.s
            .escalation
            .set_policy(By::Operator(&op()), &Scope::Organisation, level, &Policy { steps })
            .await
            .unwrap();
    }

    /// Nia's conversation with `others`, all joined.
    async fn ward(&self, others: &[&str]) -> OwnedRoomId {
        let req = CreateRoom { invite: others.iter().map(|o| user(o)).collect(), ..CreateRoom::default() };
        let room = self.s.rooms.create_room(&actor("nia"), req).await.unwrap();
        for o in others {
            self.s.rooms.join(&room, &actor(o)).await.unwrap();
        }
        room
    }

    async fn send(&self, who: &str, room: &OwnedRoomId, kind: &str, content: Value) -> OwnedEventId {
        let req =
            SendEvent { room_id: room.clone(), kind: kind.into(), state_key: None, content, redacts: None, txn: None };
        self.s.rooms.send(&actor(who), req).await.unwrap()
    }

    async fn urgent(&self, room: &OwnedRoomId, level: &str, extra: Value) -> OwnedEventId {
        let mut content =
            json!({"msgtype": "m.text", "body": "K+ 6.9 bed 4", "org.wardline.priority": {"level": level}});
        if let (Some(c), Some(e)) = (content.as_object_mut(), extra.as_object()) {
            c.extend(e.clone());
        }
        self.send("nia", room, kinds::MESSAGE, content).await
    }

    async fn react(&self, who: &str, room: &OwnedRoomId, target: &OwnedEventId, key: &str) {
        let content = json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}});
        self.send(who, room, "m.reaction", content).await;
    }

    async fn after(&self, minutes: u64) {
        self.clock.advance(Duration::from_millis(minutes * MIN));
        self.s.escalation.tick().await.unwrap();
    }

    /// The server's notices in the conversation: (body, mentioned user ids).
    async fn notices(&self, room: &OwnedRoomId) -> Vec<(String, Vec<String>)> {
        let events = self
            .store
            .room_events(room, PosRange::upto(self.store.current_pos()), Direction::Forward, 1000)
            .await
            .unwrap();
        events
            .into_iter()
            .filter(|e| e.event.sender == user("wardline") && e.event.kind == kinds::MESSAGE)
            .map(|e| {
                let mentions = e.event.content["m.mentions"]["user_ids"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(|u| u.trim_start_matches('@').split(':').next().unwrap_or("").to_owned())
                            .collect()
                    })
                    .unwrap_or_default();
                (e.event.content["body"].as_str().unwrap_or_default().to_owned(), mentions)
            })
            .collect()
    }

    async fn membership_of(&self, room: &OwnedRoomId, who: &str) -> Option<Membership> {
        self.s.rooms.with_state(room, |s| s.membership(&user(who))).await.unwrap()
    }

    async fn escalation_records(&self) -> Vec<(String, Outcome)> {
        self.s.audit.flush().await.unwrap();
        let records = self.store.audit_records(1, 10_000).await.unwrap();
        records
            .into_iter()
            .filter(|r| r.record.action == AuditAction::Escalation)
            .map(|r| (r.record.detail.unwrap_or_default(), r.record.outcome))
            .collect()
    }
}

#[tokio::test]
async fn nobody_answers_it_renotifies_brings_in_and_ends_at_the_failsafe_on_time() {
    let n = Night::open().await.with_consultant().await;
    n.set_org_policy(
        Level::Urgent,
        vec![
            step(2, Action::Renotify),
            step(4, Action::Add { targets: vec![person("con")] }),
            step(6, Action::Failsafe { targets: vec![person("ann")] }),
        ],
    )
    .await;
    let room = n.ward(&["reg"]).await;
    let msg = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    let esc = n.store.escalation(&msg).await.unwrap().expect("opened");
    assert_eq!(esc.due, Some(Timestamp(T0.0 + 2 * MIN)));

    n.after(1).await;
    assert!(n.notices(&room).await.is_empty(), "nothing before the first step is due");
    n.after(1).await;
    let notices = n.notices(&room).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].0, "No answer after 2 min — notifying again: Dr reg");
    assert_eq!(notices[0].1, vec!["reg"]);
    assert_eq!(
        n.membership_of(&room, "wardline").await,
        Some(Membership::Join),
        "the server's member joined to say so"
    );

    n.after(2).await;
    assert_eq!(n.membership_of(&room, "con").await, Some(Membership::Invite), "the consultant is brought in");
    assert_eq!(n.notices(&room).await[1].0, "No answer after 4 min — brought in: Dr con");

    n.after(2).await;
    assert_eq!(n.membership_of(&room, "ann").await, Some(Membership::Invite), "the failsafe is brought in");
    let last = n.notices(&room).await.pop().unwrap();
    assert_eq!(last.0, "FAILSAFE: nobody accepted in 6 min — brought in: Dr ann");
    assert_eq!(last.1, vec!["ann", "nia"], "the failsafe and the sender are told");
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!(esc.ended, Some((EscalationEnd::Failsafe, Timestamp(T0.0 + 6 * MIN))));
    assert_eq!(esc.log.len(), 3);

    n.after(30).await;
    assert_eq!(n.notices(&room).await.len(), 3, "nothing after the failsafe");
    let records = n.escalation_records().await;
    assert!(records.iter().any(|(d, _)| d.starts_with("opened level=urgent steps=3")), "{records:?}");
    assert_eq!(records.iter().filter(|(d, _)| d.starts_with("step=")).count(), 3, "{records:?}");
}

#[tokio::test]
async fn a_decline_runs_the_next_step_at_once_and_the_first_acceptance_ends_it_for_everyone() {
    let n = Night::open().await;
    n.renotifying_policy(&[2, 4], 10).await;
    let room = n.ward(&["reg", "raj"]).await;
    let msg = n.urgent(&room, "urgent", json!({"org.wardline.ask": {"options": [], "first_accept": true}})).await;
    n.s.escalation.tick().await.unwrap();

    // Raj declines at once: the first step runs now, and re-notifies only Reg.
    let decline = json!({"msgtype": "m.text", "body": "Decline — in theatre",
        "m.relates_to": {"rel_type": "m.reference", "event_id": msg},
        "org.wardline.response": {"option": "decline", "reason": "in theatre"}});
    n.send("raj", &room, kinds::MESSAGE, decline).await;
    n.s.escalation.tick().await.unwrap();
    let notices = n.notices(&room).await;
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0].0, "No answer after 0 min — notifying again: Dr reg");
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!((esc.step, esc.due), (1, Some(Timestamp(T0.0 + 4 * MIN))), "the next step keeps its time");

    // Reg accepts with a stock client's reaction: the escalation ends, the others are told.
    n.clock.advance(Duration::from_secs(30));
    n.react("reg", &room, &msg, "👍").await;
    n.s.escalation.tick().await.unwrap();
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!(esc.ended.map(|(e, _)| e), Some(EscalationEnd::Accepted));
    let notices = n.notices(&room).await;
    assert_eq!(notices[1].0, "✓ Dr reg has taken this (Acknowledge): nobody else needs to answer. Escalation stopped.");
    n.after(20).await;
    assert_eq!(n.notices(&room).await.len(), 2, "no step after the acceptance");

    // The sender's own acknowledgement never ends an escalation.
    let own = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    n.react("nia", &room, &own, "👍").await;
    n.s.escalation.tick().await.unwrap();
    assert!(n.store.escalation(&own).await.unwrap().unwrap().ended.is_none());
}

#[tokio::test]
async fn a_step_that_reaches_nobody_moves_on_at_once_and_urgent_spares_do_not_disturb() {
    let n = Night::open().await;
    n.s.roles.create(By::Operator(&op()), Night::definition("cons", true)).await.unwrap();
    n.set_org_policy(
        Level::Urgent,
        vec![
            step(2, Action::Renotify),
            step(3, Action::Add { targets: vec![Target::Role { role: id("cons") }] }),
            step(10, Action::Failsafe { targets: vec![person("ann")] }),
        ],
    )
    .await;
    let room = n.ward(&["reg"]).await;
    // Reg is on do-not-disturb (without cover): an urgent message does not re-notify him.
    n.s.cover.set(&actor("reg"), Timestamp(T0.0 + 60 * MIN), None).await.unwrap();
    let msg = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    n.after(2).await;
    // Re-notify reached nobody, so the role step ran at once; nobody holds it, so the failsafe
    // ran at once too: all at 2 min, not at 3 and 10.
    n.s.escalation.tick().await.unwrap();
    n.s.escalation.tick().await.unwrap();
    let notices: Vec<String> = n.notices(&room).await.into_iter().map(|(b, _)| b).collect();
    assert_eq!(
        notices,
        vec![
            "Nobody left to notify again: next step.".to_owned(),
            "Nobody could be brought in at this step (not held, unavailable): next step.".to_owned(),
            "FAILSAFE: nobody accepted in 2 min — brought in: Dr ann".to_owned(),
        ]
    );
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!(esc.ended, Some((EscalationEnd::Failsafe, Timestamp(T0.0 + 2 * MIN))));

    // An emergency breaks through do-not-disturb.
    n.set_org_policy(
        Level::Emergency,
        vec![step(1, Action::Renotify), step(5, Action::Failsafe { targets: vec![person("ann")] })],
    )
    .await;
    let resus = n.ward(&["reg"]).await;
    n.urgent(&resus, "emergency", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    n.after(1).await;
    let last = n.notices(&resus).await.pop().unwrap();
    assert_eq!(last, ("No answer after 1 min — notifying again: Dr reg".to_owned(), vec!["reg".to_owned()]));
}

#[tokio::test]
async fn a_failsafe_that_cannot_be_reached_says_so_to_everyone_and_is_audited_as_a_failure() {
    let n = Night::open().await.with_consultant().await;
    n.set_org_policy(Level::Urgent, vec![step(2, Action::Failsafe { targets: vec![person("con")] })]).await;
    let room = n.ward(&["reg"]).await;
    let msg = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    // The failsafe is deactivated after the policy was saved.
    n.s.deactivate_account(By::Operator(&op()), &user("con")).await.unwrap();
    n.after(2).await;
    let (body, mentions) = n.notices(&room).await.pop().unwrap();
    assert!(body.starts_with("FAILSAFE UNREACHABLE: nobody accepted in 2 min"), "{body}");
    assert_eq!(mentions, vec!["nia"], "the sender is told");
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!(esc.ended.map(|(e, _)| e), Some(EscalationEnd::Failsafe));
    let records = n.escalation_records().await;
    assert!(records.iter().any(|(d, o)| d.starts_with("step=1") && *o == Outcome::Failure), "{records:?}");
}

#[tokio::test]
async fn after_a_restart_steps_run_on_time_and_a_crash_mid_step_neither_skips_nor_doubles_it() {
    let n = Night::open().await;
    n.renotifying_policy(&[2, 4], 6).await;
    let room = n.ward(&["reg"]).await;
    let msg = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();

    // The server stops; a second one starts on the same store, knowing nothing in memory.
    let config = Config { data_dir: std::env::temp_dir(), ..Config::default() };
    let second = Services::new(config, std::sync::Arc::clone(&n.store), n.clock.clone()).unwrap();
    tokio::spawn(second.audit.clone().run_writer());
    n.clock.advance(Duration::from_millis(2 * MIN));
    second.escalation.tick().await.unwrap();
    assert_eq!(n.notices(&room).await.len(), 1, "the step ran on time after the restart");

    // Step 2: a runner claims it, posts its notice, and dies before recording it done.
    n.clock.advance(Duration::from_millis(2 * MIN));
    let now = Timestamp(T0.0 + 4 * MIN);
    assert!(n.store.claim_step(&msg, 1, now, Timestamp(0)).await.unwrap());
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    second.escalation.run_step(&esc, now).await.unwrap();
    assert_eq!(n.notices(&room).await.len(), 2);
    // Within the lease nobody takes it over; after it, the step runs again, once.
    second.escalation.tick().await.unwrap();
    assert_eq!(n.store.escalation(&msg).await.unwrap().unwrap().step, 1, "held by the dead runner's claim");
    n.clock.advance(Duration::from_millis(super::LEASE_MS + 1));
    second.escalation.tick().await.unwrap();
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!(esc.step, 2, "taken over and recorded done");
    assert_eq!(n.notices(&room).await.len(), 2, "its notice was not posted twice");
    assert_eq!(esc.log.iter().map(|r| r.step).collect::<Vec<_>>(), vec![0, 1], "no step skipped or doubled");
}

#[tokio::test]
async fn a_decline_read_again_after_a_pass_that_failed_part_way_brings_no_second_step_forward() {
    let n = Night::open().await.with_consultant().await;
    n.consultant_then_failsafe(2, 10).await;
    let room = n.ward(&["reg", "raj"]).await;
    let msg = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    let before_decline = n.store.cursor(super::CURSOR).await.unwrap().expect("stored");

    n.clock.advance(Duration::from_secs(30));
    n.react("raj", &room, &msg, "👎").await;
    n.s.escalation.tick().await.unwrap();
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!((esc.step, esc.due), (1, Some(Timestamp(T0.0 + 10 * MIN))), "the decline brought the consultant in");

    // A pass read the decline and then failed elsewhere: its cursor was not stored, and the
    // next (here, after a restart) reads the same decline again.
    n.store.put_cursor(super::CURSOR, before_decline).await.unwrap();
    let config = Config { data_dir: std::env::temp_dir(), ..Config::default() };
    let second = Services::new(config, std::sync::Arc::clone(&n.store), n.clock.clone()).unwrap();
    tokio::spawn(second.audit.clone().run_writer());
    second.escalation.tick().await.unwrap();
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!((esc.step, esc.due), (1, Some(Timestamp(T0.0 + 10 * MIN))), "the failsafe keeps its time");
    assert!(esc.ended.is_none(), "not at the failsafe 8 minutes early: {esc:?}");
    assert_eq!(n.notices(&room).await.len(), 1, "one step, one notice");
}

#[tokio::test]
async fn a_policy_is_saved_only_with_a_failsafe_that_can_be_reached() {
    let n = Night::open().await;
    let by = By::Staff(&actor("ann"));
    let policy = |steps| Policy { steps };
    let org = Scope::Organisation;
    let none = policy(vec![step(2, Action::Renotify)]);
    let e = n.s.escalation.set_policy(by, &org, Level::Urgent, &none).await.unwrap_err();
    assert!(matches!(e, ServiceError::InvalidParam(ref m) if m.contains("failsafe")), "{e:?}");
    // A role that may be left empty is no failsafe on its own.
    n.s.roles.create(By::Operator(&op()), Night::definition("switchboard", true)).await.unwrap();
    let empty_role =
        policy(vec![step(2, Action::Failsafe { targets: vec![Target::Role { role: id("switchboard") }] })]);
    let e = n.s.escalation.set_policy(by, &org, Level::Urgent, &empty_role).await.unwrap_err();
    assert!(matches!(e, ServiceError::InvalidParam(ref m) if m.contains("cannot be reached")), "{e:?}");
    let unknown = policy(vec![step(2, Action::Failsafe { targets: vec![person("nobody")] })]);
    assert!(n.s.escalation.set_policy(by, &org, Level::Urgent, &unknown).await.is_err());
    let routine = policy(vec![step(2, Action::Failsafe { targets: vec![person("ann")] })]);
    assert!(n.s.escalation.set_policy(by, &org, Level::Routine, &routine).await.is_err(), "routine never escalates");
    // A role that must never be empty is.
    n.s.roles.create(By::Operator(&op()), Night::definition("site-mgr", false)).await.unwrap();
    let ok = policy(vec![step(2, Action::Failsafe { targets: vec![Target::Role { role: id("site-mgr") }] })]);
    n.s.escalation.set_policy(by, &org, Level::Urgent, &ok).await.unwrap();
    let listed = n.s.escalation.policies().await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].policy, ok);

    // The conversation's own policy wins over the organisation's.
    let room = n.ward(&["reg"]).await;
    let own = policy(vec![step(1, Action::Failsafe { targets: vec![person("ann")] })]);
    n.s.escalation.set_policy(by, &Scope::Room(room.clone()), Level::Urgent, &own).await.unwrap();
    let msg = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    assert_eq!(n.store.escalation(&msg).await.unwrap().unwrap().policy, own);
}

#[tokio::test]
async fn the_sender_leaving_does_not_stop_the_escalation() {
    let n = Night::open().await.with_consultant().await;
    n.consultant_then_failsafe(2, 4).await;
    let room = n.ward(&["reg"]).await;
    let msg = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    // The nurse goes off shift and leaves the conversation before anyone answers.
    n.s.rooms.leave(&room, &actor("nia"), None).await.unwrap();
    n.after(2).await;
    assert_eq!(n.membership_of(&room, "con").await, Some(Membership::Invite), "brought in by who is still there");
    assert_eq!(n.notices(&room).await.len(), 1);
    n.after(2).await;
    assert_eq!(n.membership_of(&room, "ann").await, Some(Membership::Invite));
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!(esc.ended.map(|(e, _)| e), Some(EscalationEnd::Failsafe));
}

/// A small simulation: forty urgent messages at pseudo-random times in four wards, whose
/// recipients accept late, decline, or never answer. Every message ends accepted or at its
/// failsafe, and none later than its policy's failsafe.
#[tokio::test]
async fn simulation_every_message_ends_accepted_or_at_the_failsafe_within_its_policy() {
    let n = Night::open().await;
    n.renotifying_policy(&[2, 4], 6).await;
    let wards =
        [n.ward(&["reg", "raj"]).await, n.ward(&["reg"]).await, n.ward(&["raj"]).await, n.ward(&["reg", "raj"]).await];
    // A fixed linear congruential sequence: the same run every time.
    let mut seed: u64 = 0x5eed;
    let mut next = move |m: u64| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) % m
    };
    // (message, ward, minute it is answered and how: 0 accept, 1 decline then accept later, 2 never)
    let mut plan = Vec::new();
    let mut sent = Vec::new();
    for minute in 0..70u64 {
        if minute < 40 {
            let ward = &wards[usize::try_from(next(4)).unwrap()];
            let msg = n.urgent(ward, "urgent", json!({})).await;
            sent.push((msg.clone(), Timestamp(T0.0 + minute * MIN)));
            plan.push((msg, ward.clone(), minute + next(9), next(3)));
        }
        for (msg, ward, at, how) in &plan {
            if *at != minute {
                continue;
            }
            let answerer = if n.membership_of(ward, "reg").await == Some(Membership::Join) { "reg" } else { "raj" };
            match how {
                0 => n.react(answerer, ward, msg, "👍").await,
                1 => n.react(answerer, ward, msg, "👎").await,
                _ => {}
            }
        }
        n.after(1).await;
    }
    let mut accepted = 0;
    let mut failsafe = 0;
    for (msg, sent_at) in &sent {
        let esc = n.store.escalation(msg).await.unwrap().unwrap();
        let (end, at) = esc.ended.unwrap_or_else(|| panic!("{msg} never ended: {esc:?}"));
        match end {
            EscalationEnd::Accepted => accepted += 1,
            EscalationEnd::Failsafe => failsafe += 1,
            EscalationEnd::Cancelled => panic!("nothing was deleted"),
        }
        assert!(at.0 <= sent_at.0 + 6 * MIN + MIN, "{msg} ended {} ms after it was sent", at.0 - sent_at.0);
        let steps: Vec<usize> = esc.log.iter().map(|r| r.step).collect();
        assert_eq!(steps, (0..steps.len()).collect::<Vec<_>>(), "each step once, in order");
    }
    assert_eq!(accepted + failsafe, 40);
    assert!(failsafe > 0 && accepted > 0, "accepted {accepted}, failsafe {failsafe}: both happen");
}

#[tokio::test]
async fn many_steps_due_at_once_each_run_once_in_one_pass_and_each_brings_the_same_person_in() {
    let n = Night::open().await.with_consultant().await;
    n.consultant_then_failsafe(2, 10).await;
    // 20 conversations (more than run side by side), two urgent messages in each: at minute 2
    // every one of the 40 brings the consultant in, the two of a conversation into the same one.
    let mut sent = Vec::new();
    for _ in 0..20 {
        let room = n.ward(&["reg"]).await;
        let first = n.urgent(&room, "urgent", json!({})).await;
        let second = n.urgent(&room, "urgent", json!({})).await;
        sent.push((room, [first, second]));
    }
    n.s.escalation.tick().await.unwrap();
    n.after(2).await;
    for (room, msgs) in &sent {
        for msg in msgs {
            let esc = n.store.escalation(msg).await.unwrap().unwrap();
            assert_eq!((esc.step, esc.log.len()), (1, 1), "{msg}: its step ran once, in one pass: {esc:?}");
            assert_eq!(esc.due, Some(Timestamp(T0.0 + 10 * MIN)), "{msg}: the failsafe keeps its time");
        }
        let notices = n.notices(room).await;
        assert_eq!(
            notices.iter().map(|(body, _)| body.as_str()).collect::<Vec<_>>(),
            ["No answer after 2 min — brought in: Dr con"; 2],
            "both messages reached the consultant (not 'nobody could be brought in')"
        );
        assert_eq!(n.membership_of(room, "con").await, Some(Membership::Invite));
    }
    let records = n.escalation_records().await;
    assert_eq!(records.iter().filter(|(d, _)| d.starts_with("step=1 ")).count(), 40, "{records:?}");
    assert!(records.iter().all(|(_, outcome)| *outcome == Outcome::Success), "{records:?}");
}

#[tokio::test]
async fn a_target_that_cannot_be_brought_in_or_a_step_that_keeps_failing_never_holds_the_failsafe_back() {
    let n = Night::open().await.with_consultant().await;
    n.consultant_then_failsafe(2, 30).await;
    let room = n.ward(&["reg"]).await;
    // The consultant is banned from this conversation: the step cannot reach him and moves on.
    n.s.rooms.ban(&room, &actor("nia"), &user("con"), None).await.unwrap();
    let msg = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    n.after(2).await;
    n.s.escalation.tick().await.unwrap();
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!(esc.ended.map(|(e, _)| e), Some(EscalationEnd::Failsafe), "{esc:?}");
    assert_eq!(n.membership_of(&room, "ann").await, Some(Membership::Invite));

    // The server's notices fail here (no room's settings can refuse them; a fault could). The
    // step is tried again once its lease runs out, then recorded as failed, and the next runs.
    let quiet = n.ward(&["reg"]).await;
    n.s.rooms.refuse_notices.lock().unwrap().insert(quiet.clone());
    n.renotifying_policy(&[2], 30).await;
    let stuck = n.urgent(&quiet, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    n.after(2).await;
    assert_eq!(n.store.escalation(&stuck).await.unwrap().unwrap().step, 0, "the first attempt failed");
    n.after(2).await;
    let esc = n.store.escalation(&stuck).await.unwrap().unwrap();
    assert_eq!(esc.log[0].summary, "step could not run (see the server log): next step");
    // The failsafe's notice cannot be posted either; it is tried twice as well, and ends.
    n.s.escalation.tick().await.unwrap();
    n.after(2).await;
    let esc = n.store.escalation(&stuck).await.unwrap().unwrap();
    assert_eq!(esc.ended.map(|(e, _)| e), Some(EscalationEnd::Failsafe), "the failsafe still ran: {esc:?}");
    assert_eq!(n.membership_of(&quiet, "ann").await, Some(Membership::Invite), "and brought the failsafe in");
    let records = n.escalation_records().await;
    assert!(records.iter().any(|(d, o)| d.contains("could not run") && *o == Outcome::Failure), "{records:?}");
}

#[tokio::test]
async fn declining_again_is_one_refusal_and_a_withdrawn_acceptance_resumes_the_escalation() {
    let n = Night::open().await;
    n.renotifying_policy(&[2, 4], 30).await;
    let room = n.ward(&["reg", "raj"]).await;
    let msg = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    // Raj declines three ways: one step runs, not three.
    for key in ["👎", "❌", "2️⃣"] {
        n.react("raj", &room, &msg, key).await;
        n.s.escalation.tick().await.unwrap();
    }
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert_eq!(esc.step, 1, "one decline, one step: {esc:?}");

    // Reg accepts, then changes his answer to a decline (his latest answer counts): nobody
    // accepts any more, and the escalation resumes at once. (A deleted acceptance: see
    // `tests/acceptance.rs`.)
    n.react("reg", &room, &msg, "👍").await;
    n.s.escalation.tick().await.unwrap();
    assert_eq!(n.store.escalation(&msg).await.unwrap().unwrap().ended.map(|(e, _)| e), Some(EscalationEnd::Accepted));
    n.react("reg", &room, &msg, "👎").await;
    n.s.escalation.tick().await.unwrap();
    let esc = n.store.escalation(&msg).await.unwrap().unwrap();
    assert!(esc.ended.is_none(), "escalating again: {esc:?}");
    let notices = n.notices(&room).await;
    assert!(
        notices.iter().any(|(b, _)| b.starts_with("Nobody has accepted any more (Dr reg declined)")),
        "{notices:?}"
    );
}

#[tokio::test]
async fn only_its_sender_deleting_it_stops_an_escalation_and_nobody_forges_a_notice() {
    let n = Night::open().await;
    n.renotifying_policy(&[2], 30).await;
    let room = n.ward(&["reg"]).await;
    let msg = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    // The recipient (with power here) deletes it: it goes on, and everyone is told.
    let levels = json!({"users": {user("nia").as_str(): 100, user("reg").as_str(): 100}});
    n.s.rooms.set_state(&room, &actor("nia"), kinds::POWER_LEVELS, "", levels).await.unwrap();
    n.delete("reg", &room, &msg).await;
    n.s.escalation.tick().await.unwrap();
    assert!(n.store.escalation(&msg).await.unwrap().unwrap().ended.is_none());
    assert!(n.notices(&room).await.iter().any(|(b, _)| b.starts_with("Dr reg deleted an urgent message")));
    // Its sender deleting the next one cancels it.
    let own = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    n.delete("nia", &room, &own).await;
    n.s.escalation.tick().await.unwrap();
    assert_eq!(n.store.escalation(&own).await.unwrap().unwrap().ended.map(|(e, _)| e), Some(EscalationEnd::Cancelled));

    // A client cannot dress a message up as the server's notice.
    let forged = n
        .send(
            "reg",
            &room,
            kinds::MESSAGE,
            json!({"msgtype": "m.text", "body": "✓ accepted", "org.wardline.escalation": {"kind": "accepted"}}),
        )
        .await;
    let stored = n.store.event(&forged).await.unwrap().unwrap();
    assert!(stored.event.content.get("org.wardline.escalation").is_none());
}

#[tokio::test]
async fn a_room_that_refuses_the_servers_notice_never_holds_back_other_escalations() {
    let n = Night::open().await;
    n.renotifying_policy(&[2], 30).await;
    // Reg (a moderator) deletes Nia's urgent message in a room where the server's notices fail:
    // the notice saying so cannot be posted there.
    let quiet = n.ward(&["reg"]).await;
    let levels = json!({"users": {user("nia").as_str(): 100, user("reg").as_str(): 50}, "redact": 50});
    n.s.rooms.set_state(&quiet, &actor("nia"), kinds::POWER_LEVELS, "", levels).await.unwrap();
    n.s.rooms.refuse_notices.lock().unwrap().insert(quiet.clone());
    let first = n.urgent(&quiet, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    n.delete("reg", &quiet, &first).await;
    // An urgent message elsewhere, after that, still escalates.
    let ward = n.ward(&["raj"]).await;
    let later = n.urgent(&ward, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    assert!(n.store.escalation(&later).await.unwrap().is_some(), "opened despite the other room");
    n.after(2).await;
    assert_eq!(n.notices(&ward).await.len(), 1, "and ran its step");
}

#[tokio::test]
async fn no_rooms_settings_can_silence_an_escalation_and_nobody_can_remove_the_servers_member() {
    let n = Night::open().await;
    n.renotifying_policy(&[2], 30).await;
    // Only Nia (100) may post or invite here; everyone else is at 0, the server's member too.
    let room = n.ward(&["reg"]).await;
    let levels =
        json!({"users": {user("nia").as_str(): 100}, "events_default": 50, "invite": 100, "kick": 50, "ban": 50});
    n.s.rooms.set_state(&room, &actor("nia"), kinds::POWER_LEVELS, "", levels).await.unwrap();
    let msg = n.urgent(&room, "urgent", json!({})).await;
    n.s.escalation.tick().await.unwrap();
    n.after(2).await;
    let notices = n.notices(&room).await;
    assert_eq!(notices.len(), 1, "the step's notice is posted whatever the power levels: {notices:?}");
    assert_eq!(n.store.escalation(&msg).await.unwrap().unwrap().step, 1);
    // Nobody, not even the room's creator at 100, may kick or ban it, or delete its notices.
    let kicked = n.s.rooms.kick(&room, &actor("nia"), &user("wardline"), None).await;
    assert!(
        matches!(&kicked, Err(ServiceError::Forbidden(m)) if m.contains("Wardline's own member cannot be removed")),
        "{kicked:?}"
    );
    let banned = n.s.rooms.ban(&room, &actor("nia"), &user("wardline"), None).await;
    assert!(banned.is_err(), "{banned:?}");
    assert_eq!(n.membership_of(&room, "wardline").await, Some(Membership::Join));
    let notice = n
        .store
        .room_events(&room, PosRange::upto(n.store.current_pos()), Direction::Backward, 5)
        .await
        .unwrap()
        .into_iter()
        .find(|e| e.event.sender == user("wardline") && e.event.kind == kinds::MESSAGE)
        .unwrap();
    let req = SendEvent {
        room_id: room.clone(),
        kind: kinds::REDACTION.into(),
        state_key: None,
        content: json!({}),
        redacts: Some(notice.event.event_id.clone()),
        txn: None,
    };
    let deleted = n.s.rooms.send(&actor("nia"), req).await;
    assert!(matches!(&deleted, Err(ServiceError::Forbidden(m)) if m.contains("cannot be deleted")), "{deleted:?}");
    n.s.audit.flush().await.unwrap();
    let denied = n.store.audit_records(1, 10_000).await.unwrap().into_iter().any(|r| {
        r.record.action == AuditAction::Redact
            && r.record.outcome == Outcome::Denied
            && r.record.detail.as_deref().is_some_and(|d| d.contains("cannot be deleted"))
    });
    assert!(denied, "the attempt is in the audit trail");
    // Its rule is its own: nobody else joins uninvited or posts beyond their level for it.
    let posted =
        n.s.rooms
            .send(
                &actor("reg"),
                crate::rooms::SendEvent {
                    room_id: room.clone(),
                    kind: kinds::MESSAGE.into(),
                    state_key: None,
                    content: json!({"msgtype": "m.text", "body": "hi"}),
                    redacts: None,
                    txn: None,
                },
            )
            .await;
    assert!(matches!(posted, Err(ServiceError::Forbidden(_))), "{posted:?}");
}
