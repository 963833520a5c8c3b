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
///
/// A word holds only characters the index's tokenizer (SQLite's `unicode61`) keeps in a word
/// too ([`is_word_char`]): a word the server counts as three letters is three letters to the
/// index, so the prefix minimum cannot be passed with characters the index drops (`ⒶⒶp` would
/// otherwise search the one-letter prefix `p*`, most of the index).
pub fn words(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !is_word_char(c)).filter(|w| !w.is_empty())
}

/// Is `c` part of a word? A letter or digit (`char::is_alphanumeric`), except the characters
/// Unicode calls alphabetic that are not letters ([`TOKENIZER_SEPARATORS`]: vowel signs and
/// other combining marks, circled letters), which the index's tokenizer treats as separators.
#[must_use]
pub fn is_word_char(c: char) -> bool {
    c.is_alphanumeric()
        && (c.is_ascii()
            || TOKENIZER_SEPARATORS
                .binary_search_by(|&(lo, hi)| {
                    if hi < c {
                        std::cmp::Ordering::Less
                    } else if lo > c {
                        std::cmp::Ordering::Greater
                    } else {
                        std::cmp::Ordering::Equal
                    }
                })
                .is_err())
}

/// The characters `char::is_alphanumeric` accepts that SQLite's `unicode61` tokenizer (as the
/// index is built, `remove_diacritics 2`) separates words with, as sorted inclusive ranges:
/// the `Other_Alphabetic` marks (Hebrew points, Indic vowel signs, ...) and the circled and
/// squared letters (`Ⓐ`, `🄰`). Generated from, and checked against, the tokenizer itself by
/// the store's test `words_split_wherever_the_tokenizer_does`, over every code point.
pub const TOKENIZER_SEPARATORS: &[(char, char)] = &[
    ('\u{0345}', '\u{0345}'),
    ('\u{0363}', '\u{036F}'),
    ('\u{05B0}', '\u{05BD}'),
    ('\u{05BF}', '\u{05BF}'),
    ('\u{05C1}', '\u{05C2}'),
    ('\u{05C4}', '\u{05C5}'),
    ('\u{05C7}', '\u{05C7}'),
    ('\u{0610}', '\u{061A}'),
    ('\u{064B}', '\u{0657}'),
    ('\u{0659}', '\u{065F}'),
    ('\u{0670}', '\u{0670}'),
    ('\u{06D6}', '\u{06DC}'),
    ('\u{06E1}', '\u{06E4}'),
    ('\u{06E7}', '\u{06E8}'),
    ('\u{06ED}', '\u{06ED}'),
    ('\u{0711}', '\u{0711}'),
    ('\u{0730}', '\u{073F}'),
    ('\u{07A6}', '\u{07B0}'),
    ('\u{0816}', '\u{0817}'),
    ('\u{081B}', '\u{0823}'),
    ('\u{0825}', '\u{0827}'),
    ('\u{0829}', '\u{082C}'),
    ('\u{08E4}', '\u{08E9}'),
    ('\u{08F0}', '\u{08FE}'),
    ('\u{0900}', '\u{0903}'),
    ('\u{093A}', '\u{093B}'),
    ('\u{093E}', '\u{094C}'),
    ('\u{094E}', '\u{094F}'),
    ('\u{0955}', '\u{0957}'),
    ('\u{0962}', '\u{0963}'),
    ('\u{0981}', '\u{0983}'),
    ('\u{09BE}', '\u{09C4}'),
    ('\u{09C7}', '\u{09C8}'),
    ('\u{09CB}', '\u{09CC}'),
    ('\u{09D7}', '\u{09D7}'),
    ('\u{09E2}', '\u{09E3}'),
    ('\u{0A01}', '\u{0A03}'),
    ('\u{0A3E}', '\u{0A42}'),
    ('\u{0A47}', '\u{0A48}'),
    ('\u{0A4B}', '\u{0A4C}'),
    ('\u{0A51}', '\u{0A51}'),
    ('\u{0A70}', '\u{0A71}'),
    ('\u{0A75}', '\u{0A75}'),
    ('\u{0A81}', '\u{0A83}'),
    ('\u{0ABE}', '\u{0AC5}'),
    ('\u{0AC7}', '\u{0AC9}'),
    ('\u{0ACB}', '\u{0ACC}'),
    ('\u{0AE2}', '\u{0AE3}'),
    ('\u{0B01}', '\u{0B03}'),
    ('\u{0B3E}', '\u{0B44}'),
    ('\u{0B47}', '\u{0B48}'),
    ('\u{0B4B}', '\u{0B4C}'),
    ('\u{0B56}', '\u{0B57}'),
    ('\u{0B62}', '\u{0B63}'),
    ('\u{0B82}', '\u{0B82}'),
    ('\u{0BBE}', '\u{0BC2}'),
    ('\u{0BC6}', '\u{0BC8}'),
    ('\u{0BCA}', '\u{0BCC}'),
    ('\u{0BD7}', '\u{0BD7}'),
    ('\u{0C01}', '\u{0C03}'),
    ('\u{0C3E}', '\u{0C44}'),
    ('\u{0C46}', '\u{0C48}'),
    ('\u{0C4A}', '\u{0C4C}'),
    ('\u{0C55}', '\u{0C56}'),
    ('\u{0C62}', '\u{0C63}'),
    ('\u{0C82}', '\u{0C83}'),
    ('\u{0CBE}', '\u{0CC4}'),
    ('\u{0CC6}', '\u{0CC8}'),
    ('\u{0CCA}', '\u{0CCC}'),
    ('\u{0CD5}', '\u{0CD6}'),
    ('\u{0CE2}', '\u{0CE3}'),
    ('\u{0D02}', '\u{0D03}'),
    ('\u{0D3E}', '\u{0D44}'),
    ('\u{0D46}', '\u{0D48}'),
    ('\u{0D4A}', '\u{0D4C}'),
    ('\u{0D57}', '\u{0D57}'),
    ('\u{0D62}', '\u{0D63}'),
    ('\u{0D82}', '\u{0D83}'),
    ('\u{0DCF}', '\u{0DD4}'),
    ('\u{0DD6}', '\u{0DD6}'),
    ('\u{0DD8}', '\u{0DDF}'),
    ('\u{0DF2}', '\u{0DF3}'),
    ('\u{0E31}', '\u{0E31}'),
    ('\u{0E34}', '\u{0E3A}'),
    ('\u{0E4D}', '\u{0E4D}'),
    ('\u{0EB1}', '\u{0EB1}'),
    ('\u{0EB4}', '\u{0EB9}'),
    ('\u{0EBB}', '\u{0EBC}'),
    ('\u{0ECD}', '\u{0ECD}'),
    ('\u{0F71}', '\u{0F83}'),
    ('\u{0F8D}', '\u{0F97}'),
    ('\u{0F99}', '\u{0FBC}'),
    ('\u{102B}', '\u{1036}'),
    ('\u{1038}', '\u{1038}'),
    ('\u{103B}', '\u{103E}'),
    ('\u{1056}', '\u{1059}'),
    ('\u{105E}', '\u{1060}'),
    ('\u{1062}', '\u{1064}'),
    ('\u{1067}', '\u{106D}'),
    ('\u{1071}', '\u{1074}'),
    ('\u{1082}', '\u{108D}'),
    ('\u{108F}', '\u{108F}'),
    ('\u{109A}', '\u{109D}'),
    ('\u{1712}', '\u{1713}'),
    ('\u{1732}', '\u{1733}'),
    ('\u{1752}', '\u{1753}'),
    ('\u{1772}', '\u{1773}'),
    ('\u{17B6}', '\u{17C8}'),
    ('\u{18A9}', '\u{18A9}'),
    ('\u{1920}', '\u{192B}'),
    ('\u{1930}', '\u{1938}'),
    ('\u{19B0}', '\u{19C0}'),
    ('\u{19C8}', '\u{19C9}'),
    ('\u{1A17}', '\u{1A1B}'),
    ('\u{1A55}', '\u{1A5E}'),
    ('\u{1A61}', '\u{1A74}'),
    ('\u{1B00}', '\u{1B04}'),
    ('\u{1B35}', '\u{1B43}'),
    ('\u{1B80}', '\u{1B82}'),
    ('\u{1BA1}', '\u{1BA9}'),
    ('\u{1BAC}', '\u{1BAD}'),
    ('\u{1BE7}', '\u{1BF1}'),
    ('\u{1C24}', '\u{1C36}'),
    ('\u{1CF2}', '\u{1CF3}'),
    ('\u{1DD3}', '\u{1DE6}'),
    ('\u{24B6}', '\u{24E9}'),
    ('\u{2DE0}', '\u{2DFF}'),
    ('\u{A674}', '\u{A67B}'),
    ('\u{A69F}', '\u{A69F}'),
    ('\u{A802}', '\u{A802}'),
    ('\u{A80B}', '\u{A80B}'),
    ('\u{A823}', '\u{A827}'),
    ('\u{A880}', '\u{A881}'),
    ('\u{A8B4}', '\u{A8C3}'),
    ('\u{A926}', '\u{A92A}'),
    ('\u{A947}', '\u{A952}'),
    ('\u{A980}', '\u{A983}'),
    ('\u{A9B4}', '\u{A9BF}'),
    ('\u{AA29}', '\u{AA36}'),
    ('\u{AA43}', '\u{AA43}'),
    ('\u{AA4C}', '\u{AA4D}'),
    ('\u{AA7B}', '\u{AA7B}'),
    ('\u{AAB0}', '\u{AAB0}'),
    ('\u{AAB2}', '\u{AAB4}'),
    ('\u{AAB7}', '\u{AAB8}'),
    ('\u{AABE}', '\u{AABE}'),
    ('\u{AAEB}', '\u{AAEF}'),
    ('\u{AAF5}', '\u{AAF5}'),
    ('\u{ABE3}', '\u{ABEA}'),
    ('\u{FB1E}', '\u{FB1E}'),
    ('\u{10A01}', '\u{10A03}'),
    ('\u{10A05}', '\u{10A06}'),
    ('\u{10A0C}', '\u{10A0F}'),
    ('\u{11000}', '\u{11002}'),
    ('\u{11038}', '\u{11045}'),
    ('\u{11080}', '\u{11082}'),
    ('\u{110B0}', '\u{110B8}'),
    ('\u{11100}', '\u{11102}'),
    ('\u{11127}', '\u{11132}'),
    ('\u{11180}', '\u{11182}'),
    ('\u{111B3}', '\u{111BF}'),
    ('\u{116AB}', '\u{116B5}'),
    ('\u{16F51}', '\u{16F7E}'),
    ('\u{16F8F}', '\u{16F92}'),
    ('\u{1F130}', '\u{1F149}'),
    ('\u{1F150}', '\u{1F169}'),
    ('\u{1F170}', '\u{1F189}'),
];

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
        // Letters the index drops separate words here too.
        assert_eq!(words("ⒶⒶb").collect::<Vec<_>>(), ["b"]);
        assert_eq!(words("🄰🄱cd").collect::<Vec<_>>(), ["cd"]);
        assert_eq!(words("lact\u{0345}ate").collect::<Vec<_>>(), ["lact", "ate"]);
        // Real letters of other scripts stay whole.
        assert_eq!(words("Łukasz 日本語 Ωμέγα").collect::<Vec<_>>(), ["Łukasz", "日本語", "Ωμέγα"]);
        assert!(TOKENIZER_SEPARATORS.windows(2).all(|w| w[0].1 < w[1].0), "sorted, for binary search");
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
