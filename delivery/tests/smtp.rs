//! Email through a real SMTP server on loopback (aiosmtpd, started by each test): what arrives
//! is parsed with a MIME parser (mail-parser) and checked header by header and part by part;
//! STARTTLS and implicit TLS with a throwaway CA, AUTH, DKIM verified by dkimpy, and the
//! failures an operator meets (a wrong password, a closed port, an untrusted certificate, a
//! bounced or greylisted recipient), each a clear error within its timeout.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mail_parser::{MessageParser, MimeHeaders};
use passcode_core::{Channel, Config, Engine, IssueRequest, ManualClock, Purpose};
use passcode_delivery::{Delivery, DeliveryEventKind, DeliveryEventLog, Error, Failure, Outgoing};
use passcode_test_servers::{dkim_verify, Certificates, SmtpOptions, SmtpServer, SmtpTls};

const WAIT: Duration = Duration::from_secs(20);

/// A config: the engine's French email template with a UTF-8 subject, and `[delivery.email]`.
fn config(email: &str) -> Config {
    Config::parse(&format!(
        r#"
[messages]
app_name = "Acme"
[[messages.templates]]
locale = "fr"
channel = "email"
email_subject = "Votre code {{app}} — connexion sécurisée"
email_text = "Votre code {{app}} est {{code}}. Il expire dans {{minutes}} minutes."
[delivery]
max_attempts = 2
backoff_base_ms = 10
backoff_max_ms = 50
[delivery.email]
from = "Acme Sign-in <no-reply@acme.example>"
reply_to = "help@acme.example"
{email}
"#
    ))
    .unwrap()
}

fn password_file(dir: &tempfile::TempDir, password: &str) -> String {
    let f = dir.path().join("smtp-password");
    std::fs::write(&f, format!("{password}\n")).unwrap();
    f.display().to_string()
}

fn issue(engine: &Engine, to: &str) -> passcode_core::Issued {
    engine
        .issue(&IssueRequest {
            channel: Channel::Email,
            identifier: to,
            purpose: Purpose::SignIn,
            client: None,
            locale: Some("fr"),
        })
        .unwrap()
}

fn engine(c: &Config) -> Engine {
    Engine::builder(c.clone()).clock(Arc::new(ManualClock::new(1_800_000_000))).build().unwrap()
}

/// Asserts that nothing in the events names the code or the address.
fn assert_no_secrets(log: &DeliveryEventLog, code: &str, address: &str) {
    let text = format!("{:?}", log.events());
    assert!(!text.contains(code), "an event holds the code: {text}");
    assert!(!text.contains(address), "an event holds the address: {text}");
    let local = address.split('@').next().unwrap();
    assert!(!text.contains(local), "an event holds the local part: {text}");
}

#[test]
fn starttls_with_auth_delivers_a_multipart_message_with_every_header() {
    let certs = Certificates::new();
    let server = SmtpServer::start(SmtpOptions {
        tls: SmtpTls::Starttls,
        certificates: Some(&certs),
        auth: Some(("mailer", "pw-0001")),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let c = config(&format!(
        "host = \"localhost\"\nport = {}\ntls = \"starttls\"\nca_file = {:?}\nusername = \"mailer\"\npassword_file = {:?}",
        server.port(),
        certs.ca().display().to_string(),
        password_file(&dir, "pw-0001")
    ));
    let log = Arc::new(DeliveryEventLog::default());
    let delivery = Delivery::builder(&c).events(log.clone()).build().unwrap();
    let engine = engine(&c);

    let slot = delivery.reserve(Channel::Email).unwrap();
    let issued = issue(&engine, "jane.doe@example.com");
    let outgoing = Outgoing::from_issued(&issued);
    let id = outgoing.id.clone();
    slot.send(outgoing).unwrap();
    let received = server.wait_for(1, WAIT);
    let m = &received[0];
    assert!(m.encrypted && m.authenticated, "STARTTLS then AUTH");
    assert_eq!(m.mail_from, "no-reply@acme.example");
    assert_eq!(m.rcpt_tos, vec!["jane.doe@example.com"]);

    let parsed = MessageParser::default().parse(&m.raw).expect("a MIME message");
    assert_eq!(parsed.from().and_then(|a| a.first()).and_then(|a| a.address()), Some("no-reply@acme.example"));
    assert_eq!(parsed.from().and_then(|a| a.first()).and_then(|a| a.name()), Some("Acme Sign-in"));
    assert_eq!(parsed.to().and_then(|a| a.first()).and_then(|a| a.address()), Some("jane.doe@example.com"));
    assert_eq!(parsed.reply_to().and_then(|a| a.first()).and_then(|a| a.address()), Some("help@acme.example"));
    assert_eq!(parsed.subject(), Some("Votre code Acme — connexion sécurisée"), "the UTF-8 subject decodes");
    let raw = String::from_utf8_lossy(&m.raw);
    let subject_line = raw.lines().find(|l| l.starts_with("Subject:")).unwrap();
    assert!(subject_line.is_ascii() && subject_line.contains("=?utf-8?"), "RFC 2047 on the wire: {subject_line}");
    assert_eq!(parsed.message_id(), Some(format!("{id}@acme.example").as_str()));
    assert!(parsed.date().is_some(), "a Date header");
    assert_eq!(parsed.header_raw("Auto-Submitted").map(str::trim), Some("auto-generated"));
    assert_eq!(parsed.content_type().map(|c| (c.ctype(), c.subtype())), Some(("multipart", Some("alternative"))));
    let text = parsed.body_text(0).expect("a text part");
    let html = parsed.body_html(0).expect("an HTML part");
    assert_eq!(parsed.text_bodies().count(), 1);
    assert_eq!(parsed.html_bodies().count(), 1);
    assert!(text.contains(issued.code.as_str()), "the code in the text part: {text}");
    assert!(html.contains(issued.code.as_str()), "the code in the HTML part: {html}");
    assert!(text.contains("Votre code Acme est"), "the French template: {text}");

    delivery.shutdown(WAIT);
    let events = log.events();
    assert_eq!(log.kinds_of(&id), vec![DeliveryEventKind::Queued, DeliveryEventKind::Sent]);
    let sent = events.iter().find(|e| e.kind == DeliveryEventKind::Sent).unwrap();
    assert_eq!(sent.sender, Some("email"));
    assert_eq!(sent.provider_id.as_deref(), Some(format!("<{id}@acme.example>").as_str()));
    assert_eq!(sent.subject, issued.subject, "the engine's pseudonym");
    assert_no_secrets(&log, &issued.code, "jane.doe@example.com");
}

#[test]
fn implicit_tls_delivers() {
    let certs = Certificates::new();
    let server =
        SmtpServer::start(SmtpOptions { tls: SmtpTls::Implicit, certificates: Some(&certs), ..Default::default() });
    let c = config(&format!(
        "host = \"127.0.0.1\"\nport = {}\ntls = \"implicit\"\nca_file = {:?}",
        server.port(),
        certs.ca().display().to_string()
    ));
    let delivery = Delivery::from_config(&c).unwrap();
    let issued = issue(&engine(&c), "ana@example.org");
    let receipt = delivery.send_now(&Outgoing::from_issued(&issued)).unwrap();
    assert!(receipt.provider_id.is_some());
    let m = &server.wait_for(1, WAIT)[0];
    assert!(m.encrypted);
    let parsed = MessageParser::default().parse(&m.raw).unwrap();
    assert!(parsed.body_text(0).unwrap().contains(issued.code.as_str()));
}

#[test]
fn an_untrusted_certificate_is_refused_and_nothing_is_sent() {
    let certs = Certificates::new();
    let server =
        SmtpServer::start(SmtpOptions { tls: SmtpTls::Starttls, certificates: Some(&certs), ..Default::default() });
    let c = config(&format!(
        "host = \"localhost\"\nport = {}\nca_file = {:?}",
        server.port(),
        certs.other_ca().display().to_string()
    ));
    let delivery = Delivery::from_config(&c).unwrap();
    let issued = issue(&engine(&c), "ana@example.org");
    match delivery.send_now(&Outgoing::from_issued(&issued)) {
        Err(Error::Failed(e)) => assert_eq!(e.failure, Failure::Refused, "{e}"),
        other => panic!("expected a TLS refusal, got {other:?}"),
    }
    assert!(server.messages().is_empty());
}

#[test]
fn a_wrong_password_is_a_clear_error_within_the_timeout() {
    let certs = Certificates::new();
    let server = SmtpServer::start(SmtpOptions {
        tls: SmtpTls::Starttls,
        certificates: Some(&certs),
        auth: Some(("mailer", "right")),
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let c = config(&format!(
        "host = \"localhost\"\nport = {}\nca_file = {:?}\nusername = \"mailer\"\npassword_file = {:?}\ncommand_timeout_ms = 2000",
        server.port(),
        certs.ca().display().to_string(),
        password_file(&dir, "wrong-pw-7")
    ));
    let delivery = Delivery::from_config(&c).unwrap();
    let issued = issue(&engine(&c), "ana@example.org");
    let start = Instant::now();
    let e = delivery.send_now(&Outgoing::from_issued(&issued)).unwrap_err();
    assert!(start.elapsed() < Duration::from_secs(10), "within the timeouts: {:?}", start.elapsed());
    let Error::Failed(e) = e else { panic!("{e:?}") };
    assert_eq!(e.failure, Failure::Refused, "credentials are not retried: {e}");
    assert_eq!(e.status, Some(535));
    let text = e.to_string();
    assert!(text.contains("credentials") && !text.contains("wrong-pw-7"), "{text}");
    assert!(server.messages().is_empty());
}

#[test]
fn a_closed_port_is_a_clear_error_within_the_timeout() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let c = config(&format!("host = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\nconnect_timeout_ms = 1000"));
    let log = Arc::new(DeliveryEventLog::default());
    let delivery = Delivery::builder(&c).events(log.clone()).build().unwrap();
    let issued = issue(&engine(&c), "ana@example.org");
    let start = Instant::now();
    let Err(Error::Failed(e)) = delivery.send_now(&Outgoing::from_issued(&issued)) else {
        panic!("expected a failure")
    };
    assert!(start.elapsed() < Duration::from_secs(5), "{:?}", start.elapsed());
    assert_eq!(e.failure, Failure::NotSent, "{e}");
    let kinds: Vec<_> = log.events().iter().map(|e| (e.kind, e.reason)).collect();
    assert_eq!(
        kinds,
        vec![(DeliveryEventKind::Retried, Some("not-sent")), (DeliveryEventKind::Failed, Some("not-sent"))],
        "nothing reached a relay, so it was retried (max_attempts = 2), then given up"
    );
}

#[test]
fn a_bounced_recipient_is_not_retried_and_a_greylisted_one_is() {
    let server = SmtpServer::start(SmtpOptions::default());
    let c = config(&format!("host = \"127.0.0.1\"\nport = {}\ntls = \"none\"", server.port()));
    let log = Arc::new(DeliveryEventLog::default());
    let delivery = Delivery::builder(&c).events(log.clone()).build().unwrap();
    let engine = engine(&c);

    let bounced = Outgoing::from_issued(&issue(&engine, "bounce@example.org"));
    let Err(Error::Failed(e)) = delivery.send_now(&bounced) else { panic!("expected a rejection") };
    assert_eq!((e.failure, e.status), (Failure::Rejected, Some(550)));
    assert_eq!(log.kinds_of(&bounced.id), vec![DeliveryEventKind::Failed]);

    let greylisted = Outgoing::from_issued(&issue(&engine, "busy@example.org"));
    delivery.send_now(&greylisted).unwrap();
    assert_eq!(log.kinds_of(&greylisted.id), vec![DeliveryEventKind::Retried, DeliveryEventKind::Sent]);
    let messages = server.messages();
    assert_eq!(messages.len(), 1, "exactly one message arrived");
    assert_eq!(messages[0].rcpt_tos, vec!["busy@example.org"]);
}

#[test]
fn the_pool_keeps_one_connection_for_messages_in_a_row() {
    let server = SmtpServer::start(SmtpOptions::default());
    let c = config(&format!("host = \"127.0.0.1\"\nport = {}\ntls = \"none\"", server.port()));
    let delivery = Delivery::from_config(&c).unwrap();
    let engine = engine(&c);
    for to in ["a@example.org", "b@example.org", "c@example.org"] {
        delivery.send_now(&Outgoing::from_issued(&issue(&engine, to))).unwrap();
    }
    let m = server.wait_for(3, WAIT);
    assert!(m[0].peer_port != 0 && m.iter().all(|x| x.peer_port == m[0].peer_port), "one connection for all three");
}

fn openssl(dir: &std::path::Path, args: &[&str]) -> Vec<u8> {
    let out =
        std::process::Command::new("openssl").current_dir(dir).args(args).output().expect("the `openssl` command");
    assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    out.stdout
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[test]
fn dkim_signatures_verify_with_dkimpy() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    openssl(d, &["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", "rsa.pem"]);
    let rsa_public = openssl(d, &["pkey", "-in", "rsa.pem", "-pubout", "-outform", "DER"]);
    openssl(d, &["genpkey", "-algorithm", "ed25519", "-out", "ed.pem"]);
    let ed_public = openssl(d, &["pkey", "-in", "ed.pem", "-pubout", "-outform", "DER"]);
    // RFC 8463: the DNS record holds the bare 32-byte key, the end of the DER SubjectPublicKeyInfo.
    let ed_raw = &ed_public[ed_public.len() - 32..];

    let server = SmtpServer::start(SmtpOptions::default());
    for (algorithm, key, public) in [("rsa", "rsa.pem", b64(&rsa_public)), ("ed25519", "ed.pem", b64(ed_raw))] {
        let c = config(&format!(
            "host = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n[delivery.email.dkim]\ndomain = \"acme.example\"\n\
             selector = \"s2026\"\nalgorithm = \"{algorithm}\"\nkey_file = {:?}",
            server.port(),
            d.join(key).display().to_string()
        ));
        let delivery = Delivery::from_config(&c).unwrap();
        let before = server.messages().len();
        delivery.send_now(&Outgoing::from_issued(&issue(&engine(&c), "ana@example.org"))).unwrap();
        let raw = server.wait_for(before + 1, WAIT)[before].raw.clone();
        let text = String::from_utf8_lossy(&raw);
        assert!(text.contains("DKIM-Signature:"), "{algorithm}: signed");
        dkim_verify(&raw, "s2026", "acme.example", algorithm, &public).unwrap_or_else(|e| panic!("{algorithm}: {e}"));
        // The same message with its subject changed in transit must fail.
        let tampered = text.replacen("Subject: ", "Subject: Re: ", 1);
        assert!(dkim_verify(tampered.as_bytes(), "s2026", "acme.example", algorithm, &public).is_err(), "{algorithm}");
    }
}

#[test]
fn config_mistakes_are_named_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let bad_from = config("host = \"127.0.0.1\"\ntls = \"none\"").clone();
    let mut c = bad_from.clone();
    c.delivery.email.as_mut().unwrap().from = "not an address".into();
    assert!(matches!(
        Delivery::from_config(&c).unwrap_err(),
        Error::Config(passcode_core::Error::PolicyOutOfBounds { field: "delivery.email.from", .. })
    ));
    let c = config(&format!(
        "host = \"127.0.0.1\"\ntls = \"none\"\nusername = \"u\"\npassword_file = {:?}",
        dir.path().join("missing").display().to_string()
    ));
    assert!(matches!(
        Delivery::from_config(&c).unwrap_err(),
        Error::Config(passcode_core::Error::PolicyOutOfBounds { field: "delivery.email.password_env", .. })
    ));
    let not_pem = dir.path().join("ca.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let c = config(&format!("host = \"localhost\"\nca_file = {:?}", not_pem.display().to_string()));
    assert!(matches!(
        Delivery::from_config(&c).unwrap_err(),
        Error::Config(passcode_core::Error::PolicyOutOfBounds { field: "delivery.email.ca_file", .. })
    ));
}
