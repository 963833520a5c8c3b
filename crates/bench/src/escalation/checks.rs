//! What is checked about each message once the simulation ends, and the engine's lag, from
//! what its sender saw in `/sync` and from its status (`GET /_wardline/client/v1/rooms/{roomId}/
//! status/{eventId}`). All times are the server's (`origin_server_ts`, the status's `ts`).

use serde_json::Value;

/// What a message's sender saw of it in their `/sync`.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    /// The message's event id, once its send was acknowledged.
    pub event_id: Option<String>,
    /// Its `origin_server_ts`.
    pub sent_ts: Option<u64>,
    /// The server's step notices: (step, `origin_server_ts`, reached nobody).
    pub steps: Vec<(u64, u64, bool)>,
    /// Answers from others: (who, option, `origin_server_ts`).
    pub answers: Vec<(String, String, u64)>,
}

impl Observed {
    /// Records a step notice; returns false if that step's notice was already seen.
    pub fn step(&mut self, step: u64, ts: u64, nobody: bool) -> bool {
        if self.steps.iter().any(|(s, _, _)| *s == step) {
            return false;
        }
        self.steps.push((step, ts, nobody));
        true
    }
}

/// How long each step's notice came after the step was due (server ms), in order of the
/// steps seen. A step is due at its delay after the message, or earlier: when a person's first
/// decline brings it forward (at the decline), or when the step before reached nobody (at that
/// step). The lag is the engine's: reading the stream, finding what is due, running the step,
/// storing its notice (and the test clock's own granularity; see BENCHMARKS.md).
#[must_use]
pub fn step_lags(sent: u64, delays: &[u64], o: &Observed) -> Vec<u64> {
    #[derive(PartialEq, Eq, PartialOrd, Ord)]
    enum Seen {
        Decline,
        Step(u64, bool),
    }
    let mut seen: Vec<(u64, Seen)> = Vec::new();
    let mut decliners: Vec<&str> = Vec::new();
    let mut by_ts: Vec<&(String, String, u64)> = o.answers.iter().collect();
    by_ts.sort_by_key(|a| a.2);
    for (who, option, ts) in by_ts {
        if option == "decline" && !decliners.contains(&who.as_str()) {
            decliners.push(who);
            seen.push((*ts, Seen::Decline));
        }
    }
    seen.extend(o.steps.iter().map(|(s, ts, nobody)| (*ts, Seen::Step(*s, *nobody))));
    seen.sort();
    let mut due = delays.first().map(|d| sent + d);
    let mut lags = Vec::new();
    for (ts, what) in seen {
        match what {
            Seen::Decline => due = due.map(|d| d.min(ts)),
            Seen::Step(step, nobody) => {
                if let Some(d) = due {
                    lags.push(ts.saturating_sub(d));
                }
                let next = usize::try_from(step).unwrap_or(usize::MAX);
                due = if nobody { Some(ts) } else { delays.get(next).map(|d| sent + d) };
                if next >= delays.len() {
                    due = None;
                }
            }
        }
    }
    lags
}

/// How one message ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// `accepted`, `failsafe`, `open`, `cancelled`, or `none` (no escalation).
    pub state: String,
    /// How long after it was sent it ended (server ms).
    pub ended_after_ms: Option<u64>,
    /// The rules it broke (empty: none).
    pub broken: Vec<&'static str>,
    /// Steps that ran after the acceptance that ended it (the engine had not yet read the
    /// answer when the step fell due: a re-notification after someone accepted).
    pub steps_after_acceptance: u64,
}

/// Judges a message by its status's `escalation` block: it must have ended accepted or at the
/// failsafe, no later than its policy's time (`total_ms`) plus `slack_ms`, each step at most
/// once (in the log and in the notices its sender saw), no step after an acceptance, and the
/// failsafe only as the end.
#[must_use]
pub fn judge(esc: &Value, sent: u64, steps: usize, total_ms: u64, slack_ms: u64, o: &Observed) -> Verdict {
    let mut broken = Vec::new();
    if esc.is_null() {
        return Verdict {
            state: "none".into(),
            ended_after_ms: None,
            broken: vec!["never escalated"],
            steps_after_acceptance: 0,
        };
    }
    let state = esc["state"].as_str().unwrap_or("?").to_owned();
    let ended_after_ms = esc["ended_ts"].as_u64().map(|t| t.saturating_sub(sent));
    match state.as_str() {
        "accepted" | "failsafe" => {}
        "open" => broken.push("still open at the end"),
        _ => broken.push("ended neither accepted nor at the failsafe"),
    }
    if ended_after_ms.is_some_and(|after| after > total_ms + slack_ms) {
        broken.push("ended after its policy's time");
    }
    let logged: Vec<u64> =
        esc["steps"].as_array().map(|s| s.iter().filter_map(|x| x["step"].as_u64()).collect()).unwrap_or_default();
    if logged.windows(2).any(|w| w[0] >= w[1]) || logged.iter().any(|s| *s == 0 || *s > steps as u64) {
        broken.push("a step ran twice (or out of order)");
    }
    let failsafe_ran = logged.last() == Some(&(steps as u64));
    if state == "failsafe" && !failsafe_ran {
        broken.push("at the failsafe without its step");
    }
    if state == "accepted" && failsafe_ran {
        broken.push("accepted after the failsafe ran");
    }
    // The notices the sender saw: one per step that ran, never more.
    if o.steps.len() > logged.len() {
        broken.push("more notices than steps");
    }
    let steps_after_acceptance = match esc["ended_ts"].as_u64() {
        Some(end) if state == "accepted" => esc["steps"]
            .as_array()
            .map_or(0, |s| s.iter().filter(|x| x["ts"].as_u64().is_some_and(|t| t > end)).count() as u64),
        _ => 0,
    };
    Verdict { state, ended_after_ms, broken, steps_after_acceptance }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const DELAYS: [u64; 3] = [120_000, 300_000, 600_000];

    #[test]
    fn a_step_on_time_has_the_lag_of_its_notice() {
        let o =
            Observed { steps: vec![(1, 1_000 + 120_500, false), (2, 1_000 + 302_000, false)], ..Observed::default() };
        assert_eq!(step_lags(1_000, &DELAYS, &o), vec![500, 2_000]);
    }

    #[test]
    fn a_decline_brings_the_next_step_forward_and_a_step_reaching_nobody_the_one_after() {
        let answers = vec![
            ("@a:x".to_owned(), "decline".to_owned(), 30_000),
            ("@a:x".to_owned(), "decline".to_owned(), 31_000), // the same person again: no effect
        ];
        let o = Observed {
            steps: vec![(1, 30_400, true), (2, 30_900, false), (3, 600_100, false)],
            answers,
            ..Observed::default()
        };
        assert_eq!(step_lags(0, &DELAYS, &o), vec![400, 500, 100]);
    }

    fn esc(state: &str, ended: u64, steps: &[(u64, u64)]) -> Value {
        json!({"state": state, "ended_ts": ended, "steps": steps.iter().map(|(s, ts)| json!({"step": s, "ts": ts})).collect::<Vec<_>>()})
    }

    #[test]
    fn a_message_ends_accepted_or_at_the_failsafe_in_time_each_step_once() {
        let o = Observed::default();
        let ok = judge(&esc("accepted", 200_000, &[(1, 120_000)]), 0, 3, 600_000, 60_000, &o);
        assert_eq!((ok.state.as_str(), ok.ended_after_ms, ok.broken.len()), ("accepted", Some(200_000), 0));
        let failsafe = judge(&esc("failsafe", 600_500, &[(1, 1), (2, 2), (3, 600_500)]), 0, 3, 600_000, 60_000, &o);
        assert!(failsafe.broken.is_empty(), "{failsafe:?}");
        let late = judge(&esc("failsafe", 700_000, &[(1, 1), (2, 2), (3, 700_000)]), 0, 3, 600_000, 60_000, &o);
        assert_eq!(late.broken, vec!["ended after its policy's time"]);
        let twice = judge(&esc("failsafe", 600_000, &[(1, 1), (1, 2), (3, 3)]), 0, 3, 600_000, 60_000, &o);
        assert_eq!(twice.broken, vec!["a step ran twice (or out of order)"]);
        let open = judge(&json!({"state": "open", "ended_ts": null, "steps": []}), 0, 3, 600_000, 60_000, &o);
        assert_eq!(open.broken, vec!["still open at the end"]);
        let after = judge(&esc("accepted", 100, &[(1, 120_000)]), 0, 3, 600_000, 60_000, &o);
        assert_eq!((after.broken.len(), after.steps_after_acceptance), (0, 1), "counted, not a broken rule");
        assert_eq!(judge(&Value::Null, 0, 3, 1, 1, &o).broken, vec!["never escalated"]);
        let mut seen = Observed::default();
        assert!(seen.step(1, 5, false) && !seen.step(1, 6, false), "a second notice of a step is noticed");
    }
}
