//! Message search: which text of which event is searchable, and how what a clinician types
//! becomes words to look for.
//!
//! Every store indexes by these rules ([`indexed_text`], [`edit_of`]) and the service reads
//! search terms and finds the words to highlight with [`words`] and [`fold`], so the index and
//! the highlights agree on what a word is: a run of letters and digits, compared without case
//! and, for Latin letters, without accents ("Zoë" is found by "zoe").

use serde_json::Value;

use crate::kinds;
use crate::relation::rel_types::REPLACE;

/// Which part of an event's content is searched (the spec's `keys`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SearchKey {
    /// `content.body` of `m.room.message` (for an edited message, of its latest edit).
    Body,
    /// `content.name` of `m.room.name`.
    Name,
    /// `content.topic` of `m.room.topic`.
    Topic,
}

impl SearchKey {
    /// Every key, the default when a search names none.
    pub const ALL: [Self; 3] = [Self::Body, Self::Name, Self::Topic];

    /// The key's name in the spec (`content.body`).
    #[must_use]
    pub const fn spec_name(self) -> &'static str {
        match self {
            Self::Body => "content.body",
            Self::Name => "content.name",
            Self::Topic => "content.topic",
        }
    }

    /// The event type whose content holds this key.
    #[must_use]
    pub const fn event_type(self) -> &'static str {
        match self {
            Self::Body => kinds::MESSAGE,
            Self::Name => kinds::NAME,
            Self::Topic => kinds::TOPIC,
        }
    }

    /// The key with this spec name.
    #[must_use]
    pub fn from_spec_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.spec_name() == name)
    }
}

/// An edit: an `m.room.message` whose `m.relates_to` has `rel_type` `m.replace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Edit<'a> {
    /// The id of the message it edits.
    pub target: &'a str,
    /// The new text (`m.new_content.body`), if it has one.
    pub new_body: Option<&'a str>,
}

/// The edit an event makes, if it is one (whether or not its target exists or may be edited:
/// the store checks that against the stored target).
#[must_use]
pub fn edit_of<'a>(kind: &str, content: &'a Value) -> Option<Edit<'a>> {
    if kind != kinds::MESSAGE {
        return None;
    }
    let relates = content.get("m.relates_to")?;
    if relates.get("rel_type").and_then(Value::as_str) != Some(REPLACE) {
        return None;
    }
    let target = relates.get("event_id").and_then(Value::as_str)?;
    let new_body = content.get("m.new_content").and_then(|c| c.get("body")).and_then(Value::as_str);
    Some(Edit { target, new_body: new_body.filter(|b| !b.is_empty()) })
}

/// Is this content an edit of another message (its text is then searched as that message's)?
#[must_use]
pub fn is_edit(content: &Value) -> bool {
    content.get("m.relates_to").and_then(|r| r.get("rel_type")).and_then(Value::as_str) == Some(REPLACE)
}

/// The text an event contributes to the search index, and under which key:
/// - the `body` of an `m.room.message` that is not an edit (an edit's text is searched as the
///   message it edits, see [`edit_of`]);
/// - the `name` of an `m.room.name` and the `topic` of an `m.room.topic` state event.
///
/// Empty and non-string values contribute nothing. Encrypted events contribute nothing: the
/// server cannot read them.
#[must_use]
pub fn indexed_text<'a>(kind: &str, state_key: Option<&str>, content: &'a Value) -> Option<(SearchKey, &'a str)> {
    let (key, field) = match (kind, state_key) {
        (kinds::MESSAGE, None) if !is_edit(content) => (SearchKey::Body, "body"),
        (kinds::NAME, Some("")) => (SearchKey::Name, "name"),
        (kinds::TOPIC, Some("")) => (SearchKey::Topic, "topic"),
        _ => return None,
    };
    let text = content.get(field).and_then(Value::as_str).filter(|t| !t.is_empty())?;
    Some((key, text))
}

/// The words of a text: runs of letters and digits (anything else separates them). This is
/// how search terms are read, so quotes, `*`, brackets and operators (`OR`, `NEAR(`) typed
/// into a search are separators or plain words, never query syntax.
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

/// A word as the index compares it: lower case, Latin letters without their accents.
#[must_use]
pub fn fold(word: &str) -> String {
    word.chars().flat_map(char::to_lowercase).map(strip_accent).collect()
}

/// The base letter of an accented Latin letter (Latin-1 Supplement and Latin Extended-A,
/// the accents of names on a British ward); any other character unchanged.
fn strip_accent(c: char) -> char {
    ACCENTED.chars().position(|f| f == c).and_then(|i| BASE.chars().nth(i)).unwrap_or(c)
}

/// Accented Latin letters (lower case) that SQLite's `unicode61` tokenizer folds to their base
/// letter, and those base letters, in the same order.
const ACCENTED: &str = "àáâãäåāăąçćĉċčďèéêëēĕėęěĝğġģĥìíîïĩīĭįĵķĺļľñńņňòóôõöōŏőŕŗřśŝşšţťùúûüũūŭůűųŵýÿŷźżž";
const BASE: &str = "aaaaaaaaacccccdeeeeeeeeegggghiiiiiiiijklllnnnnoooooooorrrssssttuuuuuuuuuuwyyyzzz";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_is_indexed() {
        let msg = json!({"msgtype": "m.text", "body": "Bed 4 lactate 3.1"});
        assert_eq!(indexed_text(kinds::MESSAGE, None, &msg), Some((SearchKey::Body, "Bed 4 lactate 3.1")));
        assert_eq!(indexed_text(kinds::NAME, Some(""), &json!({"name": "Ward 7"})), Some((SearchKey::Name, "Ward 7")));
        assert_eq!(
            indexed_text(kinds::TOPIC, Some(""), &json!({"topic": "Sepsis"})),
            Some((SearchKey::Topic, "Sepsis"))
        );
        assert_eq!(indexed_text(kinds::NAME, Some("x"), &json!({"name": "Ward 7"})), None, "not the room's name");
        assert_eq!(indexed_text(kinds::MESSAGE, None, &json!({"body": ""})), None);
        assert_eq!(indexed_text(kinds::MESSAGE, None, &json!({"body": 7})), None);
        assert_eq!(indexed_text(kinds::ENCRYPTED, None, &json!({"ciphertext": "x"})), None);
        let edit = json!({
            "msgtype": "m.text", "body": "* lactate 2.0",
            "m.new_content": {"msgtype": "m.text", "body": "lactate 2.0"},
            "m.relates_to": {"rel_type": "m.replace", "event_id": "$orig"}
        });
        assert_eq!(indexed_text(kinds::MESSAGE, None, &edit), None, "an edit is searched as its target");
        assert_eq!(edit_of(kinds::MESSAGE, &edit), Some(Edit { target: "$orig", new_body: Some("lactate 2.0") }));
        let reply = json!({"body": "ok", "m.relates_to": {"m.in_reply_to": {"event_id": "$x"}}});
        assert_eq!(edit_of(kinds::MESSAGE, &reply), None);
        assert!(indexed_text(kinds::MESSAGE, None, &reply).is_some());
    }

    #[test]
    fn words_are_letters_and_digits_only() {
        let w: Vec<&str> = words(r#"NEAR( "K+ 5.9" OR lact* -- ü "#).collect();
        assert_eq!(w, ["NEAR", "K", "5", "9", "OR", "lact", "ü"]);
        assert_eq!(words(r#"" * ( ) : ^ {}"#).count(), 0);
    }

    #[test]
    fn folding() {
        assert_eq!(fold("Zoë"), "zoe");
        assert_eq!(fold("SIÂN"), "sian");
        assert_eq!(fold("Łukasz"), "łukasz", "no decomposition: the index keeps it too");
        assert_eq!(ACCENTED.chars().count(), BASE.chars().count());
        assert_eq!(fold("Lactate"), "lactate");
        assert_eq!(fold("日本"), "日本");
    }
}
