//! Text that people type: comments and prompts; and tags, whoever writes them. One
//! set of rules, so every field refuses the same things with the same words.

use crate::error::{Error, Result};

/// Trims `text` and checks it: at least one visible character, at most `max_chars`,
/// and no control characters but tab and line breaks (PostgreSQL cannot store NUL,
/// and the others only hide text from readers).
pub fn clean<'a>(text: &'a str, what: &str, max_chars: usize) -> Result<&'a str> {
    let text = text.trim();
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(Error::bad_input(format!(
            "{what} must not contain control characters"
        )));
    }
    if !text.chars().any(is_visible) {
        return Err(Error::bad_input(format!("{what} must not be blank")));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(Error::bad_input(format!(
            "{what} is {chars} characters; the limit is {max_chars}"
        )));
    }
    Ok(text)
}

/// At most this many tags on an image, and in a filter.
pub const MAX_TAGS: usize = 10;
/// Tags longer than this are dropped (from a model) or refused (in a filter).
pub const MAX_TAG_CHARS: usize = 32;

/// One tag as it is stored and matched: trimmed, lower case, a leading `#` dropped,
/// inner white space one space. `None` when nothing is left, when it is longer than
/// `MAX_TAG_CHARS`, or when it holds control or invisible characters.
pub fn tag(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let raw = raw.strip_prefix('#').unwrap_or(raw);
    let words: Vec<&str> = raw.split_whitespace().collect();
    let tag = words.join(" ").to_lowercase();
    let clean = !tag.is_empty()
        && tag.chars().count() <= MAX_TAG_CHARS
        && tag.chars().all(|c| c == ' ' || is_visible(c))
        && !tag.chars().any(char::is_control);
    clean.then_some(tag)
}

/// Tags from a model: each normalised by `tag`, the unusable ones dropped, repeats
/// removed (first kept), at most `MAX_TAGS`.
pub fn tags<'a>(raw: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for tag in raw.into_iter().filter_map(tag) {
        if tags.len() == MAX_TAGS {
            break;
        }
        if !tags.contains(&tag) {
            tags.push(tag);
        }
    }
    tags
}

/// Not white space and not an invisible formatting character (zero-width space and
/// joiners, direction marks, the byte-order mark).
fn is_visible(c: char) -> bool {
    !c.is_whitespace()
        && !matches!(
            c,
            '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2064}' | '\u{FEFF}'
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_real_text_and_refuses_the_rest() {
        assert_eq!(
            clean("  héllo 🌍\nworld ", "text", 20).unwrap(),
            "héllo 🌍\nworld"
        );
        assert_eq!(clean("مرحبا", "text", 20).unwrap(), "مرحبا");
        for bad in [
            "",
            "   ",
            "\u{200B}\u{FEFF}",
            "a\0b",
            "bell\u{7}",
            "\u{1b}[31mred",
        ] {
            assert!(clean(bad, "text", 20).is_err(), "{bad:?}");
        }
        assert!(clean(&"x".repeat(21), "text", 20).is_err());
        assert!(clean(&"é".repeat(20), "text", 20).is_ok());
    }

    #[test]
    fn tags_are_normalised_bounded_and_deduplicated() {
        assert_eq!(
            tag("  Golden   Retriever ").as_deref(),
            Some("golden retriever")
        );
        assert_eq!(tag("#Sunset").as_deref(), Some("sunset"));
        assert_eq!(tag("ÉTÉ").as_deref(), Some("été"));
        assert_eq!(tag(&"x".repeat(32)).map(|t| t.len()), Some(32));
        for bad in ["", "   ", "#", &"x".repeat(33), "a\u{200B}b", "a\u{7}b"] {
            assert_eq!(tag(bad), None, "{bad:?}");
        }
        let many: Vec<String> = (0..15).map(|i| format!("Tag{i}")).collect();
        let raw = ["Red", " red ", "", "RED", "blue"]
            .into_iter()
            .chain(many.iter().map(String::as_str));
        let tags = tags(raw);
        assert_eq!(tags.len(), MAX_TAGS);
        assert_eq!(&tags[..3], ["red", "blue", "tag0"]);
    }
}
