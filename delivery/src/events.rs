//! Delivery events, one for every step of every message, and the counts behind them.
//!
//! Events say which message (its own id), which subject (the engine's pseudonym), which
//! sender, and what the provider answered (its message id, HTTP status or SMTP code, error
//! code): never the code, the address or the number, nor a provider's own text.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use passcode_core::{Channel, Purpose};

/// What happened to a message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryEventKind {
    /// It was queued.
    Queued,
    /// An attempt failed and another follows (on the same sender after a wait, or on the next
    /// sender of the route).
    Retried,
    /// A provider took it.
    Sent,
    /// It was given up: refused for good, every sender failed, the deadline passed, the queue
    /// was full, or delivery shut down first.
    Failed,
}

impl DeliveryEventKind {
    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            DeliveryEventKind::Queued => "queued",
            DeliveryEventKind::Retried => "retried",
            DeliveryEventKind::Sent => "sent",
            DeliveryEventKind::Failed => "failed",
        }
    }
}

/// One delivery event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeliveryEvent {
    /// What happened.
    pub kind: DeliveryEventKind,
    /// When, in Unix seconds by delivery's clock.
    pub at: u64,
    /// The message's id (`msg_...`).
    pub message_id: String,
    /// The channel.
    pub channel: Channel,
    /// The purpose.
    pub purpose: Purpose,
    /// The subject's pseudonym (as in the engine's events).
    pub subject: String,
    /// The sender of the attempt this is about (none for `Queued`).
    pub sender: Option<&'static str>,
    /// The attempt's number on that sender, from 1 (0 for `Queued`).
    pub attempt: u32,
    /// The provider's id for the message, for `Sent`.
    pub provider_id: Option<String>,
    /// Why, for `Retried` and `Failed`: `not-sent`, `busy`, `outcome-unknown`, `refused`,
    /// `rejected`, `deadline`, `queue-full`, `shutdown`.
    pub reason: Option<&'static str>,
    /// The HTTP status or SMTP reply code of the failed attempt.
    pub status: Option<u16>,
    /// The provider's error code of the failed attempt (e.g. Twilio's `21211`).
    pub provider_code: Option<String>,
    /// For `Retried`: how long until the next attempt, in ms.
    pub retry_in_ms: Option<u64>,
}

/// Receives delivery events, on the queue's worker threads (several at once).
pub trait DeliveryEventSink: Send + Sync {
    /// Handles one event; keep it quick.
    fn emit(&self, event: &DeliveryEvent);
}

/// Discards events (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDeliveryEvents;

impl DeliveryEventSink for NoDeliveryEvents {
    fn emit(&self, _: &DeliveryEvent) {}
}

/// Keeps events in memory, for tests and small hosts.
#[derive(Debug, Default)]
pub struct DeliveryEventLog(Mutex<Vec<DeliveryEvent>>);

impl DeliveryEventLog {
    /// A copy of the events so far.
    pub fn events(&self) -> Vec<DeliveryEvent> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The kinds of the events about one message, in order.
    pub fn kinds_of(&self, message_id: &str) -> Vec<DeliveryEventKind> {
        self.events().iter().filter(|e| e.message_id == message_id).map(|e| e.kind).collect()
    }
}

impl DeliveryEventSink for DeliveryEventLog {
    fn emit(&self, event: &DeliveryEvent) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event.clone());
    }
}

/// Counts since delivery started, for metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    /// Messages queued.
    pub queued: u64,
    /// Messages a provider took.
    pub sent: u64,
    /// Attempts retried (on the same sender or the next).
    pub retried: u64,
    /// Messages given up after being queued (refused, every sender failed, deadline, shutdown).
    pub failed: u64,
    /// Messages refused because the queue was full (never queued).
    pub queue_full: u64,
    /// Messages waiting in the queue now.
    pub waiting: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub queued: AtomicU64,
    pub sent: AtomicU64,
    pub retried: AtomicU64,
    pub failed: AtomicU64,
    pub queue_full: AtomicU64,
}

impl Counters {
    pub fn count(&self, kind: DeliveryEventKind) {
        let c = match kind {
            DeliveryEventKind::Queued => &self.queued,
            DeliveryEventKind::Retried => &self.retried,
            DeliveryEventKind::Sent => &self.sent,
            DeliveryEventKind::Failed => &self.failed,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self, waiting: u64) -> DeliveryStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        DeliveryStats {
            queued: get(&self.queued),
            sent: get(&self.sent),
            retried: get(&self.retried),
            failed: get(&self.failed),
            queue_full: get(&self.queue_full),
            waiting,
        }
    }
}
