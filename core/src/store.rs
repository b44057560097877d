//! The store contract, and the in-memory store that is the embedded default.
//!
//! Everything the engine must change atomically for one subject lives in one record under
//! one key, so the only thing a store must offer is single-key compare-and-swap with expiry:
//! Redis (a Lua script), the proxy-wasm shared-data API (get/set with a CAS token),
//! memcached (gets/cas), etcd and DynamoDB (conditional writes) all can.
//!
//! Keys are 32-byte keyed hashes (see `keys.rs`): a store never sees an address, a number
//! or a code. Values are the engine's versioned binary records (`record.rs`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::Mutex;

/// A record's key: a keyed hash, uniformly distributed.
pub type StoreKey = [u8; 32];

/// What a compare-and-swap write expects to find.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expected {
    /// The key must be absent (or expired).
    Absent,
    /// The key must hold this version.
    Version(u64),
}

/// A store failure. The engine reports it as `StoreUnavailable` and fails closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreError(pub String);

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Single-key compare-and-swap with expiry. Implementations MUST be linearizable per key.
///
/// `now` is the engine's clock in Unix seconds, for stores that keep time themselves (the
/// memory store); stores with their own expiry (Redis) use `ttl_seconds` and ignore it.
pub trait Store: Send + Sync {
    /// The value and version under `key`, or `None` when absent or expired.
    fn get(&self, key: &StoreKey, now: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError>;

    /// Writes `value` if the key is as `expected`, returning the new version (never 0, never
    /// reused for this key), or `None` on a conflict. `ttl_seconds: None` means no expiry.
    fn put(
        &self,
        key: &StoreKey,
        value: &[u8],
        ttl_seconds: Option<u64>,
        expected: Expected,
        now: u64,
    ) -> Result<Option<u64>, StoreError>;

    /// Deletes the key if it holds `version`; `false` on a conflict or if it is gone.
    fn delete(&self, key: &StoreKey, version: u64, now: u64) -> Result<bool, StoreError>;

    /// One read-modify-write of `key`: `change` is called once with the live value (`None`
    /// when absent or expired) and returns the value to write and its time to live, or `None`
    /// to write nothing. Returns `false` when another writer came in between (nothing was
    /// written; the caller reads again). `change` must not call the store.
    ///
    /// The default is `get`, then a compare-and-swap `put` against the version read, which is
    /// all a remote store can do. A store that can hold a lock across the change (the memory
    /// store) does it in one step: one lookup instead of two and no copy of the value read.
    fn update(&self, key: &StoreKey, now: u64, change: &mut Change<'_>) -> Result<bool, StoreError> {
        let current = self.get(key, now)?;
        let Some((value, ttl)) = change(current.as_ref().map(|(v, _)| v.as_slice())) else {
            return Ok(true);
        };
        let expected = current.map_or(Expected::Absent, |(_, version)| Expected::Version(version));
        Ok(self.put(key, &value, ttl, expected, now)?.is_some())
    }
}

/// What `Store::update` applies: the live value in, the value to write and its time to live
/// out (or `None` to write nothing).
pub type Change<'a> = dyn FnMut(Option<&[u8]>) -> Option<(Vec<u8>, Option<u64>)> + 'a;

/// Keys are HMAC outputs under the secret index key (`keys.rs`): uniformly distributed, and
/// no one without the key can choose identifiers whose keys collide, so the map cannot be
/// flooded into one bucket (the attack SipHash, the standard map's default, defends
/// against). Their first 8 bytes are already as good a hash as SipHash would make of them;
/// hashing again would only cost time. The shard is picked by the last byte, independent
/// of these.
#[derive(Default)]
struct PrefixHasher(u64);

impl Hasher for PrefixHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        let mut b = [0u8; 8];
        let n = bytes.len().min(8);
        b[..n].copy_from_slice(&bytes[..n]);
        self.0 ^= u64::from_le_bytes(b);
    }
}

const SHARDS: usize = 64;
const HEADER: usize = 16; // version (8) and expiry (8, 0 = never) before the value

type Map = HashMap<StoreKey, Box<[u8]>, BuildHasherDefault<PrefixHasher>>;

/// One shard: its map, and its own version counter and write count, so that writes to
/// different shards share no cache line and no atomic (aligned to keep neighbours apart).
#[repr(align(128))]
#[derive(Default)]
struct Shard(Mutex<ShardState>);

#[derive(Default)]
struct ShardState {
    map: Map,
    /// The last version given out. A key always falls in the same shard, so a per-shard
    /// counter is enough for versions never to repeat for a key.
    last_version: u64,
    /// Writes since the last sweep of expired entries.
    puts: u64,
}

impl Shard {
    fn lock(&self) -> std::sync::MutexGuard<'_, ShardState> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ShardState {
    /// Counts a write, and drops the shard's expired entries once it has seen as many writes
    /// as it holds entries (at least 1024): a sweep then costs about one entry per write, and
    /// expired entries never outnumber the live ones by more than the writes since the last.
    fn count_write(&mut self, now: u64) {
        self.puts += 1;
        if self.puts >= (self.map.len() as u64).max(1024) {
            self.puts = 0;
            self.map.retain(|_, e| entry_live(e, now));
        }
    }

    /// Writes `value` under `key` with a new version, which it returns.
    fn write(&mut self, key: &StoreKey, value: &[u8], ttl_seconds: Option<u64>, now: u64) -> u64 {
        self.last_version += 1;
        let version = self.last_version;
        let expires = ttl_seconds.map_or(0, |t| now.saturating_add(t.max(1)));
        let mut e = Vec::with_capacity(HEADER + value.len());
        e.extend_from_slice(&version.to_le_bytes());
        e.extend_from_slice(&expires.to_le_bytes());
        e.extend_from_slice(value);
        self.map.insert(*key, e.into_boxed_slice());
        version
    }
}

/// The embedded store: 64 mutex-guarded shards, expired entries swept as it goes.
/// Each entry is one allocation (version, expiry and value together) to keep a live
/// challenge small.
pub struct MemoryStore {
    shards: Vec<Shard>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore { shards: (0..SHARDS).map(|_| Shard::default()).collect() }
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MemoryStore({} entries)", self.len())
    }
}

fn entry_version(e: &[u8]) -> u64 {
    u64::from_le_bytes(e[..8].try_into().expect("header"))
}

fn entry_live(e: &[u8], now: u64) -> bool {
    let exp = u64::from_le_bytes(e[8..16].try_into().expect("header"));
    exp == 0 || now < exp
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn shard(&self, key: &StoreKey) -> std::sync::MutexGuard<'_, ShardState> {
        // The last byte picks the shard; the first eight feed the map's hash.
        self.shards[key[31] as usize % SHARDS].lock()
    }

    /// Entries held, live or not yet swept.
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| s.lock().map.len()).sum()
    }

    /// Whether the store holds no entry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops every expired entry.
    pub fn sweep(&self, now: u64) {
        for s in &self.shards {
            s.lock().map.retain(|_, e| entry_live(e, now));
        }
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &StoreKey, now: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        let shard = self.shard(key);
        Ok(shard.map.get(key).filter(|e| entry_live(e, now)).map(|e| (e[HEADER..].to_vec(), entry_version(e))))
    }

    fn put(
        &self,
        key: &StoreKey,
        value: &[u8],
        ttl_seconds: Option<u64>,
        expected: Expected,
        now: u64,
    ) -> Result<Option<u64>, StoreError> {
        let mut shard = self.shard(key);
        shard.count_write(now);
        let current = shard.map.get(key).filter(|e| entry_live(e, now)).map(|e| entry_version(e));
        let matches = match expected {
            Expected::Absent => current.is_none(),
            Expected::Version(v) => current == Some(v),
        };
        if !matches {
            return Ok(None);
        }
        Ok(Some(shard.write(key, value, ttl_seconds, now)))
    }

    /// Under the shard's lock: no other writer can come in between, so it never conflicts.
    fn update(&self, key: &StoreKey, now: u64, change: &mut Change<'_>) -> Result<bool, StoreError> {
        let mut shard = self.shard(key);
        let current = shard.map.get(key).filter(|e| entry_live(e, now)).map(|e| &e[HEADER..]);
        if let Some((value, ttl)) = change(current) {
            shard.count_write(now);
            shard.write(key, &value, ttl, now);
        }
        Ok(true)
    }

    fn delete(&self, key: &StoreKey, version: u64, now: u64) -> Result<bool, StoreError> {
        let mut shard = self.shard(key);
        let current = shard.map.get(key).filter(|e| entry_live(e, now)).map(|e| entry_version(e));
        if current == Some(version) {
            shard.map.remove(key);
            Ok(true)
        } else {
            Ok(false)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_and_swap_contract() {
        let s = MemoryStore::new();
        let k = [3u8; 32];
        assert_eq!(s.get(&k, 0).unwrap(), None);
        let v1 = s.put(&k, b"a", None, Expected::Absent, 0).unwrap().unwrap();
        assert_eq!(s.put(&k, b"b", None, Expected::Absent, 0).unwrap(), None, "present: Absent conflicts");
        assert_eq!(s.put(&k, b"b", None, Expected::Version(v1 + 100), 0).unwrap(), None);
        let v2 = s.put(&k, b"b", None, Expected::Version(v1), 0).unwrap().unwrap();
        assert_ne!(v1, v2);
        assert_eq!(s.get(&k, 0).unwrap(), Some((b"b".to_vec(), v2)));
        assert!(!s.delete(&k, v1, 0).unwrap());
        assert!(s.delete(&k, v2, 0).unwrap());
        assert_eq!(s.get(&k, 0).unwrap(), None);
        // Versions are never reused, even after a delete: no ABA.
        let v3 = s.put(&k, b"c", None, Expected::Absent, 0).unwrap().unwrap();
        assert!(v3 > v2);
    }

    #[test]
    fn update_sees_the_live_value_and_writes_a_new_version() {
        let s = MemoryStore::new();
        let k = [6u8; 32];
        let mut seen = Vec::new();
        let mut append = |current: Option<&[u8]>| {
            seen.push(current.map(<[u8]>::to_vec));
            Some(([current.unwrap_or(b""), b"x"].concat(), Some(10)))
        };
        assert!(s.update(&k, 100, &mut append).unwrap());
        assert!(s.update(&k, 105, &mut append).unwrap());
        assert!(s.update(&k, 200, &mut append).unwrap(), "after expiry the value is absent");
        assert_eq!(seen, vec![None, Some(b"x".to_vec()), None]);
        let (value, v1) = s.get(&k, 200).unwrap().unwrap();
        assert_eq!(value, b"x");
        assert!(s.update(&k, 200, &mut |_| None).unwrap());
        assert_eq!(s.get(&k, 200).unwrap().unwrap().1, v1, "nothing to write writes nothing");
        // The default (get, then compare-and-swap) behaves the same.
        struct Plain(MemoryStore);
        impl Store for Plain {
            fn get(&self, key: &StoreKey, now: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
                self.0.get(key, now)
            }
            fn put(
                &self,
                key: &StoreKey,
                value: &[u8],
                ttl: Option<u64>,
                e: Expected,
                now: u64,
            ) -> Result<Option<u64>, StoreError> {
                self.0.put(key, value, ttl, e, now)
            }
            fn delete(&self, key: &StoreKey, version: u64, now: u64) -> Result<bool, StoreError> {
                self.0.delete(key, version, now)
            }
        }
        let p = Plain(MemoryStore::new());
        assert!(p.update(&k, 100, &mut |c| Some(([c.unwrap_or(b""), b"y"].concat(), None))).unwrap());
        assert!(p.update(&k, 100, &mut |c| Some(([c.unwrap_or(b""), b"y"].concat(), None))).unwrap());
        assert_eq!(p.get(&k, 100).unwrap().unwrap().0, b"yy");
    }

    #[test]
    fn expiry_behaves_as_absence() {
        let s = MemoryStore::new();
        let k = [4u8; 32];
        let v = s.put(&k, b"a", Some(10), Expected::Absent, 100).unwrap().unwrap();
        assert!(s.get(&k, 109).unwrap().is_some());
        assert_eq!(s.get(&k, 110).unwrap(), None);
        assert_eq!(s.put(&k, b"b", None, Expected::Version(v), 110).unwrap(), None);
        assert!(s.put(&k, b"b", None, Expected::Absent, 110).unwrap().is_some());
        s.put(&[5u8; 32], b"x", Some(1), Expected::Absent, 0).unwrap();
        s.sweep(1000);
        assert_eq!(s.len(), 1, "the expired entry was swept, the one without expiry kept");
    }
}
