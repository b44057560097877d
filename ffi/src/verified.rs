//! `PasscodeVerified`: who a verified code was sent to and what for.
//!
//! Views are borrowed from the `PasscodeVerified`: valid until `passcode_verified_free`,
//! NUL-terminated, UTF-8. A NULL `verified` gives the empty string (or 0). Immutable: it may
//! be read from several threads at once.

use passcode_core::Verified;
use zeroize::Zeroizing;

use crate::engine::{channel_value, purpose_value};
use crate::ffi::{free_box, try_from_ptr, Castable, OwnershipBox};
use crate::panic::ffi_panic_boundary;
use crate::view::PasscodeStr;

/// A verified code. Opaque; owned by the caller; freed with `passcode_verified_free`.
pub struct PasscodeVerified {
    _private: [u8; 0],
}

pub(crate) struct VerifiedValue {
    /// The identifier, its NUL, the account (empty for none) and its NUL: one buffer of
    /// exactly that size, so the answer costs one allocation besides its box (verify is the hot
    /// path) and its wipe covers only those bytes.
    text: Zeroizing<Vec<u8>>,
    /// Where the account starts in `text`.
    account_at: usize,
    channel: u32,
    purpose: u32,
}

impl VerifiedValue {
    pub(crate) fn new(v: Verified) -> Self {
        let account = v.account.as_deref().unwrap_or("");
        let mut text = Vec::with_capacity(v.identifier.len() + account.len() + 2);
        text.extend_from_slice(v.identifier.as_bytes());
        text.push(0);
        let account_at = text.len();
        text.extend_from_slice(account.as_bytes());
        text.push(0);
        VerifiedValue {
            text: Zeroizing::new(text),
            account_at,
            channel: channel_value(v.channel) as u32,
            purpose: purpose_value(v.purpose) as u32,
        }
    }

    fn identifier(&self) -> PasscodeStr<'_> {
        PasscodeStr::of_terminated(&self.text[..self.account_at])
    }

    fn account(&self) -> PasscodeStr<'_> {
        PasscodeStr::of_terminated(&self.text[self.account_at..])
    }
}

impl Castable for PasscodeVerified {
    type Ownership = OwnershipBox;
    type RustType = VerifiedValue;
}

/// Frees a verified result. NULL is a no-op.
///
/// # Safety
/// `verified` is NULL or from `passcode_verify`, not freed before.
#[no_mangle]
pub unsafe extern "C" fn passcode_verified_free(verified: *mut PasscodeVerified) {
    ffi_panic_boundary! {
        // SAFETY: per the contract.
        unsafe { free_box(verified) }
    }
}

/// The normalised address or number the code was sent to.
///
/// # Safety
/// `verified` is NULL or live; the view is valid until `passcode_verified_free`.
#[no_mangle]
pub unsafe extern "C" fn passcode_verified_identifier<'a>(verified: *const PasscodeVerified) -> PasscodeStr<'a> {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { try_from_ptr(verified) }.map_or_else(PasscodeStr::empty, VerifiedValue::identifier) }
}

/// The host's account id the code was issued for (`passcode_issue_for_account`); the empty
/// string for a code issued with `passcode_issue`, and for NULL. Check it is the account the
/// session signs in to.
///
/// # Safety
/// `verified` is NULL or live; the view is valid until `passcode_verified_free`.
#[no_mangle]
pub unsafe extern "C" fn passcode_verified_account<'a>(verified: *const PasscodeVerified) -> PasscodeStr<'a> {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { try_from_ptr(verified) }.map_or_else(PasscodeStr::empty, VerifiedValue::account) }
}

/// The channel (a `PasscodeChannel` value); 0 for NULL.
///
/// # Safety
/// `verified` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn passcode_verified_channel(verified: *const PasscodeVerified) -> u32 {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { try_from_ptr(verified) }.map_or(0, |v| v.channel) }
}

/// The purpose (a `PasscodePurpose` value); 0 for NULL.
///
/// # Safety
/// `verified` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn passcode_verified_purpose(verified: *const PasscodeVerified) -> u32 {
    // SAFETY: per the contract.
    ffi_panic_boundary! { unsafe { try_from_ptr(verified) }.map_or(0, |v| v.purpose) }
}
