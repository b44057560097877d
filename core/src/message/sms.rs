//! SMS encoding (3GPP TS 23.038 / 23.040): whether a text fits the GSM 03.38 7-bit alphabet
//! or needs UCS-2, and how many segments it takes (S23).

/// How an SMS is encoded on the air.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmsEncoding {
    /// The GSM 03.38 7-bit alphabet: 160 per single message, 153 per part.
    Gsm7,
    /// UCS-2: 70 per single message, 67 per part.
    Ucs2,
}

/// GSM 03.38 basic character set (one septet each).
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// GSM 03.38 extension table (an escape and a septet: two each).
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{c}";

/// The septets of each ASCII character in GSM 03.38: 1 (basic set), 2 (extension table) or
/// 0 (not in the alphabet). Made from the two sets above, so the two cannot disagree.
const GSM7_ASCII: [u8; 128] = {
    let mut table = [0u8; 128];
    let (basic, extended) = (GSM7_BASIC.as_bytes(), GSM7_EXTENDED.as_bytes());
    let mut i = 0;
    while i < basic.len() {
        // In UTF-8 a byte below 0x80 is an ASCII character, never part of another one.
        if basic[i] < 0x80 {
            table[basic[i] as usize] = 1;
        }
        i += 1;
    }
    i = 0;
    while i < extended.len() {
        if extended[i] < 0x80 && table[extended[i] as usize] == 0 {
            table[extended[i] as usize] = 2;
        }
        i += 1;
    }
    table
};

/// The septets `c` takes in GSM 03.38, or `None` when the alphabet lacks it.
fn gsm7_septets(c: char) -> Option<usize> {
    if c.is_ascii() {
        return match GSM7_ASCII[c as usize] {
            0 => None,
            n => Some(usize::from(n)),
        };
    }
    septets_by_search(c)
}

/// The septets `c` takes, by searching the two sets: what the table gives for ASCII.
fn septets_by_search(c: char) -> Option<usize> {
    if GSM7_BASIC.contains(c) {
        Some(1)
    } else if GSM7_EXTENDED.contains(c) {
        Some(2)
    } else {
        None
    }
}

/// The encoding an SMS needs and the segments it takes (3GPP TS 23.038 / 23.040). Multi-part
/// messages carry a header, leaving 153 septets or 67 UCS-2 units a part; an escape pair or a
/// surrogate pair is never split across parts.
pub fn sms_segments(text: &str) -> (SmsEncoding, u32) {
    let gsm = text.chars().all(|c| gsm7_septets(c).is_some());
    let (encoding, single, part) = match gsm {
        true => (SmsEncoding::Gsm7, 160, 153),
        false => (SmsEncoding::Ucs2, 70, 67),
    };
    let units = |c: char| match gsm {
        true => gsm7_septets(c).unwrap_or(1),
        false => c.len_utf16(),
    };
    let total: usize = text.chars().map(units).sum();
    if total <= single {
        return (encoding, 1);
    }
    let mut parts = 1;
    let mut used = 0;
    for u in text.chars().map(units) {
        if used + u > part {
            parts += 1;
            used = 0;
        }
        used += u;
    }
    (encoding, parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s23_segment_counting() {
        assert_eq!(sms_segments(&"a".repeat(160)), (SmsEncoding::Gsm7, 1));
        assert_eq!(sms_segments(&"a".repeat(161)), (SmsEncoding::Gsm7, 2));
        assert_eq!(sms_segments(&"a".repeat(306)), (SmsEncoding::Gsm7, 2));
        assert_eq!(sms_segments(&"a".repeat(307)), (SmsEncoding::Gsm7, 3));
        assert_eq!(sms_segments(&"€".repeat(80)), (SmsEncoding::Gsm7, 1), "extension chars count two");
        assert_eq!(sms_segments(&"€".repeat(81)), (SmsEncoding::Gsm7, 2));
        assert_eq!(sms_segments(&"ж".repeat(70)), (SmsEncoding::Ucs2, 1));
        assert_eq!(sms_segments(&"ж".repeat(71)), (SmsEncoding::Ucs2, 2));
        assert_eq!(sms_segments(&"ж".repeat(134)), (SmsEncoding::Ucs2, 2));
        assert_eq!(sms_segments(&"ж".repeat(135)), (SmsEncoding::Ucs2, 3));
        // 66 units then a surrogate pair: the pair moves to the next part whole.
        let s = format!("{}😀{}", "ж".repeat(66), "ж".repeat(60));
        assert_eq!(sms_segments(&s), (SmsEncoding::Ucs2, 2));
        let s = format!("{}😀{}", "ж".repeat(66), "ж".repeat(66));
        assert_eq!(sms_segments(&s), (SmsEncoding::Ucs2, 3));
    }

    #[test]
    fn s23_the_ascii_table_is_the_alphabet() {
        for c in (0..=0x2_0000).filter_map(char::from_u32) {
            assert_eq!(gsm7_septets(c), septets_by_search(c), "{:?}", c);
        }
    }
}
