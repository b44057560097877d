//! The challenge token: what a host keeps in its session to name a challenge.
//!
//! It is sealed with XChaCha20-Poly1305 under the token key, so it is both authenticated
//! (a forged or altered token is refused before the store is touched) and opaque (a token
//! in a cookie does not reveal the address or number it was sent to):
//!
//! `version(1) | key id(1) | challenge id(16) | seal(channel | purpose | account | identifier)`,
//! with the version, key id and tenant as associated data, encoded as unpadded base64url.
//! `account` is a length byte and the host's account id when the code was issued for an
//! account (empty otherwise). Version 1 tokens (no account field) are still read.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};

use crate::error::Error;
use crate::identifier::{Channel, Identifier, Purpose};
use crate::keys::{DerivedKeys, KeyRing};

const VERSION: u8 = 2;
const VERSION_1: u8 = 1;
/// The longest token text accepted; longer input is refused unread. It fits the longest
/// address (254 bytes) with the longest account id (128 bytes).
pub const MAX_TOKEN_BYTES: usize = 640;
/// The longest account id a host may give as the subject.
pub const MAX_ACCOUNT_BYTES: usize = 128;

/// What a token names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TokenContents {
    pub challenge_id: [u8; 16],
    pub purpose: Purpose,
    pub identifier: Identifier,
    /// The host's account id, when the code was issued for an account.
    pub account: Option<String>,
}

fn nonce(challenge_id: &[u8; 16]) -> XNonce {
    // A random 128-bit challenge id never repeats with another plaintext, so it is a safe
    // nonce; a resend re-seals the same plaintext under the same id, which reveals nothing.
    let mut n = [0u8; 24];
    n[..16].copy_from_slice(challenge_id);
    XNonce::from(n)
}

fn aad(version: u8, tenant: &str, key_id: u8) -> Vec<u8> {
    let mut a = vec![version, key_id];
    a.extend_from_slice(tenant.as_bytes());
    a
}

pub(crate) fn seal(keys: &DerivedKeys, tenant: &str, contents: &TokenContents) -> String {
    let cipher = XChaCha20Poly1305::new(keys.token.bytes().into());
    let id = contents.identifier.as_str().as_bytes();
    let account = contents.account.as_deref().unwrap_or("").as_bytes();
    let mut plain = Vec::with_capacity(3 + account.len() + id.len());
    plain.push(contents.identifier.channel().byte());
    plain.push(contents.purpose.byte());
    // The engine refuses account ids over MAX_ACCOUNT_BYTES before sealing.
    plain.push(account.len().min(MAX_ACCOUNT_BYTES) as u8);
    plain.extend_from_slice(&account[..account.len().min(MAX_ACCOUNT_BYTES)]);
    plain.extend_from_slice(id);
    let sealed = cipher
        .encrypt(&nonce(&contents.challenge_id), Payload { msg: &plain, aad: &aad(VERSION, tenant, keys.id) })
        .expect("XChaCha20-Poly1305 sealing cannot fail for short messages");
    let mut raw = Vec::with_capacity(18 + sealed.len());
    raw.push(VERSION);
    raw.push(keys.id);
    raw.extend_from_slice(&contents.challenge_id);
    raw.extend_from_slice(&sealed);
    URL_SAFE_NO_PAD.encode(raw)
}

pub(crate) fn open(ring: &KeyRing, tenant: &str, token: &str) -> Result<TokenContents, Error> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Error::InvalidToken);
    }
    let raw = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| Error::InvalidToken)?;
    let (&[version, key_id], rest) = raw.split_first_chunk::<2>().ok_or(Error::InvalidToken)?;
    let (challenge_id, sealed) = rest.split_first_chunk::<16>().ok_or(Error::InvalidToken)?;
    if sealed.len() < 2 + 16 || (version != VERSION && version != VERSION_1) {
        return Err(Error::InvalidToken);
    }
    let keys = ring.get(key_id).ok_or(Error::InvalidToken)?;
    let cipher = XChaCha20Poly1305::new(keys.token.bytes().into());
    let plain = cipher
        .decrypt(&nonce(challenge_id), Payload { msg: sealed, aad: &aad(version, tenant, key_id) })
        .map_err(|_| Error::InvalidToken)?;
    let (&[channel, purpose], mut rest) = plain.split_first_chunk::<2>().ok_or(Error::InvalidToken)?;
    let channel = Channel::from_byte(channel).ok_or(Error::InvalidToken)?;
    let purpose = Purpose::from_byte(purpose).ok_or(Error::InvalidToken)?;
    let mut account = None;
    if version == VERSION {
        let (&len, after) = rest.split_first().ok_or(Error::InvalidToken)?;
        let (id, after) = after.split_at_checked(usize::from(len)).ok_or(Error::InvalidToken)?;
        if !id.is_empty() {
            account = Some(std::str::from_utf8(id).map_err(|_| Error::InvalidToken)?.to_string());
        }
        rest = after;
    }
    let text = std::str::from_utf8(rest).map_err(|_| Error::InvalidToken)?;
    // Sealed by us from a normalised identifier: no need to parse it again.
    let identifier = Identifier::trusted(channel, text.to_string());
    Ok(TokenContents { challenge_id: *challenge_id, purpose, identifier, account })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::random::OsRandom;

    fn contents() -> TokenContents {
        TokenContents {
            challenge_id: [9; 16],
            purpose: Purpose::SignIn,
            identifier: Identifier::parse(Channel::Email, "jane@example.com").unwrap(),
            account: None,
        }
    }

    #[test]
    fn round_trip_and_opaque() {
        let ring = KeyRing::ephemeral(&OsRandom).unwrap();
        let t = seal(ring.active(), "realm", &contents());
        assert!(!t.contains("jane"));
        let raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        assert!(!raw.windows(4).any(|w| w == b"jane"), "the identifier is encrypted");
        assert_eq!(open(&ring, "realm", &t).unwrap(), contents());
        let for_account = TokenContents { account: Some("acct-42".into()), ..contents() };
        let t = seal(ring.active(), "realm", &for_account);
        assert!(!URL_SAFE_NO_PAD.decode(&t).unwrap().windows(7).any(|w| w == b"acct-42"));
        assert_eq!(open(&ring, "realm", &t).unwrap(), for_account);
    }

    #[test]
    fn version_1_tokens_are_still_read() {
        let ring = KeyRing::ephemeral(&OsRandom).unwrap();
        let keys = ring.active();
        let cipher = XChaCha20Poly1305::new(keys.token.bytes().into());
        let mut plain = vec![Channel::Email.byte(), Purpose::SignIn.byte()];
        plain.extend_from_slice(b"jane@example.com");
        let sealed =
            cipher.encrypt(&nonce(&[9; 16]), Payload { msg: &plain, aad: &aad(VERSION_1, "realm", keys.id) }).unwrap();
        let mut raw = vec![VERSION_1, keys.id];
        raw.extend_from_slice(&[9; 16]);
        raw.extend_from_slice(&sealed);
        assert_eq!(open(&ring, "realm", &URL_SAFE_NO_PAD.encode(raw)).unwrap(), contents());
    }

    #[test]
    fn forged_altered_or_foreign_tokens_refused() {
        let ring = KeyRing::ephemeral(&OsRandom).unwrap();
        let t = seal(ring.active(), "realm", &contents());
        let mut raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        for i in [0usize, 1, 5, 20, raw.len() - 1] {
            let mut r = raw.clone();
            r[i] ^= 1;
            assert_eq!(open(&ring, "realm", &URL_SAFE_NO_PAD.encode(&r)), Err(Error::InvalidToken), "byte {i}");
        }
        raw.truncate(30);
        assert_eq!(open(&ring, "realm", &URL_SAFE_NO_PAD.encode(&raw)), Err(Error::InvalidToken));
        assert_eq!(open(&ring, "other-realm", &t), Err(Error::InvalidToken));
        let other = KeyRing::ephemeral(&OsRandom).unwrap();
        assert_eq!(open(&other, "realm", &t), Err(Error::InvalidToken));
        assert_eq!(open(&ring, "realm", "not base64 at all!"), Err(Error::InvalidToken));
        assert_eq!(open(&ring, "realm", ""), Err(Error::InvalidToken));
        assert_eq!(open(&ring, "realm", &"A".repeat(10_000)), Err(Error::InvalidToken));
    }
}
