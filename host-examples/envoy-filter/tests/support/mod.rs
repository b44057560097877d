//! Test support: a gateway on a free loopback port (stopped when dropped), a tiny HTTP
//! client, and the DEVELOPMENT outbox reader.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use passcode_envoy_filter::gateway::{Gateway, GatewayConfig};
use passcode_envoy_filter::host::{require_wasm, HostClock};

/// A gateway and its outbox folder, both gone when dropped.
pub struct TestGateway {
    pub gateway: Gateway,
    pub outbox: PathBuf,
}

impl Drop for TestGateway {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.outbox);
    }
}

impl TestGateway {
    pub fn addr(&self) -> SocketAddr {
        self.gateway.addr()
    }

    /// Sends a request and reads the whole answer.
    pub fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
        http(self.addr(), method, path, headers, body)
    }

    /// A JSON POST with the given cookie header.
    pub fn post(&self, path: &str, cookie: &str, body: &str) -> Reply {
        let mut h = vec![("Content-Type", "application/json")];
        if !cookie.is_empty() {
            h.push(("Cookie", cookie));
        }
        self.send("POST", path, &h, Some(body))
    }

    /// Starts a sign-in by email and returns the reply and the challenge cookie pair.
    pub fn start_email(&self, identifier: &str) -> (Reply, String) {
        let r = self.post(
            "/passcode/start",
            "",
            &format!(r#"{{"channel":"email","identifier":"{identifier}","purpose":"sign-in"}}"#),
        );
        let cookie = r.cookie_pair("passcode_challenge").unwrap_or_default();
        (r, cookie)
    }

    /// Waits until every queued message has been delivered or given up: delivery runs on its
    /// own threads, so a message lands a moment after the answer that queued it.
    pub fn settle(&self) {
        let start = std::time::Instant::now();
        loop {
            let s = self.gateway.delivery_stats();
            if s.waiting == 0 && s.sent + s.failed == s.queued {
                return;
            }
            assert!(start.elapsed() < Duration::from_secs(10), "the delivery queue did not empty: {s:?}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// The code in the newest outbox message to `recipient`.
    pub fn code_for(&self, recipient: &str) -> String {
        self.settle();
        latest_code(&self.outbox, recipient).unwrap_or_else(|| panic!("no outbox message for {recipient}"))
    }

    /// How many outbox messages there are.
    pub fn outbox_count(&self) -> usize {
        self.settle();
        std::fs::read_dir(&self.outbox).map(|d| d.count()).unwrap_or(0)
    }
}

/// Starts a gateway on 127.0.0.1:0 with a fresh outbox; `tweak` changes the config.
pub fn gateway(tweak: impl FnOnce(&mut GatewayConfig)) -> TestGateway {
    let wasm = require_wasm().unwrap_or_else(|m| panic!("{m}"));
    let mut config = GatewayConfig::development(wasm);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.workers = 2;
    config.print_outbox = false;
    // Time moves only when a test moves it: exact expiry and Retry-After figures, no flakes.
    config.clock = HostClock::manual(1_800_000_000);
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    config.outbox = std::env::temp_dir().join(format!("passcode-gw-outbox-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&config.outbox);
    tweak(&mut config);
    let outbox = config.outbox.clone();
    let gateway = Gateway::start(config).unwrap_or_else(|e| panic!("the gateway did not start: {e}"));
    TestGateway { gateway, outbox }
}

/// The newest outbox file to `recipient`, and the code in it (the first run of 6 to 10 digits
/// in the message body).
pub fn latest_code(outbox: &Path, recipient: &str) -> Option<String> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(outbox).ok()?.filter_map(|e| e.ok().map(|e| e.path())).collect();
    files.sort();
    for f in files.iter().rev() {
        let text = std::fs::read_to_string(f).ok()?;
        assert!(text.starts_with("DEVELOPMENT ONLY"), "every outbox file is marked: {text}");
        if !text.lines().any(|l| l == format!("To: {recipient}")) {
            continue;
        }
        let body = text.split_once("\n\n").map_or(text.as_str(), |(_, b)| b);
        return body.split(|c: char| !c.is_ascii_digit()).find(|run| (6..=10).contains(&run.len())).map(str::to_string);
    }
    None
}

/// An answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn set_cookies(&self) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie")).map(|(_, v)| v.as_str()).collect()
    }

    /// The full Set-Cookie line for a cookie.
    pub fn set_cookie(&self, name: &str) -> Option<&str> {
        self.set_cookies().into_iter().find(|c| c.starts_with(&format!("{name}=")))
    }

    /// `name=value` for a Cookie header.
    pub fn cookie_pair(&self, name: &str) -> Option<String> {
        self.set_cookie(name).and_then(|c| c.split(';').next()).map(str::to_string)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

/// One HTTP/1.1 request on a new connection.
pub fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect to the gateway");
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (n, v) in headers {
        req.push_str(&format!("{n}: {v}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() || method == "POST" {
        req.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    req.push_str("\r\n");
    req.push_str(body);
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("a status line");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply { status, headers, body: body.to_string() }
}
