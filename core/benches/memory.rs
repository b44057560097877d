//! Memory per live challenge on the in-memory store, with 1,000,000 subjects each holding one
//! live challenge. A counting allocator measures the bytes the program asked for; the resident
//! set size (which adds the allocator's own overhead) is reported beside it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::Arc;

use passcode_core::{Channel, Config, Engine, IssueRequest, KeyRing, MemoryStore, Purpose};

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; this only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
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

fn main() {
    let n: usize = std::env::var("PASSCODE_BENCH_SUBJECTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let key: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(151).wrapping_add(9)).collect();
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
