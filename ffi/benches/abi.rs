//! Verify through the C ABI against verify through the Rust API, interleaved in one run.
//!
//! A machine shared with other work speeds up and slows down by more than the C layer costs,
//! so the two sides are never measured minutes apart: the run is `ROUNDS` rounds, and in each
//! round both sides verify `BATCH` challenges back to back (the side that goes first
//! alternates). Each side is timed by the CPU time of this thread (`CLOCK_THREAD_CPUTIME_ID`),
//! not by the wall clock, so the time the thread waits while other processes run is not
//! counted. Each round gives a ratio, C over Rust, and the figure reported is the median of
//! those ratios, with the lowest and highest beside it so a reader sees the spread.
//!
//! Verify consumes its challenge, so each round first issues `BATCH` challenges for new
//! subjects on each side (not timed), then times the verifies with the right code. Each side
//! has its own engine, opened the same way (through `passcode_engine_new`, the Rust side
//! borrowing the engine behind its handle) from the same config, so both stores grow alike
//! and each timed call does identical engine work: open the token, one store read, the keyed
//! hash, one compare-and-swap write. What differs is only the C layer: the panic boundary,
//! the NULL, length and UTF-8 checks, and the answer handed out behind a pointer (read and
//! freed inside the timed loop, as a C host must; the Rust side drops its `Verified` there
//! too). A counting allocator, switched on for one untimed pass, reports the allocations of
//! each side per verify.
//!
//! Run: `cargo bench -p passcode-ffi --bench abi` (scripts/bench reads its last lines).

#![deny(clippy::undocumented_unsafe_blocks)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::ptr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use passcode::*;
use passcode_core::{Channel, Engine, IssueRequest, Purpose};

/// Rounds of the interleaved run (odd, so the median is one round's ratio).
const ROUNDS: usize = 41;
/// Verifies per side per round: long enough (milliseconds) that the clock's resolution and
/// the loop do not matter, short enough that load changes little within it.
const BATCH: usize = 2000;

/// Counts allocations while `COUNTING` is on; otherwise only a relaxed load per call.
struct CountingAllocator;

static COUNTING: AtomicBool = AtomicBool::new(false);
static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if COUNTING.load(Ordering::Relaxed) {
            ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

static SUBJECT: AtomicU64 = AtomicU64::new(0);

/// An engine opened through the C ABI, and the Rust engine behind it.
fn open() -> (*const PasscodeEngine, &'static Engine) {
    let config = "[policy]\nmax_attempts = 10\n";
    let mut handle = ptr::null();
    // SAFETY: valid text and out-pointer.
    let s = unsafe { passcode_engine_new(config.as_ptr().cast(), config.len(), ptr::null(), &mut handle) };
    assert_eq!(s, PasscodeStatus::Ok);
    // SAFETY: the handle is live until it is freed at the end of `main`, after its last use.
    (handle, unsafe { engine_ref(handle) }.expect("an engine"))
}

/// A challenge: its token and its code.
type Challenge = (String, String);

/// A challenge for a new subject.
fn challenge(engine: &Engine) -> Challenge {
    let identifier = format!("user{}@example.com", SUBJECT.fetch_add(1, Ordering::Relaxed));
    let request = IssueRequest {
        channel: Channel::Email,
        identifier: &identifier,
        purpose: Purpose::SignIn,
        client: None,
        locale: None,
    };
    let issued = engine.issue(&request).expect("issue");
    (issued.token, issued.code.to_string())
}

/// `n` challenges on each engine, issued in turns, so that neither side's records are the
/// more recently touched (the warmer in the cache) when the verifies start.
fn challenges(rust: &Engine, c: &Engine, n: usize) -> (Vec<Challenge>, Vec<Challenge>) {
    (0..n).map(|_| (challenge(rust), challenge(c))).unzip()
}

/// Not inlined, so a profiler can count each side apart
/// (`valgrind --tool=callgrind --toggle-collect='abi::verify_*'`).
#[inline(never)]
fn verify_rust(engine: &Engine, batch: &[Challenge]) {
    for (token, code) in batch {
        let verified = engine.verify(token, code).expect("verified");
        black_box(&verified);
    }
}

#[inline(never)]
fn verify_c(engine: *const PasscodeEngine, batch: &[Challenge]) {
    for (token, code) in batch {
        let mut out = ptr::null_mut();
        // SAFETY: a live handle, texts valid for their lengths, a valid out-pointer; `out` is
        // read and freed once.
        unsafe {
            let s = passcode_verify(
                engine,
                token.as_ptr().cast(),
                token.len(),
                code.as_ptr().cast(),
                code.len(),
                &mut out,
                ptr::null_mut(),
            );
            assert_eq!(s, PasscodeStatus::Ok);
            black_box(passcode_verified_identifier(out));
            passcode_verified_free(out);
        }
    }
}

/// The CPU time this thread has used, in nanoseconds.
fn thread_cpu_ns() -> u64 {
    let mut t = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: a valid clock id and a live timespec to write.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
}

/// CPU nanoseconds per call of `verify` over `batch`.
fn time(batch: &[Challenge], verify: impl Fn(&[Challenge])) -> f64 {
    let start = thread_cpu_ns();
    verify(batch);
    (thread_cpu_ns() - start) as f64 / batch.len() as f64
}

/// Allocations per call of `verify` over `batch`.
fn allocations(batch: &[Challenge], verify: impl Fn(&[Challenge])) -> f64 {
    ALLOCATIONS.store(0, Ordering::Relaxed);
    COUNTING.store(true, Ordering::Relaxed);
    verify(batch);
    COUNTING.store(false, Ordering::Relaxed);
    ALLOCATIONS.load(Ordering::Relaxed) as f64 / batch.len() as f64
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `--rounds N` makes a shorter run (under a profiler).
    let args: Vec<String> = std::env::args().collect();
    let rounds = args
        .iter()
        .position(|a| a == "--rounds")
        .and_then(|i| args.get(i + 1))
        .map_or(ROUNDS, |n| n.parse().expect("--rounds takes a number"));
    let (c_handle, c_engine) = open();
    let (rust_handle, rust_engine) = open();

    // One untimed round warms both sides (caches, the allocator) and counts allocations.
    let (rust_batch, c_batch) = challenges(rust_engine, c_engine, BATCH);
    let rust_allocations = allocations(&rust_batch, |b| verify_rust(rust_engine, b));
    let c_allocations = allocations(&c_batch, |b| verify_c(c_handle, b));

    let (mut rust_ns, mut c_ns, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        let (rust_batch, c_batch) = challenges(rust_engine, c_engine, BATCH);
        let (rust, c) = if round % 2 == 0 {
            let rust = time(&rust_batch, |b| verify_rust(rust_engine, b));
            (rust, time(&c_batch, |b| verify_c(c_handle, b)))
        } else {
            let c = time(&c_batch, |b| verify_c(c_handle, b));
            (time(&rust_batch, |b| verify_rust(rust_engine, b)), c)
        };
        rust_ns.push(rust);
        c_ns.push(c);
        ratios.push(c / rust);
    }
    let (lowest, highest) = ratios.iter().fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    println!(
        "verify through the Rust API: {:.1} ns of CPU time (median of {rounds} rounds of {BATCH})",
        median(&mut rust_ns)
    );
    println!(
        "verify through the C ABI: {:.1} ns of CPU time (median of {rounds} rounds of {BATCH})",
        median(&mut c_ns)
    );
    println!("allocations per verify: Rust API {rust_allocations:.2}, C ABI {c_allocations:.2}");
    println!(
        "C ABI over Rust API, median of {rounds} interleaved rounds: {:.3} (lowest {lowest:.3}, highest {highest:.3})",
        median(&mut ratios)
    );

    // SAFETY: ours, freed once; the engines borrowed from them are not used after this.
    unsafe {
        passcode_engine_free(c_handle);
        passcode_engine_free(rust_handle);
    }
}
