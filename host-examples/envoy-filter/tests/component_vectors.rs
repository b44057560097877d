//! The scenario vectors of tests/vectors through the WASI component in wasmtime, the host
//! moving the guest's wall clock, and in Node.js through jco with the same outcomes; and the
//! component's error numbers against core's table.

mod jco_host;

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::{Arc, OnceLock};

use passcode_envoy_filter::host::{
    attempts_left, error_name, error_number, require_wasm, retry_after, Channel, ComponentHost, EngineError, HostClock,
    IssueRequest, Issued, Message, Purpose, Worker,
};
use passcode_vectors::{Failure, IssuedInfo, Surface, VerifiedInfo};

/// The component, compiled once for every test of this file.
fn compiled() -> &'static ComponentHost {
    static HOST: OnceLock<ComponentHost> = OnceLock::new();
    HOST.get_or_init(|| {
        let wasm = require_wasm().unwrap_or_else(|m| panic!("{m}"));
        ComponentHost::builder(&wasm).build().unwrap_or_else(|e| panic!("{e}"))
    })
}

fn failure(e: EngineError) -> Failure {
    Failure { number: error_number(&e), attempts_left: attempts_left(&e), retry_after: retry_after(&e) }
}

fn info(i: Issued) -> IssuedInfo {
    let message_text = match i.message {
        Message::Sms(s) => s.text,
        Message::Email(e) => e.text,
    };
    IssuedInfo { token: i.token, code: i.code, expires_at: i.expires_at, resend_at: i.resend_at, message_text }
}

fn channel(name: &str) -> Result<Channel, Failure> {
    match name {
        "email" => Ok(Channel::Email),
        "sms" => Ok(Channel::Sms),
        _ => Err(Failure { number: 1008, attempts_left: None, retry_after: None }),
    }
}

fn purpose(name: &str) -> Result<Purpose, Failure> {
    Ok(match name {
        "sign-up" => Purpose::SignUp,
        "sign-in" => Purpose::SignIn,
        "second-factor" => Purpose::SecondFactor,
        "verify-contact" => Purpose::VerifyContact,
        "recovery" => Purpose::Recovery,
        _ => return Err(Failure { number: 1008, attempts_left: None, retry_after: None }),
    })
}

fn channel_name(c: Channel) -> String {
    match c {
        Channel::Email => "email".into(),
        Channel::Sms => "sms".into(),
    }
}

fn purpose_name(p: Purpose) -> String {
    match p {
        Purpose::SignUp => "sign-up",
        Purpose::SignIn => "sign-in",
        Purpose::SecondFactor => "second-factor",
        Purpose::VerifyContact => "verify-contact",
        Purpose::Recovery => "recovery",
    }
    .into()
}

/// The component as a vector surface: a fresh shared store and a manual wall clock per vector.
#[derive(Default)]
struct ComponentSurface {
    clock: Option<HostClock>,
    worker: Option<Worker>,
}

impl ComponentSurface {
    fn worker(&mut self) -> &mut Worker {
        self.worker.as_mut().expect("opened")
    }
}

/// Every call through the component: a trap fails the test at once, naming the call.
fn call<T>(what: &str, r: Result<Result<T, EngineError>, wasmtime::Error>) -> Result<T, Failure> {
    r.unwrap_or_else(|trap| panic!("{what} trapped: {trap:#}")).map_err(failure)
}

impl Surface for ComponentSurface {
    fn open(&mut self, config_json: &str, now: u64) -> Result<(), Failure> {
        let clock = HostClock::manual(now);
        // The host's key reader reads the ring's key files: let it read their folders.
        let config: serde_json::Value = serde_json::from_str(config_json).expect("the runner writes JSON");
        let mut builder = compiled().rebuild().clock(clock.clone());
        for key in config["keys"]["ring"].as_array().into_iter().flatten() {
            if let Some(dir) = key["file"].as_str().and_then(|f| PathBuf::from(f).parent().map(|d| d.to_path_buf())) {
                builder = builder.read_only_dir(&dir);
            }
        }
        let host = builder.build().expect("a host of the compiled component");
        self.worker = Some(call("open", host.open(config_json))?);
        self.clock = Some(clock);
        Ok(())
    }
    fn advance(&mut self, seconds: u64) {
        self.clock.as_ref().expect("opened").advance(seconds);
    }
    fn issue(
        &mut self,
        channel_name: &str,
        identifier: &str,
        purpose_name: &str,
        client: Option<&str>,
        locale: Option<&str>,
        account: Option<&str>,
    ) -> Result<IssuedInfo, Failure> {
        let request = IssueRequest {
            channel: channel(channel_name)?,
            identifier: identifier.into(),
            purpose: purpose(purpose_name)?,
            client: client.map(Into::into),
            locale: locale.map(Into::into),
        };
        match account {
            Some(a) => call("issue-for-account", self.worker().issue_for_account(a, &request)).map(info),
            None => call("issue", self.worker().issue(&request)).map(info),
        }
    }
    fn verify(&mut self, token: &str, code: &str) -> Result<VerifiedInfo, Failure> {
        call("verify", self.worker().verify(token, code)).map(|v| VerifiedInfo {
            identifier: v.identifier,
            channel: channel_name(v.channel),
            purpose: purpose_name(v.purpose),
            account: v.account,
        })
    }
    fn resend(&mut self, token: &str, client: Option<&str>) -> Result<IssuedInfo, Failure> {
        call("resend", self.worker().resend(token, client, None)).map(info)
    }
    fn cancel(&mut self, token: &str) -> Result<(), Failure> {
        call("cancel", self.worker().cancel(token))
    }
    fn unlock(&mut self, channel_name: &str, identifier: &str) -> Result<(), Failure> {
        call("unlock", self.worker().unlock(channel(channel_name)?, identifier))
    }
    fn unlock_account(&mut self, account: &str) -> Result<(), Failure> {
        call("unlock-account", self.worker().unlock_account(account))
    }
}

#[test]
fn every_vector_passes_through_the_component() {
    passcode_vectors::run_all_or_panic(&mut || Box::new(ComponentSurface::default()), passcode_core::ERROR_TABLE);
}

/// A surface that writes down every outcome of the one it wraps, apart from what is drawn at
/// random (tokens, codes, and the messages that carry them).
struct Recorded<S> {
    inner: S,
    log: Rc<RefCell<Vec<String>>>,
}

impl<S> Recorded<S> {
    fn note<T>(&self, what: &str, outcome: Result<T, Failure>, shown: impl Fn(&T) -> String) -> Result<T, Failure> {
        let line = match &outcome {
            Ok(v) => format!("{what}: {}", shown(v)),
            Err(f) => format!("{what}: {f:?}"),
        };
        self.log.borrow_mut().push(line);
        outcome
    }
}

fn times(i: &IssuedInfo) -> String {
    format!("expires {} resend {} code of {}", i.expires_at, i.resend_at, i.code.chars().count())
}

impl<S: Surface> Surface for Recorded<S> {
    fn open(&mut self, config_json: &str, now: u64) -> Result<(), Failure> {
        let r = self.inner.open(config_json, now);
        self.note("open", r, |_| String::new())
    }
    fn advance(&mut self, seconds: u64) {
        self.inner.advance(seconds);
        self.log.borrow_mut().push(format!("advance {seconds}"));
    }
    fn issue(
        &mut self,
        channel: &str,
        identifier: &str,
        purpose: &str,
        client: Option<&str>,
        locale: Option<&str>,
        account: Option<&str>,
    ) -> Result<IssuedInfo, Failure> {
        let r = self.inner.issue(channel, identifier, purpose, client, locale, account);
        self.note("issue", r, times)
    }
    fn verify(&mut self, token: &str, code: &str) -> Result<VerifiedInfo, Failure> {
        let r = self.inner.verify(token, code);
        self.note("verify", r, |v| format!("{v:?}"))
    }
    fn resend(&mut self, token: &str, client: Option<&str>) -> Result<IssuedInfo, Failure> {
        let r = self.inner.resend(token, client);
        self.note("resend", r, times)
    }
    fn cancel(&mut self, token: &str) -> Result<(), Failure> {
        let r = self.inner.cancel(token);
        self.note("cancel", r, |_| String::new())
    }
    fn unlock(&mut self, channel: &str, identifier: &str) -> Result<(), Failure> {
        let r = self.inner.unlock(channel, identifier);
        self.note("unlock", r, |_| String::new())
    }
    fn unlock_account(&mut self, account: &str) -> Result<(), Failure> {
        let r = self.inner.unlock_account(account);
        self.note("unlock-account", r, |_| String::new())
    }
}

#[test]
fn every_vector_passes_through_jco_in_node_with_the_outcomes_of_wasmtime() {
    let in_wasmtime = Rc::new(RefCell::new(Vec::new()));
    let log = in_wasmtime.clone();
    passcode_vectors::run_all_or_panic(
        &mut || Box::new(Recorded { inner: ComponentSurface::default(), log: log.clone() }),
        passcode_core::ERROR_TABLE,
    );
    let in_node = Rc::new(RefCell::new(Vec::new()));
    let log = in_node.clone();
    let node = jco_host::NodeHost::start();
    passcode_vectors::run_all_or_panic(
        &mut || Box::new(Recorded { inner: jco_host::JcoSurface(node.clone()), log: log.clone() }),
        passcode_core::ERROR_TABLE,
    );
    let (a, b) = (in_wasmtime.borrow(), in_node.borrow());
    for (i, (w, n)) in a.iter().zip(b.iter()).enumerate() {
        assert_eq!(w, n, "call {i}: wasmtime and jco differ");
    }
    assert_eq!(a.len(), b.len(), "as many calls in both hosts");
    eprintln!("{} calls with identical outcomes in wasmtime and in jco", a.len());
}

/// One WIT error per case, in core's table order (the compiler checks the match in
/// `component/src/error_number.rs`, shared by the guest and the host, covers every case;
/// this list covers every row).
fn one_error_per_case() -> Vec<EngineError> {
    use passcode_envoy_filter::host::bindings::passcode::engine::types::{
        ChannelPurpose, FieldReason, KeyProblem, LimitScope, SendLimit, TooLong, WrongCodeLocked,
    };
    let fr = || FieldReason { field: "f".into(), reason: "r".into() };
    let kp = || KeyProblem { id: 1, reason: "r".into() };
    vec![
        EngineError::InvalidEmail("r".into()),
        EngineError::InvalidPhone("r".into()),
        EngineError::InputTooLong(TooLong { field: "f".into(), max: 1 }),
        EngineError::InvalidUtf8("f".into()),
        EngineError::InvalidToken,
        EngineError::ChannelNotAllowed(ChannelPurpose { channel: Channel::Email, purpose: Purpose::SecondFactor }),
        EngineError::InvalidClientAddress,
        EngineError::InvalidArgument("f".into()),
        EngineError::ConfigSyntax("m".into()),
        EngineError::UnknownConfigField("f".into()),
        EngineError::PolicyOutOfBounds(fr()),
        EngineError::WeakKey(kp()),
        EngineError::KeyUnavailable(kp()),
        EngineError::InvalidTemplate(fr()),
        EngineError::WrongCode(2),
        EngineError::Expired,
        EngineError::TooManyAttempts,
        EngineError::SubjectLocked(Some(5)),
        EngineError::NotFound,
        EngineError::WrongCodeLocked(WrongCodeLocked { attempts_left: 1, retry_after: None }),
        EngineError::ResendTooSoon(3),
        EngineError::SendLimit(SendLimit { scope: LimitScope::Client, retry_after: 3 }),
        EngineError::DestinationBlocked,
        EngineError::StoreUnavailable("m".into()),
        EngineError::Contention,
        EngineError::CorruptRecord,
        EngineError::RandomUnavailable,
        EngineError::ClockOutOfRange,
    ]
}

#[test]
fn every_core_error_number_has_one_wit_case_and_back() {
    let mut instance = compiled().instantiate().expect("instantiate");
    let cases = one_error_per_case();
    assert_eq!(cases.len(), passcode_core::ERROR_TABLE.len(), "one WIT case per core number");
    for (case, (number, name)) in cases.iter().zip(passcode_core::ERROR_TABLE) {
        assert_eq!(instance.error_number(case).expect("no trap"), *number, "the component's number for {name}");
        assert_eq!(error_number(case), *number, "the host's number for {name}");
        assert_eq!(instance.error_name(case).expect("no trap"), *name);
        assert_eq!(error_name(case), *name, "the host's name for {name}");
    }
    let other = EngineError::Other((7001, "newer".into()));
    assert_eq!(instance.error_number(&other).expect("no trap"), 7001, "other carries its number");
    assert_eq!(instance.version().expect("no trap"), passcode_core::VERSION);
}

#[test]
fn instances_on_one_shared_store_are_one_engine() {
    // Two workers (two instances), one store and one key ring: a code issued on one verifies
    // on the other, once.
    let host = compiled()
        .rebuild()
        .store(Arc::new(passcode_core::MemoryStore::new()))
        .env("PASSCODE_KEY_1", "8f3a1c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a")
        .build()
        .unwrap();
    let config = r#"{"keys":{"ring":[{"id":1,"env":"PASSCODE_KEY_1"}]}}"#;
    let mut a = host.open(config).unwrap().unwrap();
    let mut b = host.open(config).unwrap().unwrap();
    let request = IssueRequest {
        channel: Channel::Email,
        identifier: "Jane@Example.com".into(),
        purpose: Purpose::SignIn,
        client: Some("203.0.113.9".into()),
        locale: None,
    };
    let issued = a.issue(&request).unwrap().unwrap();
    assert_eq!(issued.recipient, "Jane@example.com");
    let verified = b.verify(&issued.token, &issued.code).unwrap().unwrap();
    assert_eq!(verified.identifier, "Jane@example.com");
    assert!(matches!(a.verify(&issued.token, &issued.code).unwrap(), Err(EngineError::NotFound)));
}

#[test]
fn instances_on_one_store_count_concurrent_tries_exactly() {
    // Two worker threads, each with its own instance, guess on the same challenge at once:
    // the shared store's compare-and-swap makes them count as one engine (S8).
    let key = "8f3a1c5e7b9d2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a";
    let config = r#"{"keys":{"ring":[{"id":1,"env":"PASSCODE_KEY_1"}]}}"#;
    let host = Arc::new(compiled().rebuild().env("PASSCODE_KEY_1", key).build().unwrap());
    let issued = host
        .open(config)
        .unwrap()
        .unwrap()
        .issue(&IssueRequest {
            channel: Channel::Email,
            identifier: "jane@example.com".into(),
            purpose: Purpose::SignIn,
            client: None,
            locale: None,
        })
        .unwrap()
        .unwrap();
    let wrong = if issued.code == "000000" { "111111" } else { "000000" };
    let answers: Vec<EngineError> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                let host = host.clone();
                let token = issued.token.clone();
                s.spawn(move || {
                    let mut w = host.open(config).unwrap().unwrap();
                    (0..10).map(|_| w.verify(&token, wrong).unwrap().unwrap_err()).collect::<Vec<_>>()
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    let mut left: Vec<u32> = answers
        .iter()
        .filter_map(|e| match e {
            EngineError::WrongCode(n) => Some(*n),
            _ => None,
        })
        .collect();
    left.sort_unstable();
    assert_eq!(left, vec![0, 1, 2, 3, 4], "exactly five tries counted, each once");
    assert_eq!(answers.iter().filter(|e| matches!(e, EngineError::TooManyAttempts)).count(), 35);
}

#[test]
fn the_component_links_against_its_world_alone() {
    // This host's linker holds the world's imports and nothing else (no WASI library), so
    // compiling and instantiating at all shows the component needs nothing more; the names
    // are checked too (component/componentize/tests/imports.rs reads them from the file).
    let mut imports = compiled().imports();
    imports.sort();
    assert_eq!(
        imports,
        [
            "passcode:engine/keys@0.1.0",
            "passcode:engine/store@0.1.0",
            "passcode:engine/types@0.1.0",
            "wasi:clocks/wall-clock@0.2.12",
            "wasi:random/random@0.2.12",
        ]
    );
    compiled().instantiate().expect("instantiates with the world's imports alone");
}
