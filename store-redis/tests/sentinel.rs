//! Redis Sentinel: one primary, two replicas and three sentinels, started by the test on
//! loopback. The store finds the primary through the sentinels, follows a failover without
//! a restart of the engine, and keeps single use and the guess caps through it.

#[path = "support/failover.rs"]
mod failover;
mod support;

use std::time::{Duration, Instant};

use passcode_core::config::StoreConfig;
use passcode_core::{Config, ERROR_TABLE};
use passcode_vectors::engine_surface::EngineSurface;
use support::deployments::{SentinelDeployment, DOWN_AFTER_MS};
use support::{config_toml, unique_prefix, KeyFile};

/// Timeouts of the engines in these tests (ms).
const TIMEOUT_MS: u64 = 500;

fn store_extra(d: &SentinelDeployment, wait_replicas: u32) -> String {
    format!(
        "{}\npool_size = 2\nconnect_timeout_ms = {TIMEOUT_MS}\ncommand_timeout_ms = {TIMEOUT_MS}\n\
         wait_replicas = {wait_replicas}\nwait_timeout_ms = {TIMEOUT_MS}",
        d.store_toml()
    )
}

#[test]
fn every_vector_passes_on_sentinel_and_a_hung_sentinel_is_skipped() {
    let d = SentinelDeployment::start();
    let sentinels: Vec<String> = d.sentinels.iter().map(|s| format!("127.0.0.1:{}", s.port)).collect();
    let primary = d.primary_port();
    let before: i64 = support::deployments::ask(primary, &["DBSIZE"]).unwrap();
    passcode_vectors::run_all_or_panic(
        &mut || {
            let sentinels = sentinels.clone();
            Box::new(EngineSurface::new(move |mut config| {
                config.store = StoreConfig {
                    url: String::new(),
                    sentinels: Some(sentinels.clone()),
                    master_name: Some(SentinelDeployment::MASTER.into()),
                    prefix: Some(unique_prefix("vector")),
                    ..StoreConfig::default()
                };
                passcode_redis::builder(config)
            }))
        },
        ERROR_TABLE,
    );
    let after: i64 = support::deployments::ask(primary, &["DBSIZE"]).unwrap();
    assert!(after - before > 23, "the records went to the primary the sentinels named: {before} -> {after}");

    // The URL form, as the gateway's --store takes it, and a first sentinel that accepts
    // connections but never answers (SIGSTOP): the store asks the next within the timeouts.
    let key = KeyFile::new();
    let url = format!("redis+sentinel://{}/{}", sentinels.join(","), SentinelDeployment::MASTER);
    let text = config_toml(
        &url,
        "hung:",
        &format!("connect_timeout_ms = {TIMEOUT_MS}\ncommand_timeout_ms = {TIMEOUT_MS}"),
        &key.path,
        "",
    );
    let pid = d.sentinels[0].pid().expect("running");
    let signal = |sig: &str| {
        assert!(std::process::Command::new("kill").args([sig, &pid.to_string()]).status().unwrap().success())
    };
    signal("-STOP");
    let start = Instant::now();
    let opened = passcode_redis::open_engine(Config::parse(&text).unwrap());
    let took = start.elapsed();
    signal("-CONT");
    let engine = opened.expect("the second sentinel names the primary");
    assert!(took < Duration::from_millis(4 * TIMEOUT_MS), "one hung sentinel costs at most its timeouts: {took:?}");
    let issued = failover::issue_one(&engine, "jane@example.com");
    engine.verify(&issued.token, &issued.code).expect("verify through the URL form");
}

/// A run with the primary failed over by `trigger` mid-way; the sentinels must name another.
fn failover_mid_run(
    d: &mut SentinelDeployment,
    wait_replicas: u32,
    trigger: impl FnOnce(&mut SentinelDeployment),
) -> (failover::Outcome, Duration) {
    let key = KeyFile::new();
    let text = config_toml("", &unique_prefix("failover"), &store_extra(d, wait_replicas), &key.path, failover::POLICY);
    let old = d.primary_port();
    let d = std::cell::RefCell::new(d);
    let result = failover::run(
        &text,
        [0x42; 32],
        || trigger(&mut d.borrow_mut()),
        || d.borrow().wait_until_settled_without(old, Duration::from_secs(30)),
    );
    assert_ne!(d.borrow().primary_port(), old, "the sentinels moved the primary");
    result
}

#[test]
fn sentinel_failover_mid_run_keeps_single_use_and_the_caps() {
    let mut d = SentinelDeployment::start();
    // An operator's switch: the old primary stays up until the sentinels turn it into a
    // replica, so only a write acknowledged by every replica is sure to survive.
    let (_, outage) = failover_mid_run(&mut d, 2, |d| d.failover());
    assert!(outage < Duration::from_secs(15), "unavailable for {outage:?}");
}

#[test]
fn primary_killed_mid_run_keeps_single_use_and_the_caps() {
    let mut d = SentinelDeployment::start();
    let (_, outage) = failover_mid_run(&mut d, 1, |d| {
        let port = d.primary_port();
        d.server(port).stop();
    });
    // Detection (down-after-milliseconds), the sentinels' vote, the promotion, and the
    // remaining replica's resync before WAIT 1 can succeed.
    assert!(outage < Duration::from_millis(DOWN_AFTER_MS) + Duration::from_secs(10), "unavailable for {outage:?}");
}

#[test]
fn writes_leave_a_switched_over_primary_within_seconds_not_ten() {
    // After SENTINEL FAILOVER the old primary stays writable until the sentinels turn it
    // into a replica (about ten seconds), and what it takes then is lost when it resyncs
    // from the new primary. The sentinels name the new primary within about a second (their
    // INFO period during a failover), the store asks them every 500 ms and moves its
    // connections: with wait_replicas = 0, only the writes of that window are lost.
    let d = SentinelDeployment::start();
    let key = KeyFile::new();
    let text = config_toml("", &unique_prefix("switch"), &store_extra(&d, 0), &key.path, "");
    let options = passcode_redis::RedisOptions::from_config(&Config::parse(&text).unwrap().store).unwrap();
    let store = passcode_redis::RedisStore::open(&options).unwrap();
    let old = d.primary_port();
    d.failover();
    let start = Instant::now();
    let mut written = Vec::new();
    for i in 0..150u32 {
        let mut k = [0u8; 32];
        k[..4].copy_from_slice(&i.to_be_bytes());
        if passcode_core::Store::put(&store, &k, b"w", Some(600), passcode_core::Expected::Absent, 0).is_ok() {
            written.push((start.elapsed(), String::from_utf8(store.redis_key(&k)).unwrap()));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    d.wait_until_settled_without(old, Duration::from_secs(30));
    let new = d.primary_port();
    let lost: Vec<Duration> = written
        .iter()
        .filter(|(_, k)| support::deployments::ask::<i64>(new, &["EXISTS", k]) != Some(1))
        .map(|(at, _)| *at)
        .collect();
    eprintln!(
        "{} writes, {} lost with the old primary, the last {:?} after SENTINEL FAILOVER",
        written.len(),
        lost.len(),
        lost.last()
    );
    assert!(written.len() > 100, "the store kept writing through the switchover: {}", written.len());
    assert!(
        lost.last().is_none_or(|t| *t < Duration::from_millis(2500)),
        "writes went to the old primary until {:?} after the switchover",
        lost.last()
    );
}
