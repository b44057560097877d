//! Runs issue and verify in a loop on a warm engine, for a profiler: `valgrind
//! --tool=callgrind` counts the instructions each takes, whatever else the machine is doing.
//!
//!   cargo build --release -p passcode-core --example hot_path
//!   valgrind --tool=callgrind target/release/examples/hot_path issue 20000
//!
//! The first argument picks the operation (`issue`, `issue-sms` or `verify`), the second how
//! many (after as many again to warm the store). The engine is the one of `benches/engine.rs`.

use passcode_core::{Channel, Config, Engine, IssueRequest, KeyRing, Purpose};

fn main() {
    let mut args = std::env::args().skip(1);
    let what = args.next().unwrap_or_else(|| "verify".into());
    let n: u64 = args.next().and_then(|n| n.parse().ok()).unwrap_or(20_000);
    let key: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(151).wrapping_add(9)).collect();
    let config = Config::parse(
        "[policy]\nsubject_sends = { max = 20, window_seconds = 600 }\n\
         country_sends = { max = 1000000, window_seconds = 600 }",
    )
    .expect("the bench's config");
    let engine = Engine::builder(config)
        .key_ring(KeyRing::new(vec![(1, key)], 1, 1).expect("a strong key"))
        .build()
        .expect("an engine");
    let issue = |i: u64, sms: bool| {
        let identifier = if sms { format!("+1 415 {}", 2_000_000 + i) } else { format!("user{i}@example.com") };
        let channel = if sms { Channel::Sms } else { Channel::Email };
        let request =
            IssueRequest { channel, identifier: &identifier, purpose: Purpose::SignIn, client: None, locale: None };
        engine.issue(&request).expect("issued")
    };
    let warm: Vec<_> = (0..n).map(|i| issue(i, false)).collect();
    match what.as_str() {
        "issue" => (n..2 * n).for_each(|i| drop(std::hint::black_box(issue(i, false)))),
        "issue-sms" => (0..n).for_each(|i| drop(std::hint::black_box(issue(i, true)))),
        _ => warm.iter().for_each(|i| drop(std::hint::black_box(engine.verify(&i.token, &i.code).expect("verified")))),
    }
}
