//! Verify on Redis next to Redis's own floor, in the same run: one server, a primary found
//! through Sentinel, and a Redis Cluster.
//!
//! Starts its own `redis-server` on loopback, runs `redis-benchmark -t get -c 1` (one
//! connection: the latency of one round trip), then times `Engine::verify` on a
//! Redis-backed engine, single-threaded and with several threads, and counts the store's
//! round trips per verify from `INFO commandstats`. Then the same single-threaded verify
//! on a Sentinel deployment (one primary, two replicas, three sentinels) and on a Cluster
//! (three primaries, three replicas), each next to `redis-benchmark -t get -c 1` on the node
//! that serves it. Run: `cargo bench -p passcode-redis`.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::Command;
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use passcode_core::{Channel, Config, Engine, IssueRequest, Issued, Purpose};
use support::deployments::{ClusterDeployment, SentinelDeployment};
use support::{config_toml, unique_prefix, KeyFile, RedisServer};

fn issue_many(engine: &Engine, tag: &str, n: usize) -> Vec<Issued> {
    (0..n)
        .map(|i| {
            let who = format!("user{i}.{tag}@example.com");
            let request = IssueRequest {
                channel: Channel::Email,
                identifier: &who,
                purpose: Purpose::SignIn,
                client: None,
                locale: None,
            };
            engine.issue(&request).expect("issue")
        })
        .collect()
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

/// Verifies each challenge once with its right code, one after the other; returns each
/// verify's time, sorted, and the whole run's.
fn time_verifies(engine: &Engine, issued: &[Issued]) -> (Vec<Duration>, Duration) {
    let mut times = Vec::with_capacity(issued.len());
    let start = Instant::now();
    for i in issued {
        let t = Instant::now();
        engine.verify(&i.token, &i.code).expect("verify");
        times.push(t.elapsed());
    }
    let total = start.elapsed();
    times.sort();
    (times, total)
}

/// Times `n` single-threaded verifies (right code) on `engine`; returns the mean in µs and
/// prints it beside its floor (a GET and a SET round trip on the serving node, in µs) and
/// the store commands per verify.
fn verify_next_to_floor(
    label: &str,
    engine: &Engine,
    n: usize,
    (get_us, set_us): (f64, f64),
    commands: &dyn Fn() -> u64,
) -> f64 {
    let tag: String = label.chars().take_while(char::is_ascii_alphabetic).collect();
    let issued = issue_many(engine, &tag.to_ascii_lowercase(), n);
    let before = commands();
    let (times, total) = time_verifies(engine, &issued);
    let trips = (commands() - before) as f64 / n as f64;
    let mean_us = total.as_secs_f64() * 1e6 / n as f64;
    println!(
        "  {label}: verify mean {mean_us:.1} us, p50 {:.1} us, p99 {:.1} us; {trips:.2} store round trips per verify; \
         floor GET {get_us:.1} + SET {set_us:.1} = {:.1} us; verify / floor {:.2}x",
        percentile(&times, 0.5).as_secs_f64() * 1e6,
        percentile(&times, 0.99).as_secs_f64() * 1e6,
        get_us + set_us,
        mean_us / (get_us + set_us)
    );
    mean_us
}

/// `redis-benchmark -t TEST` (get or set) with `clients` connections: its result line.
fn redis_benchmark(port: u16, test: &str, clients: u32, n: u32) -> String {
    let out = Command::new("redis-benchmark")
        .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-t", test, "-c", &clients.to_string()])
        .args(["-n", &n.to_string(), "-q"])
        .output()
        .expect("redis-benchmark (Debian package redis-tools) runs");
    // -q prints progress lines ending in \r, then the result line.
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let name = format!("{}:", test.to_ascii_uppercase());
    text.rsplit(['\r', '\n']).map(str::trim).find(|l| l.starts_with(&name)).unwrap_or("no result").to_string()
}

/// The floor of a verify on the node at `port`: one read and one (replicated) write round
/// trip, as `redis-benchmark -t get` and `-t set` with one connection measure them, in µs.
fn floor_of(port: u16, n: usize) -> (f64, f64) {
    let us = |test| 1e6 / rps_of(&redis_benchmark(port, test, 1, n as u32));
    (us("get"), us("set"))
}

fn rps_of(line: &str) -> f64 {
    line.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)
}

fn main() {
    // `cargo test --benches` runs this with --bench absent: stay quick then.
    let quick = !std::env::args().any(|a| a == "--bench");
    let n: usize = if quick { 200 } else { 20_000 };
    let server = RedisServer::start();
    let key = KeyFile::new();

    let single = redis_benchmark(server.port, "get", 1, n as u32);
    let many = redis_benchmark(server.port, "get", 8, (n * 4) as u32);
    let floor_us = 1e6 / rps_of(&single);

    let open = |pool: u32| {
        let text = config_toml(&server.url(), &unique_prefix("bench"), &format!("pool_size = {pool}"), &key.path, "");
        passcode_redis::open_engine(Config::parse(&text).unwrap()).unwrap()
    };

    // Single-threaded verify: each of n challenges verified once with its right code.
    let engine = open(2);
    let issued = issue_many(&engine, "one", n);
    let before = server.store_commands();
    let (times, total) = time_verifies(&engine, &issued);
    let trips = (server.store_commands() - before) as f64 / n as f64;
    let mean_us = total.as_secs_f64() * 1e6 / n as f64;

    // A wrong code costs the same two round trips (the failure is recorded).
    let wrong_n = n.min(2000);
    let to_guess = issue_many(&engine, "wrong", wrong_n);
    let wrong_before = server.store_commands();
    for i in &to_guess {
        let wrong = if i.code.as_str() == "000000" { "000001" } else { "000000" };
        assert!(engine.verify(&i.token, wrong).is_err());
    }
    let wrong_trips = (server.store_commands() - wrong_before) as f64 / wrong_n as f64;

    // One HMGET from Rust on one connection: the client library's round trip.
    let mut admin = server.admin();
    let start = Instant::now();
    for _ in 0..n {
        let _: (Option<Vec<u8>>, Option<Vec<u8>>) =
            redis::cmd("HMGET").arg("bench:absent").arg("v").arg("d").query(&mut admin).unwrap();
    }
    let raw_us = start.elapsed().as_secs_f64() * 1e6 / n as f64;

    // The same verify on the memory store: the engine's own cost, for comparison.
    let memory = Engine::from_config(&Config::default()).unwrap();
    let mem_issued = issue_many(&memory, "mem", n);
    let start = Instant::now();
    for i in &mem_issued {
        memory.verify(&i.token, &i.code).expect("verify");
    }
    let mem_us = start.elapsed().as_secs_f64() * 1e6 / n as f64;

    println!("passcode-redis benchmark (redis-server {} on 127.0.0.1, {n} operations)", server_version(&server));
    println!("  redis-benchmark -t get -c 1: {single}  => {floor_us:.1} us per GET round trip");
    println!("  redis-benchmark -t get -c 8: {many}");
    println!(
        "  verify (right code), 1 thread: mean {mean_us:.1} us, p50 {:.1} us, p99 {:.1} us, {:.0} verifies/s",
        percentile(&times, 0.5).as_secs_f64() * 1e6,
        percentile(&times, 0.99).as_secs_f64() * 1e6,
        n as f64 / total.as_secs_f64()
    );
    println!(
        "  round trips per verify: {trips:.2} (right code), {wrong_trips:.2} (wrong code); the contract needs 2 (get + compare-and-swap put)"
    );
    println!("  one HMGET from Rust (redis crate, 1 connection): {raw_us:.1} us");
    println!("  verify / GET round trip: {:.2}x", mean_us / floor_us);
    println!("  verify on the memory store (engine CPU only): {mem_us:.1} us");

    for threads in [2usize, 4, 8] {
        let engine = Arc::new(open(threads as u32));
        let per = n / threads;
        let batches: Vec<Vec<Issued>> =
            (0..threads).map(|t| issue_many(&engine, &format!("t{threads}-{t}"), per)).collect();
        let barrier = Arc::new(Barrier::new(threads + 1));
        let handles: Vec<_> = batches
            .into_iter()
            .map(|batch| {
                let (engine, barrier) = (engine.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    for i in &batch {
                        engine.verify(&i.token, &i.code).expect("verify");
                    }
                })
            })
            .collect();
        barrier.wait();
        let start = Instant::now();
        for h in handles {
            h.join().unwrap();
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "  verify, {threads} threads, pool {threads}: {:.0} verifies/s ({:.0} store round trips/s)",
            (per * threads) as f64 / secs,
            (per * threads * 2) as f64 / secs
        );
    }

    // The three deployments side by side, single-threaded, each next to its own floor.
    println!("verify by deployment, 1 thread, pool 2 (floor: a GET and a SET round trip on the serving node):");
    let one = open(2);
    verify_next_to_floor("one server", &one, n, floor_of(server.port, n), &|| server.store_commands());
    sentinel_and_cluster(n, &key);
}

/// The same verify on a Sentinel deployment and on a Cluster, each beside its own floor.
fn sentinel_and_cluster(n: usize, key: &KeyFile) {
    let open = |store: String| {
        let text = config_toml("", &unique_prefix("bench"), &format!("{store}\npool_size = 2"), &key.path, "");
        passcode_redis::open_engine(Config::parse(&text).unwrap()).unwrap()
    };

    let sentinel = SentinelDeployment::start();
    let primary = sentinel.primary_port();
    let engine = open(sentinel.store_toml());
    let commands = || sentinel.servers.iter().map(RedisServer::store_commands).sum::<u64>();
    verify_next_to_floor("Sentinel (1 primary, 2 replicas, 3 sentinels)", &engine, n, floor_of(primary, n), &commands);
    drop(engine);
    drop(sentinel);

    let cluster = ClusterDeployment::start();
    let engine = open(cluster.store_toml());
    // redis-benchmark's GET and SET use one key, `key:__rand_int__` (no -r): its slot's primary answers.
    let floor = floor_of(cluster.owner_of(passcode_redis::key_slot(b"key:__rand_int__")), n);
    let commands = || cluster.nodes.iter().map(RedisServer::store_commands).sum::<u64>();
    verify_next_to_floor("Cluster (3 primaries, 3 replicas)", &engine, n, floor, &commands);
}

fn server_version(server: &RedisServer) -> String {
    let info: String = server.query(&["INFO", "server"]);
    info.lines().find_map(|l| l.strip_prefix("redis_version:")).unwrap_or("?").trim().to_string()
}
