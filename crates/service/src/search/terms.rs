//! What a clinician typed into the search box, as words to look for, and the words of the
//! results to highlight.

use wardline_types::search::{fold, words};

use crate::{ServiceError, ServiceResult};

/// Longest search term, in bytes.
pub const MAX_TERM_BYTES: usize = 1_000;

/// Most words in one search.
pub const MAX_WORDS: usize = 32;

/// The last word matches as a prefix (`lact` finds `lactate`) from this many characters on:
/// shorter prefixes would match much of the index and help nobody.
pub const MIN_PREFIX_CHARS: usize = 3;

/// Most highlights in one answer.
const MAX_HIGHLIGHTS: usize = 50;

/// The words to look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    /// Every word must occur. Empty when the term has no letters or digits at all (`"`, `*`):
    /// such a search finds nothing.
    pub words: Vec<String>,
    /// The last word also matches longer words it begins.
    pub prefix_last: bool,
}

impl Terms {
    /// Reads a search term. Only letters and digits make words: quotes, `*`, brackets and
    /// FTS operators are separators or plain words (`OR` is the word "or"), so nothing typed
    /// can change how the search works. An empty term is `M_INVALID_PARAM` (the spec requires
    /// one); so are terms over [`MAX_TERM_BYTES`] or [`MAX_WORDS`].
    pub fn parse(term: &str) -> ServiceResult<Self> {
        if term.trim().is_empty() {
            return Err(ServiceError::invalid("search_term is empty: say what to search for"));
        }
        if term.len() > MAX_TERM_BYTES {
            return Err(ServiceError::invalid(format!("search_term may be at most {MAX_TERM_BYTES} bytes long")));
        }
        let all: Vec<&str> = words(term).collect();
        // A word typed twice is looked for once (each would be another posting-list merge);
        // the last one typed is kept in place, as it may match as a prefix.
        let folded: Vec<String> = all.iter().map(|w| fold(w)).collect();
        let words: Vec<String> = all
            .iter()
            .enumerate()
            .filter(|(i, _)| !folded[i + 1..].contains(&folded[*i]))
            .map(|(_, w)| (*w).to_owned())
            .collect();
        if words.len() > MAX_WORDS {
            return Err(ServiceError::invalid(format!("search_term may have at most {MAX_WORDS} words")));
        }
        let prefix_last = words.last().is_some_and(|w| w.chars().count() >= MIN_PREFIX_CHARS);
        Ok(Self { words, prefix_last })
    }

    /// Does `word` (from a result's text) match one of the terms?
    fn matches(&self, folded: &[String], word: &str) -> bool {
        let w = fold(word);
        let last = folded.len().saturating_sub(1);
        folded.iter().enumerate().any(|(i, t)| *t == w || (self.prefix_last && i == last && w.starts_with(t.as_str())))
    }

    /// The words of `texts` that matched, as written there, each once, in order of appearance
    /// (for clients to highlight: `lact` highlights "lactate").
    #[must_use]
    pub fn highlights<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
        let folded: Vec<String> = self.words.iter().map(|w| fold(w)).collect();
        let mut out: Vec<String> = Vec::new();
        for text in texts {
            for word in words(text) {
                if out.len() >= MAX_HIGHLIGHTS {
                    return out;
                }
                if self.matches(&folded, word) && !out.iter().any(|h| h == word) {
                    out.push(word.to_owned());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_and_prefixes() {
        let t = Terms::parse("  Lact ").unwrap_or_else(|_| unreachable!());
        assert_eq!(t, Terms { words: vec!["Lact".into()], prefix_last: true });
        let t = Terms::parse("bed 4").unwrap_or_else(|_| unreachable!());
        assert!(!t.prefix_last, "a one-character last word is matched whole");
        let t = Terms::parse(r#"" * NEAR( OR"#).unwrap_or_else(|_| unreachable!());
        assert_eq!(t.words, ["NEAR", "OR"]);
        assert!(Terms::parse(r#"""#).is_ok_and(|t| t.words.is_empty()), "no words: finds nothing, not an error");
        assert!(matches!(Terms::parse("   "), Err(ServiceError::InvalidParam(_))));
        assert!(matches!(Terms::parse(""), Err(ServiceError::InvalidParam(_))));
        assert!(matches!(
            Terms::parse(&(0..=MAX_WORDS).map(|i| format!("w{i} ")).collect::<String>()),
            Err(ServiceError::InvalidParam(_))
        ));
        assert!(matches!(Terms::parse(&"a".repeat(MAX_TERM_BYTES + 1)), Err(ServiceError::InvalidParam(_))));
    }

    #[test]
    fn the_prefix_minimum_counts_only_what_the_index_keeps() {
        let parse = |t: &str| Terms::parse(t).unwrap_or_else(|_| unreachable!());
        assert_eq!(parse("ⒶⒶb"), Terms { words: vec!["b".into()], prefix_last: false }, "not `b*`");
        assert_eq!(parse("🄰🄱🄲p"), Terms { words: vec!["p".into()], prefix_last: false });
        assert_eq!(parse("ab\u{0345}\u{0345}"), Terms { words: vec!["ab".into()], prefix_last: false });
        assert_eq!(parse("ⒶⒶ"), Terms { words: vec![], prefix_last: false }, "nothing the index keeps");
        assert!(parse("Łuk").prefix_last, "real letters count");
        assert!(parse("日本語").prefix_last);
    }

    #[test]
    fn repeated_words_are_looked_for_once() {
        let parse = |t: &str| Terms::parse(t).unwrap_or_else(|_| unreachable!());
        assert_eq!(parse("lact lact LACT"), Terms { words: vec!["LACT".into()], prefix_last: true });
        assert_eq!(parse("bed lact Bed 4 bed").words, ["lact", "4", "bed"]);
        // Repeats do not count against the word limit either.
        assert!(Terms::parse(&"a ".repeat(MAX_WORDS * 4)).is_ok_and(|t| t.words == ["a"]));
    }

    #[test]
    fn highlights_are_the_matched_words() {
        let t = Terms::parse("zoe lact").unwrap_or_else(|_| unreachable!());
        let h = t.highlights(["Zoë: lactate 3.1, Lactate rising", "lactic? ZOE lactate"]);
        assert_eq!(h, ["Zoë", "lactate", "Lactate", "lactic", "ZOE"]);
        let whole = Terms::parse("bed 4").unwrap_or_else(|_| unreachable!());
        assert_eq!(whole.highlights(["Bed 4, bedside 44"]), ["Bed", "4"]);
    }
}
