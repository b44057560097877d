//! Verify through the component against the same verify in native Rust, in one run, and
//! what an instance costs: `cargo bench -p passcode-envoy-filter --bench component`. After
//! criterion's runs it prints the ratio from this run's medians, the same from the p10 of
//! single calls (steadier on a loaded machine), and what the per-call deadline costs.
//! (Build the component first: cargo run --release -p passcode-componentize.)

use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use criterion::{criterion_group, BatchSize, Criterion};
use passcode_envoy_filter::host::{require_wasm, Channel, ComponentHost, IssueRequest, Purpose, Worker};

const KEY_HEX: &str = "8f3a1c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a";
const CONFIG: &str = r#"{"keys":{"ring":[{"id":1,"env":"PASSCODE_KEY_1"}]}}"#;

static N: AtomicU64 = AtomicU64::new(0);

const VERIFY: &str = "verify (right code, fresh challenge each time)";

/// The p10 of single verifies, in nanoseconds: native, component, component without deadline.
static P10: OnceLock<[f64; 3]> = OnceLock::new();

/// The 10th percentile of 4,000 single timed verifies, each on a fresh challenge. On a machine
/// shared with other builds criterion's medians move with the load; the fastest tenth of
/// single calls is the code's own speed, steady from run to run.
fn p10<T, R>(mut issue: impl FnMut() -> T, mut verify: impl FnMut(T) -> R) -> f64 {
    let mut nanos: Vec<u128> = (0..4000)
        .map(|_| {
            let challenge = issue();
            let t = Instant::now();
            std::hint::black_box(verify(challenge));
            t.elapsed().as_nanos()
        })
        .collect();
    nanos.sort_unstable();
    nanos[nanos.len() / 10] as f64
}

fn next_subject() -> String {
    format!("user{}@example.com", N.fetch_add(1, Ordering::Relaxed))
}

fn benches(c: &mut Criterion) {
    let wasm = require_wasm().unwrap_or_else(|m| panic!("{m}"));
    let size = std::fs::metadata(&wasm).map(|m| m.len()).unwrap_or(0);
    eprintln!("the component: {} ({size} bytes)", wasm.display());
    let t = Instant::now();
    let compiled = ComponentHost::builder(&wasm).build().unwrap_or_else(|e| panic!("{e:#}"));
    eprintln!("compiling the component (cranelift, once per process): {:?}", t.elapsed());

    // Native: the core crate on the memory store, keys from the same variable.
    std::env::set_var("PASSCODE_KEY_1", KEY_HEX);
    let native = passcode_core::Engine::from_config(&passcode_core::Config::parse(CONFIG).unwrap()).unwrap();
    // Component: one instance on its own shared memory store.
    let host = compiled
        .rebuild()
        .store(Arc::new(passcode_core::MemoryStore::new()))
        .env("PASSCODE_KEY_1", KEY_HEX)
        .build()
        .unwrap();
    let worker = RefCell::new(host.open(CONFIG).unwrap().unwrap());
    // The same, compiled without epoch checks: what the per-call deadline costs.
    let unbounded = ComponentHost::builder(&wasm)
        .call_deadline(None)
        .env("PASSCODE_KEY_1", KEY_HEX)
        .build()
        .unwrap_or_else(|e| panic!("{e:#}"));
    let unbounded_worker = RefCell::new(unbounded.open(CONFIG).unwrap().unwrap());

    let native_issue = || {
        let subject = next_subject();
        let request = passcode_core::IssueRequest {
            channel: passcode_core::Channel::Email,
            identifier: &subject,
            purpose: passcode_core::Purpose::SignIn,
            client: None,
            locale: None,
        };
        let i = native.issue(&request).unwrap();
        (i.token.clone(), i.code.to_string())
    };
    let native_verify = |(token, code): (String, String)| native.verify(&token, &code).unwrap();
    let component_issue = |worker: &RefCell<Worker>| {
        let request = IssueRequest {
            channel: Channel::Email,
            identifier: next_subject(),
            purpose: Purpose::SignIn,
            client: None,
            locale: None,
        };
        let i = worker.borrow_mut().issue(&request).unwrap().unwrap();
        (i.token, i.code)
    };
    let component_verify = |worker: &RefCell<Worker>, (token, code): (String, String)| {
        worker.borrow_mut().verify(&token, &code).unwrap().unwrap()
    };

    let mut g = c.benchmark_group(VERIFY);
    g.bench_function("native Rust", |b| b.iter_batched(native_issue, native_verify, BatchSize::SmallInput));
    let workers = [("component (wasmtime)", &worker), ("component (wasmtime, no deadline)", &unbounded_worker)];
    for (name, worker) in workers {
        g.bench_function(name, |b| {
            b.iter_batched(|| component_issue(worker), |t| component_verify(worker, t), BatchSize::SmallInput)
        });
    }
    g.finish();
    let p10s = [
        p10(native_issue, native_verify),
        p10(|| component_issue(&worker), |t| component_verify(&worker, t)),
        p10(|| component_issue(&unbounded_worker), |t| component_verify(&unbounded_worker, t)),
    ];
    let _ = P10.set(p10s);

    let mut g = c.benchmark_group("instance");
    g.bench_function("instantiate", |b| b.iter(|| host.instantiate().unwrap()));
    g.bench_function("instantiate + open engine", |b| b.iter(|| host.open(CONFIG).unwrap().unwrap()));
    g.finish();
}

criterion_group!(component, benches);

/// A median from criterion's estimates of this run, in nanoseconds.
fn median(group: &str, name: &str) -> f64 {
    let dir = std::env::var("CARGO_TARGET_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../../target").into());
    let path = format!("{dir}/criterion/{group}/{name}/new/estimates.json");
    let read = || -> Option<f64> {
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).ok()?).ok()?;
        v["median"]["point_estimate"].as_f64()
    };
    read().unwrap_or(f64::NAN)
}

fn main() {
    component();
    Criterion::default().configure_from_args().final_summary();
    let (native, wasm) = (median(VERIFY, "native Rust"), median(VERIFY, "component (wasmtime)"));
    println!("\n== the component: figures from this run (medians) ==");
    println!(
        "verify: native {:.2} µs, component {:.2} µs: {:.2}x (target <= 2x)",
        native / 1e3,
        wasm / 1e3,
        wasm / native
    );
    let unbounded = median(VERIFY, "component (wasmtime, no deadline)");
    println!(
        "the per-call deadline (epoch checks): component {:.2} µs without, {:.2} µs with: {:+.1}%",
        unbounded / 1e3,
        wasm / 1e3,
        (wasm / unbounded - 1.0) * 100.0
    );
    if let Some([native, wasm, unbounded]) = P10.get() {
        println!(
            "verify, p10 of 4,000 single calls: native {:.2} µs, component {:.2} µs: {:.2}x; without the deadline {:.2} µs ({:+.1}%)",
            native / 1e3,
            wasm / 1e3,
            wasm / native,
            unbounded / 1e3,
            (wasm / unbounded - 1.0) * 100.0
        );
    }
    println!("instantiate: {:.1} µs", median("instance", "instantiate") / 1e3);
    println!("instantiate + open engine: {:.1} µs", median("instance", "instantiate + open engine") / 1e3);
}
