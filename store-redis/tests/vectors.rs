//! The scenario vectors of tests/vectors through the Rust crate on Redis: the same outcomes
//! as on the memory store.
//!
//! The engine's clock is a `ManualClock` that jumps forward, while Redis expires keys by its
//! own clock: a record whose TTL the engine set has not expired inside Redis when the manual
//! clock says it should. No outcome depends on that: the engine prunes what a record holds
//! by its own clock on every read (challenges past expiry plus grace, sends outside the
//! window, locks that ended), and a send bucket's state is a time the engine compares with
//! `now`. Store-side expiry only reclaims memory; `contract.rs` checks that it behaves as
//! absence with a real TTL.

mod support;

use passcode_core::config::StoreConfig;
use passcode_core::ERROR_TABLE;
use passcode_vectors::engine_surface::EngineSurface;
use support::{unique_prefix, RedisServer};

#[test]
fn every_vector_passes_on_redis() {
    let server = RedisServer::start();
    let url = server.url();
    let before = server.store_commands();
    passcode_vectors::run_all_or_panic(
        &mut || {
            let url = url.clone();
            Box::new(EngineSurface::new(move |mut config| {
                // A fresh prefix per vector: each starts from an empty store, as on memory.
                config.store =
                    StoreConfig { url: url.clone(), prefix: Some(unique_prefix("vector")), ..StoreConfig::default() };
                passcode_redis::builder(config)
            }))
        },
        ERROR_TABLE,
    );
    // The records really went through Redis, not an embedded store.
    let used = server.store_commands() - before;
    assert!(used > 200, "only {used} store commands reached Redis");
    let keys: i64 = server.query(&["DBSIZE"]);
    assert!(keys > 23, "the records of every vector stay in Redis: {keys}");
}
