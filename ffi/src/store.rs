//! A store brought by the host as C callbacks: core's `Store` contract (single-key
//! compare-and-swap with expiry), one callback per method.

use std::os::raw::c_void;

use passcode_core::{Expected, Store, StoreError, StoreKey};

use crate::error::PasscodeStatus;
use crate::ffi::{lend_mut_ptr, try_from_mut_ptr, Castable, OwnershipRef, PASSCODE_MAX_TEXT_BYTES};
use crate::panic::ffi_panic_boundary;

/// The bytes of a store key (a keyed hash; never an address, number or code).
pub const PASSCODE_STORE_KEY_BYTES: usize = 32;

/// The most bytes of a record value a store callback may hand back.
pub const PASSCODE_MAX_RECORD_BYTES: usize = PASSCODE_MAX_TEXT_BYTES;

/// What a store callback reports.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasscodeStoreOutcome {
    /// Done (for `get`: whether or not a value was found).
    Ok = 0,
    /// `put` or `remove`: the key was not as expected; nothing was written.
    Conflict = 1,
    /// The store failed; the engine fails the operation closed (`PASSCODE_STATUS_STORE_UNAVAILABLE`).
    Failed = 2,
}

/// Where a `get` callback hands back what it found: lent to the callback, valid only during
/// it, never freed by the host. Fill it with `passcode_store_found_set`.
pub struct PasscodeStoreFound {
    _private: [u8; 0],
}

/// What a `get` callback found: the value and its version, or nothing.
pub(crate) struct Found(Option<(Vec<u8>, u64)>);

impl Castable for PasscodeStoreFound {
    type Ownership = OwnershipRef;
    type RustType = Found;
}

/// The store's `get` callback. Looks up `key` (`PASSCODE_STORE_KEY_BYTES` bytes) as of `now`
/// (Unix seconds). If it holds a live value, calls
/// `passcode_store_found_set(found, value, len, version)` once before returning
/// `PASSCODE_STORE_OUTCOME_OK`; if it is absent or expired, returns
/// `PASSCODE_STORE_OUTCOME_OK` without calling it. `PASSCODE_STORE_OUTCOME_FAILED` on failure.
pub type PasscodeStoreGetFn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, key: *const u8, now: u64, found: *mut PasscodeStoreFound) -> u32>;

/// The store's `put` callback. Writes `value_len` bytes at `value` under `key` if the key is
/// as expected: `expected_version` 0 means "absent or expired", anything else "holds this
/// version". `ttl_seconds` 0 means no expiry, otherwise the value expires `ttl_seconds` after
/// `now`. On success writes the new version to `*new_version` and returns
/// `PASSCODE_STORE_OUTCOME_OK`; returns `PASSCODE_STORE_OUTCOME_CONFLICT` if the key is not
/// as expected (writing nothing), `PASSCODE_STORE_OUTCOME_FAILED` on failure. `value` is
/// valid only during the call: copy it.
pub type PasscodeStorePutFn = Option<
    unsafe extern "C" fn(
        ctx: *mut c_void,
        key: *const u8,
        value: *const u8,
        value_len: usize,
        ttl_seconds: u64,
        expected_version: u64,
        now: u64,
        new_version: *mut u64,
    ) -> u32,
>;

/// The store's `remove` callback. Deletes `key` if it holds `version`:
/// `PASSCODE_STORE_OUTCOME_OK` if deleted, `PASSCODE_STORE_OUTCOME_CONFLICT` if it holds
/// another version or is gone, `PASSCODE_STORE_OUTCOME_FAILED` on failure. (Named `remove`,
/// as `delete` is a C++ keyword.)
pub type PasscodeStoreRemoveFn =
    Option<unsafe extern "C" fn(ctx: *mut c_void, key: *const u8, version: u64, now: u64) -> u32>;

/// A store written by the host: core's `Store` contract as callbacks. Every callback is
/// required. The engine calls them from whichever threads call the engine, concurrently: they
/// MUST be thread-safe, and each key's operations MUST be linearizable.
///
/// Keys are `PASSCODE_STORE_KEY_BYTES` (32) bytes. Versions are chosen by the store: never 0,
/// and never reused for a key, even after a delete or an expiry.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct PasscodeStore {
    /// Passed to every callback. Must stay valid until the engine is freed.
    pub ctx: *mut c_void,
    /// Looks up a key (see `PasscodeStoreGetFn`).
    pub get: PasscodeStoreGetFn,
    /// Writes a key if it is as expected (see `PasscodeStorePutFn`).
    pub put: PasscodeStorePutFn,
    /// Deletes a key if it holds a version (see `PasscodeStoreRemoveFn`).
    pub remove: PasscodeStoreRemoveFn,
}

/// Hands a found value back to the engine from inside a `get` callback. The bytes are copied.
///
/// Returns:
/// - `PASSCODE_STATUS_OK`;
/// - `PASSCODE_STATUS_NULL_PARAMETER` if `found` is NULL, or `value` is NULL with `len` > 0;
/// - `PASSCODE_STATUS_INPUT_TOO_LONG` if `len` > `PASSCODE_MAX_RECORD_BYTES`;
/// - `PASSCODE_STATUS_INVALID_ARGUMENT` if `version` is 0.
///
/// On failure nothing is recorded (the key then reads as absent).
///
/// # Safety
/// `found` is the pointer passed to the running `get` callback; `value` is NULL or valid for
/// reads of `len` bytes.
#[no_mangle]
pub unsafe extern "C" fn passcode_store_found_set(
    found: *mut PasscodeStoreFound,
    value: *const u8,
    len: usize,
    version: u64,
) -> PasscodeStatus {
    ffi_panic_boundary! {
        // SAFETY: `found` is NULL or the `Found` the engine lent to this `get` callback, used by
        // nobody else during the callback.
        let Some(found) = (unsafe { try_from_mut_ptr(found) }) else {
            return PasscodeStatus::NullParameter;
        };
        if value.is_null() && len > 0 {
            return PasscodeStatus::NullParameter;
        }
        if len > PASSCODE_MAX_RECORD_BYTES {
            return PasscodeStatus::InputTooLong;
        }
        if version == 0 {
            return PasscodeStatus::InvalidArgument;
        }
        let bytes = if len == 0 {
            Vec::new()
        } else {
            // SAFETY: `value` is not NULL and the caller promises `len` readable bytes.
            unsafe { std::slice::from_raw_parts(value, len) }.to_vec()
        };
        *found = Found(Some((bytes, version)));
        PasscodeStatus::Ok
    }
}

/// Core's `Store` over the host's callbacks: a `PasscodeStore` whose three callbacks are set.
pub(crate) struct CallbackStore(PasscodeStore);

// SAFETY: `PasscodeStore`'s documentation requires the callbacks and `ctx` to be usable from
// any thread, concurrently, until the engine is freed; the pointer itself is only passed back.
unsafe impl Send for CallbackStore {}
// SAFETY: as above.
unsafe impl Sync for CallbackStore {}

impl CallbackStore {
    /// The store, or `None` if a callback is missing.
    pub(crate) fn new(s: &PasscodeStore) -> Option<Self> {
        (s.get.is_some() && s.put.is_some() && s.remove.is_some()).then_some(CallbackStore(*s))
    }
}

fn failed(op: &str, outcome: u32) -> StoreError {
    StoreError(format!("the host store's {op} callback failed (outcome {outcome})"))
}

/// `new` checked that every callback is set; this is for the type system.
fn missing(op: &str) -> StoreError {
    StoreError(format!("the host store has no {op} callback"))
}

impl Store for CallbackStore {
    fn get(&self, key: &StoreKey, now: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        let get = self.0.get.ok_or_else(|| missing("get"))?;
        let mut found = Found(None);
        // SAFETY: the callback is the host's `get`, which the host promised is safe to call with
        // its ctx; `key` points to 32 readable bytes and `found` is lent to the callback (which
        // may fill it through passcode_store_found_set), both for the call's duration.
        let outcome = unsafe { get(self.0.ctx, key.as_ptr(), now, lend_mut_ptr::<PasscodeStoreFound>(&mut found)) };
        match outcome {
            0 => Ok(found.0),
            n => Err(failed("get", n)),
        }
    }

    fn put(
        &self,
        key: &StoreKey,
        value: &[u8],
        ttl_seconds: Option<u64>,
        expected: Expected,
        now: u64,
    ) -> Result<Option<u64>, StoreError> {
        let put = self.0.put.ok_or_else(|| missing("put"))?;
        let expected_version = match expected {
            Expected::Absent => 0,
            Expected::Version(0) => return Err(StoreError("the host store reported version 0".into())),
            Expected::Version(v) => v,
        };
        // 0 means "no expiry" to the callback; a real TTL of 0 would expire at once, as 1 does.
        let ttl = ttl_seconds.map_or(0, |t| t.max(1));
        let mut version = 0u64;
        // SAFETY: the host's `put` with its ctx; `key` is 32 readable bytes, `value` is
        // `value.len()` readable bytes, `version` is a live u64, all for the call's duration.
        let outcome = unsafe {
            put(self.0.ctx, key.as_ptr(), value.as_ptr(), value.len(), ttl, expected_version, now, &mut version)
        };
        match outcome {
            0 if version == 0 => Err(StoreError("the host store's put returned version 0".into())),
            0 => Ok(Some(version)),
            1 => Ok(None),
            n => Err(failed("put", n)),
        }
    }

    fn delete(&self, key: &StoreKey, version: u64, now: u64) -> Result<bool, StoreError> {
        let remove = self.0.remove.ok_or_else(|| missing("remove"))?;
        // SAFETY: the host's `remove` with its ctx; `key` is 32 readable bytes for the call.
        let outcome = unsafe { remove(self.0.ctx, key.as_ptr(), version, now) };
        match outcome {
            0 => Ok(true),
            1 => Ok(false),
            n => Err(failed("remove", n)),
        }
    }
}
