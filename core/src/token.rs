//! The challenge token: what a host keeps in its session to name a challenge.
//!
//! It is sealed under the token key, so it is both authenticated (a forged or altered token
//! is refused before the store is touched) and opaque (a token in a cookie does not reveal the
//! address or number it was sent to):
//!
//! `version(1) | key id(1) | challenge id(16) | sealed(channel | purpose | account | identifier) | tag(16)`,
//! encoded as unpadded base64url. `account` is a length byte and the host's account id when
//! the code was issued for an account (empty otherwise).
//!
//! Version 3 seals with SIV (Rogaway and Shrimpton's synthetic-IV construction, the one RFC
//! 5297 instantiates with AES) built from HMAC-SHA256 and ChaCha20: the tag is the first 16
//! bytes of HMAC-SHA256 over the associated data (the version, key id, challenge id and
//! tenant) and the plaintext, and it is also the IV of the ChaCha20 keystream that encrypts
//! the plaintext. Opening decrypts, recomputes the tag and compares it in constant time. Two
//! keys of its own, both prepared once per ring key. SIV resists nonce misuse: it needs no
//! nonce, so should the random source ever repeat a challenge id, two tokens would reveal only
//! whether they seal the same contents, never the contents or the key. It was chosen by
//! measurement over XChaCha20-Poly1305, AES-256-GCM-SIV, AES-256-GCM and AES-SIV, natively and
//! in the component (ARCHITECTURE.md, "The token cipher").
//!
//! Tokens of versions 1 and 2, sealed with XChaCha20-Poly1305 before, still open until they
//! expire (version 1 has no account field).
//!
//! Sealing and opening work in buffers on the stack: the only allocations are the token text
//! issued and the identifier read back.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20::ChaCha20;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use subtle::ConstantTimeEq;

use crate::error::Error;
use crate::identifier::{Channel, Identifier, Purpose};
use crate::keys::{DerivedKeys, KeyRing, SecretKey};
use crate::mac::PreparedMac;

/// SIV from HMAC-SHA256 and ChaCha20.
const VERSION: u8 = 3;
/// XChaCha20-Poly1305, with the account field.
const VERSION_2: u8 = 2;
/// XChaCha20-Poly1305, without the account field.
const VERSION_1: u8 = 1;
/// The longest token text accepted; longer input is refused unread. It fits the longest
/// address (254 bytes) with the longest account id (128 bytes).
pub const MAX_TOKEN_BYTES: usize = 640;
/// The longest account id a host may give as the subject.
pub const MAX_ACCOUNT_BYTES: usize = 128;
/// The longest tenant name (the config refuses longer ones).
const MAX_TENANT_BYTES: usize = 64;
/// The longest canonical identifier: an address of 254 octets (RFC 5321); a number is 16.
const MAX_IDENTIFIER_BYTES: usize = 254;

const HEADER: usize = 2 + 16;
const TAG: usize = 16;
const MAX_PLAIN: usize = 3 + MAX_ACCOUNT_BYTES + MAX_IDENTIFIER_BYTES;
const MAX_RAW: usize = MAX_TOKEN_BYTES / 4 * 3;
const _: () = assert!(HEADER + MAX_PLAIN + TAG <= MAX_RAW, "every token the engine seals opens");

/// The token cipher of version 3: SIV from HMAC-SHA256 (the tag and IV) and ChaCha20 (the
/// encryption), with its two keys prepared once per ring key. Both are wiped when dropped.
#[derive(Clone)]
pub(crate) struct TokenCipher {
    mac: PreparedMac,
    encryption: SecretKey,
}

impl TokenCipher {
    pub(crate) fn new(mac_key: &SecretKey, encryption_key: SecretKey) -> Self {
        TokenCipher { mac: PreparedMac::new(mac_key.bytes()), encryption: encryption_key }
    }

    /// The synthetic IV: HMAC-SHA256 of the associated data and the plaintext, as two
    /// length-prefixed parts (so no two pairs give the same input), cut to 16 bytes.
    fn iv(&self, aad: &[u8], plain: &[u8]) -> [u8; TAG] {
        let full = self.mac.parts(&[aad, plain]);
        full[..TAG].try_into().expect("16 of 32 bytes")
    }

    /// XORs the ChaCha20 keystream for `iv` into `buffer`. The IV is the cipher's whole
    /// 128-bit input block (RFC 8439: a 32-bit block counter, then a 96-bit nonce), with the
    /// counter's top bit cleared so that it cannot wrap within a token (RFC 5297 clears bits
    /// of its counter for the same reason).
    fn keystream(&self, iv: &[u8; TAG], buffer: &mut [u8]) {
        let counter = u32::from_le_bytes(iv[..4].try_into().expect("4 bytes")) & 0x7fff_ffff;
        let mut cipher = ChaCha20::new(self.encryption.bytes().into(), iv[4..].into());
        cipher.seek(u64::from(counter) * 64);
        cipher.apply_keystream(buffer);
    }

    /// Encrypts `buffer` in place and returns the tag.
    pub(crate) fn seal(&self, aad: &[u8], buffer: &mut [u8]) -> [u8; TAG] {
        let tag = self.iv(aad, buffer);
        self.keystream(&tag, buffer);
        tag
    }

    /// Decrypts `buffer` in place if `tag` is its tag; on a wrong tag, the buffer holds
    /// garbage the caller must not use.
    pub(crate) fn open(&self, aad: &[u8], buffer: &mut [u8], tag: &[u8; TAG]) -> Result<(), Error> {
        self.keystream(tag, buffer);
        match bool::from(self.iv(aad, buffer).ct_eq(tag)) {
            true => Ok(()),
            false => Err(Error::InvalidToken),
        }
    }
}

impl std::fmt::Debug for TokenCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenCipher(..)")
    }
}

/// What a token names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct TokenContents {
    pub challenge_id: [u8; 16],
    pub purpose: Purpose,
    pub identifier: Identifier,
    /// The host's account id, when the code was issued for an account.
    pub account: Option<String>,
}

/// The associated data: the token's header (with the challenge id for version 3; versions 1
/// and 2 bind it as their nonce) and the tenant. On the stack; a tenant is at most 64 bytes.
struct Aad {
    bytes: [u8; HEADER + MAX_TENANT_BYTES],
    len: usize,
}

impl Aad {
    fn new(header: &[u8], tenant: &str) -> Self {
        let tenant = &tenant.as_bytes()[..tenant.len().min(MAX_TENANT_BYTES)];
        let mut bytes = [0u8; HEADER + MAX_TENANT_BYTES];
        bytes[..header.len()].copy_from_slice(header);
        bytes[header.len()..header.len() + tenant.len()].copy_from_slice(tenant);
        Aad { bytes, len: header.len() + tenant.len() }
    }

    fn as_slice(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

/// What a token seals, borrowed: issue seals the identifier it then hands back, no copy.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sealing<'a> {
    pub challenge_id: [u8; 16],
    pub purpose: Purpose,
    pub identifier: &'a Identifier,
    pub account: Option<&'a str>,
}

#[cfg(any(test, feature = "fuzzing"))]
impl TokenContents {
    /// The same contents, borrowed for `seal`.
    pub(crate) fn sealing(&self) -> Sealing<'_> {
        Sealing {
            challenge_id: self.challenge_id,
            purpose: self.purpose,
            identifier: &self.identifier,
            account: self.account.as_deref(),
        }
    }
}

pub(crate) fn seal(keys: &DerivedKeys, tenant: &str, contents: Sealing<'_>) -> String {
    let id = contents.identifier.as_str().as_bytes();
    let id = &id[..id.len().min(MAX_IDENTIFIER_BYTES)];
    // The engine refuses account ids over MAX_ACCOUNT_BYTES before sealing.
    let account = contents.account.unwrap_or("").as_bytes();
    let account = &account[..account.len().min(MAX_ACCOUNT_BYTES)];
    let mut raw = [0u8; HEADER + MAX_PLAIN + TAG];
    raw[0] = VERSION;
    raw[1] = keys.id;
    raw[2..HEADER].copy_from_slice(&contents.challenge_id);
    let plain_end = HEADER + 3 + account.len() + id.len();
    raw[HEADER] = contents.identifier.channel().byte();
    raw[HEADER + 1] = contents.purpose.byte();
    raw[HEADER + 2] = account.len() as u8;
    raw[HEADER + 3..HEADER + 3 + account.len()].copy_from_slice(account);
    raw[HEADER + 3 + account.len()..plain_end].copy_from_slice(id);
    let (header, rest) = raw.split_at_mut(HEADER);
    let aad = Aad::new(header, tenant);
    let tag = keys.token.seal(aad.as_slice(), &mut rest[..plain_end - HEADER]);
    raw[plain_end..plain_end + TAG].copy_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(&raw[..plain_end + TAG])
}

pub(crate) fn open(ring: &KeyRing, tenant: &str, token: &str) -> Result<TokenContents, Error> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Error::InvalidToken);
    }
    let mut raw = [0u8; MAX_RAW];
    let len = URL_SAFE_NO_PAD.decode_slice(token.trim(), &mut raw).map_err(|_| Error::InvalidToken)?;
    if len < HEADER + 2 + TAG {
        return Err(Error::InvalidToken);
    }
    let (header, rest) = raw[..len].split_at_mut(HEADER);
    let (version, key_id) = (header[0], header[1]);
    let challenge_id: [u8; 16] = header[2..].try_into().expect("16 bytes");
    let keys = ring.get(key_id).ok_or(Error::InvalidToken)?;
    let (sealed, tag) = rest.split_at_mut(rest.len() - TAG);
    let tag: &[u8; TAG] = (&*tag).try_into().expect("16 bytes");
    match version {
        VERSION => keys.token.open(Aad::new(header, tenant).as_slice(), sealed, tag)?,
        VERSION_1 | VERSION_2 => legacy_cipher(&keys.legacy_token)
            .decrypt_in_place_detached(
                &legacy_nonce(&challenge_id),
                Aad::new(&header[..2], tenant).as_slice(),
                sealed,
                tag.into(),
            )
            .map_err(|_| Error::InvalidToken)?,
        _ => return Err(Error::InvalidToken),
    }
    let (&[channel, purpose], mut rest) = sealed.split_first_chunk::<2>().ok_or(Error::InvalidToken)?;
    let channel = Channel::from_byte(channel).ok_or(Error::InvalidToken)?;
    let purpose = Purpose::from_byte(purpose).ok_or(Error::InvalidToken)?;
    let mut account = None;
    if version != VERSION_1 {
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
    Ok(TokenContents { challenge_id, purpose, identifier, account })
}

/// The cipher of versions 1 and 2. Its key schedule is cheap (ChaCha has none to speak of),
/// and it runs only for tokens issued before the upgrade, so it is made per call.
fn legacy_cipher(key: &SecretKey) -> XChaCha20Poly1305 {
    XChaCha20Poly1305::new(key.bytes().into())
}

fn legacy_nonce(challenge_id: &[u8; 16]) -> XNonce {
    let mut n = [0u8; 24];
    n[..16].copy_from_slice(challenge_id);
    XNonce::from(n)
}

/// Seals a token as versions 1 and 2 did (XChaCha20-Poly1305; version 1 without the account
/// field): for the tests that prove such tokens still open.
#[cfg(test)]
pub(crate) fn seal_legacy(keys: &DerivedKeys, version: u8, tenant: &str, contents: &TokenContents) -> String {
    assert!(version == VERSION_1 || version == VERSION_2);
    let mut raw = vec![version, keys.id];
    raw.extend_from_slice(&contents.challenge_id);
    let header = raw.clone();
    raw.extend_from_slice(&[contents.identifier.channel().byte(), contents.purpose.byte()]);
    if version == VERSION_2 {
        let account = contents.account.as_deref().unwrap_or("").as_bytes();
        raw.push(account.len() as u8);
        raw.extend_from_slice(account);
    }
    raw.extend_from_slice(contents.identifier.as_str().as_bytes());
    let tag = legacy_cipher(&keys.legacy_token)
        .encrypt_in_place_detached(
            &legacy_nonce(&contents.challenge_id),
            Aad::new(&header[..2], tenant).as_slice(),
            &mut raw[HEADER..],
        )
        .expect("seals");
    raw.extend_from_slice(&tag);
    URL_SAFE_NO_PAD.encode(raw)
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
        let t = seal(ring.active(), "realm", contents().sealing());
        assert!(!t.contains("jane"));
        let raw = URL_SAFE_NO_PAD.decode(&t).unwrap();
        assert!(!raw.windows(4).any(|w| w == b"jane"), "the identifier is encrypted");
        assert_eq!(open(&ring, "realm", &t).unwrap(), contents());
        let for_account = TokenContents { account: Some("acct-42".into()), ..contents() };
        let t = seal(ring.active(), "realm", for_account.sealing());
        assert!(!URL_SAFE_NO_PAD.decode(&t).unwrap().windows(7).any(|w| w == b"acct-42"));
        assert_eq!(open(&ring, "realm", &t).unwrap(), for_account);
    }

    #[test]
    fn tokens_are_version_3() {
        let ring = KeyRing::ephemeral(&OsRandom).unwrap();
        let raw = URL_SAFE_NO_PAD.decode(seal(ring.active(), "realm", contents().sealing())).unwrap();
        assert_eq!((raw[0], raw[1], &raw[2..18]), (VERSION, ring.active().id, &[9u8; 16][..]));
        assert_eq!(raw.len(), HEADER + 3 + "jane@example.com".len() + TAG);
    }

    #[test]
    fn a_repeated_challenge_id_reveals_only_equality() {
        let ring = KeyRing::ephemeral(&OsRandom).unwrap();
        let sealed = |address: &str| {
            let c = TokenContents { identifier: Identifier::parse(Channel::Email, address).unwrap(), ..contents() };
            URL_SAFE_NO_PAD.decode(seal(ring.active(), "realm", c.sealing())).unwrap()
        };
        let (a, b) = (sealed("jane@example.com"), sealed("joan@example.com"));
        assert_eq!(a, sealed("jane@example.com"), "the same contents give the same token");
        assert_ne!(a[a.len() - TAG..], b[b.len() - TAG..], "other contents, another IV");
        // With another IV the keystreams differ: the ciphertexts' XOR is not the plaintexts'.
        let xor = |x: &[u8], y: &[u8]| x.iter().zip(y).map(|(p, q)| p ^ q).collect::<Vec<u8>>();
        let body = HEADER..a.len() - TAG;
        assert_ne!(
            xor(&a[body.clone()], &b[body]),
            xor(b"\x01\x02\x00jane@example.com", b"\x01\x02\x00joan@example.com")
        );
    }

    #[test]
    fn tokens_of_versions_1_and_2_are_still_read() {
        let ring = KeyRing::ephemeral(&OsRandom).unwrap();
        assert_eq!(
            open(&ring, "realm", &seal_legacy(ring.active(), VERSION_1, "realm", &contents())).unwrap(),
            contents()
        );
        let for_account = TokenContents { account: Some("acct-42".into()), ..contents() };
        let v2 = seal_legacy(ring.active(), VERSION_2, "realm", &for_account);
        assert_eq!(open(&ring, "realm", &v2).unwrap(), for_account);
        assert_eq!(open(&ring, "other-realm", &v2), Err(Error::InvalidToken));
        // A version-2 body under a version-3 header is refused, and the reverse.
        let mut raw = URL_SAFE_NO_PAD.decode(&v2).unwrap();
        raw[0] = VERSION;
        assert_eq!(open(&ring, "realm", &URL_SAFE_NO_PAD.encode(&raw)), Err(Error::InvalidToken));
        let mut raw = URL_SAFE_NO_PAD.decode(seal(ring.active(), "realm", for_account.sealing())).unwrap();
        raw[0] = VERSION_2;
        assert_eq!(open(&ring, "realm", &URL_SAFE_NO_PAD.encode(&raw)), Err(Error::InvalidToken));
    }

    #[test]
    fn forged_altered_or_foreign_tokens_refused() {
        let ring = KeyRing::ephemeral(&OsRandom).unwrap();
        let t = seal(ring.active(), "realm", contents().sealing());
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
