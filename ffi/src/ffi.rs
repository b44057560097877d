//! All raw-pointer plumbing of the C ABI lives here.
//!
//! Each C type declares how C holds it ([`Castable`]): as a `Box` (one owner, freed by its
//! `_free`), or as an `Arc` (the engine: shared by every thread, freed when the last
//! reference goes). The rest of the crate turns pointers into references only through these
//! functions and the NULL-checking macros, so each `unsafe` assumption is stated once.

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

/// A C type and the Rust value behind its pointers.
pub(crate) trait Castable {
    /// The Rust type a pointer to the C type really points to.
    type RustType;
}

/// C holds this type as a `Box<RustType>`: created by the library, freed by its `_free`.
pub(crate) trait BoxCastPtr: Castable + Sized {
    fn to_mut_ptr(value: Self::RustType) -> *mut Self {
        Box::into_raw(Box::new(value)).cast::<Self>()
    }
}

/// C holds this type as an `Arc<RustType>` (from `Arc::into_raw`).
pub(crate) trait ArcCastPtr: Castable + Sized {
    fn to_const_ptr(value: Arc<Self::RustType>) -> *const Self {
        Arc::into_raw(value).cast::<Self>()
    }
}

/// The Rust value behind `ptr`, or `None` for NULL.
///
/// # Safety
/// `ptr` is NULL or came from this library's `to_mut_ptr`/`to_const_ptr` for type `C` and has
/// not been freed; the value is not mutated for `'a`.
pub(crate) unsafe fn try_from_ptr<'a, C: Castable>(ptr: *const C) -> Option<&'a C::RustType> {
    // SAFETY: per the function's contract, a non-NULL `ptr` points to a live `C::RustType`
    // (Box::into_raw and Arc::into_raw both point at the value itself).
    unsafe { ptr.cast::<C::RustType>().as_ref() }
}

/// The mutable Rust value behind `ptr`, or `None` for NULL.
///
/// # Safety
/// As [`try_from_ptr`], for a `Box`-held type, and nothing else uses the value for `'a`.
pub(crate) unsafe fn try_from_mut_ptr<'a, C: BoxCastPtr>(ptr: *mut C) -> Option<&'a mut C::RustType> {
    // SAFETY: per the function's contract, a non-NULL `ptr` is a live, unaliased Box value.
    unsafe { ptr.cast::<C::RustType>().as_mut() }
}

/// Frees a `Box`-held value; NULL is a no-op.
///
/// # Safety
/// `ptr` is NULL or came from `to_mut_ptr` for type `C` and was not freed before.
pub(crate) unsafe fn free_box<C: BoxCastPtr>(ptr: *mut C) {
    if !ptr.is_null() {
        // SAFETY: per the contract, `ptr` came from Box::into_raw of a `C::RustType` and is
        // freed here exactly once.
        drop(unsafe { Box::from_raw(ptr.cast::<C::RustType>()) });
    }
}

/// Drops one reference to an `Arc`-held value; NULL is a no-op.
///
/// # Safety
/// `ptr` is NULL or came from `to_const_ptr` for type `C`, and this reference was not dropped before.
pub(crate) unsafe fn free_arc<C: ArcCastPtr>(ptr: *const C) {
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
    std::str::from_utf8(bytes).map(Some).map_err(|_| PasscodeStatus::InvalidUtf8)
}

/// A borrowed view of UTF-8 text owned by the library: `len` bytes at `data`, followed by a
/// NUL byte (so `data` is also a C string when the text has no NUL inside). Each function that
/// returns one says how long it stays valid. `data` is never NULL.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PasscodeStr {
    /// The first byte.
    pub data: *const c_char,
    /// The length in bytes, not counting the NUL terminator.
    pub len: usize,
}

impl PasscodeStr {
    /// The empty string (a static "").
    pub(crate) fn empty() -> Self {
        PasscodeStr { data: c"".as_ptr(), len: 0 }
    }

    /// A view of `bytes`, whose last byte must be the NUL terminator.
    pub(crate) fn of_terminated(bytes: &[u8]) -> Self {
        debug_assert_eq!(bytes.last(), Some(&0));
        PasscodeStr { data: bytes.as_ptr().cast::<c_char>(), len: bytes.len().saturating_sub(1) }
    }

    /// The text, for Rust callers (tests).
    ///
    /// # Safety
    /// The view is still valid (see the function that returned it).
    pub unsafe fn as_str<'a>(&self) -> &'a str {
        // SAFETY: the library made this view from a live, UTF-8 string of `len` bytes; the
        // caller promises it is still alive.
        unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(self.data.cast::<u8>(), self.len)) }
    }
}

/// UTF-8 text kept with a NUL terminator, for `PasscodeStr` views. Wiped when dropped (the
/// code and the messages are some of these); `Debug` shows only the length.
#[derive(Clone, Default)]
pub(crate) struct Terminated(zeroize::Zeroizing<Vec<u8>>);

impl std::fmt::Debug for Terminated {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Terminated({} bytes)", self.0.len())
    }
}

impl Terminated {
    pub(crate) fn new(text: &str) -> Self {
        let mut v = Vec::with_capacity(text.len() + 1);
        v.extend_from_slice(text.as_bytes());
        v.push(0);
        Terminated(zeroize::Zeroizing::new(v))
    }

    /// Takes the string's buffer (no copy unless it must grow for the NUL).
    pub(crate) fn from_string(text: String) -> Self {
        let mut v = text.into_bytes();
        v.push(0);
        Terminated(zeroize::Zeroizing::new(v))
    }

    /// The text without its NUL.
    pub(crate) fn as_str(&self) -> &str {
        let bytes = self.0.split_last().map_or(&[][..], |(_, text)| text);
        // Built only from `&str` and `String`, so the bytes before the NUL are UTF-8.
        std::str::from_utf8(bytes).unwrap_or_default()
    }

    pub(crate) fn view(&self) -> PasscodeStr {
        if self.0.is_empty() {
            PasscodeStr::empty()
        } else {
            PasscodeStr::of_terminated(&self.0)
        }
    }
}
