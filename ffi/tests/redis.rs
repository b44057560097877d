//! A Redis store named in the config works through the C ABI with no code change: two
//! engines (two nodes) share one Redis, so a code issued on one verifies once on either.

#![deny(clippy::undocumented_unsafe_blocks)]

#[path = "../../store-redis/tests/support/mod.rs"]
mod support;

use std::ptr;

use passcode::*;
use support::{KeyFile, RedisServer};

fn open(config: &str) -> Result<*const PasscodeEngine, PasscodeStatus> {
    let mut out: *const PasscodeEngine = ptr::null();
    // SAFETY: valid text and out-pointer.
    let s = unsafe { passcode_engine_new(config.as_ptr().cast(), config.len(), ptr::null(), &mut out) };
    if s == PasscodeStatus::Ok {
        Ok(out)
    } else {
        assert!(out.is_null(), "out untouched on failure");
        Err(s)
    }
}

fn text(s: PasscodeStr) -> String {
    // SAFETY: a view the library keeps alive until its owner is freed; we copy it at once.
    String::from_utf8(unsafe { std::slice::from_raw_parts(s.data.cast::<u8>(), s.len) }.to_vec()).unwrap()
}

fn issue(e: *const PasscodeEngine, to: &str) -> (String, String) {
    let mut out = ptr::null_mut();
    // SAFETY: valid pointers and lengths.
    let s = unsafe {
        passcode_issue(
            e,
            PasscodeChannel::Email as u32,
            PasscodePurpose::SignIn as u32,
            to.as_ptr().cast(),
            to.len(),
            ptr::null(),
            0,
            ptr::null(),
            0,
            &mut out,
            ptr::null_mut(),
        )
    };
    assert_eq!(s, PasscodeStatus::Ok);
    // SAFETY: `out` is live until freed below.
    let pair = unsafe { (text(passcode_issued_token(out)), text(passcode_issued_code(out))) };
    // SAFETY: `out` came from passcode_issue.
    unsafe { passcode_issued_free(out) };
    pair
}

fn verify(e: *const PasscodeEngine, token: &str, code: &str) -> PasscodeStatus {
    let mut out = ptr::null_mut();
    // SAFETY: valid pointers and lengths.
    let s = unsafe {
        passcode_verify(
            e,
            token.as_ptr().cast(),
            token.len(),
            code.as_ptr().cast(),
            code.len(),
            &mut out,
            ptr::null_mut(),
        )
    };
    // SAFETY: NULL or a live result; freeing NULL is a no-op.
    unsafe { passcode_verified_free(out) };
    s
}

#[test]
fn two_engines_share_one_redis_through_the_abi() {
    let redis = RedisServer::start();
    let key = KeyFile::new();
    let config = support::config_toml(&redis.url(), "ffi:", "", &key.path, "");
    let (node_a, node_b) = (open(&config).unwrap(), open(&config).unwrap());
    let (token, code) = issue(node_a, "jane@example.com");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    assert_eq!(verify(node_b, &token, wrong), PasscodeStatus::WrongCode);
    assert_eq!(verify(node_b, &token, &code), PasscodeStatus::Ok);
    assert_eq!(verify(node_a, &token, &code), PasscodeStatus::NotFound, "used up on the other node");
    let keys: i64 = redis.query(&["DBSIZE"]);
    assert!(keys >= 1, "records are in Redis");
    // SAFETY: engines from passcode_engine_new, freed once.
    unsafe {
        passcode_engine_free(node_a);
        passcode_engine_free(node_b);
    }
}

#[test]
fn two_engines_share_one_redis_cluster_through_the_abi() {
    // Redis Cluster through the config alone: `[store] cluster = [...]`, no code change.
    let cluster = support::deployments::ClusterDeployment::start();
    let key = KeyFile::new();
    let config = support::config_toml("", "ffi:", &cluster.store_toml(), &key.path, "");
    let (node_a, node_b) = (open(&config).unwrap(), open(&config).unwrap());
    for who in ["jane@example.com", "john@example.com", "joan@example.com"] {
        let (token, code) = issue(node_a, who);
        assert_eq!(verify(node_b, &token, &code), PasscodeStatus::Ok);
        assert_eq!(verify(node_a, &token, &code), PasscodeStatus::NotFound, "used up on the other node");
    }
    let keys: i64 = cluster.keys_per_primary().iter().map(|(_, n)| n).sum();
    assert_eq!(keys, 3, "one record per subject, in the cluster");
    // SAFETY: engines from passcode_engine_new, freed once.
    unsafe {
        passcode_engine_free(node_a);
        passcode_engine_free(node_b);
    }
}

#[test]
fn an_unreachable_redis_is_a_store_error_at_open() {
    let key = KeyFile::new();
    let url = format!("redis://127.0.0.1:{}/0", support::free_port());
    let config = support::config_toml(&url, "ffi:", "connect_timeout_ms = 200", &key.path, "");
    assert_eq!(open(&config).unwrap_err(), PasscodeStatus::StoreUnavailable);
}

/// Callbacks that must never run: the engine is refused before it could call them.
unsafe extern "C" fn never_get(_: *mut std::os::raw::c_void, _: *const u8, _: u64, _: *mut PasscodeStoreFound) -> u32 {
    unreachable!("the engine was refused")
}
unsafe extern "C" fn never_put(
    _: *mut std::os::raw::c_void,
    _: *const u8,
    _: *const u8,
    _: usize,
    _: u64,
    _: u64,
    _: u64,
    _: *mut u64,
) -> u32 {
    unreachable!("the engine was refused")
}
unsafe extern "C" fn never_remove(_: *mut std::os::raw::c_void, _: *const u8, _: u64, _: u64) -> u32 {
    unreachable!("the engine was refused")
}

#[test]
fn store_callbacks_and_a_shared_store_in_the_config_are_refused_together() {
    let key = KeyFile::new();
    let config = support::config_toml("redis://127.0.0.1:1/0", "ffi:", "", &key.path, "");
    let store =
        PasscodeStore { ctx: ptr::null_mut(), get: Some(never_get), put: Some(never_put), remove: Some(never_remove) };
    let parts = PasscodeHostParts { store: &store, clock: ptr::null(), events: ptr::null() };
    let mut out: *const PasscodeEngine = ptr::null();
    // SAFETY: valid text, parts and out-pointer.
    let s = unsafe { passcode_engine_new(config.as_ptr().cast(), config.len(), &parts, &mut out) };
    assert_eq!(s, PasscodeStatus::PolicyOutOfBounds);
    assert!(out.is_null(), "out untouched");
}
