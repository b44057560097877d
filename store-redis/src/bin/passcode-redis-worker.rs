//! A small process that verifies codes against a shared store, for the multi-process tests
//! and for operators who want to check a deployment by hand.
//!
//! Usage: `passcode-redis-worker CONFIG START_AT_MS verify TOKEN CODE TIMES`
//!
//! It opens the engine from the config file (as any host would, through
//! `passcode_redis::open_engine`), waits until the wall clock reaches START_AT_MS (Unix
//! milliseconds) so that several processes start together, then verifies TIMES times and
//! prints one line per answer: `ok`, or `err NUMBER NAME` with the error's stable number.
//! It prints nothing else, and never the code.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, config, start_at, op, token, code, times] = &args[..] else {
        eprintln!("usage: passcode-redis-worker CONFIG START_AT_MS verify TOKEN CODE TIMES");
        return ExitCode::from(2);
    };
    if op != "verify" {
        eprintln!("unknown operation (only `verify`)");
        return ExitCode::from(2);
    }
    let (Ok(start_at), Ok(times)) = (start_at.parse::<u128>(), times.parse::<u32>()) else {
        eprintln!("START_AT_MS and TIMES are numbers");
        return ExitCode::from(2);
    };
    let text = match std::fs::read_to_string(config) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot read the config: {e}");
            return ExitCode::from(2);
        }
    };
    let engine = match passcode_core::Config::parse(&text).and_then(passcode_redis::open_engine) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("cannot open the engine: {e}");
            return ExitCode::from(1);
        }
    };
    let now_ms = || SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis());
    while now_ms() < start_at {
        std::thread::sleep(Duration::from_millis(1));
    }
    for _ in 0..times {
        match engine.verify(token, code) {
            Ok(_) => println!("ok"),
            Err(e) => println!("err {} {}", e.number(), e.name()),
        }
    }
    ExitCode::SUCCESS
}
