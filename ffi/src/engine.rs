//! `PasscodeEngine`: the engine handle, and the operations on it.
//!
//! C holds the engine as an `Arc`: every operation takes a `const PasscodeEngine *` and may
//! run on any number of threads at once.

use std::os::raw::c_char;
use std::sync::Arc;

use passcode_core::{Channel, Config, Engine, Error, IssueRequest, Purpose};

use crate::clock::{CallbackClock, PasscodeClock};
use crate::delivery::Sending;
use crate::error::{report, PasscodeFailure, PasscodeStatus, Refusal};
use crate::events::{CallbackEvents, PasscodeEventSink};
use crate::ffi::{
    free_arc, to_arc_const_ptr, to_boxed_mut_ptr, try_from_ptr, try_optional_text, try_out, try_ref, try_text,
    write_out, Castable, OwnershipArc, PASSCODE_MAX_CONFIG_BYTES, PASSCODE_MAX_TEXT_BYTES,
};
use crate::issued::{IssuedValue, PasscodeIssued};
use crate::panic::ffi_panic_boundary;
use crate::store::{CallbackStore, PasscodeStore};
use crate::verified::{PasscodeVerified, VerifiedValue};

/// The passcode engine. Opaque; create with `passcode_engine_new`, free with
/// `passcode_engine_free`.
///
/// Thread safety: an engine may be used from any number of threads at once (every operation
/// is one compare-and-swap on the store), and freed from any thread once no call is running.
pub struct PasscodeEngine {
    _private: [u8; 0],
}

impl Castable for PasscodeEngine {
    type Ownership = OwnershipArc;
    type RustType = Engine;
}

/// How a code travels.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasscodeChannel {
    /// An email address.
    Email = 1,
    /// An E.164 phone number, by SMS.
    Sms = 2,
}

/// What a code is for. A code issued for one purpose never verifies for another.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasscodePurpose {
    /// Creating an account.
    SignUp = 1,
    /// Signing in with the code alone.
    SignIn = 2,
    /// A second factor after a password or passkey.
    SecondFactor = 3,
    /// Confirming that the user controls an address or number.
    VerifyContact = 4,
    /// Account recovery.
    Recovery = 5,
}

pub(crate) fn channel_value(c: Channel) -> PasscodeChannel {
    match c {
        Channel::Email => PasscodeChannel::Email,
        Channel::Sms => PasscodeChannel::Sms,
    }
}

pub(crate) fn purpose_value(p: Purpose) -> PasscodePurpose {
    match p {
        Purpose::SignUp => PasscodePurpose::SignUp,
        Purpose::SignIn => PasscodePurpose::SignIn,
        Purpose::SecondFactor => PasscodePurpose::SecondFactor,
        Purpose::VerifyContact => PasscodePurpose::VerifyContact,
        Purpose::Recovery => PasscodePurpose::Recovery,
    }
}

fn channel_from(n: u32) -> Result<Channel, Refusal> {
    match n {
        1 => Ok(Channel::Email),
        2 => Ok(Channel::Sms),
        _ => Err(PasscodeStatus::InvalidArgument.into()),
    }
}

fn purpose_from(n: u32) -> Result<Purpose, Refusal> {
    Purpose::ALL.into_iter().find(|p| purpose_value(*p) as u32 == n).ok_or(PasscodeStatus::InvalidArgument.into())
}

/// A text argument as C passes it: a pointer (NULL or valid for reads of the length during the
/// call) and a length.
pub(crate) type RawText = (*const c_char, usize);

/// The arguments every issue call takes after the engine (and delivery), as C passes them.
#[derive(Clone, Copy)]
pub(crate) struct IssueArgs {
    channel: u32,
    purpose: u32,
    identifier: RawText,
    client: RawText,
    locale: RawText,
}

impl IssueArgs {
    pub(crate) fn new(channel: u32, purpose: u32, identifier: RawText, client: RawText, locale: RawText) -> Self {
        IssueArgs { channel, purpose, identifier, client, locale }
    }

    /// The request, checked.
    ///
    /// # Safety
    /// Each text pointer is NULL or valid for reads of its length during `'a`.
    unsafe fn request<'a>(self) -> Result<IssueRequest<'a>, Refusal> {
        let identifier = try_text!(self.identifier.0, self.identifier.1, PASSCODE_MAX_TEXT_BYTES);
        let client = try_optional_text!(self.client.0, self.client.1, PASSCODE_MAX_TEXT_BYTES);
        let locale = try_optional_text!(self.locale.0, self.locale.1, PASSCODE_MAX_TEXT_BYTES);
        Ok(IssueRequest {
            channel: channel_from(self.channel)?,
            identifier,
            purpose: purpose_from(self.purpose)?,
            client,
            locale,
        })
    }
}

/// What an issue call makes: a code for a new challenge (for the identifier's subject, or the
/// host's account's), or a new code for the live challenge of a token.
#[derive(Clone, Copy)]
pub(crate) enum Making {
    Issue { account: Option<RawText>, args: IssueArgs },
    Resend { token: RawText, client: RawText, locale: RawText },
}

/// The body of the six calls that issue or re-send (`passcode_issue`,
/// `passcode_issue_for_account`, `passcode_resend` and their `_and_send` forms), in their
/// documented order: the handles and `out`, then the text and enum arguments; then a place in
/// delivery's queue (so no code is made that the queue would refuse), the code, and the answer.
///
/// # Safety
/// As those calls: `engine` is NULL or live, `sending` as `Sending` requires, each text
/// pointer is NULL or valid for reads of its length, and `out` and `failure` are NULL or valid
/// for a write.
pub(crate) unsafe fn issue_call(
    engine: *const PasscodeEngine,
    sending: Sending,
    making: Making,
    out: *mut *mut PasscodeIssued,
    failure: *mut PasscodeFailure,
) -> PasscodeStatus {
    let result = (|| -> Result<(), Refusal> {
        let engine = try_ref!(engine);
        // SAFETY: per this function's contract.
        let queue = unsafe { sending.queue() }?;
        let out = try_out!(out);
        let (place, issued) = match making {
            Making::Issue { account, args } => {
                let account = match account {
                    Some((ptr, len)) => Some(try_text!(ptr, len, PASSCODE_MAX_TEXT_BYTES)),
                    None => None,
                };
                // SAFETY: the text pointers are NULL or valid for their lengths, per the contract.
                let request = unsafe { args.request() }?;
                let place = queue.reserve(request.channel)?;
                match account {
                    Some(account) => (place, engine.issue_for_account(account, &request)?),
                    None => (place, engine.issue(&request)?),
                }
            }
            Making::Resend { token, client, locale } => {
                let token = try_text!(token.0, token.1, PASSCODE_MAX_TEXT_BYTES);
                let client = try_optional_text!(client.0, client.1, PASSCODE_MAX_TEXT_BYTES);
                let locale = try_optional_text!(locale.0, locale.1, PASSCODE_MAX_TEXT_BYTES);
                // The channel is sealed in the token: read it (the store untouched) to reserve a
                // place on its sender before the new code is made.
                let place = queue.reserve_for(|| Ok(engine.challenge_channel(token)?))?;
                (place, engine.resend(token, client, locale)?)
            }
        };
        // SAFETY: `out` is not NULL and the caller promises it is valid for a write.
        unsafe { place.hand_out(IssuedValue::new(&issued), out) }
    })();
    // SAFETY: `failure` is NULL or valid for a write, per the contract.
    unsafe { report(result, failure) }
}

/// Parts the host brings instead of the defaults. Every member may be NULL (the default:
/// the built-in memory store, the system clock, no events). The structs are copied during
/// `passcode_engine_new`; the `ctx` pointers inside them must stay valid until the engine
/// is freed.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PasscodeHostParts {
    /// A store (all three callbacks required), or NULL for the store the config names: the
    /// built-in memory store (the default) or Redis (`store = "redis://..."`). A config that
    /// names a shared store together with store callbacks is refused. With store callbacks
    /// the config must name a key ring (every engine on the store must derive the same keys),
    /// or ask for `keys.ephemeral = true` (tests and single-process programs only).
    pub store: *const PasscodeStore,
    /// A clock, or NULL for the system clock.
    pub clock: *const PasscodeClock,
    /// An event sink, or NULL for none.
    pub events: *const PasscodeEventSink,
}

/// Opens an engine from a config in TOML or JSON (JSON when the text starts with `{`; the
/// same schema as the Rust crate), with the host's parts.
///
/// - `config`, `config_len`: the config text, UTF-8, at most `PASSCODE_MAX_CONFIG_BYTES`. It
///   is read during the call only. An empty text is the default config.
/// - `parts`: NULL, or the host's store, clock and event sink (see `PasscodeHostParts`).
/// - `out`: on success receives the new engine, which the caller owns and frees with
///   `passcode_engine_free`. Untouched on failure.
///
/// Returns `PASSCODE_STATUS_OK`, or:
/// - `PASSCODE_STATUS_NULL_PARAMETER`: `config` or `out` is NULL, or a part passed lacks a callback;
/// - `PASSCODE_STATUS_INPUT_TOO_LONG`, `PASSCODE_STATUS_INVALID_UTF8`: the config text;
/// - `PASSCODE_STATUS_CONFIG_SYNTAX`, `PASSCODE_STATUS_UNKNOWN_CONFIG_FIELD`,
///   `PASSCODE_STATUS_POLICY_OUT_OF_BOUNDS`, `PASSCODE_STATUS_INVALID_TEMPLATE`: the config
///   (`POLICY_OUT_OF_BOUNDS` too for store callbacks with no key ring in the config);
/// - `PASSCODE_STATUS_WEAK_KEY`, `PASSCODE_STATUS_KEY_UNAVAILABLE`: a ring key;
/// - `PASSCODE_STATUS_STORE_UNAVAILABLE`: the Redis store the config names cannot be reached,
///   refuses the credentials, or is a read-only replica;
/// - `PASSCODE_STATUS_RANDOM_UNAVAILABLE`, `PASSCODE_STATUS_PANIC`.
///
/// Thread-safe.
///
/// # Safety
/// `config` is NULL or valid for reads of `config_len` bytes; `parts` is NULL or points to a
/// valid `PasscodeHostParts` whose non-NULL members point to valid structs whose callbacks
/// and `ctx` meet their documented contracts; `out` is NULL or valid for a write.
#[no_mangle]
pub unsafe extern "C" fn passcode_engine_new(
    config: *const c_char,
    config_len: usize,
    parts: *const PasscodeHostParts,
    out: *mut *const PasscodeEngine,
) -> PasscodeStatus {
    ffi_panic_boundary! {
        let result = (|| -> Result<(), Refusal> {
            let out = try_out!(out);
            let text = try_text!(config, config_len, PASSCODE_MAX_CONFIG_BYTES);
            let config = Config::parse(text)?;
            // SAFETY: `parts` and its members are NULL or valid, per the contract.
            let parts = unsafe { parts.as_ref() };
            // SAFETY: as above.
            let host_store = parts.and_then(|p| unsafe { p.store.as_ref() });
            let mut builder = match host_store {
                // The host's store and a store named in the config would disagree on where
                // state lives: refuse rather than pick one silently.
                Some(_) if !config.store.is_memory() => {
                    return Err(Error::PolicyOutOfBounds {
                        field: "store",
                        reason: "the config names a shared store and the host passed store callbacks; use one".into(),
                    }
                    .into())
                }
                Some(s) => {
                    let store = CallbackStore::new(s).ok_or(PasscodeStatus::NullParameter)?;
                    Engine::builder(config).store(Arc::new(store))
                }
                // A `redis://` store in the config is opened here, so C hosts need no code change.
                None => passcode_redis::builder(config)?,
            };
            if let Some(parts) = parts {
                // SAFETY: as above.
                if let Some(c) = unsafe { parts.clock.as_ref() } {
                    builder = builder.clock(Arc::new(CallbackClock::new(c).ok_or(PasscodeStatus::NullParameter)?));
                }
                // SAFETY: as above.
                if let Some(e) = unsafe { parts.events.as_ref() } {
                    builder = builder.events(Arc::new(CallbackEvents::new(e).ok_or(PasscodeStatus::NullParameter)?));
                }
            }
            let engine = builder.build()?;
            // SAFETY: `out` is not NULL and the caller promises it is valid for a write.
            unsafe { write_out(out, to_arc_const_ptr(Arc::new(engine))) };
            Ok(())
        })();
        // SAFETY: NULL is always a valid "no failure details" pointer.
        unsafe { report(result, std::ptr::null_mut()) }
    }
}

/// Frees an engine. NULL is a no-op. Every `PasscodeIssued` and `PasscodeVerified` stays
/// valid (they do not borrow the engine). No call on this engine may be running or start
/// afterwards (use after free is undefined behaviour). Never fails.
///
/// # Safety
/// `engine` is NULL or an engine from `passcode_engine_new`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn passcode_engine_free(engine: *const PasscodeEngine) {
    ffi_panic_boundary! {
        // SAFETY: per the contract.
        unsafe { free_arc(engine) }
    }
}

/// Issues a code for a new challenge, replacing any live challenge of the same subject and
/// purpose. Send limits and the resend cooldown apply.
///
/// - `channel`: a `PasscodeChannel` value; `purpose`: a `PasscodePurpose` value.
/// - `identifier`: the email address or E.164 number as typed (required).
/// - `client`: the client's IP address for its send bucket, or NULL with length 0 for none.
/// - `locale`: a locale tag such as `fr-CA` for the message, or NULL with length 0 for the
///   default.
/// - `out`: on success receives the issued challenge, owned by the caller, freed with
///   `passcode_issued_free`. Untouched on failure.
/// - `failure`: NULL, or written on failure (see `PasscodeFailure`): `retry_after` for
///   `PASSCODE_STATUS_RESEND_TOO_SOON`, `PASSCODE_STATUS_SEND_LIMIT` and `PASSCODE_STATUS_SUBJECT_LOCKED`.
///
/// Text arguments are pointer and length (no NUL needed), UTF-8, at most
/// `PASSCODE_MAX_TEXT_BYTES`, read during the call only.
///
/// Returns `PASSCODE_STATUS_OK`, or: `NULL_PARAMETER` (`engine`, `identifier` or `out` NULL,
/// or a NULL text with a length), `INPUT_TOO_LONG`, `INVALID_UTF8`, `INVALID_ARGUMENT`
/// (channel, purpose, locale), `INVALID_EMAIL`, `INVALID_PHONE`, `INVALID_CLIENT_ADDRESS`,
/// `CHANNEL_NOT_ALLOWED`, `DESTINATION_BLOCKED`, `RESEND_TOO_SOON`, `SEND_LIMIT`,
/// `SUBJECT_LOCKED`, `STORE_UNAVAILABLE`, `CONTENTION`, `CORRUPT_RECORD`, `RANDOM_UNAVAILABLE`,
/// `CLOCK_OUT_OF_RANGE`, `PANIC` (each prefixed `PASSCODE_STATUS_`).
///
/// Thread-safe.
///
/// # Safety
/// `engine` is NULL or a live engine; each text pointer is NULL or valid for reads of its
/// length; `out` and `failure` are NULL or valid for a write.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn passcode_issue(
    engine: *const PasscodeEngine,
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
        // SAFETY: the caller keeps this function's contract, which is `issue_call`'s.
        unsafe { issue_call(engine, Sending::No, Making::Issue { account: None, args }, out, failure) }
    }
}

/// As `passcode_issue`, but the subject is the host's own account id instead of the
/// identifier: failures, locks, the failure budget and the send limits are the account's,
/// whichever address or number the code goes to (an account with an address and a number is
/// one subject). One live challenge per purpose per account. `passcode_verified_account`
/// returns the account after a successful verify; unlock with `passcode_unlock_account`.
///
/// - `account`, `account_len`: the account id, UTF-8, 1 to `PASSCODE_MAX_ACCOUNT_BYTES` bytes,
///   no control characters (required). It is sealed in the token and hashed into the subject
///   key; it is never stored, logged or put in an event.
/// - every other argument, the outputs and the statuses: as `passcode_issue`
///   (`INVALID_ARGUMENT` and `INPUT_TOO_LONG` also for the account).
///
/// Thread-safe.
///
/// # Safety
/// As `passcode_issue`; `account` is NULL or valid for reads of `account_len` bytes.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn passcode_issue_for_account(
    engine: *const PasscodeEngine,
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
        let making = Making::Issue { account: Some((account, account_len)), args };
        // SAFETY: the caller keeps this function's contract, which is `issue_call`'s.
        unsafe { issue_call(engine, Sending::No, making, out, failure) }
    }
}

/// Sends a new code for a live challenge: the previous code stops working; the cooldown and
/// send limits apply; neither the challenge's tries nor the subject's failures are reset.
/// The token stays the same.
///
/// - `token`: the challenge token from `passcode_issued_token` (required).
/// - `client`, `locale`: as for `passcode_issue` (NULL with length 0 for none).
/// - `out`: on success receives the re-issued challenge, freed with `passcode_issued_free`.
/// - `failure`: NULL, or written on failure.
///
/// Returns `PASSCODE_STATUS_OK`, or: `NULL_PARAMETER`, `INPUT_TOO_LONG`, `INVALID_UTF8`,
/// `INVALID_ARGUMENT` (locale), `INVALID_TOKEN`, `INVALID_CLIENT_ADDRESS`, `NOT_FOUND`,
/// `EXPIRED`, `TOO_MANY_ATTEMPTS`, `SUBJECT_LOCKED`, `RESEND_TOO_SOON`, `SEND_LIMIT`,
/// `STORE_UNAVAILABLE`, `CONTENTION`, `CORRUPT_RECORD`, `RANDOM_UNAVAILABLE`, `CLOCK_OUT_OF_RANGE`,
/// `PANIC` (each prefixed `PASSCODE_STATUS_`).
///
/// Thread-safe.
///
/// # Safety
/// As `passcode_issue`.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn passcode_resend(
    engine: *const PasscodeEngine,
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
        let making =
            Making::Resend { token: (token, token_len), client: (client, client_len), locale: (locale, locale_len) };
        // SAFETY: the caller keeps this function's contract, which is `issue_call`'s.
        unsafe { issue_call(engine, Sending::No, making, out, failure) }
    }
}

/// Checks a code. On success the challenge is used up (the same code is refused afterwards)
/// and the subject's consecutive failures are reset (not its failure budget). A wrong code
/// counts against the challenge, the subject and its budget.
///
/// - `token`: the challenge token (required). `code`: what the user typed (required;
///   whitespace around it, spaces and dashes inside it are ignored, and digits of any
///   script, such as full-width ones, are read as ASCII digits).
/// - `out`: on success receives who the code was sent to and what for, owned by the caller,
///   freed with `passcode_verified_free`. Untouched on failure.
/// - `failure`: NULL, or written on failure: `attempts_left` for `PASSCODE_STATUS_WRONG_CODE`
///   and `PASSCODE_STATUS_WRONG_CODE_LOCKED` (a wrong code, counted, that started a lock),
///   `retry_after` for those locks and `PASSCODE_STATUS_SUBJECT_LOCKED` (a guess refused
///   unseen); none for a hard lock, which only `passcode_unlock` or the failure record's end
///   lifts.
///
/// Returns `PASSCODE_STATUS_OK`, or: `NULL_PARAMETER`, `INPUT_TOO_LONG`, `INVALID_UTF8`,
/// `INVALID_TOKEN`, `WRONG_CODE`, `WRONG_CODE_LOCKED`, `EXPIRED`, `TOO_MANY_ATTEMPTS`,
/// `SUBJECT_LOCKED`, `NOT_FOUND`, `STORE_UNAVAILABLE`, `CONTENTION`, `CORRUPT_RECORD`,
/// `CLOCK_OUT_OF_RANGE`, `PANIC` (each prefixed `PASSCODE_STATUS_`).
///
/// Thread-safe: of any number of concurrent verifies of one challenge with the right code,
/// exactly one succeeds.
///
/// # Safety
/// As `passcode_issue`.
#[no_mangle]
pub unsafe extern "C" fn passcode_verify(
    engine: *const PasscodeEngine,
    token: *const c_char,
    token_len: usize,
    code: *const c_char,
    code_len: usize,
    out: *mut *mut PasscodeVerified,
    failure: *mut PasscodeFailure,
) -> PasscodeStatus {
    ffi_panic_boundary! {
        let result = (|| -> Result<(), Refusal> {
            let engine = try_ref!(engine);
            let out = try_out!(out);
            let token = try_text!(token, token_len, PASSCODE_MAX_TEXT_BYTES);
            let code = try_text!(code, code_len, PASSCODE_MAX_TEXT_BYTES);
            let verified = engine.verify(token, code)?;
            // SAFETY: `out` is not NULL and the caller promises it is valid for a write.
            unsafe { write_out(out, to_boxed_mut_ptr(VerifiedValue::new(verified))) };
            Ok(())
        })();
        // SAFETY: `failure` is NULL or valid for a write, per the contract.
        unsafe { report(result, failure) }
    }
}

/// Cancels a live challenge; its code stops working.
///
/// Returns `PASSCODE_STATUS_OK`, or: `NULL_PARAMETER` (`engine` or `token`), `INPUT_TOO_LONG`,
/// `INVALID_UTF8`, `INVALID_TOKEN`, `NOT_FOUND`, `STORE_UNAVAILABLE`, `CONTENTION`,
/// `CORRUPT_RECORD`, `CLOCK_OUT_OF_RANGE`, `PANIC` (each prefixed
/// `PASSCODE_STATUS_`). Thread-safe.
///
/// # Safety
/// `engine` is NULL or a live engine; `token` is NULL or valid for reads of `token_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn passcode_cancel(
    engine: *const PasscodeEngine,
    token: *const c_char,
    token_len: usize,
) -> PasscodeStatus {
    ffi_panic_boundary! {
        let result = (|| -> Result<(), Refusal> {
            let engine = try_ref!(engine);
            let token = try_text!(token, token_len, PASSCODE_MAX_TEXT_BYTES);
            engine.cancel(token)?;
            Ok(())
        })();
        // SAFETY: NULL is always a valid "no failure details" pointer.
        unsafe { report(result, std::ptr::null_mut()) }
    }
}

/// An operator's unlock: clears the subject's failure count and any lock, temporary or hard.
///
/// Returns `PASSCODE_STATUS_OK`, or: `NULL_PARAMETER` (`engine` or `identifier`),
/// `INPUT_TOO_LONG`, `INVALID_UTF8`, `INVALID_ARGUMENT` (channel), `INVALID_EMAIL`,
/// `INVALID_PHONE`, `STORE_UNAVAILABLE`, `CONTENTION`, `CORRUPT_RECORD`, `CLOCK_OUT_OF_RANGE`,
/// `PANIC` (each prefixed `PASSCODE_STATUS_`). Thread-safe.
///
/// # Safety
/// `engine` is NULL or a live engine; `identifier` is NULL or valid for reads of
/// `identifier_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn passcode_unlock(
    engine: *const PasscodeEngine,
    channel: u32,
    identifier: *const c_char,
    identifier_len: usize,
) -> PasscodeStatus {
    ffi_panic_boundary! {
        let result = (|| -> Result<(), Refusal> {
            let engine = try_ref!(engine);
            let identifier = try_text!(identifier, identifier_len, PASSCODE_MAX_TEXT_BYTES);
            engine.unlock(channel_from(channel)?, identifier)?;
            Ok(())
        })();
        // SAFETY: NULL is always a valid "no failure details" pointer.
        unsafe { report(result, std::ptr::null_mut()) }
    }
}

/// An operator's unlock of an account subject (see `passcode_issue_for_account`): clears its
/// failure count, failure budget and any lock.
///
/// Returns `PASSCODE_STATUS_OK`, or: `NULL_PARAMETER` (`engine` or `account`),
/// `INPUT_TOO_LONG`, `INVALID_UTF8`, `INVALID_ARGUMENT` (the account), `STORE_UNAVAILABLE`,
/// `CONTENTION`, `CORRUPT_RECORD`, `CLOCK_OUT_OF_RANGE`, `PANIC` (each prefixed
/// `PASSCODE_STATUS_`). Thread-safe.
///
/// # Safety
/// `engine` is NULL or a live engine; `account` is NULL or valid for reads of `account_len` bytes.
#[no_mangle]
pub unsafe extern "C" fn passcode_unlock_account(
    engine: *const PasscodeEngine,
    account: *const c_char,
    account_len: usize,
) -> PasscodeStatus {
    ffi_panic_boundary! {
        let result = (|| -> Result<(), Refusal> {
            let engine = try_ref!(engine);
            let account = try_text!(account, account_len, PASSCODE_MAX_TEXT_BYTES);
            engine.unlock_account(account)?;
            Ok(())
        })();
        // SAFETY: NULL is always a valid "no failure details" pointer.
        unsafe { report(result, std::ptr::null_mut()) }
    }
}

/// Borrows the Rust engine behind a handle (for Rust callers such as the benchmark).
///
/// # Safety
/// `engine` is NULL or a live engine, not freed while the reference is used.
pub unsafe fn engine_ref<'a>(engine: *const PasscodeEngine) -> Option<&'a Engine> {
    // SAFETY: per the contract.
    unsafe { try_from_ptr(engine) }
}
