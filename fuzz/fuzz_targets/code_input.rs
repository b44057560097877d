//! What a user types as a code: read as a code of the policy or refused, never a panic; what
//! is read is exactly `length` symbols of the alphabet (asserted inside `read_code`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use passcode_core::fuzzing::read_code;

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else { return };
    let Ok(typed) = std::str::from_utf8(rest) else { return };
    let _ = read_code(head & 1 == 1, head >> 1, typed);
});
