//! The scenario vectors of tests/vectors through the exported C functions, with the clock
//! brought through the clock callback: the same outcomes as core.

#![deny(clippy::undocumented_unsafe_blocks)]

use std::os::raw::{c_char, c_void};
use std::ptr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use passcode::*;
use passcode_core::{Expected, MemoryStore, Store, ERROR_TABLE};
use passcode_vectors::{Failure, IssuedInfo, Surface, VerifiedInfo};

unsafe extern "C" fn clock_now(ctx: *mut c_void) -> u64 {
    // SAFETY: ctx is the AtomicU64 the surface keeps alive while the engine lives.
    unsafe { &*(ctx as *const AtomicU64) }.load(Ordering::SeqCst)
}

struct CAbi {
    engine: *const PasscodeEngine,
    clock: Box<AtomicU64>,
    /// When set, the engine's store is this memory store behind the C store callbacks, and
    /// its events go to `events` through the event callback.
    host: Option<Box<Host>>,
}

#[derive(Default)]
struct Host {
    store: MemoryStore,
    events: Mutex<Vec<(u32, String)>>,
}

unsafe extern "C" fn host_get(ctx: *mut c_void, key: *const u8, now: u64, found: *mut PasscodeStoreFound) -> u32 {
    // SAFETY: ctx is the Host kept alive by the surface; key is 32 bytes during the call.
    let (host, key) = unsafe { (&*(ctx as *const Host), &*(key as *const [u8; 32])) };
    match host.store.get(key, now) {
        Ok(Some((value, version))) => {
            // SAFETY: `found` is the engine's, valid during this callback.
            let s = unsafe { passcode_store_found_set(found, value.as_ptr().cast(), value.len(), version) };
            assert_eq!(s, PasscodeStatus::Ok);
            PasscodeStoreOutcome::Ok as u32
        }
        Ok(None) => PasscodeStoreOutcome::Ok as u32,
        Err(_) => PasscodeStoreOutcome::Failed as u32,
    }
}

#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn host_put(
    ctx: *mut c_void,
    key: *const u8,
    value: *const u8,
    len: usize,
    ttl: u64,
    expected: u64,
    now: u64,
    new_version: *mut u64,
) -> u32 {
    // SAFETY: as in host_get; value is `len` bytes and new_version writable during the call.
    let (host, key, value) =
        unsafe { (&*(ctx as *const Host), &*(key as *const [u8; 32]), std::slice::from_raw_parts(value, len)) };
    let expected = if expected == 0 { Expected::Absent } else { Expected::Version(expected) };
    let ttl = (ttl != 0).then_some(ttl);
    match host.store.put(key, value, ttl, expected, now) {
        Ok(Some(v)) => {
            // SAFETY: writable during the call.
            unsafe { *new_version = v };
            PasscodeStoreOutcome::Ok as u32
        }
        Ok(None) => PasscodeStoreOutcome::Conflict as u32,
        Err(_) => PasscodeStoreOutcome::Failed as u32,
    }
}

unsafe extern "C" fn host_remove(ctx: *mut c_void, key: *const u8, version: u64, now: u64) -> u32 {
    // SAFETY: as in host_get.
    let (host, key) = unsafe { (&*(ctx as *const Host), &*(key as *const [u8; 32])) };
    match host.store.delete(key, version, now) {
        Ok(true) => PasscodeStoreOutcome::Ok as u32,
        Ok(false) => PasscodeStoreOutcome::Conflict as u32,
        Err(_) => PasscodeStoreOutcome::Failed as u32,
    }
}

unsafe extern "C" fn host_emit(ctx: *mut c_void, event: *const PasscodeEvent) {
    // SAFETY: ctx is the Host; the event and its subject live during the call.
    let (host, e) = unsafe { (&*(ctx as *const Host), &*event) };
    // SAFETY: subject is subject_len bytes of ASCII hex.
    let subject =
        unsafe { std::str::from_utf8_unchecked(std::slice::from_raw_parts(e.subject.cast::<u8>(), e.subject_len)) };
    host.events.lock().unwrap().push((e.kind as u32, subject.to_string()));
}

impl Drop for CAbi {
    fn drop(&mut self) {
        // SAFETY: our engine (or NULL), freed once.
        unsafe { passcode_engine_free(self.engine) };
    }
}

fn failure(status: PasscodeStatus, f: &PasscodeFailure) -> Failure {
    assert_eq!(f.status, status, "the failure struct carries the returned status");
    Failure {
        number: status as u32,
        attempts_left: f.has_attempts_left.then_some(f.attempts_left),
        retry_after: f.has_retry_after.then_some(f.retry_after),
    }
}

fn plain(status: PasscodeStatus) -> Failure {
    Failure { number: status as u32, attempts_left: None, retry_after: None }
}

fn opt(s: Option<&str>) -> (*const c_char, usize) {
    s.map_or((ptr::null(), 0), |s| (s.as_ptr().cast(), s.len()))
}

fn channel(name: &str) -> u32 {
    match name {
        "email" => PasscodeChannel::Email as u32,
        "sms" => PasscodeChannel::Sms as u32,
        _ => 99,
    }
}

fn purpose(name: &str) -> u32 {
    match name {
        "sign-up" => PasscodePurpose::SignUp as u32,
        "sign-in" => PasscodePurpose::SignIn as u32,
        "second-factor" => PasscodePurpose::SecondFactor as u32,
        "verify-contact" => PasscodePurpose::VerifyContact as u32,
        "recovery" => PasscodePurpose::Recovery as u32,
        _ => 99,
    }
}

/// Reads an issued challenge and frees it.
///
/// # Safety
/// `i` is a live PasscodeIssued.
unsafe fn take_issued(i: *mut PasscodeIssued) -> IssuedInfo {
    // SAFETY: `i` is live until the free below; the views are copied before it.
    unsafe {
        let sms = passcode_issued_sms_text(i).as_str().to_string();
        let email = passcode_issued_email_text(i).as_str().to_string();
        let info = IssuedInfo {
            token: passcode_issued_token(i).as_str().to_string(),
            code: passcode_issued_code(i).as_str().to_string(),
            expires_at: passcode_issued_expires_at(i),
            resend_at: passcode_issued_resend_at(i),
            message_text: if passcode_issued_channel(i) == PasscodeChannel::Sms as u32 { sms } else { email },
        };
        passcode_issued_free(i);
        info
    }
}

impl Surface for CAbi {
    fn open(&mut self, config_json: &str, now: u64) -> Result<(), Failure> {
        self.clock.store(now, Ordering::SeqCst);
        let clock = PasscodeClock { ctx: &*self.clock as *const AtomicU64 as *mut c_void, now: Some(clock_now) };
        let host_ctx = self.host.as_deref().map_or(ptr::null_mut(), |h| h as *const Host as *mut c_void);
        let store =
            PasscodeStore { ctx: host_ctx, get: Some(host_get), put: Some(host_put), remove: Some(host_remove) };
        let sink = PasscodeEventSink { ctx: host_ctx, emit: Some(host_emit) };
        let parts = match self.host {
            None => PasscodeHostParts { store: ptr::null(), clock: &clock, events: ptr::null() },
            Some(_) => PasscodeHostParts { store: &store, clock: &clock, events: &sink },
        };
        let mut engine = ptr::null();
        // SAFETY: valid text, parts and out-pointer; the clock's ctx lives as long as `self`.
        let s = unsafe { passcode_engine_new(config_json.as_ptr().cast(), config_json.len(), &parts, &mut engine) };
        if s != PasscodeStatus::Ok {
            return Err(plain(s));
        }
        self.engine = engine;
        Ok(())
    }
    fn advance(&mut self, seconds: u64) {
        self.clock.fetch_add(seconds, Ordering::SeqCst);
    }
    fn issue(
        &mut self,
        ch: &str,
        identifier: &str,
        pu: &str,
        client: Option<&str>,
        locale: Option<&str>,
        account: Option<&str>,
    ) -> Result<IssuedInfo, Failure> {
        let (c, cl) = opt(client);
        let (l, ll) = opt(locale);
        let mut out = ptr::null_mut();
        let mut f = PasscodeFailure::default();
        let (id, id_len) = (identifier.as_ptr().cast(), identifier.len());
        // SAFETY: every pointer is valid for its length or NULL with 0.
        let s = unsafe {
            match account {
                None => {
                    passcode_issue(self.engine, channel(ch), purpose(pu), id, id_len, c, cl, l, ll, &mut out, &mut f)
                }
                Some(a) => passcode_issue_for_account(
                    self.engine,
                    a.as_ptr().cast(),
                    a.len(),
                    channel(ch),
                    purpose(pu),
                    id,
                    id_len,
                    c,
                    cl,
                    l,
                    ll,
                    &mut out,
                    &mut f,
                ),
            }
        };
        match s {
            // SAFETY: issued on success.
            PasscodeStatus::Ok => Ok(unsafe { take_issued(out) }),
            s => {
                assert!(out.is_null(), "no output on failure");
                Err(failure(s, &f))
            }
        }
    }
    fn verify(&mut self, token: &str, code: &str) -> Result<VerifiedInfo, Failure> {
        let mut out = ptr::null_mut();
        let mut f = PasscodeFailure::default();
        // SAFETY: valid pointers.
        let s = unsafe {
            passcode_verify(
                self.engine,
                token.as_ptr().cast(),
                token.len(),
                code.as_ptr().cast(),
                code.len(),
                &mut out,
                &mut f,
            )
        };
        if s != PasscodeStatus::Ok {
            assert!(out.is_null(), "no output on failure");
            return Err(failure(s, &f));
        }
        // SAFETY: `out` is live until freed below.
        unsafe {
            let name = |n: u32, names: &[(u32, &str)]| names.iter().find(|(v, _)| *v == n).map(|(_, s)| s.to_string());
            let channels = [(1, "email"), (2, "sms")];
            let purposes =
                [(1, "sign-up"), (2, "sign-in"), (3, "second-factor"), (4, "verify-contact"), (5, "recovery")];
            let v = VerifiedInfo {
                identifier: passcode_verified_identifier(out).as_str().to_string(),
                channel: name(passcode_verified_channel(out), &channels).expect("a channel"),
                purpose: name(passcode_verified_purpose(out), &purposes).expect("a purpose"),
                account: Some(passcode_verified_account(out).as_str().to_string()).filter(|a| !a.is_empty()),
            };
            passcode_verified_free(out);
            Ok(v)
        }
    }
    fn resend(&mut self, token: &str, client: Option<&str>) -> Result<IssuedInfo, Failure> {
        let (c, cl) = opt(client);
        let mut out = ptr::null_mut();
        let mut f = PasscodeFailure::default();
        // SAFETY: valid pointers.
        let s = unsafe {
            passcode_resend(self.engine, token.as_ptr().cast(), token.len(), c, cl, ptr::null(), 0, &mut out, &mut f)
        };
        match s {
            // SAFETY: issued on success.
            PasscodeStatus::Ok => Ok(unsafe { take_issued(out) }),
            s => Err(failure(s, &f)),
        }
    }
    fn cancel(&mut self, token: &str) -> Result<(), Failure> {
        // SAFETY: valid pointers.
        match unsafe { passcode_cancel(self.engine, token.as_ptr().cast(), token.len()) } {
            PasscodeStatus::Ok => Ok(()),
            s => Err(plain(s)),
        }
    }
    fn unlock(&mut self, ch: &str, identifier: &str) -> Result<(), Failure> {
        // SAFETY: valid pointers.
        match unsafe { passcode_unlock(self.engine, channel(ch), identifier.as_ptr().cast(), identifier.len()) } {
            PasscodeStatus::Ok => Ok(()),
            s => Err(plain(s)),
        }
    }
    fn unlock_account(&mut self, account: &str) -> Result<(), Failure> {
        // SAFETY: valid pointers.
        match unsafe { passcode_unlock_account(self.engine, account.as_ptr().cast(), account.len()) } {
            PasscodeStatus::Ok => Ok(()),
            s => Err(plain(s)),
        }
    }
}

#[test]
fn every_vector_passes_through_the_c_abi() {
    passcode_vectors::run_all_or_panic(
        &mut || Box::new(CAbi { engine: ptr::null(), clock: Box::new(AtomicU64::new(0)), host: None }),
        ERROR_TABLE,
    );
}

#[test]
fn every_vector_passes_with_a_host_store_and_event_sink_behind_callbacks() {
    let seen: std::rc::Rc<std::cell::RefCell<Vec<(u32, String)>>> = Default::default();
    struct Recording(CAbi, std::rc::Rc<std::cell::RefCell<Vec<(u32, String)>>>);
    impl Drop for Recording {
        fn drop(&mut self) {
            let events = self.0.host.as_ref().expect("host").events.lock().unwrap().clone();
            self.1.borrow_mut().extend(events);
        }
    }
    impl Surface for Recording {
        fn open(&mut self, c: &str, now: u64) -> Result<(), Failure> {
            self.0.open(c, now)
        }
        fn advance(&mut self, s: u64) {
            self.0.advance(s)
        }
        fn issue(
            &mut self,
            c: &str,
            i: &str,
            p: &str,
            cl: Option<&str>,
            l: Option<&str>,
            a: Option<&str>,
        ) -> Result<IssuedInfo, Failure> {
            self.0.issue(c, i, p, cl, l, a)
        }
        fn verify(&mut self, t: &str, c: &str) -> Result<VerifiedInfo, Failure> {
            self.0.verify(t, c)
        }
        fn resend(&mut self, t: &str, c: Option<&str>) -> Result<IssuedInfo, Failure> {
            self.0.resend(t, c)
        }
        fn cancel(&mut self, t: &str) -> Result<(), Failure> {
            self.0.cancel(t)
        }
        fn unlock(&mut self, c: &str, i: &str) -> Result<(), Failure> {
            self.0.unlock(c, i)
        }
        fn unlock_account(&mut self, a: &str) -> Result<(), Failure> {
            self.0.unlock_account(a)
        }
    }
    passcode_vectors::run_all_or_panic(
        &mut || {
            let surface = CAbi { engine: ptr::null(), clock: Box::new(AtomicU64::new(0)), host: Some(Box::default()) };
            Box::new(Recording(surface, seen.clone()))
        },
        ERROR_TABLE,
    );
    let events = seen.borrow();
    let kinds: std::collections::HashSet<u32> = events.iter().map(|(k, _)| *k).collect();
    for k in [
        PasscodeEventKind::Issued,
        PasscodeEventKind::Verified,
        PasscodeEventKind::Failed,
        PasscodeEventKind::Locked,
        PasscodeEventKind::Refused,
    ] {
        assert!(kinds.contains(&(k as u32)), "the event sink saw {k:?}");
    }
    for (_, subject) in events.iter() {
        assert!(subject.len() == 16 && subject.bytes().all(|b| b.is_ascii_hexdigit()), "a pseudonym, not {subject:?}");
    }
}
