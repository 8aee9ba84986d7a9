//! Text that people type: comments and prompts. One set of rules, so every field
//! refuses the same things with the same words.

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
}
