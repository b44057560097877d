//! A small process that verifies codes against a shared store, for the multi-process tests
//! and for operators who want to check a deployment by hand.
//!
//! Usage:
//! - `passcode-redis-worker CONFIG START_AT_MS verify TOKEN CODE TIMES`
//! - `passcode-redis-worker CONFIG START_AT_MS sequence PAUSE_MS DEADLINE_MS TOKEN CODE [TOKEN CODE]...`
//!
//! It opens the engine from the config file (as any host would, through
//! `passcode_redis::open_engine`) and waits until the wall clock reaches START_AT_MS (Unix
//! milliseconds) so that several processes start together. `verify` then verifies TIMES
//! times and prints one line per answer: `ok`, or `err NUMBER NAME` with the error's stable
//! number. `sequence` verifies each pair in turn, PAUSE_MS apart, and while the answer is
//! `store-unavailable` (a failover under way) tries the same pair again every 20 ms until
//! DEADLINE_MS (Unix milliseconds), as a host retrying would; it prints every answer as
//! `INDEX ok` or `INDEX err NUMBER NAME`, INDEX counting pairs from 0. It prints nothing
//! else, and never a code.
#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let usage = "usage: passcode-redis-worker CONFIG START_AT_MS verify TOKEN CODE TIMES\n       \
                 passcode-redis-worker CONFIG START_AT_MS sequence PAUSE_MS DEADLINE_MS TOKEN CODE [TOKEN CODE]...";
    let (Some(config), Some(Ok(start_at)), Some(op)) =
        (args.get(1), args.get(2).map(|a| a.parse::<u128>()), args.get(3).map(String::as_str))
    else {
        eprintln!("{usage}");
        return ExitCode::from(2);
    };
    let work = match (op, &args[4..]) {
        ("verify", [token, code, times]) => match times.parse::<u32>() {
            Ok(times) => Work::Verify { token, code, times },
            Err(_) => {
                eprintln!("{usage}");
                return ExitCode::from(2);
            }
        },
        ("sequence", [pause, deadline, pairs @ ..]) if !pairs.is_empty() && pairs.len() % 2 == 0 => {
            match (pause.parse::<u64>(), deadline.parse::<u128>()) {
                (Ok(pause), Ok(deadline)) => Work::Sequence { pause, deadline, pairs },
                _ => {
                    eprintln!("{usage}");
                    return ExitCode::from(2);
                }
            }
        }
        _ => {
            eprintln!("{usage}");
            return ExitCode::from(2);
        }
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
    while now_ms() < start_at {
        std::thread::sleep(Duration::from_millis(1));
    }
    let answer = |token: &str, code: &str| match engine.verify(token, code) {
        Ok(_) => "ok".to_string(),
        Err(e) => format!("err {} {}", e.number(), e.name()),
    };
    match work {
        Work::Verify { token, code, times } => {
            for _ in 0..times {
                println!("{}", answer(token, code));
            }
        }
        Work::Sequence { pause, deadline, pairs } => {
            let unavailable = passcode_core::Error::StoreUnavailable { message: String::new() }.number();
            for (index, pair) in pairs.chunks(2).enumerate() {
                loop {
                    let a = answer(&pair[0], &pair[1]);
                    println!("{index} {a}");
                    if !a.starts_with(&format!("err {unavailable} ")) || now_ms() >= deadline {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                std::thread::sleep(Duration::from_millis(pause));
            }
        }
    }
    ExitCode::SUCCESS
}

/// What the worker was asked to do.
enum Work<'a> {
    Verify { token: &'a str, code: &'a str, times: u32 },
    Sequence { pause: u64, deadline: u128, pairs: &'a [String] },
}

fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis())
}
