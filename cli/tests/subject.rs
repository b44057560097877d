//! `passcode status` and `passcode unlock` against a real `redis-server` the test starts: a
//! subject locked through the engine (wrong codes, as an attacker would send them) is read and
//! unlocked by the binary, and the engine then sees what the binary said.

mod support;

use std::path::Path;

use passcode_core::{Channel, Config, Engine, Error, IssueRequest, Issued, Purpose, SubjectStatus};
use serde_json::Value;
use support::{key_file, passcode, passcode_with_stdin, RedisServer};

const ADDRESS: &str = "jane.doe@example.com";

/// A config on the test's Redis with small lock thresholds (a temporary lock every
/// `threshold` failures, the hard lock at 5), written to `name`.
fn config(dir: &Path, redis: &RedisServer, name: &str, threshold: u32) -> Config {
    if !dir.join("key1").exists() {
        key_file(dir, "key1");
    }
    let text = format!(
        "tenant = \"cli-test\"\n[store]\nurl = {:?}\nprefix = \"cli:\"\n\n[[keys.ring]]\nid = 1\nfile = {:?}\n\n\
         [policy]\nmax_attempts = 10\nlockout_threshold = {threshold}\nlockout_base_seconds = 600\nhard_lock_failures = 5\n\
         resend_cooldown_seconds = 0\nsubject_sends = {{ max = 20, window_seconds = 600 }}\n",
        redis.url(),
        dir.join("key1").display().to_string()
    );
    std::fs::write(dir.join(name), &text).unwrap();
    Config::parse(&text).unwrap()
}

/// A sign-in code for the subject.
fn issue(engine: &Engine) -> Issued {
    let request = IssueRequest {
        channel: Channel::Email,
        identifier: ADDRESS,
        purpose: Purpose::SignIn,
        client: None,
        locale: None,
    };
    engine.issue(&request).unwrap()
}

/// `times` wrong codes on one challenge, each refused.
fn fail(engine: &Engine, times: u32) {
    let issued = issue(engine);
    let wrong = format!("{:06}", (issued.code.parse::<u32>().unwrap() + 1) % 1_000_000);
    for _ in 0..times {
        assert!(matches!(
            engine.verify(&issued.token, &wrong),
            Err(Error::WrongCode { .. } | Error::WrongCodeLocked { .. } | Error::SubjectLocked { .. })
        ));
    }
}

fn status_json(dir: &Path, config: &str) -> Value {
    passcode(dir, &["status", "--json", config, "--channel", "email", ADDRESS]).expect(0).json()
}

fn is_clear(s: SubjectStatus) -> bool {
    (s.failures, s.locked_until, s.hard_locked) == (0, None, false)
}

#[test]
fn status_and_unlock_read_and_clear_what_the_engine_wrote() {
    let redis = RedisServer::start(None);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let engine = passcode_redis::open_engine(config(d, &redis, "passcode.toml", 3)).unwrap();

    let clean = status_json(d, "passcode.toml");
    assert_eq!(clean["subject"], "j***@example.com");
    assert_eq!((clean["status"]["failures"].as_u64(), clean["status"]["locked"].as_bool()), (Some(0), Some(false)));

    fail(&engine, 2);
    assert_eq!(status_json(d, "passcode.toml")["status"]["failures"], 2);

    // The third failure locks for 600 s: the binary reads the lock the engine enforces.
    fail(&engine, 1);
    let locked = status_json(d, "passcode.toml");
    let expected = engine.status(Channel::Email, ADDRESS).unwrap();
    let until = expected.locked_until.expect("a temporary lock");
    assert_eq!(locked["status"]["locked_until"].as_u64(), Some(until));
    assert_eq!(
        (locked["status"]["failures"].as_u64(), locked["status"]["hard_locked"].as_bool()),
        (Some(3), Some(false))
    );
    assert!(locked["status"]["retry_after_seconds"].as_u64().unwrap() <= 600);
    let human = passcode(d, &["status", "passcode.toml", "--channel", "email", ADDRESS]).expect(0);
    let lock_line = human.stdout.lines().find(|l| l.starts_with("lock")).unwrap_or_default();
    assert!(lock_line.starts_with("lock      temporary, until 20"), "{}", human.stdout);
    assert!(lock_line.contains("(in 9 min") || lock_line.contains("(in 10 min"), "{}", human.stdout);
    assert!(!human.all().contains("jane.doe"), "the address is masked:\n{}", human.all());

    let unlocked = passcode(d, &["unlock", "--json", "passcode.toml", "--channel", "email", ADDRESS]).expect(0).json();
    assert_eq!(unlocked["changed"], true);
    assert_eq!(unlocked["before"]["failures"], 3);
    assert_eq!(unlocked["after"]["failures"], 0);
    assert_eq!(unlocked["pseudonym"].as_str().map(str::len), Some(16), "the pseudonym the hosts' events carry");
    assert!(is_clear(engine.status(Channel::Email, ADDRESS).unwrap()));
    // And the engine lets the subject in again.
    let issued = issue(&engine);
    engine.verify(&issued.token, &issued.code).unwrap();

    // Up to the hard lock, which only an unlock lifts (no temporary lock on the way).
    let engine = passcode_redis::open_engine(config(d, &redis, "hard.toml", 5)).unwrap();
    fail(&engine, 5);
    let hard = status_json(d, "hard.toml");
    assert_eq!((hard["status"]["hard_locked"].as_bool(), hard["status"]["failures"].as_u64()), (Some(true), Some(5)));
    assert_eq!(hard["status"]["locked_until"], Value::Null);
    let human = passcode(d, &["unlock", "hard.toml", "--channel", "email", ADDRESS]).expect(0);
    assert!(human.stdout.contains("5 failures and 5 in the budget cleared, the hard lock lifted"), "{}", human.stdout);
    assert!(is_clear(engine.status(Channel::Email, ADDRESS).unwrap()));

    // Nothing to unlock: nothing is written.
    let again = passcode(d, &["unlock", "--json", "passcode.toml", "--channel", "email", ADDRESS]).expect(0).json();
    assert_eq!(again["changed"], false);
}

#[test]
fn identifiers_come_from_the_argument_or_stdin_and_are_checked() {
    let redis = RedisServer::start(None);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let engine = passcode_redis::open_engine(config(d, &redis, "passcode.toml", 3)).unwrap();
    fail(&engine, 2);
    // `-` reads the identifier from stdin, keeping it out of the process list.
    let from_stdin = passcode_with_stdin(
        d,
        &["status", "--json", "passcode.toml", "--channel", "email", "-"],
        &format!("{ADDRESS}\n"),
    );
    assert_eq!(from_stdin.expect(0).json()["status"]["failures"], 2);
    // The engine derives one subject from every spelling of the address: the domain's case
    // and the local part's (`JANE.DOE@` reaches the same mailbox at almost every provider).
    for spelling in ["jane.doe@EXAMPLE.com", "JANE.DOE@example.com", "Jane.Doe@Example.Com"] {
        let upper = passcode(d, &["status", "--json", "passcode.toml", "--channel", "email", spelling]).expect(0);
        assert_eq!(upper.json()["status"]["failures"], 2, "{spelling}");
    }

    let bad = passcode(d, &["status", "passcode.toml", "--channel", "sms", "07700 900123"]).expect(2);
    assert!(
        bad.stderr.contains("IDENTIFIER: not an E.164 phone number") && !bad.stderr.contains("900123"),
        "{}",
        bad.stderr
    );
    passcode(d, &["unlock", "passcode.toml", "--channel", "email", "no-at-sign"]).expect(2);
    passcode(d, &["unlock", "passcode.toml", ADDRESS]).expect(2);
    passcode_with_stdin(d, &["unlock", "-", "--channel", "email", "-"], "x").expect(2);
    assert_eq!(engine.status(Channel::Email, ADDRESS).unwrap().failures, 2, "refused commands change nothing");
}

#[test]
fn the_memory_store_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("memory.toml"), "tenant = \"a\"\nstore = \"memory\"\n").unwrap();
    for cmd in ["status", "unlock"] {
        let out = passcode(dir.path(), &[cmd, "memory.toml", "--channel", "email", ADDRESS]).expect(1);
        assert!(out.stderr.contains("memory.toml:2:1: store: the config's store is `memory`"), "{}", out.stderr);
        assert!(out.stderr.contains("unlock through the host"), "{}", out.stderr);
    }
    std::fs::write(dir.path().join("default.toml"), "").unwrap();
    let json =
        passcode(dir.path(), &["unlock", "--json", "default.toml", "--channel", "email", ADDRESS]).expect(1).json();
    assert_eq!((json["error"]["field"].as_str(), json["error"]["line"].as_u64()), (Some("store"), None));
}

#[test]
fn numbers_accounts_and_the_failure_budget_are_the_engines() {
    let redis = RedisServer::start(None);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    config(d, &redis, "base.toml", 3);
    // National numbers are read in the default region; the budget is small enough to see.
    let text = std::fs::read_to_string(d.join("base.toml")).unwrap()
        + "sms_default_region = \"GB\"\nfailure_budget = { max = 4, window_seconds = 86400 }\n\
           failure_record_seconds = 86400\n";
    std::fs::write(d.join("passcode.toml"), &text).unwrap();
    let engine = passcode_redis::open_engine(Config::parse(&text).unwrap()).unwrap();
    let request = |channel, identifier| IssueRequest {
        channel,
        identifier,
        purpose: Purpose::SignIn,
        client: None,
        locale: None,
    };
    let wrong = |issued: &Issued| format!("{:06}", (issued.code.parse::<u32>().unwrap() + 1) % 1_000_000);

    // Two failures, then a success: the consecutive count is cleared, the budget is not.
    let issued = engine.issue(&request(Channel::Sms, "+44 (0)20 7946 0001")).unwrap();
    for _ in 0..2 {
        assert!(engine.verify(&issued.token, &wrong(&issued)).is_err());
    }
    engine.verify(&issued.token, &issued.code).unwrap();
    for spelling in ["+442079460001", "+44 20 7946 0001", "020 7946 0001", "+44 (0)20 7946 0001"] {
        let status = passcode(d, &["status", "--json", "passcode.toml", "--channel", "sms", spelling]).expect(0).json();
        assert_eq!(status["subject"], "+44********01", "{spelling}");
        let s = &status["status"];
        assert_eq!((s["failures"].as_u64(), s["budget_failures"].as_u64()), (Some(0), Some(2)), "{spelling}");
        assert_eq!(s["failure_budget"]["max"], 4);
    }
    let human = passcode(d, &["status", "passcode.toml", "--channel", "sms", "020 7946 0001"]).expect(0);
    assert!(human.stdout.contains("budget    2 of 4 in 1 d (a success does not clear them)"), "{}", human.stdout);
    // A trunk digit after +1 is no number at all (it would slip past a deny list naming 1876).
    let bad = passcode(d, &["status", "passcode.toml", "--channel", "sms", "+1 1 876 555 0100"]).expect(2);
    assert!(bad.stderr.contains("IDENTIFIER:") && !bad.stderr.contains("555"), "{}", bad.stderr);

    // Two more failures spend the budget: the lock says so, and an unlock clears it.
    let issued = engine.issue(&request(Channel::Sms, "+442079460001")).unwrap();
    for _ in 0..2 {
        assert!(engine.verify(&issued.token, &wrong(&issued)).is_err());
    }
    let spent = passcode(d, &["status", "passcode.toml", "--channel", "sms", "+442079460001"]).expect(0);
    assert!(spent.stdout.contains("lock      the failure budget is spent, until 20"), "{}", spent.stdout);
    let unlocked = passcode(d, &["unlock", "--json", "passcode.toml", "--channel", "sms", "020 7946 0001"]).expect(0);
    let unlocked = unlocked.json();
    assert_eq!(
        (unlocked["before"]["budget_failures"].as_u64(), unlocked["after"]["budget_failures"].as_u64()),
        (Some(4), Some(0))
    );
    assert_eq!(engine.status(Channel::Sms, "+442079460001").unwrap().budget_failures, 0);

    // An account subject: its own count, read and cleared with --account; the id is not printed.
    let issued = engine.issue_for_account("user-4711", &request(Channel::Email, ADDRESS)).unwrap();
    assert!(engine.verify(&issued.token, &wrong(&issued)).is_err());
    let account = passcode(d, &["status", "--json", "passcode.toml", "--account", "user-4711"]).expect(0);
    assert!(!account.all().contains("4711"), "{}", account.all());
    let account = account.json();
    assert_eq!((account["channel"].as_str(), account["status"]["failures"].as_u64()), (Some("account"), Some(1)));
    assert_eq!(
        passcode(d, &["status", "--json", "passcode.toml", "--channel", "email", ADDRESS]).expect(0).json()["status"]
            ["failures"],
        0
    );
    passcode(d, &["unlock", "passcode.toml", "--account", "user-4711"]).expect(0);
    assert_eq!(engine.status_account("user-4711").unwrap().failures, 0);
    passcode(d, &["status", "passcode.toml", "--account", "--channel", "email", "user-4711"]).expect(2);
}
