//! What people type, read the way they meant it: Unicode decimal digits as ASCII digits,
//! spaces, dashes and invisible characters as separators, and letter case folded.
//!
//! A code pasted from a phone's IME arrives as full-width `１２３４５６`, an Arabic keyboard
//! types `١٢٣٤٥٦`, and a copied code brings a newline or an en dash with it. None of these
//! should cost the user a try, and none of the spellings of one address should be a second
//! subject, so both codes and identifiers go through the same small rules here.

use unicode_normalization::UnicodeNormalization;

/// The zero of every run of ten Unicode decimal digits (general category Nd): each run holds
/// the digits 0 to 9 in order. Unicode 14 (checked against Python's `unicodedata`), plus the
/// runs of Unicode 15 (Kawi, Nag Mundari) and 16 (Garay, Myanmar Extended-C, Sunuwar, Gurung
/// Khema, Kirat Rai, Ol Onal, outlined digits).
const DECIMAL_ZEROS: [u32; 76] = [
    0x0030, 0x0660, 0x06F0, 0x07C0, 0x0966, 0x09E6, 0x0A66, 0x0AE6, 0x0B66, 0x0BE6, 0x0C66, 0x0CE6, 0x0D66, 0x0DE6,
    0x0E50, 0x0ED0, 0x0F20, 0x1040, 0x1090, 0x17E0, 0x1810, 0x1946, 0x19D0, 0x1A80, 0x1A90, 0x1B50, 0x1BB0, 0x1C40,
    0x1C50, 0xA620, 0xA8D0, 0xA900, 0xA9D0, 0xA9F0, 0xAA50, 0xABF0, 0xFF10, 0x104A0, 0x10D30, 0x10D40, 0x11066,
    0x110F0, 0x11136, 0x111D0, 0x112F0, 0x11450, 0x114D0, 0x11650, 0x116C0, 0x116D0, 0x116DA, 0x11730, 0x118E0,
    0x11950, 0x11BF0, 0x11C50, 0x11D50, 0x11DA0, 0x11F50, 0x16130, 0x16A60, 0x16AC0, 0x16B50, 0x16D70, 0x1CCF0,
    0x1D7CE, 0x1D7D8, 0x1D7E2, 0x1D7EC, 0x1D7F6, 0x1E140, 0x1E2F0, 0x1E4F0, 0x1E5F1, 0x1E950, 0x1FBF0,
];

/// The ASCII digit a Unicode decimal digit stands for (`'٣'` and `'３'` are `'3'`).
pub(crate) fn ascii_digit(c: char) -> Option<char> {
    if c.is_ascii_digit() {
        return Some(c); // what nearly everyone types
    }
    let c = u32::from(c);
    // The table is sorted: the run that could hold `c` starts at the last zero <= c.
    let i = DECIMAL_ZEROS.partition_point(|z| *z <= c).checked_sub(1)?;
    let offset = c - DECIMAL_ZEROS[i];
    (offset < 10).then(|| char::from(b'0' + offset as u8))
}

/// Characters that separate groups of a code or a number as people write them: Unicode
/// spaces (not line breaks), dashes and hyphens of every kind, and the invisible format
/// characters that copying from a web page or a message brings along.
pub(crate) fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\u{a0}'        // no-break space
            | '\u{2000}'..='\u{200a}' // en quad .. hair space
            | '\u{202f}'      // narrow no-break space
            | '\u{205f}'      // medium mathematical space
            | '\u{3000}'      // ideographic space
            | '-'
            | '\u{2010}'..='\u{2015}' // hyphen, non-breaking hyphen, figure dash, en dash, em dash, bar
            | '\u{2212}'      // minus sign
            | '\u{fe58}' | '\u{fe63}' | '\u{ff0d}' // small em dash, small and full-width hyphen-minus
            | '\u{200b}'..='\u{200d}' // zero-width space, non-joiner, joiner
            | '\u{2060}'      // word joiner
            | '\u{feff}' // zero-width no-break space (a byte-order mark)
    )
}

/// Full-width Latin letters (`Ａ`..`Ｚ`, `ａ`..`ｚ`), as IMEs type them, as ASCII letters.
pub(crate) fn ascii_letter(c: char) -> Option<char> {
    match c {
        'A'..='Z' | 'a'..='z' => Some(c),
        '\u{ff21}'..='\u{ff3a}' => char::from_u32(u32::from(c) - 0xff21 + u32::from('A')),
        '\u{ff41}'..='\u{ff5a}' => char::from_u32(u32::from(c) - 0xff41 + u32::from('a')),
        _ => None,
    }
}

/// The caseless, composed form of `text`: NFC, then every letter folded to one case, then NFC
/// again (folding can decompose). Folding is lowercase(uppercase(c)), applied twice, which
/// equals Unicode full case folding (`ß`, `ẞ` and `SS` all become `ss`; `ς` and `Σ` become
/// `σ`) except that it also folds the Turkish dotless `ı` to `i`.
pub(crate) fn caseless(text: &str) -> String {
    if text.is_ascii() {
        // ASCII is already composed, and its case folding is its lowercase.
        return text.to_ascii_lowercase();
    }
    let once: String = text.nfc().flat_map(char::to_uppercase).flat_map(char::to_lowercase).collect();
    let twice: String = once.chars().flat_map(char::to_uppercase).flat_map(char::to_lowercase).collect();
    twice.nfc().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_decimal_run_is_ten_numeric_characters() {
        for z in DECIMAL_ZEROS {
            for i in 0..10 {
                let c = char::from_u32(z + i).expect("a character");
                assert!(c.is_numeric(), "U+{:04X} is not numeric", z + i);
                assert_eq!(ascii_digit(c), char::from_digit(i, 10), "U+{:04X}", z + i);
            }
        }
        assert!(DECIMAL_ZEROS.windows(2).all(|w| w[0] + 10 <= w[1]), "sorted, runs apart");
    }

    #[test]
    fn digits_of_other_scripts_read_as_ascii() {
        let read = |s: &str| s.chars().map(|c| ascii_digit(c).unwrap_or('?')).collect::<String>();
        assert_eq!(read("０１２３４５６７８９"), "0123456789", "full-width");
        assert_eq!(read("٠١٢٣٤٥٦٧٨٩"), "0123456789", "Arabic-Indic");
        assert_eq!(read("۰۱۲۳۴۵۶۷۸۹"), "0123456789", "extended Arabic-Indic (Persian)");
        assert_eq!(read("०१२३४५६७८९"), "0123456789", "Devanagari");
        assert_eq!(read("𝟎𝟏𝟐"), "012", "mathematical bold");
        for not_decimal in ['a', '½', '²', 'Ⅻ', '〇', '/', ':', '\u{10ffff}'] {
            assert_eq!(ascii_digit(not_decimal), None, "{not_decimal:?}");
        }
    }

    #[test]
    fn separators_are_spaces_dashes_and_invisibles_but_not_line_breaks() {
        for c in [' ', '\u{a0}', '\u{3000}', '-', '\u{2013}', '\u{2014}', '\u{2212}', '\u{ff0d}', '\u{200b}'] {
            assert!(is_separator(c), "U+{:04X}", u32::from(c));
        }
        for c in ['\n', '\r', '.', '_', 'a', '0', '/'] {
            assert!(!is_separator(c), "{c:?}");
        }
    }

    #[test]
    fn full_width_letters_read_as_ascii() {
        assert_eq!(ascii_letter('Ａ'), Some('A'));
        assert_eq!(ascii_letter('ｚ'), Some('z'));
        assert_eq!(ascii_letter('é'), None);
    }

    #[test]
    fn caseless_folds_case_and_composes() {
        assert_eq!(caseless("JANE"), "jane");
        assert_eq!(caseless("Straße"), caseless("STRASSE"));
        assert_eq!(caseless("STRAẞE"), "strasse");
        assert_eq!(caseless("ΟΔΟΣ"), caseless("οδος"), "final sigma");
        assert_eq!(caseless("Jose\u{301}"), caseless("JOSÉ"), "NFD and NFC, upper and lower");
        assert_eq!(caseless("Ǆ"), caseless("ǅ"));
    }

    #[test]
    fn caseless_is_idempotent_on_every_character() {
        for c in (0..=0x10ffffu32).filter_map(char::from_u32) {
            let s = c.to_string();
            let once = caseless(&s);
            assert_eq!(caseless(&once), once, "U+{:04X}", u32::from(c));
        }
    }
}
