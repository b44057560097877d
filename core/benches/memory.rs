//! Memory per live challenge on the in-memory store, with 1,000,000 subjects each holding one
//! live challenge. A counting allocator measures the bytes the program asked for; the resident
//! set size (which adds the allocator's own overhead) is reported beside it.
//!
//! The same allocator counts the allocations one issue and one verify make on a warm engine
//! (the memory store included, its table already grown), to hold the hot path to what it
//! needs: the results it hands back and the record the store keeps.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use passcode_core::{Channel, Config, Engine, IssueRequest, KeyRing, MemoryStore, Purpose};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);
static CALLS: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; this only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        CALLS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()).unwrap_or(0) * 4096
}

/// Allocations per issue and per verify, each issue for a new subject, on an engine that has
/// already served as many: what a warm server does per request.
fn allocations_per_operation(key: &[u8]) {
    let engine = Engine::builder(Config::default())
        .key_ring(KeyRing::new(vec![(1, key.to_vec())], 1, 1).unwrap())
        .build()
        .unwrap();
    let n = 20_000;
    let addresses: Vec<String> = (0..2 * n).map(|i| format!("warm{i}@example.com")).collect();
    let request = |address| IssueRequest {
        channel: Channel::Email,
        identifier: address,
        purpose: Purpose::SignIn,
        client: None,
        locale: None,
    };
    let warm: Vec<_> = addresses[..n].iter().map(|a| engine.issue(&request(a)).unwrap()).collect();
    warm.iter().for_each(|i| drop(engine.verify(&i.token, &i.code).unwrap()));
    let before = CALLS.load(Ordering::SeqCst);
    let issued: Vec<_> = addresses[n..].iter().map(|a| engine.issue(&request(a)).unwrap()).collect();
    let issue = (CALLS.load(Ordering::SeqCst) - before) as f64 / n as f64;
    let before = CALLS.load(Ordering::SeqCst);
    for i in &issued {
        drop(std::hint::black_box(engine.verify(&i.token, &i.code).unwrap()));
    }
    let verify = (CALLS.load(Ordering::SeqCst) - before) as f64 / n as f64;
    println!("== passcode-core: allocations per operation (warm engine, memory store) ==");
    println!("issue:            {issue:6.2} allocations");
    println!("verify:           {verify:6.2} allocations");
}

fn main() {
    let key: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(151).wrapping_add(9)).collect();
    allocations_per_operation(&key);
    let n: usize = std::env::var("PASSCODE_BENCH_SUBJECTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let store = Arc::new(MemoryStore::new());
    let engine = Engine::builder(Config::default())
        .store(store.clone())
        .key_ring(KeyRing::new(vec![(1, key)], 1, 1).unwrap())
        .build()
        .unwrap();
    let (heap0, rss0) = (LIVE.load(Ordering::SeqCst), rss_bytes());
    let mut address = String::new();
    for i in 0..n {
        address.clear();
        use std::fmt::Write;
        write!(address, "user{i}@example.com").unwrap();
        let req = IssueRequest {
            channel: Channel::Email,
            identifier: &address,
            purpose: Purpose::SignIn,
            client: None,
            locale: None,
        };
        drop(engine.issue(&req).unwrap());
    }
    let (heap1, rss1) = (LIVE.load(Ordering::SeqCst), rss_bytes());
    assert_eq!(store.len(), n);
    let per_heap = (heap1 - heap0) as f64 / n as f64;
    let per_rss = (rss1.saturating_sub(rss0)) as f64 / n as f64;
    println!("== passcode-core: memory with {n} live challenges (one per subject) ==");
    println!("heap asked for:   {per_heap:6.1} bytes per live challenge (target < 256)");
    println!("resident set:     {per_rss:6.1} bytes per live challenge (includes malloc overhead)");
}
