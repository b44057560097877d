//! `RedisStore`: the core store contract on Redis (or Valkey): one server, a primary found
//! through Sentinel, or a Redis Cluster.
//!
//! Layout: each record is a hash `{prefix}{hex key}` with fields `v` (its version, decimal)
//! and `d` (the engine's bytes), and a TTL when the engine gives one. Every script touches
//! that one key and nothing else: no counter is shared between records, so no key is written
//! by more than one record's operations, and Redis Cluster can spread records over its slots.
//! A version is the server's clock in microseconds (`TIME`), or the record's previous version
//! plus one if that is larger, so versions of a key only grow while it exists, and a key
//! written again after it expired starts above every version it had (ARCHITECTURE.md gives
//! the argument). The record key holds no `{`, so a companion key `{<record key>}:...` would
//! share its slot, should a script ever need two keys of one record.
//!
//! Round trips: `get` is one `HMGET`; `put` and `delete` are one `EVALSHA` of a script that
//! compares the version and writes atomically on the server. Scripts are loaded when the
//! store opens (`SCRIPT LOAD`, on every primary of a cluster) and again only if a server
//! forgot them (`NOSCRIPT`, after a restart or a failover to a node that never had them).
//! With `wait_replicas`, a `WAIT` is pipelined behind each write on the same connection:
//! still one round trip, but it returns only once that node's replicas acknowledged.
//!
//! Failovers: READONLY and MASTERDOWN (a node that is no longer the primary) retire the
//! connection and every idle one opened before it, and a write refused that way (so not
//! applied) is tried once more on a fresh connection, which goes to the new primary. On a
//! cluster, MOVED and ASK are followed and correct the slot map. A write whose outcome is
//! unknown (a timeout, a dropped connection) is never sent again: the operation fails closed.
//!
//! Failures are `StoreError`s whose text says what went wrong (unreachable, timeout,
//! read-only replica, credentials) and never carries a key, a value or the URL.

use std::sync::Arc;
use std::time::Duration;

use passcode_core::{Expected, Store, StoreError, StoreKey};
use redis::{ErrorKind, RedisError, ServerErrorKind, Value};

use crate::cluster::{key_slot, Cluster};
use crate::connection::{
    client_with, connection_survives, describe, role_is_primary, Credentials, Pool, Pooled, Target, Timeouts,
};
use crate::options::{Deployment, NodeAddress, RedisOptions};
use crate::sentinel::SentinelResolver;

/// Compare-and-swap with expiry, on one key. KEYS[1] the record; ARGV[1] the expected version
/// ('' for absent), ARGV[2] the value, ARGV[3] the TTL in ms ('0': none). Returns the new
/// version as a decimal string, or nil on a conflict.
const PUT_SCRIPT: &str = r#"
local cur = redis.call('HGET', KEYS[1], 'v')
if ARGV[1] == '' then
  if cur then return false end
elseif cur ~= ARGV[1] then
  return false
end
-- The server's clock in microseconds, or one above the record's version if the clock is
-- behind it (two writes in one microsecond, or a clock that went back): versions of a key
-- only grow. Lua numbers are doubles, exact up to 2^53 (the clock reaches it in 2255).
local t = redis.call('TIME')
local v = tonumber(t[1]) * 1000000 + tonumber(t[2])
if cur then
  local previous = tonumber(cur)
  if previous and previous >= v then v = previous + 1 end
end
-- '%.0f' writes the integer in full (tostring would use 14 digits).
local vs = string.format('%.0f', v)
redis.call('HSET', KEYS[1], 'v', vs, 'd', ARGV[2])
if ARGV[3] == '0' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
end
return vs
"#;

/// Delete if the version matches. KEYS[1] the record, ARGV[1] the version. Returns 1 or 0.
const DELETE_SCRIPT: &str = r#"
if redis.call('HGET', KEYS[1], 'v') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
"#;

/// The most hops one operation makes (redirects, a reload of the scripts, one retry after a
/// demoted primary), so that a cluster in flux cannot keep an operation for ever.
const MAX_HOPS: usize = 6;

/// How long to wait before trying again after TRYAGAIN (a slot being migrated).
const TRYAGAIN_PAUSE: Duration = Duration::from_millis(20);

/// Where the store's connections go.
enum Nodes {
    /// One pool: to a fixed server, or to whichever node the sentinels name as primary.
    One(Pool),
    /// A pool per primary of a Redis Cluster, chosen by the key's slot.
    Cluster(Cluster),
}

/// The store contract on Redis. Cheap to share (`Arc<RedisStore>`); safe between threads.
pub struct RedisStore {
    nodes: Nodes,
    prefix: Vec<u8>,
    put_sha: String,
    delete_sha: String,
    /// The longest wait for one exchange (WAIT's included).
    command_timeout: Duration,
    wait_replicas: u32,
    wait_timeout: Duration,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut d = f.debug_struct("RedisStore");
        d.field("prefix", &String::from_utf8_lossy(&self.prefix));
        match &self.nodes {
            Nodes::One(pool) => d.field("pool", &pool.state()),
            Nodes::Cluster(cluster) => d.field("cluster_primaries", &cluster.primaries().len()),
        };
        d.finish_non_exhaustive()
    }
}

enum Script {
    Put,
    Delete,
}

/// Where the next hop of an operation goes.
enum Hop {
    /// The node the key's slot maps to (or the one pool).
    ByKey,
    /// The node a MOVED named.
    Moved(NodeAddress),
    /// The node an ASK named, with ASKING before the command.
    Ask(NodeAddress),
}

impl RedisStore {
    /// Connects, checks that the deployment has a writable primary, and loads the scripts.
    ///
    /// Fails with `StoreUnavailable` when Redis cannot be reached within the connect timeout,
    /// refuses the credentials, or is a replica (or, with Sentinel, no sentinel names a
    /// primary; with Cluster, no node gives a slot map), so a wrong deployment shows at
    /// start-up.
    pub fn open(options: &RedisOptions) -> Result<RedisStore, StoreError> {
        let tls = match &options.deployment {
            Deployment::Server { url } => url.starts_with("rediss://"),
            Deployment::Sentinel { tls, .. } | Deployment::Cluster { tls, .. } => *tls,
        };
        if tls {
            // redis's rustls needs a process-wide crypto provider; if the host installed
            // one already, that one stays.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        // With WAIT behind each write, an answer may take the WAIT's time on top.
        let io =
            options.command_timeout + if options.wait_replicas > 0 { options.wait_timeout } else { Duration::ZERO };
        let timeouts = Timeouts { connect: options.connect_timeout, io };
        let credentials = Credentials { username: options.username.clone(), password: options.password.clone() };
        let nodes = match &options.deployment {
            Deployment::Server { url } => {
                Nodes::One(Pool::new(server_target(url, &credentials)?, options.pool_size, timeouts))
            }
            Deployment::Sentinel { sentinels, master_name, sentinel_username, sentinel_password, tls } => {
                let resolver = SentinelResolver::new(
                    sentinels.clone(),
                    master_name.clone(),
                    Credentials { username: sentinel_username.clone(), password: sentinel_password.clone() },
                    credentials,
                    *tls,
                );
                Nodes::One(Pool::new(Target::Primary(Arc::new(resolver)), options.pool_size, timeouts))
            }
            Deployment::Cluster { seeds, tls } => {
                Nodes::Cluster(Cluster::open(seeds.clone(), *tls, credentials, options.pool_size, timeouts)?)
            }
        };
        let store = RedisStore {
            nodes,
            prefix: options.prefix.as_bytes().to_vec(),
            put_sha: redis::Script::new(PUT_SCRIPT).get_hash().to_string(),
            delete_sha: redis::Script::new(DELETE_SCRIPT).get_hash().to_string(),
            command_timeout: io,
            wait_replicas: options.wait_replicas,
            wait_timeout: options.wait_timeout,
        };
        match &store.nodes {
            Nodes::One(pool) => {
                let mut conn = pool.get("connect")?;
                if matches!(options.deployment, Deployment::Server { .. }) {
                    store.refuse_a_replica(pool, &mut conn)?;
                }
                store.load_scripts(pool, &mut conn)?;
            }
            Nodes::Cluster(cluster) => {
                for node in cluster.primaries() {
                    let pool = cluster.pool(&node)?;
                    let mut conn = pool.get("connect")?;
                    store.load_scripts(&pool, &mut conn)?;
                }
            }
        }
        Ok(store)
    }

    /// ROLE tells a replica at start-up. An ACL user may lack it (it is an @admin command):
    /// then the first write says READONLY instead. (With Sentinel, every new connection is
    /// checked this way, and ROLE is required.)
    fn refuse_a_replica(&self, pool: &Pool, conn: &mut Pooled) -> Result<(), StoreError> {
        match redis::cmd("ROLE").query::<Value>(&mut conn.inner) {
            Ok(role) if role_is_primary(&role) == Some(false) => {
                Err(StoreError("redis: the server is a replica (read-only); point the store at the primary".into()))
            }
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoPerm) => Ok(()),
            Err(e) => {
                if !connection_survives(&e) {
                    pool.retire(conn);
                }
                Err(StoreError(describe(&e, "connect", self.command_timeout)))
            }
        }
    }

    /// The Redis key of a record: the prefix and the 32-byte key in hex.
    pub fn redis_key(&self, key: &StoreKey) -> Vec<u8> {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut k = Vec::with_capacity(self.prefix.len() + 64);
        k.extend_from_slice(&self.prefix);
        for b in key {
            k.push(HEX[(b >> 4) as usize]);
            k.push(HEX[(b & 15) as usize]);
        }
        k
    }

    /// The cluster slot of a record (Redis Cluster's hashing of [`RedisStore::redis_key`]).
    pub fn slot(&self, key: &StoreKey) -> u16 {
        key_slot(&self.redis_key(key))
    }

    fn load_scripts(&self, pool: &Pool, conn: &mut Pooled) -> Result<(), StoreError> {
        for (source, sha) in [(PUT_SCRIPT, &self.put_sha), (DELETE_SCRIPT, &self.delete_sha)] {
            let loaded: String = redis::cmd("SCRIPT").arg("LOAD").arg(source).query(&mut conn.inner).map_err(|e| {
                if !connection_survives(&e) {
                    pool.retire(conn);
                }
                StoreError(describe(&e, "script load", self.command_timeout))
            })?;
            if &loaded != sha {
                return Err(StoreError("redis: SCRIPT LOAD returned an unexpected hash".into()));
            }
        }
        Ok(())
    }

    /// The pool for the next hop, and the cluster node it leads to.
    fn pool_for(&self, key: &[u8], hop: &Hop, op: &str) -> Result<(PoolRef<'_>, Option<NodeAddress>), StoreError> {
        match (&self.nodes, hop) {
            (Nodes::One(pool), _) => Ok((PoolRef::Borrowed(pool), None)),
            (Nodes::Cluster(cluster), Hop::ByKey) => {
                let node = cluster.owner(key_slot(key)).ok_or_else(|| {
                    cluster.suspect();
                    StoreError(format!("redis cluster {op}: no primary serves the key's slot (slots not covered)"))
                })?;
                Ok((PoolRef::Shared(cluster.pool(&node)?), Some(node)))
            }
            (Nodes::Cluster(cluster), Hop::Moved(node) | Hop::Ask(node)) => {
                Ok((PoolRef::Shared(cluster.pool(node)?), Some(node.clone())))
            }
        }
    }

    /// Sends `commands` (a pipeline that keeps errors as answers) to the node that holds
    /// `key`, in one round trip, and returns their answers. Follows MOVED and ASK, reloads the scripts on NOSCRIPT, and after READONLY or
    /// MASTERDOWN (nothing was applied) tries once more on a fresh connection. A read is also
    /// tried once more after its connection broke; a write is not, since it may have been
    /// applied.
    fn exchange(
        &self,
        key: &[u8],
        op: &str,
        commands: &redis::Pipeline,
        write: bool,
    ) -> Result<Vec<Value>, StoreError> {
        if let Nodes::Cluster(cluster) = &self.nodes {
            cluster.refresh_if_stale();
        }
        let mut hop = Hop::ByKey;
        let mut scripts_reloaded = false;
        let mut retried = false;
        for _ in 0..MAX_HOPS {
            let (pool, node) = self.pool_for(key, &hop, op)?;
            let mut conn = match pool.get().get(op) {
                Ok(conn) => conn,
                Err(e) => {
                    // On a cluster the node may be gone for good (its replica takes over):
                    // the next operation reloads the slot map.
                    self.suspect_topology();
                    return Err(e);
                }
            };
            let asking = matches!(hop, Hop::Ask(_));
            // ASKING goes in the same round trip, before the commands (rare: a slot moving).
            let with_asking = asking.then(|| {
                let mut pipe = redis::pipe();
                pipe.ignore_errors().cmd("ASKING");
                for c in commands.cmd_iter() {
                    pipe.add_command(c.clone());
                }
                pipe
            });
            let mut answers = match with_asking.as_ref().unwrap_or(commands).query::<Vec<Value>>(&mut conn.inner) {
                Ok(a) if a.len() == commands.len() + usize::from(asking) => a,
                Ok(_) => {
                    pool.get().retire(&mut conn);
                    return Err(StoreError(format!("redis {op}: unexpected answer")));
                }
                Err(e) => {
                    if connection_survives(&e) {
                        return Err(StoreError(describe(&e, op, self.command_timeout)));
                    }
                    pool.get().retire(&mut conn);
                    self.suspect_topology();
                    if !write && !retried {
                        retried = true;
                        hop = Hop::ByKey;
                        continue;
                    }
                    return Err(StoreError(describe(&e, op, self.command_timeout)));
                }
            };
            if asking {
                answers.remove(0);
            }
            let Some(error) = first_error(&answers) else { return Ok(answers) };
            match error.kind() {
                ErrorKind::Server(ServerErrorKind::Moved) | ErrorKind::Server(ServerErrorKind::Ask) => {
                    let Nodes::Cluster(cluster) = &self.nodes else {
                        return Err(StoreError(format!(
                            "redis {op}: the server is a Redis Cluster node; name the cluster with `cluster` or redis+cluster://"
                        )));
                    };
                    let (node, slot) = redirect_target(&error, node.as_ref())
                        .ok_or_else(|| StoreError(format!("redis cluster {op}: unexpected redirect")))?;
                    hop = if error.kind() == ErrorKind::Server(ServerErrorKind::Moved) {
                        cluster.moved(slot, &node);
                        Hop::Moved(node)
                    } else {
                        Hop::Ask(node)
                    };
                }
                ErrorKind::Server(ServerErrorKind::NoScript) if !scripts_reloaded => {
                    scripts_reloaded = true;
                    self.load_scripts(pool.get(), &mut conn)?;
                }
                ErrorKind::Server(ServerErrorKind::ReadOnly | ServerErrorKind::MasterDown) => {
                    // A failover demoted this node while the connection stayed open: drop it
                    // and every idle connection opened before it, so the pool reconnects (to
                    // the new primary, with Sentinel, or where the address now leads).
                    pool.get().retire(&mut conn);
                    self.suspect_topology();
                    if retried {
                        return Err(StoreError(describe(&error, op, self.command_timeout)));
                    }
                    retried = true;
                    hop = Hop::ByKey;
                }
                ErrorKind::Server(ServerErrorKind::TryAgain) => std::thread::sleep(TRYAGAIN_PAUSE),
                ErrorKind::Server(ServerErrorKind::ClusterDown) => {
                    self.suspect_topology();
                    return Err(StoreError(describe(&error, op, self.command_timeout)));
                }
                _ => return Err(StoreError(describe(&error, op, self.command_timeout))),
            }
        }
        Err(StoreError(format!("redis {op}: too many redirects (the cluster is reconfiguring)")))
    }

    fn suspect_topology(&self) {
        if let Nodes::Cluster(cluster) = &self.nodes {
            cluster.suspect();
        }
    }

    /// One EVALSHA of a script on the record's node, with a pipelined WAIT when configured.
    fn eval(&self, script: Script, op: &str, key: &[u8], args: &[&[u8]]) -> Result<Value, StoreError> {
        let sha = match script {
            Script::Put => &self.put_sha,
            Script::Delete => &self.delete_sha,
        };
        let mut commands = redis::pipe();
        commands.ignore_errors();
        let evalsha = commands.cmd("EVALSHA").arg(sha.as_str()).arg(1).arg(key);
        for a in args {
            evalsha.arg(*a);
        }
        if self.wait_replicas > 0 {
            commands.cmd("WAIT").arg(self.wait_replicas).arg(self.wait_timeout.as_millis() as u64);
        }
        let mut answers = self.exchange(key, op, &commands, true)?.into_iter();
        let value = answers.next().ok_or_else(|| unexpected(op))?;
        if let Some(acked) = answers.next() {
            let Value::Int(n) = acked else { return Err(unexpected(op)) };
            if n < i64::from(self.wait_replicas) {
                // The primary has the write, but a failover now could lose it: fail closed
                // rather than report an outcome that may vanish.
                return Err(StoreError(format!(
                    "redis {op}: only {n} of {} replicas acknowledged within {} ms",
                    self.wait_replicas,
                    self.wait_timeout.as_millis()
                )));
            }
        }
        Ok(value)
    }
}

/// A pool owned by the store, or shared with the cluster's map.
enum PoolRef<'a> {
    Borrowed(&'a Pool),
    Shared(Arc<Pool>),
}

impl PoolRef<'_> {
    fn get(&self) -> &Pool {
        match self {
            PoolRef::Borrowed(p) => p,
            PoolRef::Shared(p) => p,
        }
    }
}

/// The target of a single server: its URL, with the configured credentials added.
fn server_target(url: &str, credentials: &Credentials) -> Result<Target, StoreError> {
    let invalid = || StoreError("redis: the store URL is not usable (scheme, host, port or database)".into());
    let info = redis::IntoConnectionInfo::into_connection_info(url).map_err(|_| invalid())?;
    if credentials.password.is_some() && info.redis_settings().password().is_some() {
        return Err(StoreError("redis: a password is set both in the URL and by password_env/password_file".into()));
    }
    client_with(info, credentials).map(|c| Target::Fixed(Box::new(c))).map_err(|_| invalid())
}

/// The first error among a pipeline's answers.
fn first_error(answers: &[Value]) -> Option<RedisError> {
    answers.iter().find_map(|a| match a {
        Value::ServerError(e) => Some(RedisError::from(e.clone())),
        _ => None,
    })
}

/// The node and slot a MOVED or ASK names. An empty host means the node that answered.
fn redirect_target(error: &RedisError, answered: Option<&NodeAddress>) -> Option<(NodeAddress, u16)> {
    let (address, slot) = error.redirect_node()?;
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse().ok()?;
    let host = match host.trim_start_matches('[').trim_end_matches(']') {
        "" => answered?.host.clone(),
        h => h.to_string(),
    };
    Some((NodeAddress { host, port }, slot))
}

fn unexpected(op: &str) -> StoreError {
    StoreError(format!("redis {op}: unexpected answer"))
}

fn parse_version(bytes: &[u8], op: &str) -> Result<u64, StoreError> {
    std::str::from_utf8(bytes)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .filter(|v| *v != 0)
        .ok_or_else(|| unexpected(op))
}

impl Store for RedisStore {
    fn get(&self, key: &StoreKey, _now: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        let k = self.redis_key(key);
        let mut hmget = redis::pipe();
        hmget.ignore_errors().cmd("HMGET").arg(&k).arg("v").arg("d");
        let answer = self.exchange(&k, "get", &hmget, false)?.into_iter().next().ok_or_else(|| unexpected("get"))?;
        let Value::Array(mut fields) = answer else { return Err(unexpected("get")) };
        match &mut fields[..] {
            [Value::Nil, Value::Nil] => Ok(None),
            [Value::BulkString(v), Value::BulkString(d)] => Ok(Some((std::mem::take(d), parse_version(v, "get")?))),
            _ => Err(unexpected("get")),
        }
    }

    fn put(
        &self,
        key: &StoreKey,
        value: &[u8],
        ttl_seconds: Option<u64>,
        expected: Expected,
        _now: u64,
    ) -> Result<Option<u64>, StoreError> {
        let k = self.redis_key(key);
        let expected = match expected {
            Expected::Absent => String::new(),
            Expected::Version(v) => v.to_string(),
        };
        // As in the memory store, a TTL is at least one second; 0 means none.
        let ttl_ms = ttl_seconds.map_or(0, |t| t.max(1).saturating_mul(1000));
        match self.eval(Script::Put, "put", &k, &[expected.as_bytes(), value, ttl_ms.to_string().as_bytes()])? {
            Value::Nil => Ok(None),
            Value::BulkString(v) => parse_version(&v, "put").map(Some),
            _ => Err(unexpected("put")),
        }
    }

    fn delete(&self, key: &StoreKey, version: u64, _now: u64) -> Result<bool, StoreError> {
        let k = self.redis_key(key);
        match self.eval(Script::Delete, "delete", &k, &[version.to_string().as_bytes()])? {
            Value::Int(n) => Ok(n == 1),
            _ => Err(unexpected("delete")),
        }
    }
}
