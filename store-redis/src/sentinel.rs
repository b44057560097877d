//! Finding the primary through Redis Sentinel, as the Sentinel client protocol describes.
//!
//! Every new connection asks the sentinels, in turn, `SENTINEL get-master-addr-by-name`; the
//! first that names an address is moved to the front of the list for next time. The named
//! node is then asked `ROLE`, and a node that does not say `master` is refused (a sentinel's
//! view can lag a failover), so the store never writes to a node that says it is a replica.
//! Nothing is cached between connections: after a failover, the pool's next connection goes
//! to the new primary. Every step is bounded by the store's connect and command timeouts.
//!
//! (The `redis` crate's own `sentinel` feature is not used: its blocking client opens
//! connections to the sentinels and to the primary without a timeout and reads their
//! answers without one, so a sentinel that accepts connections but does not answer would
//! hold an operation for ever.)

use std::sync::Mutex;

use redis::{ErrorKind, RedisError, ServerErrorKind};

use crate::connection::{describe, node_client, open_connection, role_is_primary, Credentials, Timeouts};
use crate::options::NodeAddress;

/// The sentinels of one primary, and how to reach both.
pub(crate) struct SentinelResolver {
    /// Asked in this order; the last one that answered comes first.
    sentinels: Mutex<Vec<NodeAddress>>,
    master_name: String,
    /// AUTH for the sentinels (their own ACL, if any).
    sentinel_credentials: Credentials,
    /// AUTH for the primary.
    node_credentials: Credentials,
    tls: bool,
    /// The primary the last connection was opened to.
    connected: Mutex<Option<NodeAddress>>,
}

/// A failure: the error for r2d2, and our words for the operation's error text.
pub(crate) type Refusal = (RedisError, String);

fn refusal(kind: ErrorKind, reason: String) -> Refusal {
    (RedisError::from((kind, "sentinel")), reason)
}

impl SentinelResolver {
    pub fn new(
        sentinels: Vec<NodeAddress>,
        master_name: String,
        sentinel_credentials: Credentials,
        node_credentials: Credentials,
        tls: bool,
    ) -> Self {
        SentinelResolver {
            sentinels: Mutex::new(sentinels),
            master_name,
            sentinel_credentials,
            node_credentials,
            tls,
            connected: Mutex::new(None),
        }
    }

    /// A connection to the node the sentinels name as primary, once it says so itself.
    pub fn connect_primary(&self, timeouts: Timeouts) -> Result<redis::Connection, Refusal> {
        let order = self.sentinels.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut last: Option<Refusal> = None;
        for sentinel in &order {
            let primary = match self.ask(sentinel, timeouts) {
                Ok(Some(primary)) => primary,
                Ok(None) => {
                    last = Some(refusal(
                        ErrorKind::Server(ServerErrorKind::ResponseError),
                        "redis sentinel: a sentinel does not know the configured master_name".into(),
                    ));
                    continue;
                }
                Err(e) => {
                    let reason = format!("redis sentinel: {}", describe(&e, "primary lookup", timeouts.io));
                    last = Some((e, reason));
                    continue;
                }
            };
            self.answered_first(sentinel);
            match self.connect_checked(&primary, timeouts) {
                Ok(conn) => {
                    *self.connected.lock().unwrap_or_else(|p| p.into_inner()) = Some(primary);
                    return Ok(conn);
                }
                // This sentinel's view may be stale (a failover in progress): ask the next.
                Err(r) => last = Some(r),
            }
        }
        Err(last.unwrap_or_else(|| refusal(ErrorKind::InvalidClientConfig, "redis sentinel: no sentinels".into())))
    }

    /// Whether the first sentinel that answers names another primary than the one the
    /// last connection went to. No answer is no news: the pool's own errors cover that.
    pub fn primary_moved(&self, timeouts: Timeouts) -> bool {
        let Some(connected) = self.connected.lock().unwrap_or_else(|p| p.into_inner()).clone() else { return false };
        let order = self.sentinels.lock().unwrap_or_else(|p| p.into_inner()).clone();
        order.iter().find_map(|s| self.ask(s, timeouts).ok().flatten()).is_some_and(|named| named != connected)
    }

    /// The primary's address as one sentinel sees it, `None` if it does not know the name.
    fn ask(&self, sentinel: &NodeAddress, timeouts: Timeouts) -> redis::RedisResult<Option<NodeAddress>> {
        let client = node_client(sentinel, self.tls, &self.sentinel_credentials)?;
        let mut conn = open_connection(&client, timeouts)?;
        let answer: Option<(String, u16)> =
            redis::cmd("SENTINEL").arg("get-master-addr-by-name").arg(&self.master_name).query(&mut conn)?;
        Ok(answer.map(|(host, port)| NodeAddress { host, port }))
    }

    /// Moves a sentinel that answered to the front, as the Sentinel client protocol asks.
    fn answered_first(&self, sentinel: &NodeAddress) {
        let mut order = self.sentinels.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = order.iter().position(|s| s == sentinel) {
            order[..=i].rotate_right(1);
        }
    }

    /// Connects to `node` and checks with ROLE that it is a primary.
    fn connect_checked(&self, node: &NodeAddress, timeouts: Timeouts) -> Result<redis::Connection, Refusal> {
        let described = |e: RedisError| {
            let reason = describe(&e, "connect to the primary the sentinels named", timeouts.connect);
            (e, reason)
        };
        let client = node_client(node, self.tls, &self.node_credentials).map_err(described)?;
        let mut conn = open_connection(&client, timeouts).map_err(described)?;
        match redis::cmd("ROLE").query::<redis::Value>(&mut conn) {
            Ok(role) => match role_is_primary(&role) {
                Some(true) => Ok(conn),
                Some(false) => Err(refusal(
                    ErrorKind::Server(ServerErrorKind::ReadOnly),
                    "redis sentinel: the node the sentinels named is a read-only replica (a failover is in progress)"
                        .into(),
                )),
                None => Err(refusal(ErrorKind::UnexpectedReturnType, "redis sentinel: unexpected ROLE answer".into())),
            },
            Err(e) if e.kind() == ErrorKind::Server(ServerErrorKind::NoPerm) => Err(refusal(
                ErrorKind::Server(ServerErrorKind::NoPerm),
                "redis sentinel: the ACL user may not run ROLE, which Sentinel mode needs (+role)".into(),
            )),
            Err(e) => Err(described(e)),
        }
    }
}
