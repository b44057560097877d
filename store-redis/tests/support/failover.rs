//! A failover in the middle of a run: eight worker processes verify a series of challenges
//! (each raced by all of them with the right code, and guessed by all of them with wrong
//! codes) while the test fails the primary over; a probe times how long the store is
//! unavailable. Used by the Sentinel and the Cluster tests (included by path, since it
//! needs the worker binary, which only this crate's tests have).
#![allow(dead_code)] // Each test file uses a different part of this module.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use passcode_core::{Channel, Config, Engine, Error, Expected, IssueRequest, Issued, Purpose, Store};
use passcode_redis::{RedisOptions, RedisStore};

/// Worker processes per run.
pub const WORKERS: usize = 8;
/// Challenges raced, and challenges guessed, per run.
pub const ROUNDS: usize = 12;
/// The policy of these runs: five tries per challenge, no subject lock in reach.
pub const POLICY: &str = "[policy]\nmax_attempts = 5";
/// Tries per challenge under `POLICY`.
pub const MAX_ATTEMPTS: usize = 5;

/// The challenges of one run: `race[i]` is verified with its code by every worker,
/// `guess[i]` twice with a wrong code by every worker.
pub struct Challenges {
    pub race: Vec<Issued>,
    pub guess: Vec<Issued>,
}

/// Issues an email challenge for `who`.
pub fn issue_one(engine: &Engine, who: &str) -> Issued {
    engine
        .issue(&IssueRequest {
            channel: Channel::Email,
            identifier: who,
            purpose: Purpose::SignIn,
            client: None,
            locale: None,
        })
        .expect("issue before the failover")
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" {
        "000001"
    } else {
        "000000"
    }
}

impl Challenges {
    /// Issues the run's challenges, each to its own subject.
    pub fn issue(engine: &Engine, tag: &str) -> Challenges {
        Challenges {
            race: (0..ROUNDS).map(|i| issue_one(engine, &format!("race{i}.{tag}@example.com"))).collect(),
            guess: (0..ROUNDS).map(|i| issue_one(engine, &format!("guess{i}.{tag}@example.com"))).collect(),
        }
    }

    /// The worker's arguments: per round, the race pair then the guess pair twice.
    fn pairs(&self) -> Vec<String> {
        let mut args = Vec::new();
        for (race, guess) in self.race.iter().zip(&self.guess) {
            args.extend([race.token.clone(), race.code.to_string()]);
            for _ in 0..2 {
                args.extend([guess.token.clone(), wrong(&guess.code).to_string()]);
            }
        }
        args
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> u128 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis()
}

/// Starts one `passcode-redis-worker` with `args` after its config and start time.
pub fn spawn_worker(config: &Path, start_at: u128, args: &[String]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_passcode-redis-worker"))
        .arg(config)
        .arg(start_at.to_string())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the worker")
}

/// Starts the workers; they begin together at `start_at` and give up retrying 40 s later.
pub fn spawn_workers(config: &Path, challenges: &Challenges, start_at: u128) -> Vec<std::process::Child> {
    let mut args = vec!["sequence".to_string(), "40".to_string(), (start_at + 40_000).to_string()];
    args.extend(challenges.pairs());
    (0..WORKERS).map(|_| spawn_worker(config, start_at, &args)).collect()
}

/// Every worker's answer lines.
pub fn collect(workers: Vec<std::process::Child>) -> Vec<Vec<String>> {
    workers
        .into_iter()
        .map(|c| {
            let out = c.wait_with_output().expect("worker output");
            assert!(out.status.success(), "worker failed: {}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap().lines().map(str::to_string).collect()
        })
        .collect()
}

fn name(e: Error) -> String {
    format!("err {} {}", e.number(), e.name())
}

/// What a run's answers showed.
#[derive(Debug)]
pub struct Outcome {
    /// Challenges raced that exactly one worker verified.
    pub raced_once: usize,
    /// Challenges raced that nobody verified, because the answer to the one that used it
    /// was lost with the failover (the worker saw `store-unavailable` for it).
    pub raced_unanswered: usize,
    /// Wrong guesses answered `wrong-code`, over all guessed challenges.
    pub wrong_answers: usize,
    /// `store-unavailable` answers the workers saw and retried.
    pub unavailable: usize,
    /// Per round, the workers' `ok` answers for the raced challenge (0 or 1).
    race_ok: Vec<usize>,
    /// Per round, the `wrong-code` answers for the guessed challenge.
    guess_wrong: Vec<usize>,
}

/// Checks the run: each raced challenge verified at most once (and when by nobody, only
/// because an answer was lost to the failover); each guessed challenge answered `wrong-code`
/// at most its tries; every worker eventually got an answer that was not `store-unavailable`.
pub fn check(answers: &[Vec<String>], challenges: &Challenges) -> Outcome {
    let unavailable_prefix = format!("err {} ", Error::StoreUnavailable { message: String::new() }.number());
    let wrong_code = name(Error::WrongCode { attempts_left: 0 });
    let wrong_code = wrong_code.rsplit_once(' ').map_or(wrong_code.as_str(), |(n, _)| n).to_string();
    let mut outcome = Outcome {
        raced_once: 0,
        raced_unanswered: 0,
        wrong_answers: 0,
        unavailable: 0,
        race_ok: Vec::new(),
        guess_wrong: Vec::new(),
    };
    let pairs = challenges.race.len() * 3;
    // Per pair, the last answer of each worker, and whether any answer was `store-unavailable`.
    let mut finals: Vec<Vec<String>> = vec![Vec::new(); pairs];
    let mut saw_unavailable = vec![false; pairs];
    for worker in answers {
        let mut last: Vec<Option<&str>> = vec![None; pairs];
        for line in worker {
            let (index, answer) = line.split_once(' ').expect("INDEX ANSWER");
            let index: usize = index.parse().expect("index");
            if answer.starts_with(&unavailable_prefix) {
                saw_unavailable[index] = true;
                outcome.unavailable += 1;
            }
            last[index] = Some(answer);
        }
        for (pair, answer) in last.into_iter().enumerate() {
            let answer = answer.unwrap_or_else(|| panic!("a worker never answered pair {pair}: {worker:?}"));
            assert!(
                !answer.starts_with(&unavailable_prefix),
                "the store did not come back for pair {pair}: {worker:?}"
            );
            finals[pair].push(answer.to_string());
        }
    }
    for round in 0..challenges.race.len() {
        let race = &finals[round * 3];
        let ok = race.iter().filter(|a| *a == "ok").count();
        assert!(ok <= 1, "round {round}: a code was accepted {ok} times: {race:?}");
        assert!(
            race.iter().all(|a| a == "ok" || *a == name(Error::NotFound)),
            "round {round}: the others find the challenge used: {race:?}"
        );
        outcome.race_ok.push(ok);
        if ok == 1 {
            outcome.raced_once += 1;
        } else {
            assert!(saw_unavailable[round * 3], "round {round}: nobody verified and no answer was lost: {race:?}");
            outcome.raced_unanswered += 1;
        }
        let guesses: Vec<&String> = finals[round * 3 + 1].iter().chain(&finals[round * 3 + 2]).collect();
        let wrong = guesses.iter().filter(|a| a.starts_with(&wrong_code)).count();
        assert!(
            wrong <= MAX_ATTEMPTS,
            "round {round}: {wrong} wrong guesses evaluated, more than {MAX_ATTEMPTS}: {guesses:?}"
        );
        assert!(
            guesses.iter().all(|a| a.starts_with(&wrong_code) || **a == name(Error::TooManyAttempts)),
            "round {round}: {guesses:?}"
        );
        outcome.wrong_answers += wrong;
        outcome.guess_wrong.push(wrong);
    }
    outcome
}

/// After the run, from the test's own engine (never restarted), the run's totals hold
/// for good: a raced challenge accepts its code at most once over the run and after it,
/// and a guessed challenge answers `wrong-code` at most its tries over the run and after it.
/// (A write the failover lost was never acknowledged: a challenge whose use was lost that
/// way can still be used once, and a lost try can still be tried, but never more.)
pub fn check_after(engine: &Engine, challenges: &Challenges, outcome: &Outcome) {
    for (i, c) in challenges.race.iter().enumerate() {
        let now = usize::from(engine.verify(&c.token, &c.code).is_ok());
        assert!(
            outcome.race_ok[i] + now <= 1,
            "race {i}: accepted {} times in the run, and again after",
            outcome.race_ok[i]
        );
        assert_eq!(engine.verify(&c.token, &c.code), Err(Error::NotFound), "race {i} is used");
    }
    for (i, c) in challenges.guess.iter().enumerate() {
        let mut wrong_after = 0;
        let last = loop {
            match engine.verify(&c.token, wrong(&c.code)) {
                Err(Error::WrongCode { .. }) if wrong_after <= MAX_ATTEMPTS => wrong_after += 1,
                other => break other,
            }
        };
        assert_eq!(last, Err(Error::TooManyAttempts), "guess {i}");
        let total = outcome.guess_wrong[i] + wrong_after;
        assert!(total <= MAX_ATTEMPTS, "guess {i}: {total} wrong guesses evaluated in all, more than {MAX_ATTEMPTS}");
        assert_eq!(
            engine.verify(&c.token, &c.code),
            Err(Error::TooManyAttempts),
            "guess {i}: the right code is too late"
        );
    }
}

/// Times writes through a store every 10 ms in the background, to measure how long a
/// failover leaves the store unavailable.
pub struct Probe {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<Vec<(Duration, bool)>>>,
}

impl Probe {
    /// Starts writing `key` (choose one on the node that will fail) through `store`.
    pub fn start(store: RedisStore, key: [u8; 32]) -> Probe {
        let stop = Arc::new(AtomicBool::new(false));
        let start = Instant::now();
        let stopping = stop.clone();
        let handle = std::thread::spawn(move || {
            let mut log = Vec::new();
            while !stopping.load(Ordering::SeqCst) {
                let at = start.elapsed();
                let ok = match store.get(&key, 0) {
                    Ok(Some((_, v))) => store.put(&key, b"probe", Some(600), Expected::Version(v), 0).is_ok(),
                    Ok(None) => store.put(&key, b"probe", Some(600), Expected::Absent, 0).is_ok(),
                    Err(_) => false,
                };
                log.push((at, ok));
                std::thread::sleep(Duration::from_millis(10));
            }
            log
        });
        Probe { stop, handle: Some(handle) }
    }

    /// Stops the probe; returns the longest time between a successful write and the next one
    /// (the outage). The probe must end on a success: the store answers again.
    pub fn finish(mut self) -> Duration {
        self.stop.store(true, Ordering::SeqCst);
        let log = self.handle.take().expect("running").join().expect("probe thread");
        let mut longest = Duration::ZERO;
        let mut last_ok: Option<Duration> = None;
        let mut last_failure = None;
        for (at, ok) in log {
            if ok {
                if let Some(prev) = last_ok {
                    longest = longest.max(at - prev);
                }
                last_ok = Some(at);
            } else {
                last_failure = Some(at);
            }
        }
        assert!(last_ok.is_some_and(|t| last_failure.is_none_or(|f| t > f)), "the probe ends on a success");
        longest
    }
}

/// One run: opens an engine from `config` (TOML), issues the challenges, starts the workers
/// and a probe writing `probe_key`, calls `trigger` 150 ms into the workers' run, waits for
/// the workers, then for `settle`, and checks everything. Returns the outcome and the
/// longest time the probe could not write.
pub fn run(
    config: &str,
    probe_key: [u8; 32],
    trigger: impl FnOnce(),
    settle: impl FnOnce() -> Duration,
) -> (Outcome, Duration) {
    let parsed = Config::parse(config).unwrap();
    let engine = passcode_redis::open_engine(parsed.clone()).expect("open the engine");
    let challenges = Challenges::issue(&engine, "run");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passcode.toml");
    std::fs::write(&path, config).unwrap();
    let probe_store = RedisStore::open(&RedisOptions::from_config(&parsed.store).unwrap()).unwrap();
    probe_store.put(&probe_key, b"probe", Some(600), Expected::Absent, 0).unwrap();
    let probe = Probe::start(probe_store, probe_key);

    let start_at = now_ms() + 1500;
    let workers = spawn_workers(&path, &challenges, start_at);
    while now_ms() < start_at + 150 {
        std::thread::sleep(Duration::from_millis(5));
    }
    trigger();
    let answers = collect(workers);
    let settled = settle();
    std::thread::sleep(Duration::from_millis(300));
    let outage = probe.finish();
    let outcome = check(&answers, &challenges);
    check_after(&engine, &challenges, &outcome);
    eprintln!("{outcome:?}; the store was unavailable for {outage:?} at most; the deployment settled in {settled:?}");
    (outcome, outage)
}
