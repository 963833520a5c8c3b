//! How an integration pages over WCTP 1.3: the `wctp-Originator@senderID` it sends as, where its
//! status reports and replies go, how its `deliveryPriority` maps to a Wardline priority, which
//! multiple-choice answers accept or decline, and the kind of alarm its pages are.
//!
//! A page names a recipient id; which person or role that is comes from the integration's
//! recipient mappings (administrators' [`WctpRecipient`]s), else a role whose bleep is that id,
//! else the username.

use serde::{Deserialize, Serialize};

use crate::Timestamp;
use crate::alarm::AlarmKind;
use crate::escalation::Target;
use crate::priority::{Level, MAX_LABEL_CHARS};

/// Longest sender id or recipient id, in characters.
pub const MAX_ID_CHARS: usize = 64;
/// Most answers in each of the accept and decline lists.
pub const MAX_ANSWER_WORDS: usize = 20;

/// The Wardline priority of each `deliveryPriority`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriorityLevels {
    /// `HIGH` (default urgent).
    pub high: Level,
    /// `NORMAL` (default urgent: a page is sent to be acted on, and `NORMAL` is what a sender
    /// that sets nothing sends).
    pub normal: Level,
    /// `LOW` (default routine: no escalation).
    pub low: Level,
}

impl Default for PriorityLevels {
    fn default() -> Self {
        Self { high: Level::Urgent, normal: Level::Urgent, low: Level::Routine }
    }
}

/// An integration's WCTP binding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WctpBinding {
    /// The `wctp-Originator@senderID` its pages carry (unique among integrations).
    pub sender_id: String,
    /// Where its `wctp-StatusInfo` and `wctp-MessageReply` reports are posted (checked against
    /// `integrations.webhook_hosts` when set and before each send); none: no reports.
    #[serde(default)]
    pub reply_url: Option<String>,
    /// `deliveryPriority` → priority.
    #[serde(default)]
    pub levels: PriorityLevels,
    /// Multiple-choice answers that accept the page (compared without regard to case).
    #[serde(default = "default_accept")]
    pub accept_choices: Vec<String>,
    /// Multiple-choice answers that decline it.
    #[serde(default = "default_decline")]
    pub decline_choices: Vec<String>,
    /// The kind of alarm its pages are.
    #[serde(default = "default_kind")]
    pub default_kind: AlarmKind,
    /// A recipient id no mapping names may be a role's bleep number (off unless set: any
    /// system holding the key could otherwise page whoever holds any role).
    #[serde(default)]
    pub by_bleep: bool,
    /// A recipient id no mapping names may be a username (off unless set: any system holding
    /// the key could otherwise page any member of staff, and find out who exists).
    #[serde(default)]
    pub by_username: bool,
}

fn default_accept() -> Vec<String> {
    ["Accept", "Yes", "OK", "Coming", "On my way"].map(String::from).to_vec()
}

fn default_decline() -> Vec<String> {
    ["Reject", "Decline", "No", "Busy"].map(String::from).to_vec()
}

fn default_kind() -> AlarmKind {
    AlarmKind::NurseCall
}

/// Why a binding or a recipient mapping was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WctpBindingError {
    /// An id is blank, too long, has spaces around it or control characters.
    #[error("{0} is 1 to 64 characters, without spaces around it or control characters")]
    BadId(&'static str),
    /// An answer list is too long or holds a blank or over-long answer.
    #[error("{0}: at most 20 answers, each 1 to 40 characters on one line")]
    BadAnswers(&'static str),
    /// One answer is in both lists.
    #[error("{0:?} cannot both accept and decline")]
    Both(String),
}

/// Is `s` a sender or recipient id?
#[must_use]
pub fn id_ok(s: &str) -> bool {
    let n = s.chars().count();
    n > 0 && n <= MAX_ID_CHARS && s.trim() == s && !s.chars().any(char::is_control)
}

fn answers_ok(list: &[String]) -> bool {
    list.len() <= MAX_ANSWER_WORDS
        && list.iter().all(|a| {
            let n = a.trim().chars().count();
            n > 0 && n <= MAX_LABEL_CHARS && !a.chars().any(char::is_control)
        })
}

impl WctpBinding {
    /// Checks the binding's shape (the reply URL's host is the service's to check).
    ///
    /// # Errors
    /// The first part refused.
    pub fn check(&self) -> Result<(), WctpBindingError> {
        if !id_ok(&self.sender_id) {
            return Err(WctpBindingError::BadId("sender_id"));
        }
        if !answers_ok(&self.accept_choices) {
            return Err(WctpBindingError::BadAnswers("accept_choices"));
        }
        if !answers_ok(&self.decline_choices) {
            return Err(WctpBindingError::BadAnswers("decline_choices"));
        }
        if let Some(a) = self.accept_choices.iter().find(|a| self.decline_choices.iter().any(|d| same(a, d))) {
            return Err(WctpBindingError::Both(a.clone()));
        }
        Ok(())
    }

    /// The priority a page of `priority` is sent at.
    #[must_use]
    pub fn level(&self, priority: crate::wctp::DeliveryPriority) -> Level {
        match priority {
            crate::wctp::DeliveryPriority::High => self.levels.high,
            crate::wctp::DeliveryPriority::Normal => self.levels.normal,
            crate::wctp::DeliveryPriority::Low => self.levels.low,
        }
    }

    /// Does choosing `choice` accept the page?
    #[must_use]
    pub fn accepts(&self, choice: &str) -> bool {
        self.accept_choices.iter().any(|a| same(a, choice))
    }

    /// Does choosing `choice` decline it?
    #[must_use]
    pub fn declines(&self, choice: &str) -> bool {
        self.decline_choices.iter().any(|a| same(a, choice))
    }
}

fn same(a: &str, b: &str) -> bool {
    a.trim().to_lowercase() == b.trim().to_lowercase()
}

/// An administrator's mapping of a recipient id (a pager number, a WCTP address) to whom its
/// pages reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WctpRecipient {
    /// The recipient id pages name.
    pub recipient_id: String,
    /// Who gets them.
    pub target: Target,
    /// Who set it.
    pub updated_by: String,
    /// When.
    pub updated: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wctp::DeliveryPriority;

    #[test]
    fn a_binding_reads_with_its_defaults_and_is_checked() {
        let b: WctpBinding = serde_json::from_str(r#"{"sender_id":"nursecall"}"#).unwrap();
        b.check().unwrap();
        assert_eq!(b.level(DeliveryPriority::High), Level::Urgent);
        assert_eq!(b.level(DeliveryPriority::Normal), Level::Urgent);
        assert_eq!(b.level(DeliveryPriority::Low), Level::Routine);
        assert!(b.accepts("on my way") && b.accepts(" OK ") && !b.accepts("Call me"));
        assert!(b.declines("busy") && !b.declines("Accept"));
        assert_eq!((b.default_kind, b.reply_url.as_deref()), (AlarmKind::NurseCall, None));
        let mut bad = b.clone();
        bad.sender_id = " x".into();
        assert_eq!(bad.check(), Err(WctpBindingError::BadId("sender_id")));
        let mut both = b.clone();
        both.decline_choices.push("yes".into());
        assert_eq!(both.check(), Err(WctpBindingError::Both("Yes".into())));
        let mut long = b;
        long.accept_choices.push("x".repeat(41));
        assert_eq!(long.check(), Err(WctpBindingError::BadAnswers("accept_choices")));
        assert!(serde_json::from_str::<WctpBinding>(r#"{"sender_id":"a","other":1}"#).is_err());
    }
}
