//! Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`, off by default): the
//! crate-private parts a corrupted store, a forged token or a hostile paste reaches first.
//! Not part of the API; nothing here is needed to use the engine.

use crate::code::normalise_input;
use crate::error::Error;
use crate::identifier::{Channel, Identifier, Purpose};
use crate::keys::KeyRing;
use crate::policy::{Alphabet, Policy};
use crate::record::{BucketRecord, SubjectRecord};
use crate::token::{self, TokenContents};

/// The key ring every target uses, so that seeds can hold valid tokens.
pub fn ring() -> KeyRing {
    let key: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(151).wrapping_add(7)).collect();
    KeyRing::new(vec![(1, key)], 1, 1).expect("a strong key")
}

/// Reads `typed` as a code of `length` symbols of the alphabet (`alphanumeric` or digits).
/// Whatever comes back is a code of the policy: `length` symbols of its alphabet.
pub fn read_code(alphanumeric: bool, length: u8, typed: &str) -> Option<String> {
    let alphabet = if alphanumeric { Alphabet::Alphanumeric } else { Alphabet::Digits };
    let policy = Policy { code_length: length.clamp(alphabet.min_length(), 10), alphabet, ..Policy::default() };
    let code = normalise_input(&policy, typed)?;
    let code = code.as_str();
    assert_eq!(code.len(), policy.code_length as usize, "a code of the policy's length");
    assert!(code.bytes().all(|b| alphabet.symbols().contains(&b)), "only the alphabet's symbols");
    Some(code.to_string())
}

/// Opens `text` as a token of `tenant`; a token that opens must be one this ring sealed.
pub fn open_token(tenant: &str, text: &str) -> Result<(), Error> {
    let ring = ring();
    let t = token::open(&ring, tenant, text)?;
    let again = token::seal(ring.active(), tenant, t.sealing());
    let current_version = text.trim().starts_with("Aw"); // version byte 3, base64url
    assert!(!current_version || again == text.trim(), "a token that opens is one the ring sealed");
    Ok(())
}

/// A token sealed with the fuzz ring, for seeds.
pub fn seal_token(tenant: &str, channel: Channel, identifier: &str, account: Option<&str>) -> String {
    let identifier = Identifier::parse(channel, identifier).expect("a valid identifier for a seed");
    let contents = TokenContents {
        challenge_id: [7; 16],
        purpose: Purpose::SignIn,
        identifier,
        account: account.map(str::to_string),
    };
    token::seal(ring().active(), tenant, contents.sealing())
}

/// Decodes a subject record; one that decodes, pruned as the engine does before it writes,
/// encodes back to bytes that decode to it.
pub fn decode_subject_record(bytes: &[u8], now: u64) -> Result<(), Error> {
    let mut record = SubjectRecord::decode(bytes)?;
    record.prune(now, &Policy::default());
    let again = SubjectRecord::decode(&record.encode()).expect("what the engine writes, it reads");
    assert_eq!(again, record, "a record survives a round trip");
    Ok(())
}

/// Decodes a bucket record, likewise.
pub fn decode_bucket_record(bytes: &[u8]) -> Result<(), Error> {
    let record = BucketRecord::decode(bytes)?;
    assert_eq!(BucketRecord::decode(&record.encode()).expect("round trip"), record);
    Ok(())
}
