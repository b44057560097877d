//! Verify through the component against the same verify in native Rust, in one run, and
//! what an instance costs: `cargo bench -p passcode-envoy-filter --bench component`. After
//! criterion's runs it prints the component's size and the ratio from this run's medians.
//! (Build the component first: cargo run --release -p passcode-componentize.)

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use criterion::{criterion_group, BatchSize, Criterion};
use passcode_envoy_filter::host::{require_wasm, Channel, ComponentHost, IssueRequest, Purpose};

const KEY_HEX: &str = "8f3a1c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a";
const CONFIG: &str = r#"{"keys":{"ring":[{"id":1,"env":"PASSCODE_KEY_1"}]}}"#;

static N: AtomicU64 = AtomicU64::new(0);

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
    let worker = std::cell::RefCell::new(host.open(CONFIG).unwrap().unwrap());
    // The same, compiled without epoch checks: what the per-call deadline costs.
    let unbounded = ComponentHost::builder(&wasm)
        .call_deadline(None)
        .env("PASSCODE_KEY_1", KEY_HEX)
        .build()
        .unwrap_or_else(|e| panic!("{e:#}"));
    let unbounded_worker = std::cell::RefCell::new(unbounded.open(CONFIG).unwrap().unwrap());

    let mut g = c.benchmark_group("verify (right code, fresh challenge each time)");
    g.bench_function("native Rust", |b| {
        b.iter_batched(
            || {
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
            },
            |(token, code)| native.verify(&token, &code).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let workers = [("component (wasmtime)", &worker), ("component (wasmtime, no deadline)", &unbounded_worker)];
    for (name, worker) in workers {
        g.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let request = IssueRequest {
                        channel: Channel::Email,
                        identifier: next_subject(),
                        purpose: Purpose::SignIn,
                        client: None,
                        locale: None,
                    };
                    let i = worker.borrow_mut().issue(&request).unwrap().unwrap();
                    (i.token, i.code)
                },
                |(token, code)| worker.borrow_mut().verify(&token, &code).unwrap().unwrap(),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();

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
    let verify = "verify (right code, fresh challenge each time)";
    let (native, wasm) = (median(verify, "native Rust"), median(verify, "component (wasmtime)"));
    println!("\n== the component: figures from this run (medians) ==");
    println!(
        "verify: native {:.2} µs, component {:.2} µs: {:.2}x (target <= 2x)",
        native / 1e3,
        wasm / 1e3,
        wasm / native
    );
    let unbounded = median(verify, "component (wasmtime, no deadline)");
    println!(
        "the per-call deadline (epoch checks): component {:.2} µs without, {:.2} µs with: {:+.1}%",
        unbounded / 1e3,
        wasm / 1e3,
        (wasm / unbounded - 1.0) * 100.0
    );
    println!("instantiate: {:.1} µs", median("instance", "instantiate") / 1e3);
    println!("instantiate + open engine: {:.1} µs", median("instance", "instantiate + open engine") / 1e3);
}
