//! A clock brought by the host as a C callback (a server's own time, with its test offsets).

use std::os::raw::c_void;

use passcode_core::Clock;

/// The clock's `now` callback: the current time in Unix seconds. Called from whichever
/// threads call the engine, concurrently: it MUST be thread-safe.
pub type PasscodeClockNowFn = Option<unsafe extern "C" fn(ctx: *mut c_void) -> u64>;

/// The host's clock. `now` is required when the struct is passed.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PasscodeClock {
    /// Passed to `now`. Must stay valid until the engine is freed.
    pub ctx: *mut c_void,
    /// The current time (see `PasscodeClockNowFn`).
    pub now: PasscodeClockNowFn,
}

/// Core's `Clock` over the host's callback.
pub(crate) struct CallbackClock {
    ctx: *mut c_void,
    now: unsafe extern "C" fn(*mut c_void) -> u64,
}

// SAFETY: `PasscodeClock`'s documentation requires `now` and `ctx` to be usable from any
// thread, concurrently, until the engine is freed.
unsafe impl Send for CallbackClock {}
// SAFETY: as above.
unsafe impl Sync for CallbackClock {}

impl CallbackClock {
    /// The clock, or `None` if the callback is missing.
    pub(crate) fn new(c: &PasscodeClock) -> Option<Self> {
        Some(CallbackClock { ctx: c.ctx, now: c.now? })
    }
}

impl Clock for CallbackClock {
    fn now(&self) -> u64 {
        // SAFETY: the host's callback with its own ctx, as it promised is safe from any thread.
        unsafe { (self.now)(self.ctx) }
    }
}
