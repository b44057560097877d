//! `passcode send-test` against real servers on loopback (tests/test-servers): aiosmtpd for
//! email, and the Messages API and webhook stand-in for SMS. What arrives says it is a test;
//! what the command prints is the provider's answer (its id, or the failure's class, status
//! and code), never the provider's text, the code, or the full address or number.

mod support;

use std::path::Path;
use std::time::Duration;

use passcode_test_servers::{ProviderServer, SmtpOptions, SmtpServer};
use support::passcode;

const NUMBER: &str = "+447400123456";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

/// Neither the full number nor its local digits appear.
fn assert_number_hidden(out: &str) {
    assert!(!out.contains("7400123456"), "the number was printed:\n{out}");
}

#[test]
fn a_test_email_reaches_the_smtp_server_and_says_it_is_a_test() {
    let server = SmtpServer::start(SmtpOptions::default());
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "passcode.toml",
        &format!(
            "[messages]\napp_name = \"Acme\"\n[delivery.email]\nhost = \"127.0.0.1\"\nport = {}\ntls = \"none\"\n\
             from = \"Acme <no-reply@acme.example>\"\n",
            server.port()
        ),
    );
    let out = passcode(dir.path(), &["send-test", "passcode.toml", "--to", "jane.doe@example.org"]).expect(0);
    assert!(out.stdout.contains("sent a test email to j***@example.org through `email`"), "{}", out.stdout);
    assert!(!out.all().contains("jane.doe"), "the address was printed:\n{}", out.all());
    let received = server.wait_for(1, Duration::from_secs(10));
    assert_eq!(received[0].rcpt_tos, vec!["jane.doe@example.org"]);
    let raw = String::from_utf8_lossy(&received[0].raw).into_owned();
    assert!(raw.contains("Subject: [TEST] Your Acme code"), "{raw}");
    assert!(raw.contains("This is a test message sent by `passcode send-test`"), "{raw}");
    assert!(raw.contains("123456"), "the sample code");
    assert!(!out.all().contains("123456"), "the code is not printed");

    let json = passcode(dir.path(), &["send-test", "--json", "passcode.toml", "--to", "jane.doe@example.org"])
        .expect(0)
        .json();
    assert_eq!(
        (json["ok"].as_bool(), json["sender"].as_str(), json["to"].as_str()),
        (Some(true), Some("email"), Some("j***@example.org"))
    );
    let id = json["provider_id"].as_str().expect("the Message-ID the relay took");
    assert!(id.contains("msg_"), "{id}");
    assert_eq!(json["attempts"][0]["event"], "sent");

    // A mailbox the relay refuses for good: exit 3, the SMTP status, no retry.
    let bounced =
        passcode(dir.path(), &["send-test", "--json", "passcode.toml", "--to", "bounce@example.org"]).expect(3).json();
    let e = &bounced["error"];
    assert_eq!(
        (e["name"].as_str(), e["failure"].as_str(), e["status"].as_u64()),
        (Some("delivery-failed"), Some("rejected"), Some(550))
    );
    assert_eq!(e["attempts"].as_array().unwrap().len(), 1);
    assert!(!bounced.to_string().contains("bounce@"), "{bounced}");
    assert_eq!(server.messages().len(), 2, "nothing more arrived");
}

fn sms_config(dir: &Path, p: &ProviderServer, sections: &str) {
    write(dir, "token-a", "token-aaaa\n");
    write(dir, "token-b", "token-bbbb\n");
    let text = format!(
        "[messages]\napp_name = \"Acme\"\ndomain = \"login.acme.example\"\n\
         [delivery]\nmax_attempts = 2\nbackoff_base_ms = 10\nbackoff_max_ms = 20\n\
         [delivery.sms]\nbase_url = {:?}\naccount_sid = \"AC0001\"\nauth_token_file = \"token-a\"\nfrom = \"+15005550006\"\n{sections}",
        p.base_url()
    );
    write(dir, "sms.toml", &text);
}

#[test]
fn a_test_sms_reaches_the_provider_with_its_answer_reported() {
    let p = ProviderServer::start(&[("AC0001", "token-aaaa"), ("AC0002", "token-bbbb")], None);
    let dir = tempfile::tempdir().unwrap();
    sms_config(dir.path(), &p, "");
    let out = passcode(dir.path(), &["send-test", "sms.toml", "--to", NUMBER]).expect(0);
    assert_number_hidden(&out.all());
    assert!(out.stdout.contains("sent a test sms to +44********56 through `sms`"), "{}", out.stdout);
    let requests = p.wait_for(1, Duration::from_secs(10));
    let body = requests[0]["form"]["Body"].as_str().unwrap();
    assert!(body.starts_with("[TEST] 123456 is your Acme code"), "{body}");
    assert!(body.ends_with("\n@login.acme.example #123456"), "the origin-bound line stays last: {body}");
    let sid = requests[0]["answer"].as_str().map(String::from);
    assert_eq!(sid.as_deref(), Some("201"));
    let provider_id = out.stdout.lines().find_map(|l| l.strip_prefix("provider's id: ")).unwrap();
    assert!(provider_id.starts_with("SM"), "Twilio's message sid: {provider_id}");

    // The provider refuses the number: its status and code, not its text (which names it).
    p.script("AC0001", &["400:21211"]);
    let refused = passcode(dir.path(), &["send-test", "sms.toml", "--to", NUMBER]).expect(3);
    assert!(refused.stderr.contains("rejected") && refused.stderr.contains("status: 400"), "{}", refused.stderr);
    assert!(refused.stderr.contains("provider's code: 21211"), "{}", refused.stderr);
    assert!(!refused.all().contains("is not valid"), "the provider's own text is never shown:\n{}", refused.all());
    assert_number_hidden(&refused.all());
    let json = {
        p.script("AC0001", &["400:21610"]);
        passcode(dir.path(), &["send-test", "--json", "sms.toml", "--to", NUMBER]).expect(3).json()
    };
    assert_eq!((json["error"]["status"].as_u64(), json["error"]["provider_code"].as_str()), (Some(400), Some("21610")));
    assert_number_hidden(&json.to_string());
}

#[test]
fn a_test_sms_takes_the_same_retries_and_fallback_as_the_engines() {
    let p = ProviderServer::start(&[("AC0001", "token-aaaa"), ("AC0002", "token-bbbb")], None);
    let dir = tempfile::tempdir().unwrap();
    let fallback = format!(
        "[delivery.sms_fallback]\nbase_url = {:?}\naccount_sid = \"AC0002\"\nauth_token_file = \"token-b\"\nfrom = \"+15005550006\"\n",
        p.base_url()
    );
    sms_config(dir.path(), &p, &fallback);
    // Busy twice on the first provider (both its attempts), then the fallback takes it.
    p.script("AC0001", &["500", "500"]);
    let json = passcode(dir.path(), &["send-test", "--json", "sms.toml", "--to", NUMBER]).expect(0).json();
    assert_eq!(json["sender"], "sms_fallback");
    let events: Vec<(String, String)> = json["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["sender"].as_str().unwrap().to_string(), a["event"].as_str().unwrap().to_string()))
        .collect();
    let expected = [("sms", "retried"), ("sms", "retried"), ("sms_fallback", "sent")];
    assert_eq!(events, expected.map(|(s, e)| (s.to_string(), e.to_string())));
    let sent: Vec<_> = p.requests().into_iter().filter(|r| r["answer"] == "201").collect();
    assert_eq!(sent.len(), 1, "exactly one SMS went out");
    assert_eq!(sent[0]["account"], "AC0002");
}

#[test]
fn send_test_refuses_what_the_engine_would_refuse() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "none.toml", "[messages]\napp_name = \"Acme\"\n");
    let no_sender = passcode(dir.path(), &["send-test", "none.toml", "--to", "jane@example.com"]).expect(1);
    assert!(
        no_sender.stderr.contains("no sender is configured for email") && no_sender.stderr.contains("[no-sender]"),
        "{}",
        no_sender.stderr
    );
    assert!(no_sender.stderr.contains("add [delivery.email]"), "{}", no_sender.stderr);
    let bad = passcode(dir.path(), &["send-test", "none.toml", "--to", "not-an-address"]).expect(2);
    assert!(bad.stderr.contains("--to: not an email address"), "{}", bad.stderr);
    assert!(!bad.stderr.contains("not-an-address"), "a refused address is described, never echoed: {}", bad.stderr);
    passcode(dir.path(), &["send-test", "none.toml", "--to", "+0123"]).expect(2);

    write(
        dir.path(),
        "blocked.toml",
        "[policy]\nsms_countries = { deny = [\"44\"] }\n[delivery.outbox]\ndir = \"outbox\"\n",
    );
    let blocked = passcode(dir.path(), &["send-test", "blocked.toml", "--to", NUMBER]).expect(1);
    assert!(blocked.stderr.contains("[destination-blocked]"), "{}", blocked.stderr);
    assert!(
        !dir.path().join("outbox").exists() || std::fs::read_dir(dir.path().join("outbox")).unwrap().next().is_none()
    );

    // Premium-rate numbers are refused by default, as the engine refuses them (SMS pumping).
    let premium = passcode(dir.path(), &["send-test", "blocked.toml", "--to", "+1 900 234 5678"]).expect(1);
    assert!(premium.stderr.contains("[destination-blocked]"), "{}", premium.stderr);

    // The outbox, in development: written, and said so.
    let outbox = passcode(dir.path(), &["send-test", "blocked.toml", "--to", "+14155550100"]).expect(0);
    assert!(
        outbox.stdout.contains("wrote a test sms") && outbox.stdout.contains("DEVELOPMENT ONLY"),
        "{}",
        outbox.stdout
    );
    let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox")).unwrap().collect();
    assert_eq!(files.len(), 1);
}
