//! The `passcode-envoy-filter` binary: it starts on embedded defaults and prints the URL to
//! open, and a missing component is a clear message naming the build command.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use passcode_envoy_filter::host::require_wasm;

#[path = "../../../store-redis/tests/support/mod.rs"]
mod redis_support;

const BIN: &str = env!("CARGO_BIN_EXE_passcode-envoy-filter");

/// Kills the gateway process when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads the gateway's standard output up to the line naming the page to open: the gateway's
/// address and everything printed so far.
fn address_printed(child: &mut Child) -> (String, String) {
    let stdout = child.stdout.take().expect("stdout piped");
    let mut printed = String::new();
    let addr =
        BufReader::new(stdout).lines().map_while(Result::ok).inspect(|l| printed.push_str(&format!("{l}\n"))).find_map(
            |l| l.strip_prefix("Open http://").and_then(|r| r.strip_suffix("/signin to sign in.")).map(str::to_string),
        );
    (addr.unwrap_or_else(|| panic!("no URL printed: {printed}")), printed)
}

/// One request on a new connection; the whole answer.
fn get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes()).unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn it_starts_on_defaults_and_prints_the_url_to_open() {
    let wasm = require_wasm().unwrap_or_else(|m| panic!("{m}"));
    let outbox = std::env::temp_dir().join(format!("passcode-bin-outbox-{}", std::process::id()));
    let child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--admin-listen", "127.0.0.1:0", "--quiet-outbox", "--wasm"])
        .arg(&wasm)
        .arg("--outbox")
        .arg(&outbox)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the gateway");
    let mut running = Running(child);
    let (addr, printed) = address_printed(&mut running.0);
    assert!(printed.contains("DEVELOPMENT ONLY"), "{printed}");
    let page = get(&addr, "/signin");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains(r#"autocomplete="one-time-code""#));
    drop(running);
    let _ = std::fs::remove_dir_all(outbox);
}

#[test]
fn a_missing_component_names_the_build_command() {
    let out =
        Command::new(BIN).env("PASSCODE_WASM", "/nonexistent/passcode.wasm").env_remove("CARGO").output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cargo run --release -p passcode-componentize"), "{err}");
    assert!(err.contains("/nonexistent/passcode.wasm"), "{err}");
}

#[test]
fn help_lists_the_options() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for option in [
        "--listen",
        "--upstream",
        "--config",
        "--outbox",
        "--accounts",
        "PASSCODE_KEY_1",
        "redis+sentinel://",
        "redis+cluster://",
    ] {
        assert!(text.contains(option), "{option}");
    }
    for o in passcode_envoy_filter::options::OPTIONS {
        assert!(text.contains(&format!("--{} ", o.key.replace('_', "-"))), "{}", o.key);
    }
}

#[test]
fn the_readme_lists_every_option() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    for o in passcode_envoy_filter::options::OPTIONS {
        let flag = format!("`--{}", o.key.replace('_', "-"));
        assert!(readme.contains(&flag), "the README's options table lacks {flag}`");
    }
}

#[test]
fn a_bad_option_is_a_clear_error() {
    for (args, says) in [
        (&["--trust-forwarded"][..], "--xff-trusted-hops"),
        (&["--max-connections", "many"][..], "max_connections: not a whole number"),
        (&["--listen"][..], "--listen needs a value"),
        (&["--log-format", "xml"][..], "log_format"),
    ] {
        let out = Command::new(BIN).args(args).output().unwrap();
        assert!(!out.status.success(), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "{args:?}: {err}");
    }
}

#[test]
fn a_store_urls_password_is_never_printed() {
    let wasm = require_wasm().unwrap_or_else(|m| panic!("{m}"));
    let redis = redis_support::RedisServer::start_with(&["--requirepass", "right-horse-battery"]);
    let nobody = redis_support::free_port();
    let key: String = (0u8..32).map(|i| format!("{:02x}", i.wrapping_mul(29).wrapping_add(11))).collect();
    let gateway = |store: &str| {
        let mut command = Command::new(BIN);
        command
            .args(["--listen", "127.0.0.1:0", "--admin-listen", "none", "--quiet-outbox", "--store", store, "--wasm"])
            .arg(&wasm)
            .env("PASSCODE_KEY_1", &key)
            .env("PASSCODE_SESSION_KEY", &key)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        command
    };
    // Refused: a wrong password, and deployments nobody answers for, in each URL form.
    for url in [
        format!("redis://:wrong-horse-battery@127.0.0.1:{}/0", redis.port),
        format!("redis+sentinel://app:wrong-horse-battery@127.0.0.1:{nobody}/passcode"),
        format!("redis+cluster://:wrong-horse-battery@127.0.0.1:{nobody}"),
        "redis+cluster://:wrong-horse-battery@".to_string(),
    ] {
        let out = gateway(&url).output().unwrap();
        assert!(!out.status.success(), "{url}");
        let printed = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        assert!(printed.contains("the store"), "a clear error: {printed}");
        assert!(!printed.contains("wrong-horse"), "the password was printed: {printed}");
    }
    // Served: the right password, in the URL; nothing printed holds it.
    let url = format!("redis://:right-horse-battery@127.0.0.1:{}/0", redis.port);
    let mut running = Running(gateway(&url).spawn().unwrap());
    let mut stderr = running.0.stderr.take().unwrap();
    let logs = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let (addr, mut printed) = address_printed(&mut running.0);
    let answer = get(&addr, "/readyz");
    assert!(answer.starts_with("HTTP/1.1 204"), "ready on the Redis it authenticated to: {answer}");
    let _ = Command::new("kill").args(["-TERM", &running.0.id().to_string()]).status();
    assert!(running.0.wait().unwrap().success());
    printed.push_str(&logs.join().unwrap());
    assert!(printed.contains("shutting down"), "{printed}");
    assert!(!printed.contains("right-horse"), "the password was printed: {printed}");
}
