//! Redis Cluster: three primaries and three replicas made with `redis-cli --cluster create`,
//! started by the test on loopback. The store routes each record by its slot, follows ASK
//! and MOVED, keeps one round trip per operation, spreads records over the primaries, and
//! keeps single use and the guess caps through a failover.

#[path = "support/failover.rs"]
mod failover;
mod support;

use std::time::Duration;

use passcode_core::config::StoreConfig;
use passcode_core::{Config, Expected, Store, ERROR_TABLE};
use passcode_redis::{RedisOptions, RedisStore};
use passcode_vectors::engine_surface::EngineSurface;
use support::deployments::{ask, wait_until, ClusterDeployment, DOWN_AFTER_MS};
use support::{config_toml, unique_prefix, KeyFile};

/// Timeouts of the engines in these tests (ms).
const TIMEOUT_MS: u64 = 500;

/// Store commands (HMGET, EVALSHA, SCRIPT LOAD, WAIT) run by every node of the cluster.
fn store_commands(d: &ClusterDeployment) -> u64 {
    d.nodes.iter().filter(|n| n.pid().is_some()).map(|n| n.store_commands()).sum()
}

#[test]
fn every_vector_passes_and_records_spread_over_the_primaries() {
    let d = ClusterDeployment::start();
    let seeds = vec![format!("127.0.0.1:{}", d.nodes[0].port)];
    passcode_vectors::run_all_or_panic(
        &mut || {
            let seeds = seeds.clone();
            Box::new(EngineSurface::new(move |mut config| {
                config.store = StoreConfig {
                    url: String::new(),
                    cluster: Some(seeds.clone()),
                    prefix: Some(unique_prefix("vector")),
                    ..StoreConfig::default()
                };
                passcode_redis::builder(config)
            }))
        },
        ERROR_TABLE,
    );
    let after_vectors: i64 = d.keys_per_primary().iter().map(|(_, n)| n).sum();
    assert!(after_vectors > 23, "the vectors' records are in the cluster: {after_vectors}");

    // 10,000 subjects through the URL form, as the gateway's --store takes it.
    let key = KeyFile::new();
    let url = format!("redis+cluster://127.0.0.1:{},127.0.0.1:{}", d.nodes[1].port, d.nodes[2].port);
    let engine = passcode_redis::open_engine(Config::parse(&config_toml(&url, "spread:", "", &key.path, "")).unwrap())
        .expect("open on the cluster");
    const SUBJECTS: usize = 10_000;
    for i in 0..SUBJECTS {
        failover::issue_one(&engine, &format!("user{i}@example.com"));
    }
    let added = d.keys_with_prefix("spread:");
    eprintln!("keys per primary after {SUBJECTS} subjects: {added:?}");
    assert_eq!(added.len(), 3);
    assert_eq!(added.iter().map(|(_, n)| n).sum::<usize>(), SUBJECTS, "one key per subject, and no other key");
    for (port, n) in &added {
        // Each primary serves a third of the slots: 3,333 expected, a standard deviation of 47.
        assert!((3_000..=3_700).contains(n), "primary {port} got {n} of the {SUBJECTS} records");
    }

    // One round trip per store operation, as on one server: a verify is a read and a write.
    let issued = failover::issue_one(&engine, "trips@example.com");
    let before = store_commands(&d);
    engine.verify(&issued.token, &issued.code).unwrap();
    assert_eq!(store_commands(&d) - before, 2, "a verify is 2 round trips on the cluster too");
}

#[test]
fn ask_and_moved_are_followed_while_a_slot_migrates() {
    let d = ClusterDeployment::start();
    let mut options = RedisOptions::new("");
    options.deployment = passcode_redis::Deployment::Cluster {
        seeds: vec![passcode_redis::NodeAddress { host: "127.0.0.1".into(), port: d.nodes[0].port }],
        tls: false,
    };
    options.prefix = unique_prefix("migrate");
    let store = RedisStore::open(&options).expect("open on the cluster");
    let k = [0x5a; 32];
    let v1 = store.put(&k, b"before", None, Expected::Absent, 0).unwrap().unwrap();
    let slot = store.slot(&k);
    let source = d.owner_of(slot);
    let target = d.primaries().into_iter().find(|p| *p != source).expect("another primary");
    let (source_id, target_id) = (d.id_of(source), d.id_of(target));
    let slot_text = slot.to_string();
    let ok = |port: u16, args: &[&str]| {
        let answer: String = ask(port, args).unwrap_or_else(|| panic!("{args:?} on {port}"));
        assert_eq!(answer, "OK", "{args:?}");
    };
    // Mid-migration: the key is already on the target, the slot still belongs to the source.
    ok(target, &["CLUSTER", "SETSLOT", &slot_text, "IMPORTING", &source_id]);
    ok(source, &["CLUSTER", "SETSLOT", &slot_text, "MIGRATING", &target_id]);
    let redis_key = String::from_utf8(store.redis_key(&k)).unwrap();
    ok(source, &["MIGRATE", "127.0.0.1", &target.to_string(), &redis_key, "0", "5000"]);
    let asking = |port: u16| -> u64 {
        let info: String = ask(port, &["INFO", "commandstats"]).unwrap();
        info.lines()
            .find_map(|l| l.strip_prefix("cmdstat_asking:calls="))
            .and_then(|v| v.split(',').next()?.parse().ok())
            .unwrap_or(0)
    };
    let asked = asking(target);
    assert_eq!(store.get(&k, 0).unwrap(), Some((b"before".to_vec(), v1)), "read through ASK");
    let v2 = store.put(&k, b"during", None, Expected::Version(v1), 0).unwrap().expect("written through ASK");
    assert_eq!(asking(target) - asked, 2, "ASKING went to the target once per operation");
    // The migration ends: the slot is the target's, and the source answers MOVED.
    for node in d.primaries() {
        ok(node, &["CLUSTER", "SETSLOT", &slot_text, "NODE", &target_id]);
    }
    let v3 = store.put(&k, b"after", None, Expected::Version(v2), 0).unwrap().expect("written after MOVED");
    assert_eq!(store.get(&k, 0).unwrap(), Some((b"after".to_vec(), v3)));
    let on_target: i64 = ask(target, &["EXISTS", &redis_key]).unwrap();
    assert_eq!(on_target, 1, "the record lives on the target now");
}

fn store_extra(d: &ClusterDeployment, wait_replicas: u32) -> String {
    format!(
        "{}\npool_size = 2\nconnect_timeout_ms = {TIMEOUT_MS}\ncommand_timeout_ms = {TIMEOUT_MS}\n\
         wait_replicas = {wait_replicas}\nwait_timeout_ms = {TIMEOUT_MS}",
        d.store_toml()
    )
}

/// A key whose slot the primary on `port` serves.
fn key_on(d: &ClusterDeployment, store_prefix: &str, port: u16) -> [u8; 32] {
    (0u8..=255)
        .map(|i| [i; 32])
        .find(|k| {
            let mut name = store_prefix.as_bytes().to_vec();
            name.extend(k.iter().flat_map(|b| format!("{b:02x}").into_bytes()));
            d.owner_of(passcode_redis::key_slot(&name)) == port
        })
        .expect("a key on that primary")
}

#[test]
fn cluster_failover_mid_run_keeps_single_use_and_the_caps() {
    let d = ClusterDeployment::start();
    let victim = d.primaries()[0];
    let replica = d.replica_of(victim);
    let key = KeyFile::new();
    let prefix = unique_prefix("failover");
    let text = config_toml("", &prefix, &store_extra(&d, 1), &key.path, failover::POLICY);
    // CLUSTER FAILOVER on the replica: the primary stops taking writes, the replica catches
    // up and takes over, the old primary becomes its replica. Nothing acknowledged is lost.
    let (_, outage) = failover::run(
        &text,
        key_on(&d, &prefix, victim),
        || {
            let ok: String = ask(replica, &["CLUSTER", "FAILOVER"]).expect("CLUSTER FAILOVER");
            assert_eq!(ok, "OK");
        },
        || d.wait_until_settled(Duration::from_secs(30)),
    );
    assert!(d.primaries().contains(&replica), "the replica was promoted");
    assert!(outage < Duration::from_secs(5), "unavailable for {outage:?}");
}

#[test]
fn primary_killed_mid_run_keeps_single_use_and_the_caps() {
    let d = std::cell::RefCell::new(ClusterDeployment::start());
    let victim = d.borrow().primaries()[0];
    let replica = d.borrow().replica_of(victim);
    let key = KeyFile::new();
    let prefix = unique_prefix("killed");
    let text = config_toml("", &prefix, &store_extra(&d.borrow(), 1), &key.path, failover::POLICY);
    let probe_key = key_on(&d.borrow(), &prefix, victim);
    let (_, outage) = failover::run(
        &text,
        probe_key,
        || {
            d.borrow_mut().node(victim).stop();
            // The replica takes over after the node timeout; then the supervisor restarts
            // the old primary, which rejoins as the new primary's replica, so that writes
            // with wait_replicas = 1 succeed again.
            wait_until("the replica to take over", Duration::from_secs(30), || {
                ask::<String>(replica, &["INFO", "replication"]).is_some_and(|r| r.contains("role:master"))
            });
            d.borrow_mut().node(victim).restart();
        },
        || d.borrow().wait_until_settled(Duration::from_secs(30)),
    );
    assert!(d.borrow().primaries().contains(&replica), "the replica was promoted");
    // The node timeout, the replica's election, and the old primary's restart and resync.
    assert!(outage < Duration::from_millis(DOWN_AFTER_MS) + Duration::from_secs(10), "unavailable for {outage:?}");
}

#[test]
fn a_killed_primary_that_stays_down_is_replaced_without_a_restart_of_the_store() {
    // No restart of the old primary, no WAIT: the store must find the promoted replica by
    // itself (the dead node's pool cannot connect, which makes it reload the slot map).
    let mut d = ClusterDeployment::start();
    let victim = d.primaries()[0];
    let replica = d.replica_of(victim);
    let key = KeyFile::new();
    let prefix = unique_prefix("stays-down");
    let text = config_toml("", &prefix, &store_extra(&d, 0), &key.path, "");
    let options = RedisOptions::from_config(&Config::parse(&text).unwrap().store).unwrap();
    let store = RedisStore::open(&options).unwrap();
    let k = key_on(&d, &prefix, victim);
    store.put(&k, b"probe", Some(600), Expected::Absent, 0).unwrap();
    let probe = failover::Probe::start(store, k);
    std::thread::sleep(Duration::from_millis(200));
    d.node(victim).stop();
    wait_until("the replica to take over", Duration::from_secs(30), || {
        ask::<String>(replica, &["INFO", "replication"]).is_some_and(|r| r.contains("role:master"))
    });
    std::thread::sleep(Duration::from_millis(1500));
    let outage = probe.finish();
    eprintln!("a primary killed for good: the store was unavailable for {outage:?}");
    assert!(outage < Duration::from_millis(DOWN_AFTER_MS) + Duration::from_secs(5), "unavailable for {outage:?}");
}
