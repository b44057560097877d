//! Passcode as a WASI component: the `passcode:engine` world of `wit/`, exported by a
//! wit-bindgen guest over the core engine.
//!
//! The engine keeps its state in the host's imported `store` (single-key compare-and-swap
//! with expiry), reads its key ring through the imported `keys`, reads the time from
//! `wasi:clocks/wall-clock` and draws randomness from `wasi:random/random`, so the host
//! controls all four, and the component imports nothing else.
//!
//! That is why it is built for `wasm32-unknown-unknown` and made a component by
//! `passcode-componentize` (wit-component), not built for `wasm32-wasip2`: the wasip2 standard
//! library brings its own imports (the environment, the standard streams and terminal, the
//! filesystem and its preopens, a monotonic clock, an insecure seed), which a host that
//! implements this world as written could not satisfy. On wasm32-unknown-unknown the
//! standard library has no operating system to reach: the engine's every outside need is
//! one of the four imports.
//!
//! No input reaches a panic. In wasm a panic aborts (there is no unwinding, so
//! `catch_unwind` could not turn it into an error value): instead every input is checked by
//! core before use (lengths, identifiers, tokens, config), core's remaining `expect`s guard
//! invariants its own code establishes, and this crate converts values without indexing or
//! unwrapping. The host tests feed huge strings, garbage tokens and garbage configs and
//! check that each comes back as an `error`, never as a trap.
//!
//! No plain copy of a code stays in the component's memory: core keeps codes and messages in
//! buffers wiped when dropped, and the strings this crate hands to the canonical ABI (which
//! frees them after the host has read them) are wiped too, because every heap block of the
//! component is wiped when it is freed (the `wipe_on_free` module).
//!
//! `unsafe` is denied in this crate; the two exceptions are the module that wit-bindgen
//! generates (the canonical ABI glue is raw pointers by nature) and the allocator that wipes.
#![deny(unsafe_code)]
#![deny(missing_docs)]

use std::sync::Arc;

use passcode_core as core_engine;

/// The global allocator: the system's, but every block is wiped before it is freed (and a
/// block that moves on `realloc` is wiped where it was). The canonical ABI copies every
/// returned string (the code, the message) into memory it frees after the host has read it,
/// and wit-bindgen gives no hook there: wiping on free is the one place that sees them all.
#[allow(unsafe_code)]
mod wipe_on_free {
    use std::alloc::{GlobalAlloc, Layout, System};

    use zeroize::Zeroize;

    /// The allocator.
    pub struct WipeOnFree;

    // SAFETY: every method forwards to `System` with the caller's own layout; the only added
    // work is writing zeros to a block the caller still owns, just before it is freed.
    unsafe impl GlobalAlloc for WipeOnFree {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: the caller's contract is `GlobalAlloc::alloc`'s, which `System` meets.
            unsafe { System.alloc(layout) }
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as for `alloc`.
            unsafe { System.alloc_zeroed(layout) }
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: the caller's contract is `GlobalAlloc::dealloc`'s: a live block from this
            // allocator (that is, from `System`) with this layout.
            unsafe { wipe_then_free(ptr, layout, system_free) }
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: the caller promises `new_size`, rounded up to `layout.align()`, fits an
            // `isize` (GlobalAlloc::realloc's contract), so this layout is valid.
            let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
            // SAFETY: a fresh block for the new layout; moving by hand (instead of System's
            // realloc) lets the old block be wiped.
            let new = unsafe { System.alloc(new_layout) };
            if !new.is_null() {
                // SAFETY: both blocks are live, do not overlap, and hold at least this many bytes.
                unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
                // SAFETY: the old block is the caller's, from `System`, given up now that its
                // bytes moved.
                unsafe { wipe_then_free(ptr, layout, system_free) };
            }
            new
        }
    }

    /// Frees a block of `System`'s.
    ///
    /// # Safety
    /// As `GlobalAlloc::dealloc`.
    unsafe fn system_free(ptr: *mut u8, layout: Layout) {
        // SAFETY: per the contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    /// Wipes a block, then frees it with `free`.
    ///
    /// # Safety
    /// `ptr` is a live block of `layout.size()` bytes that the caller owns and gives up, and
    /// `free` may free it (as `GlobalAlloc::dealloc`).
    unsafe fn wipe_then_free(ptr: *mut u8, layout: Layout, free: unsafe fn(*mut u8, Layout)) {
        // SAFETY: per the contract, nobody else reads or writes the block. `zeroize` writes
        // with volatile stores, so the wipe is not removed as a dead store before the free.
        unsafe { std::slice::from_raw_parts_mut(ptr, layout.size()) }.zeroize();
        // SAFETY: per the contract.
        unsafe { free(ptr, layout) }
    }

    #[global_allocator]
    static GLOBAL: WipeOnFree = WipeOnFree;

    #[cfg(test)]
    mod tests {
        use super::*;

        /// A `free` that checks the block is all zeros before freeing it.
        unsafe fn free_if_wiped(ptr: *mut u8, layout: Layout) {
            // SAFETY: the block is still live here (freed just after).
            let bytes = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            assert!(bytes.iter().all(|b| *b == 0), "the block was freed with its contents");
            // SAFETY: from `System` with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }

        #[test]
        fn blocks_are_wiped_before_they_are_freed() {
            let layout = Layout::from_size_align(64, 8).unwrap();
            // SAFETY: a fresh block of 64 bytes, written within bounds, then given up once.
            unsafe {
                let p = System.alloc(layout);
                assert!(!p.is_null());
                std::ptr::copy_nonoverlapping(b"123456 is your code".as_ptr(), p, 19);
                wipe_then_free(p, layout, free_if_wiped);
            }
        }

        #[test]
        fn a_moved_block_keeps_its_bytes() {
            let layout = Layout::from_size_align(8, 1).unwrap();
            // SAFETY: the global allocator's own contract, followed: alloc, write, realloc, free.
            unsafe {
                let p = WipeOnFree.alloc(layout);
                std::ptr::copy_nonoverlapping(b"12345678".as_ptr(), p, 8);
                let q = WipeOnFree.realloc(p, layout, 4096);
                assert_eq!(std::slice::from_raw_parts(q, 8), b"12345678");
                WipeOnFree.dealloc(q, Layout::from_size_align(4096, 1).unwrap());
            }
        }
    }
}

/// The bindings wit-bindgen generates from `wit/`, and the export of [`Component`].
#[allow(unsafe_code, missing_docs, clippy::all)]
mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "passcode",
        generate_all,
    });

    use super::Component;
    export!(Component);
}

use bindings::exports::passcode::engine::engine::{Engine as EngineHandle, Guest, GuestEngine};
use bindings::passcode::engine::keys as host_keys;
use bindings::passcode::engine::store as host_store;
use bindings::passcode::engine::types::{
    Channel, ChannelPurpose, EmailMessage, Error, FieldReason, IssueRequest, Issued, KeyProblem, LimitScope, Message,
    Purpose, SendLimit, SmsMessage, TooLong, Verified, WrongCodeLocked,
};

/// The exported component.
pub struct Component;

/// One `engine` resource: a core engine on the host's store and WASI clock.
pub struct EngineResource(core_engine::Engine);

/// The core `Store` contract, forwarded to the host's imported `store` interface. A version
/// 0, which the WIT forbids, is the mark of a broken store: refused as a store failure, so the
/// engine fails closed instead of building on it.
struct HostStore;

/// The error for a store that answered with version 0.
fn version_zero(call: &str) -> core_engine::StoreError {
    core_engine::StoreError(format!("the host's store broke its contract: {call} returned version 0"))
}

impl core_engine::Store for HostStore {
    fn get(&self, key: &core_engine::StoreKey, now: u64) -> Result<Option<(Vec<u8>, u64)>, core_engine::StoreError> {
        match host_store::get(key, now).map_err(core_engine::StoreError)? {
            Some((_, 0)) => Err(version_zero("get")),
            found => Ok(found),
        }
    }

    fn put(
        &self,
        key: &core_engine::StoreKey,
        value: &[u8],
        ttl_seconds: Option<u64>,
        expected: core_engine::Expected,
        now: u64,
    ) -> Result<Option<u64>, core_engine::StoreError> {
        let expected = match expected {
            core_engine::Expected::Absent => None,
            core_engine::Expected::Version(v) => Some(v),
        };
        match host_store::put(key, value, ttl_seconds, expected, now).map_err(core_engine::StoreError)? {
            Some(0) => Err(version_zero("put")),
            written => Ok(written),
        }
    }

    fn delete(&self, key: &core_engine::StoreKey, version: u64, now: u64) -> Result<bool, core_engine::StoreError> {
        host_store::delete(key, version, now).map_err(core_engine::StoreError)
    }
}

/// The time, from the imported `wasi:clocks/wall-clock`: the host's clock, which a test host
/// moves at will.
struct WasiWallClock;

impl core_engine::Clock for WasiWallClock {
    fn now(&self) -> u64 {
        bindings::wasi::clocks::wall_clock::now().seconds
    }
}

/// Randomness from the imported `wasi:random/random`: the host's CSPRNG.
struct WasiRandom;

impl core_engine::Random for WasiRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), core_engine::Error> {
        let bytes = zeroize::Zeroizing::new(bindings::wasi::random::random::get_random_bytes(buf.len() as u64));
        // The host owes exactly `len` bytes; fewer is a broken source, not a short draw.
        if bytes.len() != buf.len() {
            return Err(core_engine::Error::RandomUnavailable);
        }
        buf.copy_from_slice(&bytes);
        Ok(())
    }
}

/// The ring's keys, read through the imported `keys` interface from where the config's
/// entries say they are: the host resolves each `file` or `env` name its own way.
struct HostKeys;

impl core_engine::KeyReader for HostKeys {
    fn read(&self, id: u8, location: core_engine::KeyLocation<'_>) -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
        let location = match location {
            core_engine::KeyLocation::File(path) => host_keys::KeyLocation::File(path.to_string()),
            core_engine::KeyLocation::Env(name) => host_keys::KeyLocation::Env(name.to_string()),
        };
        host_keys::read(id, &location).map(zeroize::Zeroizing::new)
    }
}

impl Guest for Component {
    type Engine = EngineResource;

    fn error_number(error: Error) -> u32 {
        number(&error)
    }

    fn error_name(error: Error) -> String {
        error_name_of(number(&error)).to_string()
    }

    fn version() -> String {
        env!("CARGO_PKG_VERSION").to_string()
    }
}

impl GuestEngine for EngineResource {
    fn open(config: String) -> Result<EngineHandle, Error> {
        let config = core_engine::Config::parse(&config).map_err(to_wit)?;
        // The store is always the imported one, whatever `store` says: that value is the
        // host's, to choose what backs the import (the WIT says so).
        let engine = core_engine::Engine::builder(config)
            .store(Arc::new(HostStore))
            .clock(Arc::new(WasiWallClock))
            .random(Arc::new(WasiRandom))
            .key_reader(Box::new(HostKeys))
            .build()
            .map_err(to_wit)?;
        Ok(EngineHandle::new(EngineResource(engine)))
    }

    fn issue(&self, request: IssueRequest) -> Result<Issued, Error> {
        self.0.issue(&request_in(&request)).map(issued_out).map_err(to_wit)
    }

    fn issue_for_account(&self, account: String, request: IssueRequest) -> Result<Issued, Error> {
        self.0.issue_for_account(&account, &request_in(&request)).map(issued_out).map_err(to_wit)
    }

    fn verify(&self, token: String, code: String) -> Result<Verified, Error> {
        // The typed code came in a plain string: wiped here, as every block is when freed.
        let code = zeroize::Zeroizing::new(code);
        self.0
            .verify(&token, &code)
            .map(|v| Verified {
                identifier: v.identifier,
                channel: channel_out(v.channel),
                purpose: purpose_out(v.purpose),
                account: v.account,
            })
            .map_err(to_wit)
    }

    fn resend(&self, token: String, client: Option<String>, locale: Option<String>) -> Result<Issued, Error> {
        self.0.resend(&token, client.as_deref(), locale.as_deref()).map(issued_out).map_err(to_wit)
    }

    fn cancel(&self, token: String) -> Result<(), Error> {
        self.0.cancel(&token).map_err(to_wit)
    }

    fn unlock(&self, channel: Channel, identifier: String) -> Result<(), Error> {
        self.0.unlock(channel_in(channel), &identifier).map_err(to_wit)
    }

    fn unlock_account(&self, account: String) -> Result<(), Error> {
        self.0.unlock_account(&account).map_err(to_wit)
    }
}

fn request_in(request: &IssueRequest) -> core_engine::IssueRequest<'_> {
    core_engine::IssueRequest {
        channel: channel_in(request.channel),
        identifier: &request.identifier,
        purpose: purpose_in(request.purpose),
        client: request.client.as_deref(),
        locale: request.locale.as_deref(),
    }
}

fn channel_in(c: Channel) -> core_engine::Channel {
    match c {
        Channel::Email => core_engine::Channel::Email,
        Channel::Sms => core_engine::Channel::Sms,
    }
}

fn channel_out(c: core_engine::Channel) -> Channel {
    match c {
        core_engine::Channel::Email => Channel::Email,
        core_engine::Channel::Sms => Channel::Sms,
    }
}

fn purpose_in(p: Purpose) -> core_engine::Purpose {
    match p {
        Purpose::SignUp => core_engine::Purpose::SignUp,
        Purpose::SignIn => core_engine::Purpose::SignIn,
        Purpose::SecondFactor => core_engine::Purpose::SecondFactor,
        Purpose::VerifyContact => core_engine::Purpose::VerifyContact,
        Purpose::Recovery => core_engine::Purpose::Recovery,
    }
}

fn purpose_out(p: core_engine::Purpose) -> Purpose {
    match p {
        core_engine::Purpose::SignUp => Purpose::SignUp,
        core_engine::Purpose::SignIn => Purpose::SignIn,
        core_engine::Purpose::SecondFactor => Purpose::SecondFactor,
        core_engine::Purpose::VerifyContact => Purpose::VerifyContact,
        core_engine::Purpose::Recovery => Purpose::Recovery,
    }
}

fn issued_out(i: core_engine::Issued) -> Issued {
    let message = match &i.message {
        core_engine::Message::Sms(s) => Message::Sms(SmsMessage { text: s.text.to_string(), segments: s.segments }),
        core_engine::Message::Email(e) => Message::Email(EmailMessage {
            subject: e.subject.to_string(),
            text: e.text.to_string(),
            html: e.html.to_string(),
        }),
    };
    Issued {
        token: i.token,
        code: i.code.to_string(),
        expires_at: i.expires_at,
        resend_at: i.resend_at,
        recipient: i.recipient,
        channel: channel_out(i.channel),
        purpose: purpose_out(i.purpose),
        subject: i.subject,
        message,
    }
}

/// Core's purpose name back to the WIT enum (core names every purpose it knows).
fn purpose_named(name: &str) -> Option<Purpose> {
    core_engine::Purpose::parse(name).ok().map(purpose_out)
}

/// Core's error as the WIT variant, case for case; an error newer than this crate becomes
/// `other` with its number and message.
fn to_wit(e: core_engine::Error) -> Error {
    use core_engine::Error as E;
    match e {
        E::InvalidEmail { reason } => Error::InvalidEmail(reason.to_string()),
        E::InvalidPhone { reason } => Error::InvalidPhone(reason.to_string()),
        E::InputTooLong { field, max } => Error::InputTooLong(TooLong { field: field.to_string(), max: max as u64 }),
        E::InvalidUtf8 { field } => Error::InvalidUtf8(field.to_string()),
        E::InvalidToken => Error::InvalidToken,
        E::ChannelNotAllowed { channel, purpose } => {
            match (core_engine::Channel::parse(channel), purpose_named(purpose)) {
                (Ok(c), Some(p)) => Error::ChannelNotAllowed(ChannelPurpose { channel: channel_out(c), purpose: p }),
                _ => Error::Other((1006, format!("the policy does not allow {channel} codes for {purpose}"))),
            }
        }
        E::InvalidClientAddress => Error::InvalidClientAddress,
        E::InvalidArgument { field } => Error::InvalidArgument(field.to_string()),
        E::ConfigSyntax { message } => Error::ConfigSyntax(message),
        E::UnknownConfigField { field } => Error::UnknownConfigField(field),
        E::PolicyOutOfBounds { field, reason } => Error::PolicyOutOfBounds(FieldReason { field: field.into(), reason }),
        E::WeakKey { id, reason } => Error::WeakKey(KeyProblem { id, reason: reason.to_string() }),
        E::KeyUnavailable { id, source } => {
            Error::KeyUnavailable(KeyProblem { id, reason: format!("could not be read from {source}") })
        }
        E::InvalidTemplate { template, reason } => Error::InvalidTemplate(FieldReason { field: template, reason }),
        E::WrongCode { attempts_left } => Error::WrongCode(attempts_left),
        E::Expired => Error::Expired,
        E::TooManyAttempts => Error::TooManyAttempts,
        E::SubjectLocked { retry_after } => Error::SubjectLocked(retry_after),
        E::NotFound => Error::NotFound,
        E::WrongCodeLocked { attempts_left, retry_after } => {
            Error::WrongCodeLocked(WrongCodeLocked { attempts_left, retry_after })
        }
        E::ResendTooSoon { retry_after } => Error::ResendTooSoon(retry_after),
        E::SendLimit { scope, retry_after } => Error::SendLimit(SendLimit {
            scope: match scope {
                core_engine::LimitScope::Subject => LimitScope::Subject,
                core_engine::LimitScope::Client => LimitScope::Client,
                core_engine::LimitScope::Country => LimitScope::Country,
                core_engine::LimitScope::Tenant => LimitScope::Tenant,
            },
            retry_after,
        }),
        E::DestinationBlocked => Error::DestinationBlocked,
        E::StoreUnavailable { message } => Error::StoreUnavailable(message),
        E::Contention => Error::Contention,
        E::CorruptRecord => Error::CorruptRecord,
        E::RandomUnavailable => Error::RandomUnavailable,
        E::ClockOutOfRange => Error::ClockOutOfRange,
        other => Error::Other((other.number(), other.to_string())),
    }
}

include!("error_number.rs");

define_error_number! {
    /// The stable number of each case (written once, in `error_number.rs`, for the guest and
    /// the wasmtime host).
    fn number(Error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use core_engine::Error as E;

    /// One core error per table row, in table order.
    fn every_core_error() -> Vec<E> {
        vec![
            E::InvalidEmail { reason: "r" },
            E::InvalidPhone { reason: "r" },
            E::InputTooLong { field: "f", max: 1 },
            E::InvalidUtf8 { field: "f" },
            E::InvalidToken,
            E::ChannelNotAllowed { channel: "email", purpose: "second-factor" },
            E::InvalidClientAddress,
            E::InvalidArgument { field: "f" },
            E::ConfigSyntax { message: "m".into() },
            E::UnknownConfigField { field: "f".into() },
            E::PolicyOutOfBounds { field: "f", reason: "r".into() },
            E::WeakKey { id: 1, reason: "r" },
            E::KeyUnavailable { id: 1, source: "s".into() },
            E::InvalidTemplate { template: "t".into(), reason: "r".into() },
            E::WrongCode { attempts_left: 2 },
            E::Expired,
            E::TooManyAttempts,
            E::SubjectLocked { retry_after: Some(5) },
            E::NotFound,
            E::WrongCodeLocked { attempts_left: 1, retry_after: None },
            E::ResendTooSoon { retry_after: 3 },
            E::SendLimit { scope: core_engine::LimitScope::Client, retry_after: 3 },
            E::DestinationBlocked,
            E::StoreUnavailable { message: "m".into() },
            E::Contention,
            E::CorruptRecord,
            E::RandomUnavailable,
            E::ClockOutOfRange,
        ]
    }

    #[test]
    fn every_core_error_maps_to_its_own_case_with_the_same_number() {
        let errors = every_core_error();
        assert_eq!(errors.len(), core_engine::ERROR_TABLE.len(), "one core error per table row");
        for (e, (n, name)) in errors.into_iter().zip(core_engine::ERROR_TABLE) {
            assert_eq!(e.number(), *n);
            let wit = to_wit(e);
            assert!(!matches!(wit, Error::Other(_)), "{name} has a case of its own");
            assert_eq!(number(&wit), *n, "{name}");
            assert_eq!(Component::error_name(wit), *name);
        }
    }

    #[test]
    fn payloads_survive_the_mapping() {
        assert!(matches!(to_wit(E::WrongCode { attempts_left: 4 }), Error::WrongCode(4)));
        assert!(matches!(to_wit(E::SubjectLocked { retry_after: None }), Error::SubjectLocked(None)));
        assert!(matches!(
            to_wit(E::SendLimit { scope: core_engine::LimitScope::Country, retry_after: 9 }),
            Error::SendLimit(SendLimit { scope: LimitScope::Country, retry_after: 9 })
        ));
        assert!(matches!(
            to_wit(E::ChannelNotAllowed { channel: "email", purpose: "second-factor" }),
            Error::ChannelNotAllowed(ChannelPurpose { channel: Channel::Email, purpose: Purpose::SecondFactor })
        ));
        assert_eq!(number(&Error::Other((7001, "future".into()))), 7001);
    }
}
