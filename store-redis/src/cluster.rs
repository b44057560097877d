//! Redis Cluster: which node holds a key, learnt from the cluster and corrected as it changes.
//!
//! A key's slot is CRC16 (XMODEM) of the key, or of its hash tag (the part between the first
//! `{` and the next `}`, if not empty), modulo 16384, as the Redis Cluster specification
//! defines. The slot map comes from `CLUSTER SLOTS` and is kept per slot; each primary gets
//! its own connection pool. A `MOVED` answer corrects one slot at once and marks the map
//! stale, and so does an error that suggests a failover (a node unreachable, READONLY,
//! CLUSTERDOWN); the next operation then reloads the map, at most once per
//! [`REFRESH_INTERVAL`], from any node that answers, the configured seeds last.
//!
//! (The `redis` crate's `cluster` feature is not used: its blocking client sends `WAIT` to
//! every primary instead of the node that took the write, retries a write whose outcome is
//! unknown after a timeout, and sleeps between retries beyond the store's timeouts.)

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use passcode_core::StoreError;

use crate::connection::{describe, node_client, open_connection, Credentials, Pool, Target, Timeouts};
use crate::options::NodeAddress;

/// Slots in a Redis Cluster.
pub(crate) const SLOTS: usize = 16384;

/// The shortest time between two reloads of the slot map.
pub(crate) const REFRESH_INTERVAL: Duration = Duration::from_millis(100);

/// CRC16/XMODEM (polynomial 0x1021, initial value 0), the checksum Redis Cluster hashes keys with.
pub(crate) fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 { (crc << 1) ^ 0x1021 } else { crc << 1 };
        }
    }
    crc
}

/// The slot of a key, honouring a hash tag as Redis does.
pub fn key_slot(key: &[u8]) -> u16 {
    let hashed = key
        .iter()
        .position(|b| *b == b'{')
        .and_then(|open| {
            let rest = &key[open + 1..];
            rest.iter().position(|b| *b == b'}').filter(|len| *len > 0).map(|len| &rest[..len])
        })
        .unwrap_or(key);
    crc16(hashed) % SLOTS as u16
}

/// Which primary serves each slot.
#[derive(Clone)]
struct SlotMap {
    /// The index in `nodes` of each slot's primary; `u16::MAX` for a slot nobody serves.
    owners: Vec<u16>,
    nodes: Vec<NodeAddress>,
}

const UNCOVERED: u16 = u16::MAX;

impl SlotMap {
    fn owner(&self, slot: u16) -> Option<&NodeAddress> {
        match self.owners[usize::from(slot)] {
            UNCOVERED => None,
            i => self.nodes.get(usize::from(i)),
        }
    }

    /// Reads a `CLUSTER SLOTS` answer: `[start, end, [host, port, ...], replicas...]` per range.
    /// An empty host means the node that answered.
    fn parse(answer: &redis::Value, asked: &NodeAddress) -> Option<SlotMap> {
        let redis::Value::Array(ranges) = answer else { return None };
        let mut map = SlotMap { owners: vec![UNCOVERED; SLOTS], nodes: Vec::new() };
        for range in ranges {
            let redis::Value::Array(fields) = range else { return None };
            let (Some(redis::Value::Int(start)), Some(redis::Value::Int(end)), Some(redis::Value::Array(primary))) =
                (fields.first(), fields.get(1), fields.get(2))
            else {
                return None;
            };
            let host = match primary.first() {
                Some(redis::Value::BulkString(h)) => String::from_utf8(h.clone()).ok()?,
                _ => return None,
            };
            let port = match primary.get(1) {
                Some(redis::Value::Int(p)) => u16::try_from(*p).ok()?,
                _ => return None,
            };
            let node =
                NodeAddress { host: if host.is_empty() || host == "?" { asked.host.clone() } else { host }, port };
            let index = match map.nodes.iter().position(|n| *n == node) {
                Some(i) => i,
                None => {
                    map.nodes.push(node);
                    map.nodes.len() - 1
                }
            };
            let (start, end) = (usize::try_from(*start).ok()?, usize::try_from(*end).ok()?);
            if start > end || end >= SLOTS {
                return None;
            }
            map.owners[start..=end].fill(u16::try_from(index).ok()?);
        }
        Some(map)
    }
}

/// The cluster as this store sees it: the slot map and a pool per primary.
pub(crate) struct Cluster {
    seeds: Vec<NodeAddress>,
    map: RwLock<Arc<SlotMap>>,
    pools: RwLock<HashMap<NodeAddress, Arc<Pool>>>,
    /// Set when the map may be wrong; the next operation reloads it.
    stale: AtomicBool,
    /// When the map was last reloaded (or tried); one reload at a time.
    last_refresh: Mutex<Instant>,
    tls: bool,
    credentials: Credentials,
    pool_size: u32,
    timeouts: Timeouts,
}

impl Cluster {
    /// Learns the slot map from the seeds; fails if none answers with a map.
    pub fn open(
        seeds: Vec<NodeAddress>,
        tls: bool,
        credentials: Credentials,
        pool_size: u32,
        timeouts: Timeouts,
    ) -> Result<Cluster, StoreError> {
        let map = Self::load_map(&seeds, tls, &credentials, timeouts)?;
        Ok(Cluster {
            seeds,
            map: RwLock::new(Arc::new(map)),
            pools: RwLock::new(HashMap::new()),
            stale: AtomicBool::new(false),
            last_refresh: Mutex::new(Instant::now()),
            tls,
            credentials,
            pool_size,
            timeouts,
        })
    }

    /// The primary of a slot, as far as this store knows.
    pub fn owner(&self, slot: u16) -> Option<NodeAddress> {
        self.map.read().unwrap_or_else(|p| p.into_inner()).owner(slot).cloned()
    }

    /// Every primary in the slot map.
    pub fn primaries(&self) -> Vec<NodeAddress> {
        self.map.read().unwrap_or_else(|p| p.into_inner()).nodes.clone()
    }

    /// The pool of a node, made on first use.
    pub fn pool(&self, node: &NodeAddress) -> Result<Arc<Pool>, StoreError> {
        if let Some(pool) = self.pools.read().unwrap_or_else(|p| p.into_inner()).get(node) {
            return Ok(pool.clone());
        }
        let client = node_client(node, self.tls, &self.credentials)
            .map_err(|_| StoreError("redis cluster: a node's address is not usable".into()))?;
        let mut pools = self.pools.write().unwrap_or_else(|p| p.into_inner());
        let pool = pools
            .entry(node.clone())
            .or_insert_with(|| Arc::new(Pool::new(Target::Fixed(Box::new(client)), self.pool_size, self.timeouts)));
        Ok(pool.clone())
    }

    /// A `MOVED` answer: the slot is served by `node` now, and other slots may have moved too.
    pub fn moved(&self, slot: u16, node: &NodeAddress) {
        let mut map = self.map.write().unwrap_or_else(|p| p.into_inner());
        let current = Arc::make_mut(&mut map);
        let index = match current.nodes.iter().position(|n| n == node) {
            Some(i) => i,
            None => {
                current.nodes.push(node.clone());
                current.nodes.len() - 1
            }
        };
        current.owners[usize::from(slot)] = u16::try_from(index).unwrap_or(UNCOVERED);
        self.stale.store(true, Ordering::SeqCst);
    }

    /// Something suggests the topology changed: reload the map before the next operation.
    pub fn suspect(&self) {
        self.stale.store(true, Ordering::SeqCst);
    }

    /// Reloads the map if it is stale, at most once per [`REFRESH_INTERVAL`] and by one
    /// caller at a time (the others go on with the map they have). A failed reload keeps
    /// the old map and leaves it stale.
    pub fn refresh_if_stale(&self) {
        if !self.stale.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut last) = self.last_refresh.try_lock() else { return };
        if last.elapsed() < REFRESH_INTERVAL {
            return;
        }
        *last = Instant::now();
        self.stale.store(false, Ordering::SeqCst);
        let known = self.primaries();
        let candidates: Vec<NodeAddress> = known.iter().chain(self.seeds.iter()).cloned().collect();
        match Self::load_map(&candidates, self.tls, &self.credentials, self.timeouts) {
            Ok(map) => {
                let live: Vec<NodeAddress> = map.nodes.clone();
                *self.map.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(map);
                // Pools of nodes that no longer serve a slot would keep reconnecting to them.
                self.pools.write().unwrap_or_else(|p| p.into_inner()).retain(|node, _| live.contains(node));
            }
            Err(_) => self.stale.store(true, Ordering::SeqCst),
        }
    }

    /// `CLUSTER SLOTS` from the first of `nodes` that answers with a map.
    fn load_map(
        nodes: &[NodeAddress],
        tls: bool,
        credentials: &Credentials,
        timeouts: Timeouts,
    ) -> Result<SlotMap, StoreError> {
        let mut last = "redis cluster: no node to ask for the slot map".to_string();
        for node in nodes {
            let answer = node_client(node, tls, credentials)
                .and_then(|client| open_connection(&client, timeouts))
                .and_then(|mut conn| redis::cmd("CLUSTER").arg("SLOTS").query::<redis::Value>(&mut conn));
            match answer {
                Ok(value) => match SlotMap::parse(&value, node) {
                    Some(map) if !map.nodes.is_empty() => return Ok(map),
                    _ => last = "redis cluster: a node answered CLUSTER SLOTS with no usable slot map".into(),
                },
                Err(e) => last = format!("redis cluster: {}", describe(&e, "slot map", timeouts.io)),
            }
        }
        Err(StoreError(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_as_the_cluster_specification_computes_them() {
        // The specification's reference value, and answers of `CLUSTER KEYSLOT` on Redis 7.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), key_slot(b"foo{}{bar}"), "an empty tag hashes the whole key");
        assert_ne!(key_slot(b"foo{}{bar}"), key_slot(b"bar"));
        assert_eq!(key_slot(b"foo{{bar}}zap"), key_slot(b"{bar"));
        // A record key has no braces, so a companion key `{<record key>}:x` shares its slot.
        let record = b"passcode:0123456789abcdef";
        assert_eq!(key_slot(&[b"{".as_slice(), record, b"}:aux"].concat()), key_slot(record));
    }

    #[test]
    fn a_slot_map_from_cluster_slots() {
        use redis::Value::{Array, BulkString, Int};
        let node = |host: &str, port: i64| {
            Array(vec![BulkString(host.as_bytes().to_vec()), Int(port), BulkString(b"id".to_vec())])
        };
        let answer = Array(vec![
            Array(vec![Int(0), Int(5460), node("127.0.0.1", 7000), node("127.0.0.1", 7003)]),
            Array(vec![Int(5461), Int(10922), node("", 7001)]),
        ]);
        let asked = NodeAddress { host: "10.1.1.1".into(), port: 7001 };
        let map = SlotMap::parse(&answer, &asked).unwrap();
        assert_eq!(map.owner(0).unwrap().port, 7000);
        assert_eq!(map.owner(5460).unwrap().port, 7000);
        assert_eq!(map.owner(5461).unwrap(), &asked, "an empty host is the node asked");
        assert_eq!(map.owner(10923), None, "not covered");
        assert!(SlotMap::parse(&Array(vec![Array(vec![Int(5), Int(2), node("h", 1)])]), &asked).is_none());
    }
}
