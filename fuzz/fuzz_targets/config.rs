//! The config parser (TOML and JSON): any text is a config or an error, never a panic, and an
//! error never quotes a value: a password planted in any value never reaches the error text.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passcode_core::Config;

/// A value the fuzzer can plant anywhere (the seeds hold it in URLs and fields).
const PLANTED: &str = "hunter2-planted";

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match Config::parse(text) {
        Ok(config) => {
            let shown = format!("{config:?}");
            assert!(!shown.contains(&format!(":{PLANTED}@")), "Debug shows a URL's password: {shown}");
        }
        Err(e) => {
            let message = e.to_string();
            // A field name may be echoed (only when it is a plain name); a value never.
            let echoed_name = matches!(&e, passcode_core::Error::UnknownConfigField { .. });
            assert!(echoed_name || !message.contains(PLANTED), "an error quotes the config: {message}");
        }
    }
});
