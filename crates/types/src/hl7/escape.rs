//! HL7 escape sequences (chapter 2, "Use of escape sequences in text fields"): a separator
//! that is part of a value is written `\F\` (field), `\S\` (component), `\T\` (sub-component),
//! `\R\` (repetition), `\E\` (the escape character), `\P\` (truncation); `\Xhh…\` is bytes in
//! hexadecimal; `\.br\` is a line break. `\H\` and `\N\` (highlighting on and off) are dropped
//! when read. A sequence not known, or not closed, is kept as written.

use super::message::Separators;

/// The longest escape sequence read (anything longer is not one).
const MAX_SEQUENCE: usize = 64;

/// `raw` with its escape sequences decoded, by the message's separators.
#[must_use]
pub fn decode(raw: &str, seps: &Separators) -> String {
    let Some(esc) = seps.escape else { return raw.to_owned() };
    if !raw.contains(esc) {
        return raw.to_owned();
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(start) = rest.find(esc) {
        out.push_str(rest.get(..start).unwrap_or(""));
        let after = rest.get(start + esc.len_utf8()..).unwrap_or("");
        let closed = after.find(esc).filter(|end| *end <= MAX_SEQUENCE);
        let decoded = closed.and_then(|end| sequence(after.get(..end).unwrap_or(""), seps));
        match (closed, decoded) {
            (Some(end), Some(text)) => {
                out.push_str(&text);
                rest = after.get(end + esc.len_utf8()..).unwrap_or("");
            }
            _ => {
                // Not a sequence: the escape character stays, and reading goes on after it.
                out.push(esc);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// What one sequence (between the escape characters) stands for; `None`: not one.
fn sequence(inner: &str, seps: &Separators) -> Option<String> {
    let one = |c: Option<char>| c.map(String::from);
    match inner {
        "F" => Some(seps.field.to_string()),
        "S" => Some(seps.component.to_string()),
        "T" => one(seps.subcomponent),
        "R" => Some(seps.repetition.to_string()),
        "E" => one(seps.escape),
        "P" => one(seps.truncation),
        ".br" => Some("\n".to_owned()),
        "H" | "N" => Some(String::new()),
        _ => {
            let hex = inner.strip_prefix('X')?;
            if hex.is_empty() || hex.len() % 2 != 0 {
                return None;
            }
            let bytes: Option<Vec<u8>> = (0..hex.len())
                .step_by(2)
                .map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
                .collect();
            Some(String::from_utf8_lossy(&bytes?).into_owned())
        }
    }
}

/// `text` written as one value of a message with these separators: every separator in it
/// escaped, line breaks as `\.br\`, other control characters as `\Xhh\`. With no escape
/// character declared, separators and control characters are replaced by spaces (they cannot
/// be written).
#[must_use]
pub fn encode(text: &str, seps: &Separators) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let named = if c == seps.field {
            Some("F")
        } else if c == seps.component {
            Some("S")
        } else if Some(c) == seps.subcomponent {
            Some("T")
        } else if c == seps.repetition {
            Some("R")
        } else if Some(c) == seps.escape {
            Some("E")
        } else if Some(c) == seps.truncation {
            Some("P")
        } else {
            None
        };
        let Some(esc) = seps.escape else {
            out.push(if named.is_some() || c.is_control() { ' ' } else { c });
            continue;
        };
        if let Some(name) = named {
            out.push(esc);
            out.push_str(name);
            out.push(esc);
        } else if c == '\r' || c == '\n' {
            if c == '\r' && chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push(esc);
            out.push_str(".br");
            out.push(esc);
        } else if c.is_control() {
            let mut buf = [0u8; 4];
            out.push(esc);
            out.push('X');
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("{b:02X}"));
            }
            out.push(esc);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequences_are_decoded() {
        let s = Separators::default();
        assert_eq!(decode("a\\F\\b\\S\\c\\T\\d\\R\\e\\E\\f", &s), "a|b^c&d~e\\f");
        assert_eq!(decode("line\\.br\\next", &s), "line\nnext");
        assert_eq!(decode("\\H\\bold\\N\\", &s), "bold");
        assert_eq!(decode("caf\\XC3A9\\", &s), "café");
        assert_eq!(decode("plain", &s), "plain");
    }

    #[test]
    fn what_is_not_a_sequence_is_kept() {
        let s = Separators::default();
        assert_eq!(decode("a\\b", &s), "a\\b", "not closed");
        assert_eq!(decode("\\Q\\", &s), "\\Q\\", "not known");
        assert_eq!(decode("\\X1\\", &s), "\\X1\\", "odd hex");
        assert_eq!(decode("\\XZZ\\", &s), "\\XZZ\\");
        assert_eq!(decode("\\\\F\\", &s), "\\|", "an empty sequence is not one; what follows is read");
        assert_eq!(decode("\\P\\", &s), "\\P\\", "no truncation character declared");
        let long = format!("\\X{}\\", "41".repeat(40));
        assert_eq!(decode(&long, &s), long, "longer than any real sequence");
    }

    #[test]
    fn encoding_then_decoding_gives_back_the_text() {
        let s = Separators::default();
        for text in ["Bay 2 | bed 12", "a^b~c&d\\e", "two\nlines", "tab\there", "ünïcødé ✓", ""] {
            let written = encode(text, &s);
            assert!(!written.contains(['|', '^', '~', '&', '\r', '\n']), "{written}");
            assert_eq!(decode(&written, &s), text);
        }
        assert_eq!(encode("a\r\nb", &s), "a\\.br\\b");
        let none = Separators { escape: None, ..Separators::default() };
        assert_eq!(encode("a|b\nc", &none), "a b c");
    }
}
