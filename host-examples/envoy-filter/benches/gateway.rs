//! The gateway's verify requests per second on loopback under `wrk` (Debian's `wrk`):
//! `cargo bench -p passcode-envoy-filter --bench gateway`. It starts the gateway in this
//! process, prepares challenges through the API, then runs wrk with `benches/verify.lua`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;

use passcode_envoy_filter::gateway::{Gateway, GatewayConfig};
use passcode_envoy_filter::host::require_wasm;

const CHALLENGES: usize = 4000;

/// Starts a sign-in from a distinct client address (the gateway trusts X-Forwarded-For
/// here, so the per-client send bucket does not cap the preparation) and returns the token.
fn start(addr: SocketAddr, i: usize) -> String {
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
    let cookie =
        out.lines().find(|l| l.starts_with("set-cookie: passcode_challenge=")).unwrap_or_else(|| panic!("{out}"));
    cookie["set-cookie: passcode_challenge=".len()..].split(';').next().unwrap().to_string()
}

fn main() {
    if Command::new("wrk").arg("--version").output().is_err() {
        panic!("wrk is missing: install Debian's `wrk` (scripts/setup does)");
    }
    let wasm = require_wasm().unwrap_or_else(|m| panic!("{m}"));
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get());
    let outbox = std::env::temp_dir().join(format!("passcode-bench-outbox-{}", std::process::id()));
    let mut config = GatewayConfig::development(wasm);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.print_outbox = false;
    config.outbox = outbox.clone();
    config.trust_forwarded = true;
    config.workers = workers;
    let gateway = Gateway::start(config).unwrap();
    let addr = gateway.addr();

    let tokens: Vec<String> = (0..CHALLENGES).map(|i| start(addr, i)).collect();
    let tokens_file = std::env::temp_dir().join(format!("passcode-bench-tokens-{}", std::process::id()));
    std::fs::write(&tokens_file, tokens.join("\n")).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/verify.lua");
    println!("gateway on {addr} with {workers} workers (one component instance each); {CHALLENGES} challenges");
    let out = Command::new("wrk")
        .args(["-t2", "-c32", "-d10s", "--latency", "-s"])
        .arg(&script)
        .arg(format!("http://{addr}/passcode/verify"))
        .env("TOKENS_FILE", &tokens_file)
        .output()
        .expect("run wrk");
    print!("{}", String::from_utf8_lossy(&out.stdout));
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_file(&tokens_file);
    let _ = std::fs::remove_dir_all(&outbox);
    drop(gateway);
    assert!(out.status.success(), "wrk failed");
}
