//! Connections to one Redis node: how one is opened (to a fixed address, or to the primary
//! the sentinels name), pooled, checked out and retired, and what an error means for it.
//!
//! A pool is one `r2d2` pool plus a generation counter: retiring a connection bumps the
//! generation, and every idle connection opened before is then dropped at checkout without a
//! round trip. That is how the pool follows a server restart, and a failover that leaves
//! connections open on a demoted primary (READONLY, MASTERDOWN), without waiting for the
//! connections' lifetime to end.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use passcode_core::StoreError;
use redis::{ConnectionLike, ErrorKind, RedisError, ServerErrorKind};
use zeroize::Zeroizing;

use crate::options::NodeAddress;
use crate::sentinel::SentinelResolver;

/// AUTH for a node: the ACL user and the password, either optional.
#[derive(Clone, Default)]
pub(crate) struct Credentials {
    pub username: Option<String>,
    pub password: Option<Zeroizing<String>>,
}

/// Timeouts every connection of a store uses.
#[derive(Clone, Copy)]
pub(crate) struct Timeouts {
    /// TCP, TLS and AUTH; also the longest wait for a pooled connection.
    pub connect: Duration,
    /// One exchange (the WAIT's time included when the store waits for replicas).
    pub io: Duration,
}

/// A client for one node, with TLS and credentials as configured.
pub(crate) fn node_client(node: &NodeAddress, tls: bool, credentials: &Credentials) -> RedisResult<redis::Client> {
    let scheme = if tls { "rediss" } else { "redis" };
    let info = redis::IntoConnectionInfo::into_connection_info(format!("{scheme}://{}/0", node.authority()).as_str())?;
    client_with(info, credentials)
}

/// A client for `info` with the credentials added.
pub(crate) fn client_with(info: redis::ConnectionInfo, credentials: &Credentials) -> RedisResult<redis::Client> {
    let mut settings = info.redis_settings().clone();
    if let Some(user) = &credentials.username {
        settings = settings.set_username(user);
    }
    if let Some(password) = &credentials.password {
        settings = settings.set_password(password.as_str());
    }
    redis::Client::open(info.set_redis_settings(settings))
}

type RedisResult<T> = redis::RedisResult<T>;

/// Opens one connection with the store's timeouts on it.
pub(crate) fn open_connection(client: &redis::Client, timeouts: Timeouts) -> RedisResult<redis::Connection> {
    let c = client.get_connection_with_timeout(timeouts.connect)?;
    c.set_read_timeout(Some(timeouts.io))?;
    c.set_write_timeout(Some(timeouts.io))?;
    Ok(c)
}

/// A pooled connection, with what the pool needs to know to retire it.
pub(crate) struct Conn {
    pub inner: redis::Connection,
    /// The pool's generation when this connection was opened (see [`Pool::retire`]).
    generation: u64,
    /// Set after an error that leaves the connection's state unknown (a timeout may still
    /// deliver a late answer that would be read as the next command's), or that says the
    /// node is no longer the primary.
    pub broken: bool,
}

/// Where a pool's new connections go.
pub(crate) enum Target {
    /// Always the same address: a URL, or one node of a cluster.
    Fixed(Box<redis::Client>),
    /// The primary the sentinels name at the time of connecting.
    Primary(Arc<SentinelResolver>),
}

/// What the pool's manager and the pool share.
struct Shared {
    /// Bumped whenever a connection is retired: an idle connection older than that is most
    /// likely dead too, or on the same demoted node, so it is dropped at checkout.
    generation: AtomicU64,
    /// The last reason a connection could not be opened, in our words.
    last_error: Mutex<Option<String>>,
}

/// Opens and checks connections for r2d2.
pub(crate) struct Manager {
    target: Target,
    timeouts: Timeouts,
    shared: Arc<Shared>,
}

impl r2d2::ManageConnection for Manager {
    type Connection = Conn;
    type Error = RedisError;

    fn connect(&self) -> Result<Conn, RedisError> {
        let generation = self.shared.generation.load(Ordering::SeqCst);
        let result = match &self.target {
            Target::Fixed(client) => open_connection(client, self.timeouts).map_err(|e| {
                let reason = describe(&e, "connect", self.timeouts.connect);
                (e, reason)
            }),
            Target::Primary(resolver) => resolver.connect_primary(self.timeouts),
        };
        let mut last_error = self.shared.last_error.lock().unwrap_or_else(|p| p.into_inner());
        match result {
            Ok(inner) => {
                *last_error = None;
                Ok(Conn { inner, generation, broken: false })
            }
            Err((e, reason)) => {
                *last_error = Some(reason);
                Err(e)
            }
        }
    }

    fn is_valid(&self, conn: &mut Conn) -> Result<(), RedisError> {
        // No PING here: a check on every checkout would double the round trips.
        if conn.generation < self.shared.generation.load(Ordering::SeqCst) {
            return Err(RedisError::from(std::io::Error::other("opened before a connection was retired")));
        }
        Ok(())
    }

    fn has_broken(&self, conn: &mut Conn) -> bool {
        conn.broken || !conn.inner.is_open()
    }
}

/// The connections to one node (or to whichever node is the primary, with Sentinel).
pub(crate) struct Pool {
    pool: r2d2::Pool<Manager>,
    shared: Arc<Shared>,
    /// The longest wait for a connection.
    wait: Duration,
}

/// A connection checked out of a [`Pool`]; it goes back when dropped.
pub(crate) type Pooled = r2d2::PooledConnection<Manager>;

impl Pool {
    /// A pool of at most `size` connections to `target`. It opens one in the background at
    /// once and the others on demand. A checkout waits for a connection at most the connect
    /// timeout, or with Sentinel, long enough to pass over one sentinel that does not answer
    /// (its connect and command timeouts) before asking the next.
    pub fn new(target: Target, size: u32, timeouts: Timeouts) -> Pool {
        let wait = match target {
            Target::Fixed(_) => timeouts.connect,
            Target::Primary(_) => timeouts.connect * 2 + timeouts.io,
        };
        let watched = match &target {
            Target::Primary(resolver) => Some(Arc::downgrade(resolver)),
            Target::Fixed(_) => None,
        };
        let shared = Arc::new(Shared { generation: AtomicU64::new(0), last_error: Mutex::new(None) });
        let manager = Manager { target, timeouts, shared: shared.clone() };
        let pool = r2d2::Pool::builder()
            .max_size(size)
            .min_idle(Some(1))
            .connection_timeout(wait)
            .test_on_check_out(true)
            .error_handler(Box::new(r2d2::NopErrorHandler))
            .build_unchecked(manager);
        if let Some(resolver) = watched {
            watch_sentinels(resolver, Arc::downgrade(&shared), timeouts);
        }
        Pool { pool, shared, wait }
    }

    /// A connection, within the connect timeout; the error says why none could be opened.
    pub fn get(&self, op: &str) -> Result<Pooled, StoreError> {
        self.pool.get().map_err(|_| {
            let last = self.shared.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
            let ms = self.wait.as_millis();
            StoreError(match last {
                Some(reason) => format!("{reason} (no connection within {ms} ms)"),
                None => format!(
                    "redis {op}: no connection within {ms} ms (the server is not answering, or the pool is busy)"
                ),
            })
        })
    }

    /// Marks a connection as not to be reused, and every idle one opened before it as suspect.
    pub fn retire(&self, conn: &mut Pooled) {
        conn.broken = true;
        self.shared.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// Connections open and idle, for `Debug`.
    pub fn state(&self) -> r2d2::State {
        self.pool.state()
    }
}

/// How often the sentinels are asked whether the primary moved.
pub(crate) const SENTINEL_CHECK_INTERVAL: Duration = Duration::from_millis(500);

/// Asks the sentinels every [`SENTINEL_CHECK_INTERVAL`], on a thread of its own, whether they
/// name another primary than the one the pool's connections were opened to, and if so
/// retires every idle connection. A switchover leaves the old primary writable until the
/// sentinels turn it into a replica, which takes them about ten seconds; without this, the
/// pool would keep writing there (and those writes would be lost). The thread ends when
/// the pool is dropped.
fn watch_sentinels(resolver: std::sync::Weak<SentinelResolver>, shared: std::sync::Weak<Shared>, timeouts: Timeouts) {
    let spawned = std::thread::Builder::new().name("passcode-redis-sentinel-watch".into()).spawn(move || loop {
        std::thread::sleep(SENTINEL_CHECK_INTERVAL);
        let (Some(resolver), Some(shared)) = (resolver.upgrade(), shared.upgrade()) else { return };
        if resolver.primary_moved(timeouts) {
            shared.generation.fetch_add(1, Ordering::SeqCst);
        }
    });
    // Without the thread, a switchover is still followed, on the first READONLY.
    drop(spawned);
}

/// What an error means for the operation, in words that carry no key, value, URL or password.
pub(crate) fn describe(e: &RedisError, op: &str, timeout: Duration) -> String {
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
        ErrorKind::Server(ServerErrorKind::ClusterDown) => {
            format!("redis refused the {op}: the cluster is down or a slot has no primary (CLUSTERDOWN)")
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
pub(crate) fn connection_survives(e: &RedisError) -> bool {
    matches!(e.kind(), ErrorKind::Server(_)) && !e.is_timeout()
}

/// Whether `ROLE`'s answer says primary (`master`).
pub(crate) fn role_is_primary(role: &redis::Value) -> Option<bool> {
    match role {
        redis::Value::Array(items) => match items.first() {
            Some(redis::Value::BulkString(r)) => Some(r == b"master"),
            Some(redis::Value::SimpleString(r)) => Some(r == "master"),
            _ => None,
        },
        _ => None,
    }
}
