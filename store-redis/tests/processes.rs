//! Several OS processes share one Redis, as the nodes of a deployment do: single use and the
//! guess caps must hold across processes, not only across threads of one.
//!
//! Each process is `passcode-redis-worker`, which opens its engine from the same config file
//! (same key file, same prefix) and starts verifying at the same wall-clock instant.

#[path = "support/failover.rs"]
mod failover;
mod support;

use std::path::Path;

use passcode_core::{Channel, Config, Engine, Error, IssueRequest, Issued, Purpose};
use support::{config_toml, unique_prefix, KeyFile, RedisServer};

const PROCESSES: usize = 8;

fn issue(engine: &Engine) -> Issued {
    engine
        .issue(&IssueRequest {
            channel: Channel::Email,
            identifier: "jane@example.com",
            purpose: Purpose::SignIn,
            client: None,
            locale: None,
        })
        .expect("issue")
}

/// Runs the workers, all starting together, and returns every answer line of every one.
fn run_workers(config: &Path, token: &str, code: &str, times: u32) -> Vec<Vec<String>> {
    // Far enough ahead for every process to start and open its pool.
    let start_at = failover::now_ms() + 1500;
    let args = ["verify", token, code, &times.to_string()].map(str::to_string);
    failover::collect((0..PROCESSES).map(|_| failover::spawn_worker(config, start_at, &args)).collect())
}

fn setup(server: &RedisServer, key: &KeyFile, policy: &str) -> (tempfile::TempDir, std::path::PathBuf, Engine) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("passcode.toml");
    let text = config_toml(&server.url(), &unique_prefix("procs"), "pool_size = 2", &key.path, policy);
    std::fs::write(&path, &text).unwrap();
    let engine = passcode_redis::open_engine(Config::parse(&text).unwrap()).unwrap();
    (dir, path, engine)
}

#[test]
fn eight_processes_verify_one_challenge_exactly_one_succeeds() {
    let server = RedisServer::start();
    let key = KeyFile::new();
    let (_dir, config, engine) = setup(&server, &key, "");
    for round in 0..3 {
        let issued = issue(&engine);
        let answers: Vec<String> = run_workers(&config, &issued.token, &issued.code, 1).concat();
        assert_eq!(answers.len(), PROCESSES);
        assert_eq!(answers.iter().filter(|a| *a == "ok").count(), 1, "round {round}: {answers:?}");
        let not_found = format!("err {} {}", Error::NotFound.number(), Error::NotFound.name());
        assert!(answers.iter().filter(|a| *a != "ok").all(|a| *a == not_found), "round {round}: {answers:?}");
        // The challenge is used up for this process too.
        assert_eq!(engine.verify(&issued.token, &issued.code), Err(Error::NotFound));
    }
}

#[test]
fn eight_processes_guessing_never_get_more_than_the_cap() {
    let server = RedisServer::start();
    let key = KeyFile::new();
    // Three consecutive failures lock the subject: exactly three guesses are evaluated (two
    // answered wrong-code, the third wrong-code-locked), however the processes interleave.
    let policy = "[policy]\nmax_attempts = 10\nlockout_threshold = 3\nlockout_base_seconds = 600\n\
                  lockout_max_seconds = 600\nhard_lock_failures = 100";
    let (_dir, config, engine) = setup(&server, &key, policy);
    let issued = issue(&engine);
    let wrong = if issued.code.as_str() == "000000" { "000001" } else { "000000" };
    let answers: Vec<String> = run_workers(&config, &issued.token, wrong, 5).concat();
    assert_eq!(answers.len(), PROCESSES * 5);
    let name = |e: Error| format!("err {} {}", e.number(), e.name());
    let wrong_code = answers.iter().filter(|a| a.starts_with(&name(Error::WrongCode { attempts_left: 0 }))).count();
    let locking = answers
        .iter()
        .filter(|a| a.starts_with(&name(Error::WrongCodeLocked { attempts_left: 0, retry_after: None })))
        .count();
    let locked = answers.iter().filter(|a| **a == name(Error::SubjectLocked { retry_after: None })).count();
    assert_eq!(wrong_code, 2, "exactly threshold - 1 wrong guesses are answered: {answers:?}");
    assert_eq!(locking, 1, "the threshold-th guess is counted and starts the lock: {answers:?}");
    assert_eq!(locked, PROCESSES * 5 - 3, "every other guess meets the lock unseen: {answers:?}");
    assert!(!answers.contains(&"ok".to_string()));
    // The lock holds for everyone, the right code included.
    assert!(matches!(engine.verify(&issued.token, &issued.code), Err(Error::SubjectLocked { retry_after: Some(_) })));
}

#[test]
fn eight_processes_guessing_one_challenge_get_at_most_its_tries() {
    let server = RedisServer::start();
    let key = KeyFile::new();
    // The default policy: 5 tries per challenge, a lock only after 10 failures.
    let (_dir, config, engine) = setup(&server, &key, "");
    let issued = issue(&engine);
    let wrong = if issued.code.as_str() == "000000" { "000001" } else { "000000" };
    let answers: Vec<String> = run_workers(&config, &issued.token, wrong, 2).concat();
    let name = |e: Error| format!("err {} {}", e.number(), e.name());
    let wrong_code = answers.iter().filter(|a| a.starts_with(&name(Error::WrongCode { attempts_left: 0 }))).count();
    let too_many = answers.iter().filter(|a| **a == name(Error::TooManyAttempts)).count();
    assert_eq!(wrong_code, 5, "five tries, across every process: {answers:?}");
    assert_eq!(too_many, PROCESSES * 2 - 5, "{answers:?}");
    assert_eq!(engine.verify(&issued.token, &issued.code), Err(Error::TooManyAttempts), "the right code is too late");
}
