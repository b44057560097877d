//! The `passcode-envoy-filter` binary: it starts on embedded defaults and prints the URL to
//! open, and a missing component is a clear message naming the build command.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};

use passcode_envoy_filter::host::require_wasm;

const BIN: &str = env!("CARGO_BIN_EXE_passcode-envoy-filter");

/// Kills the gateway process when the test ends, however it ends.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn it_starts_on_defaults_and_prints_the_url_to_open() {
    let wasm = require_wasm().unwrap_or_else(|m| panic!("{m}"));
    let outbox = std::env::temp_dir().join(format!("passcode-bin-outbox-{}", std::process::id()));
    let child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--quiet-outbox", "--wasm"])
        .arg(&wasm)
        .arg("--outbox")
        .arg(&outbox)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the gateway");
    let mut running = Running(child);
    let stdout = running.0.stdout.take().unwrap();
    let mut printed = String::new();
    let url = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .inspect(|l| printed.push_str(&format!("{l}\n")))
        .find_map(|l| l.strip_prefix("Open ").and_then(|r| r.strip_suffix(" to sign in.")).map(str::to_string))
        .unwrap_or_else(|| panic!("no URL printed"));
    assert!(printed.contains("DEVELOPMENT ONLY"), "{printed}");
    let addr = url.strip_prefix("http://").and_then(|r| r.strip_suffix("/signin")).expect("http://ADDR/signin");
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /signin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut page = String::new();
    s.read_to_string(&mut page).unwrap();
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
    for option in ["--listen", "--upstream", "--config", "--outbox", "--accounts", "PASSCODE_KEY_1"] {
        assert!(text.contains(option), "{option}");
    }
}
