//! What an alarm says in a conversation: its message (a body stock Matrix clients show, the
//! priority and the question every urgent message carries, and the [`ALARM`] block Wardline's
//! client renders), the incident's state, and the notices when the source ends it.

use serde_json::{Value, json};
use wardline_store::Alarm;
use wardline_types::Timestamp;
use wardline_types::alarm::{ALARM, AlarmKind, AlarmState};
use wardline_types::alarm_rule::{AlarmRule, Mode};
use wardline_types::priority::{ASK, Ask, Choice, Level, Means, PRIORITY};

/// The option that accepts an alarm.
pub const ACCEPT: &str = "accept";
/// The option that declines one.
pub const DECLINE: &str = "decline";

/// An alarm's kind for people: "Nurse call", "Cardiac arrest".
#[must_use]
pub fn kind_name(kind: AlarmKind) -> &'static str {
    match kind {
        AlarmKind::NurseCall => "Nurse call",
        AlarmKind::StaffAssist => "Staff assist",
        AlarmKind::CardiacArrest => "Cardiac arrest",
        AlarmKind::Fire => "Fire alarm",
        AlarmKind::Monitor => "Monitor alarm",
        AlarmKind::ClinicalAlert => "Clinical alert",
        AlarmKind::Other => "Alarm",
    }
}

/// An incident's title: "Cardiac arrest — Ward 7, bed 12".
#[must_use]
pub fn incident_title(alarm: &Alarm, rule: &AlarmRule) -> String {
    let what = rule.action.title.clone().unwrap_or_else(|| kind_name(alarm.kind).to_owned());
    format!("{what} — {}", alarm.location.describe())
}

/// The answers an alarm asks for: an incident's responders say whether they are coming (its
/// escalation stops once `needed` are); a conversation's recipients accept or decline, the first
/// acceptance taking it.
fn ask(mode: Mode, needed: Option<u8>) -> Ask {
    if mode == Mode::Topic {
        // A clinical alert is taken by one of those who got it; "seen by" is its read status.
        return Ask {
            options: vec![Choice { id: ACCEPT.into(), label: "Take".into(), means: Means::Accept }],
            first_accept: true,
            deadline_ms: None,
            needed: None,
        };
    }
    let (yes, no) = if mode == Mode::Incident { ("Coming", "Can't come") } else { ("Accept", "Decline") };
    Ask {
        options: vec![
            Choice { id: ACCEPT.into(), label: yes.into(), means: Means::Accept },
            Choice { id: DECLINE.into(), label: no.into(), means: Means::Decline },
        ],
        first_accept: mode != Mode::Incident,
        deadline_ms: None,
        needed: needed.filter(|n| *n > 1 && mode == Mode::Incident),
    }
}

/// The [`ALARM`] block: what the alarm is, where and about whom (the patient only as the source
/// identified them), for Wardline's client.
fn block(alarm: &Alarm) -> Value {
    let mut b = json!({
        "alarm_id": alarm.id,
        "kind": alarm.kind,
        "source_priority": alarm.priority,
        "location": alarm.location,
        "integration": alarm.integration,
        "state": alarm.state,
    });
    if let Some(p) = &alarm.patient {
        b["patient"] = json!(p);
    }
    if let Some(r) = super::results::ResultDetails::of(alarm) {
        b["observation"] = json!(r.observation);
        if let Some(s) = r.specialty {
            b["specialty"] = json!(s);
        }
    }
    b
}

/// The message an alarm is posted as, at `level`, in a conversation of `mode`, needing
/// `needed` responders (an incident), asking `asks` if given (a page's own choices) else to
/// accept or decline. An alarm without a place (a page) is said without one.
#[must_use]
pub fn message(alarm: &Alarm, level: Level, mode: Mode, needed: Option<u8>, asks: Option<Ask>) -> Value {
    let place = alarm.location.describe();
    let body = if place.is_empty() {
        format!("{}: {}", kind_name(alarm.kind), alarm.text)
    } else {
        format!("{} — {place}: {}", kind_name(alarm.kind), alarm.text)
    };
    json!({
        "msgtype": "m.text",
        "body": body,
        PRIORITY: { "level": level },
        ASK: asks.unwrap_or_else(|| ask(mode, needed)),
        ALARM: block(alarm),
    })
}

/// The edit of an alarm's message `original` after its source changed what it says: the whole
/// message anew, as `m.new_content` of an `m.replace`.
#[must_use]
pub fn edit(
    alarm: &Alarm,
    level: Level,
    mode: Mode,
    needed: Option<u8>,
    asks: Option<Ask>,
    original: &ruma::EventId,
) -> Value {
    let new = message(alarm, level, mode, needed, asks);
    let body = format!("* {}", new.get("body").and_then(Value::as_str).unwrap_or_default());
    json!({
        "msgtype": "m.text",
        "body": body,
        "m.new_content": new,
        "m.relates_to": { "rel_type": "m.replace", "event_id": original },
    })
}

/// An open incident's state with its title and place brought up to date.
#[must_use]
pub fn incident_updated(open: &Value, alarm: &Alarm) -> Value {
    let mut s = open.clone();
    let what = open
        .get("title")
        .and_then(Value::as_str)
        .and_then(|t| t.split(" — ").next())
        .unwrap_or_else(|| kind_name(alarm.kind))
        .to_owned();
    s["title"] = json!(format!("{what} — {}", alarm.location.describe()));
    s["location"] = json!(alarm.location);
    s
}

/// An incident's [`wardline_types::alarm::INCIDENT`] state while open.
#[must_use]
pub fn incident_open(alarm: &Alarm, rule: &AlarmRule, opened: Timestamp) -> Value {
    let mut s = json!({
        "alarm_id": alarm.id,
        "kind": alarm.kind,
        "title": incident_title(alarm, rule),
        "location": alarm.location,
        "state": "open",
        "opened_ts": opened.0,
        "needed": rule.action.needed.unwrap_or(1).max(1),
    });
    if let Some(p) = &alarm.patient {
        s["patient"] = json!(p);
    }
    s
}

/// An incident's state once closed: the open state with who closed it, when and why.
#[must_use]
pub fn incident_closed(open: &Value, closed: Timestamp, by: &str, reason: Option<&str>) -> Value {
    let mut s = open.clone();
    s["state"] = json!("closed");
    s["closed_ts"] = json!(closed.0);
    s["closed_by"] = json!(by);
    if let Some(r) = reason {
        s["reason"] = json!(r);
    }
    s
}

/// The notice the integration posts when it ends its alarm: "Nurse call reset by the source".
#[must_use]
pub fn ended_notice(alarm: &Alarm, message: Option<&ruma::EventId>, reason: Option<&str>) -> Value {
    let how = if alarm.state == AlarmState::Cancelled { "cancelled" } else { "reset" };
    let mut body = format!("{} — {} {how} by the source", kind_name(alarm.kind), alarm.location.describe());
    if let Some(r) = reason {
        body.push_str(&format!(": {r}"));
    }
    let mut c = json!({
        "msgtype": "m.notice",
        "body": body,
        ALARM: block(alarm),
        "m.mentions": {},
    });
    if let Some(m) = message {
        c["m.relates_to"] = json!({ "m.in_reply_to": { "event_id": m } });
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use wardline_types::priority::request_of;

    #[test]
    fn ask_offers_accept_and_decline() {
        for mode in [Mode::Conversation, Mode::Incident] {
            let a = ask(mode, Some(3));
            assert_eq!(a.needed(), if mode == Mode::Incident { 3 } else { 1 });
            let content = json!({ PRIORITY: { "level": "emergency" }, ASK: a });
            let request = request_of(&content).ok().flatten().expect("a request");
            assert_eq!(request.ask.option(ACCEPT).map(|c| c.means), Some(Means::Accept));
            assert_eq!(request.ask.option(DECLINE).map(|c| c.means), Some(Means::Decline));
            assert_eq!(request.ask.first_accept, mode == Mode::Conversation);
        }
    }
}
