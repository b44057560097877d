//! The gateway's verify requests per second and p99 on loopback under `wrk` (Debian's `wrk`),
//! next to the same server's trivial route (`/healthz`, a 204) in the same run:
//! `cargo bench -p passcode-envoy-filter --bench gateway`. It starts the gateway in this
//! process, prepares challenges through the API, then runs wrk on `/healthz` and with
//! `benches/verify.lua`, and prints the figures and their ratios.
//!
//! A third run sends the same verify requests without their challenge cookie, which the
//! gateway refuses (400, no-challenge) before calling the engine: the HTTP work of a verify
//! alone (hyper, the body, the filters, the JSON answer, the metrics), with the client's work
//! the same as in the verify run. The three runs split a verify's cost per request into the
//! HTTP part and the engine part (the component call and the store).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use passcode_envoy_filter::gateway::{Gateway, GatewayConfig};
use passcode_envoy_filter::host::require_wasm;

const CHALLENGES: usize = 4000;

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

/// Runs wrk for 10 s with 2 threads and 32 connections; returns its output.
///
/// wrk runs as `SCHED_BATCH` (`chrt --batch 0`): it shares the two cores with the gateway,
/// and as an ordinary thread each answer that wakes it preempts the gateway's worker, a cost a
/// client on another machine never puts on the server. It falls hardest on the slowest run:
/// measured with `perf stat -e context-switches`, 0.09 switches per trivial request, 0.32 per
/// verify without the engine and 0.80 per verify. A batch thread is not run ahead of the
/// thread that woke it; it still gets its share of the cores, on the tick.
fn wrk(url: &str, script: Option<&Path>, tokens: &Path, without_challenge: bool) -> String {
    let mut cmd = Command::new("chrt");
    cmd.args(["--batch", "0", "wrk"]);
    if without_challenge {
        cmd.env("WITHOUT_CHALLENGE", "1");
    }
    cmd.args(["-t2", "-c32", "-d10s", "--latency"]);
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

/// Runs wrk and returns its output and the gateway's CPU time per request (µs): a figure the
/// other load on the machine moves less than requests per second.
fn measured(url: &str, script: Option<&Path>, tokens: &Path, without_challenge: bool) -> (String, f64) {
    let before = process_cpu();
    let out = wrk(url, script, tokens, without_challenge);
    let cpu = process_cpu().saturating_sub(before);
    let requests: f64 = out
        .lines()
        .find_map(|l| l.trim().split_once(" requests in ").map(|(n, _)| n.trim().parse().unwrap_or(0.0)))
        .unwrap_or(0.0);
    (out, cpu.as_secs_f64() * 1e6 / requests.max(1.0))
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
    let tokens_file = std::env::temp_dir().join(format!("passcode-bench-tokens-{}", std::process::id()));
    std::fs::write(&tokens_file, tokens.join("\n")).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/verify.lua");
    println!("gateway on {addr} with {workers} workers (one component instance each); {CHALLENGES} challenges");
    let verify_url = format!("http://{addr}/passcode/verify");
    let (trivial, t_cpu) = measured(&format!("http://{addr}/healthz"), None, &tokens_file, false);
    println!("--- GET /healthz (204) ---\n{trivial}");
    let (http_only, h_cpu) = measured(&verify_url, Some(&script), &tokens_file, true);
    println!("--- POST /passcode/verify without the challenge cookie (400 before the engine) ---\n{http_only}");
    let (verify, v_cpu) = measured(&verify_url, Some(&script), &tokens_file, false);
    println!("--- POST /passcode/verify ---\n{verify}");
    // The answers' statuses, from the gateway's own count (wrk's script does not read them).
    let metrics = gateway.metrics_text();
    for line in metrics.lines().filter(|l| l.starts_with("passcode_http_requests_total{route=\"verify\"")) {
        println!("{line}");
    }
    let (t_rps, t_p99) = figures(&trivial);
    let (h_rps, h_p99) = figures(&http_only);
    let (v_rps, v_p99) = figures(&verify);
    println!("trivial route: {t_rps:.0} requests/s, p99 {t_p99:.2} ms, gateway CPU {t_cpu:.1} µs per request");
    println!(
        "verify, HTTP work alone: {h_rps:.0} requests/s, p99 {h_p99:.2} ms, gateway CPU {h_cpu:.1} µs per request"
    );
    println!("verify:        {v_rps:.0} requests/s, p99 {v_p99:.2} ms, gateway CPU {v_cpu:.1} µs per request");
    println!(
        "a verify's gateway CPU over the trivial route's: {:.1} µs of HTTP work, {:.1} µs in the engine (component and store)",
        h_cpu - t_cpu,
        v_cpu - h_cpu
    );
    println!("verify, HTTP work alone / trivial: {:.2} (requests per second)", h_rps / t_rps);
    println!("verify / trivial: {:.2} (requests per second)", v_rps / t_rps);
    let _ = std::fs::remove_file(&tokens_file);
    let _ = std::fs::remove_dir_all(&outbox);
    drop(gateway);
}
