//! `PasscodeDelivery`: the senders of a config's `[delivery]` section and their queue, and
//! the calls that issue (or re-send) and queue the message in one step.
//!
//! C holds delivery as an `Arc` behind `const PasscodeDelivery *`, like the engine: any number
//! of threads may queue messages at once. Messages are sent by delivery's own worker threads;
//! what happens to each is reported to the host's `PasscodeDeliveryEventSink`, from those
//! threads. Freeing delivery drains its queue for at most the config's `delivery.shutdown_ms`.

use std::os::raw::{c_char, c_void};
use std::sync::Arc;

use passcode_core::{Channel, Config};
use passcode_delivery::{Delivery, DeliveryEvent, DeliveryEventKind, DeliveryEventSink, Slot};

use crate::engine::{channel_value, issue_call, purpose_value, IssueArgs, Making};
use crate::error::{report, PasscodeFailure, PasscodeStatus, Refusal};
use crate::ffi::{
    free_arc, to_arc_const_ptr, to_boxed_mut_ptr, try_from_ptr, try_out, try_ref, try_text, write_out, Castable,
    OwnershipArc, PASSCODE_MAX_CONFIG_BYTES,
};
use crate::issued::{IssuedValue, PasscodeIssued};
use crate::panic::ffi_panic_boundary;
use crate::PasscodeEngine;

/// Delivery: the senders a config names (SMTP, an SMS provider's Messages API, a signed
/// webhook, or the development outbox) and the bounded queue their worker threads take
/// messages from. Opaque; create with `passcode_delivery_new`, free with
/// `passcode_delivery_free`.
///
/// Thread safety: any number of threads may queue messages at once.
pub struct PasscodeDelivery {
    _private: [u8; 0],
}

impl Castable for PasscodeDelivery {
    type Ownership = OwnershipArc;
    type RustType = Delivery;
}

/// What happened to a message (`PasscodeDeliveryEvent.kind`).
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasscodeDeliveryEventKind {
    /// It was queued.
    Queued = 1,
    /// An attempt failed and another follows (after a wait, or on the next sender).
    Retried = 2,
    /// A provider took it.
    Sent = 3,
    /// It was given up (refused for good, every sender failed, the deadline passed, or
    /// delivery shut down first).
    Failed = 4,
}

/// One delivery event. Valid only during the `emit` callback: copy what you keep. Every text
/// is NUL-terminated and also given with its length; an absent one is the empty string. No
/// field holds the code, the address or the number.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PasscodeDeliveryEvent {
    /// What happened.
    pub kind: PasscodeDeliveryEventKind,
    /// When, in Unix seconds.
    pub at: u64,
    /// The message's id (`msg_` and 32 hex digits), the same in every event about it.
    pub message_id: *const c_char,
    /// Its length.
    pub message_id_len: usize,
    /// The channel (a `PasscodeChannel` value).
    pub channel: u32,
    /// The purpose (a `PasscodePurpose` value).
    pub purpose: u32,
    /// The subject's pseudonym, as in engine events.
    pub subject: *const c_char,
    /// Its length.
    pub subject_len: usize,
    /// The sender of the attempt (`email`, `sms`, `sms_fallback`, `webhook`, `outbox`); empty
    /// for `QUEUED`.
    pub sender: *const c_char,
    /// Its length.
    pub sender_len: usize,
    /// The attempt's number on that sender, from 1 (0 for `QUEUED`).
    pub attempt: u32,
    /// The provider's id for the message, for `SENT` (empty if it gave none).
    pub provider_id: *const c_char,
    /// Its length.
    pub provider_id_len: usize,
    /// Why, for `RETRIED` and `FAILED`: `not-sent`, `busy`, `outcome-unknown`, `refused`,
    /// `rejected`, `deadline`, `queue-full` or `shutdown`.
    pub reason: *const c_char,
    /// Its length.
    pub reason_len: usize,
    /// The HTTP status or SMTP reply code of the failed attempt, or 0.
    pub status: u32,
    /// The provider's error code of the failed attempt (e.g. `21211`), or empty.
    pub provider_code: *const c_char,
    /// Its length.
    pub provider_code_len: usize,
    /// Whether `retry_in_ms` is set (for `RETRIED`).
    pub has_retry_in: bool,
    /// Milliseconds until the next attempt.
    pub retry_in_ms: u64,
}

/// The delivery event sink's `emit` callback. Receives one event. Called from delivery's
/// worker threads and from the threads that queue messages, concurrently: it MUST be
/// thread-safe, quick, and must not call back into delivery. `event` is valid only during the call.
pub type PasscodeDeliveryEventEmitFn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, event: *const PasscodeDeliveryEvent)>;

/// The host's sink for delivery events.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PasscodeDeliveryEventSink {
    /// Passed to `emit`. Must stay valid until delivery is freed.
    pub ctx: *mut c_void,
    /// Receives each event (see `PasscodeDeliveryEventEmitFn`).
    pub emit: PasscodeDeliveryEventEmitFn,
}

struct CallbackDeliveryEvents {
    ctx: *mut c_void,
    emit: unsafe extern "C" fn(*mut c_void, *const PasscodeDeliveryEvent),
}

// SAFETY: `PasscodeDeliveryEventSink`'s documentation requires `emit` and `ctx` to be usable
// from any thread, concurrently, until delivery is freed.
unsafe impl Send for CallbackDeliveryEvents {}
// SAFETY: as above.
unsafe impl Sync for CallbackDeliveryEvents {}

/// A NUL-terminated copy of `text` (empty for none), kept alive for one callback.
fn terminated(text: Option<&str>) -> Vec<u8> {
    let mut v = Vec::with_capacity(text.map_or(0, str::len) + 1);
    v.extend_from_slice(text.unwrap_or("").as_bytes());
    v.push(0);
    v
}

impl DeliveryEventSink for CallbackDeliveryEvents {
    fn emit(&self, e: &DeliveryEvent) {
        let kind = match e.kind {
            DeliveryEventKind::Queued => PasscodeDeliveryEventKind::Queued,
            DeliveryEventKind::Retried => PasscodeDeliveryEventKind::Retried,
            DeliveryEventKind::Sent => PasscodeDeliveryEventKind::Sent,
            DeliveryEventKind::Failed => PasscodeDeliveryEventKind::Failed,
        };
        let id = terminated(Some(&e.message_id));
        let subject = terminated(Some(&e.subject));
        let sender = terminated(e.sender);
        let provider_id = terminated(e.provider_id.as_deref());
        let reason = terminated(e.reason);
        let provider_code = terminated(e.provider_code.as_deref());
        let ptr = |v: &Vec<u8>| v.as_ptr().cast::<c_char>();
        let event = PasscodeDeliveryEvent {
            kind,
            at: e.at,
            message_id: ptr(&id),
            message_id_len: id.len() - 1,
            channel: channel_value(e.channel) as u32,
            purpose: purpose_value(e.purpose) as u32,
            subject: ptr(&subject),
            subject_len: subject.len() - 1,
            sender: ptr(&sender),
            sender_len: sender.len() - 1,
            attempt: e.attempt,
            provider_id: ptr(&provider_id),
            provider_id_len: provider_id.len() - 1,
            reason: ptr(&reason),
            reason_len: reason.len() - 1,
            status: e.status.map_or(0, u32::from),
            provider_code: ptr(&provider_code),
            provider_code_len: provider_code.len() - 1,
            has_retry_in: e.retry_in_ms.is_some(),
            retry_in_ms: e.retry_in_ms.unwrap_or(0),
        };
        // SAFETY: the host's callback with its own ctx; `event` and the bytes it points to
        // live until the call returns, as documented.
        unsafe { (self.emit)(self.ctx, &event) };
    }
}

/// A delivery error as a status (the engine's numbers for config errors, else the 8000s).
impl From<passcode_delivery::Error> for Refusal {
    fn from(e: passcode_delivery::Error) -> Self {
        match e {
            passcode_delivery::Error::Config(e) => e.into(),
            other => PasscodeStatus::from_number(other.number()).unwrap_or(PasscodeStatus::Unrecognised).into(),
        }
    }
}

/// Whether an issue or resend call also queues the message: `No` for the plain calls,
/// `Through` for the `_and_send` calls (`deliver` false: the same steps, a place in the queue
/// reserved and given back, nothing sent).
#[derive(Clone, Copy)]
pub(crate) enum Sending {
    No,
    Through { delivery: *const PasscodeDelivery, deliver: bool },
}

/// Delivery's queue as an issue call sees it once the handle is checked: none, or delivery
/// and whether to send.
pub(crate) struct Queue<'a>(Option<(&'a Delivery, bool)>);

/// A place reserved in the queue (or none), waiting for the issued challenge.
pub(crate) struct Place(Option<(Slot, bool)>);

impl Sending {
    /// The queue, or `PASSCODE_STATUS_NULL_PARAMETER` for a NULL delivery.
    ///
    /// # Safety
    /// For `Through`, `delivery` is NULL or live during `'a`.
    pub(crate) unsafe fn queue<'a>(self) -> Result<Queue<'a>, Refusal> {
        Ok(Queue(match self {
            Sending::No => None,
            Sending::Through { delivery, deliver } => Some((try_ref!(delivery), deliver)),
        }))
    }
}

impl Queue<'_> {
    /// A place for a message on `channel`, before the code is made.
    pub(crate) fn reserve(&self, channel: Channel) -> Result<Place, Refusal> {
        Ok(Place(match self.0 {
            Some((delivery, deliver)) => Some((delivery.reserve(channel)?, deliver)),
            None => None,
        }))
    }

    /// A place for a message on a challenge's channel, which `channel` reads (from its token)
    /// only when there is a queue.
    pub(crate) fn reserve_for(&self, channel: impl FnOnce() -> Result<Channel, Refusal>) -> Result<Place, Refusal> {
        Ok(Place(match self.0 {
            Some((delivery, deliver)) => Some((delivery.reserve(channel()?)?, deliver)),
            None => None,
        }))
    }
}

impl Place {
    /// Queues the message in the reserved place (or gives the place back when not
    /// delivering), then hands the issued challenge to the caller.
    ///
    /// # Safety
    /// `out` is not NULL and valid for a write.
    pub(crate) unsafe fn hand_out(self, issued: IssuedValue, out: *mut *mut PasscodeIssued) -> Result<(), Refusal> {
        if let Some((slot, true)) = self.0 {
            slot.send(issued.outgoing())?;
        }
        // SAFETY: per this function's contract.
        unsafe { write_out(out, to_boxed_mut_ptr(issued)) };
        Ok(())
    }
}

/// Opens delivery from a config's `[delivery]` section (the same config text as
/// `passcode_engine_new`; the rest of it is checked too): builds its senders, reads their
/// secrets from the variables and files the config names, and starts its worker threads.
///
/// - `config`, `config_len`: the config text, UTF-8, at most `PASSCODE_MAX_CONFIG_BYTES`.
/// - `events`: NULL, or the host's sink for delivery events (copied; its `ctx` must stay valid
///   until delivery is freed).
/// - `out`: on success receives delivery, owned by the caller, freed with
///   `passcode_delivery_free`. Untouched on failure.
///
/// Returns `PASSCODE_STATUS_OK`, or: `NULL_PARAMETER` (`config` or `out`, or a sink without
/// `emit`), `INPUT_TOO_LONG`, `INVALID_UTF8`, `CONFIG_SYNTAX`, `UNKNOWN_CONFIG_FIELD`,
/// `POLICY_OUT_OF_BOUNDS` (a sender's setting, secret, certificate or DKIM key; the field is
/// named by `passcode_status_text` only as a status, never with its value), `INVALID_TEMPLATE`,
/// `PANIC` (each prefixed `PASSCODE_STATUS_`).
///
/// Thread-safe.
///
/// # Safety
/// `config` is NULL or valid for reads of `config_len` bytes; `events` is NULL or points to a
/// valid `PasscodeDeliveryEventSink` whose callback and `ctx` meet its contract; `out` is NULL
/// or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn passcode_delivery_new(
    config: *const c_char,
    config_len: usize,
    events: *const PasscodeDeliveryEventSink,
    out: *mut *const PasscodeDelivery,
) -> PasscodeStatus {
    ffi_panic_boundary! {
        let result = (|| -> Result<(), Refusal> {
            let out = try_out!(out);
            let text = try_text!(config, config_len, PASSCODE_MAX_CONFIG_BYTES);
            let config = Config::parse(text)?;
            let mut builder = Delivery::builder(&config);
            // SAFETY: `events` is NULL or valid, per the contract.
            if let Some(sink) = unsafe { events.as_ref() } {
                let emit = sink.emit.ok_or(PasscodeStatus::NullParameter)?;
                builder = builder.events(Arc::new(CallbackDeliveryEvents { ctx: sink.ctx, emit }));
            }
            let delivery = builder.build()?;
            // SAFETY: `out` is not NULL and the caller promises it is valid for a write.
            unsafe { write_out(out, to_arc_const_ptr(Arc::new(delivery))) };
            Ok(())
        })();
        // SAFETY: NULL is always a valid "no failure details" pointer.
        unsafe { report(result, std::ptr::null_mut()) }
    }
}

/// Frees delivery: it stops taking messages, lets its workers drain the queue for at most the
/// config's `delivery.shutdown_ms`, then gives up what is left (a `FAILED` event with reason
/// `shutdown` each). NULL is a no-op. No call on this delivery may be running or start
/// afterwards. Never fails.
///
/// # Safety
/// `delivery` is NULL or from `passcode_delivery_new`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn passcode_delivery_free(delivery: *const PasscodeDelivery) {
    ffi_panic_boundary! {
        // SAFETY: per the contract.
        unsafe { free_arc(delivery) }
    }
}

/// Queues the message of an issued (or re-sent) challenge. The message is copied; `issued`
/// stays the caller's.
///
/// Returns `PASSCODE_STATUS_OK` once queued (what happens next is reported to the event
/// sink), or: `NULL_PARAMETER`, `DELIVERY_QUEUE_FULL` (nothing queued; at once, never
/// blocking), `NO_SENDER` (no sender for the message's channel), `DELIVERY_STOPPED`, `PANIC`
/// (each prefixed `PASSCODE_STATUS_`).
///
/// Thread-safe.
///
/// # Safety
/// `delivery` is NULL or live; `issued` is NULL or a live `PasscodeIssued`.
#[no_mangle]
pub unsafe extern "C" fn passcode_delivery_send(
    delivery: *const PasscodeDelivery,
    issued: *const PasscodeIssued,
) -> PasscodeStatus {
    ffi_panic_boundary! {
        let result = (|| -> Result<(), Refusal> {
            let delivery = try_ref!(delivery);
            let issued = try_ref!(issued);
            delivery.send(issued.outgoing())?;
            Ok(())
        })();
        // SAFETY: NULL is always a valid "no failure details" pointer.
        unsafe { report(result, std::ptr::null_mut()) }
    }
}

/// Like `passcode_issue`, and queues the message: a place in the queue is reserved first, so
/// no code is issued that the queue would then refuse.
///
/// - `deliver`: whether to queue the message. Pass false for an identifier that is not an
///   account: the call then takes the same steps and returns the same answer without sending
///   anything, so the host's answer does not reveal whether the account exists.
/// - The other arguments are `passcode_issue`'s.
///
/// Returns `passcode_issue`'s statuses, and: `DELIVERY_QUEUE_FULL`, `NO_SENDER` (no sender for
/// `channel`), `DELIVERY_STOPPED` (each prefixed `PASSCODE_STATUS_`); on these no code was issued.
///
/// Thread-safe.
///
/// # Safety
/// As `passcode_issue`; `delivery` is NULL or live.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn passcode_issue_and_send(
    engine: *const PasscodeEngine,
    delivery: *const PasscodeDelivery,
    deliver: bool,
    channel: u32,
    purpose: u32,
    identifier: *const c_char,
    identifier_len: usize,
    client: *const c_char,
    client_len: usize,
    locale: *const c_char,
    locale_len: usize,
    out: *mut *mut PasscodeIssued,
    failure: *mut PasscodeFailure,
) -> PasscodeStatus {
    ffi_panic_boundary! {
        let args =
            IssueArgs::new(channel, purpose, (identifier, identifier_len), (client, client_len), (locale, locale_len));
        let sending = Sending::Through { delivery, deliver };
        // SAFETY: the caller keeps this function's contract, which is `issue_call`'s.
        unsafe { issue_call(engine, sending, Making::Issue { account: None, args }, out, failure) }
    }
}

/// As `passcode_issue_and_send`, but the subject is the host's own account id (as in
/// `passcode_issue_for_account`): failures, locks, the failure budget and the send limits are
/// the account's, whichever of its addresses and numbers the code goes to.
///
/// - `account`, `account_len`: as in `passcode_issue_for_account` (required).
/// - every other argument, the outputs and the statuses: as `passcode_issue_and_send`
///   (`INVALID_ARGUMENT` and `INPUT_TOO_LONG` also for the account; the place reserved in the
///   queue is then given back).
///
/// Thread-safe.
///
/// # Safety
/// As `passcode_issue_and_send`; `account` is NULL or valid for reads of `account_len` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn passcode_issue_and_send_for_account(
    engine: *const PasscodeEngine,
    delivery: *const PasscodeDelivery,
    deliver: bool,
    account: *const c_char,
    account_len: usize,
    channel: u32,
    purpose: u32,
    identifier: *const c_char,
    identifier_len: usize,
    client: *const c_char,
    client_len: usize,
    locale: *const c_char,
    locale_len: usize,
    out: *mut *mut PasscodeIssued,
    failure: *mut PasscodeFailure,
) -> PasscodeStatus {
    ffi_panic_boundary! {
        let args =
            IssueArgs::new(channel, purpose, (identifier, identifier_len), (client, client_len), (locale, locale_len));
        let sending = Sending::Through { delivery, deliver };
        let making = Making::Issue { account: Some((account, account_len)), args };
        // SAFETY: the caller keeps this function's contract, which is `issue_call`'s.
        unsafe { issue_call(engine, sending, making, out, failure) }
    }
}

/// Like `passcode_resend`, and queues the message (a place reserved first, as for
/// `passcode_issue_and_send`; `deliver` as there).
///
/// Returns `passcode_resend`'s statuses, and `DELIVERY_QUEUE_FULL`, `NO_SENDER` (the
/// challenge's channel, read from its token first, has no sender here) or `DELIVERY_STOPPED`,
/// each prefixed `PASSCODE_STATUS_`; on these no new code was made.
///
/// Thread-safe.
///
/// # Safety
/// As `passcode_resend`; `delivery` is NULL or live.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn passcode_resend_and_send(
    engine: *const PasscodeEngine,
    delivery: *const PasscodeDelivery,
    deliver: bool,
    token: *const c_char,
    token_len: usize,
    client: *const c_char,
    client_len: usize,
    locale: *const c_char,
    locale_len: usize,
    out: *mut *mut PasscodeIssued,
    failure: *mut PasscodeFailure,
) -> PasscodeStatus {
    ffi_panic_boundary! {
        let sending = Sending::Through { delivery, deliver };
        let making =
            Making::Resend { token: (token, token_len), client: (client, client_len), locale: (locale, locale_len) };
        // SAFETY: the caller keeps this function's contract, which is `issue_call`'s.
        unsafe { issue_call(engine, sending, making, out, failure) }
    }
}

/// For Rust tests: the delivery behind a handle.
///
/// # Safety
/// `delivery` is NULL or live.
pub unsafe fn delivery_ref<'a>(delivery: *const PasscodeDelivery) -> Option<&'a Delivery> {
    // SAFETY: per the contract.
    unsafe { try_from_ptr(delivery) }
}
