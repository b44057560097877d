//! Codes: drawing them, reading what the user typed, and the keyed hash that is all the
//! store ever sees of them.

use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::Error;
use crate::identifier::Purpose;
use crate::mac::PreparedMac;
use crate::policy::{Alphabet, Policy};
use crate::random::{uniform_below, Draws, Random};
use crate::unicode::{ascii_digit, ascii_letter, is_separator};

/// The most bytes of typed code the engine reads; longer input is a wrong code. Room for ten
/// four-byte digits with a separator between each.
pub const MAX_CODE_INPUT_BYTES: usize = 128;

/// Draws a fresh code: uniform over the alphabet, leading zeros kept (S1, S3). This is the
/// draw the engine uses; it is public so that its distribution can be tested and measured.
pub fn generate(policy: &Policy, random: &dyn Random) -> Result<Zeroizing<String>, Error> {
    generate_from(policy, &mut Draws::new(random, draw_bytes(policy))?)
}

/// The random bytes a code of this policy takes (unless rejection sampling throws some away):
/// one 64-bit draw for a numeric code, one per symbol for an alphanumeric one.
pub(crate) fn draw_bytes(policy: &Policy) -> usize {
    match policy.alphabet {
        Alphabet::Digits => 8,
        Alphabet::Alphanumeric => 8 * usize::from(policy.code_length),
    }
}

/// Draws a code from bytes already drawn.
pub(crate) fn generate_from(policy: &Policy, draws: &mut Draws<'_>) -> Result<Zeroizing<String>, Error> {
    let symbols = policy.alphabet.symbols();
    let len = policy.code_length as u32;
    let mut code = Zeroizing::new(String::with_capacity(len as usize));
    match policy.alphabet {
        Alphabet::Digits => {
            // One draw for the whole code: 10^len <= 10^10 fits in a u64.
            let mut v = uniform_below(draws, 10u64.pow(len))?;
            let mut digits = [b'0'; 10];
            for i in (0..len as usize).rev() {
                digits[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
            code.push_str(std::str::from_utf8(&digits[..len as usize]).expect("ASCII digits"));
        }
        Alphabet::Alphanumeric => {
            for _ in 0..len {
                let i = uniform_below(draws, symbols.len() as u64)? as usize;
                code.push(symbols[i] as char);
            }
        }
    }
    Ok(code)
}

/// What the user typed, read the way they meant it; `None` when it cannot be a code of this
/// policy (then it is simply a wrong code). The rule, in full:
///
/// - whitespace around the code, line breaks included, is ignored (a pasted `123456\n`);
/// - inside it, spaces, dashes of every kind (`-`, en and em dashes, minus signs) and
///   invisible format characters are ignored (`123 456`, `123–456`);
/// - Unicode decimal digits of any script are read as ASCII digits (full-width `１２３`,
///   Arabic-Indic `١٢٣`, Devanagari, ...), and for alphanumeric codes full-width letters as
///   ASCII letters, with case folded;
/// - anything else (a letter in a numeric code, a line break inside it) makes it wrong.
pub(crate) fn normalise_input(policy: &Policy, typed: &str) -> Option<TypedCode> {
    if typed.len() > MAX_CODE_INPUT_BYTES {
        return None;
    }
    let symbols = policy.alphabet.symbols();
    let length = usize::from(policy.code_length).min(MAX_CODE_LENGTH);
    // On the stack, wiped when dropped: no heap copy of what the user typed.
    let mut out = TypedCode { symbols: [0; MAX_CODE_LENGTH], len: 0 };
    for c in typed.trim_matches(|c: char| c.is_whitespace() || is_separator(c)).chars() {
        if is_separator(c) {
            continue;
        }
        let c = match policy.alphabet {
            Alphabet::Digits => ascii_digit(c)?,
            Alphabet::Alphanumeric => ascii_digit(c).or_else(|| ascii_letter(c))?.to_ascii_lowercase(),
        };
        if !symbols.contains(&(c as u8)) || out.len == length {
            return None;
        }
        out.symbols[out.len] = c as u8;
        out.len += 1;
    }
    (out.len == length).then_some(out)
}

/// The longest code a policy may ask for.
const MAX_CODE_LENGTH: usize = 10;

/// A typed code read as a code of the policy: ASCII symbols of its alphabet, on the stack,
/// wiped when dropped.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct TypedCode {
    symbols: [u8; MAX_CODE_LENGTH],
    len: usize,
}

impl TypedCode {
    pub(crate) fn as_str(&self) -> &str {
        // Only ASCII symbols of the alphabet are ever stored.
        std::str::from_utf8(&self.symbols[..self.len]).unwrap_or_default()
    }
}

/// The keyed hash a code is stored as: HMAC-SHA256(code key, challenge id | purpose | code).
pub(crate) fn code_mac(key: &PreparedMac, challenge_id: &[u8; 16], purpose: Purpose, code: &str) -> [u8; 32] {
    key.parts(&[b"code", challenge_id, &[purpose.byte()], code.as_bytes()])
}

/// Constant-time comparison of two MACs (S15).
pub(crate) fn macs_equal(a: &[u8; 32], b: &[u8; 32]) -> bool {
    bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;
    use std::sync::Mutex;

    struct Fixed(Mutex<u64>);
    impl Random for Fixed {
        fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
            buf.copy_from_slice(&self.0.lock().unwrap().to_le_bytes()[..buf.len()]);
            Ok(())
        }
    }

    #[test]
    fn s3_leading_zeros_survive() {
        let p = Policy::default();
        let code = generate(&p, &Fixed(Mutex::new(12_345))).unwrap();
        assert_eq!(code.as_str(), "012345");
        assert_eq!(normalise_input(&p, "012345").unwrap().as_str(), "012345");
    }

    #[test]
    fn codes_have_the_policy_length_and_alphabet() {
        for len in 6..=10u8 {
            let p = Policy { code_length: len, ..Policy::default() };
            let c = generate(&p, &OsRandom).unwrap();
            assert_eq!(c.len(), len as usize);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
        let p = Policy { code_length: 8, alphabet: Alphabet::Alphanumeric, ..Policy::default() };
        let c = generate(&p, &OsRandom).unwrap();
        assert!(c.bytes().all(|b| Alphabet::Alphanumeric.symbols().contains(&b)));
    }

    #[test]
    fn input_normalisation() {
        let p = Policy::default();
        assert_eq!(normalise_input(&p, " 123-456 ").unwrap().as_str(), "123456");
        assert_eq!(normalise_input(&p, "123 456").unwrap().as_str(), "123456");
        assert!(normalise_input(&p, "12345").is_none());
        assert!(normalise_input(&p, "1234567").is_none());
        assert!(normalise_input(&p, "12345a").is_none());
        assert!(normalise_input(&p, &"1".repeat(200)).is_none());
        let a = Policy { code_length: 6, alphabet: Alphabet::Alphanumeric, ..Policy::default() };
        assert_eq!(normalise_input(&a, "AB2-C3D").unwrap().as_str(), "ab2c3d");
        assert!(normalise_input(&a, "ab2c3o").is_none(), "o is not in the alphabet");
    }

    #[test]
    fn what_keyboards_and_clipboards_add_costs_no_try() {
        let p = Policy::default();
        for typed in [
            "123456\n",
            "\r\n 123456 \r\n",
            "\t123456\u{3000}",
            "123–456",
            "123—456",
            "123\u{2212}456",
            "１２３４５６",
            "١٢٣٤٥٦",
            "۱۲۳۴۵۶",
            "१२३४५६",
            "\u{feff}123\u{200b}456",
        ] {
            assert_eq!(normalise_input(&p, typed).as_ref().map(TypedCode::as_str), Some("123456"), "{typed:?}");
        }
        for wrong in ["123\n456", "123.456", "12345６７", "½23456", "123456\u{0}"] {
            assert!(normalise_input(&p, wrong).is_none(), "{wrong:?}");
        }
        let a = Policy { code_length: 6, alphabet: Alphabet::Alphanumeric, ..Policy::default() };
        assert_eq!(normalise_input(&a, "ＡＢ２ｃ３ｄ\n").unwrap().as_str(), "ab2c3d");
    }

    #[test]
    fn mac_binds_challenge_purpose_and_code() {
        let ring = crate::keys::KeyRing::ephemeral(&OsRandom).unwrap();
        let k = &ring.active().code;
        let a = code_mac(k, &[1; 16], Purpose::SignIn, "123456");
        assert!(macs_equal(&a, &code_mac(k, &[1; 16], Purpose::SignIn, "123456")));
        assert!(!macs_equal(&a, &code_mac(k, &[2; 16], Purpose::SignIn, "123456")));
        assert!(!macs_equal(&a, &code_mac(k, &[1; 16], Purpose::SignUp, "123456")));
        assert!(!macs_equal(&a, &code_mac(k, &[1; 16], Purpose::SignIn, "123457")));
    }
}
