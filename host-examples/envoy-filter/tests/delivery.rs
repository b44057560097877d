//! The gateway delivering for real: `/passcode/start` for an email reaches a real SMTP server
//! on loopback and the code read from the received mail signs in; the same for SMS through the
//! provider stand-in; `/passcode/start` takes the same time for a known and an unknown account
//! while the relay is slow (delivery is off the request path); and the gateway binary's output
//! never holds a code, an address or a number.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use mail_parser::MessageParser;
use passcode_delivery::{DeliveryEventKind, DeliveryEventLog};
use passcode_envoy_filter::gateway::{DeliveryEvents, DEFAULT_ENGINE_CONFIG};
use passcode_envoy_filter::host::require_wasm;
use passcode_test_servers::{ProviderServer, SmtpOptions, SmtpServer};
use support::{gateway, http, TestGateway};

const WAIT: Duration = Duration::from_secs(20);

fn smtp_config(server: &SmtpServer) -> String {
    format!(
        "{DEFAULT_ENGINE_CONFIG}\n[delivery.email]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
         from = \"Passcode demo <sign-in@demo.example>\"\n",
        server.port()
    )
}

/// The first run of six digits in a text.
fn six_digits(text: &str) -> String {
    text.split(|c: char| !c.is_ascii_digit()).find(|run| run.len() == 6).expect("a six-digit code").to_string()
}

/// Verifies `code` on the challenge and opens the protected page with the session.
fn sign_in_with(g: &TestGateway, challenge: &str, code: &str) {
    let v = g.post("/passcode/verify", challenge, &format!(r#"{{"code":"{code}"}}"#));
    assert_eq!(v.status, 200, "{}", v.body);
    let session = v.cookie_pair("passcode_session").expect("a session cookie");
    let page = g.send("GET", "/", &[("Cookie", &session)], None);
    assert_eq!(page.status, 200, "{}", page.body);
}

fn assert_clean(log: &DeliveryEventLog, secrets: &[&str]) {
    let text = format!("{:?}", log.events());
    for s in secrets {
        assert!(!text.contains(s), "an event holds {s:?}: {text}");
    }
}

#[test]
fn an_email_code_arrives_over_smtp_and_signs_in() {
    let smtp = SmtpServer::start(SmtpOptions::default());
    let log = Arc::new(DeliveryEventLog::default());
    let g = gateway(|c| {
        c.engine_config = smtp_config(&smtp);
        c.delivery_events = DeliveryEvents(log.clone());
    });
    assert!(g.gateway.outbox().is_none(), "the outbox is not used once a sender is configured");
    let (r, challenge) = g.start_email("jane.roe@example.com");
    assert_eq!(r.status, 202, "{}", r.body);
    let mail = &smtp.wait_for(1, WAIT)[0];
    assert_eq!(mail.rcpt_tos, vec!["jane.roe@example.com"]);
    let parsed = MessageParser::default().parse(&mail.raw).expect("MIME");
    let code = six_digits(&parsed.body_text(0).expect("a text part"));
    assert!(parsed.body_html(0).expect("an HTML part").contains(&code));
    sign_in_with(&g, &challenge, &code);
    g.settle();
    assert!(log.events().iter().any(|e| e.kind == DeliveryEventKind::Sent && e.sender == Some("email")));
    assert_clean(&log, &[&code, "jane.roe"]);
    assert_eq!(std::fs::read_dir(&g.outbox).map(|d| d.count()).unwrap_or(0), 0, "nothing went to the outbox");
}

#[test]
fn an_sms_code_arrives_through_the_provider_and_signs_in() {
    let p = ProviderServer::start(&[("AC77", "tok-77")], None);
    let dir = tempfile::tempdir().unwrap();
    let token = dir.path().join("token");
    std::fs::write(&token, "tok-77").unwrap();
    let log = Arc::new(DeliveryEventLog::default());
    let g = gateway(|c| {
        c.engine_config = format!(
            "{DEFAULT_ENGINE_CONFIG}\n[delivery.sms]\nbase_url = {:?}\naccount_sid = \"AC77\"\n\
             auth_token_file = {:?}\nfrom = \"+15005550006\"\n",
            p.base_url(),
            token.display().to_string()
        );
        c.delivery_events = DeliveryEvents(log.clone());
    });
    let r = g.post("/passcode/start", "", r#"{"channel":"sms","identifier":"+44 20 7946 0000"}"#);
    assert_eq!(r.status, 202, "{}", r.body);
    let challenge = r.cookie_pair("passcode_challenge").unwrap();
    let request = &p.wait_for(1, WAIT)[0];
    assert_eq!(request["auth_ok"], true);
    assert_eq!(request["form"]["To"], "+442079460000");
    let code = six_digits(request["form"]["Body"].as_str().unwrap());
    sign_in_with(&g, &challenge, &code);
    // Email has no sender here: asking for one is a clear 400, the same for any address.
    let e = g.post("/passcode/start", "", r#"{"channel":"email","identifier":"a@example.com"}"#);
    assert_eq!((e.status, e.json()["error"].as_str()), (400, Some("no-sender")), "{}", e.body);
    g.settle();
    assert_clean(&log, &[&code, "7946"]);
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[test]
fn start_takes_the_same_time_for_known_and_unknown_accounts_while_the_relay_is_slow() {
    let smtp = SmtpServer::start(SmtpOptions { delay_seconds: 1.0, ..Default::default() });
    let known: Vec<String> = (0..8).map(|i| format!("member{i}@example.com")).collect();
    let g = gateway(|c| {
        c.engine_config = smtp_config(&smtp);
        c.accounts = Some(known.clone());
    });
    // Warm both workers' instances and the relay's first connection.
    let (r, _) = g.start_email("warm@example.com");
    assert_eq!(r.status, 202);
    let (mut k, mut u) = (Vec::new(), Vec::new());
    for (i, member) in known.iter().enumerate() {
        for (who, times) in [(member.clone(), &mut k), (format!("stranger{i}@example.com"), &mut u)] {
            let start = Instant::now();
            let (r, _) = g.start_email(&who);
            times.push(start.elapsed());
            assert_eq!(r.status, 202, "{}", r.body);
        }
    }
    let slowest = k.iter().chain(&u).max().unwrap();
    assert!(*slowest < Duration::from_millis(500), "no answer waits for the 1 s relay: {slowest:?}");
    let (mk, mu) = (median(k), median(u));
    let gap = mk.abs_diff(mu);
    assert!(gap < Duration::from_millis(25), "known {mk:?} vs unknown {mu:?}: within noise");
    assert_eq!(smtp.wait_for(8, WAIT).len(), 8, "every known account got its mail, and only they");
    g.settle();
    assert_eq!(smtp.messages().len(), 8);
}

#[test]
fn the_binary_logs_deliveries_without_codes_addresses_or_numbers() {
    let wasm = require_wasm().unwrap_or_else(|m| panic!("{m}"));
    let smtp = SmtpServer::start(SmtpOptions::default());
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("passcode.toml");
    std::fs::write(&config, smtp_config(&smtp)).unwrap();
    let key: String = (0..32).map(|i| format!("{:02x}", (i * 37 + 11) % 251)).collect();
    let mut child = Command::new(env!("CARGO_BIN_EXE_passcode-envoy-filter"))
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "none", "--log-format", "json", "--wasm"])
        .arg(&wasm)
        .arg("--config")
        .arg(&config)
        .env("PASSCODE_KEY_1", &key)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the gateway");
    let stdout = child.stdout.take().unwrap();
    let stderr = child.stderr.take().unwrap();
    let err_lines =
        std::thread::spawn(move || BufReader::new(stderr).lines().map_while(Result::ok).collect::<Vec<_>>());
    let mut out = BufReader::new(stdout).lines().map_while(Result::ok);
    let mut printed = Vec::new();
    let url = out
        .by_ref()
        .inspect(|l| printed.push(l.clone()))
        .find_map(|l| l.strip_prefix("Open ").and_then(|r| r.strip_suffix(" to sign in.")).map(str::to_string))
        .expect("the URL");
    let addr = url.strip_prefix("http://").and_then(|r| r.strip_suffix("/signin")).unwrap().parse().unwrap();
    let start = http(
        addr,
        "POST",
        "/passcode/start",
        &[("Content-Type", "application/json")],
        Some(r#"{"channel":"email","identifier":"secret.person@example.org"}"#),
    );
    assert_eq!(start.status, 202, "{}", start.body);
    let mail = &smtp.wait_for(1, WAIT)[0];
    let code = six_digits(&MessageParser::default().parse(&mail.raw).unwrap().body_text(0).unwrap());
    let challenge = start.cookie_pair("passcode_challenge").unwrap();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for typed in [wrong, code.as_str()] {
        let _ = http(
            addr,
            "POST",
            "/passcode/verify",
            &[("Content-Type", "application/json"), ("Cookie", &challenge)],
            Some(&format!(r#"{{"code":"{typed}"}}"#)),
        );
    }
    // Let the sent event be logged, then stop the process and read all it wrote.
    std::thread::sleep(Duration::from_millis(300));
    let _ = child.kill();
    let _ = child.wait();
    printed.extend(out);
    let errors = err_lines.join().unwrap();
    let all = format!("{}\n{}", printed.join("\n"), errors.join("\n"));
    let sent = errors
        .iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .find(|e| e["message"] == "delivery sent")
        .unwrap_or_else(|| panic!("no delivery sent line: {all}"));
    assert_eq!((sent["sender"].as_str(), sent["purpose"].as_str()), (Some("email"), Some("sign-in")), "{sent}");
    for secret in [code.as_str(), "secret.person", "example.org", &key] {
        assert!(!all.contains(secret), "the output holds {secret:?}:\n{all}");
    }
    assert!(!all.contains(&base64::engine::general_purpose::STANDARD.encode(key.as_bytes())));
}

#[test]
fn a_production_config_needs_a_real_sender() {
    let wasm = require_wasm().unwrap_or_else(|m| panic!("{m}"));
    let mut config = passcode_envoy_filter::gateway::GatewayConfig::development(wasm);
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.engine_config = format!("{DEFAULT_ENGINE_CONFIG}\n[delivery]\nproduction = true\n");
    let e = passcode_envoy_filter::gateway::Gateway::start(config.clone()).err().expect("refused");
    assert!(e.contains("names no sender"), "{e}");
    config.engine_config =
        format!("{DEFAULT_ENGINE_CONFIG}\n[delivery]\nproduction = true\n[delivery.outbox]\ndir = \"outbox\"\n");
    let e = passcode_envoy_filter::gateway::Gateway::start(config).err().expect("refused");
    assert!(e.contains("delivery.outbox"), "{e}");
}
