//! Codes: drawing them, reading what the user typed, and the keyed hash that is all the
//! store ever sees of them.

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::identifier::Purpose;
use crate::keys::{hmac_parts, SecretKey};
use crate::policy::{Alphabet, Policy};
use crate::random::{uniform_below, Random};

/// The most bytes of typed code the engine reads; longer input is a wrong code.
pub const MAX_CODE_INPUT_BYTES: usize = 64;

/// Draws a fresh code: uniform over the alphabet, leading zeros kept (S1, S3). This is the
/// draw the engine uses; it is public so that its distribution can be tested and measured.
pub fn generate(policy: &Policy, random: &dyn Random) -> Result<Zeroizing<String>, Error> {
    let symbols = policy.alphabet.symbols();
    let len = policy.code_length as u32;
    let mut code = Zeroizing::new(String::with_capacity(len as usize));
    match policy.alphabet {
        Alphabet::Digits => {
            // One draw for the whole code: 10^len <= 10^10 fits in a u64.
            let mut v = uniform_below(random, 10u64.pow(len))?;
            let mut digits = [b'0'; 10];
            for i in (0..len as usize).rev() {
                digits[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
            code.push_str(std::str::from_utf8(&digits[..len as usize]).expect("ASCII digits"));
        }
        Alphabet::Alphanumeric => {
            for _ in 0..len {
                let i = uniform_below(random, symbols.len() as u64)? as usize;
                code.push(symbols[i] as char);
            }
        }
    }
    Ok(code)
}

/// What the user typed, with spaces and dashes dropped and case folded for alphanumeric
/// codes; `None` when it cannot be a code of this policy (then it is simply a wrong code).
pub(crate) fn normalise_input(policy: &Policy, typed: &str) -> Option<Zeroizing<String>> {
    if typed.len() > MAX_CODE_INPUT_BYTES {
        return None;
    }
    let symbols = policy.alphabet.symbols();
    let mut out = Zeroizing::new(String::with_capacity(policy.code_length as usize));
    for c in typed.chars() {
        if c == ' ' || c == '-' || c == '\u{a0}' || c == '\t' {
            continue;
        }
        let c = match policy.alphabet {
            Alphabet::Digits => c,
            Alphabet::Alphanumeric => c.to_ascii_lowercase(),
        };
        if !c.is_ascii() || !symbols.contains(&(c as u8)) {
            return None;
        }
        out.push(c);
    }
    (out.len() == policy.code_length as usize).then_some(out)
}

/// The keyed hash a code is stored as: HMAC-SHA256(code key, challenge id | purpose | code).
pub(crate) fn code_mac(key: &SecretKey, challenge_id: &[u8; 16], purpose: Purpose, code: &str) -> [u8; 32] {
    hmac_parts(key, &[b"code", challenge_id, &[purpose.byte()], code.as_bytes()])
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
        assert!(normalise_input(&p, "１２３４５６").is_none(), "full-width digits are not ours");
        assert!(normalise_input(&p, &"1".repeat(100)).is_none());
        let a = Policy { code_length: 6, alphabet: Alphabet::Alphanumeric, ..Policy::default() };
        assert_eq!(normalise_input(&a, "AB2-C3D").unwrap().as_str(), "ab2c3d");
        assert!(normalise_input(&a, "ab2c3o").is_none(), "o is not in the alphabet");
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
