//! Test support: a gateway on a free loopback port (stopped when dropped), a tiny HTTP
//! client (from any loopback address), raw requests, the DEVELOPMENT outbox reader, and the
//! Python the gateway's tests run (a protected application on `http.server`, the metrics and
//! Envoy config parsers).
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
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

    /// Signs in by email (start, the code from the outbox, verify) and returns the session
    /// cookie pair.
    pub fn sign_in(&self, who: &str) -> String {
        let (r, challenge) = self.start_email(who);
        assert_eq!(r.status, 202, "{}", r.body);
        let code = self.code_for(who);
        let v = self.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{code}"}}"#));
        assert_eq!(v.status, 200, "{}", v.body);
        v.cookie_pair("passcode_session").expect("a session cookie")
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
    config.admin_listen = Some("127.0.0.1:0".parse().unwrap());
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

/// A connection to `addr` from the loopback address `source` (127.0.0.2 is another client
/// than 127.0.0.1 to the gateway).
pub fn connect_from(source: IpAddr, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(source, 0).into())?;
    socket.connect_timeout(&addr.into(), Duration::from_secs(5))?;
    Ok(socket.into())
}

/// Sends raw bytes on a new connection and reads until the gateway closes it (or 10 s): the
/// status code of the first answer, and all the text.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> (Option<u16>, String) {
    let mut s = TcpStream::connect(addr).expect("connect to the gateway");
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let text = String::from_utf8_lossy(&out).to_string();
    (text.split(' ').nth(1).and_then(|c| c.parse().ok()), text)
}

/// The Python of the gateway's tests: a venv with envoy-data-plane, prometheus-client and
/// PyYAML (tests/python/requirements.txt), which scripts/setup makes.
pub fn python() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/py-gateway/bin/python");
    assert!(
        p.exists(),
        "the gateway tests need the Python venv {} (envoy-data-plane, prometheus-client, PyYAML): run scripts/setup",
        p.display()
    );
    p
}

/// Runs one of tests/python/*.py with `stdin`, returning its standard output; fails the test
/// with its standard error if it fails.
pub fn run_python(script: &str, args: &[&str], stdin: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python").join(script);
    let mut child = Command::new(python())
        .arg(&path)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run python");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{script} failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// A protected application on Python's `http.server` (tests/python/echo_upstream.py),
/// stopped when dropped. It answers each request with the headers it parsed.
pub struct PythonUpstream {
    child: Child,
    pub port: u16,
}

impl PythonUpstream {
    pub fn start() -> PythonUpstream {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/python/echo_upstream.py");
        let mut child = Command::new(python())
            .arg(script)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the Python upstream");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| panic!("the upstream printed no port: {line:?}"));
        PythonUpstream { child, port }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Every request it has seen: path, method, header names, X-Passcode-Subject values.
    pub fn seen(&self) -> Vec<serde_json::Value> {
        let r = http(self.addr(), "GET", "/__seen", &[], None);
        serde_json::from_str(&r.body).unwrap()
    }
}

impl Drop for PythonUpstream {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The gateway's metrics, parsed by prometheus_client's OpenMetrics parser.
pub fn scrape(g: &TestGateway) -> serde_json::Value {
    let admin = g.gateway.admin_addr().expect("an admin listener");
    let r = http(admin, "GET", "/metrics", &[], None);
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.header("content-type").unwrap().starts_with("application/openmetrics-text"));
    serde_json::from_str(&run_python("parse_metrics.py", &[], &r.body)).unwrap()
}

/// A sample's value: the one whose name and labels (a subset) match, or 0 if none.
pub fn sample(metrics: &serde_json::Value, name: &str, labels: &[(&str, &str)]) -> f64 {
    metrics["samples"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["name"] == name && labels.iter().all(|(k, v)| s["labels"][*k] == *v))
        .map(|s| s["value"].as_f64().unwrap())
        .sum()
}

/// One HTTP/1.1 request on a new connection.
pub fn http(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Option<&str>) -> Reply {
    http_on(TcpStream::connect(addr).expect("connect to the gateway"), addr, method, path, headers, body)
}

/// One HTTP/1.1 request on a connection already open.
pub fn http_on(
    mut s: TcpStream,
    addr: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
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
    if let Err(e) = s.read_to_end(&mut raw) {
        panic!("reading the answer: {e}; got {:?}", String::from_utf8_lossy(&raw));
    }
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Reply { status, headers, body: body.to_string() }
}
