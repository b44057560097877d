//! Messages from hostile templates: a template set is refused at load or renders every
//! message with the code in it, the origin-bound line last, and within its SMS size.
//!
//! The input is split at NUL bytes into: app name, domain, SMS template, email subject,
//! email text, email HTML, locale.
#![no_main]

use libfuzzer_sys::fuzz_target;
use passcode_core::message::{Messages, MessagesConfig, TemplateConfig};
use passcode_core::{Channel, Policy, Purpose};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.split('\0');
    let mut next = || parts.next().map(str::to_string);
    let (app, domain, sms, subject, body, html, locale) = (next(), next(), next(), next(), next(), next(), next());
    let mut config = MessagesConfig::default();
    if let Some(app) = app {
        config.app_name = app;
    }
    config.domain = domain.filter(|d| !d.is_empty());
    let locale = locale.unwrap_or_else(|| "en".into());
    if let Some(sms) = sms {
        config.templates.push(TemplateConfig {
            locale: locale.clone(),
            channel: "sms".into(),
            purpose: None,
            sms: Some(sms),
            email_subject: None,
            email_text: None,
            email_html: None,
        });
    }
    let default_html = html.as_deref().is_none_or(str::is_empty);
    if let (Some(subject), Some(body)) = (subject, body) {
        config.templates.push(TemplateConfig {
            locale: locale.clone(),
            channel: "email".into(),
            purpose: Some("sign-in".into()),
            sms: None,
            email_subject: Some(subject),
            email_text: Some(body),
            email_html: html.filter(|h| !h.is_empty()),
        });
    }
    let policy = Policy::default();
    let Ok(messages) = Messages::new(&config, &policy) else { return };
    let code = "012345";
    for purpose in Purpose::ALL {
        for channel in [Channel::Sms, Channel::Email] {
            let m = messages.render(channel, purpose, Some(&locale), code, 600);
            if let Some(sms) = m.sms() {
                assert!(sms.text.contains(code), "the SMS carries the code");
                assert!(sms.segments <= u32::from(config.sms_max_segments), "within the segment limit");
                if let Some(d) = &config.domain {
                    let last = sms.text.lines().last().unwrap_or("");
                    assert_eq!(last, format!("@{d} #{code}"), "the origin-bound line is last");
                }
            }
            if let Some(email) = m.email() {
                assert!(email.text.contains(code), "the email carries the code");
                if default_html {
                    assert!(!email.html.contains("<script"), "the text is escaped into the HTML body");
                }
            }
        }
    }
});
