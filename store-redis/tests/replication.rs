//! `wait_replicas`: each write waits (in the same round trip, by a pipelined `WAIT`) until
//! that many replicas have it, and fails closed when they do not answer in time, so that a
//! failover cannot lose an acknowledged consumption or failure.

mod support;

use std::time::{Duration, Instant};

use passcode_core::{Channel, Config, Error, IssueRequest, Purpose};
use support::{config_toml, KeyFile, RedisServer};

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "{what} within 10 s");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn writes_wait_for_the_replica_and_fail_closed_without_it() {
    let primary = RedisServer::start();
    let mut replica = RedisServer::start_with(&["--replicaof", "127.0.0.1", &primary.port.to_string()]);
    wait_for("the replica to acknowledge writes", || support::deployments::acknowledges(primary.port, 1));
    let key = KeyFile::new();
    let store = "wait_replicas = 1\nwait_timeout_ms = 300\ncommand_timeout_ms = 300\nconnect_timeout_ms = 300";
    let engine = passcode_redis::open_engine(
        Config::parse(&config_toml(&primary.url(), "wait:", store, &key.path, "")).unwrap(),
    )
    .unwrap();
    let request = IssueRequest {
        channel: Channel::Email,
        identifier: "jane@example.com",
        purpose: Purpose::SignIn,
        client: None,
        locale: None,
    };
    let a = engine.issue(&request).unwrap();
    // WAIT returned, so the replica has the record now, not eventually.
    let on_replica: i64 = replica.query(&["DBSIZE"]);
    assert!(on_replica >= 1, "the record is on the replica: {on_replica}");
    let before = primary.store_commands();
    engine.verify(&a.token, "000000").unwrap_err();
    assert_eq!(primary.store_commands() - before, 3, "get, then EVALSHA and WAIT in one pipelined round trip");

    replica.stop();
    wait_for("the primary to notice", || {
        primary.query::<String>(&["INFO", "replication"]).contains("connected_slaves:0")
    });
    let start = Instant::now();
    let e = engine.verify(&a.token, &a.code).unwrap_err();
    assert!(start.elapsed() < Duration::from_millis(2000), "{:?}", start.elapsed());
    let Error::StoreUnavailable { message } = e else { panic!("{e:?}") };
    assert!(message.contains("only 0 of 1 replicas"), "{message}");
    assert!(
        matches!(engine.issue(&request), Err(Error::StoreUnavailable { .. })),
        "no write counts without the replica"
    );
}
