//! Conformance of escalations and their policies ([`crate::EscalationStore`]).

use ruma::{owned_event_id, owned_room_id, owned_user_id};
use wardline_types::Timestamp;
use wardline_types::escalation::{Action, Policy, Step, Target};
use wardline_types::priority::Level;

use super::fail;
use crate::{AnswerDeadline, DeadlineEnd, EscalationEnd, NewEscalation, StepRecord, Store, StoreResult};

fn policy() -> Policy {
    let sb = Target::User { user_id: owned_user_id!("@switchboard:localhost") };
    Policy {
        steps: vec![
            Step { after_ms: 120_000, action: Action::Renotify },
            Step { after_ms: 600_000, action: Action::Failsafe { targets: vec![sb] } },
        ],
    }
}

fn record(step: usize, ts: u64, summary: &str) -> StepRecord {
    StepRecord { step, ts: Timestamp(ts), summary: summary.into() }
}

/// Opening once, due steps, claims with a lease, finishing steps in order, ending, policies.
pub(super) async fn escalations(s: &impl Store) -> StoreResult<()> {
    let id = owned_event_id!("$urgent1");
    let new = NewEscalation {
        event_id: id.clone(),
        room_id: owned_room_id!("!esc:localhost"),
        sender: owned_user_id!("@nurse:localhost"),
        level: Level::Urgent,
        policy: policy(),
        sent: Timestamp(1_000_000),
    };
    check!(s.open_escalation(new.clone()).await?, "opened");
    check!(!s.open_escalation(new.clone()).await?, "a message escalates once");
    let e = s.escalation(&id).await?.ok_or_else(|| fail("stored"))?;
    check!(e.step == 0 && e.due == Some(Timestamp(1_120_000)) && e.ended.is_none(), "due at the first delay");
    check!(e.policy == policy() && e.level == Level::Urgent && e.log.is_empty(), "policy copied");
    check!(s.next_escalation_due().await? == Some(Timestamp(1_120_000)), "next due");
    check!(s.due_escalations(Timestamp(1_119_999), Timestamp(0), 10).await?.is_empty(), "not due yet");
    let due = s.due_escalations(Timestamp(1_120_000), Timestamp(0), 10).await?;
    check!(due.len() == 1, "due");
    // A claim holds the step; another runner can take it over only once the lease ran out.
    check!(s.claim_step(&id, 0, Timestamp(1_120_000), Timestamp(1_060_000)).await?, "claimed");
    check!(!s.claim_step(&id, 0, Timestamp(1_120_001), Timestamp(1_060_001)).await?, "held by its runner");
    check!(s.due_escalations(Timestamp(1_120_001), Timestamp(1_060_001), 10).await?.is_empty(), "claimed: not listed");
    check!(
        s.due_escalations(Timestamp(1_190_000), Timestamp(1_130_000), 10).await?.len() == 1,
        "lease ran out: listed"
    );
    check!(s.claim_step(&id, 0, Timestamp(1_190_000), Timestamp(1_130_000)).await?, "taken over after the lease");
    check!(!s.claim_step(&id, 1, Timestamp(1_190_000), Timestamp(0)).await?, "only the current step");
    // Finishing moves on once.
    check!(
        s.finish_step(&id, record(0, 1_190_001, "Re-notified"), Some(Timestamp(1_600_000)), EscalationEnd::Failsafe)
            .await?,
        "step done"
    );
    check!(
        !s.finish_step(&id, record(0, 1_190_002, "again"), Some(Timestamp(1_600_000)), EscalationEnd::Failsafe).await?,
        "a step finishes once"
    );
    let e = s.escalation(&id).await?.ok_or_else(|| fail("stored"))?;
    check!(e.step == 1 && e.claimed.is_none() && e.due == Some(Timestamp(1_600_000)), "next step due");
    check!(e.log == vec![record(0, 1_190_001, "Re-notified")], "the log");
    let elsewhere = owned_room_id!("!elsewhere:localhost");
    let open = s.open_escalations_in(&[owned_room_id!("!esc:localhost"), elsewhere.clone()], 10).await?;
    check!(open.len() == 1 && open[0].event_id == id, "open escalations of the rooms asked about");
    check!(s.open_escalations_in(&[elsewhere], 10).await?.is_empty(), "only those rooms");
    // A decline makes it due now; never later.
    check!(!s.hasten_escalation(&id, 0, Timestamp(1_200_000)).await?, "not if its step ran meanwhile");
    check!(s.hasten_escalation(&id, 1, Timestamp(1_200_000)).await?, "hastened");
    check!(!s.hasten_escalation(&id, 1, Timestamp(1_300_000)).await?, "never later");
    check!(s.next_escalation_due().await? == Some(Timestamp(1_200_000)), "due now");
    // The last step ends it.
    check!(s.claim_step(&id, 1, Timestamp(1_200_000), Timestamp(0)).await?, "claimed");
    check!(s.finish_step(&id, record(1, 1_200_001, "Failsafe"), None, EscalationEnd::Failsafe).await?, "ended");
    check!(
        s.open_escalations_in(&[owned_room_id!("!esc:localhost")], 10).await?.is_empty(),
        "an ended one is not open"
    );
    let e = s.escalation(&id).await?.ok_or_else(|| fail("stored"))?;
    check!(
        e.ended == Some((EscalationEnd::Failsafe, Timestamp(1_200_001))) && e.due.is_none(),
        "ended at the failsafe"
    );
    check!(!s.end_escalation(&id, EscalationEnd::Accepted, Timestamp(1_300_000)).await?, "ends once");
    check!(s.next_escalation_due().await?.is_none(), "nothing due");
    // Accepted before any step.
    let other = owned_event_id!("$urgent2");
    check!(s.open_escalation(NewEscalation { event_id: other.clone(), ..new }).await?, "opened");
    let answer = owned_event_id!("$thumbs");
    check!(s.accept_escalation(&other, &answer, Timestamp(1_050_000)).await?, "accepted");
    check!(!s.accept_escalation(&other, &owned_event_id!("$late"), Timestamp(1_050_001)).await?, "accepted once");
    let e = s.escalation(&other).await?.ok_or_else(|| fail("stored"))?;
    check!(
        e.ended == Some((EscalationEnd::Accepted, Timestamp(1_050_000))) && e.accepted_by == Some(answer),
        "accepted by that answer"
    );
    check!(!s.claim_step(&other, 0, Timestamp(2_000_000), Timestamp(0)).await?, "an ended escalation runs no step");
    // The acceptance withdrawn: open again, due now; only an accepted one.
    check!(s.reopen_escalation(&other, Timestamp(1_060_000)).await?, "reopened");
    let e = s.escalation(&other).await?.ok_or_else(|| fail("stored"))?;
    check!(e.ended.is_none() && e.due == Some(Timestamp(1_060_000)) && e.step == 0, "due now at its step");
    check!(!s.reopen_escalation(&other, Timestamp(1_070_000)).await?, "only an ended one");
    check!(!s.reopen_escalation(&id, Timestamp(1_070_000)).await?, "never one that reached its failsafe");
    // Policies.
    let by = owned_user_id!("@admin:localhost");
    check!(s.escalation_policy("org", Level::Urgent).await?.is_none(), "no policy yet");
    s.set_escalation_policy("org", Level::Urgent, &policy(), &by, Timestamp(5)).await?;
    s.set_escalation_policy("role:med-reg", Level::Emergency, &policy(), &by, Timestamp(6)).await?;
    check!(s.escalation_policy("org", Level::Urgent).await? == Some(policy()), "set");
    check!(s.escalation_policy("org", Level::Emergency).await?.is_none(), "per level");
    check!(s.escalation_policies().await?.len() == 2, "listed");
    check!(s.remove_escalation_policy("org", Level::Urgent).await?, "removed");
    check!(!s.remove_escalation_policy("org", Level::Urgent).await?, "removed once");
    Ok(())
}

/// Answer deadlines: set once, due in order, ended once.
pub(super) async fn deadlines(s: &impl Store) -> StoreResult<()> {
    let d = |id: &str, due: u64| AnswerDeadline {
        event_id: ruma::OwnedEventId::try_from(id).unwrap_or_else(|_| owned_event_id!("$bad")),
        room_id: owned_room_id!("!ask:localhost"),
        sender: owned_user_id!("@nurse:localhost"),
        due: Timestamp(due),
        ended: None,
    };
    check!(s.next_deadline_due().await?.is_none(), "none yet");
    check!(s.open_deadline(d("$q1", 2_000)).await?, "set");
    check!(!s.open_deadline(d("$q1", 9_000)).await?, "a question has one deadline");
    check!(s.open_deadline(d("$q2", 1_000)).await?, "another");
    check!(s.open_deadline(d("$q3", 5_000)).await?, "a third");
    check!(s.next_deadline_due().await? == Some(Timestamp(1_000)), "the earliest");
    let due = s.due_deadlines(Timestamp(2_000), 10).await?;
    check!(due == vec![d("$q2", 1_000), d("$q1", 2_000)], "due ones, earliest first, unchanged by the second set");
    check!(s.due_deadlines(Timestamp(2_000), 1).await?.len() == 1, "limited");
    let q2 = owned_event_id!("$q2");
    check!(s.end_deadline(&q2, DeadlineEnd::NotAccepted, Timestamp(1_100)).await?, "ended");
    check!(!s.end_deadline(&q2, DeadlineEnd::Accepted, Timestamp(1_200)).await?, "ended once");
    let ended = s.deadline(&q2).await?.ok_or_else(|| fail("stored"))?;
    check!(ended.ended == Some((DeadlineEnd::NotAccepted, Timestamp(1_100))), "how and when it ended");
    check!(s.due_deadlines(Timestamp(10_000), 10).await?.len() == 2, "an ended one is never due again");
    check!(s.next_deadline_due().await? == Some(Timestamp(2_000)), "the next waiting one");
    check!(s.deadline(&owned_event_id!("$none")).await?.is_none(), "no deadline");
    Ok(())
}
