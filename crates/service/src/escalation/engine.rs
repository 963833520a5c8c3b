//! The escalation engine: follows the stream from a stored cursor (opening escalations, reading
//! answers and deletions), and runs the steps that are due.

use std::time::{Duration, Instant};

use ruma::{EventId, OwnedEventId};
use serde_json::json;
use wardline_store::{EscalationEnd, NewEscalation, PosRange, StepRecord};
use wardline_types::account::is_server_or_role;
use wardline_types::audit::{AuditAction, Outcome};
use wardline_types::escalation::Action;
use wardline_types::priority::{self, Given, Level, Means};
use wardline_types::relation::{REACTION, rel_types};
use wardline_types::{StoredEvent, StreamPos, Timestamp, kinds};

use super::{EscalationService, LEASE_MS};
use crate::ServiceResult;
use crate::audit::Actor;
use crate::metrics::StepPhase;

/// The name of the engine's cursor in the store (set by migration 0019 to the stream's end
/// when escalations began).
pub const CURSOR: &str = "escalation";

/// Most events of one kind read at a time.
const BATCH: usize = 500;
/// Most due escalations run in one pass.
const DUE_BATCH: usize = 50;
/// Most conversations whose events or steps are handled at once.
const AT_ONCE: usize = 16;
/// The longest the engine sleeps: other nodes' messages are seen within this.
const POLL: Duration = Duration::from_millis(500);
/// The shortest: a step that keeps failing is retried after its lease, not in a tight loop.
const MIN_WAIT: Duration = Duration::from_millis(50);

/// `items` grouped by conversation, each group in the order given, the groups in the order of
/// their first item.
fn by_room<T>(items: Vec<T>, room: impl Fn(&T) -> &ruma::RoomId) -> Vec<Vec<T>> {
    let mut groups: Vec<Vec<T>> = Vec::new();
    let mut index: std::collections::HashMap<ruma::OwnedRoomId, usize> = std::collections::HashMap::new();
    for item in items {
        let at = *index.entry(room(&item).to_owned()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        if let Some(group) = groups.get_mut(at) {
            group.push(item);
        }
    }
    groups
}

/// Runs `work` on each conversation's `items` (grouped by [`by_room`]), up to [`AT_ONCE`]
/// conversations side by side. Every group runs; the first error is returned.
async fn each_room<T, Fut>(
    items: Vec<T>,
    room: impl Fn(&T) -> &ruma::RoomId,
    work: impl Fn(Vec<T>) -> Fut,
) -> ServiceResult<()>
where
    Fut: std::future::Future<Output = ServiceResult<()>>,
{
    use futures::StreamExt as _;
    let results: Vec<ServiceResult<()>> =
        futures::stream::iter(by_room(items, room)).map(work).buffer_unordered(AT_ONCE).collect().await;
    results.into_iter().collect()
}

impl EscalationService {
    /// The background task: a pass ([`Self::tick`]) whenever something is sent, a step falls
    /// due, or [`POLL`] passes.
    pub async fn run_escalations(self: std::sync::Arc<Self>) {
        loop {
            let wait = match self.tick().await {
                Ok(wait) => wait,
                Err(e) => {
                    tracing::error!(error = %e, "escalation pass failed; retrying");
                    Duration::from_secs(1)
                }
            };
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// One pass: everything stored since the cursor is looked at, then every step due by the
    /// clock runs. Returns how long until the next step is due (at most [`POLL`]).
    ///
    /// # Errors
    /// A store that cannot be read or written; what was done stays done.
    pub async fn tick(&self) -> ServiceResult<Duration> {
        let started = Instant::now();
        // Due steps run whatever happened while reading the stream.
        let followed = async {
            while self.follow().await? {}
            Ok::<(), crate::ServiceError>(())
        }
        .await;
        let ran = async {
            self.run_due().await?;
            self.run_due_deadlines().await
        }
        .await;
        // Every pass is timed, a failed one too: a monitor sees passes stop or slow down.
        self.metrics.escalation_pass(started.elapsed());
        ran?;
        followed?;
        let now = self.clock.now();
        let next = [self.store.next_escalation_due().await?, self.store.next_deadline_due().await?];
        let wait = match next.into_iter().flatten().min() {
            Some(due) => Duration::from_millis(due.0.saturating_sub(now.0)).min(POLL),
            None => POLL,
        };
        Ok(wait.max(MIN_WAIT))
    }

    /// Looks at the events stored since the cursor, up to a batch; moves the cursor past them.
    /// Returns whether more may follow.
    async fn follow(&self) -> ServiceResult<bool> {
        let cached = *self.cursor.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let after = match cached {
            Some(p) => p,
            None => self.store.cursor(CURSOR).await?.unwrap_or(StreamPos::ZERO),
        };
        let now = self.store.current_pos();
        if now <= after {
            return Ok(false);
        }
        let range = PosRange::new(after, now);
        let mut upto = now;
        let mut more = false;
        let mut events: Vec<StoredEvent> = Vec::new();
        for kind in [kinds::MESSAGE, REACTION, kinds::REDACTION] {
            let batch = self.store.events_of_kind(kind, range, BATCH).await?;
            if batch.len() >= BATCH
                && let Some(last) = batch.last()
            {
                upto = upto.min(last.stream);
                more = true;
            }
            events.extend(batch);
        }
        events.retain(|e| e.stream <= upto);
        events.sort_by_key(|e| e.stream);
        // A message, its answers and its deletion are in one conversation (the relation rules
        // see to it): each conversation's events are read in the order they were stored, and
        // conversations side by side.
        each_room(events, |e| &e.event.room_id, |events| async move {
                for e in &events {
                    match self.look_at(e).await {
                        Ok(()) => {}
                        // The store failed: the cursor stays and the next pass reads these
                        // events again (what was done is done once: ends, claims and notices
                        // are idempotent, and a decline read again brings nothing forward).
                        Err(err @ crate::ServiceError::Store(_)) => return Err(err),
                        // Anything else (a notice the room refuses…) is this event's alone:
                        // logged, and the cursor moves on, so one room never holds back every
                        // other escalation.
                        Err(err) => {
                            tracing::error!(error = %err, event = %e.event.event_id, "escalation could not act on an event");
                        }
                    }
                }
                Ok(())
            })
            .await?;
        self.store.put_cursor(CURSOR, upto).await?;
        *self.cursor.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(upto);
        Ok(more)
    }

    /// What one event means for escalations.
    async fn look_at(&self, e: &StoredEvent) -> ServiceResult<()> {
        if e.event.kind == kinds::REDACTION {
            if let Some(target) = &e.event.redacts {
                self.cancel(target, e).await?;
            }
            return Ok(());
        }
        self.follow_request(e).await?;
        let content = &e.event.content;
        if let Ok(Some((target, given))) = priority::answer_of(&e.event.kind, content)
            && let Ok(target) = OwnedEventId::try_from(target)
        {
            self.answered(e, &target, &given).await?;
        }
        Ok(())
    }

    /// Opens at once the escalation and answer deadline of a message just sent (the sending
    /// endpoint calls this), so its status and what waits for its recipients are true by the
    /// time its sender is answered. The engine's next pass would open them anyway (opening is
    /// once, whoever comes first): this only saves the wait.
    ///
    /// # Errors
    /// A store that cannot be read or written.
    pub async fn open_now(&self, event_id: &EventId) -> ServiceResult<()> {
        match self.store.event(event_id).await? {
            Some(e) => self.follow_request(&e).await,
            None => Ok(()),
        }
    }

    /// A message that asks: its escalation (urgent, emergency) and its answer deadline opened.
    async fn follow_request(&self, e: &StoredEvent) -> ServiceResult<()> {
        let content = &e.event.content;
        if e.event.kind == kinds::MESSAGE
            && e.event.state_key.is_none()
            && !is_server_or_role(&e.event.sender)
            && e.redacted_because.is_none()
            && wardline_types::relation::relation(content).is_none_or(|r| r.rel_type != rel_types::REPLACE)
            && let Ok(Some(request)) = priority::request_of(content)
        {
            // Broadcasts do not escalate: their report and reminders follow them up (a
            // policy's steps are for one conversation's few recipients, not hundreds).
            if request.level != Level::Routine && content.get(wardline_types::broadcast::BROADCAST).is_none() {
                self.open(e, request.level).await?;
            }
            self.open_deadline(e, &request).await?;
        }
        Ok(())
    }

    /// Opens the escalation of an urgent or emergency message, by the policy that applies now.
    async fn open(&self, message: &StoredEvent, level: Level) -> ServiceResult<()> {
        let policy = match self.alarm_policy(message).await? {
            Some(p) => p,
            None => self.policy_for(&message.event.room_id, level).await?,
        };
        let steps = policy.steps.len();
        let opened = self
            .store
            .open_escalation(NewEscalation {
                event_id: message.event.event_id.clone(),
                room_id: message.event.room_id.clone(),
                sender: message.event.sender.clone(),
                level,
                policy,
                sent: message.event.origin_server_ts,
            })
            .await?;
        if opened {
            let actor = Actor::system(message.event.sender.clone());
            self.record(&actor, message, format!("opened level={} steps={steps}", level.as_str()), Outcome::Success)?;
        }
        Ok(())
    }

    /// An answer to a message that may be escalating: an acceptance ends its escalation (and,
    /// for "first to accept", tells the others it is taken); a decline runs the next step now.
    async fn answered(&self, answer: &StoredEvent, target: &EventId, given: &Given) -> ServiceResult<()> {
        let Some(esc) = self.store.escalation(target).await? else { return Ok(()) };
        if answer.event.sender == esc.sender || answer.redacted_because.is_some() {
            return Ok(());
        }
        let Some(message) = self.store.event(target).await? else { return Ok(()) };
        let Ok(Some(request)) = priority::request_of(&message.event.content) else { return Ok(()) };
        let Some(choice) = given.choice(&request.ask) else { return Ok(()) };
        let by = &answer.event.sender;
        // `replay`: the acceptance that ended it (as the store says) is read again after a crash
        // between ending it and telling everyone: the record and the notice (by its
        // transaction id) are made now.
        let mut replay = false;
        match esc.ended {
            None => {}
            // A decline after the acceptance was taken back: if nobody's latest answer accepts
            // any more, it escalates again, at once.
            Some((EscalationEnd::Accepted, _)) if choice.means == Means::Decline => {
                let name = self.name_of(by).await?;
                let why = format!("Nobody has accepted any more ({name} declined): escalation resumes.");
                let txn = format!("esc-{target}-resumed-{}", answer.event.event_id);
                let detail = format!("resumed: declined option={}", choice.id);
                return self.resume_if_nobody_accepts(&esc, &message, by, why, txn, detail).await;
            }
            Some((EscalationEnd::Accepted, _))
                if choice.means == Means::Accept && esc.accepted_by.as_ref() == Some(&answer.event.event_id) =>
            {
                replay = true;
            }
            Some(_) => return Ok(()),
        }
        match choice.means {
            Means::Accept => {
                // A message that needs several (an incident's team): until that many stand
                // accepting, each acceptance is told and the escalation goes on.
                let needed = request.ask.needed();
                if needed > 1 && !replay {
                    let coming = self.status.status_for_server(&message).await?.answer_counts().0;
                    if coming < needed {
                        return self.accepted_not_enough(&esc, &message, answer, choice, coming, needed).await;
                    }
                }
                if !replay
                    && !self
                        .store
                        .accept_escalation(target, &answer.event.event_id, answer.event.origin_server_ts)
                        .await?
                {
                    return Ok(());
                }
                // Recorded before the notice is tried: who accepted is in the trail even if the
                // conversation cannot be told.
                let actor = Actor::system(by.clone());
                self.record(&actor, &message, format!("accepted option={}", choice.id), Outcome::Success)?;
                let name = self.name_of(by).await?;
                let status = self.status.status_for_server(&message).await?;
                let others: Vec<String> = status
                    .recipients
                    .iter()
                    .filter(|r| &r.user_id != by && r.answer.is_none())
                    .map(|r| r.user_id.to_string())
                    .take(super::steps::MOST_MENTIONS)
                    .collect();
                let body = if request.ask.first_accept {
                    format!(
                        "✓ {name} has taken this ({}): nobody else needs to answer. Escalation stopped.",
                        choice.label
                    )
                } else {
                    format!("✓ {name} accepted ({}). Escalation stopped.", choice.label)
                };
                let mentions = if request.ask.first_accept { others } else { Vec::new() };
                let content = json!({
                    "msgtype": "m.notice",
                    "body": body,
                    "m.mentions": { "user_ids": mentions },
                    super::steps::NOTICE: {
                        "message": target, "kind": "accepted", "by": by, "option": choice.id,
                        "first_accept": request.ask.first_accept,
                    },
                });
                // One notice per acceptance: a later one, after the escalation resumed, is told too.
                let txn = format!("esc-{target}-accepted-{}", answer.event.event_id);
                self.rooms.post_server_notice(&esc.room_id, &esc.sender, &txn, content).await?;
            }
            Means::Decline => {
                // Only a person's first decline moves the escalation on: declining again (👎,
                // then ❌) is the same refusal, not one more step.
                let earlier = crate::messaging::answers_to(self.store.as_ref(), std::slice::from_ref(&message))
                    .await?
                    .into_iter()
                    .any(|a| {
                        &a.user_id == by
                            && a.stream < answer.stream
                            && a.given.choice(&request.ask).is_some_and(|c| c.means == Means::Decline)
                    });
                // The step that was next when they declined: once it has run (brought forward
                // by this decline, or due anyway), the decline has done its part. Reading the
                // same decline again (after a pass that failed part-way) never brings a second
                // step forward.
                let next_then = esc
                    .log
                    .iter()
                    .filter(|r| r.ts <= answer.event.origin_server_ts)
                    .map(|r| r.step + 1)
                    .max()
                    .unwrap_or(0);
                // Every decline is recorded, with what it did.
                let what = if earlier {
                    "declined again: no further step"
                } else if esc.step != next_then {
                    "the step it brought forward has run"
                } else if self.store.hasten_escalation(target, esc.step, self.clock.now()).await? {
                    "next step now"
                } else {
                    "its step was already running or due"
                };
                let actor = Actor::system(by.clone());
                self.record(&actor, &message, format!("declined option={}: {what}", choice.id), Outcome::Success)?;
            }
            Means::Info => {}
        }
        Ok(())
    }

    /// A message deleted by its sender stops escalating; deleted by anyone else, it goes on
    /// (to its failsafe, as nobody can answer it any more), and everyone is told who deleted it.
    async fn cancel(&self, target: &EventId, redaction: &StoredEvent) -> ServiceResult<()> {
        self.cancel_deadline(target, redaction).await?;
        let Some(esc) = self.store.escalation(target).await? else {
            return self.withdrawn(target, redaction).await;
        };
        if esc.ended.is_some() {
            return Ok(());
        }
        let Some(message) = self.store.event(target).await? else { return Ok(()) };
        let by = &redaction.event.sender;
        let actor = Actor::system(by.clone());
        if *by == esc.sender {
            if self.store.end_escalation(target, EscalationEnd::Cancelled, redaction.event.origin_server_ts).await? {
                self.record(
                    &actor,
                    &message,
                    "cancelled: the message was deleted by its sender".into(),
                    Outcome::Success,
                )?;
            }
            return Ok(());
        }
        let name = self.name_of(by).await?;
        let content = json!({
            "msgtype": "m.text",
            "body": format!("{name} deleted an urgent message before anyone accepted it: its escalation goes on."),
            "m.mentions": { "user_ids": [esc.sender] },
            super::steps::NOTICE: { "message": target, "kind": "deleted", "by": by },
        });
        self.rooms.post_server_notice(&esc.room_id, &esc.sender, &format!("esc-{target}-deleted"), content).await?;
        self.record(&actor, &message, "deleted by someone else: escalation goes on".into(), Outcome::Success)
    }

    /// A deleted event that was an acceptance: if nobody accepts the message any more, its
    /// escalation resumes.
    async fn withdrawn(&self, deleted: &EventId, redaction: &StoredEvent) -> ServiceResult<()> {
        let Some(answer) = self.store.event(deleted).await? else { return Ok(()) };
        let Some(original) = self.store.original_content(deleted).await? else { return Ok(()) };
        let Ok(Some((target, given))) = priority::answer_of(&answer.event.kind, &original) else { return Ok(()) };
        let Ok(target) = OwnedEventId::try_from(target) else { return Ok(()) };
        let Some(esc) = self.store.escalation(&target).await? else { return Ok(()) };
        if !matches!(esc.ended, Some((EscalationEnd::Accepted, _))) {
            return Ok(());
        }
        let Some(message) = self.store.event(&target).await? else { return Ok(()) };
        let Ok(Some(request)) = priority::request_of(&message.event.content) else { return Ok(()) };
        if given.choice(&request.ask).is_none_or(|c| c.means != Means::Accept) {
            return Ok(());
        }
        // Named as who deleted it: a moderator deleting someone's acceptance is not that person
        // withdrawing it.
        let (accepter, deleter) = (&answer.event.sender, &redaction.event.sender);
        let name = self.name_of(accepter).await?;
        let (why, detail) = if deleter == accepter {
            (
                format!("Nobody has accepted any more ({name} withdrew their answer): escalation resumes."),
                "resumed: acceptance withdrawn".to_owned(),
            )
        } else {
            let who = self.name_of(deleter).await?;
            (
                format!("Nobody has accepted any more ({who} deleted {name}'s acceptance): escalation resumes."),
                format!("resumed: acceptance by {accepter} deleted"),
            )
        };
        let txn = format!("esc-{target}-resumed-{}", redaction.event.event_id);
        self.resume_if_nobody_accepts(&esc, &message, deleter, why, txn, detail).await
    }

    /// Nobody's latest answer accepts the message any more (an acceptance declined after, or
    /// deleted): its escalation, ended as accepted, opens again due now, and everyone is told.
    /// Told and recorded before it reopens, so a crash in between tells once (the transaction
    /// id) and the next reading reopens it.
    /// One more of the several a message needs accepted (`coming` of `needed` now): recorded
    /// and told, and the escalation goes on.
    async fn accepted_not_enough(
        &self,
        esc: &wardline_store::Escalation,
        message: &StoredEvent,
        answer: &StoredEvent,
        choice: &wardline_types::priority::Choice,
        coming: u64,
        needed: u64,
    ) -> ServiceResult<()> {
        let by = &answer.event.sender;
        let actor = Actor::system(by.clone());
        let detail = format!("accepted option={}: {coming} of {needed} needed, escalation goes on", choice.id);
        self.record(&actor, message, detail, Outcome::Success)?;
        let name = self.name_of(by).await?;
        let content = json!({
            "msgtype": "m.notice",
            "body": format!("✓ {name} ({}): {coming} of {needed} needed. Escalation goes on.", choice.label),
            "m.mentions": {},
            super::steps::NOTICE: {
                "message": esc.event_id, "kind": "accepted_some", "by": by, "option": choice.id,
                "coming": coming, "needed": needed,
            },
        });
        let txn = format!("esc-{}-accepted-{}", esc.event_id, answer.event.event_id);
        self.rooms.post_server_notice(&esc.room_id, &esc.sender, &txn, content).await?;
        Ok(())
    }

    async fn resume_if_nobody_accepts(
        &self,
        esc: &wardline_store::Escalation,
        message: &StoredEvent,
        by: &ruma::UserId,
        why: String,
        txn: String,
        detail: String,
    ) -> ServiceResult<()> {
        let status = self.status.status_for_server(message).await?;
        // Enough still stand accepting (one, or the several the message needs).
        let needed = priority::request_of(&message.event.content).ok().flatten().map_or(1, |r| r.ask.needed());
        if status.answer_counts().0 >= needed {
            return Ok(());
        }
        self.record(&Actor::system(by.to_owned()), message, detail, Outcome::Success)?;
        let content = json!({
            "msgtype": "m.text",
            "body": why,
            "m.mentions": { "user_ids": [esc.sender] },
            super::steps::NOTICE: { "message": esc.event_id, "kind": "resumed", "by": by },
        });
        self.rooms.post_server_notice(&esc.room_id, &esc.sender, &txn, content).await?;
        self.store.reopen_escalation(&esc.event_id, self.clock.now()).await?;
        Ok(())
    }

    /// Whether someone stands accepting `esc`'s message by an answer stored after the engine's
    /// cursor (so not read yet). An acceptance already read never holds a step back.
    async fn acceptance_unread(&self, esc: &wardline_store::Escalation) -> ServiceResult<bool> {
        let Some(message) = self.store.event(&esc.event_id).await? else { return Ok(false) };
        let status = self.status.status_for_server(&message).await?;
        let read_to = self.cursor.lock().unwrap_or_else(std::sync::PoisonError::into_inner).unwrap_or(StreamPos::ZERO);
        let accepting = status
            .recipients
            .iter()
            .filter_map(|r| r.answer.as_ref())
            .chain(status.other_answers.iter().map(|(_, a)| a))
            .filter(|a| a.stands == Some(Means::Accept));
        for a in accepting {
            if self.store.event(&a.event_id).await?.is_some_and(|e| e.stream > read_to) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Runs every step due by the clock, each claimed first and recorded done after. Steps in
    /// different conversations run side by side (up to [`AT_ONCE`]): each is claimed on its
    /// own row, so no two runners ever hold the same step, and their writes share the store's
    /// commits instead of queueing one step behind another.
    ///
    /// # Errors
    /// The first store failure; every other step of the pass still ran (or stays claimed until
    /// its lease runs out).
    pub(super) async fn run_due(&self) -> ServiceResult<()> {
        let now = self.clock.now();
        let lease_from = Timestamp(now.0.saturating_sub(LEASE_MS));
        let due = self.store.due_escalations(now, lease_from, DUE_BATCH).await?;
        each_room(
            due,
            |esc| &esc.room_id,
            |steps| async move {
                // One conversation's steps one after another, in the order they fell due (its
                // notices read in that order).
                for esc in steps {
                    self.run_due_step(esc, now, lease_from).await?;
                }
                Ok(())
            },
        )
        .await
    }

    /// Runs the due step of one escalation, if it is still due and this runner claims it.
    async fn run_due_step(
        &self,
        esc: wardline_store::Escalation,
        now: Timestamp,
        lease_from: Timestamp,
    ) -> ServiceResult<()> {
        let timed = |phase, from: Instant| self.metrics.escalation_phase(phase, from.elapsed());
        // Someone accepted, and the engine has not read it yet (it is behind the stream):
        // no step for an accepted message; the next reading of the stream ends it.
        let from = Instant::now();
        let accepted = self.acceptance_unread(&esc).await?;
        timed(StepPhase::Check, from);
        if accepted {
            return Ok(());
        }
        let from = Instant::now();
        let claimed = self.store.claim_step(&esc.event_id, esc.step, now, lease_from).await?;
        timed(StepPhase::Claim, from);
        if !claimed {
            return Ok(());
        }
        // How late, by the clock at the claim (a step may have waited behind others of its pass).
        if let Some(due) = esc.due {
            self.metrics.escalation_late(Duration::from_millis(self.clock.now().0.saturating_sub(due.0)));
        }
        let Some(step) = esc.policy.steps.get(esc.step) else {
            // A policy shorter than its step: end it at the failsafe rather than loop.
            self.store.end_escalation(&esc.event_id, EscalationEnd::Failsafe, now).await?;
            return Ok(());
        };
        let from = Instant::now();
        let ran = self.run_step(&esc, now).await;
        timed(StepPhase::Run, from);
        let done = match ran {
            Ok(done) => done,
            // A step taken over from a runner that failed or died fails again: it is
            // recorded as failed and the next runs at once, rather than holding the
            // escalation (and its failsafe) back for ever.
            Err(e) if esc.claimed.is_some() => {
                tracing::error!(error = %e, message = %esc.event_id, step = esc.step, "an escalation step failed twice; moving on");
                super::steps::StepDone {
                    summary: "step could not run (see the server log): next step".to_owned(),
                    nobody: true,
                    unreachable: matches!(step.action, Action::Failsafe { .. }),
                    failed: true,
                }
            }
            Err(e) => {
                // The claim stays; the step runs again once its lease runs out.
                tracing::error!(error = %e, message = %esc.event_id, step = esc.step, "an escalation step failed");
                return Ok(());
            }
        };
        let last = matches!(step.action, Action::Failsafe { .. }) || esc.step + 1 >= esc.policy.steps.len();
        let next_due = if last {
            None
        } else if done.nobody {
            // Nobody to reach at this step: the next one runs at once.
            Some(now)
        } else {
            esc.policy.steps.get(esc.step + 1).map(|s| Timestamp(esc.sent.0.saturating_add(s.after_ms)))
        };
        let record = StepRecord { step: esc.step, ts: now, summary: done.summary.clone() };
        let from = Instant::now();
        let finished = self.store.finish_step(&esc.event_id, record, next_due, EscalationEnd::Failsafe).await?;
        timed(StepPhase::Finish, from);
        if finished && let Some(message) = self.store.event(&esc.event_id).await? {
            let outcome = if done.unreachable || done.failed { Outcome::Failure } else { Outcome::Success };
            let actor = Actor::system(self.rooms.server_member()?);
            self.record(&actor, &message, format!("step={} {}", esc.step + 1, done.summary), outcome)?;
        }
        Ok(())
    }

    /// An audit record about the escalation of `message` (never its text).
    pub(super) fn record(
        &self,
        actor: &Actor,
        message: &StoredEvent,
        detail: String,
        outcome: Outcome,
    ) -> ServiceResult<()> {
        let mut r = self.audit.entry(Some(actor), AuditAction::Escalation, outcome);
        r.room_id = Some(message.event.room_id.to_string());
        r.event_id = Some(message.event.event_id.to_string());
        r.detail = Some(detail);
        self.audit.record(r)
    }
}

#[cfg(test)]
mod by_room_tests {
    use ruma::{OwnedRoomId, room_id};

    #[test]
    fn keeps_each_conversations_order_and_the_order_conversations_first_appear() {
        let (a, b, c) = (room_id!("!a:h").to_owned(), room_id!("!b:h").to_owned(), room_id!("!c:h").to_owned());
        let items: Vec<(OwnedRoomId, u8)> =
            vec![(b.clone(), 1), (a.clone(), 2), (b.clone(), 3), (c.clone(), 4), (a.clone(), 5), (b.clone(), 6)];
        let groups = super::by_room(items, |(room, _)| room);
        let numbers: Vec<Vec<u8>> = groups.iter().map(|g| g.iter().map(|(_, n)| *n).collect()).collect();
        assert_eq!(numbers, vec![vec![1, 3, 6], vec![2, 5], vec![4]]);
        assert!(groups.iter().all(|g| g.iter().all(|(room, _)| room == &g[0].0)));
    }
}
