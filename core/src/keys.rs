//! The operator key ring and the keys derived from it.
//!
//! Each ring key is at least 32 random bytes, read from a file or an environment variable and
//! never from a literal in the config. From each one the engine derives separate keys, so
//! that no key serves two purposes:
//! - the code key: HMAC-SHA256 of a code, bound to its challenge and purpose;
//! - the token keys: the MAC and encryption keys of the SIV that seals the challenge token,
//!   and the key of the tokens of versions 1 and 2 (XChaCha20-Poly1305), which open until
//!   they expire;
//! - the index key: the keyed hash that names a subject's record.
//!
//! The HMAC keys are prepared once, when the ring is built (the hash states after the key
//! block), so that no operation redoes that work per call.
//!
//! The active key signs new codes and tokens; any key in the ring still verifies, so keys
//! rotate without breaking live challenges. The index key is chosen separately and should
//! not change: a new index key makes every subject look new, resetting every failure count
//! and lock. A retired key can stay in the ring as index-only: it keeps naming subjects but
//! no longer verifies codes or tokens (SECURITY.md gives the rotation step by step).
//!
//! Key material is wiped wherever it passes: file contents and environment values are read
//! into zeroizing buffers, decoded into zeroizing buffers, and wiped once the keys are derived.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::error::Error;
use crate::mac::PreparedMac;
use crate::token::TokenCipher;

type HmacSha256 = Hmac<Sha256>;

/// The fewest bytes a ring key may have (256 bits).
pub const MIN_KEY_BYTES: usize = 32;
/// The most bytes a key file may have: a key is 32 to a few hundred bytes in any encoding,
/// and a file path pointing somewhere else (a log, a device) must not be read whole.
pub const MAX_KEY_FILE_BYTES: u64 = 1024;

/// A 32-byte secret that is wiped when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(..)")
    }
}

/// The keys derived from one ring key, prepared for use.
#[derive(Clone, Debug)]
pub struct DerivedKeys {
    pub(crate) id: u8,
    pub(crate) code: PreparedMac,
    /// Seals and opens tokens of the current version.
    pub(crate) token: TokenCipher,
    /// Opens tokens of versions 1 and 2, until the last of them expires.
    pub(crate) legacy_token: SecretKey,
    pub(crate) index: PreparedMac,
    /// A retired key that only names subject records.
    index_only: bool,
}

impl DerivedKeys {
    fn derive(id: u8, material: &[u8]) -> Self {
        let label = |l: &[u8]| {
            let mut mac = <HmacSha256 as Mac>::new_from_slice(material).expect("HMAC takes any key length");
            mac.update(b"passcode/v1/");
            mac.update(l);
            SecretKey(mac.finalize().into_bytes().into())
        };
        DerivedKeys {
            id,
            code: PreparedMac::new(label(b"code").bytes()),
            // Keys of their own for the new cipher: no key serves two algorithms.
            token: TokenCipher::new(&label(b"token-v3-mac"), label(b"token-v3-encryption")),
            legacy_token: label(b"token"),
            index: PreparedMac::new(label(b"index").bytes()),
            index_only: false,
        }
    }
}

/// The operator key ring: the keys in use, which one signs, and which one indexes subjects.
#[derive(Clone, Debug)]
pub struct KeyRing {
    keys: Vec<DerivedKeys>,
    active: u8,
    index: u8,
}

impl KeyRing {
    /// Builds a ring from raw key material: `(id, bytes)` pairs. Each key is checked (S-keys:
    /// at least 32 bytes, not visibly patterned) and the material is wiped from the ring's copy.
    pub fn new(keys: Vec<(u8, Vec<u8>)>, active: u8, index: u8) -> Result<Self, Error> {
        let mut derived = Vec::with_capacity(keys.len());
        for (id, mut material) in keys {
            let checked = check_strength(id, &material);
            if checked.is_ok() {
                derived.push(DerivedKeys::derive(id, &material));
            }
            material.zeroize();
            checked?;
            if derived.iter().filter(|k| k.id == id).count() > 1 {
                return Err(Error::PolicyOutOfBounds {
                    field: "keys.ring",
                    reason: format!("key id {id} appears twice"),
                });
            }
        }
        if derived.is_empty() {
            return Err(Error::PolicyOutOfBounds { field: "keys.ring", reason: "the ring has no key".into() });
        }
        for (field, id) in [("keys.active", active), ("keys.index", index)] {
            if !derived.iter().any(|k| k.id == id) {
                return Err(Error::PolicyOutOfBounds { field, reason: format!("no key with id {id} in the ring") });
            }
        }
        Ok(KeyRing { keys: derived, active, index })
    }

    /// A ring of one fresh random key that lives only in this process: for development and
    /// for the in-memory store, whose records die with the process anyway.
    pub fn ephemeral(random: &dyn crate::random::Random) -> Result<Self, Error> {
        let mut material = vec![0u8; 32];
        random.fill(&mut material)?;
        KeyRing::new(vec![(1, material)], 1, 1)
    }

    /// Marks keys as index-only: they keep naming subject records (one of them may be the
    /// index key) but no longer verify codes or tokens. The active key cannot be one.
    pub fn with_index_only(mut self, ids: &[u8]) -> Result<Self, Error> {
        for id in ids {
            if *id == self.active {
                return Err(Error::PolicyOutOfBounds {
                    field: "keys.active",
                    reason: "the active key is index-only".into(),
                });
            }
            let key = self.keys.iter_mut().find(|k| k.id == *id).ok_or_else(|| Error::PolicyOutOfBounds {
                field: "keys.ring",
                reason: format!("no key with id {id} to make index-only"),
            })?;
            key.index_only = true;
        }
        Ok(self)
    }

    pub(crate) fn active(&self) -> &DerivedKeys {
        self.find(self.active).expect("checked in new")
    }

    pub(crate) fn index(&self) -> &DerivedKeys {
        self.find(self.index).expect("checked in new")
    }

    /// The key with this id, for codes and tokens: index-only keys are not returned.
    pub(crate) fn get(&self, id: u8) -> Option<&DerivedKeys> {
        self.find(id).filter(|k| !k.index_only)
    }

    fn find(&self, id: u8) -> Option<&DerivedKeys> {
        self.keys.iter().find(|k| k.id == id)
    }
}

/// Refuses keys that are short or visibly not random. A uniformly random 32-byte key has
/// fewer than 16 distinct byte values with probability far below 2^-100.
fn check_strength(id: u8, material: &[u8]) -> Result<(), Error> {
    if material.len() < MIN_KEY_BYTES {
        return Err(Error::WeakKey { id, reason: "shorter than 32 bytes" });
    }
    let mut seen = [false; 256];
    material.iter().for_each(|b| seen[*b as usize] = true);
    if seen.iter().filter(|s| **s).count() < 16 {
        return Err(Error::WeakKey { id, reason: "too few distinct bytes to be random" });
    }
    Ok(())
}

/// Decodes key text as hex or base64 (standard or URL-safe, padded or not), into a buffer
/// that is wiped when dropped (a failed attempt's partial output too).
pub(crate) fn decode_key_text(text: &str) -> Option<Zeroizing<Vec<u8>>> {
    use base64::Engine as _;
    let t = text.trim();
    if t.len() % 2 == 0 && !t.is_empty() && t.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut out = Zeroizing::new(Vec::with_capacity(t.len() / 2));
        for pair in t.as_bytes().chunks_exact(2) {
            let hex = std::str::from_utf8(pair).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
        }
        return Some(out);
    }
    let engines = [
        base64::engine::general_purpose::STANDARD,
        base64::engine::general_purpose::STANDARD_NO_PAD,
        base64::engine::general_purpose::URL_SAFE,
        base64::engine::general_purpose::URL_SAFE_NO_PAD,
    ];
    engines.iter().find_map(|e| {
        let mut out = Zeroizing::new(vec![0u8; t.len().div_ceil(4) * 3]);
        let n = e.decode_slice(t, &mut out[..]).ok()?;
        out.truncate(n);
        Some(out)
    })
}

/// Reads a key file: hex or base64 text, or raw bytes when the file is not text. At most
/// `MAX_KEY_FILE_BYTES` are read; the contents are wiped once decoded.
pub(crate) fn read_key_file(id: u8, path: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    use std::io::Read as _;
    let unavailable = |why: &str| Error::KeyUnavailable { id, source: format!("its file ({why})") };
    let file = std::fs::File::open(path).map_err(|_| unavailable("missing or unreadable"))?;
    let mut raw = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE_BYTES as usize + 1));
    file.take(MAX_KEY_FILE_BYTES + 1).read_to_end(&mut raw).map_err(|_| unavailable("unreadable"))?;
    decode_key_bytes(id, raw, "its file", "the key file is text but not hex or base64")
}

/// Decodes a key as stored (in a file, or as a host hands it over): hex or base64 text, or
/// raw bytes when it is not text; at most `MAX_KEY_FILE_BYTES`. `raw` is wiped either way.
fn decode_key_bytes(
    id: u8,
    raw: Zeroizing<Vec<u8>>,
    source: &str,
    not_a_key: &'static str,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    if raw.len() as u64 > MAX_KEY_FILE_BYTES {
        return Err(Error::KeyUnavailable { id, source: format!("{source} (larger than 1024 bytes)") });
    }
    let is_text = raw.iter().all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
    if !is_text {
        return Ok(raw);
    }
    // ASCII, so UTF-8.
    let text = std::str::from_utf8(&raw).map_err(|_| Error::WeakKey { id, reason: not_a_key })?;
    decode_key_text(text).ok_or(Error::WeakKey { id, reason: not_a_key })
}

/// Where the config says a ring key is: the `file` or the `env` of its `[[keys.ring]]` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyLocation<'a> {
    /// The entry's `file`: a path.
    File(&'a str),
    /// The entry's `env`: a variable's name.
    Env(&'a str),
}

/// Reads ring keys for a host that keeps secrets its own way (a secret manager, Envoy's
/// secret discovery, the WASI component's host), in place of this process's files and
/// environment. Each location is the config's own text: the reader decides what a file
/// path or a variable name means to it.
pub trait KeyReader {
    /// The key's bytes as stored: hex or base64 text, or raw bytes; at most
    /// `MAX_KEY_FILE_BYTES`. The engine wipes them once the keys are derived. An `Err` becomes
    /// `KeyUnavailable`: its text says where the key was looked for, never what it holds.
    fn read(&self, id: u8, location: KeyLocation<'_>) -> Result<Zeroizing<Vec<u8>>, String>;
}

/// The most characters of a reader's refusal kept in the error (a host's message, not ours).
const MAX_READER_MESSAGE_CHARS: usize = 200;

/// Reads one key through a host's reader and decodes it as a key file is decoded.
pub(crate) fn read_key_with(
    reader: &dyn KeyReader,
    id: u8,
    location: KeyLocation<'_>,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let raw = reader.read(id, location).map_err(|why| Error::KeyUnavailable {
        id,
        source: format!("the host's key reader ({})", why.chars().take(MAX_READER_MESSAGE_CHARS).collect::<String>()),
    })?;
    decode_key_bytes(id, raw, "the host's key reader", "the host's key is text but not hex or base64")
}

/// Reads a key from an environment variable holding hex or base64. The copy read is wiped;
/// the process environment itself keeps the value (clear it once the engine is built).
pub(crate) fn read_key_env(id: u8, name: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let value =
        Zeroizing::new(std::env::var(name).map_err(|_| Error::KeyUnavailable {
            id,
            source: "its environment variable (unset or not UTF-8)".into(),
        })?);
    decode_key_text(&value).ok_or(Error::WeakKey { id, reason: "the variable is not hex or base64" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn random_key() -> Vec<u8> {
        (0u8..32).map(|i| i.wrapping_mul(73).wrapping_add(11)).collect()
    }

    #[test]
    fn weak_keys_refused() {
        assert_eq!(
            KeyRing::new(vec![(1, vec![7u8; 31])], 1, 1).unwrap_err(),
            Error::WeakKey { id: 1, reason: "shorter than 32 bytes" }
        );
        assert_eq!(
            KeyRing::new(vec![(2, b"abababababababababababababababab".to_vec())], 2, 2).unwrap_err(),
            Error::WeakKey { id: 2, reason: "too few distinct bytes to be random" }
        );
    }

    #[test]
    fn ring_checks_active_and_index_ids() {
        let e = KeyRing::new(vec![(1, random_key())], 2, 1).unwrap_err();
        assert!(matches!(e, Error::PolicyOutOfBounds { field: "keys.active", .. }));
        let e = KeyRing::new(vec![(1, random_key()), (1, random_key())], 1, 1).unwrap_err();
        assert!(matches!(e, Error::PolicyOutOfBounds { field: "keys.ring", .. }));
    }

    #[test]
    fn derived_keys_differ_per_purpose_and_hide_in_debug() {
        let ring = KeyRing::new(vec![(1, random_key())], 1, 1).unwrap();
        let k = ring.active();
        assert_ne!(k.code.parts(&[b"x"]), k.index.parts(&[b"x"]));
        assert_ne!(k.legacy_token.bytes(), &[0; 32]);
        let shown = format!("{ring:?}");
        assert!(!shown.contains(&format!("{:?}", k.legacy_token.bytes())));
        assert!(
            shown.contains("SecretKey(..)") && shown.contains("PreparedMac(..)") && shown.contains("TokenCipher(..)")
        );
    }

    #[test]
    fn key_text_decodes_hex_and_base64() {
        let bytes = random_key();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(*decode_key_text(&hex).unwrap(), bytes);
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        assert_eq!(*decode_key_text(&format!("{b64}\n")).unwrap(), bytes);
        let url = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&bytes);
        assert_eq!(*decode_key_text(&url).unwrap(), bytes);
        assert!(decode_key_text("not a key!").is_none());
    }

    #[test]
    fn index_only_keys_name_subjects_but_verify_nothing() {
        let ring = KeyRing::new(vec![(1, random_key()), (2, key_bytes_2())], 2, 1).unwrap();
        let ring = ring.with_index_only(&[1]).unwrap();
        assert_eq!(ring.index().id, 1);
        assert!(ring.get(1).is_none(), "no longer verifies codes or tokens");
        assert_eq!(ring.get(2).map(|k| k.id), Some(2));
        let e = KeyRing::new(vec![(1, random_key())], 1, 1).unwrap().with_index_only(&[1]).unwrap_err();
        assert!(matches!(e, Error::PolicyOutOfBounds { field: "keys.active", .. }));
    }

    fn key_bytes_2() -> Vec<u8> {
        (0u8..32).map(|i| i.wrapping_mul(91).wrapping_add(201)).collect()
    }

    #[test]
    fn key_files_are_read_up_to_a_limit() {
        let dir = tempfile::tempdir().unwrap();
        let big = dir.path().join("big");
        std::fs::write(&big, "ab".repeat(600)).unwrap();
        assert_eq!(
            read_key_file(4, big.to_str().unwrap()).unwrap_err(),
            Error::KeyUnavailable { id: 4, source: "its file (larger than 1024 bytes)".into() }
        );
        let e = read_key_file(4, dir.path().join("nope").to_str().unwrap()).unwrap_err();
        assert!(!e.to_string().contains("nope"), "the path is the config's value: {e}");
    }

    /// A reader with one key per location, answering in the shape a host would.
    struct Host(Vec<(&'static str, Vec<u8>)>);
    impl KeyReader for Host {
        fn read(&self, _id: u8, location: KeyLocation<'_>) -> Result<Zeroizing<Vec<u8>>, String> {
            let name = match location {
                KeyLocation::File(p) | KeyLocation::Env(p) => p,
            };
            self.0.iter().find(|(n, _)| *n == name).map(|(_, k)| Zeroizing::new(k.clone())).ok_or(format!("no {name}"))
        }
    }

    #[test]
    fn a_host_reader_gives_raw_hex_or_base64_keys_within_the_file_limit() {
        let hex: String = random_key().iter().map(|b| format!("{b:02x}")).collect();
        let host = Host(vec![
            ("raw", random_key()),
            ("hex", hex.into_bytes()),
            ("big", vec![0x80; 1025]),
            ("text", b"not a key at all".to_vec()),
        ]);
        assert_eq!(*read_key_with(&host, 1, KeyLocation::File("raw")).unwrap(), random_key());
        assert_eq!(*read_key_with(&host, 1, KeyLocation::Env("hex")).unwrap(), random_key());
        assert_eq!(
            read_key_with(&host, 2, KeyLocation::File("big")).unwrap_err(),
            Error::KeyUnavailable { id: 2, source: "the host's key reader (larger than 1024 bytes)".into() }
        );
        assert_eq!(
            read_key_with(&host, 3, KeyLocation::Env("text")).unwrap_err(),
            Error::WeakKey { id: 3, reason: "the host's key is text but not hex or base64" }
        );
        let e = read_key_with(&host, 4, KeyLocation::Env(&"x".repeat(5000))).unwrap_err();
        let Error::KeyUnavailable { source, .. } = &e else { panic!("{e:?}") };
        assert!(source.len() < 300, "a host's long refusal is cut: {} bytes", source.len());
    }

    #[test]
    fn mac_parts_are_length_prefixed() {
        let ring = KeyRing::new(vec![(1, random_key())], 1, 1).unwrap();
        let k = &ring.active().code;
        assert_ne!(k.parts(&[b"ab", b"c"]), k.parts(&[b"a", b"bc"]));
    }
}
