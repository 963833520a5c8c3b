//! What the simulation's people do about each urgent message, drawn once with a fixed seed.
//!
//! Each message gets a [`Scenario`] (how its recipients behave) and from it a list of [`Act`]s:
//! who answers, with which option, on seeing what (the message itself, or a notice of the
//! server's naming them), and how long after. Delays are fractions of the policy's own steps,
//! so the same scenario means the same thing for an urgent and an emergency policy (for
//! example "answers after being notified again, before anyone is brought in").
//!
//! The people act only on what their `/sync` shows them (see `person.rs`); the plan says what
//! they will do once they see it, as a person's habits would.

use serde::Serialize;

use crate::texts::Rng;

/// How a message's recipients behave.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Scenario {
    /// One recipient acknowledges before the first step.
    Prompt,
    /// One recipient acknowledges only after being notified again (the first step).
    AfterRenotify,
    /// One recipient declines at once; another acknowledges after the re-notification the
    /// decline brought forward.
    DeclineThenAccept,
    /// Nobody in the conversation answers; the person the second step brings in acknowledges,
    /// sometimes too late (after the failsafe).
    BroughtInAccepts,
    /// Nobody answers: the failsafe.
    Never,
    /// Every recipient declines: each first decline runs the next step at once.
    AllDecline,
}

impl Scenario {
    /// Every scenario, in report order.
    pub const ALL: [Self; 6] = [
        Self::Prompt,
        Self::AfterRenotify,
        Self::DeclineThenAccept,
        Self::BroughtInAccepts,
        Self::Never,
        Self::AllDecline,
    ];

    /// Its name in reports.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Prompt => "prompt",
            Self::AfterRenotify => "after_renotify",
            Self::DeclineThenAccept => "decline_then_accept",
            Self::BroughtInAccepts => "brought_in_accepts",
            Self::Never => "never",
            Self::AllDecline => "all_decline",
        }
    }

    /// Share of messages, in percent.
    fn weight(self) -> usize {
        match self {
            Self::Prompt => 35,
            Self::AfterRenotify => 20,
            Self::DeclineThenAccept => 15,
            Self::BroughtInAccepts => 10,
            Self::Never => 15,
            Self::AllDecline => 5,
        }
    }
}

/// What someone acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cue {
    /// Seeing the message.
    Message,
    /// Seeing a notice of the server's of this kind (`renotify`, `add`) that names them.
    Notice(&'static str),
}

/// One person's answer to a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Act {
    /// The user (index).
    pub who: usize,
    /// What they act on.
    pub on: Cue,
    /// The option they choose (`acknowledge` or `decline`).
    pub option: &'static str,
    /// How long after seeing the cue, in server milliseconds.
    pub after_ms: u64,
}

/// A level's policy as the simulation sets it: re-notify, bring someone in, failsafe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Timing {
    /// Re-notify after this long (ms).
    pub renotify_ms: u64,
    /// Bring the on-call person in after this long (ms).
    pub add_ms: u64,
    /// The failsafe after this long (ms): the policy's total time.
    pub failsafe_ms: u64,
}

/// The organisation's urgent policy: re-notify at 2 min, bring in at 5, failsafe at 10.
pub const URGENT: Timing = Timing { renotify_ms: 120_000, add_ms: 300_000, failsafe_ms: 600_000 };
/// The organisation's emergency policy: 1, 3 and 5 minutes.
pub const EMERGENCY: Timing = Timing { renotify_ms: 60_000, add_ms: 180_000, failsafe_ms: 300_000 };

impl Timing {
    /// The steps' delays, in order.
    #[must_use]
    pub fn delays(&self) -> [u64; 3] {
        [self.renotify_ms, self.add_ms, self.failsafe_ms]
    }
}

/// One urgent message of the simulation.
#[derive(Debug, Clone)]
pub struct Plan {
    /// When it is sent, server milliseconds after the window opens.
    pub at_ms: u64,
    /// Its conversation (index).
    pub room: usize,
    /// Its sender (user index).
    pub sender: usize,
    /// `urgent` or `emergency`.
    pub level: &'static str,
    /// Its recipients' behaviour.
    pub scenario: Scenario,
    /// Who answers, on what, when.
    pub acts: Vec<Act>,
}

impl Plan {
    /// The policy it follows.
    #[must_use]
    pub fn timing(&self) -> Timing {
        if self.level == "emergency" { EMERGENCY } else { URGENT }
    }
}

/// A uniform draw in `[lo, hi)` of `base` (fractions in per cent).
fn frac(r: &mut Rng, base: u64, lo: u64, hi: u64) -> u64 {
    let pct = lo + r.below(usize::try_from(hi - lo).unwrap_or(1)) as u64;
    base * pct / 100
}

fn scenario(r: &mut Rng) -> Scenario {
    let mut x = r.below(100);
    for s in Scenario::ALL {
        if x < s.weight() {
            return s;
        }
        x -= s.weight();
    }
    Scenario::Never
}

/// Draws `n` messages over `window_ms` in rooms whose members are `rooms` (user indexes);
/// `brought_in` is the person the second step brings in. Sorted by send time.
#[must_use]
pub fn draw(seed: u64, n: usize, window_ms: u64, rooms: &[Vec<usize>], brought_in: usize) -> Vec<Plan> {
    let mut r = Rng::new(seed);
    let mut plans: Vec<Plan> = Vec::with_capacity(n);
    for _ in 0..n {
        let at_ms = r.next_u64() % window_ms.max(1);
        let room = r.below(rooms.len());
        let members = &rooms[room];
        let sender = members[r.below(members.len())];
        let others: Vec<usize> = members.iter().copied().filter(|m| *m != sender).collect();
        let level = if r.chance(10) { "emergency" } else { "urgent" };
        let t = if level == "emergency" { EMERGENCY } else { URGENT };
        let s = scenario(&mut r);
        let first = r.below(others.len().max(1));
        let pick = |i: usize| others.get(i % others.len().max(1)).copied().unwrap_or(sender);
        let ack = |who, on, after_ms| Act { who, on, option: "acknowledge", after_ms };
        let acts = match s {
            Scenario::Prompt => vec![ack(pick(first), Cue::Message, frac(&mut r, t.renotify_ms, 10, 85))],
            Scenario::AfterRenotify => {
                vec![ack(pick(first), Cue::Notice("renotify"), frac(&mut r, t.add_ms - t.renotify_ms, 5, 90))]
            }
            Scenario::DeclineThenAccept => vec![
                Act {
                    who: pick(first),
                    on: Cue::Message,
                    option: "decline",
                    after_ms: frac(&mut r, t.renotify_ms, 10, 50),
                },
                ack(pick(first + 1), Cue::Notice("renotify"), frac(&mut r, t.renotify_ms, 10, 120)),
            ],
            // About one in ten answers after the failsafe.
            Scenario::BroughtInAccepts => {
                vec![ack(brought_in, Cue::Notice("add"), frac(&mut r, t.failsafe_ms - t.add_ms, 10, 110))]
            }
            Scenario::Never => Vec::new(),
            Scenario::AllDecline => others
                .iter()
                .map(|o| Act {
                    who: *o,
                    on: Cue::Message,
                    option: "decline",
                    after_ms: frac(&mut r, t.renotify_ms, 5, 80),
                })
                .collect(),
        };
        plans.push(Plan { at_ms, room, sender, level, scenario: s, acts });
    }
    plans.sort_by_key(|p| p.at_ms);
    plans
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rooms() -> Vec<Vec<usize>> {
        (0..20).map(|r| (0..4 + r % 3).map(|i| (r * 5 + i) % 40).collect()).collect()
    }

    #[test]
    fn the_same_seed_draws_the_same_simulation_sorted_by_time() {
        let a = draw(7, 500, 3_600_000, &rooms(), 99);
        let b = draw(7, 500, 3_600_000, &rooms(), 99);
        assert_eq!(a.len(), 500);
        assert!(a.iter().zip(&b).all(|(x, y)| x.at_ms == y.at_ms && x.acts == y.acts && x.scenario == y.scenario));
        assert!(a.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        assert!(a.iter().all(|p| p.at_ms < 3_600_000));
        for s in Scenario::ALL {
            assert!(a.iter().any(|p| p.scenario == s), "{s:?} drawn");
        }
        assert!(a.iter().any(|p| p.level == "emergency") && a.iter().any(|p| p.level == "urgent"));
    }

    #[test]
    fn nobody_answers_their_own_message_and_delays_fit_the_policy() {
        for p in draw(3, 2_000, 86_400_000, &rooms(), 99) {
            let t = p.timing();
            assert!(p.acts.iter().all(|a| a.who != p.sender), "{p:?}");
            for a in &p.acts {
                match (p.scenario, a.on) {
                    (Scenario::Prompt, _) => assert!(a.after_ms < t.renotify_ms),
                    (Scenario::AfterRenotify, _) => assert!(a.after_ms < t.add_ms - t.renotify_ms),
                    (Scenario::BroughtInAccepts, Cue::Notice("add")) => assert_eq!(a.who, 99),
                    (Scenario::DeclineThenAccept, Cue::Message) => assert_eq!(a.option, "decline"),
                    (Scenario::DeclineThenAccept, _) => assert_eq!(a.option, "acknowledge"),
                    (Scenario::AllDecline, _) => assert_eq!(a.option, "decline"),
                    other => panic!("unexpected act {other:?}"),
                }
            }
            if p.scenario == Scenario::DeclineThenAccept {
                assert_ne!(p.acts[0].who, p.acts[1].who, "someone else accepts");
            }
        }
    }
}
