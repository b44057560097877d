//! The one interface every way of sending implements, and what a send answers.
//!
//! A [`Sender`] takes an [`Outgoing`] message and either hands it to its provider
//! ([`Receipt`]) or says why not ([`SendError`]), classified by what a retry could do
//! ([`Failure`]): the queue's retry rules read only that classification, so they are the same
//! for SMTP, the Messages API and the webhook.

use std::fmt;
use std::time::Duration;

use passcode_core::{Channel, Issued, Message, Purpose};
use rand::RngCore;
use zeroize::Zeroizing;

/// What a message says, in the form its channel needs. Every text holds the code, so each is
/// wiped when dropped.
#[derive(Clone)]
pub enum Content {
    /// An SMS.
    Sms {
        /// The text (the origin-bound line last when a domain is configured).
        text: Zeroizing<String>,
    },
    /// An email.
    Email {
        /// The subject (it holds the code only if the config says so).
        subject: Zeroizing<String>,
        /// The plain-text part.
        text: Zeroizing<String>,
        /// The HTML part.
        html: Zeroizing<String>,
    },
}

impl Content {
    /// The content of an engine message.
    pub fn from_message(message: &Message) -> Content {
        match message {
            Message::Sms(s) => Content::Sms { text: Zeroizing::new(s.text.to_string()) },
            Message::Email(e) => Content::Email {
                subject: Zeroizing::new(e.subject.to_string()),
                text: Zeroizing::new(e.text.to_string()),
                html: Zeroizing::new(e.html.to_string()),
            },
        }
    }

    /// The channel this content is for.
    pub fn channel(&self) -> Channel {
        match self {
            Content::Sms { .. } => Channel::Sms,
            Content::Email { .. } => Channel::Email,
        }
    }
}

/// One message to send: who to, what, and what the events may say about it.
#[derive(Clone)]
pub struct Outgoing {
    /// This message's id (`msg_` and 32 hex digits): the webhook's `webhook-id`, the email's
    /// Message-ID local part, and the id in every event about it.
    pub id: String,
    /// The channel.
    pub channel: Channel,
    /// What the code is for.
    pub purpose: Purpose,
    /// The subject's pseudonym (as in the engine's events); never the address or number.
    pub subject: String,
    /// The normalised address or E.164 number.
    pub recipient: Zeroizing<String>,
    /// The rendered message.
    pub content: Content,
    /// The code, for webhook receivers that render their own text (`include_code`).
    pub code: Zeroizing<String>,
}

/// A fresh message id: `msg_` and 128 random bits in hex.
pub fn new_message_id() -> String {
    let mut id = [0u8; 16];
    // The thread's generator is a CSPRNG seeded from the OS; an id needs to be unique and
    // unguessable, not secret.
    rand::rng().fill_bytes(&mut id);
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!("msg_{hex}")
}

impl Outgoing {
    /// A message from its parts (for hosts whose engine is not the Rust crate, such as the
    /// component's host). The channel is the content's.
    pub fn new(purpose: Purpose, subject: &str, recipient: &str, content: Content, code: &str) -> Outgoing {
        Outgoing {
            id: new_message_id(),
            channel: content.channel(),
            purpose,
            subject: subject.to_string(),
            recipient: Zeroizing::new(recipient.to_string()),
            content,
            code: Zeroizing::new(code.to_string()),
        }
    }

    /// The message for a code the engine issued.
    pub fn from_issued(issued: &Issued) -> Outgoing {
        Outgoing::new(
            issued.purpose,
            &issued.subject,
            &issued.recipient,
            Content::from_message(&issued.message),
            &issued.code,
        )
    }
}

impl fmt::Debug for Outgoing {
    /// Leaves out the recipient, the content and the code.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("id", &self.id)
            .field("channel", &self.channel)
            .field("purpose", &self.purpose)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// What a provider said when it took a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Receipt {
    /// The provider's id for the message (Twilio's `SM...`, a webhook's `id`, the email's
    /// Message-ID), when it gave one.
    pub provider_id: Option<String>,
}

/// What a retry could do about a failed send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// Nothing reached the provider (no connection, refused before the request was complete):
    /// retrying cannot send it twice.
    NotSent,
    /// The provider answered that it cannot take it now (HTTP 5xx, 408, 429; SMTP 4xx):
    /// retry, after `retry_after` when the provider named a wait.
    Busy {
        /// The provider's `Retry-After`.
        retry_after: Option<Duration>,
    },
    /// The request went out in full and no answer came: the provider may have sent it. It is
    /// never repeated to the same provider (that could be a second paid SMS); the route moves
    /// on to the next one.
    Unknown,
    /// The provider refused us, not the message (credentials, our sending address, the URL, a
    /// certificate): retrying the same provider is pointless; the next one may work.
    Refused,
    /// The provider refused the message for good (an invalid or opted-out number, an unknown
    /// mailbox): no retry and no fallback, which would be refused too or must not send.
    Rejected,
}

impl Failure {
    /// The stable word for events.
    pub fn reason(self) -> &'static str {
        match self {
            Failure::NotSent => "not-sent",
            Failure::Busy { .. } => "busy",
            Failure::Unknown => "outcome-unknown",
            Failure::Refused => "refused",
            Failure::Rejected => "rejected",
        }
    }
}

/// Why a send failed. The texts are fixed descriptions and numbers: never the provider's own
/// message, the address, the number or the code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SendError {
    /// What a retry could do.
    pub failure: Failure,
    /// The HTTP status, or the SMTP reply code.
    pub status: Option<u16>,
    /// The provider's error code (Twilio's `21211`, an SMTP enhanced code), when it gave one.
    pub provider_code: Option<String>,
    /// A fixed description of what went wrong.
    pub detail: &'static str,
}

impl SendError {
    /// An error with a fixed description and no status.
    pub fn new(failure: Failure, detail: &'static str) -> SendError {
        SendError { failure, status: None, provider_code: None, detail }
    }

    /// With the HTTP status or SMTP reply code.
    pub fn with_status(mut self, status: u16) -> SendError {
        self.status = Some(status);
        self
    }

    /// With the provider's error code.
    pub fn with_provider_code(mut self, code: Option<String>) -> SendError {
        self.provider_code = code;
        self
    }
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.detail, self.failure.reason())?;
        if let Some(s) = self.status {
            write!(f, ", status {s}")?;
        }
        if let Some(c) = &self.provider_code {
            write!(f, ", provider code {c}")?;
        }
        Ok(())
    }
}

impl std::error::Error for SendError {}

/// A way of sending messages of one channel. Implementations are called from the delivery
/// queue's worker threads, several at once.
pub trait Sender: Send + Sync {
    /// The sender's name in events and errors: its config section (`email`, `sms`,
    /// `sms_fallback`, `webhook`, `outbox`) or a host's own.
    fn name(&self) -> &'static str;

    /// The channel it sends.
    fn channel(&self) -> Channel;

    /// Hands one message to the provider, once: retries are the caller's.
    fn send(&self, message: &Outgoing) -> Result<Receipt, SendError>;
}

/// Keeps only characters that can appear in a provider's id for a message, so an id from a
/// provider's answer can go into events and logs without carrying anything else.
pub(crate) fn clean_provider_id(id: &str) -> Option<String> {
    let ok = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_leaves_out_recipient_content_and_code() {
        let m = Outgoing::new(
            Purpose::SignIn,
            "0123456789abcdef",
            "jane@example.com",
            Content::Sms { text: Zeroizing::new("493817 is your code".into()) },
            "493817",
        );
        let d = format!("{m:?}");
        assert!(!d.contains("jane") && !d.contains("493817"), "{d}");
        assert!(d.contains(&m.id));
        assert_eq!(m.channel, Channel::Sms, "the channel is the content's");
    }

    #[test]
    fn message_ids_are_fresh() {
        let a = new_message_id();
        assert!(a.starts_with("msg_") && a.len() == 36, "{a}");
        assert_ne!(a, new_message_id());
    }

    #[test]
    fn provider_ids_are_cleaned() {
        assert_eq!(clean_provider_id("SM0123abcd").as_deref(), Some("SM0123abcd"));
        assert_eq!(clean_provider_id("jane@example.com"), None, "nothing shaped like an address");
        assert_eq!(clean_provider_id("id with spaces"), None);
        assert_eq!(clean_provider_id("+15005550006\r\nx"), None);
        assert_eq!(clean_provider_id(&"a".repeat(129)), None);
    }
}
