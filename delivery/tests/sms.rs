//! SMS through a real HTTP server on loopback standing in for the providers: a
//! Twilio-compatible Messages API that checks the form and basic auth as Twilio does, and a
//! Standard Webhooks receiver that verifies signatures with the reference library (PyPI
//! `standardwebhooks`), not with this crate's code. It answers as the test scripts it: 500
//! then 201 (one retry, exactly one SMS), 400 (no retry), 429 with Retry-After, a hang
//! (timeout, then the fallback).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use passcode_core::{Channel, Config, Engine, IssueRequest, ManualClock, Purpose};
use passcode_delivery::{Delivery, DeliveryEventKind, DeliveryEventLog, Error, Failure, Outgoing};
use passcode_test_servers::ProviderServer;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);
const NUMBER: &str = "+447400123456";

/// Files holding the providers' secrets (files, not variables: tests run in parallel threads).
struct Secrets {
    dir: tempfile::TempDir,
    webhook: String,
}

impl Secrets {
    fn new() -> Secrets {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("token-a"), "token-aaaa\n").unwrap();
        std::fs::write(dir.path().join("token-b"), "token-bbbb").unwrap();
        std::fs::write(dir.path().join("wrong"), "not-the-token").unwrap();
        let webhook = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([0x5au8; 32]));
        std::fs::write(dir.path().join("whsec"), &webhook).unwrap();
        Secrets { dir, webhook }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

fn provider(s: &Secrets) -> ProviderServer {
    ProviderServer::start(&[("AC0001", "token-aaaa"), ("AC0002", "token-bbbb")], Some(&s.webhook))
}

/// `[delivery]` with fast retries and the given sections.
fn config(sections: &str) -> Config {
    Config::parse(&format!(
        "[messages]\napp_name = \"Acme\"\ndomain = \"login.acme.example\"\n\
         [delivery]\nmax_attempts = 3\nbackoff_base_ms = 20\nbackoff_max_ms = 100\n{sections}"
    ))
    .unwrap()
}

fn sms_section(name: &str, p: &ProviderServer, sid: &str, token_file: &str, extra: &str) -> String {
    format!(
        "[delivery.{name}]\nbase_url = {:?}\naccount_sid = {sid:?}\nauth_token_file = {token_file:?}\n{extra}\n",
        p.base_url()
    )
}

fn webhook_section(p: &ProviderServer, s: &Secrets, extra: &str) -> String {
    format!("[delivery.webhook]\nurl = {:?}\nsecret_file = {:?}\n{extra}\n", p.webhook_url(), s.path("whsec"))
}

fn issued(c: &Config) -> passcode_core::Issued {
    let engine = Engine::builder(c.clone()).clock(Arc::new(ManualClock::new(1_800_000_000))).build().unwrap();
    engine
        .issue(&IssueRequest {
            channel: Channel::Sms,
            identifier: NUMBER,
            purpose: Purpose::SignIn,
            client: None,
            locale: None,
        })
        .unwrap()
}

fn delivery(c: &Config) -> (Delivery, Arc<DeliveryEventLog>) {
    let log = Arc::new(DeliveryEventLog::default());
    (Delivery::builder(c).events(log.clone()).build().unwrap(), log)
}

fn messages_requests(p: &ProviderServer, account: &str) -> Vec<Value> {
    p.requests().into_iter().filter(|r| r["endpoint"] == "messages" && r["account"] == account).collect()
}

fn assert_no_secrets(log: &DeliveryEventLog, code: &str) {
    let text = format!("{:?}", log.events());
    assert!(!text.contains(code), "an event holds the code: {text}");
    assert!(!text.contains("7400123456"), "an event holds the number: {text}");
}

#[test]
fn the_messages_api_gets_the_form_and_basic_auth_twilio_expects() {
    let s = Secrets::new();
    let p = provider(&s);
    let c = config(&sms_section("sms", &p, "AC0001", &s.path("token-a"), "from = \"+15005550006\""));
    let (d, log) = delivery(&c);
    let i = issued(&c);
    let message = Outgoing::from_issued(&i);
    let id = message.id.clone();
    d.send(message).unwrap();
    let r = &p.wait_for(1, WAIT)[0];
    d.shutdown(WAIT);
    assert_eq!(r["auth_ok"], true, "basic auth with the account id and token");
    assert!(r["content_type"].as_str().unwrap().starts_with("application/x-www-form-urlencoded"));
    assert_eq!(r["form"]["To"], NUMBER);
    assert_eq!(r["form"]["From"], "+15005550006");
    let body = r["form"]["Body"].as_str().unwrap();
    let Some(sms) = i.message.sms() else { panic!("an SMS") };
    assert_eq!(body, sms.text, "the rendered text, byte for byte");
    assert!(body.ends_with(&format!("@login.acme.example #{}", i.code.as_str())), "the origin-bound line last: {body}");
    assert_eq!(r["answer"], "201");
    assert_eq!(log.kinds_of(&id), vec![DeliveryEventKind::Queued, DeliveryEventKind::Sent]);
    let sent = log.events().into_iter().find(|e| e.kind == DeliveryEventKind::Sent).unwrap();
    assert!(sent.provider_id.as_deref().is_some_and(|sid| sid.starts_with("SM")), "the provider's message sid");
    assert_eq!(sent.sender, Some("sms"));
    assert_no_secrets(&log, &i.code);
}

#[test]
fn a_messaging_service_replaces_from() {
    let s = Secrets::new();
    let p = provider(&s);
    let c = config(&sms_section("sms", &p, "AC0001", &s.path("token-a"), "messaging_service_sid = \"MG0001\""));
    let (d, _) = delivery(&c);
    d.send_now(&Outgoing::from_issued(&issued(&c))).unwrap();
    let r = &p.requests()[0];
    assert_eq!(r["form"]["MessagingServiceSid"], "MG0001");
    assert!(r["form"].get("From").is_none());
}

#[test]
fn a_500_then_201_is_retried_once_and_sends_exactly_one_sms() {
    let s = Secrets::new();
    let p = provider(&s);
    p.script("AC0001", &["500"]);
    let c = config(&sms_section("sms", &p, "AC0001", &s.path("token-a"), "from = \"+15005550006\""));
    let (d, log) = delivery(&c);
    let message = Outgoing::from_issued(&issued(&c));
    d.send_now(&message).unwrap();
    let answers: Vec<Value> = messages_requests(&p, "AC0001").iter().map(|r| r["answer"].clone()).collect();
    assert_eq!(answers, vec!["500", "201"], "one retry, and exactly one SMS accepted");
    let events = log.events();
    assert_eq!(log.kinds_of(&message.id), vec![DeliveryEventKind::Retried, DeliveryEventKind::Sent]);
    assert_eq!((events[0].reason, events[0].status, events[0].attempt), (Some("busy"), Some(500), 1));
    assert_eq!(events[1].attempt, 2);
}

#[test]
fn a_400_is_not_retried_and_reports_the_provider_code_but_not_its_text() {
    let s = Secrets::new();
    let p = provider(&s);
    p.script("AC0001", &["400:21211"]);
    let c = config(&format!(
        "{}{}",
        sms_section("sms", &p, "AC0001", &s.path("token-a"), "from = \"+15005550006\""),
        webhook_section(&p, &s, "")
    ));
    let (d, log) = delivery(&c);
    let i = issued(&c);
    let message = Outgoing::from_issued(&i);
    let Err(Error::Failed(e)) = d.send_now(&message) else { panic!("expected a rejection") };
    assert_eq!((e.failure, e.status, e.provider_code.as_deref()), (Failure::Rejected, Some(400), Some("21211")));
    assert!(!e.to_string().contains("7400123456"), "the provider's message repeats the number: {e}");
    assert_eq!(p.requests().len(), 1, "no retry, and no fallback to the webhook");
    assert_eq!(log.kinds_of(&message.id), vec![DeliveryEventKind::Failed]);
    assert_eq!(log.events()[0].provider_code.as_deref(), Some("21211"));
    assert_no_secrets(&log, &i.code);
}

#[test]
fn an_opted_out_number_never_reaches_the_fallback() {
    let s = Secrets::new();
    let p = provider(&s);
    p.script("AC0001", &["400:21610"]);
    let c = config(&format!(
        "{}{}",
        sms_section("sms", &p, "AC0001", &s.path("token-a"), "from = \"+15005550006\""),
        sms_section("sms_fallback", &p, "AC0002", &s.path("token-b"), "from = \"+15005550007\"")
    ));
    let (d, _) = delivery(&c);
    let Err(Error::Failed(e)) = d.send_now(&Outgoing::from_issued(&issued(&c))) else { panic!("expected a rejection") };
    assert_eq!(e.provider_code.as_deref(), Some("21610"));
    assert!(messages_requests(&p, "AC0002").is_empty(), "STOP means stop: no second provider");
}

#[test]
fn a_429_waits_exactly_its_retry_after() {
    let s = Secrets::new();
    let p = provider(&s);
    p.script("AC0001", &["429:1"]);
    let c = config(&sms_section("sms", &p, "AC0001", &s.path("token-a"), "from = \"+15005550006\""));
    let (d, log) = delivery(&c);
    d.send_now(&Outgoing::from_issued(&issued(&c))).unwrap();
    let events = log.events();
    assert_eq!(events[0].kind, DeliveryEventKind::Retried);
    assert_eq!((events[0].status, events[0].retry_in_ms), (Some(429), Some(1000)), "Retry-After: 1");
    assert_eq!(messages_requests(&p, "AC0001").len(), 2);
}

#[test]
fn a_hanging_provider_times_out_once_then_the_fallback_sends() {
    let s = Secrets::new();
    let p = provider(&s);
    p.script("AC0001", &["hang:4"]);
    let c = config(&format!(
        "{}{}",
        sms_section("sms", &p, "AC0001", &s.path("token-a"), "from = \"+15005550006\"\ntimeout_ms = 1000"),
        webhook_section(&p, &s, "")
    ));
    let (d, log) = delivery(&c);
    let message = Outgoing::from_issued(&issued(&c));
    let receipt = d.send_now(&message).unwrap();
    assert!(receipt.provider_id.as_deref().is_some_and(|id| id.starts_with("wh_")), "{receipt:?}");
    assert_eq!(messages_requests(&p, "AC0001").len(), 1, "the hung provider may have sent it: never asked again");
    let hooks: Vec<Value> = p.requests().into_iter().filter(|r| r["endpoint"] == "webhook").collect();
    assert_eq!(hooks.len(), 1);
    let events = log.events();
    assert_eq!(log.kinds_of(&message.id), vec![DeliveryEventKind::Retried, DeliveryEventKind::Sent]);
    assert_eq!((events[0].sender, events[0].reason), (Some("sms"), Some("outcome-unknown")));
    assert_eq!(events[1].sender, Some("webhook"));
}

#[test]
fn webhook_signatures_verify_with_the_reference_library() {
    let s = Secrets::new();
    let p = provider(&s);
    let c = config(&webhook_section(&p, &s, "include_code = true"));
    let (d, log) = delivery(&c);
    let i = issued(&c);
    let message = Outgoing::from_issued(&i);
    d.send_now(&message).unwrap();
    let r = &p.requests()[0];
    assert_eq!(r["verified"], true, "standardwebhooks verified the signature: {r}");
    assert_eq!(r["webhook_id"], message.id.as_str());
    assert_eq!(r["json"]["to"], NUMBER);
    assert_eq!(r["json"]["code"], i.code.as_str());
    assert_eq!(r["json"]["purpose"], "sign-in");
    assert_eq!(r["json"]["body"], i.message.sms().unwrap().text.as_str());
    assert_no_secrets(&log, &i.code);

    // Without include_code the code travels only inside the text.
    let c = config(&webhook_section(&p, &s, ""));
    let (d, _) = delivery(&c);
    d.send_now(&Outgoing::from_issued(&issued(&c))).unwrap();
    let r = &p.requests()[1];
    assert_eq!(r["verified"], true);
    assert!(r["json"].get("code").is_none() && r["json"].get("purpose").is_none(), "{r}");
}

#[test]
fn a_webhook_retry_keeps_its_id_so_the_receiver_can_drop_a_repeat() {
    let s = Secrets::new();
    let p = provider(&s);
    p.script("webhook", &["500"]);
    let c = config(&webhook_section(&p, &s, ""));
    let (d, _) = delivery(&c);
    let message = Outgoing::from_issued(&issued(&c));
    d.send_now(&message).unwrap();
    let r = p.requests();
    assert_eq!(r.len(), 2);
    assert!(r.iter().all(|r| r["verified"] == true && r["webhook_id"] == message.id.as_str()), "{r:?}");
}

#[test]
fn refused_credentials_move_to_the_fallback_provider() {
    let s = Secrets::new();
    let p = provider(&s);
    let c = config(&format!(
        "{}{}",
        sms_section("sms", &p, "AC0001", &s.path("wrong"), "from = \"+15005550006\""),
        sms_section("sms_fallback", &p, "AC0002", &s.path("token-b"), "from = \"+15005550007\"")
    ));
    let (d, log) = delivery(&c);
    let message = Outgoing::from_issued(&issued(&c));
    d.send_now(&message).unwrap();
    assert_eq!(messages_requests(&p, "AC0001").len(), 1, "a 401 is not retried on the same provider");
    let second = messages_requests(&p, "AC0002");
    assert_eq!((second.len(), second[0]["form"]["From"].as_str()), (1, Some("+15005550007")));
    let events = log.events();
    assert_eq!((events[0].reason, events[0].status), (Some("refused"), Some(401)));
}

#[test]
fn weak_secrets_and_cleartext_urls_are_refused_at_start() {
    let s = Secrets::new();
    let weak = s.dir.path().join("weak");
    std::fs::write(&weak, format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([1u8; 8]))).unwrap();
    let c = config(&format!(
        "[delivery.webhook]\nurl = \"https://sms.example.com/x\"\nsecret_file = {:?}",
        weak.display().to_string()
    ));
    assert!(matches!(
        Delivery::from_config(&c).unwrap_err(),
        Error::Config(passcode_core::Error::PolicyOutOfBounds { field: "delivery.webhook.secret_env", .. })
    ));
    let e = Config::parse("[delivery.webhook]\nurl = \"http://sms.example.com/x\"\nsecret_env = \"X\"").unwrap_err();
    assert!(matches!(e, passcode_core::Error::PolicyOutOfBounds { field: "delivery.webhook.url", .. }));
}
