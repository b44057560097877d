//! `RedisStore`: the core store contract on one Redis (or Valkey) primary.
//!
//! Layout: each record is a hash `{prefix}{hex key}` with fields `v` (its version, decimal)
//! and `d` (the engine's bytes), and a TTL when the engine gives one. A counter
//! `{prefix}version` hands out versions, so a key deleted or expired and written again gets a
//! version it never had (no ABA).
//!
//! Round trips: `get` is one `HMGET`; `put` and `delete` are one `EVALSHA` of a script that
//! compares the version and writes atomically on the server. Scripts are loaded once when the
//! store opens (`SCRIPT LOAD`) and again only if the server forgot them (`NOSCRIPT`, after a
//! restart or `SCRIPT FLUSH`). With `wait_replicas`, a `WAIT` is pipelined behind each write:
//! still one round trip, but it returns only once the replicas acknowledged.
//!
//! Failures are `StoreError`s whose text says what went wrong (unreachable, timeout,
//! read-only replica, credentials) and never carries a key, a value or the URL.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use passcode_core::{Expected, Store, StoreError, StoreKey};
use redis::{ConnectionLike, ErrorKind, RedisError, ServerErrorKind};

use crate::options::RedisOptions;

/// Compare-and-swap with expiry. KEYS[1] the record, KEYS[2] the version counter; ARGV[1]
/// the expected version ('' for absent), ARGV[2] the value, ARGV[3] the TTL in ms ('0': none).
/// Returns the new version as a decimal string, or nil on a conflict.
const PUT_SCRIPT: &str = r#"
local cur = redis.call('HGET', KEYS[1], 'v')
if ARGV[1] == '' then
  if cur then return false end
elseif cur ~= ARGV[1] then
  return false
end
local v = redis.call('INCR', KEYS[2])
if v == 1 then
  -- The counter is new, or was lost (flushed, evicted, deleted) while records stayed:
  -- start from the server's clock in microseconds, above any version handed out before.
  local t = redis.call('TIME')
  v = tonumber(t[1]) * 1000000 + tonumber(t[2])
  redis.call('SET', KEYS[2], string.format('%.0f', v))
end
-- Lua numbers are doubles: '%.0f' writes the integer in full (tostring would use 14 digits).
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

/// A pooled connection, with what the pool needs to know to retire it.
struct Conn {
    inner: redis::Connection,
    /// The pool's generation when this connection was opened (see `Shared::generation`).
    generation: u64,
    /// Set after an error that leaves the connection's state unknown (a timeout may still
    /// deliver a late answer that would be read as the next command's).
    broken: bool,
}

/// What the pool's manager and the store share.
struct Shared {
    /// Bumped on every connection failure: an idle connection older than the last failure
    /// is most likely dead too (the server restarted), so it is dropped at checkout without
    /// a round trip, instead of failing one operation per pooled connection.
    generation: AtomicU64,
    /// The last reason a connection could not be opened, in our words.
    last_error: Mutex<Option<String>>,
}

struct Manager {
    client: redis::Client,
    connect_timeout: Duration,
    io_timeout: Duration,
    shared: Arc<Shared>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = RedisError;

    fn connect(&self) -> Result<Conn, RedisError> {
        let generation = self.shared.generation.load(Ordering::SeqCst);
        let result = self.client.get_connection_with_timeout(self.connect_timeout).and_then(|c| {
            c.set_read_timeout(Some(self.io_timeout))?;
            c.set_write_timeout(Some(self.io_timeout))?;
            Ok(c)
        });
        match result {
            Ok(inner) => {
                *self.shared.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                Ok(Conn { inner, generation, broken: false })
            }
            Err(e) => {
                *self.shared.last_error.lock().unwrap_or_else(|p| p.into_inner()) =
                    Some(describe(&e, "connect", self.connect_timeout));
                Err(e)
            }
        }
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), RedisError> {
        // No PING here: a check on every checkout would double the round trips.
        if conn.generation < self.shared.generation.load(Ordering::SeqCst) {
            return Err(RedisError::from(std::io::Error::other("opened before the last connection failure")));
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.broken || !conn.inner.is_open()
    }
}

/// What an error means for the operation and for the connection.
fn describe(e: &RedisError, op: &str, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("redis did not answer a {op} within {} ms", timeout.as_millis());
    }
    match e.kind() {
        ErrorKind::Server(ServerErrorKind::ReadOnly) => {
            format!(
                "redis refused the {op}: the server is a read-only replica (READONLY); point the store at the primary"
            )
        }
        ErrorKind::Server(ServerErrorKind::MasterDown) => {
            format!("redis refused the {op}: the replica lost its primary (MASTERDOWN)")
        }
        ErrorKind::Server(ServerErrorKind::BusyLoading) => {
            format!("redis refused the {op}: it is loading its data set (LOADING)")
        }
        ErrorKind::Server(ServerErrorKind::NoPerm) | ErrorKind::AuthenticationFailed => {
            format!("redis refused the {op}: the credentials or ACL do not allow it")
        }
        ErrorKind::Io if e.is_connection_refusal() => format!("redis unreachable during {op}: connection refused"),
        ErrorKind::Io if e.is_connection_dropped() => format!("redis unreachable during {op}: connection lost"),
        ErrorKind::Io if is_tls_failure(e) => {
            format!("redis {op}: the TLS handshake failed (certificate not trusted, or not for this host)")
        }
        ErrorKind::Io => format!("redis unreachable during {op}: I/O error"),
        ErrorKind::InvalidClientConfig => format!("redis {op}: the store URL or TLS settings are not usable"),
        ErrorKind::Parse | ErrorKind::UnexpectedReturnType => format!("redis {op}: unexpected answer"),
        // Only the error code (ERR, OOM, BUSY, WRONGTYPE...), not the server's text.
        _ => match e.code() {
            Some(code) if code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_') => {
                format!("redis refused the {op}: {code}")
            }
            _ => format!("redis {op} failed: {}", e.category()),
        },
    }
}

/// Whether an I/O error is rustls refusing the handshake. rustls's error sits behind an
/// `Arc` inside redis's error, where it cannot be downcast, so its text is read (only to
/// classify it: it is not repeated).
fn is_tls_failure(e: &RedisError) -> bool {
    let text = e.to_string();
    ["certificate", "handshake", "TLS", "tls"].iter().any(|w| text.contains(w))
}

/// Whether an error leaves the connection usable: a server's error answer does, anything
/// at the transport or protocol level does not.
fn connection_survives(e: &RedisError) -> bool {
    matches!(e.kind(), ErrorKind::Server(_)) && !e.is_timeout()
}

fn unexpected(op: &str) -> StoreError {
    StoreError(format!("redis {op}: unexpected answer"))
}

/// The store contract on Redis. Cheap to share (`Arc<RedisStore>`); safe between threads.
pub struct RedisStore {
    pool: r2d2::Pool<Manager>,
    shared: Arc<Shared>,
    connect_timeout: Duration,
    prefix: Vec<u8>,
    counter_key: Vec<u8>,
    put_sha: String,
    delete_sha: String,
    command_timeout: Duration,
    wait_replicas: u32,
    wait_timeout: Duration,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &String::from_utf8_lossy(&self.prefix))
            .field("pool", &self.pool.state())
            .finish_non_exhaustive()
    }
}

enum Script {
    Put,
    Delete,
}

impl RedisStore {
    /// Connects, checks that the server is a writable primary, and loads the scripts.
    ///
    /// Fails with `StoreUnavailable` when Redis cannot be reached within the connect timeout,
    /// refuses the credentials, or is a replica, so a wrong deployment shows at start-up.
    pub fn open(options: &RedisOptions) -> Result<RedisStore, StoreError> {
        if options.url.starts_with("rediss://") {
            // redis's rustls needs a process-wide crypto provider; if the host installed
            // one already, that one stays.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
        let invalid = || StoreError("redis: the store URL is not usable (scheme, host, port or database)".into());
        let mut info = redis::IntoConnectionInfo::into_connection_info(options.url.as_str()).map_err(|_| invalid())?;
        let mut settings = info.redis_settings().clone();
        if options.password.is_some() && settings.password().is_some() {
            return Err(StoreError(
                "redis: a password is set both in the URL and by password_env/password_file".into(),
            ));
        }
        if let Some(user) = &options.username {
            settings = settings.set_username(user);
        }
        if let Some(password) = &options.password {
            settings = settings.set_password(password.as_str());
        }
        info = info.set_redis_settings(settings);
        let client = redis::Client::open(info).map_err(|_| invalid())?;
        // With WAIT behind each write, an answer may take the WAIT's time on top.
        let io_timeout =
            options.command_timeout + if options.wait_replicas > 0 { options.wait_timeout } else { Duration::ZERO };
        let shared = Arc::new(Shared { generation: AtomicU64::new(0), last_error: Mutex::new(None) });
        let manager = Manager { client, connect_timeout: options.connect_timeout, io_timeout, shared: shared.clone() };
        let pool = r2d2::Pool::builder()
            .max_size(options.pool_size)
            .min_idle(Some(1))
            .connection_timeout(options.connect_timeout)
            .test_on_check_out(true)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(manager);
        let prefix = options.prefix.as_bytes().to_vec();
        let mut counter_key = prefix.clone();
        counter_key.extend_from_slice(b"version");
        let store = RedisStore {
            pool,
            shared,
            connect_timeout: options.connect_timeout,
            prefix,
            counter_key,
            put_sha: redis::Script::new(PUT_SCRIPT).get_hash().to_string(),
            delete_sha: redis::Script::new(DELETE_SCRIPT).get_hash().to_string(),
            command_timeout: io_timeout,
            wait_replicas: options.wait_replicas,
            wait_timeout: options.wait_timeout,
        };
        let mut conn = store.conn("connect")?;
        // ROLE tells a replica at start-up. An ACL user may lack it (it is an @admin
        // command): then the first write says READONLY instead.
        match redis::cmd("ROLE").query::<redis::Value>(&mut conn.inner) {
            Ok(redis::Value::Array(items)) if !matches!(items.first(), Some(redis::Value::BulkString(r)) if r == b"master") =>
            {
                return Err(StoreError(
                    "redis: the server is a replica (read-only); point the store at the primary".into(),
                ));
            }
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoPerm) => {}
            Err(e) => {
                if !connection_survives(&e) {
                    store.retire(&mut conn);
                }
                return Err(StoreError(describe(&e, "connect", store.command_timeout)));
            }
        }
        store.load_scripts(&mut conn)?;
        Ok(store)
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

    fn conn(&self, op: &str) -> Result<r2d2::PooledConnection<Manager>, StoreError> {
        self.pool.get().map_err(|_| {
            let last = self.shared.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let ms = self.connect_timeout.as_millis();
            StoreError(match last {
                Some(reason) => format!("{reason} (no connection within {ms} ms)"),
                None => format!(
                    "redis {op}: no connection within {ms} ms (the server is not answering, or the pool is busy)"
                ),
            })
        })
    }

    /// Marks a connection as not to be reused, and every idle one opened before it as suspect.
    fn retire(&self, conn: &mut r2d2::PooledConnection<Manager>) {
        conn.broken = true;
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Runs one exchange on a pooled connection, translating errors and retiring the
    /// connection (and every older idle one) when its state is in doubt.
    fn run<T>(
        &self,
        conn: &mut r2d2::PooledConnection<Manager>,
        op: &str,
        f: impl FnOnce(&mut redis::Connection) -> redis::RedisResult<T>,
    ) -> Result<T, StoreError> {
        f(&mut conn.inner).map_err(|e| {
            if !connection_survives(&e) {
                self.retire(conn);
            }
            StoreError(describe(&e, op, self.command_timeout))
        })
    }

    fn load_scripts(&self, conn: &mut r2d2::PooledConnection<Manager>) -> Result<(), StoreError> {
        for (source, sha) in [(PUT_SCRIPT, &self.put_sha), (DELETE_SCRIPT, &self.delete_sha)] {
            let loaded: String =
                self.run(conn, "script load", |c| redis::cmd("SCRIPT").arg("LOAD").arg(source).query(c))?;
            if &loaded != sha {
                return Err(StoreError("redis: SCRIPT LOAD returned an unexpected hash".into()));
            }
        }
        Ok(())
    }

    /// One EVALSHA (with a pipelined WAIT when configured); reloads the scripts once if the
    /// server answers NOSCRIPT.
    fn eval(&self, script: Script, op: &str, keys: &[&[u8]], args: &[&[u8]]) -> Result<redis::Value, StoreError> {
        let sha = match script {
            Script::Put => &self.put_sha,
            Script::Delete => &self.delete_sha,
        };
        let mut conn = self.conn(op)?;
        let mut evalsha = redis::cmd("EVALSHA");
        evalsha.arg(sha.as_str()).arg(keys.len());
        for k in keys {
            evalsha.arg(*k);
        }
        for a in args {
            evalsha.arg(*a);
        }
        for attempt in 0..2 {
            let result = if self.wait_replicas == 0 {
                evalsha.query::<redis::Value>(&mut conn.inner).map(|v| (v, None))
            } else {
                let mut pipe = redis::pipe();
                pipe.add_command(evalsha.clone());
                pipe.cmd("WAIT").arg(self.wait_replicas).arg(self.wait_timeout.as_millis() as u64);
                pipe.query::<(redis::Value, i64)>(&mut conn.inner).map(|(v, n)| (v, Some(n)))
            };
            match result {
                Ok((value, acked)) => {
                    if let Some(n) = acked {
                        if n < i64::from(self.wait_replicas) {
                            // The primary has the write, but a failover now could lose it:
                            // fail closed rather than report an outcome that may vanish.
                            return Err(StoreError(format!(
                                "redis {op}: only {n} of {} replicas acknowledged within {} ms",
                                self.wait_replicas,
                                self.wait_timeout.as_millis()
                            )));
                        }
                    }
                    return Ok(value);
                }
                Err(e) if attempt == 0 && e.kind() == ErrorKind::Server(ServerErrorKind::NoScript) => {
                    self.load_scripts(&mut conn)?;
                }
                Err(e) => {
                    if !connection_survives(&e) {
                        self.retire(&mut conn);
                    }
                    return Err(StoreError(describe(&e, op, self.command_timeout)));
                }
            }
        }
        Err(StoreError(format!("redis {op}: the script could not be loaded")))
    }
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
        let query = |c: &mut redis::Connection| {
            redis::cmd("HMGET").arg(&k).arg("v").arg("d").query::<(Option<Vec<u8>>, Option<Vec<u8>>)>(c)
        };
        let mut conn = self.conn("get")?;
        let answer = match self.run(&mut conn, "get", query) {
            Ok(a) => a,
            // A read changes nothing, so it is safe to try once more on a fresh connection:
            // the one that failed was most likely left over from before a server restart.
            Err(first) if conn.broken => {
                drop(conn);
                let mut fresh = self.conn("get").map_err(|_| first)?;
                self.run(&mut fresh, "get", query)?
            }
            Err(e) => return Err(e),
        };
        match answer {
            (None, None) => Ok(None),
            (Some(v), Some(d)) => Ok(Some((d, parse_version(&v, "get")?))),
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
        let answer = self.eval(
            Script::Put,
            "put",
            &[&k, &self.counter_key],
            &[expected.as_bytes(), value, ttl_ms.to_string().as_bytes()],
        )?;
        match answer {
            redis::Value::Nil => Ok(None),
            redis::Value::BulkString(v) => parse_version(&v, "put").map(Some),
            _ => Err(unexpected("put")),
        }
    }

    fn delete(&self, key: &StoreKey, version: u64, _now: u64) -> Result<bool, StoreError> {
        let k = self.redis_key(key);
        match self.eval(Script::Delete, "delete", &[&k], &[version.to_string().as_bytes()])? {
            redis::Value::Int(n) => Ok(n == 1),
            _ => Err(unexpected("delete")),
        }
    }
}
