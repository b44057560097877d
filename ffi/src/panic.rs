//! The panic boundary: no unwinding crosses into C.
//!
//! Every exported function runs its body inside [`ffi_panic_boundary!`]. A panic is caught and
//! turned into the documented answer of that function's return type: `PASSCODE_STATUS_PANIC`
//! for a status, 0 for a number, an empty string view, or nothing for `void`.

use crate::error::PasscodeStatus;
use crate::view::PasscodeStr;

/// What an exported function returns when its body panicked.
pub(crate) trait PanicOrDefault {
    fn value() -> Self;
}

impl PanicOrDefault for PasscodeStatus {
    fn value() -> Self {
        PasscodeStatus::Panic
    }
}

impl PanicOrDefault for () {
    fn value() -> Self {}
}

impl PanicOrDefault for u32 {
    fn value() -> Self {
        0
    }
}

impl PanicOrDefault for u64 {
    fn value() -> Self {
        0
    }
}

impl PanicOrDefault for PasscodeStr<'_> {
    fn value() -> Self {
        PasscodeStr::empty()
    }
}

/// Runs the body, catching any panic and returning the return type's panic value instead.
/// `return` inside the body returns from the boundary's closure, so `?`-style early returns
/// in the body behave as in the function itself.
macro_rules! ffi_panic_boundary {
    ( $($body:tt)* ) => {
        match ::std::panic::catch_unwind(::std::panic::AssertUnwindSafe(|| { $($body)* })) {
            Ok(value) => value,
            Err(_) => $crate::panic::PanicOrDefault::value(),
        }
    };
}

pub(crate) use ffi_panic_boundary;

#[cfg(test)]
mod tests {
    use super::*;

    fn panics_with_status() -> PasscodeStatus {
        ffi_panic_boundary! {
            if std::hint::black_box(true) {
                panic!("a bug");
            }
            PasscodeStatus::Ok
        }
    }

    fn panics_with_view() -> PasscodeStr<'static> {
        ffi_panic_boundary! {
            if std::hint::black_box(true) {
                panic!("a bug");
            }
            PasscodeStr::empty()
        }
    }

    #[test]
    fn a_panic_becomes_the_documented_value() {
        assert_eq!(panics_with_status(), PasscodeStatus::Panic);
        let v = panics_with_view();
        assert_eq!(v.len, 0);
        assert!(!v.data.is_null());
    }
}
