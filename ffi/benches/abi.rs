//! Verify through the C ABI against verify through the Rust API, in the same run.
//!
//! Verify consumes its challenge, so each measured call gets a fresh one: `iter_batched`
//! issues a challenge for a new subject in its (unmeasured) setup, and the routine verifies
//! it with the right code. Each side has its own engine, opened the same way (through
//! `passcode_engine_new`, the Rust side borrowing the engine behind its handle) from the same
//! config, with an empty memory store at the start; so each measured call does identical engine work: open the token, one store read, the keyed hash,
//! one compare-and-swap write. What differs is only the C layer: the panic boundary, the NULL,
//! length and UTF-8 checks, and boxing the result (freed inside the measured C routine, as a
//! C host must; the Rust side drops its `Verified` inside the routine too).
//! A new subject per challenge keeps the per-subject send limit out of the way.

#![deny(clippy::undocumented_unsafe_blocks)]

use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use passcode::*;
use passcode_core::{Channel, IssueRequest, Purpose};

static SUBJECT: AtomicU64 = AtomicU64::new(0);

fn next_identifier() -> String {
    format!("user{}@example.com", SUBJECT.fetch_add(1, Ordering::Relaxed))
}

/// An engine opened through the C ABI, and the Rust engine behind it.
fn open() -> (*const PasscodeEngine, &'static passcode_core::Engine) {
    let config = "[policy]\nmax_attempts = 10\n";
    let mut handle = ptr::null();
    // SAFETY: valid text and out-pointer.
    let s = unsafe { passcode_engine_new(config.as_ptr().cast(), config.len(), ptr::null(), &mut handle) };
    assert_eq!(s, PasscodeStatus::Ok);
    // SAFETY: the handle is live until it is freed at the end of `bench`, after its last use.
    (handle, unsafe { engine_ref(handle) }.expect("an engine"))
}

/// Issues a challenge for a new subject: (token, code).
fn challenge(engine: &passcode_core::Engine) -> (String, String) {
    {
        let identifier = next_identifier();
        let issued = engine
            .issue(&IssueRequest {
                channel: Channel::Email,
                identifier: &identifier,
                purpose: Purpose::SignIn,
                client: None,
                locale: None,
            })
            .expect("issue");
        (issued.token, issued.code.to_string())
    }
}

fn bench(c: &mut Criterion) {
    // Two engines of the same config, one per side, so that neither runs on a store the
    // other has already filled with hundreds of thousands of subjects.
    let (c_handle, _) = open();
    let (rust_handle, rust_engine) = open();
    // SAFETY: live until freed below.
    let c_engine = unsafe { engine_ref(c_handle) }.expect("an engine");

    let mut group = c.benchmark_group("verify");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4)).sample_size(60);
    group.bench_function("rust", |b| {
        b.iter_batched(
            || challenge(rust_engine),
            |(token, code)| {
                let v = rust_engine.verify(&token, &code).expect("verified");
                std::hint::black_box(&v);
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("c-abi", |b| {
        b.iter_batched(
            || challenge(c_engine),
            |(token, code)| {
                let mut out = ptr::null_mut();
                // SAFETY: valid handle, texts and out-pointer; `out` is freed once below.
                unsafe {
                    let s = passcode_verify(
                        c_handle,
                        token.as_ptr().cast(),
                        token.len(),
                        code.as_ptr().cast(),
                        code.len(),
                        &mut out,
                        ptr::null_mut(),
                    );
                    assert_eq!(s, PasscodeStatus::Ok);
                    std::hint::black_box(passcode_verified_identifier(out));
                    passcode_verified_free(out);
                }
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
    // SAFETY: ours, freed once; the engines borrowed from them are not used after this.
    unsafe {
        passcode_engine_free(c_handle);
        passcode_engine_free(rust_handle);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
