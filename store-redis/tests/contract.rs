//! The store contract on a real Redis, mirroring the memory store's tests in core: compare-
//! and-swap, no ABA, expiry as absence (here Redis's own expiry, with a real TTL), and what
//! opening the store refuses (wrong credentials, a replica, a password in two places).

mod support;

use std::time::Duration;

use passcode_core::{Channel, Config, Expected, IssueRequest, Purpose, Store};
use passcode_redis::{RedisOptions, RedisStore};
use support::{config_toml, unique_prefix, KeyFile, RedisServer};

fn store(server: &RedisServer, name: &str) -> RedisStore {
    let mut o = RedisOptions::new(server.url());
    o.prefix = unique_prefix(name);
    RedisStore::open(&o).expect("open the store")
}

#[test]
fn compare_and_swap_contract() {
    let server = RedisServer::start();
    let s = store(&server, "cas");
    let k = [3u8; 32];
    assert_eq!(s.get(&k, 0).unwrap(), None);
    let v1 = s.put(&k, b"a", None, Expected::Absent, 0).unwrap().unwrap();
    assert_ne!(v1, 0);
    assert_eq!(s.put(&k, b"b", None, Expected::Absent, 0).unwrap(), None, "present: Absent conflicts");
    assert_eq!(s.put(&k, b"b", None, Expected::Version(v1 + 100), 0).unwrap(), None);
    let v2 = s.put(&k, b"b", None, Expected::Version(v1), 0).unwrap().unwrap();
    assert_ne!(v1, v2);
    assert_eq!(s.get(&k, 0).unwrap(), Some((b"b".to_vec(), v2)));
    assert_eq!(s.put(&k, b"c", None, Expected::Version(v1), 0).unwrap(), None, "a stale version conflicts");
    assert!(!s.delete(&k, v1, 0).unwrap());
    assert_eq!(s.get(&k, 0).unwrap(), Some((b"b".to_vec(), v2)), "a refused delete changes nothing");
    assert!(s.delete(&k, v2, 0).unwrap());
    assert_eq!(s.get(&k, 0).unwrap(), None);
    assert!(!s.delete(&k, v2, 0).unwrap(), "gone");
    // Versions are never reused, even after a delete: no ABA.
    let v3 = s.put(&k, b"c", None, Expected::Absent, 0).unwrap().unwrap();
    assert!(v3 > v2);
    assert_eq!(s.put(&k, b"d", None, Expected::Version(v2), 0).unwrap(), None, "the deleted record's version is dead");
}

#[test]
fn values_are_binary_and_keys_are_prefixed_hex() {
    let server = RedisServer::start();
    let s = store(&server, "bin");
    let k: [u8; 32] = std::array::from_fn(|i| (i * 37) as u8);
    let value: Vec<u8> = (0..=255u8).chain([0, 0, b'\r', b'\n']).collect();
    let v = s.put(&k, &value, Some(60), Expected::Absent, 0).unwrap().unwrap();
    assert_eq!(s.get(&k, 0).unwrap(), Some((value, v)));
    let rk = String::from_utf8(s.redis_key(&k)).unwrap();
    assert!(rk.starts_with("t") && rk.ends_with(&k.iter().map(|b| format!("{b:02x}")).collect::<String>()));
    let ttl: i64 = server.query(&["PTTL", &rk]);
    assert!((59_000..=60_000).contains(&ttl), "the TTL is set on the server: {ttl}");
    // An empty value is a value, not an absence.
    let k2 = [9u8; 32];
    let v = s.put(&k2, b"", None, Expected::Absent, 0).unwrap().unwrap();
    assert_eq!(s.get(&k2, 0).unwrap(), Some((Vec::new(), v)));
}

#[test]
fn a_put_without_ttl_clears_the_previous_one() {
    // The contract allows a put without expiry (a host's records may need one): the old TTL
    // must not survive it.
    let server = RedisServer::start();
    let s = store(&server, "persist");
    let k = [5u8; 32];
    let v = s.put(&k, b"a", Some(30), Expected::Absent, 0).unwrap().unwrap();
    s.put(&k, b"b", None, Expected::Version(v), 0).unwrap().unwrap();
    let ttl: i64 = server.query(&["PTTL", &String::from_utf8(s.redis_key(&k)).unwrap()]);
    assert_eq!(ttl, -1, "no expiry");
}

#[test]
fn expiry_on_the_server_behaves_as_absence() {
    let server = RedisServer::start();
    let s = store(&server, "ttl");
    let k = [4u8; 32];
    let v = s.put(&k, b"a", Some(1), Expected::Absent, 0).unwrap().unwrap();
    assert!(s.get(&k, 0).unwrap().is_some());
    // Redis expires by its own clock: this one test waits for a real second to pass.
    std::thread::sleep(Duration::from_millis(1200));
    assert_eq!(s.get(&k, 0).unwrap(), None);
    assert_eq!(s.put(&k, b"b", None, Expected::Version(v), 0).unwrap(), None);
    assert!(!s.delete(&k, v, 0).unwrap());
    let v2 = s.put(&k, b"b", None, Expected::Absent, 0).unwrap().unwrap();
    assert!(v2 > v, "a record written again after expiry gets a new version");
}

#[test]
fn versions_come_from_the_record_and_the_server_clock_with_no_shared_key() {
    // No counter shared between records: each write touches its own key only, versions
    // follow the server's clock in microseconds, and grow even when the clock is behind a
    // record's version (a clock stepped back, or a failover to a node whose clock is late).
    let server = RedisServer::start();
    let s = store(&server, "versions");
    let time_us = || {
        let (secs, micros): (u64, u64) = server.query(&["TIME"]);
        secs * 1_000_000 + micros
    };
    let before = time_us();
    let k = [6u8; 32];
    let v1 = s.put(&k, b"a", None, Expected::Absent, 0).unwrap().unwrap();
    let v2 = s.put(&k, b"b", None, Expected::Version(v1), 0).unwrap().unwrap();
    let after = time_us();
    assert!(before <= v1 && v1 < v2 && v2 <= after, "{before} <= {v1} < {v2} <= {after}");
    for i in 100..120u8 {
        s.put(&[i; 32], b"x", Some(60), Expected::Absent, 0).unwrap().unwrap();
    }
    let keys: i64 = server.query(&["DBSIZE"]);
    assert_eq!(keys, 21, "one Redis key per record and nothing else");

    // A version ahead of the clock: the next one is one above it, not the clock's.
    let rk = String::from_utf8(s.redis_key(&k)).unwrap();
    let ahead = after + 3_600_000_000;
    let _: i64 = server.query(&["HSET", &rk, "v", &ahead.to_string()]);
    let v3 = s.put(&k, b"c", None, Expected::Version(ahead), 0).unwrap().unwrap();
    assert_eq!(v3, ahead + 1);
    // Deleted and written again: the clock again, above every version the key had while the
    // clock was right; the old versions are dead.
    assert!(s.delete(&k, v3, 0).unwrap());
    let v4 = s.put(&k, b"d", None, Expected::Absent, 0).unwrap().unwrap();
    assert!(v4 > v2 && v4 <= time_us(), "{v4}");
    assert_eq!(s.put(&k, b"e", None, Expected::Version(v2), 0).unwrap(), None, "a stale version conflicts");
}

#[test]
fn prefixes_keep_stores_apart() {
    let server = RedisServer::start();
    let a = store(&server, "a");
    let b = store(&server, "b");
    let k = [1u8; 32];
    a.put(&k, b"in a", None, Expected::Absent, 0).unwrap().unwrap();
    assert_eq!(b.get(&k, 0).unwrap(), None);
    assert!(b.put(&k, b"in b", None, Expected::Absent, 0).unwrap().is_some());
    assert_eq!(a.get(&k, 0).unwrap().unwrap().0, b"in a");
}

#[test]
fn each_operation_is_one_round_trip() {
    let server = RedisServer::start();
    let s = store(&server, "trips");
    let k = [8u8; 32];
    // Warm the pool so connection set-up is not counted.
    s.get(&k, 0).unwrap();
    let count = |f: &dyn Fn()| {
        let before = server.store_commands();
        f();
        server.store_commands() - before
    };
    assert_eq!(count(&|| assert!(s.get(&k, 0).unwrap().is_none())), 1, "get");
    assert_eq!(count(&|| assert!(s.put(&k, b"a", Some(60), Expected::Absent, 0).unwrap().is_some())), 1, "put");
    let v = s.get(&k, 0).unwrap().unwrap().1;
    assert_eq!(count(&|| assert!(s.delete(&k, v, 0).unwrap())), 1, "delete");
    // After SCRIPT FLUSH (a restart does the same), the script is loaded again, once.
    let _: String = server.query(&["SCRIPT", "FLUSH"]);
    assert_eq!(
        count(&|| assert!(s.put(&k, b"b", None, Expected::Absent, 0).unwrap().is_some())),
        4,
        "NOSCRIPT, two loads, retry"
    );
    assert!(server.query::<String>(&["INFO", "commandstats"]).contains("cmdstat_evalsha:"), "counted by name");
    assert_eq!(count(&|| assert!(s.get(&k, 0).unwrap().is_some())), 1);
}

#[test]
fn auth_with_a_password_from_a_file_or_variable() {
    let server = RedisServer::start_with(&["--requirepass", "pw-for-tests-only"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "pw-for-tests-only\n").unwrap();
    let key = support::KeyFile::new();
    let cfg = |store_extra: &str| {
        passcode_core::Config::parse(&support::config_toml(&server.url(), "auth:", store_extra, &key.path, "")).unwrap()
    };
    let good = cfg(&format!("password_file = {:?}", file.to_str().unwrap()));
    let engine = passcode_redis::open_engine(good).expect("the password from the file is used");
    let issued = engine
        .issue(&passcode_core::IssueRequest {
            channel: passcode_core::Channel::Email,
            identifier: "jane@example.com",
            purpose: passcode_core::Purpose::SignIn,
            client: None,
            locale: None,
        })
        .unwrap();
    engine.verify(&issued.token, &issued.code).unwrap();

    let wrong = dir.path().join("wrong");
    std::fs::write(&wrong, "not-the-password").unwrap();
    let e = passcode_redis::open_engine(cfg(&format!("password_file = {:?}", wrong.to_str().unwrap()))).unwrap_err();
    let message = e.to_string();
    assert!(matches!(e, passcode_core::Error::StoreUnavailable { .. }), "{e:?}");
    assert!(message.contains("credentials"), "{message}");
    assert!(!message.contains("not-the-password"), "{message}");

    let e = passcode_redis::open_engine(cfg("")).unwrap_err();
    assert!(matches!(e, passcode_core::Error::StoreUnavailable { .. }), "no password: {e:?}");

    // A password in the URL works too (the README says why a file is better), but not both.
    let with_url = format!("redis://:pw-for-tests-only@127.0.0.1:{}/0", server.port);
    let url_cfg = passcode_core::Config::parse(&support::config_toml(&with_url, "auth:", "", &key.path, "")).unwrap();
    passcode_redis::open_engine(url_cfg).expect("a password in the URL");
    let both = passcode_core::Config::parse(&support::config_toml(
        &with_url,
        "auth:",
        &format!("password_file = {:?}", file.to_str().unwrap()),
        &key.path,
        "",
    ))
    .unwrap();
    let e = passcode_redis::open_engine(both).unwrap_err().to_string();
    assert!(e.contains("both") && !e.contains("pw-for-tests-only"), "{e}");
}

#[test]
fn acl_user_and_password() {
    let server = RedisServer::start_with(&["--requirepass", "admin-pw-for-tests"]);
    // The least the store needs: its own keys, the commands it sends and the ones its
    // scripts call (the README gives this rule to operators).
    let rule =
        "-@all +@connection +hmget +evalsha +script|load +wait +hget +hset +incr +set +pexpire +persist +del +time";
    let mut args = vec!["ACL", "SETUSER", "otp", "reset", "on", ">otp-pw-for-tests", "~acl:*"];
    args.extend(rule.split(' '));
    let _: String = server.query(&args);
    let key = support::KeyFile::new();
    std::env::set_var("PASSCODE_REDIS_TEST_ACL_PW", "otp-pw-for-tests");
    let cfg = passcode_core::Config::parse(&support::config_toml(
        &server.url(),
        "acl:",
        "username = \"otp\"\npassword_env = \"PASSCODE_REDIS_TEST_ACL_PW\"",
        &key.path,
        "",
    ))
    .unwrap();
    let engine = passcode_redis::open_engine(cfg).expect("AUTH otp <password>");
    let request = passcode_core::IssueRequest {
        channel: passcode_core::Channel::Sms,
        identifier: "+14155550123",
        purpose: passcode_core::Purpose::SignIn,
        client: Some("203.0.113.9"),
        locale: None,
    };
    let issued = engine.issue(&request).expect("issue with send buckets, as the ACL user");
    engine.verify(&issued.token, &issued.code).expect("verify as the ACL user");
    let clients: String = server.query(&["CLIENT", "LIST"]);
    assert!(clients.contains("user=otp"), "the store connected as the ACL user");
}

#[test]
fn a_replica_is_refused_at_open_and_its_writes_are_a_clear_error() {
    let server = RedisServer::start();
    let mut o = RedisOptions::new(server.url());
    o.prefix = unique_prefix("ro");
    let s = RedisStore::open(&o).unwrap();
    let k = [2u8; 32];
    let v = s.put(&k, b"a", None, Expected::Absent, 0).unwrap().unwrap();
    // Turn the server into a replica of a primary that does not exist: it stays read-only.
    let dead = support::free_port().to_string();
    let _: String = server.query(&["REPLICAOF", "127.0.0.1", &dead]);
    let e = s.put(&k, b"b", None, Expected::Version(v), 0).unwrap_err();
    assert!(e.0.contains("read-only replica"), "{e}");
    assert_eq!(s.get(&k, 0).unwrap(), Some((b"a".to_vec(), v)), "reads still work; nothing was written");
    let e = s.delete(&k, v, 0).unwrap_err();
    assert!(e.0.contains("read-only replica"), "{e}");
    assert!(!e.0.contains("0202"), "no key in the error: {e}");
    let e = RedisStore::open(&o).unwrap_err();
    assert!(e.0.contains("replica"), "{e}");
}

#[test]
fn engine_operations_use_only_the_round_trips_the_contract_needs() {
    let server = RedisServer::start();
    let key = support::KeyFile::new();
    let text = support::config_toml(&server.url(), &unique_prefix("engine-trips"), "", &key.path, "");
    let engine = passcode_redis::open_engine(passcode_core::Config::parse(&text).unwrap()).unwrap();
    let count = |f: &dyn Fn()| {
        let before = server.store_commands();
        f();
        server.store_commands() - before
    };
    let email = passcode_core::IssueRequest {
        channel: passcode_core::Channel::Email,
        identifier: "jane@example.com",
        purpose: passcode_core::Purpose::SignIn,
        client: None,
        locale: None,
    };
    let issued = std::cell::RefCell::new(None);
    // issue: read the subject, write it (the first read is reused under compare-and-swap).
    assert_eq!(count(&|| *issued.borrow_mut() = Some(engine.issue(&email).unwrap())), 2);
    let i = issued.borrow().clone().unwrap();
    // verify, wrong or right: read, then compare-and-swap.
    assert_eq!(count(&|| assert!(engine.verify(&i.token, "not a code").is_err())), 2);
    assert_eq!(count(&|| engine.verify(&i.token, &i.code).map(drop).unwrap()), 2);
    // An SMS with a client address also takes from the client's and the country's buckets:
    // a read and a write each.
    let sms = passcode_core::IssueRequest {
        channel: passcode_core::Channel::Sms,
        identifier: "+14155550123",
        purpose: passcode_core::Purpose::SignIn,
        client: Some("203.0.113.7"),
        locale: None,
    };
    assert_eq!(count(&|| drop(engine.issue(&sms).unwrap())), 6);
}

#[test]
fn no_key_is_written_by_two_subjects() {
    // MONITOR shows every command, those the scripts run included: between markers, the
    // operations of one subject each (issue, a wrong code, the right code), and no key any
    // write touches may appear under two markers. (A shared counter would.)
    let server = RedisServer::start();
    let key = support::KeyFile::new();
    let text = support::config_toml(&server.url(), "own:", "", &key.path, "");
    let engine = passcode_redis::open_engine(passcode_core::Config::parse(&text).unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let log_path = dir.path().join("monitor.log");
    let mut monitor = std::process::Command::new("redis-cli")
        .args(["-p", &server.port.to_string(), "monitor"])
        .stdout(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .expect("redis-cli (Debian package redis-tools) runs");
    support::deployments::wait_until("MONITOR to start", Duration::from_secs(5), || {
        server.query::<String>(&["CLIENT", "LIST"]).contains("cmd=monitor")
    });
    const SUBJECTS: usize = 200;
    for i in 0..SUBJECTS {
        let _: String = server.query(&["ECHO", &format!("subject-{i}")]);
        let who = format!("person{i}@example.com");
        let issued = engine
            .issue(&passcode_core::IssueRequest {
                channel: passcode_core::Channel::Email,
                identifier: &who,
                purpose: passcode_core::Purpose::SignIn,
                client: None,
                locale: None,
            })
            .unwrap();
        assert!(engine.verify(&issued.token, "not the code").is_err());
        engine.verify(&issued.token, &issued.code).unwrap();
    }
    let _: String = server.query(&["ECHO", "end"]);
    support::deployments::wait_until("MONITOR to see the end", Duration::from_secs(5), || {
        std::fs::read_to_string(&log_path).unwrap().contains("\"end\"")
    });
    let _ = monitor.kill();
    let _ = monitor.wait();

    let log = std::fs::read_to_string(&log_path).unwrap();
    let mut subject: Option<String> = None;
    let mut writers: std::collections::HashMap<String, std::collections::HashSet<String>> = Default::default();
    let (mut scripts, mut writes) = (0, 0);
    for line in log.lines() {
        // `TIME [0 127.0.0.1:PORT] "COMMAND" "arg" ...`, or `[0 lua]` for a script's commands.
        let args: Vec<&str> = line.split("\" \"").collect();
        let command = line.split_once("] \"").map(|(_, rest)| rest.split('"').next().unwrap_or(""));
        let Some(command) = command else { continue };
        let first_arg = args.get(1).map(|a| a.trim_end_matches('"').to_string());
        match command.to_ascii_uppercase().as_str() {
            "ECHO" => subject = first_arg,
            "EVALSHA" => {
                scripts += 1;
                assert_eq!(args.get(2).map(|a| a.trim_end_matches('"')), Some("1"), "one key per script: {line}");
            }
            "HSET" | "PEXPIRE" | "PERSIST" | "DEL" | "INCR" | "SET" | "INCRBY" => {
                writes += 1;
                let key = first_arg.expect("a key");
                writers.entry(key).or_default().insert(subject.clone().expect("after a marker"));
            }
            _ => {}
        }
    }
    assert!(scripts >= SUBJECTS * 3 && writes >= SUBJECTS * 3, "{scripts} scripts, {writes} writes seen");
    for (key, subjects) in &writers {
        assert_eq!(subjects.len(), 1, "{key} was written by the operations of {subjects:?}");
    }
    assert_eq!(writers.len(), SUBJECTS, "one record per subject");
}

#[test]
fn every_record_the_engine_writes_expires_on_the_server_failures_included() {
    // Bounded storage: a subject that only ever fails (one issue and one wrong code per
    // random address, as an attacker with many addresses would leave behind) still expires,
    // `failure_record_seconds` after its last failure, so `noeviction` never fills up.
    let server = RedisServer::start();
    let key = KeyFile::new();
    let prefix = unique_prefix("bounded");
    let policy = "[policy]\nfailure_budget = { max = 100, window_seconds = 86400 }\nfailure_record_seconds = 172800";
    let engine = passcode_redis::open_engine(
        Config::parse(&config_toml(&server.url(), &prefix, "", &key.path, policy)).unwrap(),
    )
    .unwrap();
    for n in 0..5 {
        let address = format!("user{n}@example.com");
        let request = IssueRequest {
            channel: Channel::Email,
            identifier: &address,
            purpose: Purpose::SignIn,
            client: Some("192.0.2.1"),
            locale: None,
        };
        let issued = engine.issue(&request).unwrap();
        let wrong = format!("{:06}", (issued.code.parse::<u32>().unwrap() + 1) % 1_000_000);
        assert!(engine.verify(&issued.token, &wrong).is_err());
    }
    let keys: Vec<String> = server.query(&["KEYS", &format!("{prefix}*")]);
    assert!(keys.len() >= 6, "five subjects and the client's bucket: {keys:?}");
    for k in &keys {
        let ttl: i64 = server.query(&["PTTL", k]);
        assert!((1..=172_800_000).contains(&ttl), "{k} has a finite life on the server: {ttl} ms");
    }
    let failed = keys.iter().map(|k| server.query::<i64>(&["PTTL", k])).max().unwrap();
    assert!(failed > 86_400_000, "a failure keeps its record for failure_record_seconds: {failed} ms");
}
