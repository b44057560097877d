//! Events: what happened, for a host's audit log or metrics, without a code or an identifier.
//!
//! A subject appears only as a pseudonym: the first 8 bytes of its keyed index hash, in hex.
//! It is stable for one index key, so a host can correlate events, and reveals nothing about
//! the address or number without the key.
//!
//! Every guess that reaches a subject emits one event, counted or not: `Failed` (and then
//! `Locked` if it started a lock) for a wrong code that was evaluated, `Refused` or `Expired`
//! for one refused unseen, `Verified` for the right one. So an audit log sees every guess.
//! A token that fails authentication names no subject and emits nothing (the host sees its
//! `invalid-token` answer).

use std::sync::Mutex;

use crate::error::LimitScope;
use crate::identifier::{Channel, Purpose};

/// What happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A code was issued for a new challenge.
    Issued,
    /// A new code was sent for an existing challenge.
    Resent,
    /// A code was verified; the challenge is used up.
    Verified,
    /// A wrong code was entered and counted (against the challenge and the subject).
    Failed,
    /// A counted wrong code started a lock of the subject (temporary, by the failure budget,
    /// or hard until an unlock); it follows that code's `Failed`.
    Locked,
    /// A verify came after the challenge expired.
    Expired,
    /// A send was refused by a cooldown or a send bucket.
    RateLimited,
    /// An SMS to a country outside the allowed ones was refused.
    Blocked,
    /// A challenge was cancelled by the host.
    Cancelled,
    /// An operator unlocked the subject.
    Unlocked,
    /// A guess or a send refused without being evaluated: the challenge is unknown, used,
    /// cancelled or replaced (`not-found`), used up its tries (`too-many-attempts`), or the
    /// subject is locked (`subject-locked`). `error` says which.
    Refused,
}

impl EventKind {
    /// The stable name.
    pub fn name(self) -> &'static str {
        match self {
            EventKind::Issued => "issued",
            EventKind::Resent => "resent",
            EventKind::Verified => "verified",
            EventKind::Failed => "failed",
            EventKind::Locked => "locked",
            EventKind::Expired => "expired",
            EventKind::RateLimited => "rate-limited",
            EventKind::Blocked => "blocked",
            EventKind::Cancelled => "cancelled",
            EventKind::Unlocked => "unlocked",
            EventKind::Refused => "refused",
        }
    }
}

/// One event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// What happened.
    pub kind: EventKind,
    /// When, in Unix seconds by the engine's clock.
    pub at: u64,
    /// The channel.
    pub channel: Channel,
    /// The purpose, when one applies.
    pub purpose: Option<Purpose>,
    /// The subject's pseudonym (16 hex digits).
    pub subject: String,
    /// Tries left on the challenge, for `Failed`.
    pub attempts_left: Option<u32>,
    /// The wait, for `Locked` and `RateLimited` (`None` on a hard lock).
    pub retry_after: Option<u64>,
    /// Which bucket, for `RateLimited` by a send limit.
    pub scope: Option<LimitScope>,
    /// For an event that stands for a refusal, the error's stable number (3001 for `Failed`,
    /// 3005 for a `Refused` not-found, ...); `None` for a success.
    pub error: Option<u32>,
}

/// Receives events. Called synchronously after the store write; keep it quick.
pub trait EventSink: Send + Sync {
    /// Handles one event.
    fn emit(&self, event: &Event);

    /// Whether this sink wants events at all; when `false` the engine does not build them
    /// (the subject's pseudonym is an allocation on the hot path). Default `true`.
    fn enabled(&self) -> bool {
        true
    }
}

/// Discards events (the default).
#[derive(Clone, Copy, Debug, Default)]
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _: &Event) {}

    fn enabled(&self) -> bool {
        false
    }
}

/// Keeps events in memory, for tests and small hosts.
#[derive(Debug, Default)]
pub struct EventLog(Mutex<Vec<Event>>);

impl EventLog {
    /// A copy of the events so far.
    pub fn events(&self) -> Vec<Event> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The kinds of the events so far, in order.
    pub fn kinds(&self) -> Vec<EventKind> {
        self.events().iter().map(|e| e.kind).collect()
    }
}

impl EventSink for EventLog {
    fn emit(&self, event: &Event) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(event.clone());
    }
}
