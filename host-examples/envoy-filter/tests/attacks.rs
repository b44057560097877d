//! The attacks the gateway must survive, each over real sockets on loopback: header
//! injection into a Python `http.server` upstream, framing that RFC 9112 refuses, slow
//! connections from one address, X-Forwarded-For rotation, a copied cookie after sign-out,
//! cross-site requests, underscore headers, and the headers every page needs.

mod support;

use std::io::Write;
use std::net::{IpAddr, TcpStream};
use std::time::{Duration, Instant};

use support::{gateway, raw, PythonUpstream};

const JANE: &str = "jane@example.com";

/// A GET through the gateway with extra raw header lines, as bytes (they may hold CR or NUL).
fn get_with(cookie: &str, extra: &[u8]) -> Vec<u8> {
    let mut r = format!("GET /app HTTP/1.1\r\nHost: gw\r\nConnection: close\r\nCookie: {cookie}\r\n").into_bytes();
    r.extend_from_slice(extra);
    r.extend_from_slice(b"\r\n\r\n");
    r
}

#[test]
fn a_bare_cr_in_a_header_never_reaches_the_upstream() {
    let upstream = PythonUpstream::start();
    // The upstream itself is fooled by a bare CR: sent to it directly, the injected header is
    // what it reads as the subject. This is what the gateway must not pass on.
    let (status, body) = raw(upstream.addr(), &get_with("x=y", b"X-Note: a\rX-Passcode-Subject: admin@example.com"));
    assert_eq!(status, Some(200));
    assert!(
        body.contains(r#""subjects": ["admin@example.com"]"#),
        "the upstream reads a bare CR as a line break: {body}"
    );

    let g = gateway(|c| c.upstream = Some(upstream.url()));
    let session = g.sign_in(JANE);
    let before = upstream.seen().len();
    for (injection, what) in [
        (&b"X-Note: a\rX-Passcode-Subject: admin@example.com"[..], "a bare CR"),
        (&b"X-Note: a\0X-Passcode-Subject: admin@example.com"[..], "a NUL"),
        (&b"X-Note: a\r X-Passcode-Subject: admin@example.com"[..], "a CR before a space"),
    ] {
        let (status, text) = raw(g.addr(), &get_with(&session, injection));
        assert_eq!(status, Some(400), "{what} is refused: {text}");
    }
    // A bare LF ends the line (RFC 9112 2.2 lets a recipient accept it): the injected header
    // is then a header of its own, which the gateway strips like any client-sent identity.
    let (status, body) = raw(g.addr(), &get_with(&session, b"X-Note: a\nX-Passcode-Subject: admin@example.com"));
    assert_eq!(status, Some(200), "{body}");
    assert!(body.contains(r#""subjects": ["jane@example.com"]"#), "{body}");
    let seen = upstream.seen();
    assert_eq!(seen.len(), before + 1, "only the LF request reached the upstream: {seen:?}");
    assert!(seen[before..].iter().all(|r| !r.to_string().contains("admin@example.com")), "{seen:?}");
}

#[test]
fn framing_that_rfc_9112_refuses_is_400() {
    let g = gateway(|_| {});
    let body = r#"{"channel":"email","identifier":"jane@example.com"}"#;
    let start = |headers: &str| {
        format!("POST /passcode/start HTTP/1.1\r\n{headers}Content-Type: application/json\r\n\r\n{body}").into_bytes()
    };
    let len = body.len();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (start(&format!("Host: gw\r\nContent-Length: +{len}\r\n")), "a signed Content-Length"),
        (start(&format!("Host: gw\r\nContent-Length : {len}\r\n")), "whitespace before the colon"),
        (start(&format!("Host: gw\r\nContent-Length: {len}\r\nContent-Length: {}\r\n", len + 1)), "two lengths"),
        (start(&format!("Host: gw\r\nContent-Length: {len}, {}\r\n", len + 1)), "a list of lengths"),
        (start(&format!("Content-Length: {len}\r\n")), "no Host"),
        (start(&format!("Host: gw\r\nHost: evil\r\nContent-Length: {len}\r\n")), "two Hosts"),
        (start(&format!("Host: gw/path\r\nContent-Length: {len}\r\n")), "a Host that is not a host"),
        (start(&format!("Host: gw\r\nTransfer-Encoding: gzip\r\nContent-Length: {len}\r\n")), "TE not chunked"),
        (b"GARBAGE\r\n\r\n".to_vec(), "no request line"),
        (format!("GET / HTTP/1.1\r\nHost: gw\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000)).into_bytes(), "a huge head"),
    ];
    for (request, what) in cases {
        let (status, text) = raw(g.addr(), &request);
        assert!(matches!(status, Some(400) | Some(431)), "{what}: {text}");
        assert!(!text.contains("\"sent\""), "{what} was served: {text}");
    }
    // Transfer-Encoding beside Content-Length: the body is read as chunked (RFC 9112 6.1) and
    // the connection closed after the answer, so what a length-reading hop would take for the
    // rest of the body is never read as a second request (request smuggling).
    let smuggled = b"POST /passcode/start HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n\
                     Transfer-Encoding: chunked\r\nContent-Length: 50\r\n\r\n0\r\n\r\n\
                     GET /healthz HTTP/1.1\r\nHost: gw\r\n\r\n";
    let (status, text) = raw(g.addr(), smuggled);
    assert_eq!(status, Some(400), "the empty chunked body is not JSON: {text}");
    assert_eq!(text.matches("HTTP/1.1 ").count(), 1, "no second answer: {text}");
    // HTTP/1.0 may leave Host out; HTTP/1.1 with one Host and one length is served.
    let (status, _) = raw(g.addr(), b"GET /healthz HTTP/1.0\r\n\r\n");
    assert_eq!(status, Some(204));
    let (status, text) = raw(g.addr(), &start(&format!("Host: gw\r\nConnection: close\r\nContent-Length: {len}\r\n")));
    assert_eq!(status, Some(202), "{text}");
    assert_eq!(g.outbox_count(), 1, "only the well-framed request issued a code");
}

#[test]
fn slow_connections_from_one_address_do_not_starve_another_client() {
    // The test holds 2,000 sockets of its own: make room under the open-file limit.
    let _ = rlimit::increase_nofile_limit(4096);
    let g = gateway(|c| c.limits.header_read_timeout = Duration::from_secs(3));
    let began = Instant::now();
    let mut slow = Vec::new();
    for _ in 0..2000 {
        let Ok(mut s) = TcpStream::connect(g.addr()) else { continue };
        // Half a request head, never finished.
        let _ = s.write_all(b"POST /passcode/start HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n");
        slow.push(s);
    }
    assert!(slow.len() >= 1900, "connections made: {}", slow.len());
    // Another client (another loopback address) is served at once, a full sign-in start.
    let other: IpAddr = "127.0.0.2".parse().unwrap();
    let asked = Instant::now();
    let s = support::connect_from(other, g.addr()).expect("connect from 127.0.0.2");
    let body = r#"{"channel":"email","identifier":"other@example.com"}"#;
    let r =
        support::http_on(s, g.addr(), "POST", "/passcode/start", &[("Content-Type", "application/json")], Some(body));
    assert_eq!(r.status, 202, "{}", r.body);
    assert!(asked.elapsed() < Duration::from_secs(1), "served in {:?}", asked.elapsed());

    let m = support::scrape(&g);
    let open = support::sample(&m, "passcode_connections_open", &[]);
    assert!(open <= 64.0 + 2.0, "at most the per-client cap is held: {open}");
    let refused = support::sample(&m, "passcode_connection_refusals_total", &[("reason", "per-client")]);
    assert!(refused >= 1800.0, "the rest were closed at once: {refused}");

    // Every one is closed by the gateway: the refused ones at once, the held ones when their
    // head has not arrived within the timeout (a read that times out here is one left open).
    for s in slow.iter_mut() {
        s.set_read_timeout(Some(Duration::from_secs(6))).unwrap();
        let mut rest = Vec::new();
        if let Err(e) = std::io::Read::read_to_end(s, &mut rest) {
            let open = matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut);
            assert!(!open, "a slow connection was left open past the head timeout");
        }
    }
    let m = support::scrape(&g);
    let still = support::sample(&m, "passcode_connections_open", &[]);
    assert!(still <= 2.0, "the slow connections timed out: {still} open");
    assert!(began.elapsed() < Duration::from_secs(15), "bounded: {:?}", began.elapsed());
}

#[test]
fn rotating_x_forwarded_for_hits_the_client_limit_at_the_21st_start() {
    // Behind one proxy (Envoy, use_remote_address: true), which appends the address it saw.
    let g = gateway(|c| c.xff_trusted_hops = 1);
    let start = |i: u32, xff: &str| {
        let body = format!(r#"{{"channel":"email","identifier":"user{i}@example.com"}}"#);
        g.send(
            "POST",
            "/passcode/start",
            &[("Content-Type", "application/json"), ("X-Forwarded-For", xff)],
            Some(&body),
        )
    };
    for i in 0..20 {
        // The client writes a fresh address on the left each time; the proxy appends its own.
        let r = start(i, &format!("198.18.{}.{}, 203.0.113.7", i / 250, i % 250));
        assert_eq!(r.status, 202, "start {i}: {}", r.body);
    }
    let r = start(20, "198.18.9.9, 203.0.113.7");
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["error"], "send-limit");
    assert!(r.header("retry-after").is_some());
    // Another client behind the same proxy is not affected.
    assert_eq!(start(21, "203.0.113.8").status, 202);
    // A request that did not come through the proxy (no X-Forwarded-For) is the peer's.
    assert_eq!(g.post("/passcode/start", "", r#"{"channel":"email","identifier":"direct@example.com"}"#).status, 202);
    let m = support::scrape(&g);
    assert_eq!(support::sample(&m, "passcode_limits_total", &[("limit", "client")]), 1.0);
}

#[test]
fn a_cookie_copied_before_sign_out_is_refused_after_it() {
    let g = gateway(|_| {});
    let session = g.sign_in(JANE);
    let page = g.send("GET", "/", &[("Cookie", &session), ("Accept", "text/html")], None);
    assert_eq!(page.status, 200);
    let out = g.send(
        "POST",
        "/passcode/signout",
        &[("Cookie", &session), ("Origin", &format!("http://{}", g.addr()))],
        Some(""),
    );
    assert_eq!(out.status, 303, "{}", out.body);
    assert!(out.set_cookie("passcode_session").unwrap().contains("Max-Age=0"));
    // The copy still carries a valid signature and has hours to run; it is refused anyway.
    let replay = g.send("GET", "/", &[("Cookie", &session), ("Accept", "text/html")], None);
    assert_eq!((replay.status, replay.header("location")), (302, Some("/signin")));
    let authz = g.send("GET", "/ext_authz/app", &[("Cookie", &session)], None);
    assert_eq!((authz.status, authz.json()["error"].as_str()), (401, Some("session-revoked")));
    // Signing in again gives a new session that works.
    let again = g.sign_in(JANE);
    assert_eq!(g.send("GET", "/ext_authz/app", &[("Cookie", &again)], None).status, 200);
}

#[test]
fn cross_site_requests_are_refused() {
    let g = gateway(|_| {});
    let session = g.sign_in(JANE);
    let own = format!("http://{}", g.addr());
    for (origin, site) in [
        (Some("https://evil.example"), Some("cross-site")),
        (Some("https://evil.example"), None),
        (None, Some("cross-site")),
        (None, Some("same-site")),
        (Some("null"), None),
        (Some(own.as_str()), Some("cross-site")),
    ] {
        let mut h = vec![("Cookie", session.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
        h.extend(origin.map(|o| ("Origin", o)));
        h.extend(site.map(|s| ("Sec-Fetch-Site", s)));
        let out = g.send("POST", "/passcode/signout", &h, Some(""));
        assert_eq!((out.status, out.json()["error"].as_str()), (403, Some("cross-site")), "{origin:?} {site:?}");
        assert!(out.set_cookie("passcode_session").is_none());
        let start = g.send("POST", "/passcode/start", &h, Some(r#"{"channel":"email","identifier":"x@example.com"}"#));
        assert_eq!(start.status, 403, "sign-in CSRF: {origin:?} {site:?}");
        let authz = g.send("POST", "/ext_authz/api/orders", &h, Some(""));
        assert_eq!(authz.status, 403, "ext_authz of a state-changing request: {origin:?} {site:?}");
    }
    // The session survived every attempt; a GET from anywhere is not state-changing.
    let authz = g.send("GET", "/ext_authz/app", &[("Cookie", &session), ("Sec-Fetch-Site", "cross-site")], None);
    assert_eq!(authz.status, 200);
    // The sign-in page's own form (same origin) signs out.
    let out = g.send(
        "POST",
        "/passcode/signout",
        &[("Cookie", &session), ("Origin", &own), ("Sec-Fetch-Site", "same-origin")],
        Some(""),
    );
    assert_eq!(out.status, 303, "{}", out.body);
    assert_eq!(g.send("GET", "/ext_authz/app", &[("Cookie", &session)], None).status, 401);
}

#[test]
fn a_configured_public_origin_is_the_only_one_accepted() {
    let g = gateway(|c| c.public_origin = Some("https://login.example.com".into()));
    let start = |origin: &str| {
        g.send(
            "POST",
            "/passcode/start",
            &[("Content-Type", "application/json"), ("Origin", origin)],
            Some(r#"{"channel":"email","identifier":"jane@example.com"}"#),
        )
        .status
    };
    assert_eq!(start("http://login.example.com"), 403, "the scheme counts");
    assert_eq!(start(&format!("http://{}", g.addr())), 403, "the Host is not enough once an origin is set");
    assert_eq!(start("https://login.example.com"), 202);
}

#[test]
fn underscore_and_respelt_identity_headers_never_reach_the_upstream() {
    let upstream = PythonUpstream::start();
    let g = gateway(|c| c.upstream = Some(upstream.url()));
    let session = g.sign_in(JANE);
    let r = g.send(
        "GET",
        "/app",
        &[
            ("Cookie", &session),
            ("X_Passcode_Subject", "admin@example.com"),
            ("X-PASSCODE-SUBJECT", "admin@example.com"),
            ("x-passcode.subject", "admin@example.com"),
            ("X-Passcode-Anything", "1"),
            ("X_Forwarded_For", "10.0.0.1"),
            ("X-Kept", "yes"),
        ],
        None,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let seen = r.json();
    assert_eq!(seen["subjects"], serde_json::json!([JANE]), "{seen}");
    let names: Vec<String> =
        seen["names"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_ascii_lowercase()).collect();
    assert!(names.iter().all(|n| !n.contains('_')), "no underscore header: {names:?}");
    assert!(!names.iter().any(|n| n == "x-passcode-anything" || n == "x-passcode.subject"), "{names:?}");
    assert!(names.contains(&"x-kept".to_string()), "other headers pass: {names:?}");
    assert_eq!(seen["forwarded_for"], "127.0.0.1", "the gateway says who it saw");
}

#[test]
fn every_page_and_answer_carries_the_security_headers() {
    let g = gateway(|_| {});
    let session = g.sign_in(JANE);
    let signin = g.send("GET", "/signin", &[], None);
    let home = g.send("GET", "/", &[("Cookie", &session), ("Accept", "text/html")], None);
    let json = g.post("/passcode/verify", "", r#"{"code":"1"}"#);
    for (r, html) in [(&signin, true), (&home, true), (&json, false)] {
        assert_eq!(r.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
        let cache: Vec<_> = r.headers.iter().filter(|(n, _)| n == "cache-control").collect();
        assert_eq!(cache.len(), 1, "one Cache-Control: {cache:?}");
        assert_eq!(cache[0].1, "no-store");
        if html {
            let csp = r.header("content-security-policy").unwrap();
            assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
            assert!(!csp.contains("unsafe-inline"), "{csp}");
            assert_eq!(r.header("x-frame-options"), Some("DENY"));
        }
    }
}
