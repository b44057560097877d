//! `passcode check` on good, bad and weak configs, run as a deploy script runs it: the exit
//! status, the file, line and field of each error, the warnings, `--json` parsed, and never a
//! password, even when the config carries one in its Redis URL.

mod support;

use std::path::Path;

use serde_json::Value;
use support::{key_file, passcode, passcode_with_stdin, RedisServer};

const PASSWORD: &str = "S3cret-Passw0rd";

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

fn assert_no_password(run: &support::Run) {
    assert!(!run.all().contains(PASSWORD), "the password was printed:\n{}", run.all());
    assert!(!run.all().contains("Passw0rd"), "part of the password was printed:\n{}", run.all());
}

fn warning_ids(json: &Value) -> Vec<String> {
    json["warnings"].as_array().unwrap().iter().map(|w| w["id"].as_str().unwrap().to_string()).collect()
}

fn value<'a>(json: &'a Value, section: &str, field: &str) -> &'a Value {
    json[section].as_array().unwrap().iter().find(|r| r["field"] == format!("{section}.{field}")).unwrap()
}

#[test]
fn a_good_config_passes_strict_and_says_where_each_value_came_from() {
    let dir = tempfile::tempdir().unwrap();
    key_file(dir.path(), "key1");
    let config = "tenant = \"acme\"\n\n[[keys.ring]]\nid = 1\nfile = \"key1\"\n\n[policy]\ncode_length = 8\n\
                  email_second_factor = false\n\n[messages]\napp_name = \"Acme\"\n";
    write(dir.path(), "passcode.toml", config);
    let human = passcode(dir.path(), &["check", "--strict", "passcode.toml"]).expect(0);
    assert!(human.stdout.contains("no warnings") && human.stdout.trim_end().ends_with("ok"), "{}", human.stdout);
    assert!(human.stdout.contains("id 1: file key1 (active, index)"), "{}", human.stdout);

    let json = passcode(dir.path(), &["check", "--json", "passcode.toml"]).expect(0).json();
    assert_eq!(json["ok"], true);
    assert_eq!(json["tenant"], serde_json::json!({ "value": "acme", "from": "file" }));
    assert_eq!(value(&json, "policy", "code_length")["value"], 8);
    assert_eq!(value(&json, "policy", "code_length")["from"], "file");
    assert_eq!(value(&json, "policy", "max_attempts")["value"], 5);
    assert_eq!(value(&json, "policy", "max_attempts")["from"], "default");
    assert_eq!(
        value(&json, "policy", "subject_sends")["value"],
        serde_json::json!({ "max": 5, "window_seconds": 600 })
    );
    assert_eq!(value(&json, "messages", "app_name")["value"], "Acme");
    assert_eq!(value(&json, "delivery", "production")["from"], "default");
    assert_eq!(json["store"]["kind"], "memory");
    assert_eq!(json["senders"], serde_json::json!([]));
    assert_eq!(json["warnings"], serde_json::json!([]));

    // The same config as JSON, and from stdin.
    let as_json = r#"{"tenant": "acme", "keys": {"ring": [{"id": 1, "file": "key1"}]},
        "policy": {"code_length": 8, "email_second_factor": false}, "messages": {"app_name": "Acme"}}"#;
    let from_stdin = passcode_with_stdin(dir.path(), &["check", "--json", "-"], as_json).expect(0).json();
    assert_eq!(from_stdin["file"], "<stdin>");
    assert_eq!(from_stdin["policy"], json["policy"], "JSON reads the same, with the same sources");
}

/// A bad config: the exit status, the error's name, field and line.
fn refused(dir: &Path, config: &str, name: &str, field: Option<&str>, line: Option<u64>) -> Value {
    write(dir, "bad.toml", config);
    let human = passcode(dir, &["check", "bad.toml"]).expect(1);
    assert!(human.stdout.is_empty(), "errors go to stderr: {}", human.stdout);
    let place = match line {
        Some(l) => format!("bad.toml:{l}:"),
        None => "bad.toml: ".to_string(),
    };
    assert!(human.stderr.starts_with(&format!("passcode: error: {place}")), "{config}\n{}", human.stderr);
    assert!(human.stderr.contains(field.unwrap_or("")), "{}", human.stderr);
    assert!(human.stderr.contains(&format!("[{name}]")), "{}", human.stderr);
    let json = passcode(dir, &["check", "--json", "bad.toml"]).expect(1).json();
    assert_eq!(json["ok"], false);
    let e = &json["error"];
    assert_eq!((e["name"].as_str(), e["field"].as_str(), e["file"].as_str()), (Some(name), field, Some("bad.toml")));
    assert_eq!(e["line"].as_u64(), line, "{config}");
    assert_eq!(e["exit"], 1);
    e.clone()
}

#[test]
fn bad_configs_are_refused_naming_the_file_line_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key_file(d, "key1");
    std::fs::write(d.join("weak"), "00".repeat(32)).unwrap();

    let e = refused(
        d,
        "tenant = \"a\"\n\n[policy]\ncode_length = 4\n",
        "policy-out-of-bounds",
        Some("policy.code_length"),
        Some(4),
    );
    assert_eq!(e["number"], 2003);
    assert!(e["message"].as_str().unwrap().contains("must be 6..=10"), "{e}");
    let e =
        refused(d, "[policy]\nmax_attempts = 3\nmax_tries = 3\n", "unknown-config-field", Some("max_tries"), Some(3));
    assert!(e["message"].as_str().unwrap().contains("expected one of"), "the parser lists the fields: {e}");
    refused(d, "[policy]\ncode_length = \"six\"\n", "config-syntax", None, Some(2));
    refused(d, "[[keys.ring]]\nid = 1\nfile = \"missing\"\n", "key-unavailable", Some("keys.ring (id = 1)"), Some(3));
    refused(
        d,
        "[keys]\nindex = 1\n[[keys.ring]]\nid = 1\nfile = \"key1\"\n[[keys.ring]]\nid = 2\nfile = \"weak\"\n",
        "weak-key",
        Some("keys.ring (id = 2)"),
        Some(8),
    );
    // Two keys and no index key named: dropping the first would reset every count.
    let e = refused(
        d,
        "[[keys.ring]]\nid = 1\nfile = \"key1\"\n[[keys.ring]]\nid = 2\nfile = \"key1\"\n",
        "policy-out-of-bounds",
        Some("keys.index"),
        Some(1),
    );
    assert!(e["message"].as_str().unwrap().contains("name the index key"), "{e}");
    let long = "x".repeat(200);
    refused(
        d,
        &format!("[messages]\nsms_max_segments = 1\n\n[[messages.templates]]\nlocale = \"de\"\nchannel = \"sms\"\nsms = \"{{code}} {long}\"\n"),
        "invalid-template",
        Some("messages.templates"),
        Some(4),
    );
    refused(
        d,
        "[delivery.email]\nhost = \"127.0.0.1\"\ntls = \"none\"\nfrom = \"a@acme.example\"\nusername = \"u\"\npassword_file = \"no-such-file\"\n",
        "policy-out-of-bounds",
        Some("delivery.email.password_env"),
        Some(6),
    );
    std::fs::write(d.join("dkim.pem"), "not a key, and secret-ish").unwrap();
    let e = refused(
        d,
        "[delivery.email]\nhost = \"127.0.0.1\"\ntls = \"none\"\nfrom = \"a@acme.example\"\n\
         [delivery.email.dkim]\ndomain = \"acme.example\"\nselector = \"s1\"\nkey_file = \"dkim.pem\"\n",
        "policy-out-of-bounds",
        Some("delivery.email.dkim.key_file"),
        Some(8),
    );
    assert!(!e.to_string().contains("secret-ish"), "a key file's content is never quoted: {e}");
    std::fs::write(d.join("ca.pem"), "hello").unwrap();
    refused(
        d,
        "[delivery.email]\nhost = \"smtp.acme.example\"\nca_file = \"ca.pem\"\nfrom = \"a@acme.example\"\n",
        "policy-out-of-bounds",
        Some("delivery.email.ca_file"),
        Some(3),
    );
    refused(
        d,
        "[delivery]\nproduction = true\n\n[delivery.outbox]\ndir = \"outbox\"\n",
        "policy-out-of-bounds",
        Some("delivery.outbox"),
        Some(4),
    );
    refused(d, "store = \"redis://127.0.0.1:6379\"\n", "policy-out-of-bounds", Some("keys.ring"), None);

    // JSON configs name their lines too.
    write(d, "bad.json", "{\n  \"policy\": {\n    \"max_attempts\": 11\n  }\n}\n");
    let json = passcode(d, &["check", "--json", "bad.json"]).expect(1).json();
    assert_eq!(
        (json["error"]["field"].as_str(), json["error"]["line"].as_u64()),
        (Some("policy.max_attempts"), Some(3))
    );

    let missing = passcode(d, &["check", "nope.toml"]).expect(1);
    assert!(missing.stderr.contains("nope.toml: cannot read the config: there is no such file"), "{}", missing.stderr);
    passcode(d, &["check"]).expect(2);
    passcode(d, &["check", "--no-such-flag", "bad.toml"]).expect(2);
}

#[test]
fn weak_and_surprising_choices_are_warned_about_and_strict_fails_on_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let key = key_file(d, "key1");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    write(d, "token", "twilio-token\n");
    let config = format!(
        "store = \"redis://:{PASSWORD}@cache.invalid:6379/0\"\n\
         [[keys.ring]]\nid = 1\nfile = \"key1\"\n\
         [policy]\nresend_cooldown_seconds = 0\n\
         [messages]\ncode_in_email_subject = true\n\
         [delivery.sms]\nbase_url = \"http://127.0.0.1:9\"\naccount_sid = \"AC1\"\nauth_token_file = \"token\"\nfrom = \"+15005550006\"\n\
         [delivery.outbox]\ndir = \"outbox\"\n"
    );
    write(d, "weak.toml", &config);
    let human = passcode(d, &["check", "weak.toml"]).expect(0);
    assert_no_password(&human);
    assert!(human.stdout.contains("redis://:***@cache.invalid:6379/0"), "{}", human.stdout);
    assert!(!d.join("outbox").exists(), "check creates nothing");
    let strict = passcode(d, &["check", "--strict", "weak.toml"]).expect(4);
    assert!(strict.stdout.contains("refused by --strict"));

    let json = passcode(d, &["check", "--json", "weak.toml"]).expect(0).json();
    let ids = warning_ids(&json);
    for id in [
        "email-second-factor",
        "no-resend-cooldown",
        "code-in-email-subject",
        "sms-every-country",
        "outbox",
        "store-password-in-url",
        "store-without-tls",
        "key-file-mode",
    ] {
        assert!(ids.contains(&id.to_string()), "no {id} warning in {ids:?}");
    }
    let line_of =
        |id: &str| json["warnings"].as_array().unwrap().iter().find(|w| w["id"] == id).unwrap()["line"].clone();
    assert_eq!(line_of("email-second-factor"), Value::Null, "a default has no line");
    assert_eq!(line_of("no-resend-cooldown"), 6);
    assert_eq!(line_of("outbox"), 14);
    assert_eq!(line_of("store-without-tls"), 1);
    assert_eq!(line_of("key-file-mode"), 2);
    let outbox = json["warnings"].as_array().unwrap().iter().find(|w| w["id"] == "outbox").unwrap();
    assert!(outbox["message"].as_str().unwrap().contains("looks like a production config"), "{outbox}");
    assert_eq!(json["store"]["deployment"], "redis: redis://:***@cache.invalid:6379/0");
    assert_eq!(json["store"]["password"], "in the URL");
    assert!(!json.to_string().contains(PASSWORD));

    // Sentinel and Cluster: named, and warned about without TLS to other machines.
    write(
        d,
        "sentinel.toml",
        "[store]\nsentinels = [\"sentinel-a.invalid:26379\", \"sentinel-b.invalid\"]\nmaster_name = \"passcode\"\n\
         [[keys.ring]]\nid = 1\nfile = \"key1\"\n",
    );
    let json = passcode(d, &["check", "--json", "sentinel.toml"]).expect(0).json();
    assert_eq!(json["store"]["kind"], "redis-sentinel");
    let deployment = json["store"]["deployment"].as_str().unwrap();
    assert!(deployment.contains("\"passcode\"") && deployment.contains("sentinel-b.invalid:26379"), "{deployment}");
    assert!(warning_ids(&json).contains(&"store-without-tls".to_string()));
    write(
        d,
        "cluster.toml",
        "[store]\ncluster = [\"rediss://node-a.invalid:6379\"]\n[[keys.ring]]\nid = 1\nfile = \"key1\"\n",
    );
    let json = passcode(d, &["check", "--json", "cluster.toml"]).expect(0).json();
    assert_eq!((json["store"]["kind"].as_str(), json["store"]["tls"].as_bool()), (Some("redis-cluster"), Some(true)));
    assert!(!warning_ids(&json).contains(&"store-without-tls".to_string()), "TLS to every node");

    // A production config on the memory store, without keys.
    write(d, "prod.toml", "[policy]\nemail_second_factor = false\n[delivery]\nproduction = true\n");
    let json = passcode(d, &["check", "--json", "prod.toml"]).expect(0).json();
    assert_eq!(warning_ids(&json), vec!["memory-store-in-production", "ephemeral-key"]);
}

#[test]
fn a_password_in_the_store_url_is_never_printed() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    key_file(d, "key1");
    let redis = RedisServer::start(Some(PASSWORD));
    let closed = support::free_port();
    let with_url = |port: u16| {
        format!("store = \"redis://:{PASSWORD}@127.0.0.1:{port}/0\"\n[[keys.ring]]\nid = 1\nfile = \"key1\"\n")
    };

    // Reachable, with the right password: the probe reads through it.
    write(d, "up.toml", &with_url(redis.port));
    let up = passcode(d, &["check", "--connect", "up.toml"]).expect(0);
    assert!(up.stdout.contains("the store answered a read"), "{}", up.stdout);
    assert_no_password(&up);
    assert_no_password(&passcode(d, &["check", "--json", "--connect", "up.toml"]).expect(0));

    // Unreachable: exit 3, no password in the error, text or JSON.
    write(d, "down.toml", &with_url(closed));
    let down = passcode(d, &["check", "--connect", "down.toml"]).expect(3);
    assert!(down.stderr.contains("store-unavailable") && down.stderr.contains("down.toml:1:"), "{}", down.stderr);
    assert_no_password(&down);
    assert_no_password(&passcode(d, &["--json", "check", "--connect", "down.toml"]).expect(3));
    for cmd in ["status", "unlock"] {
        assert_no_password(&passcode(d, &[cmd, "down.toml", "--channel", "email", "jane@example.com"]).expect(3));
    }

    // A wrong password: refused by Redis, and still not printed.
    write(d, "wrong.toml", &with_url(redis.port).replace(PASSWORD, "Wrong-Passw0rd"));
    let wrong = passcode(d, &["check", "--connect", "wrong.toml"]).expect(3);
    assert!(!wrong.all().contains("Wrong-Passw0rd"), "{}", wrong.all());

    // Broken configs that carry the password: a syntax error on its line, an unknown field.
    write(d, "broken.toml", &format!("store = \"redis://:{PASSWORD}@127.0.0.1:1/0\n"));
    assert_no_password(&passcode(d, &["check", "broken.toml"]).expect(1));
    write(d, "typo.toml", &format!("{}[store]\nurl = 1\n", with_url(1)));
    assert_no_password(&passcode(d, &["check", "typo.toml"]).expect(1));
    write(
        d,
        "typed.toml",
        &format!("[store]\nurl = \"redis://:{PASSWORD}@127.0.0.1:1/0\"\npool_size = \"redis://:{PASSWORD}@x\"\n"),
    );
    assert_no_password(&passcode(d, &["check", "--json", "typed.toml"]).expect(1));
}

/// The gateway's README config: the engine's fields and a `[gateway]` table in one file.
fn gateway_readme_config() -> String {
    let readme = include_str!("../../host-examples/envoy-filter/README.md");
    let start =
        readme.find("# passcode.toml: the engine's config and the gateway's options").expect("the README's example");
    let block = &readme[start..];
    block[..block.find("```").expect("the example's end")].to_string()
}

#[test]
fn the_gateway_s_one_file_config_checks_with_its_table_set_aside() {
    let dir = tempfile::tempdir().unwrap();
    key_file(dir.path(), "key1");
    let example = gateway_readme_config().replace("env = \"PASSCODE_KEY_1\"", "file = \"key1\"");
    assert!(example.contains("[gateway]") && example.contains("file = \"key1\""), "{example}");
    write(dir.path(), "passcode.toml", &example);
    let run = passcode(dir.path(), &["check", "passcode.toml"]).expect(0);
    assert!(run.stdout.contains("[gateway]: 8 option(s) for the gateway"), "{}", run.stdout);
    let json = passcode(dir.path(), &["check", "--json", "passcode.toml"]).expect(0).json();
    assert_eq!(json["gateway_options"], 8);

    // An engine error after the table is still reported at its own line.
    let lines = example.lines().count();
    write(dir.path(), "bad.toml", &format!("{example}\n[policy]\ncode_length = 3\n"));
    let json = passcode(dir.path(), &["check", "--json", "bad.toml"]).json();
    assert_eq!(json["error"]["field"], "policy.code_length", "{json}");
    assert_eq!(json["error"]["line"], lines + 3, "{json}");
}
