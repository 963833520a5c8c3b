//! What happens to each alarm of the storm, drawn with a fixed seed: which protocol raises it,
//! on which ward, and what the ward's two responders do when their phones show it.

use crate::texts::Rng;

/// How an alarm arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// `POST /_wardline/integration/v1/alarms` (JSON).
    Http,
    /// An HL7 v2 PCD-04 `ORU^R40` over MLLP.
    Hl7,
}

/// What the responders do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// One accepts a few seconds after seeing it (70 %).
    Prompt,
    /// One declines at once; the other accepts a while later (15 %).
    DeclineThenAccept,
    /// Nobody answers: it must reach the failsafe (15 %).
    Never,
}

impl Scenario {
    /// Its name in the report.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Prompt => "prompt",
            Self::DeclineThenAccept => "decline_then_accept",
            Self::Never => "never",
        }
    }
}

/// One answer: who (a responder index), which option, how long after seeing the alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// The responder.
    pub who: usize,
    /// `accept` or `decline`.
    pub option: &'static str,
    /// Milliseconds after their sync showed it.
    pub after_ms: u64,
}

/// One alarm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alarm {
    /// When it is raised, from the start of the storm (ms).
    pub at_ms: u64,
    /// How.
    pub via: Via,
    /// Its ward (its rule sends it to that ward's two responders).
    pub ward: usize,
    /// What they do.
    pub scenario: Scenario,
    /// Their answers.
    pub answers: Vec<Answer>,
}

/// The ward's responders: `2w` and `2w + 1`.
#[must_use]
pub fn responders(ward: usize) -> [usize; 2] {
    [2 * ward, 2 * ward + 1]
}

/// `count` alarms spread evenly over `window_ms`, alternately HTTP and HL7, round the `wards`.
#[must_use]
pub fn draw(seed: u64, count: usize, window_ms: u64, wards: usize) -> Vec<Alarm> {
    let mut rng = Rng::new(seed);
    let wards = wards.max(1);
    (0..count)
        .map(|i| {
            let ward = rng.below(wards);
            let [a, b] = responders(ward);
            let (first, second) = if rng.chance(50) { (a, b) } else { (b, a) };
            let roll = rng.below(100);
            let later = 3_000 + 1_000 * rng.below(23) as u64;
            let (scenario, answers) = if roll < 70 {
                (Scenario::Prompt, vec![Answer { who: first, option: "accept", after_ms: later }])
            } else if roll < 85 {
                let no = Answer { who: first, option: "decline", after_ms: 1_000 + 500 * rng.below(6) as u64 };
                (
                    Scenario::DeclineThenAccept,
                    vec![no, Answer { who: second, option: "accept", after_ms: later + 2_000 }],
                )
            } else {
                (Scenario::Never, Vec::new())
            };
            Alarm {
                at_ms: window_ms * i as u64 / count.max(1) as u64,
                via: if i % 2 == 0 { Via::Http } else { Via::Hl7 },
                ward,
                scenario,
                answers,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_storm_is_half_http_half_hl7_evenly_spread_with_every_scenario() {
        let plans = draw(1, 1000, 60_000, 20);
        assert_eq!(plans.iter().filter(|p| p.via == Via::Hl7).count(), 500);
        assert!(plans.windows(2).all(|w| w[0].at_ms <= w[1].at_ms));
        assert!(plans.last().is_some_and(|p| p.at_ms < 60_000));
        for s in [Scenario::Prompt, Scenario::DeclineThenAccept, Scenario::Never] {
            let n = plans.iter().filter(|p| p.scenario == s).count();
            assert!(n > 100, "{}: {n}", s.name());
        }
        for p in &plans {
            assert!(p.answers.iter().all(|a| responders(p.ward).contains(&a.who)));
            assert!(p.answers.iter().all(|a| a.after_ms < 30_000), "answered before the re-notification: {p:?}");
        }
        assert_eq!(draw(1, 1000, 60_000, 20), plans, "the same seed, the same storm");
    }
}
