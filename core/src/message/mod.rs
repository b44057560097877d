//! Messages: templates per channel, purpose and locale, rendered with the code.
//!
//! The config's templates are checked and looked up here; `template` prepares them at load
//! and renders them, `sms` counts an SMS's encoding and segments, and `html` escapes and
//! derives email HTML.
//!
//! An SMS ends with the origin-bound line `@example.com #123456` when a domain is configured,
//! so browsers (WebOTP) and iOS autofill the code only on that site (S21), and can carry the
//! Android SMS Retriever hash (S22). Its size is counted in GSM-7 septets or UCS-2 units and a
//! template that could exceed the configured number of segments is refused at load (S23).
//!
//! A rendered message holds the code, so it lives only in [`SecretText`]: a buffer wiped when
//! dropped, whose `Debug` shows nothing. Rendering sizes the text from its prepared pieces and
//! writes it into one buffer allocated at its exact size, so no growing buffer leaves a copy
//! of the code in memory it frees.

mod html;
mod sms;
mod template;

use std::collections::HashMap;

use serde::Deserialize;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::identifier::{Channel, Purpose};
use crate::policy::Policy;

use html::derive_html;
pub use html::html_escape;
pub use sms::{sms_segments, SmsEncoding};
use template::{builtin, check_template, derives_alike, prepare, Decimal, Html, Prepared, Ready, Template};

/// The `[messages]` section of the config.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MessagesConfig {
    /// The name shown in messages. Default "Passcode".
    pub app_name: String,
    /// The site's domain for the WebOTP origin-bound line, e.g. `example.com`.
    pub domain: Option<String>,
    /// An embedding (iframe) origin's domain, appended to the origin-bound line.
    pub embedded_domain: Option<String>,
    /// The Android SMS Retriever app hash (11 characters).
    pub android_app_hash: Option<String>,
    /// The most SMS segments a message may take. Default 2; 1..=10.
    pub sms_max_segments: u8,
    /// Whether an email's subject carries the code. Default false.
    pub code_in_email_subject: bool,
    /// The locale used when the request names none or one without templates. Default "en".
    pub default_locale: String,
    /// Templates that replace or add to the built-in English ones.
    pub templates: Vec<TemplateConfig>,
}

impl Default for MessagesConfig {
    fn default() -> Self {
        MessagesConfig {
            app_name: "Passcode".into(),
            domain: None,
            embedded_domain: None,
            android_app_hash: None,
            sms_max_segments: 2,
            code_in_email_subject: false,
            default_locale: "en".into(),
            templates: Vec::new(),
        }
    }
}

/// One configured template. Placeholders: `{code}` (required), `{app}`, `{minutes}`,
/// `{domain}`; `{{` and `}}` for literal braces.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TemplateConfig {
    /// A locale such as `fr` or `pt-br`.
    pub locale: String,
    /// `sms` or `email`.
    pub channel: String,
    /// A purpose name, or absent for every purpose.
    pub purpose: Option<String>,
    /// The SMS text (channel `sms`).
    pub sms: Option<String>,
    /// The email subject (channel `email`).
    pub email_subject: Option<String>,
    /// The email's plain-text body (channel `email`).
    pub email_text: Option<String>,
    /// The email's HTML body (channel `email`); derived from the text when absent.
    pub email_html: Option<String>,
}

/// Text that carries a code: wiped from memory when dropped, redacted in `Debug`, and with
/// no `Display`, so that formatting it into a log takes a deliberate `as_str()`. It derefs to
/// `str` for reading.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct SecretText(pub(crate) Zeroizing<String>);

impl SecretText {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for SecretText {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for SecretText {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SecretText {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for SecretText {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<SecretText> for str {
    fn eq(&self, other: &SecretText) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<SecretText> for &str {
    fn eq(&self, other: &SecretText) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<SecretText> for String {
    fn eq(&self, other: &SecretText) -> bool {
        self == other.as_str()
    }
}

impl AsRef<str> for SecretText {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretText({} bytes)", self.0.len())
    }
}

/// Writes text by pieces: rendering runs twice through one of these, to measure and to write.
pub(crate) type Sink<'a> = &'a mut dyn FnMut(&str);

/// Renders into one zeroizing buffer allocated once at its exact size.
pub(crate) fn render_secret(write: impl Fn(Sink<'_>)) -> SecretText {
    let mut len = 0usize;
    write(&mut |piece: &str| len = len.saturating_add(piece.len()));
    let mut out = Zeroizing::new(String::with_capacity(len));
    write(&mut |piece: &str| {
        // Never grow past the measured size (the two passes write the same text).
        if out.len().saturating_add(piece.len()) <= len {
            out.push_str(piece)
        }
    });
    SecretText(out)
}

/// A rendered message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// An SMS.
    Sms(SmsMessage),
    /// An email.
    Email(EmailMessage),
}

impl Message {
    /// The SMS, if this is one.
    pub fn sms(&self) -> Option<&SmsMessage> {
        match self {
            Message::Sms(s) => Some(s),
            Message::Email(_) => None,
        }
    }

    /// The email, if this is one.
    pub fn email(&self) -> Option<&EmailMessage> {
        match self {
            Message::Email(e) => Some(e),
            Message::Sms(_) => None,
        }
    }
}

/// A rendered SMS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmsMessage {
    /// The text, origin-bound line last when a domain is configured.
    pub text: SecretText,
    /// Its encoding.
    pub encoding: SmsEncoding,
    /// Segments it takes.
    pub segments: u32,
}

/// A rendered email.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmailMessage {
    /// The subject (it holds the code when `code_in_email_subject` is set).
    pub subject: SecretText,
    /// The plain-text body.
    pub text: SecretText,
    /// The HTML body.
    pub html: SecretText,
}

/// The templates in force, checked, ready to render.
#[derive(Clone, Debug)]
pub struct Messages {
    config: MessagesConfig,
    // Configured templates: locale -> (channel, purpose or None for all) -> template, the
    // locale first so that a lookup by `&str` needs no allocation. The built-in English ones
    // are consulted after all of these.
    templates: HashMap<String, HashMap<(Channel, Option<Purpose>), Ready>>,
    /// The built-in templates, by channel (SMS, email) and purpose (`Purpose::ALL`'s order).
    builtins: [[Ready; Purpose::ALL.len()]; 2],
    /// The configured SMS templates as written, with their names, for `check_sms_sizes`.
    sms_sources: Vec<(String, Option<Purpose>)>,
    /// `config.default_locale` in lowercase, made once.
    default_locale: String,
}

fn check_host(field: &'static str, value: &str) -> Result<(), Error> {
    let ok = !value.is_empty()
        && value.len() <= 253
        && value.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(Error::PolicyOutOfBounds {
            field,
            reason: "must be a lowercase ASCII host name such as `example.com`".into(),
        })
    }
}

impl Messages {
    /// Checks the configured templates against the policy (placeholders, SMS size) and
    /// prepares them.
    pub fn new(config: &MessagesConfig, policy: &Policy) -> Result<Self, Error> {
        if config.app_name.trim().is_empty() || config.app_name.len() > 64 {
            return Err(Error::PolicyOutOfBounds {
                field: "messages.app_name",
                reason: "must be 1 to 64 bytes".into(),
            });
        }
        if let Some(d) = &config.domain {
            check_host("messages.domain", d)?;
        }
        if let Some(d) = &config.embedded_domain {
            check_host("messages.embedded_domain", d)?;
            if config.domain.is_none() {
                return Err(Error::PolicyOutOfBounds {
                    field: "messages.embedded_domain",
                    reason: "needs messages.domain".into(),
                });
            }
        }
        if let Some(h) = &config.android_app_hash {
            if h.len() != 11 || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/') {
                return Err(Error::PolicyOutOfBounds {
                    field: "messages.android_app_hash",
                    reason: "must be the 11-character base64 hash of the SMS Retriever API".into(),
                });
            }
        }
        if !(1..=10).contains(&config.sms_max_segments) {
            return Err(Error::PolicyOutOfBounds {
                field: "messages.sms_max_segments",
                reason: "must be 1..=10".into(),
            });
        }
        let mut templates = HashMap::new();
        let mut sms_sources = Vec::new();
        for (i, t) in config.templates.iter().enumerate() {
            // Errors name a template by its locale, channel and purpose once those are known
            // to be plain tokens, and by its position before: never by arbitrary config text.
            let plain_locale = !t.locale.is_empty()
                && t.locale.len() <= 35
                && t.locale.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !plain_locale {
                return Err(Error::InvalidTemplate {
                    template: format!("templates[{i}]"),
                    reason: "locale must be a tag such as `fr` or `pt-BR`".into(),
                });
            }
            let channel = Channel::parse(&t.channel).map_err(|_| Error::InvalidTemplate {
                template: format!("{}/templates[{i}]", t.locale),
                reason: "channel must be `sms` or `email`".into(),
            })?;
            let purpose = t.purpose.as_deref().map(Purpose::parse).transpose().map_err(|_| Error::InvalidTemplate {
                template: format!("{}/{}/templates[{i}]", t.locale, t.channel),
                reason: "unknown purpose".into(),
            })?;
            let name = format!("{}/{}/{}", t.locale, t.channel, t.purpose.as_deref().unwrap_or("*"));
            let missing =
                |what: &str| Error::InvalidTemplate { template: name.clone(), reason: format!("{what} is missing") };
            let template = match channel {
                Channel::Sms => {
                    if t.email_subject.is_some() || t.email_text.is_some() || t.email_html.is_some() {
                        return Err(Error::InvalidTemplate {
                            template: name,
                            reason: "an sms template has email fields".into(),
                        });
                    }
                    let sms = t.sms.clone().ok_or_else(|| missing("sms"))?;
                    check_template(&name, &sms, true)?;
                    Template::Sms(sms)
                }
                Channel::Email => {
                    if t.sms.is_some() {
                        return Err(Error::InvalidTemplate {
                            template: name,
                            reason: "an email template has an sms field".into(),
                        });
                    }
                    let subject = t.email_subject.clone().ok_or_else(|| missing("email_subject"))?;
                    let text = t.email_text.clone().ok_or_else(|| missing("email_text"))?;
                    check_template(&name, &subject, false)?;
                    check_template(&name, &text, true)?;
                    if let Some(h) = &t.email_html {
                        check_template(&name, h, true)?;
                    }
                    Template::Email { subject, text, html: t.email_html.clone() }
                }
            };
            let ready = prepare(config, &template);
            let locale = t.locale.to_ascii_lowercase();
            if channel == Channel::Sms {
                sms_sources.retain(|(l, p)| (l, p) != (&locale, &purpose));
                sms_sources.push((locale.clone(), purpose));
            }
            templates.entry(locale).or_insert_with(HashMap::new).insert((channel, purpose), ready);
        }
        let builtins = [Channel::Sms, Channel::Email]
            .map(|c| Purpose::ALL.map(|p| prepare(config, &builtin(c, p, config.code_in_email_subject))));
        let default_locale = config.default_locale.to_ascii_lowercase();
        let messages = Messages { config: config.clone(), templates, builtins, sms_sources, default_locale };
        messages.check_sms_sizes(policy)?;
        Ok(messages)
    }

    /// Renders every SMS template with the longest code and lifetime the policy allows and
    /// refuses one that could exceed the segment limit (S22, S23).
    fn check_sms_sizes(&self, policy: &Policy) -> Result<(), Error> {
        let widest = "0".repeat(policy.code_length as usize);
        let builtins =
            Purpose::ALL.map(|p| (format!("en/sms/{}(built-in)", p.name()), vec![p], self.builtin(Channel::Sms, p)));
        let configured = self.sms_sources.iter().map(|(locale, purpose)| {
            let name = format!("{locale}/sms/{}", purpose.map_or("*", |p| p.name()));
            (
                name,
                purpose.map_or(Purpose::ALL.to_vec(), |p| vec![p]),
                &self.templates[locale][&(Channel::Sms, *purpose)],
            )
        });
        let mut all: Vec<_> = configured.chain(builtins).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, purposes, template) in all {
            let Ready::Sms(text) = template else { continue };
            for p in purposes {
                let sms = render_sms_with(text, &widest, policy.lifetime(Channel::Sms, p));
                if self.config.android_app_hash.is_some() && sms.segments > 1 {
                    return Err(Error::InvalidTemplate {
                        template: name,
                        reason: "with an Android app hash the SMS must fit in 140 bytes (one segment)".into(),
                    });
                }
                if sms.segments > u32::from(self.config.sms_max_segments) {
                    return Err(Error::InvalidTemplate {
                        template: name,
                        reason: format!(
                            "{} segments, more than sms_max_segments = {}",
                            sms.segments, self.config.sms_max_segments
                        ),
                    });
                }
            }
        }
        Ok(())
    }

    fn builtin(&self, channel: Channel, purpose: Purpose) -> &Ready {
        let by_channel = &self.builtins[usize::from(channel == Channel::Email)];
        &by_channel[Purpose::ALL.iter().position(|p| *p == purpose).expect("every purpose")]
    }

    fn lookup(&self, locale: &str, channel: Channel, purpose: Purpose) -> &Ready {
        if !self.templates.is_empty() {
            // Lowercased on the stack: the engine checks a request's locale is at most 35 bytes.
            let mut lower = [0u8; 64];
            let long;
            let locale = match lower.get_mut(..locale.len()) {
                Some(buffer) => {
                    buffer.copy_from_slice(locale.as_bytes());
                    buffer.make_ascii_lowercase();
                    std::str::from_utf8(buffer).unwrap_or("")
                }
                None => {
                    long = locale.to_ascii_lowercase();
                    &long
                }
            };
            let language = locale.split(['-', '_']).next().unwrap_or("");
            for l in [locale, language, &self.default_locale, "en"] {
                let Some(by_locale) = self.templates.get(l) else { continue };
                for p in [Some(purpose), None] {
                    if let Some(t) = by_locale.get(&(channel, p)) {
                        return t;
                    }
                }
            }
        }
        self.builtin(channel, purpose)
    }

    /// Renders the message for a code.
    pub fn render(
        &self,
        channel: Channel,
        purpose: Purpose,
        locale: Option<&str>,
        code: &str,
        lifetime_seconds: u64,
    ) -> Message {
        let locale = locale.unwrap_or(&self.config.default_locale);
        match channel {
            Channel::Sms => Message::Sms(self.render_sms(locale, purpose, code, lifetime_seconds)),
            Channel::Email => Message::Email(self.render_email(locale, purpose, code, lifetime_seconds)),
        }
    }

    fn render_sms(&self, locale: &str, purpose: Purpose, code: &str, lifetime: u64) -> SmsMessage {
        let Ready::Sms(t) = self.lookup(locale, Channel::Sms, purpose) else {
            unreachable!("sms templates are stored under the sms channel")
        };
        render_sms_with(t, code, lifetime)
    }

    fn render_email(&self, locale: &str, purpose: Purpose, code: &str, lifetime: u64) -> EmailMessage {
        let Ready::Email { subject, text, html } = self.lookup(locale, Channel::Email, purpose) else {
            unreachable!("email templates are stored under the email channel")
        };
        let minutes = Decimal::new(lifetime.div_ceil(60));
        let minutes = minutes.as_str();
        let text_body = text.render(code, minutes);
        let html_body = match html {
            Html::Template(h) => h.render(code, minutes),
            Html::Derived(h) if derives_alike(code) => h.render(code, minutes),
            Html::Derived(_) | Html::AtRender => render_secret(|out| derive_html(&text_body, out)),
        };
        EmailMessage { subject: subject.render(code, minutes), text: text_body, html: html_body }
    }
}

fn render_sms_with(t: &Prepared, code: &str, lifetime: u64) -> SmsMessage {
    let text = t.render(code, Decimal::new(lifetime.div_ceil(60)).as_str());
    let (encoding, segments) = sms_segments(&text);
    SmsMessage { text, encoding, segments }
}

#[cfg(test)]
mod tests {
    use super::html::escape_html;
    use super::template::{fill, plain};
    use super::*;

    fn messages(f: impl FnOnce(&mut MessagesConfig)) -> Result<Messages, Error> {
        let mut c = MessagesConfig::default();
        f(&mut c);
        Messages::new(&c, &Policy::default())
    }

    #[test]
    fn s21_origin_bound_line_is_last() {
        let m = messages(|c| c.domain = Some("example.com".into())).unwrap();
        let sms = m.render(Channel::Sms, Purpose::SignIn, None, "012345", 600);
        let text = &sms.sms().unwrap().text;
        assert_eq!(text.lines().last().unwrap(), "@example.com #012345");
        assert!(text.starts_with("012345 is your Passcode code to sign in. It expires in 10 min."));
        let m = messages(|c| {
            c.domain = Some("example.com".into());
            c.embedded_domain = Some("embedded.example".into());
        })
        .unwrap();
        let sms = m.render(Channel::Sms, Purpose::SignIn, None, "012345", 600);
        assert_eq!(sms.sms().unwrap().text.lines().last().unwrap(), "@example.com #012345 @embedded.example");
    }

    #[test]
    fn s22_android_hash_fits_one_segment() {
        let m = messages(|c| {
            c.domain = Some("example.com".into());
            c.android_app_hash = Some("FA+9qCX9VSu".into());
        })
        .unwrap();
        let sms = m.render(Channel::Sms, Purpose::SignUp, None, "123456", 600);
        let s = sms.sms().unwrap();
        assert!(s.text.contains("\nFA+9qCX9VSu\n"));
        assert_eq!(s.text.lines().last().unwrap(), "@example.com #123456");
        assert_eq!(s.segments, 1, "fits in 140 bytes");
        // A template that cannot fit one segment with the hash is refused at load.
        let e = messages(|c| {
            c.android_app_hash = Some("FA+9qCX9VSu".into());
            c.templates.push(TemplateConfig {
                locale: "en".into(),
                channel: "sms".into(),
                purpose: None,
                sms: Some(format!("{{code}} {}", "x".repeat(150))),
                email_subject: None,
                email_text: None,
                email_html: None,
            });
        })
        .unwrap_err();
        assert!(matches!(e, Error::InvalidTemplate { .. }), "{e}");
        assert!(messages(|c| c.android_app_hash = Some("short".into())).is_err());
    }

    #[test]
    fn s23_template_over_the_segment_limit_refused() {
        let e = messages(|c| {
            c.sms_max_segments = 1;
            c.templates.push(TemplateConfig {
                locale: "ru".into(),
                channel: "sms".into(),
                purpose: Some("sign-in".into()),
                sms: Some(format!("{{code}} {}", "ж".repeat(70))),
                email_subject: None,
                email_text: None,
                email_html: None,
            });
        })
        .unwrap_err();
        assert_eq!(
            e,
            Error::InvalidTemplate {
                template: "ru/sms/sign-in".into(),
                reason: "2 segments, more than sms_max_segments = 1".into()
            }
        );
    }

    #[test]
    fn locales_fall_back_and_placeholders_fill() {
        let m = messages(|c| {
            c.templates.push(TemplateConfig {
                locale: "fr".into(),
                channel: "sms".into(),
                purpose: None,
                sms: Some("{app} : votre code est {code}, valable {minutes} min {{ok}}".into()),
                email_subject: None,
                email_text: None,
                email_html: None,
            })
        })
        .unwrap();
        let fr = m.render(Channel::Sms, Purpose::SignIn, Some("fr-CA"), "111222", 300);
        assert_eq!(fr.sms().unwrap().text, "Passcode : votre code est 111222, valable 5 min {ok}");
        let de = m.render(Channel::Sms, Purpose::SignIn, Some("de"), "111222", 300);
        assert!(de.sms().unwrap().text.starts_with("111222 is your Passcode code"));
    }

    #[test]
    fn email_has_subject_text_and_escaped_html() {
        let m = messages(|c| c.app_name = "Acme <Bank>".into()).unwrap();
        let mail = m.render(Channel::Email, Purpose::Recovery, None, "654321", 86_400);
        let e = mail.email().unwrap();
        assert_eq!(e.subject, "Your Acme <Bank> code");
        assert!(!e.subject.contains("654321"), "the code stays out of the subject by default");
        assert!(e.text.contains("    654321\n"));
        assert!(e.text.contains("expires in 1440 minutes"));
        assert!(e.html.contains("Acme &lt;Bank&gt;") && e.html.contains("654321"));
        let m = messages(|c| c.code_in_email_subject = true).unwrap();
        let mail = m.render(Channel::Email, Purpose::SignIn, None, "654321", 600);
        assert_eq!(mail.email().unwrap().subject, "654321 is your Passcode code");
    }

    #[test]
    fn rendered_text_is_secret_and_sized_once() {
        let m = messages(|c| {
            c.domain = Some("example.com".into());
            c.app_name = "Acme & <Co>".into();
        })
        .unwrap();
        let sms = m.render(Channel::Sms, Purpose::SignIn, None, "482913", 600);
        let text = &sms.sms().unwrap().text;
        assert_eq!(text.0.capacity(), text.len(), "one allocation at the exact size: no grown buffer left behind");
        assert!(!format!("{sms:?}").contains("482913"), "Debug redacts the code");
        let mail = m.render(Channel::Email, Purpose::SignIn, None, "482913", 600);
        let e = mail.email().unwrap();
        for part in [&e.subject, &e.text, &e.html] {
            assert_eq!(part.0.capacity(), part.len());
        }
        assert!(e.html.contains("Acme &amp; &lt;Co&gt;") && e.html.contains("<p>482913</p>"), "{}", e.html.as_str());
        assert!(!format!("{mail:?}").contains("482913"));
    }

    /// Every message rendered from its prepared template is the one rendered from its source
    /// as before: placeholders filled in at each render, the HTML derived from each text body.
    #[test]
    fn prepared_templates_render_as_their_sources() {
        let reference = |config: &MessagesConfig, template: &Template, code: &str, lifetime: u64| {
            let minutes = lifetime.div_ceil(60).to_string();
            let domain = config.domain.as_deref().unwrap_or("");
            let vars = [("code", code), ("app", config.app_name.as_str()), ("minutes", &minutes), ("domain", domain)];
            let render = |t: &str, value: fn(&str, Sink<'_>)| render_secret(|out| fill(t, &vars, value, out));
            match template {
                Template::Sms(t) => vec![render_secret(|out| {
                    fill(t, &vars, plain, out);
                    if let Some(hash) = &config.android_app_hash {
                        out("\n");
                        out(hash);
                    }
                    if let Some(domain) = &config.domain {
                        out("\n\n@");
                        out(domain);
                        out(" #");
                        out(code);
                        if let Some(embedded) = &config.embedded_domain {
                            out(" @");
                            out(embedded);
                        }
                    }
                })],
                Template::Email { subject, text, html } => {
                    let text = render(text, plain);
                    let html = match html {
                        Some(h) => render(h, escape_html),
                        None => render_secret(|out| derive_html(&text, out)),
                    };
                    vec![render(subject, plain), text, html]
                }
            }
        };
        let prepared = |ready: &Ready, code: &str, lifetime: u64| match ready {
            Ready::Sms(t) => vec![render_sms_with(t, code, lifetime).text],
            Ready::Email { .. } => {
                let m = Messages {
                    config: MessagesConfig::default(),
                    templates: HashMap::new(),
                    builtins: [Purpose::ALL.map(|_| ready.clone()), Purpose::ALL.map(|_| ready.clone())],
                    sms_sources: Vec::new(),
                    default_locale: "en".into(),
                };
                let e = m.render_email("en", Purpose::SignIn, code, lifetime);
                vec![e.subject, e.text, e.html]
            }
        };
        let mut templates: Vec<Template> = Purpose::ALL
            .into_iter()
            .flat_map(|p| {
                [builtin(Channel::Sms, p, false), builtin(Channel::Email, p, true), builtin(Channel::Email, p, false)]
            })
            .collect();
        for t in [
            "{code}",
            "{{code}} {code}}} {{{code}}} {app}{domain}{minutes}",
            "  {code} leads\n\n\n  {app}  \n{domain}\n\n{minutes}\n",
            "\n\n{domain}\n\n   \n\n{code}\t\n",
            "<b>{app}</b> & \"{code}\" '{minutes}' \u{e000} \u{e001}",
            "ж {code} 😀\r\n\r\n{app}",
        ] {
            templates.push(Template::Sms(t.into()));
            let html = Some(format!("<p>{t}</p>"));
            templates.push(Template::Email { subject: t.into(), text: t.into(), html: None });
            templates.push(Template::Email { subject: t.into(), text: t.into(), html });
        }
        let configs = [
            MessagesConfig::default(),
            MessagesConfig {
                app_name: "Acme & <Co> \"q\" 'a'".into(),
                domain: Some("example.com".into()),
                ..Default::default()
            },
            MessagesConfig { app_name: " Lead\n\nand\ntrail ".into(), ..Default::default() },
            MessagesConfig {
                app_name: "mark \u{e000}\u{e001}".into(),
                domain: Some("a.example".into()),
                ..Default::default()
            },
            MessagesConfig {
                domain: Some("example.com".into()),
                embedded_domain: Some("embedded.example".into()),
                android_app_hash: Some("FA+9qCX9VSu".into()),
                ..Default::default()
            },
        ];
        let mut compared = 0;
        for config in &configs {
            for template in &templates {
                let ready = prepare(config, template);
                for code in ["123456", "k7m2xq", "0", "", " 12 ", "1\n\n2", "<&>\"'", "\u{e000}"] {
                    for lifetime in [0, 59, 60, 61, 600, 86_400, u64::MAX] {
                        let (want, got) =
                            (reference(config, template, code, lifetime), prepared(&ready, code, lifetime));
                        assert_eq!(got, want, "{template:?} {code:?} {lifetime}");
                        for part in &got {
                            assert_eq!(part.0.capacity(), part.len(), "one allocation at the exact size");
                        }
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 5000, "{compared}");
    }

    #[test]
    fn bad_templates_refused_with_their_name() {
        let t = |sms: &str| TemplateConfig {
            locale: "en".into(),
            channel: "sms".into(),
            purpose: None,
            sms: Some(sms.into()),
            email_subject: None,
            email_text: None,
            email_html: None,
        };
        for (s, reason) in [
            ("no code here", "it has no `{code}`"),
            ("{code} {nope}", "an unknown placeholder (the known ones: {code}, {app}, {minutes}, {domain})"),
            ("{code", "an unclosed `{`"),
            ("{code} }", "a lone `}` (write `}}`)"),
        ] {
            let e = messages(|c| c.templates.push(t(s))).unwrap_err();
            assert_eq!(e, Error::InvalidTemplate { template: "en/sms/*".into(), reason: reason.into() }, "{s}");
        }
        let mut bad = t("{code}");
        bad.channel = "fax".into();
        assert!(messages(|c| c.templates.push(bad)).is_err());
        assert!(messages(|c| c.domain = Some("Example.com".into())).is_err());
    }
}
