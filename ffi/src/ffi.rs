//! All raw-pointer plumbing of the C ABI lives here.
//!
//! Each C type declares, once, how C holds it ([`Castable::Ownership`]): as a `Box` (one
//! owner, freed by its `_free`), as an `Arc` (shared by every thread, freed when the last
//! reference goes), or as a borrowed reference lent to C for the length of one callback. A
//! type has exactly one ownership (a second `Castable` impl would not compile), and the cast
//! helpers accept only the types whose ownership allows them: only a `Box` type can be freed
//! with [`free_box`], only a type C never owns can be lent with [`lend_mut_ptr`]. The rest of
//! the crate turns pointers into references only through these functions and the
//! NULL-checking macros, so each `unsafe` assumption is stated once.

use std::os::raw::c_char;
use std::sync::Arc;

use crate::error::PasscodeStatus;

/// The most bytes of any text argument the C layer reads (except the config, which may be up
/// to 1 MiB). Longer input is refused with `PASSCODE_STATUS_INPUT_TOO_LONG` without being
/// read; shorter input reaches the engine, which applies its own, tighter limits.
pub const PASSCODE_MAX_TEXT_BYTES: usize = 65536;

/// The most bytes of an account id (`passcode_issue_for_account`), as core accepts.
pub const PASSCODE_MAX_ACCOUNT_BYTES: usize = 128;

/// The most bytes of config text (`passcode_engine_new`), as core accepts.
pub const PASSCODE_MAX_CONFIG_BYTES: usize = 1 << 20;

/// C holds a pointer made by `Box::into_raw`: one owner, who frees it with the type's `_free`.
pub(crate) struct OwnershipBox;

/// C holds a pointer made by `Arc::into_raw`: shared, each holder's `_free` drops one reference.
pub(crate) struct OwnershipArc;

/// C is lent a pointer to a value the library owns, valid only during the call or callback
/// that hands it out; C never frees it.
pub(crate) struct OwnershipRef;

/// One of the three ownerships above.
pub(crate) trait Ownership {}
impl Ownership for OwnershipBox {}
impl Ownership for OwnershipArc {}
impl Ownership for OwnershipRef {}

/// An ownership under which the holder of the pointer is the only user of the value while it
/// holds it (a `Box`, or a reference lent for one callback), so it may change the value.
pub(crate) trait Exclusive: Ownership {}
impl Exclusive for OwnershipBox {}
impl Exclusive for OwnershipRef {}

/// A C type, the Rust value behind its pointers, and how C holds that value.
pub(crate) trait Castable {
    /// How C holds the value: [`OwnershipBox`], [`OwnershipArc`] or [`OwnershipRef`].
    type Ownership: Ownership;
    /// The Rust type a pointer to the C type really points to.
    type RustType;
}

/// Hands `value` to C in a new `Box`.
pub(crate) fn to_boxed_mut_ptr<C: Castable<Ownership = OwnershipBox>>(value: C::RustType) -> *mut C {
    Box::into_raw(Box::new(value)).cast::<C>()
}

/// Hands one reference to the shared `value` to C.
pub(crate) fn to_arc_const_ptr<C: Castable<Ownership = OwnershipArc>>(value: Arc<C::RustType>) -> *const C {
    Arc::into_raw(value).cast::<C>()
}

/// Lends `value` to C as a pointer, for as long as the borrow lasts (one callback).
pub(crate) fn lend_mut_ptr<C: Castable<Ownership = OwnershipRef>>(value: &mut C::RustType) -> *mut C {
    (value as *mut C::RustType).cast::<C>()
}

/// The Rust value behind `ptr`, or `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or came from this module's `to_boxed_mut_ptr`, `to_arc_const_ptr` or
/// `lend_mut_ptr` for type `C` and is still live (not freed, the borrow not over); the value is
/// not changed during `'a`.
pub(crate) unsafe fn try_from_ptr<'a, C: Castable>(ptr: *const C) -> Option<&'a C::RustType> {
    // SAFETY: per the function's contract, a non-NULL `ptr` points to a live `C::RustType`
    // (Box::into_raw, Arc::into_raw and a lent reference all point at the value itself).
    unsafe { ptr.cast::<C::RustType>().as_ref() }
}

/// The Rust value behind `ptr`, to change, or `None` for NULL.
///
/// # Safety
/// As [`try_from_ptr`], and nothing else uses the value during `'a`.
pub(crate) unsafe fn try_from_mut_ptr<'a, C>(ptr: *mut C) -> Option<&'a mut C::RustType>
where
    C: Castable,
    C::Ownership: Exclusive,
{
    // SAFETY: per the function's contract, a non-NULL `ptr` is a live value nobody else uses.
    unsafe { ptr.cast::<C::RustType>().as_mut() }
}

/// Frees a `Box`-held value; NULL is a no-op.
///
/// # Safety
/// `ptr` is NULL or came from `to_boxed_mut_ptr` for type `C` and was not freed before.
pub(crate) unsafe fn free_box<C: Castable<Ownership = OwnershipBox>>(ptr: *mut C) {
    if !ptr.is_null() {
        // SAFETY: per the contract, `ptr` came from Box::into_raw of a `C::RustType` and is
        // freed here exactly once.
        drop(unsafe { Box::from_raw(ptr.cast::<C::RustType>()) });
    }
}

/// Drops one reference to an `Arc`-held value; NULL is a no-op.
///
/// # Safety
/// `ptr` is NULL or came from `to_arc_const_ptr` for type `C`, and this reference was not
/// dropped before.
pub(crate) unsafe fn free_arc<C: Castable<Ownership = OwnershipArc>>(ptr: *const C) {
    if !ptr.is_null() {
        // SAFETY: per the contract, `ptr` came from Arc::into_raw and this reference is
        // given back exactly once.
        drop(unsafe { Arc::from_raw(ptr.cast::<C::RustType>()) });
    }
}

/// Writes an out-parameter.
///
/// # Safety
/// `out` is not NULL and is valid for a write of one `T` (it may be uninitialised).
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) {
    // SAFETY: per the contract; `write` does not read or drop the old contents.
    unsafe { out.write(value) }
}

/// A required `const T *` argument: the reference, or return `PASSCODE_STATUS_NULL_PARAMETER`.
macro_rules! try_ref {
    ($ptr:expr) => {
        // SAFETY: every exported function documents that its handle arguments are NULL or live
        // handles of this library, as `try_from_ptr` requires.
        match unsafe { $crate::ffi::try_from_ptr($ptr) } {
            Some(r) => r,
            None => return $crate::error::PasscodeStatus::NullParameter.into(),
        }
    };
}

/// A required out-pointer: the pointer, or return `PASSCODE_STATUS_NULL_PARAMETER`.
macro_rules! try_out {
    ($ptr:expr) => {{
        let p = $ptr;
        if p.is_null() {
            return $crate::error::PasscodeStatus::NullParameter.into();
        }
        p
    }};
}

/// A required text argument `(ptr, len)`: the `&str`, or return its status.
macro_rules! try_text {
    ($ptr:expr, $len:expr, $max:expr) => {
        // SAFETY: every exported function documents that a text argument's pointer is NULL or
        // valid for reads of `len` bytes for the duration of the call.
        match unsafe { $crate::ffi::text($ptr, $len, $max) } {
            Ok(Some(s)) => s,
            Ok(None) => return $crate::error::PasscodeStatus::NullParameter.into(),
            Err(status) => return status.into(),
        }
    };
}

/// An optional text argument: `None` when `ptr` is NULL and `len` is 0.
macro_rules! try_optional_text {
    ($ptr:expr, $len:expr, $max:expr) => {
        // SAFETY: as in `try_text!`.
        match unsafe { $crate::ffi::text($ptr, $len, $max) } {
            Ok(s) => s,
            Err(status) => return status.into(),
        }
    };
}

pub(crate) use {try_optional_text, try_out, try_ref, try_text};

/// Reads a text argument: `Ok(None)` for (NULL, 0), the checked `&str` otherwise.
/// NULL with a length is `NULL_PARAMETER`; more than `max` bytes is `INPUT_TOO_LONG` (not
/// read); bytes that are not UTF-8 are `INVALID_UTF8`.
///
/// # Safety
/// `ptr` is NULL or valid for reads of `len` bytes that are not written during `'a`.
pub(crate) unsafe fn text<'a>(ptr: *const c_char, len: usize, max: usize) -> Result<Option<&'a str>, PasscodeStatus> {
    if ptr.is_null() {
        return if len == 0 { Ok(None) } else { Err(PasscodeStatus::NullParameter) };
    }
    if len > max {
        return Err(PasscodeStatus::InputTooLong);
    }
    // SAFETY: `ptr` is not NULL, `len` <= max fits in isize, and the caller promises `len`
    // readable bytes that stay unchanged for 'a.
    let bytes = unsafe { std::slice::from_raw_parts(ptr.cast::<u8>(), len) };
    // Tokens, codes and most identifiers are ASCII, which is checked a word at a time and is
    // UTF-8 as it is; anything else gets the full UTF-8 check.
    if bytes.is_ascii() {
        // SAFETY: ASCII bytes are UTF-8.
        return Ok(Some(unsafe { std::str::from_utf8_unchecked(bytes) }));
    }
    std::str::from_utf8(bytes).map(Some).map_err(|_| PasscodeStatus::InvalidUtf8)
}
