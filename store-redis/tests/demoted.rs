//! A failover that keeps connections open: the store's URL leads to an address that follows
//! the primary (a virtual IP, a DNS name, a proxy), and the old primary, now a replica,
//! keeps the pooled connections it had. READONLY (a write) or MASTERDOWN (a read, on a
//! replica that serves no stale data) must retire those connections at once, not when their
//! lifetime ends, and the operation that met it goes to the new primary.
//!
//! The address is a small TCP proxy in this test: new connections go to its current target,
//! connections already open stay where they were, as with a moved virtual IP.

mod support;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::Duration;

use passcode_core::{Expected, Store};
use passcode_redis::{RedisOptions, RedisStore};
use support::deployments::wait_until;
use support::{unique_prefix, RedisServer};

/// A loopback TCP proxy whose target can change; it runs until the test process ends.
struct Proxy {
    port: u16,
    target: Arc<AtomicU16>,
}

impl Proxy {
    fn start(target: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().unwrap().port();
        let target = Arc::new(AtomicU16::new(target));
        let current = target.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let Ok(server) = TcpStream::connect(("127.0.0.1", current.load(Ordering::SeqCst))) else { continue };
                for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)]
                {
                    std::thread::spawn(move || {
                        let mut buf = [0u8; 16 * 1024];
                        while let Ok(n @ 1..) = from.read(&mut buf) {
                            if to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                        let _ = to.shutdown(Shutdown::Both);
                    });
                }
            }
        });
        Proxy { port, target }
    }

    fn point_at(&self, port: u16) {
        self.target.store(port, Ordering::SeqCst);
    }
}

fn error_count(server: &RedisServer, code: &str) -> u64 {
    let info: String = server.query(&["INFO", "errorstats"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("errorstat_{code}:count=")))
        .map_or(0, |n| n.trim().parse().expect("a count"))
}

fn linked(replica: &RedisServer) -> bool {
    replica.query::<String>(&["INFO", "replication"]).contains("master_link_status:up")
}

#[test]
fn readonly_and_masterdown_retire_the_pool_after_a_failover_that_keeps_connections() {
    let a = RedisServer::start();
    let b = RedisServer::start_with(&["--replicaof", "127.0.0.1", &a.port.to_string()]);
    wait_until("the replica's link", Duration::from_secs(10), || linked(&b));
    let proxy = Proxy::start(a.port);
    let mut options = RedisOptions::new(format!("redis://127.0.0.1:{}/0", proxy.port));
    options.prefix = unique_prefix("demoted");
    options.pool_size = 4;
    let store = Arc::new(RedisStore::open(&options).expect("open through the proxy"));
    // Fill the pool: four threads writing at once each hold a connection.
    std::thread::scope(|s| {
        for t in 0..4u8 {
            let store = store.clone();
            s.spawn(move || {
                for i in 0..50u8 {
                    let mut key = [0x11; 32];
                    (key[0], key[1]) = (t, i);
                    store.put(&key, b"warm", Some(60), Expected::Absent, 0).unwrap();
                }
            });
        }
    });
    let k = [0xee; 32];
    let v1 = store.put(&k, b"one", None, Expected::Absent, 0).unwrap().unwrap();
    let clients: String = a.query(&["INFO", "clients"]);
    let connected: u32 =
        clients.lines().find_map(|l| l.strip_prefix("connected_clients:")).unwrap().trim().parse().unwrap();
    assert!(connected >= 4, "several pooled connections (and this query's) are open on A: {connected}");

    let record = String::from_utf8(store.redis_key(&k)).unwrap();
    wait_until("B to have the record", Duration::from_secs(10), || b.query::<i64>(&["EXISTS", &record]) == 1);

    // The failover: B is the primary, A its replica, the address leads to B; the pooled
    // connections stay on A.
    let _: String = b.query(&["REPLICAOF", "NO", "ONE"]);
    let _: String = a.query(&["REPLICAOF", "127.0.0.1", &b.port.to_string()]);
    proxy.point_at(b.port);
    wait_until("A's link to B", Duration::from_secs(10), || linked(&a));
    let v2 = store.put(&k, b"two", None, Expected::Version(v1), 0).expect("the refused write goes to the new primary");
    let v2 = v2.expect("no conflict");
    for i in 0..20u8 {
        store.put(&[i; 32], b"after", Some(60), Expected::Absent, 0).expect("every write after the failover");
    }
    assert_eq!(error_count(&a, "READONLY"), 1, "one READONLY retired every connection to the demoted primary");

    // Again the other way, for reads: B turns into a replica that serves no stale data (its
    // primary is gone), so reads on it answer MASTERDOWN; A is the primary again.
    wait_until("A to have the write", Duration::from_secs(10), || {
        a.query::<Option<String>>(&["HGET", &record, "v"]) == Some(v2.to_string())
    });
    let _: String = a.query(&["REPLICAOF", "NO", "ONE"]);
    let _: String = b.query(&["CONFIG", "SET", "replica-serve-stale-data", "no"]);
    let _: String = b.query(&["REPLICAOF", "127.0.0.1", &support::free_port().to_string()]);
    proxy.point_at(a.port);
    assert_eq!(store.get(&k, 0).unwrap(), Some((b"two".to_vec(), v2)), "the read goes to the new primary");
    for i in 0..20u8 {
        store.get(&[i; 32], 0).expect("every read after the failover");
    }
    assert_eq!(error_count(&b, "MASTERDOWN"), 1, "one MASTERDOWN retired every connection to the demoted node");
}
