//! Text handed out to C: `PasscodeStr` views, and the NUL-terminated buffers they borrow.

use std::marker::PhantomData;
use std::os::raw::c_char;

/// A borrowed view of UTF-8 text owned by the library: `len` bytes at `data`, followed by a
/// NUL byte (so `data` is also a C string when the text has no NUL inside). Each function that
/// returns one says how long it stays valid. `data` is never NULL.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PasscodeStr<'a> {
    /// The first byte.
    pub data: *const c_char,
    /// The length in bytes, not counting the NUL terminator.
    pub len: usize,
    /// For Rust: the view borrows its text for `'a` and cannot be kept past it. (Zero-sized:
    /// C sees only the pointer and the length.)
    borrowed: PhantomData<&'a str>,
}

impl<'a> PasscodeStr<'a> {
    /// The empty string (a static "", so it lives as long as any borrow).
    pub(crate) fn empty() -> Self {
        PasscodeStr::of_terminated(b"\0")
    }

    /// A view of UTF-8 `bytes`, whose last byte is the NUL terminator.
    pub(crate) fn of_terminated(bytes: &'a [u8]) -> Self {
        debug_assert_eq!(bytes.last(), Some(&0));
        PasscodeStr { data: bytes.as_ptr().cast::<c_char>(), len: bytes.len().saturating_sub(1), borrowed: PhantomData }
    }

    /// The text, for Rust callers (tests), borrowed for as long as the view.
    ///
    /// # Safety
    /// `data` and `len` are as the library made them (the fields are public for C, and Rust
    /// code could change them).
    pub unsafe fn as_str(&self) -> &'a str {
        // SAFETY: the library made this view from UTF-8 text of `len` bytes that lives for 'a;
        // the caller promises the fields were not changed since.
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

    /// The text without its NUL.
    pub(crate) fn as_str(&self) -> &str {
        let bytes = self.0.split_last().map_or(&[][..], |(_, text)| text);
        // SAFETY: built only by `new` from a `&str` (and `Default`, empty), so the bytes before
        // the NUL are that UTF-8 text: no need to check it a second time.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    pub(crate) fn view(&self) -> PasscodeStr<'_> {
        if self.0.is_empty() {
            PasscodeStr::empty()
        } else {
            PasscodeStr::of_terminated(&self.0)
        }
    }
}
