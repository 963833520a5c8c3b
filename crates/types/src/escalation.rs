//! Escalation policies: what happens, and when, while an urgent or emergency message waits for
//! someone to accept it.
//!
//! A policy is a list of steps, each run a delay after the message was sent (delays strictly
//! increasing). A step re-notifies the recipients who have not answered, brings people in (the
//! covers of recipients on do-not-disturb, a role's holders, a named person), or is the
//! **failsafe**: the last step, which every policy must have, naming who is brought in when
//! nobody has accepted. A decline runs the next step at once; a step whose targets are empty
//! (a role nobody holds, no recipient on do-not-disturb) moves on to the next at once.
//!
//! Pure rules only: the shape of a policy, its checks ([`Policy::check`]) and the default one.

use ruma::OwnedUserId;
use serde::{Deserialize, Serialize};

use crate::RoleId;
use crate::priority::Level;

/// Most steps in a policy.
pub const MAX_STEPS: usize = 20;
/// The shortest delay of a step: 30 seconds.
pub const MIN_DELAY_MS: u64 = 30_000;
/// The longest delay of a step: a day.
pub const MAX_DELAY_MS: u64 = 86_400_000;

/// Who a step brings in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Target {
    /// The holders of a role.
    Role {
        /// The role.
        role: RoleId,
    },
    /// A named person.
    User {
        /// Their user id.
        user_id: OwnedUserId,
    },
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Notifies again each recipient who has not answered (those on do-not-disturb only for an
    /// emergency).
    Renotify,
    /// Brings in the cover of each recipient who is on do-not-disturb and has not answered.
    AddCover,
    /// Brings in these targets.
    Add {
        /// Who.
        targets: Vec<Target>,
    },
    /// The last step: brings in the failsafe.
    Failsafe {
        /// Who.
        targets: Vec<Target>,
    },
}

/// One step of a policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Step {
    /// Run this long after the message was sent, in milliseconds.
    pub after_ms: u64,
    /// What it does.
    #[serde(flatten)]
    pub action: Action,
}

/// An escalation policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// The steps, in order.
    pub steps: Vec<Step>,
}

/// Why a policy is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// No steps, or more than [`MAX_STEPS`].
    #[error("a policy has 1 to 20 steps")]
    StepCount,
    /// A delay out of range, or not after the previous step's.
    #[error("step {0}: delays are 30 s to a day, each after the one before")]
    Delay(usize),
    /// The last step is not the failsafe, or a failsafe is not last.
    #[error("the last step, and only the last, is the failsafe")]
    Failsafe,
    /// A step that brings in nobody.
    #[error("step {0} names nobody")]
    NoTargets(usize),
}

/// Where a policy is set: the whole organisation, a role (messages to a conversation the role is
/// in), or one conversation. The most specific one that is set applies.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Every message of the level.
    Organisation,
    /// Messages in conversations with this role.
    Role(RoleId),
    /// Messages in this conversation.
    Room(ruma::OwnedRoomId),
}

impl Scope {
    /// How it is stored: `org`, `role:<id>`, `room:<id>`.
    #[must_use]
    pub fn key(&self) -> String {
        match self {
            Self::Organisation => "org".into(),
            Self::Role(r) => format!("role:{r}"),
            Self::Room(r) => format!("room:{r}"),
        }
    }

    /// From its stored form.
    #[must_use]
    pub fn parse(key: &str) -> Option<Self> {
        if key == "org" {
            return Some(Self::Organisation);
        }
        if let Some(r) = key.strip_prefix("role:") {
            return RoleId::parse(r).ok().map(Self::Role);
        }
        key.strip_prefix("room:").and_then(|r| ruma::OwnedRoomId::try_from(r).ok()).map(Self::Room)
    }
}

impl Policy {
    /// Checks the shape of a policy (that its targets exist and the failsafe can be reached is
    /// the service's check, which needs the directory).
    ///
    /// # Errors
    /// The first rule it breaks.
    pub fn check(&self) -> Result<(), PolicyError> {
        if self.steps.is_empty() || self.steps.len() > MAX_STEPS {
            return Err(PolicyError::StepCount);
        }
        let mut previous = 0;
        for (i, step) in self.steps.iter().enumerate() {
            if !(MIN_DELAY_MS..=MAX_DELAY_MS).contains(&step.after_ms) || step.after_ms <= previous {
                return Err(PolicyError::Delay(i + 1));
            }
            previous = step.after_ms;
            let last = i + 1 == self.steps.len();
            match &step.action {
                Action::Failsafe { targets } if last && targets.is_empty() => {
                    return Err(PolicyError::NoTargets(i + 1));
                }
                Action::Failsafe { .. } if last => {}
                Action::Failsafe { .. } => return Err(PolicyError::Failsafe),
                _ if last => return Err(PolicyError::Failsafe),
                Action::Add { targets } if targets.is_empty() => return Err(PolicyError::NoTargets(i + 1)),
                _ => {}
            }
        }
        Ok(())
    }

    /// The failsafe's targets.
    #[must_use]
    pub fn failsafe(&self) -> &[Target] {
        match self.steps.last().map(|s| &s.action) {
            Some(Action::Failsafe { targets }) => targets,
            _ => &[],
        }
    }

    /// The built-in policy of a level, used until an administrator sets one: re-notify every 2
    /// minutes (every minute for an emergency), bring in the covers of those on do-not-disturb,
    /// and end at `failsafe` (the organisation's administrators, until a switchboard is named).
    #[must_use]
    pub fn default_for(level: Level, failsafe: Vec<Target>) -> Self {
        let minute = 60_000;
        let (every, renotifies) = match level {
            Level::Emergency => (minute, 4),
            _ => (2 * minute, 4),
        };
        let mut steps: Vec<Step> =
            (1..=renotifies).map(|i| Step { after_ms: every * i, action: Action::Renotify }).collect();
        // Urgent messages reach the cover of someone on do-not-disturb at the first step.
        if level == Level::Urgent
            && let Some(first) = steps.first_mut()
        {
            first.action = Action::AddCover;
        }
        steps.push(Step { after_ms: every * (renotifies + 1), action: Action::Failsafe { targets: failsafe } });
        Self { steps }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ruma::owned_user_id;

    fn step(after_ms: u64, action: Action) -> Step {
        Step { after_ms, action }
    }

    fn switchboard() -> Vec<Target> {
        vec![Target::Role { role: RoleId::parse("switchboard").unwrap() }]
    }

    #[test]
    fn a_policy_ends_at_a_failsafe_that_names_someone() {
        let ok = Policy {
            steps: vec![
                step(120_000, Action::Renotify),
                step(240_000, Action::Add { targets: vec![Target::User { user_id: owned_user_id!("@cons:x") }] }),
                step(600_000, Action::Failsafe { targets: switchboard() }),
            ],
        };
        assert_eq!(ok.check(), Ok(()));
        assert_eq!(ok.failsafe(), switchboard().as_slice());
        let no_failsafe = Policy { steps: vec![step(120_000, Action::Renotify)] };
        assert_eq!(no_failsafe.check(), Err(PolicyError::Failsafe));
        let empty_failsafe = Policy { steps: vec![step(120_000, Action::Failsafe { targets: vec![] })] };
        assert_eq!(empty_failsafe.check(), Err(PolicyError::NoTargets(1)));
        let early_failsafe = Policy {
            steps: vec![step(60_000, Action::Failsafe { targets: switchboard() }), step(120_000, Action::Renotify)],
        };
        assert_eq!(early_failsafe.check(), Err(PolicyError::Failsafe));
        let backwards = Policy {
            steps: vec![step(120_000, Action::Renotify), step(60_000, Action::Failsafe { targets: switchboard() })],
        };
        assert_eq!(backwards.check(), Err(PolicyError::Delay(2)));
        let too_fast = Policy { steps: vec![step(1_000, Action::Failsafe { targets: switchboard() })] };
        assert_eq!(too_fast.check(), Err(PolicyError::Delay(1)));
        assert_eq!(Policy { steps: vec![] }.check(), Err(PolicyError::StepCount));
    }

    #[test]
    fn defaults_are_valid_and_urgent_reaches_the_cover_first() {
        for level in [Level::Urgent, Level::Emergency] {
            let p = Policy::default_for(level, switchboard());
            assert_eq!(p.check(), Ok(()), "{level:?}");
        }
        let urgent = Policy::default_for(Level::Urgent, switchboard());
        assert_eq!(urgent.steps[0], step(120_000, Action::AddCover));
        assert_eq!(urgent.steps.last().unwrap().after_ms, 600_000);
        let emergency = Policy::default_for(Level::Emergency, switchboard());
        assert_eq!(emergency.steps[0], step(60_000, Action::Renotify), "an emergency breaks through: no cover step");
    }

    #[test]
    fn policies_read_as_json() {
        let p: Policy = serde_json::from_value(serde_json::json!({"steps": [
            {"after_ms": 120000, "action": "renotify"},
            {"after_ms": 180000, "action": "add_cover"},
            {"after_ms": 300000, "action": "add", "targets": [{"kind": "role", "role": "consultant"}]},
            {"after_ms": 600000, "action": "failsafe", "targets": [{"kind": "user", "user_id": "@sb:x"}]},
        ]}))
        .unwrap();
        assert_eq!(p.check(), Ok(()));
        assert_eq!(
            Scope::parse(&Scope::Role(RoleId::parse("consultant").unwrap()).key()),
            Some(Scope::Role(RoleId::parse("consultant").unwrap()))
        );
        assert_eq!(Scope::parse("org"), Some(Scope::Organisation));
        assert_eq!(Scope::parse("elsewhere"), None);
    }
}
