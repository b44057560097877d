//! Email over SMTP with lettre: STARTTLS (587) or implicit TLS (465) over rustls, with the
//! system's roots or a configured CA file; AUTH; `multipart/alternative` text and HTML; a UTF-8
//! subject (lettre encodes it per RFC 2047); `Message-ID`, `Date`, `Auto-Submitted:
//! auto-generated`; optional DKIM.
//!
//! Connections come from a small pool of our own on lettre's `SmtpConnection`, rather than
//! lettre's `SmtpTransport`, for two reasons: connecting and each command get their own
//! timeout, and each failure is known by the step it happened at. That step decides a retry:
//! a failure before the end of DATA means the relay did not take the message (retry), while
//! silence after the message was sent in full means it may have (never repeated; see
//! `route.rs`). A pooled connection the relay has closed is noticed at MAIL FROM and replaced
//! at once without counting as an attempt.

use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lettre::message::header::{Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{Certificate, CertificateStore, SmtpConnection, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::{Address, Message};
use passcode_core::delivery_config::{SmtpConfig, SmtpTls};
use passcode_core::{Channel, Error};
use zeroize::Zeroizing;

use crate::dkim;
use crate::secret;
use crate::sender::{Content, Failure, Outgoing, Receipt, SendError, Sender};

/// How long an idle pooled connection is kept: relays drop idle clients after a few minutes
/// (RFC 5321 asks servers to wait at least 5), so a connection older than this is closed
/// rather than risked.
const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// `Auto-Submitted: auto-generated` (RFC 3834): mail systems send no vacation or other
/// automatic replies to it.
#[derive(Clone, Debug)]
struct AutoSubmitted;

impl Header for AutoSubmitted {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Auto-Submitted")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(AutoSubmitted)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "auto-generated".into())
    }
}

/// `X-Auto-Response-Suppress: All`: the same for Exchange and Outlook.
#[derive(Clone, Debug)]
struct SuppressAutoResponses;

impl Header for SuppressAutoResponses {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("X-Auto-Response-Suppress")
    }
    fn parse(_: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(SuppressAutoResponses)
    }
    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), "All".into())
    }
}

struct Idle {
    connection: SmtpConnection,
    since: Instant,
}

/// Sends email through one SMTP relay.
pub struct SmtpSender {
    host: String,
    port: u16,
    tls: SmtpTls,
    tls_parameters: Option<TlsParameters>,
    hello: ClientId,
    credentials: Option<Credentials>,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    id_domain: String,
    dkim: Option<lettre::message::dkim::DkimConfig>,
    connect_timeout: Duration,
    command_timeout: Duration,
    pool: Mutex<Vec<Idle>>,
    pool_size: usize,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSender").field("host", &self.host).field("port", &self.port).finish_non_exhaustive()
    }
}

fn out(field: &'static str, reason: &str) -> Error {
    Error::PolicyOutOfBounds { field, reason: reason.into() }
}

/// TLS parameters: the system's roots, or only the CA file's.
fn tls_parameters(host: &str, ca_file: Option<&str>) -> Result<TlsParameters, Error> {
    let mut builder = TlsParameters::builder(host.to_string());
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| out("delivery.email.ca_file", &format!("the file cannot be read ({:?})", e.kind())))?;
        let certificate = Certificate::from_pem(&pem)
            .map_err(|_| out("delivery.email.ca_file", "the file holds no PEM certificate"))?;
        if !String::from_utf8_lossy(&pem).contains("-----BEGIN CERTIFICATE-----") {
            return Err(out("delivery.email.ca_file", "the file holds no PEM certificate"));
        }
        builder = builder.certificate_store(CertificateStore::None).add_root_certificate(certificate);
    }
    builder.build_rustls().map_err(|_| out("delivery.email.tls", "TLS could not be set up with these roots"))
}

/// The domain of the From address, for Message-IDs (`<msg_...@domain>`): it names the sender's
/// organisation, not this machine.
fn domain_of(mailbox: &Mailbox) -> String {
    mailbox.email.domain().trim_start_matches('[').trim_end_matches(']').to_string()
}

impl SmtpSender {
    /// A sender from `[delivery.email]`; reads the password and the DKIM key.
    pub fn from_config(c: &SmtpConfig) -> Result<SmtpSender, Error> {
        let from: Mailbox =
            c.from.parse().map_err(|_| out("delivery.email.from", "must be `address` or `Name <address>`"))?;
        let reply_to = match &c.reply_to {
            Some(r) => {
                Some(r.parse().map_err(|_| out("delivery.email.reply_to", "must be `address` or `Name <address>`"))?)
            }
            None => None,
        };
        let credentials = match (&c.username, c.password()?) {
            (Some(user), Some(source)) => {
                let password = secret::read("delivery.email.password_env", &source)?;
                Some(Credentials::new(user.clone(), password.to_string()))
            }
            _ => None,
        };
        let tls_parameters = match c.tls {
            SmtpTls::None => None,
            SmtpTls::Starttls | SmtpTls::Implicit => Some(tls_parameters(&c.host, c.ca_file.as_deref())?),
        };
        let hello = match &c.hello_name {
            Some(name) => match name.parse::<IpAddr>() {
                Ok(IpAddr::V4(v4)) => ClientId::Ipv4(v4),
                Ok(IpAddr::V6(v6)) => ClientId::Ipv6(v6),
                Err(_) => ClientId::Domain(name.clone()),
            },
            None => ClientId::default(),
        };
        let dkim = match &c.dkim {
            Some(d) => Some(dkim::config(d)?),
            None => None,
        };
        Ok(SmtpSender {
            host: c.host.clone(),
            port: c.port(),
            tls: c.tls,
            tls_parameters,
            hello,
            credentials,
            id_domain: domain_of(&from),
            from,
            reply_to,
            dkim,
            connect_timeout: Duration::from_millis(c.connect_timeout_ms.unwrap_or(5_000)),
            command_timeout: Duration::from_millis(c.command_timeout_ms.unwrap_or(10_000)),
            pool: Mutex::new(Vec::new()),
            pool_size: c.pool_size.unwrap_or(4) as usize,
        })
    }

    /// The message as it goes over the wire, and its envelope.
    fn build(&self, m: &Outgoing) -> Result<(lettre::address::Envelope, Zeroizing<Vec<u8>>), SendError> {
        let Content::Email { subject, text, html } = &m.content else {
            return Err(SendError::new(Failure::Rejected, "an SMS was given to the email sender"));
        };
        let to: Address = m.recipient.parse().map_err(|_| {
            SendError::new(Failure::Rejected, "the recipient is not an address the SMTP client accepts")
        })?;
        let mut builder = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(subject.as_str())
            .message_id(Some(format!("<{}@{}>", m.id, self.id_domain)))
            .date_now()
            .header(AutoSubmitted)
            .header(SuppressAutoResponses);
        if let Some(r) = &self.reply_to {
            builder = builder.reply_to(r.clone());
        }
        let mut email = builder
            .multipart(MultiPart::alternative_plain_html(text.to_string(), html.to_string()))
            .map_err(|_| SendError::new(Failure::Rejected, "the message could not be built"))?;
        if let Some(d) = &self.dkim {
            email.sign(d);
        }
        Ok((email.envelope().clone(), Zeroizing::new(email.formatted())))
    }

    /// A pooled connection that has not idled too long, or a new one. The flag says which.
    fn connection(&self) -> Result<(SmtpConnection, bool), SendError> {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(idle) = pool.pop() {
            if idle.since.elapsed() < IDLE_LIMIT && !idle.connection.has_broken() {
                return Ok((idle.connection, true));
            }
            let mut stale = idle.connection;
            stale.abort();
        }
        drop(pool);
        self.connect().map(|c| (c, false))
    }

    fn give_back(&self, mut connection: SmtpConnection) {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < self.pool_size && !connection.has_broken() {
            pool.push(Idle { connection, since: Instant::now() });
        } else {
            drop(pool);
            let _ = connection.quit();
        }
    }

    /// Connects, secures and authenticates a new connection.
    fn connect(&self) -> Result<SmtpConnection, SendError> {
        let implicit = if self.tls == SmtpTls::Implicit { self.tls_parameters.as_ref() } else { None };
        let mut c = SmtpConnection::connect(
            (self.host.as_str(), self.port),
            Some(self.connect_timeout),
            &self.hello,
            implicit,
            None,
        )
        .map_err(|e| classify_connect(&e))?;
        if self.tls == SmtpTls::Starttls {
            if !c.can_starttls() {
                c.abort();
                return Err(SendError::new(Failure::Refused, "the relay does not offer STARTTLS"));
            }
            let parameters = self.tls_parameters.as_ref().expect("built for starttls");
            c.starttls(parameters, &self.hello).map_err(|e| classify_connect(&e))?;
        }
        c.set_timeout(Some(self.command_timeout))
            .map_err(|_| SendError::new(Failure::NotSent, "the connection could not be set up"))?;
        if let Some(credentials) = &self.credentials {
            if let Err(e) = c.auth(&[Mechanism::Plain, Mechanism::Login], credentials) {
                c.abort();
                let mut err = if e.is_transient() {
                    SendError::new(Failure::Busy { retry_after: None }, "AUTH failed for now")
                } else if e.is_permanent() {
                    SendError::new(Failure::Refused, "the relay refused the credentials")
                } else if e.is_client() {
                    SendError::new(Failure::Refused, "the relay offers no AUTH mechanism we use")
                } else {
                    SendError::new(Failure::NotSent, "the connection failed during AUTH")
                };
                if let Some(code) = e.status() {
                    err = err.with_status(u16::from(code));
                }
                return Err(err);
            }
        }
        Ok(c)
    }
}

/// Whether a failure is TLS refusing the peer (rustls reports a bad certificate or a fatal
/// alert as an I/O error of kind `InvalidData`): retrying cannot help.
fn tls_refused(e: &lettre::transport::smtp::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if s.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData) {
            return true;
        }
        source = s.source();
    }
    e.is_tls()
}

/// A failure while connecting, securing or greeting: nothing was sent.
fn classify_connect(e: &lettre::transport::smtp::Error) -> SendError {
    let err = if tls_refused(e) {
        SendError::new(Failure::Refused, "TLS failed (the relay's certificate is not trusted, or the handshake failed)")
    } else if e.is_transient() {
        SendError::new(Failure::Busy { retry_after: None }, "the relay is not taking connections now")
    } else if e.is_permanent() {
        SendError::new(Failure::Refused, "the relay refused the connection")
    } else if e.is_timeout() {
        SendError::new(Failure::NotSent, "connecting to the relay timed out")
    } else {
        SendError::new(Failure::NotSent, "the relay could not be reached")
    };
    match e.status() {
        Some(code) => err.with_status(u16::from(code)),
        None => err,
    }
}

/// The step of a transaction a failure happened at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    Mail,
    Rcpt,
    Data,
    Message,
}

/// A failure during a transaction, by its step.
fn classify(step: Step, e: &lettre::transport::smtp::Error) -> SendError {
    let err = match (step, e.is_transient(), e.is_permanent()) {
        (_, true, _) => SendError::new(Failure::Busy { retry_after: None }, "the relay asked to try later"),
        (Step::Rcpt, _, true) => SendError::new(Failure::Rejected, "the relay refused the recipient"),
        (Step::Message, _, true) => SendError::new(Failure::Rejected, "the relay refused the message"),
        (Step::Mail | Step::Data, _, true) => SendError::new(Failure::Refused, "the relay refused the sender"),
        (Step::Message, _, false) => SendError::new(Failure::Unknown, "no answer after the message was sent"),
        (_, _, false) => SendError::new(Failure::NotSent, "the connection failed before the message was sent"),
    };
    match e.status() {
        Some(code) => err.with_status(u16::from(code)),
        None => err,
    }
}

/// How a transaction failed: at which step, why, and whether the relay answered (then the
/// connection is still in step and RSET makes it reusable).
struct Failed {
    step: Step,
    error: SendError,
    answered: bool,
}

impl Failed {
    fn smtp(step: Step, e: lettre::transport::smtp::Error) -> Failed {
        Failed { step, error: classify(step, &e), answered: e.is_transient() || e.is_permanent() }
    }
}

/// MAIL FROM, RCPT TO, DATA and the message, each checked.
fn transaction(c: &mut SmtpConnection, envelope: &lettre::address::Envelope, bytes: &[u8]) -> Result<(), Failed> {
    let lacks = |what: &'static str| Failed {
        step: Step::Mail,
        error: SendError::new(Failure::Rejected, what),
        answered: true,
    };
    // lettre's formatted message is UTF-8 (its headers and bodies are built from strings).
    let text = std::str::from_utf8(bytes).map_err(|_| lacks("the message is not UTF-8 text"))?;
    let mut parameters = Vec::new();
    let non_ascii =
        envelope.from().into_iter().chain(envelope.to()).any(|a: &Address| !AsRef::<str>::as_ref(a).is_ascii());
    if non_ascii {
        if !c.server_info().supports_feature(Extension::SmtpUtfEight) {
            return Err(lacks("the relay does not take internationalised addresses (no SMTPUTF8)"));
        }
        parameters.push(MailParameter::SmtpUtfEight);
    }
    if !text.is_ascii() {
        if !c.server_info().supports_feature(Extension::EightBitMime) {
            return Err(lacks("the relay does not take 8-bit messages (no 8BITMIME)"));
        }
        parameters.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    c.command(Mail::new(envelope.from().cloned(), parameters)).map_err(|e| Failed::smtp(Step::Mail, e))?;
    for to in envelope.to() {
        c.command(Rcpt::new(to.clone(), vec![])).map_err(|e| Failed::smtp(Step::Rcpt, e))?;
    }
    c.command(Data).map_err(|e| Failed::smtp(Step::Data, e))?;
    c.command(DotStuffed(text)).map_err(|e| Failed::smtp(Step::Message, e))?;
    Ok(())
}

/// The message as DATA sends it, in one write: lines that begin with `.` get another, and
/// `CRLF . CRLF` ends it. lettre's `message()` writes the end marker separately; with Nagle's
/// algorithm on (lettre does not set TCP_NODELAY) that small second write waits for the
/// relay's delayed ACK, about 40 ms per message on Linux.
struct DotStuffed<'a>(&'a str);

impl std::fmt::Display for DotStuffed<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, line) in self.0.split("\r\n").enumerate() {
            if i > 0 {
                f.write_str("\r\n")?;
            }
            if line.starts_with('.') {
                f.write_str(".")?;
            }
            f.write_str(line)?;
        }
        f.write_str("\r\n.\r\n")
    }
}

impl Sender for SmtpSender {
    fn name(&self) -> &'static str {
        "email"
    }

    fn channel(&self) -> Channel {
        Channel::Email
    }

    fn send(&self, message: &Outgoing) -> Result<Receipt, SendError> {
        let (envelope, bytes) = self.build(message)?;
        // One more try on a fresh connection when a pooled one turns out to be closed before
        // the relay accepted anything.
        for _ in 0..2 {
            let (mut c, pooled) = self.connection()?;
            match transaction(&mut c, &envelope, &bytes) {
                Ok(()) => {
                    self.give_back(c);
                    return Ok(Receipt { provider_id: Some(format!("<{}@{}>", message.id, self.id_domain)) });
                }
                Err(failed) => {
                    if pooled && failed.step == Step::Mail && failed.error.failure == Failure::NotSent {
                        c.abort();
                        continue;
                    }
                    if failed.answered && c.command(Rset).is_ok() {
                        self.give_back(c);
                    } else {
                        c.abort();
                    }
                    return Err(failed.error);
                }
            }
        }
        Err(SendError::new(Failure::NotSent, "the relay closed the connection"))
    }
}

impl Drop for SmtpSender {
    fn drop(&mut self) {
        let pool = std::mem::take(&mut *self.pool.lock().unwrap_or_else(|p| p.into_inner()));
        for mut idle in pool {
            let _ = idle.connection.quit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DotStuffed;

    #[test]
    fn data_is_dot_stuffed_and_ended_in_one_piece() {
        assert_eq!(DotStuffed("a\r\n.b\r\n..c\r\nd.").to_string(), "a\r\n..b\r\n...c\r\nd.\r\n.\r\n");
        assert_eq!(DotStuffed(".").to_string(), "..\r\n.\r\n");
        assert_eq!(DotStuffed("x\r\n").to_string(), "x\r\n\r\n.\r\n", "as lettre ends a message");
    }
}
