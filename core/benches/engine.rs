//! Speed of issue and verify on the memory store, next to the cryptography they must do,
//! measured in the same run so the ratios hold on any machine.
//!
//! - `floor/verify`: what verify cannot avoid: the subject's index HMAC, the code's HMAC, and
//!   opening the sealed token (the SIV of `token.rs`), with keys prepared as the engine has them.
//! - `floor/issue`: what issue cannot avoid: two HMACs, sealing the token, one CSPRNG call.
//!   Both are `passcode_core::floor` (feature `bench`): the engine's own primitives.
//! - `engine/verify`, `engine/issue`: the real operations (fresh subjects each time);
//!   `engine/issue-sms`: issue to fresh numbers, parsed with libphonenumber's metadata.
//! - `threads/1` and `threads/2`: issue+verify pairs on one and on two threads, and
//!   `threads/hmac-1`, `threads/hmac-2`: work that shares nothing, the machine's own ceiling.
//!
//! After criterion's runs, the ratios are printed from its estimates:
//! `cargo bench -p passcode-core --features bench --bench engine`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, BatchSize, Criterion};
use hmac::{Hmac, Mac};
use passcode_core::floor::Floor;
use passcode_core::{Channel, Config, Engine, IssueRequest, KeyRing, Purpose};
use sha2::Sha256;

fn engine() -> Engine {
    let key: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(151).wrapping_add(9)).collect();
    let config = Config::parse(
        "[policy]\nsubject_sends = { max = 20, window_seconds = 600 }\n\
         country_sends = { max = 1000000, window_seconds = 600 }",
    )
    .unwrap();
    Engine::builder(config).key_ring(KeyRing::new(vec![(1, key)], 1, 1).unwrap()).build().unwrap()
}

static NEXT: AtomicU64 = AtomicU64::new(0);

fn next_address() -> String {
    format!("user{}@example.com", NEXT.fetch_add(1, Ordering::Relaxed))
}

fn request(address: &str) -> IssueRequest<'_> {
    IssueRequest { channel: Channel::Email, identifier: address, purpose: Purpose::SignIn, client: None, locale: None }
}

fn hmac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
    for p in parts {
        mac.update(&(p.len() as u32).to_be_bytes());
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

fn floors(c: &mut Criterion) {
    let floor = Floor::default();
    let mut g = c.benchmark_group("floor");
    g.bench_function("hmac", |b| b.iter(|| floor.mac()));
    g.bench_function("verify", |b| b.iter(|| floor.verify()));
    g.bench_function("issue", |b| b.iter(|| floor.issue()));
    g.finish();
}

fn operations(c: &mut Criterion) {
    let e = engine();
    let mut g = c.benchmark_group("engine");
    g.bench_function("issue", |b| {
        b.iter_batched(next_address, |a| e.issue(&request(&a)).unwrap(), BatchSize::SmallInput)
    });
    g.bench_function("issue-sms", |b| {
        b.iter_batched(
            // 415 numbers, each used once: the subject's cooldown never refuses one.
            || format!("+1 415 {}", 2_000_000 + NEXT.fetch_add(1, Ordering::Relaxed) % 8_000_000),
            |n| {
                let r = IssueRequest {
                    channel: Channel::Sms,
                    identifier: &n,
                    purpose: Purpose::SignIn,
                    client: None,
                    locale: None,
                };
                e.issue(&r)
            },
            BatchSize::SmallInput,
        )
    });
    g.bench_function("verify", |b| {
        b.iter_batched(
            || e.issue(&request(&next_address())).unwrap(),
            |i| e.verify(&i.token, &i.code).unwrap(),
            BatchSize::SmallInput,
        )
    });
    g.finish();
}

/// Issue+verify pairs, `iters` of them split over `threads` threads, on one shared engine.
fn pairs(e: &Arc<Engine>, iters: u64, threads: u64) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let e = e.clone();
            std::thread::spawn(move || {
                // Addresses from a counter of the thread's own: no shared atomic in the loop.
                for n in 0..iters / threads {
                    let a = format!("t{t}-user{n}@example.com");
                    let i = e.issue(&request(&a)).unwrap();
                    e.verify(&i.token, &i.code).unwrap();
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    start.elapsed()
}

/// The machine's own ceiling: HMACs (nothing shared at all) split over `threads` threads.
fn hmacs(iters: u64, threads: u64) -> Duration {
    let start = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            std::thread::spawn(move || {
                let key = [t as u8; 32];
                for i in 0..(iters * 40) / threads {
                    std::hint::black_box(hmac(&key, &[&i.to_le_bytes()]));
                }
            })
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    start.elapsed()
}

fn threads(c: &mut Criterion) {
    // A fresh engine per sample, so both runs see a store of the same size rather than the
    // second inheriting the millions of records the first left behind.
    let mut g = c.benchmark_group("threads");
    g.bench_function("1", |b| b.iter_custom(|iters| pairs(&Arc::new(engine()), iters, 1)));
    g.bench_function("2", |b| b.iter_custom(|iters| pairs(&Arc::new(engine()), iters.max(2), 2)));
    g.bench_function("hmac-1", |b| b.iter_custom(|iters| hmacs(iters, 1)));
    g.bench_function("hmac-2", |b| b.iter_custom(|iters| hmacs(iters.max(2), 2)));
    g.finish();
}

criterion_group!(benches, floors, operations, threads);

fn estimate(name: &str) -> Option<f64> {
    let dir =
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").into());
    let path = format!("{dir}/criterion/{name}/new/estimates.json");
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()?;
    v["median"]["point_estimate"].as_f64()
}

fn report() {
    let get = |n: &str| estimate(n).unwrap_or(f64::NAN);
    let (fv, fi, v, i) = (get("floor/verify"), get("floor/issue"), get("engine/verify"), get("engine/issue"));
    let (t1, t2) = (get("threads/1"), get("threads/2"));
    let (h1, h2) = (get("threads/hmac-1"), get("threads/hmac-2"));
    println!("\n== passcode-core: ratios from this run (medians) ==");
    println!("HMAC-SHA256 (one, prepared key): {:8.0} ns", get("floor/hmac"));
    println!("verify floor (2 HMAC+open): {fv:8.0} ns   engine verify: {v:8.0} ns   ratio {:.2} (goal <= 1.5)", v / fv);
    println!(
        "issue floor (2 HMAC+seal+draw): {fi:4.0} ns   engine issue:  {i:8.0} ns   ratio {:.2} (goal <= 2)",
        i / fi
    );
    println!("issue by SMS (a number parsed with libphonenumber): {:8.0} ns", get("engine/issue-sms"));
    println!(
        "issue+verify pairs: 1 thread {t1:.0} ns/pair, 2 threads {t2:.0} ns/pair: speed-up {:.2} (target >= 1.8)",
        t1 / t2
    );
    println!("the machine's own ceiling, HMACs sharing nothing: speed-up {:.2} on 2 threads", h1 / h2);
}

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    report();
}
