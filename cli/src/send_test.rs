//! `passcode send-test`: one message through the configured senders, synchronously, with the
//! same route, retries and fallback as the engine's deliveries (`Delivery::send_now`), and the
//! provider's answer: its message id, or the failure's class, HTTP or SMTP status and the
//! provider's error code. Never the provider's own text (providers echo the number in it),
//! never the full address or number.
//!
//! The message is the engine's template with a sample code, marked as a test in its text: the
//! sample code works nowhere, and no challenge is issued, so no send limit or record of the
//! real store is touched.

use std::fmt::Write as _;
use std::sync::Arc;

use passcode_core::{Channel, Error, Identifier, Message, Purpose};
use passcode_delivery::{Content, Delivery, DeliveryEvent, DeliveryEventKind, DeliveryEventLog, Outgoing, Receipt};
use serde_json::{json, Value};
use zeroize::Zeroizing;

use crate::args::SendTestArgs;
use crate::output::{Exit, Failure, Redactor, Report};
use crate::preview::{render, sample_code};
use crate::source::ConfigFile;

/// The first line of every test message.
pub const TEST_MARK: &str = "[TEST]";

/// The channel a destination implies: SMS for `+` and digits, else email.
fn infer_channel(to: &str) -> Channel {
    if to.trim_start().starts_with('+') {
        Channel::Sms
    } else {
        Channel::Email
    }
}

/// What a test message says about itself.
const TEST_NOTE: &str =
    "This is a test message sent by `passcode send-test`. The code in it is a sample that works nowhere.";

/// The note as the HTML part's first paragraph, inside its body when it has one.
fn mark_html(html: &str) -> String {
    let note = format!("<p><strong>{}</strong></p>", passcode_core::message::html_escape(TEST_NOTE));
    let lower = html.to_ascii_lowercase();
    match lower.find("<body").and_then(|i| lower[i..].find('>').map(|j| i + j + 1)) {
        Some(at) => format!("{}{note}{}", &html[..at], &html[at..]),
        None => format!("{note}{html}"),
    }
}

/// The engine's message, marked as a test. The origin-bound line stays last (S21).
fn test_content(message: &Message) -> Content {
    match message {
        Message::Sms(sms) => Content::Sms { text: Zeroizing::new(format!("{TEST_MARK} {}", sms.text.as_str())) },
        Message::Email(email) => Content::Email {
            subject: Zeroizing::new(format!("{TEST_MARK} {}", email.subject.as_str())),
            text: Zeroizing::new(format!("{TEST_NOTE}\n\n{}", email.text.as_str())),
            html: Zeroizing::new(mark_html(&email.html)),
        },
    }
}

fn attempts(events: &[DeliveryEvent]) -> (Value, String) {
    let mut human = String::new();
    let mut list = Vec::new();
    for e in events.iter().filter(|e| e.kind != DeliveryEventKind::Queued) {
        let sender = e.sender.unwrap_or("-");
        let mut detail = Vec::new();
        if let Some(r) = e.reason {
            detail.push(r.to_string());
        }
        if let Some(s) = e.status {
            detail.push(format!("status {s}"));
        }
        if let Some(c) = &e.provider_code {
            detail.push(format!("provider code {c}"));
        }
        if let Some(ms) = e.retry_in_ms {
            detail.push(format!("next in {ms} ms"));
        }
        let _ = writeln!(human, "  {sender} attempt {}: {} {}", e.attempt, e.kind.name(), detail.join(", "));
        list.push(json!({
            "sender": e.sender, "attempt": e.attempt, "event": e.kind.name(), "reason": e.reason,
            "status": e.status, "provider_code": e.provider_code, "provider_id": e.provider_id,
        }));
    }
    (json!(list), human)
}

/// Runs `send-test`.
pub fn run(args: &SendTestArgs, redactor: &mut Redactor) -> Result<Report, Failure> {
    let file = ConfigFile::read(&args.config, redactor)?;
    let config = file.parse()?;
    let channel = args.channel.map_or_else(|| infer_channel(&args.to), Channel::from);
    let purpose = Purpose::from(args.purpose);
    let to = Identifier::parse_with_region(channel, &args.to, config.policy.sms_default_region.as_deref())
        .map_err(|e| Failure::new(Exit::Usage, format!("--to: {e}")).numbered(e.number(), e.name()))?;
    if !config.policy.allows_destination(&to) {
        let e = Error::DestinationBlocked;
        return Err(Failure::new(Exit::Refused, format!("--to: {e} (policy.sms_countries, policy.sms_number_types)"))
            .numbered(e.number(), e.name()));
    }
    crate::preview::check_locale(args.locale.as_deref()).map_err(crate::preview::locale_failure)?;
    let code = sample_code(&config.policy);
    let message = render(&config, channel, purpose, args.locale.as_deref(), &code).map_err(|e| file.failure(&e))?;
    let outgoing = Outgoing::new(purpose, "send-test", to.as_str(), test_content(&message), &code);

    // The outbox's own printing would mix the message into this command's output (and its JSON).
    let mut config = config;
    if let Some(outbox) = config.delivery.outbox.as_mut() {
        outbox.print = false;
    }
    let log = Arc::new(DeliveryEventLog::default());
    let delivery = Delivery::builder(&config).events(log.clone()).build().map_err(|e| file.delivery_failure(&e))?;
    if !delivery.has_route(channel) {
        let e = passcode_delivery::Error::NoSender { channel: channel.name() };
        let section =
            if channel == Channel::Email { "[delivery.email]" } else { "[delivery.sms] or [delivery.webhook]" };
        let mut f = file.delivery_failure(&e);
        f.notes.push(format!("add {section} (or [delivery.outbox] in development) to the config"));
        return Err(f);
    }
    let result = delivery.send_now(&outgoing);
    let events = log.events();
    let (attempts_json, attempts_human) = attempts(&events);
    let shown_to = to.masked();
    match result {
        Ok(Receipt { provider_id }) => {
            let sender = events.iter().rev().find(|e| e.kind == DeliveryEventKind::Sent).and_then(|e| e.sender);
            let outbox = sender == Some("outbox");
            let mut human = format!(
                "{} a test {} to {shown_to}{}\n",
                if outbox { "wrote" } else { "sent" },
                channel.name(),
                sender.map(|s| format!(" through `{s}`")).unwrap_or_default(),
            );
            let _ = writeln!(human, "provider's id: {}", provider_id.as_deref().unwrap_or("none given"));
            if outbox {
                let dir = config.delivery.outbox.as_ref().map_or("", |o| o.dir.as_str());
                let _ = writeln!(human, "DEVELOPMENT ONLY: it went to the outbox {dir}; nothing left this machine");
            }
            human.push_str("attempts:\n");
            human.push_str(&attempts_human);
            let json = json!({
                "ok": true, "channel": channel.name(), "to": shown_to, "sender": sender,
                "provider_id": provider_id, "message_id": outgoing.id, "attempts": attempts_json,
            });
            Ok(Report::ok(human, json))
        }
        Err(e) => {
            let mut f = file.delivery_failure(&e);
            f.file = None;
            if let passcode_delivery::Error::Failed(s) = &e {
                f.message = format!(
                    "the test {} to {shown_to} was not sent: {} ({})",
                    channel.name(),
                    s.failure.reason(),
                    s.detail
                );
                if let Some(status) = s.status {
                    f.notes.push(format!("status: {status}"));
                }
                if let Some(code) = &s.provider_code {
                    f.notes.push(format!("provider's code: {code}"));
                }
                f.extra.insert("failure".into(), json!(s.failure.reason()));
                f.extra.insert("status".into(), json!(s.status));
                f.extra.insert("provider_code".into(), json!(s.provider_code));
            }
            f.notes.push("attempts:".into());
            f.notes.extend(attempts_human.lines().map(|l| l.trim().to_string()));
            f.extra.insert("attempts".into(), attempts_json);
            Err(f)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destinations_imply_their_channel() {
        assert_eq!(infer_channel("+447400123456"), Channel::Sms);
        assert_eq!(infer_channel(" +1 555"), Channel::Sms);
        assert_eq!(infer_channel("jane@example.com"), Channel::Email);
    }

    #[test]
    fn test_messages_say_so_and_keep_the_origin_line_last() {
        let config = passcode_core::Config::parse("[messages]\ndomain = \"acme.example\"").unwrap();
        let sms = render(&config, Channel::Sms, Purpose::SignIn, None, "123456").unwrap();
        let Content::Sms { text } = test_content(&sms) else { panic!("an SMS") };
        assert!(text.starts_with("[TEST] "));
        assert_eq!(text.lines().last(), Some("@acme.example #123456"));
        let email = render(&config, Channel::Email, Purpose::SignIn, None, "123456").unwrap();
        let Content::Email { subject, text, html } = test_content(&email) else { panic!("an email") };
        assert!(subject.starts_with("[TEST] "));
        assert!(text.starts_with("This is a test message"));
        assert!(html.contains("<body style=\"font-family:sans-serif\"><p><strong>This is a test message"), "{}", *html);
        assert_eq!(mark_html("<p>x</p>"), format!("<p><strong>{}</strong></p><p>x</p>", TEST_NOTE));
    }
}
