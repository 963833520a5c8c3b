//! Priority messages and the answers they ask for: the `org.wardline.priority` and
//! `org.wardline.ask` blocks of an `m.room.message`, and the answers that refer to it.
//!
//! A priority message is an ordinary `m.room.message` (a stock Matrix client shows it), with
//! - `org.wardline.priority`: `{"level": "urgent" | "emergency"}` (routine is the absence of the
//!   block);
//! - `org.wardline.ask`: the answers it asks for, `{"options": [{"id", "label", "means"}],
//!   "first_accept": bool, "deadline_ms": n, "needed": n}` (`needed`: how many must accept before
//!   its escalation stops, 1 to 20, one if absent). An urgent or emergency message always asks; one
//!   that names no options asks for *Acknowledge* or *Decline*. A routine message may ask too
//!   (quick responses: "Accept patient", "On my way 5 min", "Decline").
//!
//! An **answer** is either
//! - an `m.room.message` (so stock clients show it) with `m.relates_to` `m.reference` to the
//!   message and `org.wardline.response`: `{"option": id, "reason": text}`; or
//! - a reaction a stock client can send: 👍 ✅ ✔️ acknowledge (the message's first option that
//!   means *accept*), 👎 ❌ decline (its first that means *decline*), and the keycaps 1️⃣ … 6️⃣
//!   choose the option of that number, as the message's body lists them.
//!
//! Pure rules only: parsing, checking and the text a stock client shows ([`fallback_body`]).

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// The priority block of a message.
pub const PRIORITY: &str = "org.wardline.priority";
/// The block of a message asking for answers.
pub const ASK: &str = "org.wardline.ask";
/// The block of an answer.
pub const RESPONSE: &str = "org.wardline.response";

/// The option id of a plain acknowledgement.
pub const ACKNOWLEDGE: &str = "acknowledge";
/// The option id of a plain refusal.
pub const DECLINE: &str = "decline";

/// Most people a message may need to accept it before its escalation stops.
pub const MAX_NEEDED: u8 = 20;
/// Most options a message may offer (the keycaps 1️⃣ … 6️⃣ name them for stock clients).
pub const MAX_OPTIONS: usize = 6;
/// Longest option label, in characters.
pub const MAX_LABEL_CHARS: usize = 40;
/// Longest reason given with an answer, in characters.
pub const MAX_REASON_CHARS: usize = 500;
/// Shortest and longest deadline for answers, in milliseconds (a minute, a day).
pub const DEADLINE_MS: std::ops::RangeInclusive<u64> = 60_000..=86_400_000;

/// Reaction keys that acknowledge.
pub const ACK_KEYS: [&str; 4] = ["👍", "✅", "✔️", "✔"];
/// Reaction keys that decline.
pub const DECLINE_KEYS: [&str; 2] = ["👎", "❌"];
/// Reaction keys that choose an option by its number.
pub const NUMBER_KEYS: [&str; MAX_OPTIONS] = ["1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣"];

/// How urgent a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The default: no escalation.
    Routine,
    /// Escalates until acknowledged; reaches the cover of someone on do-not-disturb.
    Urgent,
    /// Escalates until acknowledged; always breaks through do-not-disturb.
    Emergency,
}

impl Level {
    /// `routine`, `urgent`, `emergency`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Routine => "routine",
            Self::Urgent => "urgent",
            Self::Emergency => "emergency",
        }
    }

    /// From its name.
    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "routine" => Some(Self::Routine),
            "urgent" => Some(Self::Urgent),
            "emergency" => Some(Self::Emergency),
            _ => None,
        }
    }

    /// What a stock client's body starts with: `[URGENT]`, `[EMERGENCY]`; nothing for routine.
    #[must_use]
    pub fn tag(self) -> Option<&'static str> {
        match self {
            Self::Routine => None,
            Self::Urgent => Some("[URGENT]"),
            Self::Emergency => Some("[EMERGENCY]"),
        }
    }
}

/// What choosing an option means for the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Means {
    /// Acknowledges (accepts): ends escalation.
    Accept,
    /// Declines: escalates at once.
    Decline,
    /// An answer that is neither ("Call me"): shown, changes nothing.
    Info,
}

/// One answer a message offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Choice {
    /// Its id (`[a-z0-9_-]`, at most 32 bytes).
    pub id: String,
    /// What the button says.
    pub label: String,
    /// What it means.
    pub means: Means,
}

/// The answers a message asks for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ask {
    /// The options, in the order shown (and numbered for stock clients).
    pub options: Vec<Choice>,
    /// Sent to a group or a role: the first acceptance takes it and ends it for the others.
    #[serde(default)]
    pub first_accept: bool,
    /// Tell the sender if nobody has accepted within this many milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<u64>,
    /// How many people must stand accepting before its escalation stops (an incident's team):
    /// one if absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub needed: Option<u8>,
}

impl Ask {
    /// The default question of an urgent or emergency message: Acknowledge or Decline.
    #[must_use]
    pub fn acknowledge_or_decline() -> Self {
        Self {
            options: vec![
                Choice { id: ACKNOWLEDGE.into(), label: "Acknowledge".into(), means: Means::Accept },
                Choice { id: DECLINE.into(), label: "Decline".into(), means: Means::Decline },
            ],
            first_accept: false,
            deadline_ms: None,
            needed: None,
        }
    }

    /// How many must stand accepting before the escalation stops (at least one).
    #[must_use]
    pub fn needed(&self) -> u64 {
        self.needed.map_or(1, u64::from).max(1)
    }

    /// The option with this id.
    #[must_use]
    pub fn option(&self, id: &str) -> Option<&Choice> {
        self.options.iter().find(|c| c.id == id)
    }
}

/// What a message asks of its recipients: its level and the answers it offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Its priority.
    pub level: Level,
    /// The answers it asks for (always some for urgent and emergency).
    pub ask: Ask,
}

/// Why a priority block, a question or an answer is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriorityError {
    /// The priority block is not `{"level": "urgent" | "emergency" | "routine"}`.
    #[error("org.wardline.priority must be {{\"level\": \"urgent\"}} or {{\"level\": \"emergency\"}}")]
    BadLevel,
    /// The question is malformed.
    #[error("org.wardline.ask: {0}")]
    BadAsk(String),
    /// The answer is malformed.
    #[error("org.wardline.response: {0}")]
    BadAnswer(String),
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

/// What the message with this content asks: `None` for an ordinary message.
///
/// # Errors
/// A malformed priority block or question.
pub fn request_of(content: &Value) -> Result<Option<Request>, PriorityError> {
    let level = match content.get(PRIORITY) {
        None | Some(Value::Null) => Level::Routine,
        Some(block) => {
            block.get("level").and_then(Value::as_str).and_then(Level::parse).ok_or(PriorityError::BadLevel)?
        }
    };
    let ask = match content.get(ASK) {
        None | Some(Value::Null) => None,
        Some(block) => Some(parse_ask(block)?),
    };
    Ok(match (level, ask) {
        (Level::Routine, None) => None,
        (level, Some(ask)) => Some(Request { level, ask }),
        (level, None) => Some(Request { level, ask: Ask::acknowledge_or_decline() }),
    })
}

fn parse_ask(block: &Value) -> Result<Ask, PriorityError> {
    let bad = |m: &str| PriorityError::BadAsk(m.into());
    let mut ask: Ask = serde_json::from_value(block.clone()).map_err(|e| PriorityError::BadAsk(e.to_string()))?;
    if ask.options.is_empty() {
        ask.options = Ask::acknowledge_or_decline().options;
    }
    if ask.options.len() > MAX_OPTIONS {
        return Err(bad("at most 6 options"));
    }
    for (i, c) in ask.options.iter().enumerate() {
        if !valid_id(&c.id) {
            return Err(bad("an option id is 1 to 32 of a-z, 0-9, _ and -"));
        }
        if ask.options.iter().take(i).any(|o| o.id == c.id) {
            return Err(bad("option ids must differ"));
        }
        let chars = c.label.trim().chars().count();
        if chars == 0 || chars > MAX_LABEL_CHARS || c.label.chars().any(char::is_control) {
            return Err(bad("an option label is 1 to 40 characters on one line"));
        }
    }
    if !ask.options.iter().any(|c| c.means == Means::Accept) {
        return Err(bad("at least one option must mean accept"));
    }
    if ask.deadline_ms.is_some_and(|d| !DEADLINE_MS.contains(&d)) {
        return Err(bad("deadline_ms is between one minute and one day"));
    }
    if ask.needed.is_some_and(|n| !(1..=MAX_NEEDED).contains(&n)) {
        return Err(bad("needed is 1 to 20"));
    }
    Ok(ask)
}

/// The body a stock client shows: the level's tag first, then the text, then the options as a
/// numbered list with the reactions that answer ("React 1️⃣ Accept patient · 2️⃣ Decline").
#[must_use]
pub fn fallback_body(body: &str, request: &Request) -> String {
    let mut out = String::new();
    if let Some(tag) = request.level.tag()
        && !body.starts_with(tag)
    {
        out.push_str(tag);
        out.push(' ');
    }
    out.push_str(body);
    let listed: Vec<String> =
        request.ask.options.iter().zip(NUMBER_KEYS).map(|(c, key)| format!("{key} {}", c.label)).collect();
    let marker = "\n\nReact ";
    if !body.contains(marker) {
        out.push_str(marker);
        out.push_str(&listed.join(" · "));
    }
    out
}

/// The answer an event gives, before it is matched with the message's options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Given {
    /// An `org.wardline.response` naming an option.
    Option {
        /// The option id.
        id: String,
        /// A reason, if given.
        reason: Option<String>,
    },
    /// A reaction that acknowledges.
    AckReaction,
    /// A reaction that declines.
    DeclineReaction,
    /// A reaction choosing the option of this index (0-based).
    NumberReaction(usize),
}

impl Given {
    /// The option of `ask` this answer chooses, if any.
    #[must_use]
    pub fn choice<'a>(&self, ask: &'a Ask) -> Option<&'a Choice> {
        match self {
            Self::Option { id, .. } => ask.option(id),
            Self::AckReaction => ask.options.iter().find(|c| c.means == Means::Accept),
            Self::DeclineReaction => ask.options.iter().find(|c| c.means == Means::Decline),
            Self::NumberReaction(i) => ask.options.get(*i),
        }
    }

    /// The reason given with it.
    #[must_use]
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::Option { reason, .. } => reason.as_deref(),
            _ => None,
        }
    }
}

/// The answer a reaction with this key gives, if it gives one.
#[must_use]
pub fn reaction_answer(key: &str) -> Option<Given> {
    // The same sign however a keyboard spells it: without skin tones and presentation selectors.
    let bare: String =
        key.chars().filter(|c| !matches!(*c, '\u{FE0F}' | '\u{FE0E}' | '\u{1F3FB}'..='\u{1F3FF}')).collect();
    let bare_of = |k: &&str| k.chars().filter(|c| !matches!(*c, '\u{FE0F}' | '\u{FE0E}')).collect::<String>() == bare;
    if ACK_KEYS.iter().any(&bare_of) {
        Some(Given::AckReaction)
    } else if DECLINE_KEYS.iter().any(&bare_of) {
        Some(Given::DeclineReaction)
    } else {
        NUMBER_KEYS.iter().position(bare_of).map(Given::NumberReaction)
    }
}

/// The answer an event of this type and content gives to the event it relates to, with that
/// event's id: `Ok(None)` for an event that answers nothing.
///
/// # Errors
/// An `org.wardline.response` that is malformed or does not refer to its message.
pub fn answer_of(kind: &str, content: &Value) -> Result<Option<(String, Given)>, PriorityError> {
    let rel = content.get("m.relates_to");
    let rel_type = rel.and_then(|r| r.get("rel_type")).and_then(Value::as_str);
    let target = rel.and_then(|r| r.get("event_id")).and_then(Value::as_str);
    if kind == crate::relation::REACTION {
        let (Some("m.annotation"), Some(target)) = (rel_type, target) else { return Ok(None) };
        let key = rel.and_then(|r| r.get("key")).and_then(Value::as_str).unwrap_or_default();
        return Ok(reaction_answer(key).map(|given| (target.to_owned(), given)));
    }
    let Some(block) = content.get(RESPONSE) else { return Ok(None) };
    let bad = |m: &str| PriorityError::BadAnswer(m.into());
    if kind != crate::event::kinds::MESSAGE {
        return Err(bad("an answer is an m.room.message"));
    }
    let (Some("m.reference"), Some(target)) = (rel_type, target) else {
        return Err(bad("an answer refers to its message (m.relates_to with rel_type m.reference)"));
    };
    let id = block.get("option").and_then(Value::as_str).ok_or_else(|| bad("option is required"))?;
    let reason = match block.get("reason") {
        None | Some(Value::Null) => None,
        Some(Value::String(r)) if r.chars().count() <= MAX_REASON_CHARS => {
            Some(r.trim().to_owned()).filter(|r| !r.is_empty())
        }
        Some(_) => return Err(bad("reason is a text of at most 500 characters")),
    };
    Ok(Some((target.to_owned(), Given::Option { id: id.to_owned(), reason })))
}

/// The content of an answer choosing `choice` of the message `target`, as a client sends it:
/// a readable body ("Accept patient — bed full"), the reference, the response block.
#[must_use]
pub fn answer_content(target: &str, choice: &Choice, reason: Option<&str>) -> Value {
    let body = match reason {
        Some(r) => format!("{} — {r}", choice.label),
        None => choice.label.clone(),
    };
    let mut block = json!({ "option": choice.id });
    if let Some(r) = reason {
        block["reason"] = json!(r);
    }
    json!({
        "msgtype": "m.text",
        "body": body,
        "m.relates_to": { "rel_type": "m.reference", "event_id": target },
        RESPONSE: block,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urgent_without_options_asks_to_acknowledge_or_decline() {
        let r = request_of(&json!({"body": "K+ 6.9", PRIORITY: {"level": "urgent"}})).unwrap().unwrap();
        assert_eq!(r.level, Level::Urgent);
        assert_eq!(r.ask, Ask::acknowledge_or_decline());
        assert_eq!(request_of(&json!({"body": "hello"})).unwrap(), None, "routine, no question");
        assert_eq!(request_of(&json!({PRIORITY: {"level": "loud"}})), Err(PriorityError::BadLevel));
        assert_eq!(request_of(&json!({PRIORITY: "urgent"})), Err(PriorityError::BadLevel));
    }

    #[test]
    fn questions_are_checked() {
        let opt = |id: &str, label: &str, means: &str| json!({"id": id, "label": label, "means": means});
        let ask = |options: Value| request_of(&json!({ASK: {"options": options}}));
        let ok =
            ask(json!([opt("accept", "Accept patient", "accept"), opt("no", "Decline", "decline")])).unwrap().unwrap();
        assert_eq!(ok.level, Level::Routine, "a routine message may ask");
        assert_eq!(ok.ask.options.len(), 2);
        assert!(ask(json!([opt("x", "Call me", "info")])).is_err(), "nothing accepts");
        assert!(ask(json!([opt("A", "x", "accept")])).is_err(), "id case");
        assert!(ask(json!([opt("a", "x", "accept"), opt("a", "y", "decline")])).is_err(), "same id twice");
        assert!(ask(json!([opt("a", "", "accept")])).is_err(), "empty label");
        assert!(ask(json!([opt("a", "two\nlines", "accept")])).is_err(), "label on one line");
        assert!(ask(json!([opt("a", &"x".repeat(41), "accept")])).is_err(), "label too long");
        assert!(ask(json!((0..7).map(|i| opt(&format!("o{i}"), "x", "accept")).collect::<Vec<_>>())).is_err());
        assert!(ask(json!([opt("a", "x", "maybe")])).is_err(), "unknown meaning");
        let late = request_of(&json!({ASK: {"options": [opt("a", "x", "accept")], "deadline_ms": 10}}));
        assert!(late.is_err(), "deadline under a minute");
        let team = request_of(&json!({ASK: {"options": [opt("a", "x", "accept")], "needed": 3}})).unwrap().unwrap();
        assert_eq!(team.ask.needed(), 3);
        assert_eq!(ok.ask.needed(), 1, "one if absent");
        assert!(request_of(&json!({ASK: {"options": [opt("a", "x", "accept")], "needed": 0}})).is_err());
        assert!(request_of(&json!({ASK: {"options": [opt("a", "x", "accept")], "needed": 21}})).is_err());
        let empty = request_of(&json!({ASK: {"options": []}, PRIORITY: {"level": "emergency"}})).unwrap().unwrap();
        assert_eq!(empty.ask.options, Ask::acknowledge_or_decline().options, "no options: acknowledge or decline");
    }

    #[test]
    fn stock_clients_see_the_level_and_the_options() {
        let r = request_of(&json!({PRIORITY: {"level": "urgent"}})).unwrap().unwrap();
        let body = fallback_body("K+ 6.9 bed 4", &r);
        assert_eq!(body, "[URGENT] K+ 6.9 bed 4\n\nReact 1️⃣ Acknowledge · 2️⃣ Decline");
        assert_eq!(fallback_body(&body, &r), body, "applied once");
    }

    #[test]
    fn answers_are_read_from_responses_and_reactions() {
        let ask = Ask::acknowledge_or_decline();
        let react = |key: &str| {
            answer_of(
                "m.reaction",
                &json!({"m.relates_to": {"rel_type": "m.annotation", "event_id": "$m", "key": key}}),
            )
            .unwrap()
            .map(|(t, g)| (t, g.choice(&ask).map(|c| c.id.clone())))
        };
        assert_eq!(react("👍"), Some(("$m".into(), Some(ACKNOWLEDGE.into()))));
        assert_eq!(react("❌"), Some(("$m".into(), Some(DECLINE.into()))));
        assert_eq!(react("2️⃣"), Some(("$m".into(), Some(DECLINE.into()))));
        assert_eq!(react("5️⃣"), Some(("$m".into(), None)), "no fifth option");
        assert_eq!(react("😀"), None, "an ordinary reaction answers nothing");
        assert_eq!(react("👍🏽"), Some(("$m".into(), Some(ACKNOWLEDGE.into()))), "whatever the skin tone");
        assert_eq!(react("1\u{20E3}"), Some(("$m".into(), Some(ACKNOWLEDGE.into()))), "a keycap without its selector");
        let choice = &ask.options[1];
        let content = answer_content("$m", choice, Some("bed full"));
        assert_eq!(content["body"], "Decline — bed full");
        let (target, given) = answer_of("m.room.message", &content).unwrap().unwrap();
        assert_eq!((target.as_str(), given.choice(&ask), given.reason()), ("$m", Some(choice), Some("bed full")));
        let no_ref = json!({"body": "x", RESPONSE: {"option": "decline"}});
        assert!(answer_of("m.room.message", &no_ref).is_err(), "an answer refers to its message");
        assert_eq!(answer_of("m.room.message", &json!({"body": "hi"})).unwrap(), None);
    }
}
