//! `PasscodeStatus`: the one result type of the C ABI, and the text of each status.
//!
//! The numbers are core's error numbers (`passcode_core::ERROR_TABLE`), so a host sees the
//! same answer from the C ABI, the Rust crate and the WASI component. The 7000s are the C
//! layer's own. A retired number stays here as a comment and is never reused.
//!
//! The statuses are listed once, in the enum below (which cbindgen reads as it is written):
//! each variant carries its name and its text in a `#[status(...)]` line, and the
//! `status_list!` macro makes from that one list the enum, `PasscodeStatus::ALL`, the
//! number-to-status conversion (which is how core's and delivery's errors become statuses),
//! and the name and text functions. A status cannot be added without its text, nor be left
//! out of `passcode_status_text`.

use std::os::raw::c_char;

use macro_rules_attribute::apply;
use passcode_core::Error;

use crate::ffi::{try_out, write_out};
use crate::panic::ffi_panic_boundary;

/// Makes, from the enum's one list of variants with their `#[status(name, text)]` lines, the
/// enum itself and the functions that must cover every status: in the manner of rustls-ffi's
/// `ResultFromU32`, so that no second list can fall out of step with the first.
macro_rules! status_list {
    (
        $(#[$attribute:meta])*
        pub enum PasscodeStatus {
            $(
                $(#[doc = $doc:literal])*
                #[status(name = $name:literal, text = $text:literal)]
                $variant:ident = $number:literal,
            )*
        }
    ) => {
        $(#[$attribute])*
        pub enum PasscodeStatus {
            $( $(#[doc = $doc])* $variant = $number, )*
        }

        impl PasscodeStatus {
            /// Every status, in the order of the list.
            pub const ALL: &'static [PasscodeStatus] = &[$(PasscodeStatus::$variant,)*];

            /// The status with this number, if any.
            pub fn from_number(n: u32) -> Option<PasscodeStatus> {
                match n {
                    $($number => Some(PasscodeStatus::$variant),)*
                    _ => None,
                }
            }

            /// The stable kebab-case name: core's error name for the 1000s to 6000s,
            /// delivery's for the 8000s.
            pub fn name(self) -> &'static str {
                match self {
                    $(PasscodeStatus::$variant => $name,)*
                }
            }

            /// One sentence for people. It names no code, key or identifier.
            pub fn text(self) -> &'static str {
                match self {
                    $(PasscodeStatus::$variant => $text,)*
                }
            }
        }
    };
}

/// The result of every fallible function. `PASSCODE_STATUS_OK` (0) is success; every other
/// value says what was refused or went wrong. The numbers are stable and grouped by range:
/// 1000s bad input (no state changed), 2000s configuration, 3000s verification outcomes,
/// 4000s send limits, 5000s the store, 6000s the random source, 7000s the C layer itself,
/// 8000s delivery (`passcode_delivery::DELIVERY_ERROR_TABLE`).
#[apply(status_list!)]
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PasscodeStatus {
    /// Success.
    #[status(name = "ok", text = "success")]
    Ok = 0,
    /// The email address is not one.
    #[status(name = "invalid-email", text = "not an email address")]
    InvalidEmail = 1001,
    /// The phone number is not E.164.
    #[status(name = "invalid-phone", text = "not an E.164 phone number")]
    InvalidPhone = 1002,
    /// A text argument is longer than accepted.
    #[status(name = "input-too-long", text = "a text argument is too long")]
    InputTooLong = 1003,
    /// A text argument is not UTF-8.
    #[status(name = "invalid-utf8", text = "a text argument is not valid UTF-8")]
    InvalidUtf8 = 1004,
    /// The challenge token is malformed, forged, altered, or not this engine's.
    #[status(name = "invalid-token", text = "the challenge token is malformed or not ours")]
    InvalidToken = 1005,
    /// The policy forbids this channel for this purpose.
    #[status(name = "channel-not-allowed", text = "the policy does not allow this channel for this purpose")]
    ChannelNotAllowed = 1006,
    /// The client address is not an IPv4 or IPv6 address.
    #[status(name = "invalid-client-address", text = "the client address is not an IPv4 or IPv6 address")]
    InvalidClientAddress = 1007,
    /// An enumerated argument (channel, purpose, status) has an unknown value, or a locale
    /// has characters a locale tag cannot have.
    #[status(name = "invalid-argument", text = "an argument has an unknown value")]
    InvalidArgument = 1008,
    /// The configuration is not valid TOML or JSON, or has a wrongly typed field.
    #[status(name = "config-syntax", text = "the config is not valid TOML or JSON, or a field has the wrong type")]
    ConfigSyntax = 2001,
    /// The configuration names a field that does not exist.
    #[status(name = "unknown-config-field", text = "the config has an unknown field")]
    UnknownConfigField = 2002,
    /// A policy value is out of its bounds.
    #[status(name = "policy-out-of-bounds", text = "a policy value is out of its bounds")]
    PolicyOutOfBounds = 2003,
    /// A key is too short or visibly not random.
    #[status(name = "weak-key", text = "a key is too short or not random")]
    WeakKey = 2004,
    /// A key could not be read from its file or environment variable.
    #[status(name = "key-unavailable", text = "a key could not be read from its file or environment variable")]
    KeyUnavailable = 2005,
    /// A message template is invalid or would not fit the configured SMS size.
    #[status(name = "invalid-template", text = "a message template is invalid or too long")]
    InvalidTemplate = 2006,
    /// The code is wrong; see `PasscodeFailure.attempts_left`.
    #[status(name = "wrong-code", text = "wrong code")]
    WrongCode = 3001,
    /// The challenge has expired.
    #[status(name = "expired", text = "the code has expired")]
    Expired = 3002,
    /// The challenge used up its tries; even the right code is refused now.
    #[status(name = "too-many-attempts", text = "too many wrong attempts on this challenge")]
    TooManyAttempts = 3003,
    /// The subject is locked; see `PasscodeFailure.retry_after` (absent for a hard lock).
    #[status(name = "subject-locked", text = "too many failures; the subject is locked")]
    SubjectLocked = 3004,
    /// No such live challenge: unknown, already used, cancelled, or replaced.
    #[status(name = "not-found", text = "no such challenge: unknown, used, cancelled or replaced")]
    NotFound = 3005,
    /// The code is wrong, the guess was counted, and it started a lock: see
    /// `PasscodeFailure.attempts_left` and `retry_after` (absent for a hard lock).
    #[status(name = "wrong-code-locked", text = "wrong code; too many failures, the subject is now locked")]
    WrongCodeLocked = 3006,
    /// The resend cooldown has not passed; see `PasscodeFailure.retry_after`.
    #[status(name = "resend-too-soon", text = "a code was sent recently; retry later")]
    ResendTooSoon = 4001,
    /// A send bucket is empty; see `PasscodeFailure.retry_after`.
    #[status(name = "send-limit", text = "send limit reached; retry later")]
    SendLimit = 4002,
    /// SMS to this destination's country is not allowed by policy.
    #[status(name = "destination-blocked", text = "SMS to this destination is not allowed")]
    DestinationBlocked = 4003,
    /// The store failed or could not be reached; nothing was accepted (fail closed).
    #[status(name = "store-unavailable", text = "the store is unavailable; nothing was accepted")]
    StoreUnavailable = 5001,
    /// The record kept changing; the operation gave up after bounded retries.
    #[status(name = "contention", text = "the record is too busy; try again")]
    Contention = 5002,
    /// A record in the store could not be decoded.
    #[status(name = "corrupt-record", text = "a stored record could not be decoded")]
    CorruptRecord = 5003,
    /// The operating system's random source failed.
    #[status(name = "random-unavailable", text = "the operating system's random source failed")]
    RandomUnavailable = 6001,
    /// The clock (the host's clock callback, or the system's) reads a time outside 2020..=9999.
    #[status(name = "clock-out-of-range", text = "the clock reads a time outside 2020 to 9999")]
    ClockOutOfRange = 6002,
    /// A required pointer argument was NULL.
    #[status(name = "null-parameter", text = "a required pointer argument was NULL")]
    NullParameter = 7001,
    /// The library panicked (a bug); the call had no effect that can be relied on.
    #[status(name = "panic", text = "the library panicked (a bug)")]
    Panic = 7002,
    /// The caller's buffer is too small for the answer.
    #[status(name = "buffer-too-small", text = "the buffer is too small")]
    BufferTooSmall = 7003,
    /// The engine reported an error this build of the C layer has no number for (a bug).
    #[status(name = "unrecognised", text = "an error the C layer has no number for (a bug)")]
    Unrecognised = 7004,
    /// The delivery queue is full: nothing was queued (and, for the issue-and-send calls, no
    /// code was issued). Try again shortly.
    #[status(name = "delivery-queue-full", text = "the delivery queue is full; nothing was queued; try again shortly")]
    DeliveryQueueFull = 8001,
    /// No sender is configured for the channel.
    #[status(name = "no-sender", text = "no sender is configured for this channel")]
    NoSender = 8002,
    /// Delivery is shutting down and takes no new messages.
    #[status(name = "delivery-stopped", text = "delivery is shutting down and takes no new messages")]
    DeliveryStopped = 8003,
    /// The providers failed to take a message sent synchronously.
    #[status(name = "delivery-failed", text = "the message was not sent")]
    DeliveryFailed = 8004,
}

/// The most bytes a status text has, not counting its NUL terminator: a buffer of
/// `PASSCODE_STATUS_TEXT_MAX + 1` bytes always suffices for `passcode_status_text`.
pub const PASSCODE_STATUS_TEXT_MAX: usize = 96;

impl From<&Error> for PasscodeStatus {
    fn from(e: &Error) -> Self {
        PasscodeStatus::from_number(e.number()).unwrap_or(PasscodeStatus::Unrecognised)
    }
}

/// What a failed call reports: the status and the numbers that come with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Refusal {
    pub status: PasscodeStatus,
    pub attempts_left: Option<u32>,
    pub retry_after: Option<u64>,
}

impl From<PasscodeStatus> for Refusal {
    fn from(status: PasscodeStatus) -> Self {
        Refusal { status, attempts_left: None, retry_after: None }
    }
}

/// Lets the NULL-check macros `return status.into()` from functions that return a result.
impl<T> From<PasscodeStatus> for Result<T, Refusal> {
    fn from(status: PasscodeStatus) -> Self {
        Err(status.into())
    }
}

impl From<Error> for Refusal {
    fn from(e: Error) -> Self {
        Refusal { status: PasscodeStatus::from(&e), attempts_left: e.attempts_left(), retry_after: e.retry_after() }
    }
}

/// Details of a refusal, for the calls that take an optional `PasscodeFailure *`.
///
/// The caller owns it (usually on its stack). It is written when the call returns a status
/// other than `PASSCODE_STATUS_OK` and `PASSCODE_STATUS_PANIC`, and left untouched otherwise.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasscodeFailure {
    /// The status the call returned.
    pub status: PasscodeStatus,
    /// Whether `attempts_left` is set (for `PASSCODE_STATUS_WRONG_CODE` and `_WRONG_CODE_LOCKED`).
    pub has_attempts_left: bool,
    /// Tries left on the challenge after a wrong code.
    pub attempts_left: u32,
    /// Whether `retry_after` is set (locks and send limits; a hard lock has none).
    pub has_retry_after: bool,
    /// Seconds to wait before trying again.
    pub retry_after: u64,
}

impl Default for PasscodeFailure {
    fn default() -> Self {
        PasscodeFailure {
            status: PasscodeStatus::Ok,
            has_attempts_left: false,
            attempts_left: 0,
            has_retry_after: false,
            retry_after: 0,
        }
    }
}

/// Writes the failure details (if asked for) and returns the status.
///
/// # Safety
/// `failure` is NULL or valid for a write of one `PasscodeFailure`.
pub(crate) unsafe fn report(result: Result<(), Refusal>, failure: *mut PasscodeFailure) -> PasscodeStatus {
    match result {
        Ok(()) => PasscodeStatus::Ok,
        Err(r) => {
            if !failure.is_null() {
                let details = PasscodeFailure {
                    status: r.status,
                    has_attempts_left: r.attempts_left.is_some(),
                    attempts_left: r.attempts_left.unwrap_or(0),
                    has_retry_after: r.retry_after.is_some(),
                    retry_after: r.retry_after.unwrap_or(0),
                };
                // SAFETY: not NULL (checked above), and the caller promises it is valid for a write.
                unsafe { write_out(failure, details) };
            }
            r.status
        }
    }
}

/// Copies the text of `status` into `buf`, followed by a NUL byte, and writes the text's
/// length (without the NUL) to `*out_n`. The text is UTF-8, one sentence, and names no code,
/// key or identifier.
///
/// Returns:
/// - `PASSCODE_STATUS_OK` on success;
/// - `PASSCODE_STATUS_NULL_PARAMETER` if `buf` or `out_n` is NULL;
/// - `PASSCODE_STATUS_BUFFER_TOO_SMALL` if `len` is less than the text's length + 1
///   (a buffer of `PASSCODE_STATUS_TEXT_MAX + 1` bytes always suffices);
/// - `PASSCODE_STATUS_INVALID_ARGUMENT` if `status` is no status of this library.
///
/// On any failure neither `buf` nor `*out_n` is written. Thread-safe.
///
/// # Safety
/// `buf` is valid for writes of `len` bytes; `out_n` is valid for a write of one `size_t`.
#[no_mangle]
pub unsafe extern "C" fn passcode_status_text(
    status: u32,
    buf: *mut c_char,
    len: usize,
    out_n: *mut usize,
) -> PasscodeStatus {
    ffi_panic_boundary! {
        let out_n = try_out!(out_n);
        if buf.is_null() {
            return PasscodeStatus::NullParameter;
        }
        let Some(status) = PasscodeStatus::from_number(status) else {
            return PasscodeStatus::InvalidArgument;
        };
        let text = status.text();
        if len < text.len() + 1 {
            return PasscodeStatus::BufferTooSmall;
        }
        // SAFETY: `buf` is not NULL and the caller promises `len` writable bytes; we write
        // text.len() + 1 <= len bytes, and `text` (static) cannot overlap the caller's buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(text.as_ptr(), buf.cast::<u8>(), text.len());
            *buf.add(text.len()) = 0;
            write_out(out_n, text.len());
        }
        PasscodeStatus::Ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use passcode_core::ERROR_TABLE;

    #[test]
    fn every_core_error_number_has_a_status_with_its_name() {
        for (n, name) in ERROR_TABLE {
            let s = PasscodeStatus::from_number(*n).unwrap_or_else(|| panic!("no status for core error {n} {name}"));
            assert_eq!(s as u32, *n);
            assert_eq!(s.name(), *name, "status {n}");
        }
        for (n, name) in passcode_delivery::DELIVERY_ERROR_TABLE {
            let s =
                PasscodeStatus::from_number(*n).unwrap_or_else(|| panic!("no status for delivery error {n} {name}"));
            assert_eq!(s.name(), *name, "status {n}");
        }
        // And nothing but core's and delivery's numbers, 0 and the C layer's 7000s.
        let known = |n: u32| ERROR_TABLE.iter().chain(passcode_delivery::DELIVERY_ERROR_TABLE).any(|(m, _)| *m == n);
        for s in PasscodeStatus::ALL {
            let n = *s as u32;
            assert!(n == 0 || (7000..8000).contains(&n) || known(n), "{s:?}");
        }
    }

    #[test]
    fn every_status_has_a_distinct_number_name_and_text() {
        let mut numbers = std::collections::HashSet::new();
        let mut names = std::collections::HashSet::new();
        for s in PasscodeStatus::ALL {
            let n = *s as u32;
            assert!(numbers.insert(n), "{s:?}: number {n} is taken twice");
            assert_eq!(PasscodeStatus::from_number(n), Some(*s), "{s:?}: its number leads back to it");
            assert!(names.insert(s.name()), "{s:?}: name {} is taken twice", s.name());
            assert!(!s.text().is_empty() && s.text().len() <= PASSCODE_STATUS_TEXT_MAX, "{s:?}: its text");
            let (mut buf, mut n) = ([0 as c_char; PASSCODE_STATUS_TEXT_MAX + 1], 0);
            // SAFETY: a buffer of its length and a live out-pointer.
            let status = unsafe { passcode_status_text(*s as u32, buf.as_mut_ptr(), buf.len(), &mut n) };
            assert_eq!(status, PasscodeStatus::Ok, "{s:?}: passcode_status_text knows it");
            assert_eq!(n, s.text().len());
        }
        // Numbers that are no status: the text function refuses them.
        for n in [1, 999, 1000, 7000, 9999, u32::MAX] {
            assert_eq!(PasscodeStatus::from_number(n), None, "{n}");
        }
    }
}
