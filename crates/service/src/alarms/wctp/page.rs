//! A WCTP page as kept with its alarm ([`wardline_store::Alarm::details`]): whom it is for, at
//! which priority, the answers it offers and what each sends back, and which reports its sender
//! asked for. Dispatch reads it to deliver the page without the rules (its recipient is named);
//! reports read it to answer in WCTP.

use serde::{Deserialize, Serialize};
use serde_json::json;
use wardline_store::Alarm;
use wardline_types::alarm::IntakeProtocol;
use wardline_types::alarm_rule::{AlarmRule, Mode, RuleAction, RuleId, RuleMatch};
use wardline_types::escalation::Target;
use wardline_types::priority::{Ask, Choice, Level, Means};

/// The id of the rule a page is delivered by: made from the page, never one of the
/// administrators' (never looked up among them).
pub const PAGE_RULE: &str = "wctp-page";

/// One answer a page offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageChoice {
    /// What the button says (the `wctp-SendChoice`, cut to a label's length).
    pub label: String,
    /// What goes back in the `wctp-MessageReply` when it is chosen.
    pub reply: String,
    /// What choosing it means.
    pub means: Means,
}

/// A page, as its alarm keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    /// The sender id it came from.
    pub sender_id: String,
    /// Its `messageID`.
    pub message_id: String,
    /// Its `transactionID`, carried back in reports.
    #[serde(default)]
    pub transaction_id: Option<String>,
    /// Its `submitTimestamp`, carried back in reports.
    #[serde(default)]
    pub submit_timestamp: Option<String>,
    /// The recipient id it named.
    pub recipient_id: String,
    /// Whom that is.
    pub target: Target,
    /// The priority it is sent at.
    pub level: Level,
    /// The multiple-choice answers it offers (none: accept or decline).
    #[serde(default)]
    pub choices: Vec<PageChoice>,
    /// `allowResponse`: answers go back as `wctp-MessageReply`.
    pub allow_response: bool,
    /// `notifyWhenDelivered`.
    pub notify_delivered: bool,
    /// `notifyWhenRead`.
    pub notify_read: bool,
}

/// The option id of the `i`th choice (`c1` … `c6`).
fn option_id(i: usize) -> String {
    format!("c{}", i + 1)
}

impl Page {
    /// The page an alarm came in as, if it came over WCTP.
    #[must_use]
    pub fn of(alarm: &Alarm) -> Option<Self> {
        if alarm.protocol != IntakeProtocol::Wctp {
            return None;
        }
        let details: serde_json::Value = serde_json::from_str(alarm.details.as_deref()?).ok()?;
        serde_json::from_value(details.get("wctp")?.clone()).ok()
    }

    /// What the alarm keeps: `{"wctp": {...}}`.
    #[must_use]
    pub fn details(&self) -> String {
        json!({ "wctp": self }).to_string()
    }

    /// The answers the page's message asks for: its choices, or accept and decline.
    #[must_use]
    pub fn ask(&self) -> Ask {
        if self.choices.is_empty() {
            return Ask {
                options: vec![
                    Choice { id: super::super::content::ACCEPT.into(), label: "Accept".into(), means: Means::Accept },
                    Choice {
                        id: super::super::content::DECLINE.into(),
                        label: "Decline".into(),
                        means: Means::Decline,
                    },
                ],
                first_accept: true,
                deadline_ms: None,
                needed: None,
            };
        }
        Ask {
            options: self
                .choices
                .iter()
                .enumerate()
                .map(|(i, c)| Choice { id: option_id(i), label: c.label.clone(), means: c.means })
                .collect(),
            first_accept: true,
            deadline_ms: None,
            needed: None,
        }
    }

    /// What goes back when `option` is chosen, and whether it is a multiple-choice reply.
    #[must_use]
    pub fn reply_for(&self, option: &str) -> Option<(String, bool)> {
        if self.choices.is_empty() {
            return match option {
                super::super::content::ACCEPT => Some(("Accept".into(), false)),
                super::super::content::DECLINE => Some(("Decline".into(), false)),
                _ => None,
            };
        }
        let i = option.strip_prefix('c')?.parse::<usize>().ok()?.checked_sub(1)?;
        self.choices.get(i).map(|c| (c.reply.clone(), true))
    }

    /// The rule the page is delivered by: a conversation with its recipient, standing for the
    /// integration and that recipient, at its priority, escalating by the conversation's policy.
    #[must_use]
    pub fn rule(&self) -> Option<AlarmRule> {
        Some(AlarmRule {
            id: RuleId::parse(PAGE_RULE).ok()?,
            name: format!("Pages for {}", self.recipient_id),
            enabled: true,
            position: 0,
            matches: RuleMatch::default(),
            action: RuleAction {
                mode: Mode::Conversation,
                targets: vec![self.target.clone()],
                level: self.level,
                policy: None,
                title: None,
                needed: None,
                topic: None,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardline_types::priority::request_of;

    fn page(choices: Vec<PageChoice>) -> Page {
        Page {
            sender_id: "nc".into(),
            message_id: "M-1".into(),
            transaction_id: None,
            submit_timestamp: None,
            recipient_id: "4711".into(),
            target: Target::User { user_id: ruma::owned_user_id!("@nia:h") },
            level: Level::Urgent,
            choices,
            allow_response: true,
            notify_delivered: true,
            notify_read: false,
        }
    }

    #[test]
    fn a_page_asks_its_choices_and_maps_answers_back() {
        let p = page(vec![
            PageChoice { label: "Coming".into(), reply: "1".into(), means: Means::Accept },
            PageChoice { label: "Call me".into(), reply: "Call me".into(), means: Means::Info },
        ]);
        let content = json!({ "org.wardline.priority": { "level": "urgent" }, "org.wardline.ask": p.ask() });
        let request = request_of(&content).unwrap().unwrap();
        assert_eq!(request.ask.options.len(), 2);
        assert_eq!(request.ask.option("c2").map(|c| c.means), Some(Means::Info));
        assert_eq!(p.reply_for("c1"), Some(("1".into(), true)));
        assert_eq!(p.reply_for("c3"), None);
        assert_eq!(p.reply_for("c0"), None);
        let plain = page(vec![]);
        assert_eq!(plain.reply_for("accept"), Some(("Accept".into(), false)));
        let rule = plain.rule().unwrap();
        assert_eq!((rule.id.as_str(), rule.action.level), (PAGE_RULE, Level::Urgent));
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&plain.details()).unwrap()["wctp"]["recipient_id"],
            "4711"
        );
    }
}
