//! Addresses and numbers: any text is an identifier or an error (libphonenumber's parser
//! included), and an identifier's forms are stable: its delivery form parses to itself and
//! its canonical form is a fixed point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passcode_core::{Channel, Identifier};

const REGIONS: [Option<&str>; 6] = [None, Some("GB"), Some("US"), Some("DE"), Some("IN"), Some("JP")];

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else { return };
    let Ok(text) = std::str::from_utf8(rest) else { return };
    let channel = if head & 1 == 0 { Channel::Email } else { Channel::Sms };
    let region = REGIONS[usize::from(head >> 1) % REGIONS.len()];
    let Ok(id) = Identifier::parse_with_region(channel, text, region) else { return };
    let again = Identifier::parse(channel, id.as_str()).expect("the delivery form parses");
    assert_eq!(again.as_str(), id.as_str(), "the delivery form is a fixed point");
    assert_eq!(again.canonical(), id.canonical(), "one canonical form");
    if channel == Channel::Sms {
        let digits = &id.as_str()[1..];
        assert!(id.as_str().starts_with('+') && (7..=15).contains(&digits.len()), "E.164");
        assert!(digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0'));
        assert!(id.region().is_some() && id.phone_type().is_some());
    }
    let _ = id.masked();
});
