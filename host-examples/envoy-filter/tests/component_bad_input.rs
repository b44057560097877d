//! Bad input through the component: every call returns an error value, never a trap.
//! (Invalid UTF-8 cannot be expressed: WIT strings are UTF-8 by construction.)

use std::path::Path;
use std::sync::{Arc, OnceLock};

use passcode_core::{Expected, StoreError, StoreKey};
use passcode_envoy_filter::host::{
    error_name, require_wasm, Channel, ComponentHost, EngineError, IssueRequest, Purpose, Worker,
};

fn compiled() -> &'static ComponentHost {
    static HOST: OnceLock<ComponentHost> = OnceLock::new();
    HOST.get_or_init(|| {
        let wasm = require_wasm().unwrap_or_else(|m| panic!("{m}"));
        ComponentHost::builder(&wasm).build().unwrap_or_else(|e| panic!("{e}"))
    })
}

/// The component's store is always the host's, which other instances may share: a config
/// needs a key ring, or (as these tests, one instance each) an ephemeral key.
const EPHEMERAL: &str = "[keys]\nephemeral = true";

fn worker() -> Worker {
    compiled().rebuild().build().unwrap().open(EPHEMERAL).expect("no trap").expect("an ephemeral key opens")
}

#[test]
fn no_key_ring_on_the_host_store_is_refused() {
    let host = compiled().rebuild().build().unwrap();
    for config in ["", "[messages]\napp_name = \"Acme\""] {
        refused(host.open(config).map(|r| r.map(|_| ())), &["policy-out-of-bounds"]);
    }
}

/// The call did not trap and was refused with one of `names`.
#[track_caller]
fn refused<T: std::fmt::Debug>(r: Result<Result<T, EngineError>, wasmtime::Error>, names: &[&str]) {
    match r {
        Err(trap) => panic!("trapped: {trap:#}"),
        Ok(Ok(v)) => panic!("accepted: {v:?}"),
        Ok(Err(e)) => assert!(
            names.contains(&error_name(&e)),
            "refused with {} ({e:?}), expected one of {names:?}",
            error_name(&e)
        ),
    }
}

fn email(identifier: &str) -> IssueRequest {
    IssueRequest {
        channel: Channel::Email,
        identifier: identifier.into(),
        purpose: Purpose::SignIn,
        client: None,
        locale: None,
    }
}

fn sms(identifier: &str) -> IssueRequest {
    IssueRequest {
        channel: Channel::Sms,
        identifier: identifier.into(),
        purpose: Purpose::SignIn,
        client: None,
        locale: None,
    }
}

#[test]
fn garbage_configs_are_refused_as_errors() {
    let huge = "x".repeat(2 << 20);
    let deep_json = "{\"a\":".repeat(100_000);
    let deep_toml = format!("a = {}", "[".repeat(100_000));
    let cases: Vec<(&str, &[&str])> = vec![
        ("{", &["config-syntax"]),
        ("[policy", &["config-syntax"]),
        ("colour = 1", &["unknown-config-field"]),
        ("[policy]\ncode_length = 4", &["policy-out-of-bounds"]),
        ("[policy]\ncode_length = \"six\"", &["config-syntax"]),
        ("[[keys.ring]]\nid = 1\nfile = \"/surely/not/here\"", &["key-unavailable"]),
        ("[[keys.ring]]\nid = 1\nenv = \"NOT_GIVEN_TO_THE_GUEST\"", &["key-unavailable"]),
        ("\u{0}\u{1}\u{fffd}garbage\u{202e}", &["config-syntax"]),
        (&huge, &["input-too-long"]),
        (&deep_json, &["config-syntax", "unknown-config-field"]),
        (&deep_toml, &["config-syntax", "unknown-config-field"]),
    ];
    for (config, names) in cases {
        let mut instance = compiled().instantiate().unwrap();
        refused(instance.open(config), names);
    }
}

#[test]
fn invalid_identifiers_and_huge_strings_are_refused() {
    let mut w = worker();
    let huge = "a".repeat(4 << 20);
    refused(w.issue(&email("")), &["invalid-email"]);
    refused(w.issue(&email("not an address")), &["invalid-email"]);
    refused(w.issue(&email("a@b@c")), &["invalid-email"]);
    refused(w.issue(&email(&format!("{}@example.com", "a".repeat(65)))), &["invalid-email"]);
    refused(w.issue(&email(&huge)), &["input-too-long"]);
    refused(w.issue(&email("jane\u{0}@example.com")), &["invalid-email"]);
    refused(w.issue(&sms("12345")), &["invalid-phone"]);
    refused(w.issue(&sms("+0123456")), &["invalid-phone"]);
    refused(w.issue(&sms("+1234567890123456")), &["invalid-phone"]);
    refused(w.issue(&sms(&huge)), &["input-too-long"]);
    let mut r = email("jane@example.com");
    r.client = Some("not-an-ip".into());
    refused(w.issue(&r), &["invalid-client-address"]);
    r.client = Some(huge.clone());
    refused(w.issue(&r), &["input-too-long"]);
    r.client = None;
    r.locale = Some("fr;drop".into());
    refused(w.issue(&r), &["invalid-argument"]);
    r.locale = Some(huge.clone());
    refused(w.issue(&r), &["input-too-long"]);
    refused(w.unlock(Channel::Sms, "nope"), &["invalid-phone"]);
    refused(w.unlock(Channel::Email, &huge), &["input-too-long"]);
}

#[test]
fn garbage_tokens_and_codes_are_refused() {
    let mut w = worker();
    let huge = "A".repeat(4 << 20);
    let tokens = ["", "garbage", "v1.AAAA.BBBB", "\u{1f600}\u{1f600}", "....", &huge];
    for t in tokens {
        refused(w.verify(t, "123456"), &["invalid-token", "input-too-long"]);
        refused(w.resend(t, None, None), &["invalid-token", "input-too-long"]);
        refused(w.cancel(t), &["invalid-token", "input-too-long"]);
    }
    // A real token with garbage codes: wrong, not a trap, and counted.
    let issued = w.issue(&email("jane@example.com")).unwrap().unwrap();
    refused(w.verify(&issued.token, &huge), &["wrong-code"]);
    refused(w.verify(&issued.token, "\u{0}\u{202e}\u{1f600}"), &["wrong-code"]);
    refused(w.verify(&issued.token, ""), &["wrong-code"]);
    // A tampered token (one character changed) is refused before the store is touched.
    let mut t = issued.token.clone().into_bytes();
    let mid = t.len() / 2;
    t[mid] = if t[mid] == b'A' { b'B' } else { b'A' };
    refused(w.verify(&String::from_utf8(t).unwrap(), &issued.code), &["invalid-token"]);
    refused(w.resend(&issued.token, Some("nope"), None), &["invalid-client-address"]);
    // The right code still works after all that garbage (3 wrong tries so far).
    let v = w.verify(&issued.token, &issued.code).unwrap().unwrap();
    assert_eq!(v.identifier, "jane@example.com");
}

/// A store that always fails: the engine must fail closed with `store-unavailable`.
struct BrokenStore;

impl passcode_core::Store for BrokenStore {
    fn get(&self, _: &StoreKey, _: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        Err(StoreError("the shared map is down".into()))
    }
    fn put(&self, _: &StoreKey, _: &[u8], _: Option<u64>, _: Expected, _: u64) -> Result<Option<u64>, StoreError> {
        Err(StoreError("the shared map is down".into()))
    }
    fn delete(&self, _: &StoreKey, _: u64, _: u64) -> Result<bool, StoreError> {
        Err(StoreError("the shared map is down".into()))
    }
}

#[test]
fn a_failing_host_store_fails_closed() {
    let host = compiled().rebuild().store(Arc::new(BrokenStore)).build().unwrap();
    let mut w = host.open(EPHEMERAL).unwrap().unwrap();
    match w.issue(&email("jane@example.com")).expect("no trap") {
        Err(EngineError::StoreUnavailable(m)) => assert_eq!(m, "the shared map is down"),
        other => panic!("expected store-unavailable, got {other:?}"),
    }
}

/// A store that answers every read with the same bytes: garbage from a broken or hostile
/// store must come back as `corrupt-record`, never as a trap.
struct GarbageStore(Vec<u8>);

impl passcode_core::Store for GarbageStore {
    fn get(&self, _: &StoreKey, _: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        Ok(Some((self.0.clone(), 7)))
    }
    fn put(&self, _: &StoreKey, _: &[u8], _: Option<u64>, _: Expected, _: u64) -> Result<Option<u64>, StoreError> {
        Ok(Some(8))
    }
    fn delete(&self, _: &StoreKey, _: u64, _: u64) -> Result<bool, StoreError> {
        Ok(true)
    }
}

#[test]
fn garbage_from_the_host_store_is_an_error_not_a_trap() {
    // A token to verify against, issued on a healthy store with the same key.
    let key = "8f3a1c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a";
    let config = r#"{"keys":{"ring":[{"id":1,"env":"PASSCODE_KEY_1"}]}}"#;
    let healthy = compiled().rebuild().env("PASSCODE_KEY_1", key).build().unwrap();
    let token = healthy.open(config).unwrap().unwrap().issue(&email("jane@example.com")).unwrap().unwrap().token;
    let mut patterns: Vec<Vec<u8>> = vec![vec![], vec![0], vec![1], vec![1; 3], vec![0xff; 64]];
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for len in [1usize, 2, 9, 13, 14, 30, 64, 200, 4096] {
        for first in [0u8, 1, 2] {
            let mut v: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            v[0] = first;
            patterns.push(v);
        }
    }
    for bytes in patterns {
        let host = compiled()
            .rebuild()
            .store(Arc::new(GarbageStore(bytes.clone())))
            .env("PASSCODE_KEY_1", key)
            .build()
            .unwrap();
        let mut w = host.open(config).unwrap().unwrap();
        for r in [
            w.issue(&email("jane@example.com")).map(|r| r.map(|_| ())),
            w.verify(&token, "123456").map(|r| r.map(|_| ())),
            w.resend(&token, None, None).map(|r| r.map(|_| ())),
            w.cancel(&token),
            w.unlock(Channel::Email, "jane@example.com"),
        ] {
            match r {
                Err(trap) => panic!("garbage of {} bytes trapped: {trap:#}", bytes.len()),
                // Garbage that happens to decode is a valid record; anything else is refused.
                Ok(Ok(())) => {}
                Ok(Err(e)) => assert!(
                    [
                        "corrupt-record",
                        "not-found",
                        "resend-too-soon",
                        "send-limit",
                        "subject-locked",
                        "expired",
                        "too-many-attempts",
                        "wrong-code",
                        "wrong-code-locked"
                    ]
                    .contains(&error_name(&e)),
                    "{e:?}"
                ),
            }
        }
    }
}

/// A store that answers with version 0, which the WIT forbids: on `put` (`get` finds
/// nothing), or on `get` (a record it claims to hold at version 0).
struct VersionZeroStore {
    on_get: bool,
}

impl passcode_core::Store for VersionZeroStore {
    fn get(&self, _: &StoreKey, _: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        Ok(self.on_get.then(|| (vec![2, 0, 0], 0)))
    }
    fn put(&self, _: &StoreKey, _: &[u8], _: Option<u64>, _: Expected, _: u64) -> Result<Option<u64>, StoreError> {
        Ok(Some(0))
    }
    fn delete(&self, _: &StoreKey, _: u64, _: u64) -> Result<bool, StoreError> {
        Ok(true)
    }
}

#[test]
fn a_store_that_answers_version_0_is_refused_as_broken() {
    for (on_get, call) in [(false, "put"), (true, "get")] {
        let host = compiled().rebuild().store(Arc::new(VersionZeroStore { on_get })).build().unwrap();
        let mut w = host.open(EPHEMERAL).unwrap().unwrap();
        match w.issue(&email("jane@example.com")).expect("no trap") {
            Err(EngineError::StoreUnavailable(m)) => {
                assert_eq!(m, format!("the host's store broke its contract: {call} returned version 0"))
            }
            other => panic!("version 0 from {call}: expected store-unavailable, got {other:?}"),
        }
    }
}

/// A 32-byte key in hex, as the tests' key files and variables hold it.
const KEY_HEX: &str = "8f3a1c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a";

#[test]
fn ring_keys_come_from_the_hosts_reader_and_nowhere_else() {
    let dir = tempfile::tempdir().unwrap();
    let inside = dir.path().join("key.hex");
    std::fs::write(&inside, KEY_HEX).unwrap();
    let big = dir.path().join("big.hex");
    std::fs::write(&big, "ab".repeat(600)).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let outside = elsewhere.path().join("key.hex");
    std::fs::write(&outside, KEY_HEX).unwrap();
    let file = |p: &Path| format!("[[keys.ring]]\nid = 1\nfile = {:?}", p.to_str().unwrap());
    let host = compiled().rebuild().read_only_dir(dir.path()).env("PASSCODE_KEY_1", KEY_HEX).build().unwrap();

    // A file under a folder the host reads keys from, and a variable it was given.
    host.open(&file(&inside)).unwrap().expect("a key file the host may read");
    host.open("[[keys.ring]]\nid = 1\nenv = \"PASSCODE_KEY_1\"").unwrap().expect("a variable the host gave");
    // The guest has no filesystem and no environment of its own: a file elsewhere, a `..`
    // path, or the host process's own variables are not keys.
    std::env::set_var("PASSCODE_TEST_PROCESS_ONLY", KEY_HEX);
    let dotted = dir.path().join("..").join(elsewhere.path().file_name().unwrap()).join("key.hex");
    for config in
        [file(&outside), file(&dotted), "[[keys.ring]]\nid = 1\nenv = \"PASSCODE_TEST_PROCESS_ONLY\"".to_string()]
    {
        match host.open(&config).unwrap() {
            Err(EngineError::KeyUnavailable(p)) => {
                assert_eq!(p.id, 1);
                assert!(p.reason.starts_with("could not be read from the host's key reader (key 1: "), "{}", p.reason);
                for value in [outside.to_str().unwrap(), "PASSCODE_TEST_PROCESS_ONLY", "elsewhere"] {
                    assert!(!p.reason.contains(value), "the config's value is not quoted: {}", p.reason);
                }
            }
            other => panic!("{config}: expected key-unavailable, got {:?}", other.map(|_| ())),
        }
    }
    // Bounded like a key file.
    match host.open(&file(&big)).unwrap() {
        Err(EngineError::KeyUnavailable(p)) => assert!(p.reason.contains("larger than 1024 bytes"), "{}", p.reason),
        other => panic!("expected key-unavailable, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn the_configs_store_is_the_hosts_choice_and_state_goes_to_the_imported_store() {
    // The WIT: the component opens no store; `store` tells the host what to back the import
    // with. This host backs it with its own map whatever the URL says, and the state lands there.
    let shared = Arc::new(passcode_core::MemoryStore::new());
    let host = compiled().rebuild().store(shared.clone()).env("PASSCODE_KEY_1", KEY_HEX).build().unwrap();
    let config = "store = \"redis://127.0.0.1:1/0\"\n[[keys.ring]]\nid = 1\nenv = \"PASSCODE_KEY_1\"";
    let mut w = host.open(config).unwrap().expect("the URL is the host's business");
    let issued = w.issue(&email("jane@example.com")).unwrap().unwrap();
    assert!(!shared.is_empty(), "the challenge is in the host's store");
    w.verify(&issued.token, &issued.code).unwrap().unwrap();
    // The key rule still holds: a shared store without a ring is refused, URL or not.
    refused(host.open("store = \"redis://127.0.0.1:1/0\"").map(|r| r.map(|_| ())), &["policy-out-of-bounds"]);
}

#[test]
fn closing_an_engine_runs_its_destructor_and_frees_its_memory() {
    // Each open engine holds a config, templates and a key ring in the guest's memory. A
    // worker that closes its engine drops the resource in the instance (the guest's
    // destructor frees it), so opening and closing many keeps the memory where one left it;
    // engines merely forgotten by the host would pile up until the instance died.
    let mut w = compiled().rebuild().build().unwrap().instantiate().unwrap();
    w.open(EPHEMERAL).unwrap().unwrap();
    w.close().unwrap();
    w.open(EPHEMERAL).unwrap().unwrap();
    w.close().unwrap();
    let after_two = w.memory_peak();
    for _ in 0..2000 {
        w.open(EPHEMERAL).unwrap().unwrap();
        w.close().unwrap();
    }
    assert!(!w.is_open());
    assert_eq!(w.memory_peak(), after_two, "2,000 engines opened and closed in one instance");
    let e = w.verify("token", "123456").expect_err("no engine is open");
    assert!(format!("{e:#}").contains("no engine is open"), "{e:#}");
    // Opening again in the same instance works, and `open` closes the engine it replaces.
    w.open(EPHEMERAL).unwrap().unwrap();
    for _ in 0..2000 {
        w.open(EPHEMERAL).unwrap().unwrap();
    }
    assert_eq!(w.memory_peak(), after_two, "each open closed the engine before it");
    refused(w.verify("garbage", "123456"), &["invalid-token"]);
}

#[test]
fn a_call_past_its_deadline_is_stopped_with_a_clear_error() {
    // A deadline of zero ticks has passed before the guest runs its first instruction: the
    // epoch check stops the call with a trap, told as a deadline, and nothing else breaks.
    let wasm = require_wasm().unwrap_or_else(|m| panic!("{m}"));
    let host = ComponentHost::builder(&wasm).call_deadline(Some(std::time::Duration::ZERO)).build().unwrap();
    let e = match host.open(EPHEMERAL) {
        Err(e) => e,
        Ok(r) => panic!("the call ran past its deadline and still answered: {:?}", r.map(|_| ())),
    };
    assert_eq!(e.downcast_ref::<wasmtime::Trap>(), Some(&wasmtime::Trap::Interrupt), "{e:#}");
    assert!(format!("{e:#}").contains("the component ran past its 0ns deadline"), "{e:#}");
    // The default deadline (seconds) never stops a normal call.
    assert!(worker().issue(&email("jane@example.com")).unwrap().is_ok());
}

#[test]
fn an_instance_cannot_grow_past_its_memory_cap() {
    // The guest asks for more memory than the cap (an 8 MiB identifier is copied into it):
    // the growth is refused, the call traps instead of taking the host's memory, and a new
    // instance works.
    let cap = worker().memory_peak() + (1 << 20);
    let host = compiled().rebuild().max_memory(cap).build().unwrap();
    let mut w = host.open(EPHEMERAL).unwrap().expect("an engine opens within the cap");
    let huge = "a".repeat(8 << 20);
    assert!(w.issue(&email(&huge)).is_err(), "a trap, not an answer");
    assert!(w.memory_peak() > cap, "the guest asked for more and was refused");
    assert!(host.open(EPHEMERAL).unwrap().unwrap().issue(&email("jane@example.com")).unwrap().is_ok());
}
