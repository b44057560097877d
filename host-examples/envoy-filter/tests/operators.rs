//! What operators run the gateway with: the metrics scraped and parsed by Prometheus's own
//! text-format parser, the probes, HTTP/2 (h2c and TLS), the options file, JSON logs, and a
//! graceful shutdown on SIGTERM that finishes requests in flight and drains delivery.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use passcode_envoy_filter::gateway::DEFAULT_ENGINE_CONFIG;
use passcode_envoy_filter::host::require_wasm;
use passcode_test_servers::{Certificates, SmtpOptions, SmtpServer};
use support::{gateway, http, sample, scrape, PythonUpstream};

const JANE: &str = "jane@example.com";

#[test]
fn metrics_count_what_happened_without_identifiers() {
    let g = gateway(|_| {});
    let (r, challenge) = g.start_email(JANE);
    assert_eq!(r.status, 202);
    assert_eq!(g.start_email(JANE).0.status, 429, "the resend cooldown");
    let code = g.code_for(JANE);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(g.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{wrong}"}}"#)).status, 401);
    let v = g.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{code}"}}"#));
    assert_eq!(v.status, 200);
    let session = v.cookie_pair("passcode_session").unwrap();
    assert_eq!(g.send("POST", "/passcode/signout", &[("Cookie", &session)], Some("")).status, 303);
    // Ten failures of one subject across two challenges lock it.
    let bob = "bob@example.org";
    let (_, c1) = g.start_email(bob);
    let bob_code = g.code_for(bob);
    let bad = if bob_code == "999999" { "999998" } else { "999999" };
    for _ in 0..5 {
        assert_eq!(g.post("/passcode/verify", &c1, &format!(r#"{{"code":"{bad}"}}"#)).status, 401);
    }
    g.gateway.clock().advance(31);
    let (_, c2) = g.start_email(bob);
    let bad = if g.code_for(bob) == "999999" { "999998" } else { "999999" };
    let last = (0..5).map(|_| g.post("/passcode/verify", &c2, &format!(r#"{{"code":"{bad}"}}"#)).status).last();
    assert_eq!(last, Some(423), "the tenth counted failure starts the lock");
    assert_eq!(g.post("/passcode/verify", &c2, &format!(r#"{{"code":"{bad}"}}"#)).status, 423, "a guess while locked");
    g.settle();

    let m = scrape(&g);
    let fam = &m["families"];
    assert_eq!(fam["passcode_engine_operations"], "counter");
    assert_eq!(fam["passcode_engine_operation_seconds"], "histogram");
    assert_eq!(fam["passcode_connections_open"], "gauge");
    let ops = "passcode_engine_operations_total";
    let email_sign_in = [("channel", "email"), ("purpose", "sign-in")];
    let with = |extra: &[(&'static str, &'static str)]| [&email_sign_in[..], extra].concat();
    assert_eq!(sample(&m, ops, &with(&[("operation", "start"), ("outcome", "sent")])), 3.0);
    assert_eq!(sample(&m, ops, &with(&[("operation", "start"), ("outcome", "resend-too-soon")])), 1.0);
    assert_eq!(sample(&m, ops, &with(&[("operation", "verify"), ("outcome", "wrong-code")])), 10.0);
    assert_eq!(sample(&m, ops, &with(&[("operation", "verify"), ("outcome", "verified")])), 1.0);
    assert_eq!(sample(&m, ops, &with(&[("operation", "verify"), ("outcome", "wrong-code-locked")])), 1.0);
    assert_eq!(sample(&m, ops, &with(&[("operation", "verify"), ("outcome", "subject-locked")])), 1.0);
    assert_eq!(sample(&m, "passcode_locks_total", &with(&[("lock", "temporary")])), 1.0);
    assert_eq!(sample(&m, "passcode_limits_total", &with(&[("limit", "resend-cooldown")])), 1.0);
    assert_eq!(sample(&m, "passcode_deliveries_total", &with(&[("outcome", "queued")])), 3.0);
    assert_eq!(sample(&m, "passcode_deliveries_total", &with(&[("outcome", "sent")])), 3.0);
    assert_eq!(sample(&m, "passcode_engine_operation_seconds_count", &[("operation", "verify")]), 13.0);
    assert_eq!(sample(&m, "passcode_http_requests_total", &[("route", "verify"), ("status", "200")]), 1.0);
    assert_eq!(sample(&m, "passcode_sessions_total", &[("event", "created")]), 1.0);
    assert_eq!(sample(&m, "passcode_sessions_total", &[("event", "revoked")]), 1.0);
    let text = m["samples"].to_string();
    for secret in ["jane", "bob", "example", &code, &bob_code] {
        assert!(!text.contains(secret), "the metrics hold {secret:?}");
    }
}

#[test]
fn the_probes_say_alive_and_ready() {
    let g = gateway(|_| {});
    let admin = g.gateway.admin_addr().unwrap();
    for addr in [g.addr(), admin] {
        assert_eq!(http(addr, "GET", "/healthz", &[], None).status, 204);
        assert_eq!(http(addr, "GET", "/readyz", &[], None).status, 204);
    }
    assert_eq!(http(g.addr(), "GET", "/metrics", &[], None).status, 401, "metrics are on the admin listener only");
    assert_eq!(http(admin, "GET", "/passcode/start", &[], None).status, 404);
}

/// One GET over HTTP/2 on an open connection (prior knowledge, or ALPN), returning the status
/// and the HTTP version of the answer.
async fn h2_get<I>(io: I, uri: &str) -> (u16, http::Version, Bytes)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(io))
        .await
        .expect("an HTTP/2 handshake");
    tokio::spawn(conn);
    let request = hyper::Request::get(uri).body(Empty::<Bytes>::new()).unwrap();
    let response = sender.send_request(request).await.expect("an answer");
    let (status, version) = (response.status().as_u16(), response.version());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, version, body)
}

#[test]
fn http2_is_served_in_the_clear_and_over_tls() {
    let certs = Certificates::new();
    let plain = gateway(|_| {});
    let tls =
        gateway(|c| c.tls = Some(passcode_envoy_filter::gateway::TlsFiles { cert: certs.cert(), key: certs.key() }));
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let stream = tokio::net::TcpStream::connect(plain.addr()).await.unwrap();
        let (status, version, body) = h2_get(stream, &format!("http://{}/signin", plain.addr())).await;
        assert_eq!((status, version), (200, http::Version::HTTP_2));
        assert!(String::from_utf8_lossy(&body).contains(r#"autocomplete="one-time-code""#));

        use tokio_rustls::rustls;
        let mut roots = rustls::RootCertStore::empty();
        use rustls_pki_types::pem::PemObject;
        for cert in rustls_pki_types::CertificateDer::pem_file_iter(certs.ca()).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let mut config =
            rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = vec![b"h2".to_vec()];
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let stream = tokio::net::TcpStream::connect(tls.addr()).await.unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let stream = connector.connect(name, stream).await.expect("a TLS handshake");
        assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
        let (status, version, _) = h2_get(stream, &format!("https://localhost:{}/healthz", tls.addr().port())).await;
        assert_eq!((status, version), (204, http::Version::HTTP_2));
    });
    assert!(tls.gateway.url().starts_with("https://"));
}

/// An HTTP/2 HEADERS frame (END_STREAM, END_HEADERS) for stream 1, GET /healthz, with one
/// extra header whose value is given raw: HPACK literals without Huffman coding.
fn h2_headers_frame(value: &[u8]) -> Vec<u8> {
    let mut block = vec![0x82, 0x86]; // :method GET, :scheme http (static table)
    block.extend([0x04, 8]);
    block.extend(b"/healthz"); // :path, literal without indexing
    block.extend([0x01, 2]);
    block.extend(b"gw"); // :authority
    block.extend([0x00, 6]);
    block.extend(b"x-note");
    block.push(u8::try_from(value.len()).unwrap());
    block.extend(value);
    let len = block.len();
    let mut frame = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, 0x1, 0x5, 0, 0, 0, 1];
    frame.extend(block);
    frame
}

/// Sends a raw HTTP/2 request and says whether stream 1 was answered 204 (the HPACK byte of
/// `:status 204` is 0x89) or refused (RST_STREAM, GOAWAY, or a 400: 0x8c).
fn h2_raw(addr: std::net::SocketAddr, value: &[u8]) -> &'static str {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec();
    out.extend([0, 0, 0, 0x4, 0, 0, 0, 0, 0]); // an empty SETTINGS frame
    out.extend(h2_headers_frame(value));
    s.write_all(&out).unwrap();
    loop {
        let mut head = [0u8; 9];
        if s.read_exact(&mut head).is_err() {
            return "closed";
        }
        let len = (usize::from(head[0]) << 16) | (usize::from(head[1]) << 8) | usize::from(head[2]);
        let mut payload = vec![0u8; len];
        s.read_exact(&mut payload).unwrap();
        let stream = u32::from_be_bytes([head[5] & 0x7f, head[6], head[7], head[8]]);
        match (head[3], stream) {
            (0x1, 1) if payload.first() == Some(&0x89) => return "204",
            (0x1, 1) if payload.first() == Some(&0x8c) => return "400",
            (0x3, 1) => return "reset",
            (0x7, _) => return "goaway",
            _ => {}
        }
    }
}

#[test]
fn http2_header_values_with_cr_lf_or_nul_are_refused() {
    let g = gateway(|_| {});
    assert_eq!(h2_raw(g.addr(), b"fine"), "204", "the frame builder is right");
    for bad in [&b"a\rb"[..], b"a\nb", b"a\0b"] {
        let answer = h2_raw(g.addr(), bad);
        assert_ne!(answer, "204", "{bad:?} was served");
    }
}

/// Reads the binary's stdout until the line naming the URL; returns the gateway's address and
/// the admin address.
fn addresses(stdout: impl Read + Send + 'static) -> (String, String) {
    let mut lines = BufReader::new(stdout).lines().map_while(Result::ok);
    let mut admin = String::new();
    for l in lines.by_ref() {
        if let Some(rest) = l.strip_prefix("Metrics at http://") {
            admin = rest.split('/').next().unwrap().to_string();
        }
        if let Some(url) = l.strip_prefix("Open ").and_then(|r| r.strip_suffix(" to sign in.")) {
            let addr = url.strip_prefix("http://").and_then(|r| r.strip_suffix("/signin")).unwrap().to_string();
            std::thread::spawn(move || lines.for_each(drop));
            return (addr, admin);
        }
    }
    panic!("no URL printed");
}

/// Kills the gateway process when the test ends, however it ends.
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn sigterm_finishes_requests_in_flight_and_drains_delivery() {
    let wasm = require_wasm().unwrap_or_else(|m| panic!("{m}"));
    let upstream = PythonUpstream::start();
    let smtp = SmtpServer::start(SmtpOptions { delay_seconds: 1.0, ..Default::default() });
    let dir = tempfile::tempdir().unwrap();
    // One file: the engine's config and the gateway's options.
    let config = dir.path().join("passcode.toml");
    std::fs::write(
        &config,
        format!(
            "{DEFAULT_ENGINE_CONFIG}\n[delivery.email]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             from = \"Passcode <sign-in@demo.example>\"\n\n[gateway]\nlisten = \"127.0.0.1:0\"\n\
             admin_listen = \"127.0.0.1:0\"\nupstream = \"{}\"\nmax_body_bytes = 1000\nlog_format = \"json\"\n\
             drain_ms = 5000\n",
            smtp.port(),
            upstream.url()
        ),
    )
    .unwrap();
    let key: String = (0..32).map(|i| format!("{:02x}", (i * 53 + 7) % 251)).collect();
    let mut running = Running(
        Command::new(env!("CARGO_BIN_EXE_passcode-envoy-filter"))
            .arg("--config")
            .arg(&config)
            .arg("--wasm")
            .arg(&wasm)
            .env("PASSCODE_KEY_1", &key)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the gateway"),
    );
    let child = &mut running.0;
    let stderr = child.stderr.take().unwrap();
    let logs = std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>());
    let (addr, admin) = addresses(child.stdout.take().unwrap());
    let addr: std::net::SocketAddr = addr.parse().unwrap();
    let admin: std::net::SocketAddr = admin.parse().expect("the admin address from the file");

    // The file's options took effect.
    let big = format!(r#"{{"channel":"email","identifier":"{}@example.com"}}"#, "a".repeat(1200));
    let r = http(addr, "POST", "/passcode/start", &[("Content-Type", "application/json")], Some(&big));
    assert_eq!(r.status, 413, "max_body_bytes from [gateway]: {}", r.body);
    assert_eq!(http(admin, "GET", "/readyz", &[], None).status, 204);

    // Sign in (the relay takes a second per message).
    let start = |who: &str| {
        http(
            addr,
            "POST",
            "/passcode/start",
            &[("Content-Type", "application/json")],
            Some(&format!(r#"{{"channel":"email","identifier":"{who}"}}"#)),
        )
    };
    let r = start("ann.secret@example.net");
    assert_eq!(r.status, 202, "{}", r.body);
    let challenge = r.cookie_pair("passcode_challenge").unwrap();
    let mail = &smtp.wait_for(1, Duration::from_secs(20))[0];
    // The code from the text part (the raw message's headers hold other digits).
    let text = mail_parser::MessageParser::default().parse(&mail.raw).unwrap().body_text(0).unwrap().to_string();
    let code = text.split(|c: char| !c.is_ascii_digit()).find(|r| r.len() == 6).unwrap().to_string();
    let v = http(
        addr,
        "POST",
        "/passcode/verify",
        &[("Content-Type", "application/json"), ("Cookie", &challenge)],
        Some(&format!(r#"{{"code":"{code}"}}"#)),
    );
    assert_eq!(v.status, 200, "{}", v.body);
    let session = v.cookie_pair("passcode_session").unwrap();

    // A message waiting on the slow relay, and a request in flight to the slow upstream...
    assert_eq!(start("bo.secret@example.net").status, 202);
    let slow = std::thread::spawn({
        let session = session.clone();
        move || http(addr, "GET", "/slow", &[("Cookie", &session)], None)
    });
    std::thread::sleep(Duration::from_millis(300));
    // ...when SIGTERM comes.
    let term = Instant::now();
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    let answer = slow.join().unwrap();
    assert_eq!(answer.status, 200, "the request in flight finished: {}", answer.body);
    assert_eq!(answer.json()["subjects"], serde_json::json!(["ann.secret@example.net"]));
    std::thread::sleep(Duration::from_millis(200));
    assert!(TcpStream::connect(addr).is_err(), "no new connections once shutting down");
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(term.elapsed() < Duration::from_secs(15), "the gateway did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    assert_eq!(smtp.messages().len(), 2, "the queued message was delivered before exit");

    let logs = logs.join().unwrap();
    let events: Vec<serde_json::Value> = logs
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON log line ({e}): {l}")))
        .collect();
    let sent: Vec<_> = events.iter().filter(|e| e["message"] == "delivery sent").collect();
    assert_eq!(sent.len(), 2, "{logs:#?}");
    assert_eq!(sent[0]["sender"], "email");
    assert_eq!(sent[0]["channel"], "email");
    assert!(sent[0]["subject"].as_str().unwrap().len() == 16, "the subject's pseudonym");
    assert!(events.iter().any(|e| e["message"].as_str().unwrap_or("").starts_with("shutting down")));
    let all = logs.join("\n");
    for secret in [code.as_str(), "ann.secret", "bo.secret", "example.net", &key] {
        assert!(!all.contains(secret), "the logs hold {secret:?}:\n{all}");
    }
}
