//! Properties that must hold for any interleaving of operations, and the codes' uniformity.

use std::collections::HashSet;
use std::sync::Arc;

use passcode_core::{
    generate_code, Alphabet, Channel, Config, Engine, Error, IssueRequest, KeyRing, ManualClock, OsRandom, Policy,
    Purpose,
};
use proptest::prelude::*;

const T0: u64 = 1_800_000_000;

#[derive(Clone, Debug)]
enum Op {
    Issue(usize),
    Resend(usize),
    VerifyRight(usize),
    VerifyWrong(usize),
    VerifyOther { code_of: usize, on: usize },
    VerifyPrevious(usize),
    Advance(u64),
    Unlock,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (0..3usize).prop_map(Op::Issue),
        2 => (0..3usize).prop_map(Op::Resend),
        3 => (0..3usize).prop_map(Op::VerifyRight),
        6 => (0..3usize).prop_map(Op::VerifyWrong),
        2 => (0..3usize, 0..3usize).prop_map(|(code_of, on)| Op::VerifyOther { code_of, on }),
        1 => (0..3usize).prop_map(Op::VerifyPrevious),
        3 => prop_oneof![Just(1u64), Just(29), Just(30), Just(61), Just(299), Just(601), Just(3600)].prop_map(Op::Advance),
        1 => Just(Op::Unlock),
    ]
}

/// What the test knows of one challenge slot.
#[derive(Clone, Default)]
struct Slot {
    token: String,
    code: String,
    previous: Vec<String>,
    expires_at: u64,
    used: bool,
}

const PURPOSES: [Purpose; 3] = [Purpose::SignIn, Purpose::SignUp, Purpose::Recovery];

fn engine(clock: &ManualClock) -> Engine {
    let config = Config::parse(
        "[policy]\nmax_attempts = 3\nlockout_threshold = 4\nhard_lock_failures = 12\nlockout_base_seconds = 60\n\
         resend_cooldown_seconds = 30\nsubject_sends = { max = 20, window_seconds = 60 }\n\
         failure_budget = { max = 9, window_seconds = 86400 }",
    )
    .unwrap();
    let key: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(97).wrapping_add(3)).collect();
    Engine::builder(config)
        .clock(Arc::new(clock.clone()))
        .key_ring(KeyRing::new(vec![(1, key)], 1, 1).unwrap())
        .build()
        .unwrap()
}

fn wrong_for(slot: &Slot, salt: u64) -> String {
    let n: u64 = slot.code.parse().unwrap_or(0);
    let mut k = salt + 1;
    loop {
        let c = format!("{:06}", (n + k) % 1_000_000);
        if c != slot.code && !slot.previous.contains(&c) {
            return c;
        }
        k += 1;
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// For any interleaving against one subject: wrong guesses evaluated between locks never
    /// exceed the lock threshold, never the hard cap in all, and never the failure budget in
    /// any window of its length; a code never verifies twice, never for another challenge,
    /// never after expiry, never after a resend replaced it.
    #[test]
    fn limits_and_single_use_hold_for_any_interleaving(ops in prop::collection::vec(op(), 1..80)) {
        let clock = ManualClock::new(T0);
        let e = engine(&clock);
        let policy = e.policy().clone();
        let who = "victim@example.com";
        let mut slots: Vec<Option<Slot>> = vec![None, None, None];
        let mut wrong_since_lock = 0u32;
        let mut wrong_since_success = 0u32;
        let mut salt = 0u64;
        let mut verified: HashSet<(String, String)> = HashSet::new();
        let mut failure_times: Vec<u64> = Vec::new();
        for op in ops {
            let now = clock.now_for_test();
            // The outcome of one verify: Some(true) success, Some(false) a guess evaluated and wrong.
            let mut evaluated: Option<bool> = None;
            let mut locked_by_this = false;
            match op {
                Op::Advance(s) => clock.advance(s),
                Op::Unlock => {
                    e.unlock(Channel::Email, who).unwrap();
                    wrong_since_lock = 0;
                    wrong_since_success = 0;
                    failure_times.clear();
                }
                Op::Issue(i) => {
                    let req = IssueRequest { channel: Channel::Email, identifier: who, purpose: PURPOSES[i], client: None, locale: None };
                    if let Ok(issued) = e.issue(&req) {
                        // A new challenge replaces the old one of the same purpose.
                        slots[i] = Some(Slot { token: issued.token, code: issued.code.to_string(), previous: vec![], expires_at: issued.expires_at, used: false });
                    }
                }
                Op::Resend(i) => {
                    if let Some(slot) = slots[i].as_mut() {
                        match e.resend(&slot.token, None, None) {
                            Ok(again) => {
                                prop_assert!(!slot.used, "a used challenge cannot be re-sent");
                                prop_assert!(now < slot.expires_at);
                                prop_assert_eq!(&again.token, &slot.token);
                                let old = std::mem::replace(&mut slot.code, again.code.to_string());
                                slot.previous.push(old);
                                slot.expires_at = again.expires_at;
                            }
                            Err(err) => prop_assert!(err.number() >= 3000, "{err}"),
                        }
                    }
                }
                Op::VerifyRight(i) | Op::VerifyWrong(i) | Op::VerifyPrevious(i) => {
                    if let Some(slot) = slots[i].clone() {
                        let code = match op {
                            Op::VerifyRight(_) => slot.code.clone(),
                            Op::VerifyPrevious(_) => match slot.previous.last() { Some(p) => p.clone(), None => continue },
                            _ => { salt += 1; wrong_for(&slot, salt) }
                        };
                        let right = code == slot.code;
                        match e.verify(&slot.token, &code) {
                            Ok(v) => {
                                prop_assert!(right, "only the current code verifies");
                                prop_assert!(!slot.used, "a code verifies once");
                                prop_assert!(now < slot.expires_at, "nothing verifies after expiry");
                                prop_assert!(verified.insert((slot.token.clone(), code)), "never twice");
                                prop_assert_eq!(v.purpose, PURPOSES[i]);
                                slots[i].as_mut().unwrap().used = true;
                                evaluated = Some(true);
                            }
                            Err(Error::WrongCode { .. }) => { prop_assert!(!right); evaluated = Some(false); }
                            Err(Error::WrongCodeLocked { .. }) => {
                                // Counted, and it started a lock.
                                prop_assert!(!right);
                                evaluated = Some(false);
                                locked_by_this = true;
                            }
                            Err(_) => {}
                        }
                    }
                }
                Op::VerifyOther { code_of, on } => {
                    if let (Some(a), Some(b)) = (slots[code_of].clone(), slots[on].clone()) {
                        if code_of != on && a.code != b.code && !b.previous.contains(&a.code) {
                            match e.verify(&b.token, &a.code) {
                                Ok(_) => prop_assert!(false, "a code verified for another challenge"),
                                Err(Error::WrongCode { .. }) => evaluated = Some(false),
                                Err(Error::WrongCodeLocked { .. }) => {
                                    evaluated = Some(false);
                                    locked_by_this = true;
                                }
                                Err(_) => {}
                            }
                        }
                    }
                }
            }
            match evaluated {
                Some(true) => { wrong_since_lock = 0; wrong_since_success = 0; }
                Some(false) => {
                    wrong_since_lock += 1;
                    wrong_since_success += 1;
                    failure_times.push(now);
                    let window = policy.failure_budget.window_seconds;
                    let in_window = failure_times.iter().filter(|t| **t + window > now).count() as u32;
                    prop_assert!(in_window <= policy.failure_budget.max, "{} failures in one budget window", in_window);
                    prop_assert!(wrong_since_success <= policy.hard_lock_failures);
                    if locked_by_this {
                        prop_assert!(wrong_since_lock <= policy.lockout_threshold);
                        wrong_since_lock = 0;
                    } else {
                        // A WrongCode answer means no lock was due: fewer than the threshold since the last.
                        prop_assert!(wrong_since_lock < policy.lockout_threshold, "{} wrong guesses without a lock", wrong_since_lock);
                    }
                }
                None => {}
            }
        }
    }
}

/// `now()` without importing the trait in every closure.
trait NowForTest {
    fn now_for_test(&self) -> u64;
}
impl NowForTest for ManualClock {
    fn now_for_test(&self) -> u64 {
        passcode_core::Clock::now(self)
    }
}

/// Wilson-Hilferty: the chi-square value exceeded with probability 1e-6 for `df` degrees.
fn chi_square_critical_1e6(df: f64) -> f64 {
    let z = 4.753_424; // one-sided normal quantile for 1e-6
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + z * a.sqrt()).powi(3)
}

fn chi_square(counts: &[u64], total: u64) -> f64 {
    let expected = total as f64 / counts.len() as f64;
    counts.iter().map(|c| (*c as f64 - expected).powi(2) / expected).sum()
}

/// S1: 1,000,000 codes from the OS CSPRNG, tested for uniformity by each digit position, by
/// the first and last three digits (1000 cells each), and for duplicates against the birthday
/// bound. A false alarm happens once in about a million runs per check.
#[test]
fn s1_one_million_codes_are_uniform() {
    let policy = Policy::default();
    let n = 1_000_000u64;
    let mut by_position = [[0u64; 10]; 6];
    let mut head = vec![0u64; 1000];
    let mut tail = vec![0u64; 1000];
    let mut whole = vec![0u32; 1_000_000];
    for _ in 0..n {
        let code = generate_code(&policy, &OsRandom).unwrap();
        let b = code.as_bytes();
        assert_eq!(b.len(), 6);
        for (i, d) in b.iter().enumerate() {
            by_position[i][(d - b'0') as usize] += 1;
        }
        let v: usize = code.parse().unwrap();
        head[v / 1000] += 1;
        tail[v % 1000] += 1;
        whole[v] += 1;
    }
    for (i, counts) in by_position.iter().enumerate() {
        let x = chi_square(counts, n);
        assert!(x < chi_square_critical_1e6(9.0), "position {i}: chi-square {x:.1}");
    }
    for (name, counts) in [("first three digits", &head), ("last three digits", &tail)] {
        let x = chi_square(counts, n);
        assert!(x < chi_square_critical_1e6(999.0), "{name}: chi-square {x:.1}");
    }
    // Over all 10^6 values, with 10^6 draws the count per value is Poisson(1): about 36.8% of
    // values never appear. A biased generator (e.g. a short cycle) would leave many more empty.
    let empty = whole.iter().filter(|c| **c == 0).count() as f64 / 1e6;
    assert!((empty - (-1f64).exp()).abs() < 0.005, "{empty}");
    // Leading zeros are as common as any other first digit (S3).
    assert!(by_position[0][0] > 90_000);
}

#[test]
fn s1_alphanumeric_codes_are_uniform() {
    let policy = Policy { alphabet: Alphabet::Alphanumeric, code_length: 8, ..Policy::default() };
    let symbols = Alphabet::Alphanumeric.symbols();
    let n = 200_000u64;
    let mut counts = vec![[0u64; 31]; 8];
    for _ in 0..n {
        let code = generate_code(&policy, &OsRandom).unwrap();
        for (i, c) in code.bytes().enumerate() {
            counts[i][symbols.iter().position(|s| *s == c).unwrap()] += 1;
        }
    }
    for (i, c) in counts.iter().enumerate() {
        let x = chi_square(c, n);
        assert!(x < chi_square_critical_1e6(30.0), "position {i}: chi-square {x:.1}");
    }
}

#[test]
fn chi_square_critical_values_match_tables() {
    // Published: df=9 at 1e-6 is 45.97, df=999 about 1226; the approximation is within 1%.
    assert!((chi_square_critical_1e6(9.0) - 45.97).abs() / 45.97 < 0.01);
    assert!((chi_square_critical_1e6(999.0) - 1226.0).abs() / 1226.0 < 0.01);
}
