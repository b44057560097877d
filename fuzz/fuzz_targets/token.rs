//! Challenge tokens: any text is refused before the store is touched unless it is a token
//! the ring sealed (asserted inside `open_token`: a token that opens re-seals to itself, so
//! no altered token is accepted). An engine asked to verify it answers without a panic and
//! never with a success (the store is empty).
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use passcode_core::fuzzing::{open_token, ring};
use passcode_core::{Config, Engine, ManualClock};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = open_token("default", text);
    let engine = Engine::builder(Config::default())
        .clock(Arc::new(ManualClock::new(1_800_000_000)))
        .key_ring(ring())
        .build()
        .expect("the default config");
    assert!(engine.verify(text, "123456").is_err(), "nothing verifies against an empty store");
    let _ = engine.resend(text, None, None);
    let _ = engine.cancel(text);
});
