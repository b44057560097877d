//! `PasscodeIssued`: a code issued or re-sent, read through accessors.
//!
//! Every string accessor returns a `PasscodeStr` view borrowed from the `PasscodeIssued`:
//! valid until `passcode_issued_free`, NUL-terminated, UTF-8. A NULL `issued` gives the empty
//! string (or 0). A `PasscodeIssued` is immutable: it may be read from several threads at once.

use passcode_core::{Issued, Message};

use crate::engine::channel_value;
use crate::ffi::{free_box, try_from_ptr, BoxCastPtr, Castable, PasscodeStr, Terminated};
use crate::panic::ffi_panic_boundary;

/// A code issued or re-sent. Opaque; owned by the caller; freed with `passcode_issued_free`
/// (which also wipes the code from memory).
pub struct PasscodeIssued {
    _private: [u8; 0],
}

pub(crate) struct IssuedValue {
    token: Terminated,
    code: Terminated,
    recipient: Terminated,
    sms_text: Terminated,
    email_subject: Terminated,
    email_text: Terminated,
    email_html: Terminated,
    expires_at: u64,
    resend_at: u64,
    channel: u32,
}

impl IssuedValue {
    pub(crate) fn new(i: &Issued) -> Self {
        let empty = Terminated::default;
        let (sms_text, email_subject, email_text, email_html) = match &i.message {
            Message::Sms(s) => (Terminated::new(&s.text), empty(), empty(), empty()),
            Message::Email(e) => {
                (empty(), Terminated::new(&e.subject), Terminated::new(&e.text), Terminated::new(&e.html))
            }
        };
        IssuedValue {
            token: Terminated::new(&i.token),
            code: Terminated::new(&i.code),
            recipient: Terminated::new(&i.recipient),
            sms_text,
            email_subject,
            email_text,
            email_html,
            expires_at: i.expires_at,
            resend_at: i.resend_at,
            channel: channel_value(i.channel) as u32,
        }
    }
}

impl Castable for PasscodeIssued {
    type RustType = IssuedValue;
}
impl BoxCastPtr for PasscodeIssued {}

/// Reads a field, or the empty string for NULL.
///
/// # Safety
/// `issued` is NULL or a live `PasscodeIssued`.
unsafe fn field(issued: *const PasscodeIssued, f: impl FnOnce(&IssuedValue) -> PasscodeStr) -> PasscodeStr {
    // SAFETY: per the contract.
    unsafe { try_from_ptr(issued) }.map_or_else(PasscodeStr::empty, f)
}

/// Frees an issued challenge and wipes its code. NULL is a no-op. Every view borrowed from
/// it becomes invalid.
///
/// # Safety
/// `issued` is NULL or from `passcode_issue`/`passcode_resend`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_free(issued: *mut PasscodeIssued) {
    ffi_panic_boundary! {
        // SAFETY: per the contract.
        unsafe { free_box(issued) }
    }
}

/// The opaque challenge token, for the host's session (ASCII). A resend returns the same token.
///
/// # Safety
/// `issued` is NULL or live; the view is valid until `passcode_issued_free`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_token(issued: *const PasscodeIssued) -> PasscodeStr {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.token.view()) } }
}

/// The code, for hosts that deliver messages themselves. Never log it.
///
/// # Safety
/// As `passcode_issued_token`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_code(issued: *const PasscodeIssued) -> PasscodeStr {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.code.view()) } }
}

/// The normalised address or number to deliver to.
///
/// # Safety
/// As `passcode_issued_token`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_recipient(issued: *const PasscodeIssued) -> PasscodeStr {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.recipient.view()) } }
}

/// The SMS text (the origin-bound line last when a domain is configured); empty for email.
///
/// # Safety
/// As `passcode_issued_token`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_sms_text(issued: *const PasscodeIssued) -> PasscodeStr {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.sms_text.view()) } }
}

/// The email's subject; empty for SMS.
///
/// # Safety
/// As `passcode_issued_token`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_email_subject(issued: *const PasscodeIssued) -> PasscodeStr {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.email_subject.view()) } }
}

/// The email's plain-text body; empty for SMS.
///
/// # Safety
/// As `passcode_issued_token`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_email_text(issued: *const PasscodeIssued) -> PasscodeStr {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.email_text.view()) } }
}

/// The email's HTML body; empty for SMS.
///
/// # Safety
/// As `passcode_issued_token`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_email_html(issued: *const PasscodeIssued) -> PasscodeStr {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.email_html.view()) } }
}

/// When the code expires (Unix seconds; refused from this second on); 0 for NULL.
///
/// # Safety
/// `issued` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_expires_at(issued: *const PasscodeIssued) -> u64 {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { try_from_ptr(issued) }.map_or(0, |i| i.expires_at) }
}

/// The earliest time a resend is allowed (Unix seconds); 0 for NULL.
///
/// # Safety
/// `issued` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_resend_at(issued: *const PasscodeIssued) -> u64 {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { try_from_ptr(issued) }.map_or(0, |i| i.resend_at) }
}

/// The channel (a `PasscodeChannel` value); 0 for NULL.
///
/// # Safety
/// `issued` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_channel(issued: *const PasscodeIssued) -> u32 {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { try_from_ptr(issued) }.map_or(0, |i| i.channel) }
}
