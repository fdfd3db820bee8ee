//! Validated text newtypes: names, descriptions, slugs. Parsing is the only
//! way in, so a handler holding a `KeyName` knows it is non-empty, bounded and
//! free of control characters that could drive a terminal.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Why a piece of text was refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidText {
    pub field: &'static str,
    pub problem: String,
}

impl InvalidText {
    pub(crate) fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// Characters no name, e-mail or description may hold: they are drawn as
/// nothing, or change the direction of what follows (bidi controls,
/// zero-width spaces and joiners, word joiner and invisible operators, BOM,
/// tags, fillers, soft hyphen, line and paragraph separators). A name that
/// holds one can pass for another.
#[must_use]
pub fn is_hidden(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{3164}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{E0000}'..='\u{E007F}'
    )
}

/// NFC, so a name typed with combining accents and one typed precomposed
/// are the same name.
fn normalised(raw: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    raw.nfc().collect()
}

/// Refuses text holding a hidden character, naming it.
fn refuse_hidden(field: &'static str, text: &str) -> Result<(), InvalidText> {
    match text.chars().find(|&c| is_hidden(c)) {
        Some(c) => Err(InvalidText::new(
            field,
            format!(
                "must not contain invisible or direction-changing characters (U+{:04X})",
                u32::from(c)
            ),
        )),
        None => Ok(()),
    }
}

/// What two names are compared by: NFKC, lower case, then the UTS #39
/// skeleton, so `Admin`, `ADMIN` and `аdmin` (Cyrillic а) are one name.
#[must_use]
pub fn name_key(name: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    use unicode_security::confusable_detection::skeleton;
    let folded: String = name.nfkc().collect::<String>().to_lowercase();
    skeleton(&folded)
        .collect::<String>()
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Checks a single-line label: NFC, trimmed, with a visible character, at
/// most `max` characters, no control or hidden characters at all.
pub(crate) fn label(field: &'static str, raw: &str, max: usize) -> Result<String, InvalidText> {
    let normalised = normalised(raw);
    let trimmed = normalised.trim();
    if trimmed.is_empty() {
        return Err(InvalidText::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(InvalidText::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if trimmed.chars().any(char::is_control) {
        return Err(InvalidText::new(
            field,
            "must not contain control characters",
        ));
    }
    refuse_hidden(field, trimmed)?;
    if !trimmed
        .chars()
        .any(|c| !c.is_whitespace() && !is_invisible_format(c))
    {
        return Err(InvalidText::new(field, "must contain a visible character"));
    }
    Ok(trimmed.to_owned())
}

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// Wraps a value read back from the store, which only ever holds parsed values.
            #[must_use]
            pub fn from_trusted(value: String) -> Self {
                Self(value)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

text_newtype!(
    /// A key's label (seed 000 "Bezeichnung"): 1–100 characters, one line.
    KeyName
);
text_newtype!(
    /// Free text about a key: up to 1000 characters; newlines and tabs allowed, no other control characters.
    Description
);
text_newtype!(
    /// A person's display name: 1–100 characters, one line.
    PersonName
);
text_newtype!(
    /// A tenant's display name: 1–100 characters, one line.
    DisplayName
);

pub const NAME_MAX: usize = 100;
pub const DESCRIPTION_MAX: usize = 1000;

impl KeyName {
    pub fn parse(raw: &str) -> Result<Self, InvalidText> {
        label("name", raw, NAME_MAX).map(Self)
    }

    /// The name a duplicate gets: "<name> (copy)", trimmed to fit.
    #[must_use]
    pub fn duplicate_name(&self) -> Self {
        const SUFFIX: &str = " (copy)";
        let keep = NAME_MAX - SUFFIX.len();
        let base: String = self.0.chars().take(keep).collect();
        Self(format!("{}{SUFFIX}", base.trim_end()))
    }
}

impl PersonName {
    pub fn parse(raw: &str) -> Result<Self, InvalidText> {
        label("name", raw, NAME_MAX).map(Self)
    }
}

impl DisplayName {
    pub fn parse(raw: &str) -> Result<Self, InvalidText> {
        label("name", raw, NAME_MAX).map(Self)
    }
}

impl Description {
    pub fn parse(raw: &str) -> Result<Self, InvalidText> {
        let normalised = normalised(raw);
        let trimmed = normalised.trim();
        refuse_hidden("description", trimmed)?;
        if trimmed.chars().count() > DESCRIPTION_MAX {
            return Err(InvalidText::new(
                "description",
                format!("must be at most {DESCRIPTION_MAX} characters"),
            ));
        }
        if trimmed
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(InvalidText::new(
                "description",
                "must not contain control characters other than newline and tab",
            ));
        }
        Ok(Self(trimmed.to_owned()))
    }

    #[must_use]
    pub fn empty() -> Self {
        Self(String::new())
    }
}

/// An e-mail address, checked only for shape: one `@`, no spaces or control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, InvalidText> {
        let normalised = normalised(raw);
        let trimmed = normalised.trim();
        refuse_hidden("email", trimmed)?;
        let valid = trimmed.len() <= 254
            && trimmed.matches('@').count() == 1
            && !trimmed.starts_with('@')
            && !trimmed.ends_with('@')
            && !trimmed.chars().any(|c| c.is_control() || c.is_whitespace());
        if valid {
            Ok(Self(trimmed.to_owned()))
        } else {
            Err(InvalidText::new("email", "is not an e-mail address"))
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn from_trusted(value: String) -> Self {
        Self(value)
    }
}

/// Makes text from a server safe and measurable for a terminal: removes
/// every control character (ESC, CSI, BEL…; newlines and tabs become
/// spaces) so it cannot move the cursor or recolour the screen; shows each
/// hidden character ([`is_hidden`]: bidi overrides and isolates, zero-width
/// spaces and joiners, BOM, tags, fillers), which the server refuses today
/// but an older one may have stored, as `�`, so it can neither reorder what
/// follows nor pass unseen; and removes the other invisible format
/// characters (variation selectors…) so a terminal cannot draw them wider
/// than they were measured. A character cluster
/// that would still be measured differently whole than by its characters
/// (an emoji with a skin tone) keeps only its first character. Used by the
/// console on everything it draws.
#[must_use]
pub fn strip_control(text: &str) -> String {
    use unicode_segmentation::UnicodeSegmentation;
    use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

    let kept: String = text
        .chars()
        .map(|c| {
            if matches!(c, '\n' | '\t' | '\u{2028}' | '\u{2029}') {
                ' '
            } else if is_hidden(c) {
                // Shown, not obeyed: a name that hides something says so.
                '\u{FFFD}'
            } else {
                c
            }
        })
        .filter(|&c| !c.is_control() && !is_invisible_format(c))
        .collect();
    let mut out = String::with_capacity(kept.len());
    for cluster in kept.graphemes(true) {
        let by_chars: usize = cluster.chars().map(|c| c.width().unwrap_or(0)).sum();
        if cluster.width() == by_chars {
            out.push_str(cluster);
        } else if let Some(first) = cluster.chars().next() {
            out.push(first);
        }
    }
    out
}

/// Format (Cf) and other default-ignorable characters: drawn as nothing, or
/// as something else than what follows them, depending on the terminal.
fn is_invisible_format(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_and_invisible_characters_are_refused_in_names_with_the_code_point() {
        for (raw, code) in [
            ("pay\u{202E}lpal", "U+202E"),
            ("a\u{200B}b", "U+200B"),
            ("\u{FEFF}billing", "U+FEFF"),
            ("x\u{2066}y\u{2069}", "U+2066"),
            ("tag\u{E0041}", "U+E0041"),
            ("line\u{2028}break", "U+2028"),
        ] {
            let err = KeyName::parse(raw).unwrap_err();
            assert!(err.problem.contains(code), "{raw:?}: {err}");
        }
        assert!(PersonName::parse("\u{3164}").is_err(), "a filler alone");
        assert!(Email::parse("ana\u{200B}@example.com").is_err());
        assert!(Description::parse("ok\u{202E}").is_err());
        let err = KeyName::parse("\u{FE0F}").unwrap_err();
        assert!(err.problem.contains("visible"), "{err}");
    }

    #[test]
    fn names_are_nfc_and_compared_by_their_skeleton() {
        let composed = KeyName::parse("cafe\u{301}").unwrap();
        assert_eq!(composed.as_str(), "caf\u{e9}");
        assert_eq!(name_key("Admin"), name_key("admin"));
        assert_eq!(name_key("\u{430}dmin"), name_key("admin"), "Cyrillic а");
        assert_eq!(name_key("ADMIN"), name_key("\u{FF41}dmin"), "fullwidth a");
        assert_ne!(name_key("ana"), name_key("anna"));
    }

    #[test]
    fn key_names_are_trimmed_and_bounded() {
        assert_eq!(
            KeyName::parse("  billing-sync ").unwrap().as_str(),
            "billing-sync"
        );
        assert!(KeyName::parse("").is_err());
        assert!(KeyName::parse("   ").is_err());
        assert!(KeyName::parse(&"x".repeat(101)).is_err());
        assert!(KeyName::parse(&"ü".repeat(100)).is_ok());
    }

    #[test]
    fn escape_codes_in_names_are_refused() {
        let err = KeyName::parse("evil\u{1b}[2Jname").unwrap_err();
        assert_eq!(err.field, "name");
        assert!(KeyName::parse("bell\u{7}").is_err());
        assert!(KeyName::parse("two\nlines").is_err());
    }

    #[test]
    fn descriptions_allow_newlines_but_not_escapes() {
        assert!(Description::parse("line one\nline two").is_ok());
        assert!(Description::parse("\u{1b}]52;c;Zm9v\u{7}").is_err());
        assert!(Description::parse(&"d".repeat(1001)).is_err());
        assert_eq!(Description::parse("").unwrap().as_str(), "");
    }

    #[test]
    fn duplicate_name_is_suffixed_and_fits() {
        let name = KeyName::parse("ci").unwrap();
        assert_eq!(name.duplicate_name().as_str(), "ci (copy)");
        let long = KeyName::parse(&"n".repeat(100)).unwrap();
        let copy = long.duplicate_name();
        assert!(KeyName::parse(copy.as_str()).is_ok());
        assert!(copy.as_str().ends_with(" (copy)"));
    }

    #[test]
    fn strip_control_removes_terminal_sequences() {
        assert_eq!(strip_control("a\u{1b}[31mb\u{7}c\nd"), "a[31mbc d");
    }

    #[test]
    fn strip_control_removes_invisible_format_characters() {
        // Right-to-left override, zero-width space, BOM, word joiner,
        // isolates: shown as what they are, never obeyed.
        assert_eq!(
            strip_control("a\u{202E}b\u{200B}c\u{FEFF}d\u{2060}e\u{2066}f\u{2069}"),
            "a�b�c�d�e�f�"
        );
        // A ZWJ family: its members, the joiners shown.
        assert_eq!(strip_control("👨\u{200D}👩\u{200D}👧"), "👨�👩�👧");
        // Variation selector 16 and a skin tone: measured one way only.
        assert_eq!(strip_control("❤\u{FE0F} 👍🏽"), "❤ 👍");
        // Accents and scripts that combine are kept.
        for text in [
            "e\u{301}",
            "नमस्ते क्ष",
            "สวัสดี",
            "안녕하세요",
            "こんにちは ｶﾞ",
            "مرحبا",
            "שלום",
            "வணக்கம்",
            "🇩🇪 👍",
        ] {
            assert_eq!(strip_control(text), text);
        }
    }

    #[test]
    fn emails_need_one_at_sign() {
        assert!(Email::parse("ana@example.com").is_ok());
        assert!(Email::parse("ana").is_err());
        assert!(Email::parse("a@b@c").is_err());
        assert!(Email::parse("a b@c").is_err());
    }
}
