//! Redis deployments of several processes, as production runs them, on loopback: a Sentinel
//! setup (one primary, two replicas, three sentinels) and a Redis Cluster (three primaries,
//! three replicas, made with `redis-cli --cluster create`). Every process is stopped when the
//! deployment is dropped.
//!
//! Failure detection is set short (1 s) so that a failover takes a few seconds, not the
//! production defaults' tens of seconds; what the store does is the same.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, RedisServer};

/// How long a node or primary may be silent before it is considered down, in ms.
pub const DOWN_AFTER_MS: u64 = 1000;

/// Polls `f` every 50 ms until it is true; panics with `what` after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
    start.elapsed()
}

/// A connection to a loopback port, or `None` if nothing answers there now.
fn try_connect(port: u16) -> Option<redis::Connection> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}/0")).ok()?;
    let conn = client.get_connection_with_timeout(Duration::from_millis(500)).ok()?;
    conn.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    Some(conn)
}

/// One command to a loopback port, `None` if it cannot be sent or fails.
pub fn ask<T: redis::FromRedisValue>(port: u16, args: &[&str]) -> Option<T> {
    let mut conn = try_connect(port)?;
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(&mut conn).ok()
}

/// Whether `replicas` replicas of the primary on `port` acknowledge a write now. (Redis 7
/// streams writes to a replica that has just synced only after its first acknowledgement,
/// up to a second after the sync: until then WAIT counts nothing.) The write leaves no key.
pub fn acknowledges(port: u16, replicas: usize) -> bool {
    let Some(mut conn) = try_connect(port) else { return false };
    let acked: redis::RedisResult<(String, i64, usize)> = redis::pipe()
        .cmd("SET")
        .arg("passcode-test:settle")
        .arg(1)
        .cmd("DEL")
        .arg("passcode-test:settle")
        .cmd("WAIT")
        .arg(replicas)
        .arg(100)
        .query(&mut conn);
    matches!(acked, Ok((_, _, n)) if n >= replicas)
}

/// A running `redis-sentinel`, killed on drop.
pub struct SentinelProcess {
    child: Option<Child>,
    /// The loopback port it listens on.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl SentinelProcess {
    fn start(master: &str, primary_port: u16) -> SentinelProcess {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        let d = dir.path().to_str().expect("UTF-8 temp dir");
        // Sentinel rewrites its config file as it learns: it must be writable, hence a copy per sentinel.
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndaemonize no\ndir {d}\nlogfile {d}/sentinel.log\n\
                 sentinel monitor {master} 127.0.0.1 {primary_port} 2\n\
                 sentinel down-after-milliseconds {master} {DOWN_AFTER_MS}\n\
                 sentinel failover-timeout {master} 3000\n\
                 sentinel parallel-syncs {master} 2\n"
            ),
        )
        .expect("write sentinel.conf");
        let child = match Command::new("redis-sentinel")
            .arg(&conf)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-sentinel is not installed: these tests need Debian's package `redis-sentinel` \
                 (apt-get install -y redis-sentinel, or scripts/setup)"
            ),
            Err(e) => panic!("cannot start redis-sentinel: {e}"),
        };
        let s = SentinelProcess { child: Some(child), port, _dir: dir };
        wait_until("redis-sentinel answering PING", Duration::from_secs(10), || {
            ask::<String>(port, &["PING"]).is_some()
        });
        s
    }

    /// The process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `SENTINEL MASTER name` as a map of its fields.
    pub fn master_info(&self, master: &str) -> HashMap<String, String> {
        ask(self.port, &["SENTINEL", "MASTER", master]).unwrap_or_default()
    }
}

impl Drop for SentinelProcess {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// One primary, two replicas and three sentinels with a quorum of two.
pub struct SentinelDeployment {
    /// The Redis servers; the first is the primary at the start.
    pub servers: Vec<RedisServer>,
    /// The sentinels.
    pub sentinels: Vec<SentinelProcess>,
}

impl SentinelDeployment {
    /// The name the sentinels monitor the primary under.
    pub const MASTER: &'static str = "passcode";

    /// Starts every process and waits until the sentinels know the replicas and each other.
    pub fn start() -> SentinelDeployment {
        let primary = RedisServer::start();
        let port = primary.port.to_string();
        let mut servers = vec![primary];
        for _ in 0..2 {
            servers.push(RedisServer::start_with(&["--replicaof", "127.0.0.1", &port]));
        }
        let sentinels: Vec<SentinelProcess> =
            (0..3).map(|_| SentinelProcess::start(Self::MASTER, servers[0].port)).collect();
        let d = SentinelDeployment { servers, sentinels };
        d.wait_until_settled(Duration::from_secs(30));
        d
    }

    /// Waits until every sentinel agrees on one primary, sees two replicas and the two other
    /// sentinels, and the primary has every other running server as a replica.
    pub fn wait_until_settled(&self, limit: Duration) -> Duration {
        self.wait_until_settled_without(0, limit)
    }

    /// As [`Self::wait_until_settled`], with a primary other than the one on port `old`.
    pub fn wait_until_settled_without(&self, old: u16, limit: Duration) -> Duration {
        let running = self.servers.iter().filter(|s| s.pid().is_some()).count();
        wait_until("the sentinels to settle", limit, || {
            let infos: Vec<_> = self.sentinels.iter().map(|s| s.master_info(Self::MASTER)).collect();
            let port = infos.first().and_then(|i| i.get("port").cloned());
            infos.iter().all(|i| {
                i.get("port") == port.as_ref()
                    && i.get("flags").map(String::as_str) == Some("master")
                    && i.get("num-slaves").map(String::as_str) == Some("2")
                    && i.get("num-other-sentinels").map(String::as_str) == Some("2")
            }) && port.and_then(|p| p.parse().ok()).is_some_and(|p: u16| {
                p != old
                    && ask::<String>(p, &["INFO", "replication"])
                        .is_some_and(|r| r.contains("role:master") && r.matches("state=online").count() == running - 1)
                    && acknowledges(p, running - 1)
            })
        })
    }

    /// The sentinels' addresses, as the `sentinels` field takes them.
    pub fn store_toml(&self) -> String {
        let list: Vec<String> = self.sentinels.iter().map(|s| format!("\"127.0.0.1:{}\"", s.port)).collect();
        format!("sentinels = [{}]\nmaster_name = \"{}\"", list.join(", "), Self::MASTER)
    }

    /// The primary's port as the first sentinel that answers sees it.
    pub fn primary_port(&self) -> u16 {
        self.sentinels
            .iter()
            .find_map(|s| ask::<(String, u16)>(s.port, &["SENTINEL", "get-master-addr-by-name", Self::MASTER]))
            .expect("a sentinel names the primary")
            .1
    }

    /// The server on `port`.
    pub fn server(&mut self, port: u16) -> &mut RedisServer {
        self.servers.iter_mut().find(|s| s.port == port).expect("a server of this deployment")
    }

    /// `SENTINEL FAILOVER`: promote a replica now, without agreement (an operator's switch).
    pub fn failover(&self) {
        let ok: String =
            ask(self.sentinels[0].port, &["SENTINEL", "FAILOVER", Self::MASTER]).expect("SENTINEL FAILOVER");
        assert_eq!(ok, "OK");
    }
}

/// Three primaries and three replicas of a Redis Cluster.
pub struct ClusterDeployment {
    /// Every node; which are primaries changes with failovers.
    pub nodes: Vec<RedisServer>,
}

impl ClusterDeployment {
    /// Starts six nodes, creates the cluster and waits until every slot is served.
    pub fn start() -> ClusterDeployment {
        let nodes: Vec<RedisServer> = (0..6)
            .map(|_| {
                let bus = free_port().to_string();
                let timeout = DOWN_AFTER_MS.to_string();
                RedisServer::start_with(&[
                    "--cluster-enabled",
                    "yes",
                    "--cluster-config-file",
                    "nodes.conf",
                    "--cluster-node-timeout",
                    &timeout,
                    "--cluster-port",
                    &bus,
                    // As the README advises: the shards that are up keep serving while one fails over.
                    "--cluster-require-full-coverage",
                    "no",
                ])
            })
            .collect();
        let addresses: Vec<String> = nodes.iter().map(|n| format!("127.0.0.1:{}", n.port)).collect();
        let out = match Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&addresses)
            .args(["--cluster-replicas", "1", "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
        {
            Ok(o) => o,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-cli is not installed: the cluster tests need Debian's package `redis-tools` \
                 (apt-get install -y redis-tools, or scripts/setup)"
            ),
            Err(e) => panic!("cannot run redis-cli: {e}"),
        };
        assert!(
            out.status.success(),
            "redis-cli --cluster create: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let d = ClusterDeployment { nodes };
        d.wait_until_settled(Duration::from_secs(30));
        d
    }

    /// Waits until every running node says the cluster is ok with all slots served and
    /// three primaries that each have a connected replica.
    pub fn wait_until_settled(&self, limit: Duration) -> Duration {
        wait_until("the cluster to settle", limit, || {
            let all_ok = self.nodes.iter().filter(|n| n.pid().is_some()).all(|n| {
                ask::<String>(n.port, &["CLUSTER", "INFO"])
                    .is_some_and(|i| i.contains("cluster_state:ok") && i.contains("cluster_slots_ok:16384"))
            });
            all_ok
                && self.primaries().len() == 3
                && self.primaries().iter().all(|p| {
                    ask::<String>(*p, &["INFO", "replication"]).is_some_and(|r| r.matches("state=online").count() == 1)
                })
        })
    }

    /// `cluster = [...]` with two seed nodes (the store discovers the others).
    pub fn store_toml(&self) -> String {
        format!("cluster = [\"127.0.0.1:{}\", \"redis://127.0.0.1:{}\"]", self.nodes[0].port, self.nodes[3].port)
    }

    /// `CLUSTER NODES` from the first running node, as (port, is primary, primary's id, id) per live node.
    fn topology(&self) -> Vec<(u16, bool, String, String)> {
        let text: String = self
            .nodes
            .iter()
            .filter(|n| n.pid().is_some())
            .find_map(|n| ask(n.port, &["CLUSTER", "NODES"]))
            .expect("a node answers CLUSTER NODES");
        text.lines()
            .filter_map(|line| {
                let f: Vec<&str> = line.split(' ').collect();
                let port = f.get(1)?.split('@').next()?.rsplit(':').next()?.parse().ok()?;
                let flags = f.get(2)?;
                if flags.contains("fail") {
                    return None;
                }
                Some((port, flags.contains("master"), f.get(3)?.to_string(), f.first()?.to_string()))
            })
            .collect()
    }

    /// `CLUSTER SLOTS` from the first running node, as (first slot, last slot, primary's port).
    fn slot_ranges(&self) -> Vec<(i64, i64, u16)> {
        let answer = self
            .nodes
            .iter()
            .filter(|n| n.pid().is_some())
            .find_map(|n| ask::<redis::Value>(n.port, &["CLUSTER", "SLOTS"]));
        let Some(redis::Value::Array(ranges)) = answer else { return Vec::new() };
        ranges
            .iter()
            .filter_map(|range| {
                let redis::Value::Array(fields) = range else { return None };
                match (fields.first(), fields.get(1), fields.get(2)) {
                    (Some(redis::Value::Int(start)), Some(redis::Value::Int(end)), Some(redis::Value::Array(node))) => {
                        match node.get(1) {
                            Some(redis::Value::Int(port)) => Some((*start, *end, u16::try_from(*port).ok()?)),
                            _ => None,
                        }
                    }
                    _ => None,
                }
            })
            .collect()
    }

    /// The ports of the live primaries that serve slots.
    pub fn primaries(&self) -> Vec<u16> {
        let mut ports: Vec<u16> = self.slot_ranges().into_iter().map(|(_, _, port)| port).collect();
        ports.sort_unstable();
        ports.dedup();
        let live = self.topology();
        ports.retain(|p| live.iter().any(|(port, primary, _, _)| port == p && *primary));
        ports
    }

    /// The port of the primary that serves `slot`.
    pub fn owner_of(&self, slot: u16) -> u16 {
        self.slot_ranges()
            .into_iter()
            .find(|(start, end, _)| (*start..=*end).contains(&i64::from(slot)))
            .expect("the slot is served")
            .2
    }

    /// A node's cluster id.
    pub fn id_of(&self, port: u16) -> String {
        ask(port, &["CLUSTER", "MYID"]).expect("CLUSTER MYID")
    }

    /// The port of the replica of the primary on `primary_port`, as the primary reports it.
    pub fn replica_of(&self, primary_port: u16) -> u16 {
        let info: String = ask(primary_port, &["INFO", "replication"]).expect("the primary answers");
        info.lines()
            .find(|l| l.starts_with("slave0:"))
            .and_then(|l| l.split(',').find_map(|f| f.strip_prefix("port=")))
            .and_then(|p| p.parse().ok())
            .expect("a replica")
    }

    /// The node on `port`.
    pub fn node(&mut self, port: u16) -> &mut RedisServer {
        self.nodes.iter_mut().find(|s| s.port == port).expect("a node of this cluster")
    }

    /// Keys starting with `prefix` on each primary, by port (SCAN, so expiring keys of
    /// other tests do not count).
    pub fn keys_with_prefix(&self, prefix: &str) -> Vec<(u16, usize)> {
        self.primaries()
            .into_iter()
            .map(|port| {
                let mut conn = try_connect(port).expect("a primary answers");
                let (mut cursor, mut count) = (0u64, 0usize);
                loop {
                    let (next, keys): (u64, Vec<String>) = redis::cmd("SCAN")
                        .arg(cursor)
                        .arg("MATCH")
                        .arg(format!("{prefix}*"))
                        .arg("COUNT")
                        .arg(1000)
                        .query(&mut conn)
                        .expect("SCAN");
                    count += keys.len();
                    if next == 0 {
                        break (port, count);
                    }
                    cursor = next;
                }
            })
            .collect()
    }

    /// Keys in the database of each primary, by port.
    pub fn keys_per_primary(&self) -> Vec<(u16, i64)> {
        self.primaries().into_iter().map(|p| (p, ask::<i64>(p, &["DBSIZE"]).expect("DBSIZE"))).collect()
    }
}
