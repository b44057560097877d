//! Records from a shared store: corrupted bytes are an error, never a panic, an overflow or
//! an accepted code. The decoders round-trip what they accept (asserted inside), and an
//! engine on a store that returns these bytes for every key answers every operation without
//! a panic and never verifies a code.
#![no_main]

use std::sync::{Arc, OnceLock};

use libfuzzer_sys::fuzz_target;
use passcode_core::fuzzing::{decode_bucket_record, decode_subject_record, ring, seal_token};
use passcode_core::{
    Channel, Config, Engine, Expected, IssueRequest, ManualClock, Purpose, Store, StoreError, StoreKey,
};

/// A store that answers every read with the same bytes.
struct Garbage(Vec<u8>);

impl Store for Garbage {
    fn get(&self, _: &StoreKey, _: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        Ok(Some((self.0.clone(), 7)))
    }
    fn put(&self, _: &StoreKey, _: &[u8], _: Option<u64>, _: Expected, _: u64) -> Result<Option<u64>, StoreError> {
        Ok(Some(8))
    }
    fn delete(&self, _: &StoreKey, _: u64, _: u64) -> Result<bool, StoreError> {
        Ok(true)
    }
}

fn token() -> &'static str {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN.get_or_init(|| seal_token("default", Channel::Email, "jane@example.com", None))
}

fuzz_target!(|data: &[u8]| {
    let Some((&clock, bytes)) = data.split_first() else { return };
    // Times across the whole range, the ends included.
    let now = [1_800_000_000, 1_577_836_800, 253_402_300_799, 4_000_000_000][usize::from(clock % 4)];
    let _ = decode_subject_record(bytes, now);
    let _ = decode_bucket_record(bytes);
    let engine = Engine::builder(Config::default())
        .store(Arc::new(Garbage(bytes.to_vec())))
        .clock(Arc::new(ManualClock::new(now)))
        .key_ring(ring())
        .build()
        .expect("the default config");
    let request = IssueRequest {
        channel: Channel::Email,
        identifier: "jane@example.com",
        purpose: Purpose::SignIn,
        client: Some("2001:db8::1"),
        locale: None,
    };
    let _ = engine.issue(&request);
    // The token's challenge id is all sevens: a forged record can name it, but it cannot hold
    // the code's keyed hash without the key, so no code verifies.
    for code in ["123456", "000000", "777777"] {
        assert!(engine.verify(token(), code).is_err(), "a code verified against a forged record");
    }
    let _ = engine.resend(token(), Some("203.0.113.9"), None);
    let _ = engine.cancel(token());
    let _ = engine.unlock(Channel::Email, "jane@example.com");
});
