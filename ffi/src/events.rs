//! An event sink brought by the host as a C callback: what happened, for audit logs and
//! metrics. An event never carries a code or an identifier; the subject is a pseudonym.

use std::os::raw::{c_char, c_void};

use passcode_core::{Event, EventKind, EventSink, LimitScope};

use crate::engine::{channel_value, purpose_value};

/// What happened.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasscodeEventKind {
    /// A code was issued for a new challenge.
    Issued = 1,
    /// A new code was sent for an existing challenge.
    Resent = 2,
    /// A code was verified; the challenge is used up.
    Verified = 3,
    /// A wrong code was entered and counted.
    Failed = 4,
    /// A counted wrong code started a lock of the subject (after its `FAILED`).
    Locked = 5,
    /// A verify came after the challenge expired.
    Expired = 6,
    /// A send was refused by a cooldown or a send bucket.
    RateLimited = 7,
    /// An SMS to a country outside the allowed ones was refused.
    Blocked = 8,
    /// A challenge was cancelled.
    Cancelled = 9,
    /// An operator unlocked the subject.
    Unlocked = 10,
    /// A guess or a send refused unseen: no such challenge, tries used up, or the subject
    /// locked (`PasscodeEvent.error` says which).
    Refused = 11,
}

/// Which send bucket refused a send (`PasscodeEvent.scope`; 0 when none applies).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasscodeLimitScope {
    /// The subject's own bucket.
    Subject = 1,
    /// The client address's bucket.
    Client = 2,
    /// The SMS destination region's bucket.
    Country = 3,
    /// The tenant's ceiling.
    Tenant = 4,
}

/// One event. Valid only during the `emit` callback: copy what you keep.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PasscodeEvent {
    /// What happened.
    pub kind: PasscodeEventKind,
    /// When, in Unix seconds by the engine's clock.
    pub at: u64,
    /// The channel (a `PasscodeChannel` value).
    pub channel: u32,
    /// The purpose (a `PasscodePurpose` value), or 0 when none applies (an unlock).
    pub purpose: u32,
    /// The subject's pseudonym: 16 lowercase hex digits, NUL-terminated; stable for one index
    /// key, and reveals nothing about the address or number without it.
    pub subject: *const c_char,
    /// The pseudonym's length in bytes (16).
    pub subject_len: usize,
    /// Whether `attempts_left` is set (for `PASSCODE_EVENT_KIND_FAILED`).
    pub has_attempts_left: bool,
    /// Tries left on the challenge.
    pub attempts_left: u32,
    /// Whether `retry_after` is set (locks and rate limits; a hard lock has none).
    pub has_retry_after: bool,
    /// Seconds until allowed again.
    pub retry_after: u64,
    /// Which bucket (a `PasscodeLimitScope` value) for a send limit, else 0.
    pub scope: u32,
    /// For an event that stands for a refusal, its status number (3001 for `FAILED`, 3005 for
    /// a `REFUSED` not-found, ...); 0 for a success.
    pub error: u32,
}

/// The event sink's `emit` callback. Receives one event, synchronously, after the store
/// write; keep it quick. Called from whichever threads call the engine, concurrently: it MUST
/// be thread-safe. It must not call back into the engine. `event` is valid only during the call.
pub type PasscodeEventEmitFn = Option<unsafe extern "C" fn(ctx: *mut c_void, event: *const PasscodeEvent)>;

/// The host's event sink.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PasscodeEventSink {
    /// Passed to `emit`. Must stay valid until the engine is freed.
    pub ctx: *mut c_void,
    /// Receives each event (see `PasscodeEventEmitFn`).
    pub emit: PasscodeEventEmitFn,
}

pub(crate) struct CallbackEvents {
    ctx: *mut c_void,
    emit: unsafe extern "C" fn(*mut c_void, *const PasscodeEvent),
}

// SAFETY: `PasscodeEventSink`'s documentation requires `emit` and `ctx` to be usable from any
// thread, concurrently, until the engine is freed.
unsafe impl Send for CallbackEvents {}
// SAFETY: as above.
unsafe impl Sync for CallbackEvents {}

impl CallbackEvents {
    /// The sink, or `None` if the callback is missing.
    pub(crate) fn new(s: &PasscodeEventSink) -> Option<Self> {
        Some(CallbackEvents { ctx: s.ctx, emit: s.emit? })
    }
}

fn kind(k: EventKind) -> PasscodeEventKind {
    match k {
        EventKind::Issued => PasscodeEventKind::Issued,
        EventKind::Resent => PasscodeEventKind::Resent,
        EventKind::Verified => PasscodeEventKind::Verified,
        EventKind::Failed => PasscodeEventKind::Failed,
        EventKind::Locked => PasscodeEventKind::Locked,
        EventKind::Expired => PasscodeEventKind::Expired,
        EventKind::RateLimited => PasscodeEventKind::RateLimited,
        EventKind::Blocked => PasscodeEventKind::Blocked,
        EventKind::Cancelled => PasscodeEventKind::Cancelled,
        EventKind::Unlocked => PasscodeEventKind::Unlocked,
        EventKind::Refused => PasscodeEventKind::Refused,
    }
}

impl EventSink for CallbackEvents {
    fn emit(&self, e: &Event) {
        let mut subject = Vec::with_capacity(e.subject.len() + 1);
        subject.extend_from_slice(e.subject.as_bytes());
        subject.push(0);
        let event = PasscodeEvent {
            kind: kind(e.kind),
            at: e.at,
            channel: channel_value(e.channel) as u32,
            purpose: e.purpose.map_or(0, |p| purpose_value(p) as u32),
            subject: subject.as_ptr().cast::<c_char>(),
            subject_len: e.subject.len(),
            has_attempts_left: e.attempts_left.is_some(),
            attempts_left: e.attempts_left.unwrap_or(0),
            has_retry_after: e.retry_after.is_some(),
            retry_after: e.retry_after.unwrap_or(0),
            scope: match e.scope {
                None => 0,
                Some(LimitScope::Subject) => PasscodeLimitScope::Subject as u32,
                Some(LimitScope::Client) => PasscodeLimitScope::Client as u32,
                Some(LimitScope::Country) => PasscodeLimitScope::Country as u32,
                Some(LimitScope::Tenant) => PasscodeLimitScope::Tenant as u32,
            },
            error: e.error.unwrap_or(0),
        };
        // SAFETY: the host's callback with its own ctx; `event` and the subject bytes it points
        // to live until the call returns, as documented.
        unsafe { (self.emit)(self.ctx, &event) };
    }
}
