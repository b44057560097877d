//! The `[delivery]` section of the config: how messages leave the host (SMTP, an SMS
//! provider's Messages API, a signed webhook, or the development outbox).
//!
//! Core keeps this as data and checks its shape, as it does for `[store]`: the engine does no
//! network I/O, and `passcode-delivery` builds the senders from it, reading the secrets and
//! checking what needs its libraries (addresses, certificates, DKIM keys). Secrets are never
//! literals: each is the name of an environment variable or a file. Error texts name the
//! field and the rule, never a value, since a value may be a secret or a personal address.

use serde::Deserialize;

use crate::error::Error;

/// The `[delivery]` section.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DeliveryConfig {
    /// A production config: the development outbox is refused. Default false.
    pub production: bool,
    /// Messages waiting to be sent, at most. A full queue refuses new messages at once (it
    /// never blocks the request). Default 1024; 1..=1,000,000.
    pub queue_capacity: u32,
    /// Threads sending messages. Default 4; 1..=64.
    pub workers: u32,
    /// Attempts per provider for one message, first included. Default 3; 1..=10.
    pub max_attempts: u32,
    /// The wait before the first retry, in ms; it doubles per retry, with full jitter.
    /// Default 500; 1..=60,000.
    pub backoff_base_ms: u64,
    /// The longest wait between two attempts, in ms. Default 8,000; base..=600,000.
    pub backoff_max_ms: u64,
    /// How long a message may take from queueing to its last attempt, in ms: retries and
    /// fallbacks stop there. Default 60,000; 1,000..=3,600,000.
    pub deadline_ms: u64,
    /// How long shutting down waits for queued messages, in ms. Default 5,000; 0..=600,000.
    pub shutdown_ms: u64,
    /// The SMS senders in the order they are tried: names among `sms`, `sms_fallback` and
    /// `webhook`. Default: those configured, in that order.
    pub sms_route: Option<Vec<String>>,
    /// Email over SMTP.
    pub email: Option<SmtpConfig>,
    /// SMS through a Twilio-compatible Messages API.
    pub sms: Option<SmsApiConfig>,
    /// A second Messages API provider (same fields as `sms`), tried after the first fails.
    pub sms_fallback: Option<SmsApiConfig>,
    /// SMS through a generic HTTPS webhook signed per Standard Webhooks.
    pub webhook: Option<WebhookConfig>,
    /// DEVELOPMENT ONLY: messages written to files instead of being sent.
    pub outbox: Option<OutboxConfig>,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            production: false,
            queue_capacity: 1024,
            workers: 4,
            max_attempts: 3,
            backoff_base_ms: 500,
            backoff_max_ms: 8_000,
            deadline_ms: 60_000,
            shutdown_ms: 5_000,
            sms_route: None,
            email: None,
            sms: None,
            sms_fallback: None,
            webhook: None,
            outbox: None,
        }
    }
}

/// How the SMTP connection is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum SmtpTls {
    /// Plain connection upgraded with STARTTLS (port 587); refused if the server does not offer it.
    #[default]
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
    /// No TLS: only to a relay on this machine (loopback), where nothing crosses a network.
    None,
}

/// `[delivery.email]`: email over SMTP.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    /// The SMTP server's host name (or IP address).
    pub host: String,
    /// The port. Default: 587 for STARTTLS, 465 for implicit TLS, 25 for none.
    pub port: Option<u16>,
    /// `starttls` (default), `implicit`, or `none` (loopback only).
    #[serde(default)]
    pub tls: SmtpTls,
    /// A PEM file of CA certificates to trust instead of the system's roots.
    pub ca_file: Option<String>,
    /// The user name for SMTP AUTH.
    pub username: Option<String>,
    /// An environment variable holding the AUTH password.
    pub password_env: Option<String>,
    /// A file holding the AUTH password.
    pub password_file: Option<String>,
    /// The sender, `Name <address>` or `address`.
    pub from: String,
    /// An optional `Reply-To` address.
    pub reply_to: Option<String>,
    /// The name sent in EHLO. Default: this machine's host name.
    pub hello_name: Option<String>,
    /// Connections kept open for reuse. Default 4; 0..=64 (0: a new connection per message).
    pub pool_size: Option<u32>,
    /// How long to wait to connect (TCP, TLS and the greeting), in ms. Default 5,000.
    pub connect_timeout_ms: Option<u64>,
    /// How long to wait for the answer to each command, in ms. Default 10,000.
    pub command_timeout_ms: Option<u64>,
    /// DKIM signing.
    pub dkim: Option<DkimConfig>,
}

/// The signing algorithm of a DKIM key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum DkimAlgorithm {
    /// RSA-SHA256 (`rsa-sha256`), the one every verifier supports.
    #[default]
    Rsa,
    /// Ed25519-SHA256 (RFC 8463).
    Ed25519,
}

/// `[delivery.email.dkim]`: DKIM signing with a key from a file.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DkimConfig {
    /// The signing domain (`d=`).
    pub domain: String,
    /// The selector (`s=`): the key is published at `<selector>._domainkey.<domain>`.
    pub selector: String,
    /// `rsa` (default) or `ed25519`.
    #[serde(default)]
    pub algorithm: DkimAlgorithm,
    /// The private key: PEM (PKCS#1 or PKCS#8) for RSA; PKCS#8 PEM or the base64 seed for Ed25519.
    pub key_file: String,
}

/// `[delivery.sms]` and `[delivery.sms_fallback]`: a Twilio-compatible Messages API.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsApiConfig {
    /// The API's base URL. Default `https://api.twilio.com`; `http://` only on loopback.
    pub base_url: Option<String>,
    /// The account id (Twilio's Account SID), also the basic-auth user.
    pub account_sid: String,
    /// An environment variable holding the auth token.
    pub auth_token_env: Option<String>,
    /// A file holding the auth token.
    pub auth_token_file: Option<String>,
    /// The sending number (E.164) or alphanumeric sender id.
    pub from: Option<String>,
    /// A messaging service id, instead of `from`.
    pub messaging_service_sid: Option<String>,
    /// A PEM file of CA certificates to trust instead of the system's roots.
    pub ca_file: Option<String>,
    /// How long to wait to connect, in ms. Default 3,000.
    pub connect_timeout_ms: Option<u64>,
    /// How long one request may take in all, in ms. Default 10,000.
    pub timeout_ms: Option<u64>,
}

/// `[delivery.webhook]`: a JSON POST signed per Standard Webhooks.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// Where to POST. `https://`, or `http://` only on loopback.
    pub url: String,
    /// An environment variable holding the secret, `whsec_` and base64.
    pub secret_env: Option<String>,
    /// A file holding the secret.
    pub secret_file: Option<String>,
    /// Also send `code` and `purpose`, for providers that render their own text. Default false.
    #[serde(default)]
    pub include_code: bool,
    /// A PEM file of CA certificates to trust instead of the system's roots.
    pub ca_file: Option<String>,
    /// How long to wait to connect, in ms. Default 3,000.
    pub connect_timeout_ms: Option<u64>,
    /// How long one request may take in all, in ms. Default 10,000.
    pub timeout_ms: Option<u64>,
}

/// `[delivery.outbox]`: DEVELOPMENT ONLY.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// The folder messages are written to (created if missing).
    pub dir: String,
    /// Also print each message to standard output. Default false.
    #[serde(default)]
    pub print: bool,
}

/// Where a secret is read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    /// An environment variable, by name.
    Env(String),
    /// A file, by path.
    File(String),
}

/// The SMS senders' names, in their default order.
pub const SMS_SENDERS: [&str; 3] = ["sms", "sms_fallback", "webhook"];

fn out(field: &'static str, reason: &str) -> Error {
    Error::PolicyOutOfBounds { field, reason: reason.into() }
}

fn check_range(field: &'static str, value: u64, min: u64, max: u64) -> Result<(), Error> {
    if value < min || value > max {
        return Err(Error::PolicyOutOfBounds { field, reason: format!("must be {min}..={max}") });
    }
    Ok(())
}

fn check_text(field: &'static str, value: &str, max: usize) -> Result<(), Error> {
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(Error::PolicyOutOfBounds { field, reason: format!("must be 1 to {max} printable bytes") });
    }
    Ok(())
}

/// Exactly one of `env` and `file` (or neither when the secret is optional).
fn secret(
    env_field: &'static str,
    env: &Option<String>,
    file: &Option<String>,
    required: bool,
) -> Result<Option<SecretSource>, Error> {
    match (env, file) {
        (Some(_), Some(_)) => Err(out(env_field, "set one of the `_env` and `_file` forms, not both")),
        (Some(e), None) => check_text(env_field, e, 255).map(|_| Some(SecretSource::Env(e.clone()))),
        (None, Some(f)) => check_text(env_field, f, 4096).map(|_| Some(SecretSource::File(f.clone()))),
        (None, None) if required => {
            Err(out(env_field, "is required, as `_env` (a variable's name) or `_file` (a path); never a literal"))
        }
        (None, None) => Ok(None),
    }
}

/// Whether a host names this machine: only then may a connection go without TLS.
pub fn is_loopback_host(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host of an `http://` or `https://` URL, and whether it is `https`.
fn url_host(url: &str) -> Option<(bool, &str)> {
    let (https, rest) =
        if let Some(r) = url.strip_prefix("https://") { (true, r) } else { (false, url.strip_prefix("http://")?) };
    let authority = rest.split(['/', '?', '#']).next()?;
    if authority.contains('@') {
        return None;
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => &authority[..v6.find(']')? + 2],
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    (!host.is_empty()).then_some((https, host))
}

fn check_url(field: &'static str, url: &str) -> Result<(), Error> {
    check_text(field, url, 2048)?;
    match url_host(url) {
        Some((true, _)) => Ok(()),
        Some((false, host)) if is_loopback_host(host) => Ok(()),
        Some((false, _)) => {
            Err(out(field, "must be https:// (http:// only to this machine, where nothing crosses a network)"))
        }
        None => Err(out(field, "must be an https:// URL without user information")),
    }
}

fn check_timeout(field: &'static str, ms: Option<u64>) -> Result<(), Error> {
    ms.map_or(Ok(()), |ms| check_range(field, ms, 1, 300_000))
}

impl SmtpConfig {
    /// The port in force.
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::Starttls => 587,
            SmtpTls::Implicit => 465,
            SmtpTls::None => 25,
        })
    }

    /// Where the AUTH password comes from, if any.
    pub fn password(&self) -> Result<Option<SecretSource>, Error> {
        secret("delivery.email.password_env", &self.password_env, &self.password_file, false)
    }

    fn validate(&self) -> Result<(), Error> {
        check_text("delivery.email.host", &self.host, 253)?;
        if self.host.chars().any(char::is_whitespace) {
            return Err(out("delivery.email.host", "must be a host name or an IP address"));
        }
        if self.port == Some(0) {
            return Err(out("delivery.email.port", "must be 1..=65535"));
        }
        if self.tls == SmtpTls::None && !is_loopback_host(&self.host) {
            return Err(out(
                "delivery.email.tls",
                "`none` is allowed only to a relay on this machine (loopback); use `starttls` or `implicit`",
            ));
        }
        let password = self.password()?;
        match (&self.username, &password) {
            (Some(u), Some(_)) => check_text("delivery.email.username", u, 255)?,
            (None, None) => {}
            _ => return Err(out("delivery.email.username", "AUTH needs both `username` and a password source")),
        }
        check_text("delivery.email.from", &self.from, 320)?;
        if let Some(r) = &self.reply_to {
            check_text("delivery.email.reply_to", r, 320)?;
        }
        if let Some(h) = &self.hello_name {
            check_text("delivery.email.hello_name", h, 253)?;
        }
        if let Some(f) = &self.ca_file {
            check_text("delivery.email.ca_file", f, 4096)?;
        }
        if let Some(n) = self.pool_size {
            check_range("delivery.email.pool_size", u64::from(n), 0, 64)?;
        }
        check_timeout("delivery.email.connect_timeout_ms", self.connect_timeout_ms)?;
        check_timeout("delivery.email.command_timeout_ms", self.command_timeout_ms)?;
        if let Some(d) = &self.dkim {
            check_text("delivery.email.dkim.domain", &d.domain, 253)?;
            check_text("delivery.email.dkim.selector", &d.selector, 63)?;
            check_text("delivery.email.dkim.key_file", &d.key_file, 4096)?;
        }
        Ok(())
    }
}

impl SmsApiConfig {
    /// The API's base URL in force.
    pub fn base_url(&self) -> &str {
        self.base_url.as_deref().unwrap_or("https://api.twilio.com")
    }

    /// Where the auth token comes from.
    pub fn auth_token(&self, field: &'static str) -> Result<SecretSource, Error> {
        secret(field, &self.auth_token_env, &self.auth_token_file, true)?.ok_or_else(|| out(field, "is required"))
    }

    fn validate(&self, f: &SmsApiFields) -> Result<(), Error> {
        check_url(f.base_url, self.base_url())?;
        check_text(f.account_sid, &self.account_sid, 64)?;
        if !self.account_sid.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(out(f.account_sid, "must be letters and digits"));
        }
        self.auth_token(f.auth_token)?;
        match (&self.from, &self.messaging_service_sid) {
            (Some(v), None) => check_text(f.from, v, 32)?,
            (None, Some(v)) => check_text(f.from, v, 64)?,
            _ => return Err(out(f.from, "set exactly one of `from` and `messaging_service_sid`")),
        }
        if let Some(v) = &self.ca_file {
            check_text(f.ca_file, v, 4096)?;
        }
        check_timeout(f.connect_timeout_ms, self.connect_timeout_ms)?;
        check_timeout(f.timeout_ms, self.timeout_ms)
    }
}

/// The dotted field names of one Messages API section, for errors.
pub struct SmsApiFields {
    /// `base_url`.
    pub base_url: &'static str,
    /// `account_sid`.
    pub account_sid: &'static str,
    /// `auth_token_env` (and `_file`).
    pub auth_token: &'static str,
    /// `from` (and `messaging_service_sid`).
    pub from: &'static str,
    /// `ca_file`.
    pub ca_file: &'static str,
    /// `connect_timeout_ms`.
    pub connect_timeout_ms: &'static str,
    /// `timeout_ms`.
    pub timeout_ms: &'static str,
}

macro_rules! sms_api_fields {
    ($section:literal) => {
        SmsApiFields {
            base_url: concat!("delivery.", $section, ".base_url"),
            account_sid: concat!("delivery.", $section, ".account_sid"),
            auth_token: concat!("delivery.", $section, ".auth_token_env"),
            from: concat!("delivery.", $section, ".from"),
            ca_file: concat!("delivery.", $section, ".ca_file"),
            connect_timeout_ms: concat!("delivery.", $section, ".connect_timeout_ms"),
            timeout_ms: concat!("delivery.", $section, ".timeout_ms"),
        }
    };
}

/// The field names of `[delivery.sms]`.
pub const SMS_FIELDS: SmsApiFields = sms_api_fields!("sms");
/// The field names of `[delivery.sms_fallback]`.
pub const SMS_FALLBACK_FIELDS: SmsApiFields = sms_api_fields!("sms_fallback");

impl WebhookConfig {
    /// Where the signing secret comes from.
    pub fn secret(&self) -> Result<SecretSource, Error> {
        secret("delivery.webhook.secret_env", &self.secret_env, &self.secret_file, true)?
            .ok_or_else(|| out("delivery.webhook.secret_env", "is required"))
    }

    fn validate(&self) -> Result<(), Error> {
        check_url("delivery.webhook.url", &self.url)?;
        self.secret()?;
        if let Some(f) = &self.ca_file {
            check_text("delivery.webhook.ca_file", f, 4096)?;
        }
        check_timeout("delivery.webhook.connect_timeout_ms", self.connect_timeout_ms)?;
        check_timeout("delivery.webhook.timeout_ms", self.timeout_ms)
    }
}

impl DeliveryConfig {
    /// Whether any sender is configured.
    pub fn has_senders(&self) -> bool {
        self.email.is_some() || self.outbox.is_some() || !self.sms_route().is_empty()
    }

    /// The SMS senders in the order they are tried.
    pub fn sms_route(&self) -> Vec<&'static str> {
        match &self.sms_route {
            Some(names) => names.iter().filter_map(|n| SMS_SENDERS.iter().copied().find(|s| s == n)).collect(),
            None => SMS_SENDERS.iter().copied().filter(|n| self.is_configured(n)).collect(),
        }
    }

    fn is_configured(&self, name: &str) -> bool {
        match name {
            "sms" => self.sms.is_some(),
            "sms_fallback" => self.sms_fallback.is_some(),
            "webhook" => self.webhook.is_some(),
            _ => false,
        }
    }

    /// Checks the section's shape (what needs no I/O and no delivery library).
    pub fn validate(&self) -> Result<(), Error> {
        check_range("delivery.queue_capacity", u64::from(self.queue_capacity), 1, 1_000_000)?;
        check_range("delivery.workers", u64::from(self.workers), 1, 64)?;
        check_range("delivery.max_attempts", u64::from(self.max_attempts), 1, 10)?;
        check_range("delivery.backoff_base_ms", self.backoff_base_ms, 1, 60_000)?;
        check_range("delivery.backoff_max_ms", self.backoff_max_ms, self.backoff_base_ms, 600_000)?;
        check_range("delivery.deadline_ms", self.deadline_ms, 1_000, 3_600_000)?;
        check_range("delivery.shutdown_ms", self.shutdown_ms, 0, 600_000)?;
        if self.production && self.outbox.is_some() {
            return Err(out(
                "delivery.outbox",
                "the outbox writes codes to files and sends nothing: a production config cannot use it",
            ));
        }
        if let Some(e) = &self.email {
            e.validate()?;
        }
        if let Some(s) = &self.sms {
            s.validate(&SMS_FIELDS)?;
        }
        if let Some(s) = &self.sms_fallback {
            s.validate(&SMS_FALLBACK_FIELDS)?;
        }
        if let Some(w) = &self.webhook {
            w.validate()?;
        }
        if let Some(o) = &self.outbox {
            check_text("delivery.outbox.dir", &o.dir, 4096)?;
        }
        if let Some(names) = &self.sms_route {
            for (i, n) in names.iter().enumerate() {
                if !SMS_SENDERS.contains(&n.as_str()) {
                    return Err(out("delivery.sms_route", "names only `sms`, `sms_fallback` and `webhook`"));
                }
                if !self.is_configured(n) {
                    return Err(out("delivery.sms_route", "names a sender that has no section"));
                }
                if names[..i].contains(n) {
                    return Err(out("delivery.sms_route", "names a sender twice"));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Config;

    fn parse(text: &str) -> Result<DeliveryConfig, Error> {
        Config::parse(text).map(|c| c.delivery)
    }

    fn field_of(e: Error) -> &'static str {
        match e {
            Error::PolicyOutOfBounds { field, .. } => field,
            other => panic!("not a bounds error: {other:?}"),
        }
    }

    #[test]
    fn a_full_section_reads_in_toml_and_json() {
        let toml = r#"
            [delivery]
            production = true
            workers = 2
            sms_route = ["webhook", "sms"]
            [delivery.email]
            host = "smtp.example.com"
            username = "passcode"
            password_env = "SMTP_PASSWORD"
            from = "Acme <no-reply@acme.example>"
            reply_to = "help@acme.example"
            [delivery.email.dkim]
            domain = "acme.example"
            selector = "s1"
            key_file = "/etc/passcode/dkim.pem"
            [delivery.sms]
            account_sid = "AC123"
            auth_token_file = "/etc/passcode/twilio"
            from = "+15005550006"
            [delivery.webhook]
            url = "https://sms.example.com/send"
            secret_env = "WEBHOOK_SECRET"
        "#;
        let d = parse(toml).unwrap();
        assert!(d.production);
        assert_eq!(d.email.as_ref().unwrap().port(), 587);
        assert_eq!(d.email.as_ref().unwrap().password().unwrap(), Some(SecretSource::Env("SMTP_PASSWORD".into())));
        assert_eq!(d.sms.as_ref().unwrap().base_url(), "https://api.twilio.com");
        assert_eq!(d.sms_route(), vec!["webhook", "sms"]);
        let json = r#"{"delivery":{"production":true,"workers":2,"sms_route":["webhook","sms"],
            "email":{"host":"smtp.example.com","username":"passcode","password_env":"SMTP_PASSWORD",
            "from":"Acme <no-reply@acme.example>","reply_to":"help@acme.example",
            "dkim":{"domain":"acme.example","selector":"s1","key_file":"/etc/passcode/dkim.pem"}},
            "sms":{"account_sid":"AC123","auth_token_file":"/etc/passcode/twilio","from":"+15005550006"},
            "webhook":{"url":"https://sms.example.com/send","secret_env":"WEBHOOK_SECRET"}}}"#;
        assert_eq!(parse(json).unwrap(), d);
    }

    #[test]
    fn the_default_route_is_every_sms_sender_configured() {
        let d = parse(
            "[delivery.webhook]\nurl = \"https://h.example/x\"\nsecret_env = \"S\"\n\
             [delivery.sms]\naccount_sid = \"AC1\"\nauth_token_env = \"T\"\nmessaging_service_sid = \"MG1\"",
        )
        .unwrap();
        assert_eq!(d.sms_route(), vec!["sms", "webhook"]);
        assert!(d.has_senders());
        assert!(!DeliveryConfig::default().has_senders());
    }

    #[test]
    fn secrets_are_never_literals() {
        let e = Config::parse("[delivery.email]\nhost = \"h\"\nfrom = \"a@b.example\"\npassword = \"hunter2\"")
            .unwrap_err();
        assert_eq!(e, Error::UnknownConfigField { field: "password".into() });
        let e = Config::parse("[delivery.webhook]\nurl = \"https://h.example\"\nsecret = \"whsec_x\"").unwrap_err();
        assert_eq!(e, Error::UnknownConfigField { field: "secret".into() });
        let e = parse("[delivery.webhook]\nurl = \"https://h.example\"").unwrap_err();
        assert_eq!(field_of(e), "delivery.webhook.secret_env");
        let e = parse(
            "[delivery.sms]\naccount_sid = \"AC1\"\nauth_token_env = \"A\"\nauth_token_file = \"b\"\nfrom = \"+1\"",
        )
        .unwrap_err();
        assert_eq!(field_of(e), "delivery.sms.auth_token_env");
        let e = parse("[delivery.email]\nhost = \"h\"\nfrom = \"a@b.example\"\nusername = \"u\"").unwrap_err();
        assert_eq!(field_of(e), "delivery.email.username", "a user without a password source");
    }

    #[test]
    fn cleartext_only_to_this_machine() {
        let email =
            |host: &str| parse(&format!("[delivery.email]\nhost = {host:?}\ntls = \"none\"\nfrom = \"a@b.example\""));
        assert!(email("127.0.0.1").is_ok());
        assert!(email("localhost").is_ok());
        assert!(email("::1").is_ok());
        assert_eq!(field_of(email("smtp.example.com").unwrap_err()), "delivery.email.tls");
        assert_eq!(field_of(email("10.0.0.5").unwrap_err()), "delivery.email.tls");
        let hook = |url: &str| parse(&format!("[delivery.webhook]\nurl = {url:?}\nsecret_env = \"S\""));
        assert!(hook("http://127.0.0.1:9000/send").is_ok());
        assert!(hook("http://[::1]:9000/send").is_ok());
        assert!(hook("https://sms.example.com/send").is_ok());
        assert_eq!(field_of(hook("http://sms.example.com/send").unwrap_err()), "delivery.webhook.url");
        assert_eq!(field_of(hook("http://127.0.0.1.example.com/").unwrap_err()), "delivery.webhook.url");
        assert_eq!(field_of(hook("ftp://h/").unwrap_err()), "delivery.webhook.url");
        let e = hook("https://user:pw@sms.example.com/").unwrap_err();
        assert_eq!(field_of(e.clone()), "delivery.webhook.url");
        assert!(!e.to_string().contains("pw"), "no value is quoted: {e}");
    }

    #[test]
    fn production_refuses_the_outbox() {
        assert!(parse("[delivery.outbox]\ndir = \"outbox\"").is_ok());
        let e = parse("[delivery]\nproduction = true\n[delivery.outbox]\ndir = \"outbox\"").unwrap_err();
        assert_eq!(field_of(e), "delivery.outbox");
    }

    #[test]
    fn bounds_and_routes() {
        assert_eq!(field_of(parse("[delivery]\nworkers = 0").unwrap_err()), "delivery.workers");
        assert_eq!(field_of(parse("[delivery]\nqueue_capacity = 0").unwrap_err()), "delivery.queue_capacity");
        assert_eq!(field_of(parse("[delivery]\nmax_attempts = 11").unwrap_err()), "delivery.max_attempts");
        assert_eq!(
            field_of(parse("[delivery]\nbackoff_base_ms = 900\nbackoff_max_ms = 800").unwrap_err()),
            "delivery.backoff_max_ms"
        );
        assert_eq!(field_of(parse("[delivery]\nsms_route = [\"sms\"]").unwrap_err()), "delivery.sms_route");
        assert_eq!(field_of(parse("[delivery]\nsms_route = [\"pigeon\"]").unwrap_err()), "delivery.sms_route");
        let e = parse("[delivery.sms]\naccount_sid = \"AC1\"\nauth_token_env = \"T\"\nfrom = \"+1\"\nmessaging_service_sid = \"MG\"")
            .unwrap_err();
        assert_eq!(field_of(e), "delivery.sms.from");
        let e = parse("[delivery.sms]\naccount_sid = \"AC/../x\"\nauth_token_env = \"T\"\nfrom = \"+1\"").unwrap_err();
        assert_eq!(field_of(e), "delivery.sms.account_sid", "the id goes into the URL path");
        assert!(matches!(
            Config::parse("[delivery.email]\nhost = \"h\"\nfrom = \"a@b\"\ntls = \"sometimes\"").unwrap_err(),
            Error::ConfigSyntax { .. }
        ));
    }
}
