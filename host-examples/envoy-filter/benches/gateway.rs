//! The gateway's verify requests per second and p99 on loopback under `wrk` (Debian's `wrk`),
//! next to the same server's trivial route (`/healthz`, a 204) in the same run:
//! `cargo bench -p passcode-envoy-filter --bench gateway`. It starts the gateway in this
//! process, prepares challenges through the API, then runs wrk on `/healthz` and with
//! `benches/verify.lua`, and prints the figures and their ratios.
//!
//! A third route sends the same verify requests without their challenge cookie, which the
//! gateway refuses (400, no-challenge) before calling the engine: the HTTP work of a verify
//! alone (hyper, the body, the filters, the JSON answer, the metrics), with the client's work
//! the same as in the verify run. The three split a verify's cost per request into the HTTP
//! part and the engine part (the component call and the store). They run in turn, in
//! `ROUNDS` rounds, after a short warm-up.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use passcode_envoy_filter::gateway::{Gateway, GatewayConfig};
use passcode_envoy_filter::host::require_wasm;

const CHALLENGES: usize = 4000;
/// Rounds of the three routes in turn, and each wrk run's length in seconds.
const ROUNDS: usize = 3;
const SECONDS: u32 = 6;

/// Starts a sign-in from a distinct client address (the gateway trusts one X-Forwarded-For
/// hop here, so the per-client send bucket does not cap the preparation) and returns the
/// challenge cookie's value. A full delivery queue (503: the outbox writes lag behind on a
/// busy machine) is waited out, as a client would after `Retry-After`.
fn start(addr: SocketAddr, i: usize) -> String {
    for _ in 0..400 {
        match try_start(addr, i) {
            Ok(cookie) => return cookie,
            Err(answer) if answer.starts_with("HTTP/1.1 503") => std::thread::sleep(Duration::from_millis(50)),
            Err(answer) => panic!("{answer}"),
        }
    }
    panic!("the delivery queue stayed full for 20 s");
}

fn try_start(addr: SocketAddr, i: usize) -> Result<String, String> {
    let body = format!(r#"{{"channel":"email","identifier":"bench{i}@example.com"}}"#);
    let req = format!(
        "POST /passcode/start HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/json\r\nX-Forwarded-For: 10.{}.{}.{}\r\nContent-Length: {}\r\n\r\n{body}",
        (i >> 16) & 255,
        (i >> 8) & 255,
        i & 255,
        body.len()
    );
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let Some(cookie) = out.lines().find_map(|l| l.strip_prefix("set-cookie: passcode_challenge=")) else {
        return Err(out);
    };
    Ok(cookie.split(';').next().unwrap_or_default().to_string())
}

/// Runs wrk for `seconds` with 2 threads and 32 connections; returns its output.
///
/// wrk runs as `SCHED_BATCH` (`chrt --batch 0`): it shares the two cores with the gateway,
/// and as an ordinary thread each answer that wakes it preempts the gateway's worker, a cost a
/// client on another machine never puts on the server. It falls hardest on the slowest run:
/// measured with `perf stat -e context-switches`, 0.09 switches per trivial request, 0.32 per
/// verify without the engine and 0.80 per verify. A batch thread is not run ahead of the
/// thread that woke it; it still gets its share of the cores, on the tick.
fn wrk(url: &str, script: Option<&Path>, tokens: &Path, without_challenge: bool, seconds: u32) -> String {
    let mut cmd = Command::new("chrt");
    cmd.args(["--batch", "0", "wrk"]);
    if without_challenge {
        cmd.env("WITHOUT_CHALLENGE", "1");
    }
    cmd.args(["-t2", "-c32", &format!("-d{seconds}s"), "--latency"]);
    if let Some(s) = script {
        cmd.arg("-s").arg(s);
    }
    let out = cmd.arg(url).env("TOKENS_FILE", tokens).output().expect("run wrk");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "wrk failed: {text}");
    text
}

/// The CPU time this process (the gateway) has used: user plus system, from /proc.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // The fields after the command (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')').expect("a stat line").1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    let hz: u64 = Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|t| t.trim().parse().ok())
        .unwrap_or(100);
    Duration::from_micros(ticks * 1_000_000 / hz)
}

/// One wrk run's figures: requests per second, the p99 latency (ms) and the gateway's CPU time
/// per request (µs), a figure the other load on the machine moves less than the rate.
#[derive(Clone, Copy)]
struct Run {
    rps: f64,
    p99: f64,
    cpu: f64,
}

/// Runs wrk and returns its output and its figures.
fn measured(url: &str, script: Option<&Path>, tokens: &Path, without_challenge: bool, seconds: u32) -> (String, Run) {
    let before = process_cpu();
    let out = wrk(url, script, tokens, without_challenge, seconds);
    let cpu = process_cpu().saturating_sub(before);
    let requests: f64 = out
        .lines()
        .find_map(|l| l.trim().split_once(" requests in ").map(|(n, _)| n.trim().parse().unwrap_or(0.0)))
        .unwrap_or(0.0);
    let (rps, p99) = figures(&out);
    (out, Run { rps, p99, cpu: cpu.as_secs_f64() * 1e6 / requests.max(1.0) })
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Requests per second and the p99 latency (ms) from wrk's output.
fn figures(wrk: &str) -> (f64, f64) {
    let rps = wrk
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no Requests/sec in {wrk}"));
    let p99 = wrk
        .lines()
        .find_map(|l| l.trim().strip_prefix("99%"))
        .map(str::trim)
        .and_then(|v| {
            let (n, scale) = if let Some(us) = v.strip_suffix("us") {
                (us, 0.001)
            } else if let Some(ms) = v.strip_suffix("ms") {
                (ms, 1.0)
            } else {
                (v.strip_suffix('s')?, 1000.0)
            };
            n.parse::<f64>().ok().map(|n| n * scale)
        })
        .unwrap_or_else(|| panic!("no 99% latency in {wrk}"));
    (rps, p99)
}

fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        panic!("wrk is missing: install Debian's `wrk` (scripts/setup does)");
    }
    if Command::new("chrt").arg("--version").output().is_err() {
        panic!("chrt is missing: install Debian's `util-linux`");
    }
    let wasm = require_wasm().unwrap_or_else(|m| panic!("{m}"));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let outbox = std::env::temp_dir().join(format!("passcode-bench-outbox-{}", std::process::id()));
    let mut config = GatewayConfig::development(wasm);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.admin_listen = None;
    config.print_outbox = false;
    config.outbox = outbox.clone();
    config.xff_trusted_hops = 1;
    config.workers = workers;
    let gateway = Gateway::start(config).unwrap();
    let addr = gateway.addr();

    let tokens: Vec<String> = (0..CHALLENGES).map(|i| start(addr, i)).collect();
    // The outbox writes lag behind the answers: wait for the last, so that none runs in the
    // gateway's process (and on the cores) during the measured runs.
    let waited = std::time::Instant::now();
    loop {
        let stats = gateway.delivery_stats();
        if stats.waiting == 0 && stats.sent + stats.failed >= stats.queued {
            break;
        }
        assert!(waited.elapsed() < Duration::from_secs(60), "the outbox writes did not finish in 60 s: {stats:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    let tokens_file = std::env::temp_dir().join(format!("passcode-bench-tokens-{}", std::process::id()));
    std::fs::write(&tokens_file, tokens.join("\n")).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/verify.lua");
    println!(
        "gateway on {addr} with {workers} workers (one component instance each); {CHALLENGES} challenges, their \
         messages written to the outbox {:.1} s after the last answer",
        waited.elapsed().as_secs_f64()
    );
    let verify_url = format!("http://{addr}/passcode/verify");
    let trivial_url = format!("http://{addr}/healthz");
    // The three routes in turn, ROUNDS times, so that a drift of the machine's speed (it moves
    // the trivial route's rate by a fifth from run to run) falls on all three alike; each
    // figure is the median of its rounds, each ratio the median of the rounds' ratios.
    let _ = measured(&trivial_url, None, &tokens_file, false, 2);
    let mut rounds: Vec<[Run; 3]> = Vec::new();
    for round in 1..=ROUNDS {
        let (trivial, t) = measured(&trivial_url, None, &tokens_file, false, SECONDS);
        println!("--- round {round}: GET /healthz (204) ---\n{trivial}");
        let (http_only, h) = measured(&verify_url, Some(&script), &tokens_file, true, SECONDS);
        println!(
            "--- round {round}: POST /passcode/verify without the challenge cookie (400 before the engine) ---\n{http_only}"
        );
        let (verify, v) = measured(&verify_url, Some(&script), &tokens_file, false, SECONDS);
        println!("--- round {round}: POST /passcode/verify ---\n{verify}");
        rounds.push([t, h, v]);
    }
    // The answers' statuses, from the gateway's own count (wrk's script does not read them).
    let metrics = gateway.metrics_text();
    for line in metrics.lines().filter(|l| l.starts_with("passcode_http_requests_total{route=\"verify\"")) {
        println!("{line}");
    }
    for (i, [t, h, v]) in rounds.iter().enumerate() {
        println!(
            "round {}: healthz {:.0}/s ({:.1} µs), HTTP alone {:.0}/s ({:.1} µs), full {:.0}/s ({:.1} µs); ratios {:.2} and {:.2}",
            i + 1,
            t.rps,
            t.cpu,
            h.rps,
            h.cpu,
            v.rps,
            v.cpu,
            h.rps / t.rps,
            v.rps / t.rps
        );
    }
    let of = |i: usize, f: fn(&Run) -> f64| median(rounds.iter().map(|r| f(&r[i])).collect());
    let ratio = |i: usize| median(rounds.iter().map(|r| r[i].rps / r[0].rps).collect());
    let line = |i: usize| {
        format!(
            "{:.0} requests/s, p99 {:.2} ms, gateway CPU {:.1} µs per request",
            of(i, |r| r.rps),
            of(i, |r| r.p99),
            of(i, |r| r.cpu)
        )
    };
    println!("medians of {ROUNDS} rounds of {SECONDS} s:");
    println!("trivial route: {}", line(0));
    println!("verify, HTTP work alone: {}", line(1));
    println!("verify:        {}", line(2));
    println!(
        "a verify's gateway CPU over the trivial route's: {:.1} µs of HTTP work, {:.1} µs in the engine (component and store)",
        of(1, |r| r.cpu) - of(0, |r| r.cpu),
        of(2, |r| r.cpu) - of(1, |r| r.cpu)
    );
    println!("verify, HTTP work alone / trivial: {:.2} (requests per second)", ratio(1));
    println!("verify / trivial: {:.2} (requests per second)", ratio(2));
    let _ = std::fs::remove_file(&tokens_file);
    let _ = std::fs::remove_dir_all(&outbox);
    drop(gateway);
}
