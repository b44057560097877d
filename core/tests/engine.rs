//! The engine through its public API: the standards' requirements that the scenario vectors
//! cannot show (what the store holds, what events and errors say, concurrency, store failures,
//! key rotation), each test named after the requirement it checks.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};

use passcode_core::{
    Channel, Config, Engine, Error, EventKind, EventLog, Expected, IssueRequest, Issued, KeyRing, ManualClock,
    MemoryStore, Purpose, Store, StoreError, StoreKey,
};

const T0: u64 = 1_800_000_000;

fn key_bytes(seed: u8) -> Vec<u8> {
    (0u8..32).map(|i| i.wrapping_mul(151).wrapping_add(seed.wrapping_mul(29)).wrapping_add(7)).collect()
}

fn ring(ids: &[u8], active: u8, index: u8) -> KeyRing {
    KeyRing::new(ids.iter().map(|id| (*id, key_bytes(*id))).collect(), active, index).unwrap()
}

struct Rig {
    engine: Engine,
    clock: ManualClock,
    events: Arc<EventLog>,
}

fn rig_with(config: &str, store: Arc<dyn Store>) -> Rig {
    let clock = ManualClock::new(T0);
    let events = Arc::new(EventLog::default());
    let engine = Engine::builder(Config::parse(config).unwrap())
        .clock(Arc::new(clock.clone()))
        .events(events.clone())
        .store(store)
        .key_ring(ring(&[1], 1, 1))
        .build()
        .unwrap();
    Rig { engine, clock, events }
}

fn rig(config: &str) -> Rig {
    rig_with(config, Arc::new(MemoryStore::new()))
}

fn email(engine: &Engine, address: &str, purpose: Purpose) -> Result<Issued, Error> {
    engine.issue(&IssueRequest { channel: Channel::Email, identifier: address, purpose, client: None, locale: None })
}

fn sms(engine: &Engine, number: &str, purpose: Purpose) -> Result<Issued, Error> {
    engine.issue(&IssueRequest { channel: Channel::Sms, identifier: number, purpose, client: None, locale: None })
}

fn wrong(code: &str) -> String {
    let n: u64 = code.parse().unwrap();
    format!("{:06}", (n + 1) % 1_000_000)
}

/// A store that records every key and value written, and can be made to fail or conflict.
#[derive(Default)]
struct Recording {
    inner: MemoryStore,
    writes: Mutex<Vec<(StoreKey, Vec<u8>)>>,
    fail_puts: AtomicBool,
    fail_gets: AtomicBool,
    always_conflict: AtomicBool,
    puts: AtomicUsize,
}

impl Store for Recording {
    fn get(&self, key: &StoreKey, now: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        if self.fail_gets.load(Ordering::SeqCst) {
            return Err(StoreError("connection refused".into()));
        }
        self.inner.get(key, now)
    }
    fn put(
        &self,
        key: &StoreKey,
        value: &[u8],
        ttl: Option<u64>,
        expected: Expected,
        now: u64,
    ) -> Result<Option<u64>, StoreError> {
        self.puts.fetch_add(1, Ordering::SeqCst);
        if self.fail_puts.load(Ordering::SeqCst) {
            return Err(StoreError("connection reset".into()));
        }
        if self.always_conflict.load(Ordering::SeqCst) {
            return Ok(None);
        }
        self.writes.lock().unwrap().push((*key, value.to_vec()));
        self.inner.put(key, value, ttl, expected, now)
    }
    fn delete(&self, key: &StoreKey, version: u64, now: u64) -> Result<bool, StoreError> {
        self.inner.delete(key, version, now)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn s14_store_holds_no_code_and_no_identifier() {
    let store = Arc::new(Recording::default());
    let r = rig_with("", store.clone());
    let mut codes = Vec::new();
    for (i, who) in ["jane.doe@example.com", "john.roe@example.org"].iter().enumerate() {
        let issued = email(&r.engine, who, Purpose::SignIn).unwrap();
        codes.push(issued.code.to_string());
        r.clock.advance(31);
        if i == 0 {
            let again = r.engine.resend(&issued.token, Some("198.51.100.7"), None).unwrap();
            codes.push(again.code.to_string());
        }
    }
    let sms = r
        .engine
        .issue(&IssueRequest {
            channel: Channel::Sms,
            identifier: "+442079460123",
            purpose: Purpose::SignUp,
            client: Some("198.51.100.7"),
            locale: None,
        })
        .unwrap();
    codes.push(sms.code.to_string());
    let writes = store.writes.lock().unwrap();
    assert!(writes.len() >= 5);
    for (key, value) in writes.iter() {
        for code in &codes {
            assert!(!contains(value, code.as_bytes()), "a code in a stored value");
            assert!(!contains(key, code.as_bytes()));
        }
        for plain in ["jane.doe", "john.roe", "example.com", "2079460123", "198.51.100.7"] {
            assert!(!contains(value, plain.as_bytes()), "{plain} in a stored value");
            assert!(!contains(key, plain.as_bytes()), "{plain} in a key");
        }
        assert!(!contains(value, &[198, 51, 100, 7]), "the raw client address in a value");
    }
}

#[test]
fn s14_events_and_errors_carry_no_code_or_identifier() {
    let r = rig("[policy]\nlockout_threshold = 2");
    let issued = email(&r.engine, "secret.person@example.com", Purpose::SignIn).unwrap();
    let mut texts = Vec::new();
    texts.push(r.engine.verify(&issued.token, &wrong(&issued.code)).unwrap_err().to_string());
    texts.push(r.engine.verify(&issued.token, &wrong(&issued.code)).unwrap_err().to_string());
    texts.push(r.engine.verify(&issued.token, &issued.code).unwrap_err().to_string());
    texts.push(email(&r.engine, "secret.person@example", Purpose::SignIn).unwrap_err().to_string());
    texts.push(format!("{issued:?}"));
    for e in r.events.events() {
        texts.push(format!("{e:?}"));
        assert_eq!(e.subject.len(), 16, "a pseudonym, not an identifier");
    }
    assert!(r.events.kinds().contains(&EventKind::Locked));
    for t in &texts {
        assert!(!t.contains("secret.person"), "identifier leaked: {t}");
        assert!(!t.contains(issued.code.as_str()), "code leaked: {t}");
    }
}

#[test]
fn events_follow_the_lifecycle() {
    let r = rig("");
    let a = email(&r.engine, "jane@example.com", Purpose::SignIn).unwrap();
    r.engine.verify(&a.token, &wrong(&a.code)).unwrap_err();
    assert!(r.engine.resend(&a.token, None, None).is_err());
    r.clock.advance(30);
    let a2 = r.engine.resend(&a.token, None, None).unwrap();
    r.engine.verify(&a2.token, &a2.code).unwrap();
    r.engine.unlock(Channel::Email, "jane@example.com").unwrap();
    let b = email(&r.engine, "jane@example.com", Purpose::SignUp).unwrap();
    r.engine.cancel(&b.token).unwrap();
    let c = email(&r.engine, "jane@example.com", Purpose::Recovery).unwrap();
    r.clock.advance(600);
    r.engine.verify(&c.token, &c.code).unwrap_err();
    use EventKind::*;
    assert_eq!(
        r.events.kinds(),
        vec![Issued, Failed, RateLimited, Resent, Verified, Unlocked, Issued, Cancelled, Issued, Expired]
    );
    let failed = &r.events.events()[1];
    assert_eq!(failed.attempts_left, Some(4));
    assert_eq!(failed.purpose, Some(Purpose::SignIn));
    assert_eq!(failed.at, T0);
}

#[test]
fn s16_issue_has_one_shape_for_new_and_known_subjects() {
    let r = rig("");
    // A subject with history (failures, a live challenge) and one the engine never saw.
    let known = email(&r.engine, "known@example.com", Purpose::SignIn).unwrap();
    r.engine.verify(&known.token, &wrong(&known.code)).unwrap_err();
    r.clock.advance(30);
    let again = email(&r.engine, "known@example.com", Purpose::SignIn).unwrap();
    let fresh = email(&r.engine, "fresh@example.com", Purpose::SignIn).unwrap();
    assert_eq!(again.token.len(), fresh.token.len(), "same-length identifiers, same-length tokens");
    assert_eq!(again.expires_at, fresh.expires_at);
    assert_eq!(again.resend_at, fresh.resend_at);
    assert_eq!(again.code.len(), fresh.code.len());
    let (a, f) = (again.message.email().unwrap(), fresh.message.email().unwrap());
    assert_eq!(a.subject, f.subject);
    assert_eq!(a.text.replace(again.code.as_str(), "#"), f.text.replace(fresh.code.as_str(), "#"));
}

#[test]
fn a_store_failure_fails_closed() {
    let store = Arc::new(Recording::default());
    let r = rig_with("", store.clone());
    let issued = email(&r.engine, "jane@example.com", Purpose::SignIn).unwrap();
    store.fail_puts.store(true, Ordering::SeqCst);
    let e = r.engine.verify(&issued.token, &issued.code).unwrap_err();
    assert_eq!(e, Error::StoreUnavailable { message: "connection reset".into() });
    assert_eq!(e.number(), 5001);
    store.fail_puts.store(false, Ordering::SeqCst);
    store.fail_gets.store(true, Ordering::SeqCst);
    assert!(matches!(r.engine.verify(&issued.token, &issued.code), Err(Error::StoreUnavailable { .. })));
    assert!(matches!(email(&r.engine, "john@example.com", Purpose::SignIn), Err(Error::StoreUnavailable { .. })));
    store.fail_gets.store(false, Ordering::SeqCst);
    // The code was never recorded as used, so it still works once, and only once.
    r.engine.verify(&issued.token, &issued.code).unwrap();
    assert_eq!(r.engine.verify(&issued.token, &issued.code), Err(Error::NotFound));
}

#[test]
fn endless_conflicts_end_in_contention() {
    let store = Arc::new(Recording::default());
    let r = rig_with("", store.clone());
    let issued = email(&r.engine, "jane@example.com", Purpose::SignIn).unwrap();
    store.always_conflict.store(true, Ordering::SeqCst);
    let before = store.puts.load(Ordering::SeqCst);
    assert_eq!(r.engine.verify(&issued.token, &issued.code), Err(Error::Contention));
    assert_eq!(store.puts.load(Ordering::SeqCst) - before, 64, "bounded retries");
}

#[test]
fn corrupt_records_are_refused() {
    struct Garbage;
    impl Store for Garbage {
        fn get(&self, _: &StoreKey, _: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
            Ok(Some((vec![1, 2, 3], 1)))
        }
        fn put(&self, _: &StoreKey, _: &[u8], _: Option<u64>, _: Expected, _: u64) -> Result<Option<u64>, StoreError> {
            Ok(Some(2))
        }
        fn delete(&self, _: &StoreKey, _: u64, _: u64) -> Result<bool, StoreError> {
            Ok(true)
        }
    }
    let r = rig_with("", Arc::new(Garbage));
    assert_eq!(email(&r.engine, "jane@example.com", Purpose::SignIn).unwrap_err(), Error::CorruptRecord);
}

#[test]
fn concurrency_eight_threads_one_right_code_one_success() {
    let r = Arc::new(rig(""));
    let issued = email(&r.engine, "jane@example.com", Purpose::SignIn).unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let (r, barrier, token, code) = (r.clone(), barrier.clone(), issued.token.clone(), issued.code.to_string());
            std::thread::spawn(move || {
                barrier.wait();
                r.engine.verify(&token, &code)
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1, "{results:?}");
    assert!(results.iter().filter(|r| r.is_err()).all(|r| *r == Err(Error::NotFound)), "{results:?}");
}

#[test]
fn concurrency_eight_threads_wrong_codes_counted_exactly() {
    let r = Arc::new(rig("[policy]\nlockout_threshold = 100"));
    let issued = email(&r.engine, "jane@example.com", Purpose::SignIn).unwrap();
    let barrier = Arc::new(Barrier::new(8));
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let (r, barrier, token, code) = (r.clone(), barrier.clone(), issued.token.clone(), issued.code.to_string());
            std::thread::spawn(move || {
                barrier.wait();
                (0..3)
                    .map(|k| {
                        let n: u64 = code.parse().unwrap();
                        r.engine.verify(&token, &format!("{:06}", (n + 1 + i * 3 + k) % 1_000_000))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().flat_map(|h| h.join().unwrap()).collect();
    let wrong = results.iter().filter(|r| matches!(r, Err(Error::WrongCode { .. }))).count();
    let capped = results.iter().filter(|r| **r == Err(Error::TooManyAttempts)).count();
    assert_eq!(wrong, 5, "exactly the cap is evaluated: {results:?}");
    assert_eq!(capped, 24 - 5);
    let mut left: Vec<u32> = results.iter().filter_map(|r| r.as_ref().err().and_then(Error::attempts_left)).collect();
    left.sort();
    assert_eq!(left, vec![0, 1, 2, 3, 4], "every try counted once");
    assert_eq!(r.events.kinds().iter().filter(|k| **k == EventKind::Failed).count(), 5);
    assert_eq!(r.engine.verify(&issued.token, &issued.code), Err(Error::TooManyAttempts));
}

#[test]
fn keys_rotate_without_breaking_live_challenges() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = ManualClock::new(T0);
    let engine = |ring: KeyRing| {
        Engine::builder(Config::default())
            .clock(Arc::new(clock.clone()))
            .store(store.clone())
            .key_ring(ring)
            .build()
            .unwrap()
    };
    let old = engine(ring(&[1], 1, 1));
    let issued_old = email(&old, "jane@example.com", Purpose::SignIn).unwrap();
    let wrong_try = old.verify(&issued_old.token, &wrong(&issued_old.code)).unwrap_err();
    assert_eq!(wrong_try, Error::WrongCode { attempts_left: 4 });
    // Key 2 is added and made active; key 1 stays for verifying and indexing.
    let rotated = engine(ring(&[1, 2], 2, 1));
    let issued_new = email(&rotated, "john@example.com", Purpose::SignIn).unwrap();
    assert_eq!(rotated.verify(&issued_old.token, &issued_old.code).unwrap().identifier, "jane@example.com");
    // The subject's record is found under the same index key: its history is kept.
    let again = email(&rotated, "jane@example.com", Purpose::SignUp).unwrap();
    assert_eq!(rotated.verify(&again.token, &wrong(&again.code)), Err(Error::WrongCode { attempts_left: 4 }));
    // A ring without key 2 cannot read tokens sealed by it.
    assert_eq!(old.verify(&issued_new.token, &issued_new.code), Err(Error::InvalidToken));
    rotated.verify(&issued_new.token, &issued_new.code).unwrap();
}

#[test]
fn tenants_sharing_a_store_stay_apart() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let make = |tenant: &str| {
        Engine::builder(Config::parse(&format!("tenant = \"{tenant}\"")).unwrap())
            .store(store.clone())
            .key_ring(ring(&[1], 1, 1))
            .build()
            .unwrap()
    };
    let (a, b) = (make("realm-a"), make("realm-b"));
    let issued = email(&a, "jane@example.com", Purpose::SignIn).unwrap();
    assert_eq!(b.verify(&issued.token, &issued.code), Err(Error::InvalidToken));
    // realm-b's cooldown and counts are its own.
    email(&b, "jane@example.com", Purpose::SignIn).unwrap();
    a.verify(&issued.token, &issued.code).unwrap();
}

#[test]
fn verified_and_issued_debug_hide_secrets() {
    let r = rig("");
    let issued = email(&r.engine, "jane@example.com", Purpose::SignIn).unwrap();
    let shown = format!("{issued:?}");
    assert!(!shown.contains(issued.code.as_str()) && !shown.contains(&issued.token) && !shown.contains("jane"));
    let v = r.engine.verify(&issued.token, &issued.code).unwrap();
    assert!(!format!("{v:?}").contains("jane"));
}

#[test]
fn engine_from_config_refuses_unknown_store_and_weak_ring() {
    let e = Config::parse("store = \"memcached://x\"").unwrap_err();
    assert!(matches!(e, Error::PolicyOutOfBounds { field: "keys.ring", .. }), "a shared store needs a key ring");
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("k");
    std::fs::write(&key, key_bytes(1)).unwrap();
    let config = format!("store = \"memcached://x\"\n[[keys.ring]]\nid = 1\nfile = {:?}", key.to_str().unwrap());
    let e = Engine::from_config(&Config::parse(&config).unwrap()).unwrap_err();
    assert!(matches!(e, Error::PolicyOutOfBounds { field: "store", .. }), "{e}");
    assert_eq!(
        KeyRing::new(vec![(1, vec![0u8; 32])], 1, 1).unwrap_err(),
        Error::WeakKey { id: 1, reason: "too few distinct bytes to be random" }
    );
}

#[test]
fn s13_guessing_bound_holds_under_the_default_policy() {
    // With the defaults, an attacker gets at most 100 evaluated guesses (the 100th failure
    // locks the subject for good) against six-digit codes: at most 1e-4 success chance.
    let r = rig("[policy]\nresend_cooldown_seconds = 0\nsubject_sends = { max = 20, window_seconds = 1 }");
    let mut evaluated = 0;
    'outer: loop {
        r.clock.advance(7200); // outwait every temporary lock and the send window
        let issued = email(&r.engine, "victim@example.com", Purpose::SignIn).unwrap();
        loop {
            match r.engine.verify(&issued.token, &wrong(&issued.code)) {
                Err(Error::WrongCode { .. }) => evaluated += 1,
                Err(Error::WrongCodeLocked { retry_after: None, .. }) => {
                    evaluated += 1;
                    break 'outer;
                }
                Err(Error::WrongCodeLocked { .. }) => {
                    evaluated += 1;
                    break;
                }
                Err(Error::TooManyAttempts) => break,
                other => panic!("{other:?}"),
            }
        }
    }
    assert_eq!(evaluated, 100);
    let chance = evaluated as f64 / 1e6;
    assert!(chance <= 1e-4);
    r.clock.advance(29 * 86_400);
    assert_eq!(
        email(&r.engine, "victim@example.com", Purpose::SignIn).unwrap_err(),
        Error::SubjectLocked { retry_after: None },
        "a hard lock holds for the failure record's life (30 days by default) after the last failure"
    );
    r.clock.advance(86_400);
    email(&r.engine, "victim@example.com", Purpose::SignIn).expect("then the record is forgotten");
}

/// Draws a fixed value for a numeric code: an issue draws its challenge id (16 bytes) and its
/// code (8 bytes) in one call, a resend the code alone; the code's draw is the last 8 bytes.
struct FixedDraw(u64);

impl passcode_core::Random for FixedDraw {
    fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
        buf.iter_mut().enumerate().for_each(|(i, b)| *b = i as u8);
        let (len, code_draw) = (buf.len(), buf.len().saturating_sub(8));
        buf[code_draw..].copy_from_slice(&self.0.to_le_bytes()[..len - code_draw]);
        Ok(())
    }
}

#[test]
fn s3_a_code_with_a_leading_zero_is_delivered_and_checked_as_such() {
    let clock = ManualClock::new(T0);
    let engine = Engine::builder(Config::parse("[messages]\ndomain = \"example.com\"").unwrap())
        .clock(Arc::new(clock.clone()))
        .random(Arc::new(FixedDraw(12_345)))
        .key_ring(ring(&[1], 1, 1))
        .build()
        .unwrap();
    let issued = engine
        .issue(&IssueRequest {
            channel: Channel::Sms,
            identifier: "+14155552671",
            purpose: Purpose::SignIn,
            client: None,
            locale: None,
        })
        .unwrap();
    assert_eq!(issued.code.as_str(), "012345");
    let sms = issued.message.sms().unwrap();
    assert!(sms.text.starts_with("012345 is your"));
    assert_eq!(sms.text.lines().last().unwrap(), "@example.com #012345");
    assert_eq!(engine.verify(&issued.token, "12345"), Err(Error::WrongCode { attempts_left: 4 }));
    engine.verify(&issued.token, "012345").unwrap();
}

#[test]
fn the_engine_is_shared_between_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Engine>();
    assert_send_sync::<MemoryStore>();
}

#[test]
fn two_engines_on_one_host_store_without_keys_refuse_to_start() {
    // Each would draw a key of its own: two counts of failures for one address, and a fresh
    // count after every restart. With a store the host gave, a key ring is required.
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    for config in ["", "[messages]\napp_name = \"Acme\""] {
        let e = Engine::builder(Config::parse(config).unwrap()).store(store.clone()).build().unwrap_err();
        assert!(matches!(e, Error::PolicyOutOfBounds { field: "keys.ring", .. }), "{e}");
    }
    // A test that wants it says so.
    let ephemeral = Config::parse("[keys]\nephemeral = true").unwrap();
    Engine::builder(ephemeral).store(store.clone()).build().unwrap();
    // The engine's own memory store dies with it: no ring is needed there.
    Engine::from_config(&Config::default()).unwrap();
}

/// A host's secret store: keys by the names the config gives, whatever kind of name it is.
struct SecretManager(Vec<(&'static str, Vec<u8>)>);

impl passcode_core::KeyReader for SecretManager {
    fn read(&self, _id: u8, location: passcode_core::KeyLocation<'_>) -> Result<zeroize::Zeroizing<Vec<u8>>, String> {
        let name = match location {
            passcode_core::KeyLocation::File(n) | passcode_core::KeyLocation::Env(n) => n,
        };
        let found = self.0.iter().find(|(n, _)| *n == name).map(|(_, k)| zeroize::Zeroizing::new(k.clone()));
        found.ok_or_else(|| "not in the secret manager".to_string())
    }
}

#[test]
fn a_hosts_key_reader_gives_every_engine_on_a_shared_store_the_same_ring() {
    // The ring's entries name secrets the host's reader resolves: not this process's files
    // or variables (neither exists here). Two engines with it are one engine on one store.
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let config = "[[keys.ring]]\nid = 1\nfile = \"vault:passcode/1\"\n[[keys.ring]]\nid = 2\nenv = \"PASSCODE_2\"\n\
                  [keys]\nindex = 1";
    let reader = || Box::new(SecretManager(vec![("vault:passcode/1", key_bytes(1)), ("PASSCODE_2", key_bytes(2))]));
    let engine = || {
        let clock = Arc::new(ManualClock::new(T0));
        Engine::builder(Config::parse(config).unwrap()).store(store.clone()).clock(clock).key_reader(reader()).build()
    };
    let (a, b) = (engine().unwrap(), engine().unwrap());
    let issued = email(&a, "jane@example.com", Purpose::SignIn).unwrap();
    assert_eq!(b.verify(&issued.token, &issued.code).unwrap().identifier, "jane@example.com");
    // The same key rules: a secret the host lacks is key-unavailable, with the host's words.
    let missing = Engine::builder(Config::parse("[[keys.ring]]\nid = 3\nenv = \"PASSCODE_3\"").unwrap())
        .store(store.clone())
        .key_reader(reader())
        .build()
        .unwrap_err();
    assert_eq!(
        missing,
        Error::KeyUnavailable { id: 3, source: "the host's key reader (not in the secret manager)".into() }
    );
    // And a reader is no way around the ring: with a host store and no ring, still refused.
    let e = Engine::builder(Config::default()).store(store).key_reader(reader()).build().unwrap_err();
    assert!(matches!(e, Error::PolicyOutOfBounds { field: "keys.ring", .. }), "{e}");
}

#[test]
fn a_retired_index_only_key_keeps_the_counts_and_verifies_nothing() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let clock = ManualClock::new(T0);
    let engine = |ring: KeyRing| {
        Engine::builder(Config::parse("[policy]\nlockout_threshold = 3").unwrap())
            .clock(Arc::new(clock.clone()))
            .store(store.clone())
            .key_ring(ring)
            .build()
            .unwrap()
    };
    let old = engine(ring(&[1], 1, 1));
    let first = email(&old, "jane@example.com", Purpose::SignIn).unwrap();
    old.verify(&first.token, &wrong(&first.code)).unwrap_err();
    old.verify(&first.token, &wrong(&first.code)).unwrap_err();
    // Step 3 of the rotation: key 1 retired to index-only, key 2 signs.
    let retired = engine(ring(&[1, 2], 2, 1).with_index_only(&[1]).unwrap());
    assert_eq!(retired.verify(&first.token, &first.code), Err(Error::InvalidToken), "key 1 no longer verifies");
    let second = email(&retired, "jane@example.com", Purpose::SignUp).unwrap();
    assert!(
        matches!(retired.verify(&second.token, &wrong(&second.code)), Err(Error::WrongCodeLocked { .. })),
        "the third failure locks: the count survived the rotation"
    );
    // Dropping key 1 instead would have moved the index and reset the count: a config with
    // two keys must name the index key, and one that names a dropped key is refused.
    let e = KeyRing::new(vec![(2, key_bytes(2))], 2, 1).unwrap_err();
    assert!(matches!(e, Error::PolicyOutOfBounds { field: "keys.index", .. }));
}

/// A store that keeps every time to live it is asked for.
#[derive(Default)]
struct Ttls {
    inner: MemoryStore,
    ttls: Mutex<Vec<Option<u64>>>,
}

impl Store for Ttls {
    fn get(&self, key: &StoreKey, now: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        self.inner.get(key, now)
    }
    fn put(
        &self,
        key: &StoreKey,
        v: &[u8],
        ttl: Option<u64>,
        e: Expected,
        now: u64,
    ) -> Result<Option<u64>, StoreError> {
        self.ttls.lock().unwrap().push(ttl);
        self.inner.put(key, v, ttl, e, now)
    }
    fn delete(&self, key: &StoreKey, version: u64, now: u64) -> Result<bool, StoreError> {
        self.inner.delete(key, version, now)
    }
}

#[test]
fn a_failure_record_expires_after_its_configured_life() {
    let store = Arc::new(Ttls::default());
    let r = rig_with("[policy]\nfailure_record_seconds = 3000000\nlockout_threshold = 3", store.clone());
    let a = email(&r.engine, "jane@example.com", Purpose::SignIn).unwrap();
    r.engine.verify(&a.token, &wrong(&a.code)).unwrap_err();
    assert_eq!(store.ttls.lock().unwrap().last(), Some(&Some(3_000_000)), "the store is told the record's life");
    assert!(store.ttls.lock().unwrap().iter().all(Option::is_some), "no record is kept for ever");
    r.clock.advance(3_000_000);
    store.inner.sweep(T0 + 3_000_000);
    assert_eq!(store.inner.len(), 0, "the failure record expired with its life");
    let b = email(&r.engine, "jane@example.com", Purpose::SignIn).unwrap();
    assert_eq!(r.engine.verify(&b.token, &wrong(&b.code)), Err(Error::WrongCode { attempts_left: 4 }));
}

#[test]
fn no_600_second_window_passes_more_than_20_sends_from_one_client() {
    // Sends from one client at uneven times, each to a new address (so only the client's
    // bucket limits them); then every window of 600 s is checked.
    let r = rig("");
    let mut sent = Vec::new();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..3000u32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        r.clock.advance(x % 13);
        let address = format!("user{i}@example.com");
        let request = IssueRequest {
            channel: Channel::Email,
            identifier: &address,
            purpose: Purpose::SignIn,
            client: Some("203.0.113.7"),
            locale: None,
        };
        match r.engine.issue(&request) {
            Ok(_) => sent.push(passcode_core::Clock::now(&r.clock)),
            Err(Error::SendLimit { .. }) => {}
            Err(e) => panic!("{e}"),
        }
    }
    let (first, last) = (T0, passcode_core::Clock::now(&r.clock));
    for start in first.saturating_sub(600)..=last {
        let n = sent.iter().filter(|t| **t >= start && **t < start + 600).count();
        assert!(n <= 20, "{n} sends in [{start}, {})", start + 600);
    }
    assert!(sent.len() >= 20 * ((last - first) / 660) as usize, "and about 20 per window do pass: {}", sent.len());
}

#[test]
fn a_clock_at_the_end_of_time_is_an_error() {
    let r = rig("");
    let a = email(&r.engine, "jane@example.com", Purpose::SignIn).unwrap();
    for bad in [u64::MAX, 0, 1_000_000_000, 253_402_300_800] {
        r.clock.set(bad);
        assert_eq!(email(&r.engine, "john@example.com", Purpose::SignIn).unwrap_err(), Error::ClockOutOfRange);
        assert_eq!(r.engine.verify(&a.token, &a.code), Err(Error::ClockOutOfRange));
        assert_eq!(r.engine.resend(&a.token, None, None).unwrap_err(), Error::ClockOutOfRange);
        assert_eq!(r.engine.cancel(&a.token), Err(Error::ClockOutOfRange));
        assert_eq!(r.engine.unlock(Channel::Email, "jane@example.com"), Err(Error::ClockOutOfRange));
    }
    r.clock.set(T0);
    r.engine.verify(&a.token, &a.code).expect("nothing was changed by the refused calls");
}

#[test]
fn every_refused_guess_emits_an_event_and_a_counted_one_says_so() {
    let r = rig("[policy]\nlockout_threshold = 2\nmax_attempts = 3");
    let a = email(&r.engine, "jane@example.com", Purpose::SignIn).unwrap();
    assert_eq!(r.engine.verify(&a.token, &wrong(&a.code)), Err(Error::WrongCode { attempts_left: 2 }));
    assert_eq!(
        r.engine.verify(&a.token, &wrong(&a.code)),
        Err(Error::WrongCodeLocked { attempts_left: 1, retry_after: Some(60) }),
        "counted, and it started the lock"
    );
    assert_eq!(r.engine.verify(&a.token, &a.code), Err(Error::SubjectLocked { retry_after: Some(60) }), "unseen");
    r.clock.advance(60);
    assert_eq!(r.engine.verify(&a.token, &wrong(&a.code)), Err(Error::WrongCode { attempts_left: 0 }));
    assert_eq!(r.engine.verify(&a.token, &a.code), Err(Error::TooManyAttempts), "past the challenge's cap");
    r.engine.cancel(&a.token).unwrap();
    assert_eq!(r.engine.verify(&a.token, &a.code), Err(Error::NotFound), "a challenge that is gone");
    use EventKind::*;
    let events = r.events.events();
    let kinds: Vec<EventKind> = events.iter().map(|e| e.kind).collect();
    assert_eq!(kinds, vec![Issued, Failed, Failed, Locked, Refused, Failed, Refused, Cancelled, Refused]);
    let numbers: Vec<Option<u32>> = events.iter().map(|e| e.error).collect();
    assert_eq!(
        numbers,
        vec![None, Some(3001), Some(3006), Some(3006), Some(3004), Some(3001), Some(3003), None, Some(3005)]
    );
}

#[test]
fn an_account_is_one_subject_across_its_address_and_number() {
    let r = rig("[policy]\nlockout_threshold = 2");
    let request = |channel, identifier| IssueRequest {
        channel,
        identifier,
        purpose: Purpose::SignIn,
        client: None,
        locale: None,
    };
    let by_mail = r.engine.issue_for_account("acct-1", &request(Channel::Email, "jane@example.com")).unwrap();
    r.engine.verify(&by_mail.token, &wrong(&by_mail.code)).unwrap_err();
    r.clock.advance(30);
    let by_sms = r.engine.issue_for_account("acct-1", &request(Channel::Sms, "+14155552671")).unwrap();
    assert!(matches!(r.engine.verify(&by_sms.token, &wrong(&by_sms.code)), Err(Error::WrongCodeLocked { .. })));
    r.engine.unlock_account("acct-1").unwrap();
    let v = r.engine.verify(&by_sms.token, &by_sms.code).unwrap();
    assert_eq!((v.identifier.as_str(), v.account.as_deref()), ("+14155552671", Some("acct-1")));
    assert_eq!(r.engine.verify(&by_mail.token, &by_mail.code), Err(Error::NotFound), "one challenge per purpose");
    // The account id is personal data: not in the token, the events or the store's keys.
    assert!(!by_sms.token.contains("acct-1"));
    assert!(r.events.events().iter().all(|e| !format!("{e:?}").contains("acct-1")));
}

#[test]
fn a_token_tells_its_channel_without_touching_the_store() {
    let store = Arc::new(Recording::default());
    let r = rig_with("", store.clone());
    let by_email = email(&r.engine, "ch@example.com", Purpose::SignIn).unwrap();
    let by_sms = sms(&r.engine, "+44 7400 123456", Purpose::SignIn).unwrap();
    let (writes, events) = (store.writes.lock().unwrap().len(), r.events.events().len());
    assert_eq!(r.engine.challenge_channel(&by_email.token), Ok(Channel::Email));
    assert_eq!(r.engine.challenge_channel(&format!(" {}\n", by_sms.token)), Ok(Channel::Sms));
    let mut forged = by_sms.token.clone().into_bytes();
    let last = forged.len() - 1;
    forged[last] = if forged[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(r.engine.challenge_channel(std::str::from_utf8(&forged).unwrap()), Err(Error::InvalidToken));
    assert_eq!(r.engine.challenge_channel(""), Err(Error::InvalidToken));
    assert_eq!(store.writes.lock().unwrap().len(), writes, "nothing written");
    assert_eq!(r.events.events().len(), events, "no event");
    // The challenge is untouched: its code still verifies.
    assert!(r.engine.verify(&by_sms.token, &by_sms.code).is_ok());
}
