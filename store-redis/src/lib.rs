//! Passcode on Redis: the core store contract for deployments of more than one node.
//!
//! When an identity server runs on several nodes, every node must see the same challenges,
//! counts and locks, or an attacker gets a new guess budget per node. This crate keeps them
//! in Redis (or Valkey): one server, a primary found through Redis Sentinel, or a Redis
//! Cluster, with compare-and-swap and expiry done atomically on the server, one key and one
//! round trip per operation (see [`RedisStore`]).
//!
//! A host opens its engine from the config with [`open_engine`] (or [`builder`] to bring its
//! own clock or event sink), and a `redis://`, `redis+sentinel://` or `redis+cluster://`
//! store (or `[store] sentinels`/`cluster`) in the config then works with no code change;
//! `store = "memory"` still gives the embedded store.
//!
//! ```no_run
//! let config = passcode_core::Config::parse(
//!     r#"
//!     [store]
//!     url = "redis://127.0.0.1:6379/0"
//!     password_env = "PASSCODE_REDIS_PASSWORD"
//!     [[keys.ring]]
//!     id = 1
//!     file = "/etc/passcode/key1"
//!     "#,
//! )?;
//! let engine = passcode_redis::open_engine(config)?;
//! # Ok::<(), passcode_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod cluster;
mod connection;
mod options;
mod sentinel;
mod store;

use std::sync::Arc;

use passcode_core::{Config, Engine, EngineBuilder, Error, Store};

pub use cluster::key_slot;
pub use options::{
    is_redis_url, Deployment, NodeAddress, RedisOptions, DEFAULT_COMMAND_TIMEOUT_MS, DEFAULT_CONNECT_TIMEOUT_MS,
    DEFAULT_POOL_SIZE, DEFAULT_PREFIX, DEFAULT_REDIS_PORT, DEFAULT_SENTINEL_PORT, DEFAULT_WAIT_TIMEOUT_MS,
};
pub use store::RedisStore;

/// The store a config asks for: `None` for `memory` (the engine builds its own), a
/// [`RedisStore`] for a `redis://`, `rediss://` or `redis+unix://` URL, for Sentinel
/// (`redis+sentinel://` or `sentinels`) and for Cluster (`redis+cluster://` or `cluster`).
///
/// The config is checked first, so a config error is reported before any connection is
/// tried; Redis being unreachable, refusing the credentials or being a replica (or no
/// sentinel naming a primary, or no cluster node giving a slot map) is `StoreUnavailable`.
pub fn store_for(config: &Config) -> Result<Option<Arc<dyn Store>>, Error> {
    config.validate()?;
    if config.store.is_memory() {
        return Ok(None);
    }
    let options = RedisOptions::from_config(&config.store)?;
    let store = RedisStore::open(&options).map_err(|e| Error::StoreUnavailable { message: e.0 })?;
    Ok(Some(Arc::new(store)))
}

/// An engine builder with the config's store in place, for hosts that also bring a clock,
/// a random source or an event sink.
pub fn builder(config: Config) -> Result<EngineBuilder, Error> {
    let store = store_for(&config)?;
    let builder = Engine::builder(config);
    Ok(match store {
        Some(s) => builder.store(s),
        None => builder,
    })
}

/// The engine a config describes, on the store it names (memory or Redis), with the system
/// clock and the OS random source.
pub fn open_engine(config: Config) -> Result<Engine, Error> {
    builder(config)?.build()
}
