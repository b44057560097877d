//! `PasscodeIssued`: a code issued or re-sent, read through accessors.
//!
//! Every string accessor returns a `PasscodeStr` view borrowed from the `PasscodeIssued`:
//! valid until `passcode_issued_free`, NUL-terminated, UTF-8. A NULL `issued` gives the empty
//! string (or 0). A `PasscodeIssued` is immutable: it may be read from several threads at once.

use passcode_core::{Channel, Issued, Message, Purpose};
use passcode_delivery::{Content, Outgoing};
use zeroize::Zeroizing;

use crate::engine::{channel_value, purpose_value};
use crate::ffi::{free_box, try_from_ptr, Castable, OwnershipBox};
use crate::panic::ffi_panic_boundary;
use crate::view::{PasscodeStr, Terminated};

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
    subject: Terminated,
    expires_at: u64,
    resend_at: u64,
    channel: Channel,
    purpose: Purpose,
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
            subject: Terminated::new(&i.subject),
            expires_at: i.expires_at,
            resend_at: i.resend_at,
            channel: i.channel,
            purpose: i.purpose,
        }
    }

    /// The message for delivery, copied (the copies are wiped when it is dropped).
    pub(crate) fn outgoing(&self) -> Outgoing {
        let text = |t: &Terminated| Zeroizing::new(t.as_str().to_string());
        let content = match self.channel {
            Channel::Sms => Content::Sms { text: text(&self.sms_text) },
            Channel::Email => Content::Email {
                subject: text(&self.email_subject),
                text: text(&self.email_text),
                html: text(&self.email_html),
            },
        };
        Outgoing::new(self.purpose, self.subject.as_str(), self.recipient.as_str(), content, self.code.as_str())
    }
}

impl Castable for PasscodeIssued {
    type Ownership = OwnershipBox;
    type RustType = IssuedValue;
}

/// Reads a field, or the empty string for NULL.
///
/// # Safety
/// `issued` is NULL or a live `PasscodeIssued`.
unsafe fn field<'a>(
    issued: *const PasscodeIssued,
    f: impl FnOnce(&'a IssuedValue) -> PasscodeStr<'a>,
) -> PasscodeStr<'a> {
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
pub unsafe extern "C" fn passcode_issued_token<'a>(issued: *const PasscodeIssued) -> PasscodeStr<'a> {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.token.view()) } }
}

/// The code, for hosts that deliver messages themselves. Never log it.
///
/// # Safety
/// As `passcode_issued_token`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_code<'a>(issued: *const PasscodeIssued) -> PasscodeStr<'a> {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.code.view()) } }
}

/// The normalised address or number to deliver to.
///
/// # Safety
/// As `passcode_issued_token`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_recipient<'a>(issued: *const PasscodeIssued) -> PasscodeStr<'a> {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.recipient.view()) } }
}

/// The SMS text (the origin-bound line last when a domain is configured); empty for email.
///
/// # Safety
/// As `passcode_issued_token`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_sms_text<'a>(issued: *const PasscodeIssued) -> PasscodeStr<'a> {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.sms_text.view()) } }
}

/// The email's subject; empty for SMS.
///
/// # Safety
/// As `passcode_issued_token`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_email_subject<'a>(issued: *const PasscodeIssued) -> PasscodeStr<'a> {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.email_subject.view()) } }
}

/// The email's plain-text body; empty for SMS.
///
/// # Safety
/// As `passcode_issued_token`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_email_text<'a>(issued: *const PasscodeIssued) -> PasscodeStr<'a> {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.email_text.view()) } }
}

/// The email's HTML body; empty for SMS.
///
/// # Safety
/// As `passcode_issued_token`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_email_html<'a>(issued: *const PasscodeIssued) -> PasscodeStr<'a> {
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
    ffi_panic_boundary! { unsafe { try_from_ptr(issued) }.map_or(0, |i| channel_value(i.channel) as u32) }
}

/// The purpose (a `PasscodePurpose` value); 0 for NULL.
///
/// # Safety
/// `issued` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_purpose(issued: *const PasscodeIssued) -> u32 {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { try_from_ptr(issued) }.map_or(0, |i| purpose_value(i.purpose) as u32) }
}

/// The subject's pseudonym (16 lowercase hex digits, as in events): for the host's own
/// delivery logs, which must not carry the recipient.
///
/// # Safety
/// As `passcode_issued_token`.
#[no_mangle]
pub unsafe extern "C" fn passcode_issued_subject<'a>(issued: *const PasscodeIssued) -> PasscodeStr<'a> {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { field(issued, |i| i.subject.view()) } }
}
