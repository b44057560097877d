//! Bad input through the C ABI: each returns its documented status, leaves the out-parameter
//! untouched, and leaves the engine usable.

#![deny(clippy::undocumented_unsafe_blocks)]

use std::os::raw::{c_char, c_void};
use std::ptr;

use passcode::*;

const EMAIL: &str = "jane@example.com";

/// A pointer value no call may write to an out-parameter: if it is still there afterwards,
/// the out-parameter was untouched.
fn sentinel<T>() -> *mut T {
    std::ptr::NonNull::<T>::dangling().as_ptr()
}

fn engine(config: &str) -> Result<*const PasscodeEngine, PasscodeStatus> {
    let mut out: *const PasscodeEngine = sentinel::<PasscodeEngine>();
    // SAFETY: valid text and out-pointer.
    let s = unsafe { passcode_engine_new(config.as_ptr().cast(), config.len(), ptr::null(), &mut out) };
    if s == PasscodeStatus::Ok {
        Ok(out)
    } else {
        assert_eq!(out, sentinel::<PasscodeEngine>() as *const _, "out untouched on failure ({s:?})");
        Err(s)
    }
}

fn config_status(config: &[u8]) -> PasscodeStatus {
    let mut out: *const PasscodeEngine = sentinel::<PasscodeEngine>();
    // SAFETY: valid bytes and out-pointer.
    let s = unsafe { passcode_engine_new(config.as_ptr().cast(), config.len(), ptr::null(), &mut out) };
    assert_ne!(s, PasscodeStatus::Ok);
    assert_eq!(out, sentinel::<PasscodeEngine>() as *const _, "out untouched on failure ({s:?})");
    s
}

/// Issues for `EMAIL` and returns (token, code), proving the engine works.
fn issue_ok(e: *const PasscodeEngine) -> (String, String) {
    let mut out = ptr::null_mut();
    // SAFETY: valid pointers.
    let s = unsafe {
        passcode_issue(
            e,
            PasscodeChannel::Email as u32,
            PasscodePurpose::SignUp as u32,
            EMAIL.as_ptr().cast(),
            EMAIL.len(),
            ptr::null(),
            0,
            ptr::null(),
            0,
            &mut out,
            ptr::null_mut(),
        )
    };
    assert_eq!(s, PasscodeStatus::Ok);
    // SAFETY: live until freed.
    unsafe {
        let r = (passcode_issued_token(out).as_str().to_string(), passcode_issued_code(out).as_str().to_string());
        passcode_issued_free(out);
        r
    }
}

fn verify(e: *const PasscodeEngine, token: &[u8], code: &[u8]) -> (PasscodeStatus, PasscodeFailure) {
    let mut out = sentinel::<PasscodeVerified>();
    let mut f = PasscodeFailure::default();
    // SAFETY: valid pointers.
    let s = unsafe {
        passcode_verify(e, token.as_ptr().cast(), token.len(), code.as_ptr().cast(), code.len(), &mut out, &mut f)
    };
    if s == PasscodeStatus::Ok {
        // SAFETY: ours.
        unsafe { passcode_verified_free(out) };
        assert_eq!(f, PasscodeFailure::default(), "failure untouched on success");
    } else {
        assert_eq!(out, sentinel::<PasscodeVerified>(), "out untouched on failure ({s:?})");
        assert_eq!(f.status, s);
    }
    (s, f)
}

fn issue_status(
    e: *const PasscodeEngine,
    channel: u32,
    purpose: u32,
    identifier: (*const c_char, usize),
    client: (*const c_char, usize),
    locale: (*const c_char, usize),
) -> PasscodeStatus {
    let mut out = sentinel::<PasscodeIssued>();
    let mut f = PasscodeFailure::default();
    // SAFETY: the tests pass pointers valid for their lengths, or NULL.
    let s = unsafe {
        passcode_issue(
            e,
            channel,
            purpose,
            identifier.0,
            identifier.1,
            client.0,
            client.1,
            locale.0,
            locale.1,
            &mut out,
            &mut f,
        )
    };
    assert_ne!(s, PasscodeStatus::Ok);
    assert_eq!(out, sentinel::<PasscodeIssued>(), "out untouched on failure ({s:?})");
    assert_eq!(f.status, s, "failure written");
    s
}

fn text(s: &str) -> (*const c_char, usize) {
    (s.as_ptr().cast(), s.len())
}

const NONE: (*const c_char, usize) = (ptr::null(), 0);

#[test]
fn null_pointers_are_refused_and_change_nothing() {
    use PasscodeStatus::NullParameter as N;
    let e = engine("").expect("default config");
    let (email, sign_up) = (PasscodeChannel::Email as u32, PasscodePurpose::SignUp as u32);

    // engine_new: NULL config, NULL out.
    let mut out: *const PasscodeEngine = sentinel::<PasscodeEngine>();
    // SAFETY: NULL is allowed and must be refused.
    assert_eq!(unsafe { passcode_engine_new(ptr::null(), 0, ptr::null(), &mut out) }, N);
    assert_eq!(out, sentinel::<PasscodeEngine>() as *const _);
    // SAFETY: as above.
    assert_eq!(unsafe { passcode_engine_new("".as_ptr().cast(), 0, ptr::null(), ptr::null_mut()) }, N);
    // A host part without its callback.
    let clock = PasscodeClock { ctx: ptr::null_mut(), now: None };
    let parts = PasscodeHostParts { store: ptr::null(), clock: &clock, events: ptr::null() };
    // SAFETY: valid pointers; the missing callback must be refused.
    assert_eq!(unsafe { passcode_engine_new("".as_ptr().cast(), 0, &parts, &mut out) }, N);
    let store = PasscodeStore { ctx: ptr::null_mut(), get: None, put: None, remove: None };
    let parts = PasscodeHostParts { store: &store, clock: ptr::null(), events: ptr::null() };
    // SAFETY: as above.
    assert_eq!(unsafe { passcode_engine_new("".as_ptr().cast(), 0, &parts, &mut out) }, N);
    assert_eq!(out, sentinel::<PasscodeEngine>() as *const _);

    // issue: NULL engine, identifier, out; NULL client/locale with a length.
    assert_eq!(issue_status(ptr::null(), email, sign_up, text(EMAIL), NONE, NONE), N);
    assert_eq!(issue_status(e, email, sign_up, NONE, NONE, NONE), N);
    assert_eq!(issue_status(e, email, sign_up, (ptr::null(), 5), NONE, NONE), N);
    assert_eq!(issue_status(e, email, sign_up, text(EMAIL), (ptr::null(), 3), NONE), N);
    assert_eq!(issue_status(e, email, sign_up, text(EMAIL), NONE, (ptr::null(), 2)), N);
    // SAFETY: NULL out must be refused.
    let s = unsafe {
        passcode_issue(
            e,
            email,
            sign_up,
            EMAIL.as_ptr().cast(),
            EMAIL.len(),
            ptr::null(),
            0,
            ptr::null(),
            0,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    assert_eq!(s, N);

    let (token, code) = issue_ok(e);
    // verify: NULL engine, token, code, out.
    let mut vout = sentinel::<PasscodeVerified>();
    // SAFETY: each call passes one NULL that must be refused; the rest is valid.
    unsafe {
        assert_eq!(
            passcode_verify(
                ptr::null(),
                token.as_ptr().cast(),
                token.len(),
                code.as_ptr().cast(),
                code.len(),
                &mut vout,
                ptr::null_mut()
            ),
            N
        );
        assert_eq!(
            passcode_verify(e, ptr::null(), token.len(), code.as_ptr().cast(), code.len(), &mut vout, ptr::null_mut()),
            N
        );
        assert_eq!(passcode_verify(e, ptr::null(), 0, code.as_ptr().cast(), code.len(), &mut vout, ptr::null_mut()), N);
        assert_eq!(
            passcode_verify(e, token.as_ptr().cast(), token.len(), ptr::null(), 0, &mut vout, ptr::null_mut()),
            N
        );
        assert_eq!(
            passcode_verify(
                e,
                token.as_ptr().cast(),
                token.len(),
                code.as_ptr().cast(),
                code.len(),
                ptr::null_mut(),
                ptr::null_mut()
            ),
            N
        );
    }
    assert_eq!(vout, sentinel::<PasscodeVerified>());
    // resend, cancel, unlock.
    let mut iout = sentinel::<PasscodeIssued>();
    // SAFETY: as above.
    unsafe {
        assert_eq!(
            passcode_resend(
                ptr::null(),
                token.as_ptr().cast(),
                token.len(),
                ptr::null(),
                0,
                ptr::null(),
                0,
                &mut iout,
                ptr::null_mut()
            ),
            N
        );
        assert_eq!(passcode_resend(e, ptr::null(), 0, ptr::null(), 0, ptr::null(), 0, &mut iout, ptr::null_mut()), N);
        assert_eq!(
            passcode_resend(
                e,
                token.as_ptr().cast(),
                token.len(),
                ptr::null(),
                1,
                ptr::null(),
                0,
                &mut iout,
                ptr::null_mut()
            ),
            N
        );
        assert_eq!(
            passcode_resend(
                e,
                token.as_ptr().cast(),
                token.len(),
                ptr::null(),
                0,
                ptr::null(),
                0,
                ptr::null_mut(),
                ptr::null_mut()
            ),
            N
        );
        assert_eq!(passcode_cancel(ptr::null(), token.as_ptr().cast(), token.len()), N);
        assert_eq!(passcode_cancel(e, ptr::null(), 0), N);
        assert_eq!(passcode_unlock(ptr::null(), email, EMAIL.as_ptr().cast(), EMAIL.len()), N);
        assert_eq!(passcode_unlock(e, email, ptr::null(), 0), N);
    }
    assert_eq!(iout, sentinel::<PasscodeIssued>());
    // status_text and store_found_set.
    let mut buf = [0 as c_char; 128];
    let mut n = 77usize;
    // SAFETY: as above.
    unsafe {
        assert_eq!(passcode_status_text(0, ptr::null_mut(), 128, &mut n), N);
        assert_eq!(passcode_status_text(0, buf.as_mut_ptr(), 128, ptr::null_mut()), N);
        assert_eq!(passcode_store_found_set(ptr::null_mut(), b"x".as_ptr(), 1, 1), N);
    }
    assert_eq!(n, 77);

    // _free(NULL) is a no-op; accessors of NULL give empty values.
    // SAFETY: NULL is documented as allowed.
    unsafe {
        passcode_engine_free(ptr::null());
        passcode_issued_free(ptr::null_mut());
        passcode_verified_free(ptr::null_mut());
        assert_eq!(passcode_issued_token(ptr::null()).len, 0);
        assert!(!passcode_issued_code(ptr::null()).data.is_null(), "views are never NULL");
        assert_eq!(passcode_issued_expires_at(ptr::null()), 0);
        assert_eq!(passcode_issued_channel(ptr::null()), 0);
        assert_eq!(passcode_verified_identifier(ptr::null()).len, 0);
        assert_eq!(passcode_verified_purpose(ptr::null()), 0);
    }

    // Nothing above changed the challenge: the right code still verifies, once.
    assert_eq!(verify(e, token.as_bytes(), code.as_bytes()).0, PasscodeStatus::Ok);
    assert_eq!(verify(e, token.as_bytes(), code.as_bytes()).0, PasscodeStatus::NotFound);
    // SAFETY: ours.
    unsafe { passcode_engine_free(e) };
}

#[test]
fn lengths_utf8_and_enums_are_checked() {
    let e = engine("").expect("default config");
    let (email, sign_up) = (PasscodeChannel::Email as u32, PasscodePurpose::SignUp as u32);
    let big = vec![b'a'; PASSCODE_MAX_TEXT_BYTES + 1];
    let (token, code) = issue_ok(e);

    // Past the C layer's buffer limit: refused unread.
    assert_eq!(
        issue_status(e, email, sign_up, (big.as_ptr().cast(), big.len()), NONE, NONE),
        PasscodeStatus::InputTooLong
    );
    assert_eq!(
        issue_status(e, email, sign_up, text(EMAIL), (big.as_ptr().cast(), big.len()), NONE),
        PasscodeStatus::InputTooLong
    );
    assert_eq!(
        issue_status(e, email, sign_up, text(EMAIL), NONE, (big.as_ptr().cast(), big.len())),
        PasscodeStatus::InputTooLong
    );
    assert_eq!(verify(e, &big, code.as_bytes()).0, PasscodeStatus::InputTooLong);
    assert_eq!(verify(e, token.as_bytes(), &big).0, PasscodeStatus::InputTooLong);
    // Within the buffer limit but past core's: core's answer (as on every surface).
    let long_id = format!("{}@example.com", "a".repeat(400));
    assert_eq!(issue_status(e, email, sign_up, text(&long_id), NONE, NONE), PasscodeStatus::InputTooLong);
    let long_locale = "a".repeat(36);
    assert_eq!(issue_status(e, email, sign_up, text(EMAIL), NONE, text(&long_locale)), PasscodeStatus::InputTooLong);
    let long_client = "1".repeat(65);
    assert_eq!(issue_status(e, email, sign_up, text(EMAIL), text(&long_client), NONE), PasscodeStatus::InputTooLong);
    let config = vec![b' '; PASSCODE_MAX_CONFIG_BYTES + 1];
    assert_eq!(config_status(&config), PasscodeStatus::InputTooLong);

    // Not UTF-8.
    let bad: &[u8] = b"jane\xff@example.com";
    assert_eq!(
        issue_status(e, email, sign_up, (bad.as_ptr().cast(), bad.len()), NONE, NONE),
        PasscodeStatus::InvalidUtf8
    );
    assert_eq!(
        issue_status(e, email, sign_up, text(EMAIL), (b"\xc3".as_ptr().cast(), 1), NONE),
        PasscodeStatus::InvalidUtf8
    );
    assert_eq!(
        issue_status(e, email, sign_up, text(EMAIL), NONE, (b"\xfe".as_ptr().cast(), 1)),
        PasscodeStatus::InvalidUtf8
    );
    assert_eq!(verify(e, b"\xff\xff", code.as_bytes()).0, PasscodeStatus::InvalidUtf8);
    assert_eq!(verify(e, token.as_bytes(), b"12\xff456").0, PasscodeStatus::InvalidUtf8);
    assert_eq!(config_status(b"tenant = \"\xff\""), PasscodeStatus::InvalidUtf8);
    // SAFETY: valid pointers.
    unsafe {
        assert_eq!(passcode_cancel(e, b"\xff".as_ptr().cast(), 1), PasscodeStatus::InvalidUtf8);
        assert_eq!(passcode_unlock(e, email, b"\xff".as_ptr().cast(), 1), PasscodeStatus::InvalidUtf8);
    }

    // Unknown enum values.
    assert_eq!(issue_status(e, 0, sign_up, text(EMAIL), NONE, NONE), PasscodeStatus::InvalidArgument);
    assert_eq!(issue_status(e, 3, sign_up, text(EMAIL), NONE, NONE), PasscodeStatus::InvalidArgument);
    assert_eq!(issue_status(e, email, 0, text(EMAIL), NONE, NONE), PasscodeStatus::InvalidArgument);
    assert_eq!(issue_status(e, email, 6, text(EMAIL), NONE, NONE), PasscodeStatus::InvalidArgument);
    // SAFETY: valid pointers.
    assert_eq!(unsafe { passcode_unlock(e, 9, EMAIL.as_ptr().cast(), EMAIL.len()) }, PasscodeStatus::InvalidArgument);

    // A wrong code reports attempts left; the engine is still usable and the challenge live.
    let (s, f) = verify(e, token.as_bytes(), b"not-it");
    assert_eq!(s, PasscodeStatus::WrongCode);
    assert!(f.has_attempts_left && f.attempts_left == 4 && !f.has_retry_after, "{f:?}");
    assert_eq!(verify(e, token.as_bytes(), code.as_bytes()).0, PasscodeStatus::Ok);
    // SAFETY: ours.
    unsafe { passcode_engine_free(e) };
}

#[test]
fn bad_configs_and_weak_keys_get_their_own_status() {
    assert_eq!(config_status(b"this is [not toml"), PasscodeStatus::ConfigSyntax);
    assert_eq!(config_status(b"{\"policy\": "), PasscodeStatus::ConfigSyntax);
    assert_eq!(config_status(b"colour = \"blue\""), PasscodeStatus::UnknownConfigField);
    assert_eq!(config_status(b"{\"policy\":{\"max_tries\":3}}"), PasscodeStatus::UnknownConfigField);
    assert_eq!(config_status(b"[policy]\ncode_length = 4"), PasscodeStatus::PolicyOutOfBounds);
    let dir = tempfile::tempdir().expect("temp dir");
    let weak = dir.path().join("weak.hex");
    std::fs::write(&weak, "00".repeat(32)).expect("write");
    let cfg = format!("[[keys.ring]]\nid = 1\nfile = {:?}", weak.to_str().expect("UTF-8 path"));
    assert_eq!(config_status(cfg.as_bytes()), PasscodeStatus::WeakKey);
    let missing = dir.path().join("missing.hex");
    let cfg = format!("[[keys.ring]]\nid = 1\nfile = {:?}", missing.to_str().expect("UTF-8 path"));
    assert_eq!(config_status(cfg.as_bytes()), PasscodeStatus::KeyUnavailable);
    // JSON and TOML of the same schema both open, and a good key works.
    let good = dir.path().join("good.hex");
    let hex: String = (0u8..32).map(|i| format!("{:02x}", i.wrapping_mul(73).wrapping_add(11))).collect();
    std::fs::write(&good, hex).expect("write");
    let json = format!("{{\"keys\":{{\"ring\":[{{\"id\":1,\"file\":{:?}}}]}}}}", good.to_str().expect("UTF-8"));
    let e = engine(&json).expect("JSON config with a good key");
    issue_ok(e);
    // SAFETY: ours.
    unsafe { passcode_engine_free(e) };
    let e = engine("[policy]\ncode_length = 8").expect("TOML config");
    assert_eq!(issue_ok(e).1.len(), 8);
    // SAFETY: ours.
    unsafe { passcode_engine_free(e) };
}

#[test]
fn status_text_copies_into_the_callers_buffer() {
    let mut buf = [0x55 as c_char; PASSCODE_STATUS_TEXT_MAX + 1];
    for n in (0..8000u32).filter(|n| PasscodeStatus::from_number(*n).is_some()) {
        let mut len = 0usize;
        // SAFETY: a buffer of the documented size.
        let s = unsafe { passcode_status_text(n, buf.as_mut_ptr(), buf.len(), &mut len) };
        assert_eq!(s, PasscodeStatus::Ok, "status {n}");
        assert!(len > 0 && buf[len] == 0, "NUL-terminated text for {n}");
    }
    let mut len = 0usize;
    // SAFETY: as above.
    unsafe {
        assert_eq!(passcode_status_text(3001, buf.as_mut_ptr(), buf.len(), &mut len), PasscodeStatus::Ok);
        let text = std::str::from_utf8(std::slice::from_raw_parts(buf.as_ptr().cast::<u8>(), len)).expect("UTF-8");
        assert_eq!(text, "wrong code");
        let mut small = [0x55 as c_char; 4];
        let mut n = 99usize;
        assert_eq!(passcode_status_text(3001, small.as_mut_ptr(), small.len(), &mut n), PasscodeStatus::BufferTooSmall);
        assert_eq!((n, small), (99, [0x55; 4]), "nothing written when it does not fit");
        // Exactly text + NUL fits.
        let mut exact = [0 as c_char; 11];
        assert_eq!(passcode_status_text(3001, exact.as_mut_ptr(), exact.len(), &mut n), PasscodeStatus::Ok);
        assert_eq!(n, 10);
        assert_eq!(passcode_status_text(4242, buf.as_mut_ptr(), buf.len(), &mut n), PasscodeStatus::InvalidArgument);
    }
}

unsafe extern "C" fn failing_get(_: *mut c_void, _: *const u8, _: u64, _: *mut PasscodeStoreFound) -> u32 {
    PasscodeStoreOutcome::Failed as u32
}
#[allow(clippy::too_many_arguments)]
unsafe extern "C" fn failing_put(
    _: *mut c_void,
    _: *const u8,
    _: *const u8,
    _: usize,
    _: u64,
    _: u64,
    _: u64,
    _: *mut u64,
) -> u32 {
    PasscodeStoreOutcome::Failed as u32
}
unsafe extern "C" fn failing_remove(_: *mut c_void, _: *const u8, _: u64, _: u64) -> u32 {
    PasscodeStoreOutcome::Failed as u32
}

/// A host store whose every callback fails.
fn failing_store() -> PasscodeStore {
    PasscodeStore { ctx: ptr::null_mut(), get: Some(failing_get), put: Some(failing_put), remove: Some(failing_remove) }
}

#[test]
fn store_callbacks_without_a_key_ring_are_refused() {
    // Engines of other processes may share the host's store: each with a random key of its
    // own would count failures apart, and every restart would reset them.
    let store = failing_store();
    let parts = PasscodeHostParts { store: &store, clock: ptr::null(), events: ptr::null() };
    for config in ["", "[messages]\napp_name = \"Acme\""] {
        let mut e = ptr::null();
        // SAFETY: valid pointers; the callbacks are never called (the engine does not open).
        let s = unsafe { passcode_engine_new(config.as_ptr().cast(), config.len(), &parts, &mut e) };
        assert_eq!(s, PasscodeStatus::PolicyOutOfBounds, "{config:?}");
        assert!(e.is_null(), "no engine written");
    }
}

#[test]
fn a_failing_host_store_fails_closed() {
    let store = failing_store();
    let parts = PasscodeHostParts { store: &store, clock: ptr::null(), events: ptr::null() };
    let mut e = ptr::null();
    let config = "[keys]\nephemeral = true";
    // SAFETY: valid pointers; the store's callbacks need no ctx.
    let s = unsafe { passcode_engine_new(config.as_ptr().cast(), config.len(), &parts, &mut e) };
    assert_eq!(s, PasscodeStatus::Ok);
    let s = issue_status(e, PasscodeChannel::Email as u32, PasscodePurpose::SignIn as u32, text(EMAIL), NONE, NONE);
    assert_eq!(s, PasscodeStatus::StoreUnavailable);
    // SAFETY: ours.
    unsafe { passcode_engine_free(e) };
}
