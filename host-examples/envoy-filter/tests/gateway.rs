//! The gateway over real HTTP on loopback: the whole flow, every failure, limits with
//! Retry-After, the cookies, the upstream and the ext_authz answers.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::mpsc;

use support::gateway;

const JANE: &str = "jane@example.com";

#[test]
fn the_whole_flow_from_page_to_protected_page() {
    let g = gateway(|_| {});
    let page = g.send("GET", "/signin", &[], None);
    assert_eq!(page.status, 200);
    assert!(page.header("content-type").unwrap().starts_with("text/html"));
    assert!(page.body.contains(r#"autocomplete="one-time-code""#), "S24");
    assert!(page.body.contains(r#"inputmode="numeric""#), "S24");
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("script-src 'sha256-") && !csp.contains("unsafe-inline"), "{csp}");

    // Not signed in: a browser is sent to the page, an API client gets 401.
    let r = g.send("GET", "/", &[("Accept", "text/html")], None);
    assert_eq!((r.status, r.header("location")), (302, Some("/signin")));
    assert_eq!(g.send("GET", "/api/data", &[], None).status, 401);

    let (r, challenge) = g.start_email("Jane@Example.COM");
    assert_eq!(r.status, 202, "{}", r.body);
    let j = r.json();
    assert_eq!(j["status"], "sent");
    assert_eq!(j["sent_to"], "J***@example.com");
    assert_eq!(j["expires_in"], 600);
    assert_eq!(j["resend_in"], 30);
    let set = r.set_cookie("passcode_challenge").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/passcode", "Max-Age=600"] {
        assert!(set.contains(attr), "{set} has {attr}");
    }
    assert!(!set.contains("Secure"), "plain HTTP on loopback: no Secure");
    assert!(
        !r.body.contains("passcode_challenge") && !r.body.contains(&challenge[19..]),
        "the token is not in the body"
    );

    let code = g.code_for("Jane@example.com");
    assert_eq!(code.len(), 6);
    let v = g.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{code}"}}"#));
    assert_eq!(v.status, 200, "{}", v.body);
    assert_eq!(v.json()["redirect"], "/");
    let session = v.set_cookie("passcode_session").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=28800"] {
        assert!(session.contains(attr), "{session} has {attr}");
    }
    assert!(v.set_cookie("passcode_challenge").unwrap().contains("Max-Age=0"), "the challenge cookie is cleared");

    let cookie = v.cookie_pair("passcode_session").unwrap();
    let home = g.send("GET", "/", &[("Cookie", &cookie), ("Accept", "text/html")], None);
    assert_eq!(home.status, 200);
    assert!(home.body.contains("Hello, Jane@example.com"), "{}", home.body);

    // The code is single use (S5).
    let again = g.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{code}"}}"#));
    assert_eq!((again.status, again.json()["error"].as_str()), (410, Some("not-found")));

    // Sign out clears the session cookie.
    let out = g.send("POST", "/passcode/signout", &[("Cookie", &cookie)], Some(""));
    assert_eq!(out.status, 303);
    assert!(out.set_cookie("passcode_session").unwrap().contains("Max-Age=0"));
}

#[test]
fn sms_sign_in_works_and_masks_the_number() {
    let g = gateway(|_| {});
    let r = g.post("/passcode/start", "", r#"{"channel":"sms","identifier":"+44 20 7946 0000"}"#);
    assert_eq!(r.status, 202, "{}", r.body);
    assert_eq!(r.json()["sent_to"], "+44********00");
    let challenge = r.cookie_pair("passcode_challenge").unwrap();
    let code = g.code_for("+442079460000");
    let v = g.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{code}"}}"#));
    assert_eq!(v.status, 200, "{}", v.body);
}

#[test]
fn every_failure_has_its_status_and_reason() {
    let g = gateway(|_| {});
    let (_, challenge) = g.start_email(JANE);

    let code = g.code_for(JANE);
    let other = if code == "000000" { "111111" } else { "000000" };
    let wrong = g.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{other}"}}"#));
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    assert_eq!(wrong.json()["error"], "wrong-code");
    assert_eq!(wrong.json()["attempts_left"], 4);

    // Expired: the host moves the component's wall clock past the lifetime.
    g.gateway.clock().advance(601);
    let expired = g.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{code}"}}"#));
    assert_eq!((expired.status, expired.json()["error"].as_str()), (410, Some("expired")), "{}", expired.body);

    // Bad input.
    let bad = g.post("/passcode/start", "", r#"{"channel":"email","identifier":"not an address"}"#);
    assert_eq!((bad.status, bad.json()["error"].as_str()), (400, Some("invalid-email")));
    assert!(!bad.body.contains("not an address"), "the identifier is not echoed");
    let bad = g.post("/passcode/start", "", r#"{"channel":"sms","identifier":"12345"}"#);
    assert_eq!((bad.status, bad.json()["error"].as_str()), (400, Some("invalid-phone")));
    let bad = g.post("/passcode/start", "", r#"{"channel":"fax","identifier":"x"}"#);
    assert_eq!((bad.status, bad.json()["error"].as_str()), (400, Some("invalid-argument")));
    let bad = g.post("/passcode/start", "", "not json");
    assert_eq!((bad.status, bad.json()["error"].as_str()), (400, Some("bad-request")));
    let huge = format!(r#"{{"channel":"email","identifier":"{}@example.com"}}"#, "a".repeat(5000));
    let bad = g.post("/passcode/start", "", &huge);
    assert_eq!((bad.status, bad.json()["error"].as_str()), (400, Some("input-too-long")));
    let form = g.send("POST", "/passcode/start", &[("Content-Type", "application/x-www-form-urlencoded")], Some("a=b"));
    assert_eq!(form.status, 415, "a cross-site form cannot start a flow");
    assert_eq!(g.send("GET", "/passcode/start", &[], None).status, 405);

    // No challenge, or a forged one.
    let none = g.post("/passcode/verify", "", r#"{"code":"123456"}"#);
    assert_eq!((none.status, none.json()["error"].as_str()), (400, Some("no-challenge")));
    let forged = g.post("/passcode/verify", "passcode_challenge=AAAAforgedAAAA", r#"{"code":"123456"}"#);
    assert_eq!((forged.status, forged.json()["error"].as_str()), (400, Some("invalid-token")));
    let body_too_big = g.post("/passcode/verify", &challenge, &"x".repeat(70_000));
    assert_eq!(body_too_big.status, 413);
}

#[test]
fn a_challenge_dies_after_five_wrong_codes() {
    let g = gateway(|_| {});
    let (_, challenge) = g.start_email(JANE);
    let code = g.code_for(JANE);
    let wrong = if code == "999999" { "999998" } else { "999999" };
    for left in (0..5).rev() {
        let r = g.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{wrong}"}}"#));
        assert_eq!((r.status, r.json()["attempts_left"].as_u64()), (401, Some(left)), "{}", r.body);
    }
    let r = g.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{code}"}}"#));
    assert_eq!((r.status, r.json()["error"].as_str()), (410, Some("too-many-attempts")), "S8: even the right code");
}

#[test]
fn limits_answer_429_with_retry_after_and_locks_423() {
    let g = gateway(|_| {});
    let (_, challenge) = g.start_email(JANE);
    let first = g.code_for(JANE);

    // Asking again at once: the cooldown (S17 / resend button).
    let (again, _) = g.start_email(JANE);
    assert_eq!(again.status, 429, "{}", again.body);
    assert_eq!(again.header("retry-after"), Some("30"));
    assert_eq!(again.json()["error"], "resend-too-soon");
    let resend = g.post("/passcode/resend", &challenge, "{}");
    assert_eq!((resend.status, resend.header("retry-after")), (429, Some("30")));

    // After the cooldown a resend sends a new code; the previous one stops working (S7).
    g.gateway.clock().advance(30);
    let resend = g.post("/passcode/resend", &challenge, "{}");
    assert_eq!(resend.status, 202, "{}", resend.body);
    assert_eq!(resend.json()["resend_in"], 30);
    let second = g.code_for(JANE);
    assert_ne!(first, second);
    let old = g.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{first}"}}"#));
    assert_eq!(old.status, 401, "the previous code no longer works");

    // Failures count per subject across challenges: the 10th earns a temporary lock.
    let wrong = |c: &str| if c == "999999" { "999998".to_string() } else { "999999".to_string() };
    for _ in 0..4 {
        let r = g.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{}"}}"#, wrong(&second)));
        assert_eq!(r.status, 401);
    }
    g.gateway.clock().advance(30);
    let (r, challenge2) = g.start_email(JANE);
    assert_eq!(r.status, 202, "{}", r.body);
    let third = g.code_for(JANE);
    for _ in 0..4 {
        let r = g.post("/passcode/verify", &challenge2, &format!(r#"{{"code":"{}"}}"#, wrong(&third)));
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let locked = g.post("/passcode/verify", &challenge2, &format!(r#"{{"code":"{}"}}"#, wrong(&third)));
    assert_eq!(locked.status, 423, "{}", locked.body);
    assert_eq!(locked.json()["error"], "wrong-code-locked", "the guess counted, and it started the lock");
    assert_eq!(locked.json()["attempts_left"], 0);
    assert_eq!(locked.header("retry-after"), Some("60"));
    let right = g.post("/passcode/verify", &challenge2, &format!(r#"{{"code":"{third}"}}"#));
    assert_eq!(right.status, 423, "locked: even the right code waits");
    assert_eq!(right.json()["error"], "subject-locked", "refused unseen");
    let resend = g.post("/passcode/resend", &challenge2, "{}");
    assert_eq!(resend.status, 423, "locked: no resend either");

    // The subject's send bucket, on a fresh gateway: 5 sends per 10 minutes.
    let g = gateway(|_| {});
    for i in 0..5 {
        let (r, _) = g.start_email(JANE);
        assert_eq!(r.status, 202, "send {i}: {}", r.body);
        g.gateway.clock().advance(31);
    }
    let (r, _) = g.start_email(JANE);
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(r.json()["error"], "send-limit");
    let wait: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!(wait > 0 && wait <= 600, "{wait}");
}

#[test]
fn cookies_are_secure_behind_tls() {
    let g = gateway(|_| {});
    let r = g.send(
        "POST",
        "/passcode/start",
        &[("Content-Type", "application/json"), ("X-Forwarded-Proto", "https")],
        Some(r#"{"channel":"email","identifier":"jane@example.com"}"#),
    );
    assert_eq!(r.status, 202);
    let challenge = r.cookie_pair("passcode_challenge").unwrap();
    assert!(r.set_cookie("passcode_challenge").unwrap().contains("; Secure"));
    let code = g.code_for(JANE);
    let v = g.send(
        "POST",
        "/passcode/verify",
        &[("Content-Type", "application/json"), ("X-Forwarded-Proto", "https"), ("Cookie", &challenge)],
        Some(&format!(r#"{{"code":"{code}"}}"#)),
    );
    assert_eq!(v.status, 200);
    let s = v.set_cookie("passcode_session").unwrap();
    for attr in ["HttpOnly", "SameSite=Strict", "; Secure"] {
        assert!(s.contains(attr), "{s} has {attr}");
    }
}

#[test]
fn ext_authz_allows_a_session_and_denies_the_rest() {
    let g = gateway(|_| {});
    let none = g.send("GET", "/ext_authz/protected/page", &[], None);
    assert_eq!((none.status, none.header("x-passcode-subject")), (401, None));
    let garbage = g.send("GET", "/ext_authz/x", &[("Cookie", "passcode_session=abc.def")], None);
    assert_eq!((garbage.status, garbage.json()["error"].as_str()), (401, Some("invalid-session")));

    let session = g.sign_in(JANE);
    let ok = g.send("POST", "/ext_authz/api/orders?id=3", &[("Cookie", &session)], None);
    assert_eq!(ok.status, 200);
    assert_eq!(ok.header("x-passcode-subject"), Some(JANE));
    assert_eq!(ok.header("x-passcode-channel"), Some("email"));

    // A session signed by another gateway (another key) is refused.
    let other = gateway(|_| {});
    let foreign = other.sign_in(JANE);
    assert_eq!(g.send("GET", "/ext_authz/", &[("Cookie", &foreign)], None).status, 401);

    // Sessions end.
    g.gateway.clock().advance(8 * 3600);
    let late = g.send("GET", "/ext_authz/x", &[("Cookie", &session)], None);
    assert_eq!((late.status, late.json()["error"].as_str()), (401, Some("session-expired")));
}

#[test]
fn start_answers_the_same_whether_or_not_the_account_exists() {
    let g = gateway(|c| c.accounts = Some(vec![JANE.into()]));
    let (known, _) = g.start_email(JANE);
    let (unknown, _) = g.start_email("nobody@example.com");
    assert_eq!(known.status, unknown.status);
    let (k, u) = (known.json(), unknown.json());
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&k), keys(&u));
    for field in ["status", "channel", "expires_in", "resend_in"] {
        assert_eq!(k[field], u[field], "{field}");
    }
    let attrs = |r: &support::Reply| {
        r.set_cookie("passcode_challenge").unwrap().split(';').skip(1).map(str::to_string).collect::<Vec<_>>()
    };
    assert_eq!(attrs(&known), attrs(&unknown));
    let names = |r: &support::Reply| r.headers.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&known), names(&unknown));
    assert_eq!(g.outbox_count(), 1, "only the account gets a message");
    assert!(support::latest_code(&g.outbox, "nobody@example.com").is_none());
}

/// A one-shot upstream that records the request head it gets and answers 200.
fn upstream() -> (String, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut head = String::new();
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                head.push_str(&line);
            }
            let _ = tx.send(head);
            let mut s = stream;
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 8\r\n\r\nupstream");
        }
    });
    (url, rx)
}

#[test]
fn signed_in_requests_reach_the_upstream_with_the_subject() {
    let (url, heads) = upstream();
    let g = gateway(|c| c.upstream = Some(url));
    let session = g.sign_in(JANE);
    let r = g.send("GET", "/api/hello?x=1", &[("Cookie", &session), ("X-Passcode-Subject", "admin@example.com")], None);
    assert_eq!((r.status, r.body.as_str()), (200, "upstream"));
    let head = heads.recv().unwrap().to_ascii_lowercase();
    assert!(head.starts_with("get /api/hello?x=1 http/1.1"), "{head}");
    assert!(head.contains("x-passcode-subject: jane@example.com"), "{head}");
    assert!(!head.contains("admin@example.com"), "a client cannot name the subject: {head}");
    // Without a session the upstream is never reached.
    assert_eq!(g.send("GET", "/api/hello", &[], None).status, 401);
    assert!(heads.try_recv().is_err());
}

#[test]
fn concurrent_guesses_across_workers_are_counted_once_each() {
    // Four workers, four component instances, one shared store: 40 wrong guesses at once on
    // one challenge get exactly five 401s (4, 3, 2, 1, 0 attempts left) and 35 410s.
    let g = gateway(|c| c.workers = 4);
    let (_, challenge) = g.start_email(JANE);
    let code = g.code_for(JANE);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let replies: Vec<support::Reply> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    (0..5)
                        .map(|_| g.post("/passcode/verify", &challenge, &format!(r#"{{"code":"{wrong}"}}"#)))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut left: Vec<u64> =
        replies.iter().filter(|r| r.status == 401).map(|r| r.json()["attempts_left"].as_u64().unwrap()).collect();
    left.sort_unstable();
    assert_eq!(left, vec![0, 1, 2, 3, 4]);
    assert_eq!(replies.iter().filter(|r| r.status == 410).count(), 35);
}

#[test]
fn malformed_http_is_refused() {
    use std::io::Read;
    let g = gateway(|_| {});
    let raw = |bytes: &[u8]| {
        let mut s = std::net::TcpStream::connect(g.addr()).unwrap();
        s.write_all(bytes).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out.split(' ').nth(1).and_then(|c| c.parse::<u16>().ok())
    };
    assert_eq!(raw(b"GARBAGE\r\n\r\n"), Some(400));
    assert!(matches!(raw(b"GET / HTTP/2.0\r\nHost: gw\r\n\r\n"), Some(400) | Some(505)));
    assert_eq!(
        raw(b"POST /passcode/start HTTP/1.1\r\nHost: gw\r\nTransfer-Encoding: gzip\r\n\r\nabc"),
        Some(400),
        "a body framed by anything but chunked is refused"
    );
    assert_eq!(
        raw(b"POST /passcode/start HTTP/1.1\r\nHost: gw\r\nContent-Length: 3\r\nContent-Length: 30\r\n\r\nabc"),
        Some(400),
        "conflicting lengths are refused (request smuggling)"
    );
    let big_head = format!("GET / HTTP/1.1\r\nHost: gw\r\nX-Big: {}\r\n\r\n", "a".repeat(20_000));
    assert_eq!(raw(big_head.as_bytes()), Some(431));
}
