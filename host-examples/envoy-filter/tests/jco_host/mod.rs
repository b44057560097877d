//! The component in Node.js through jco, as a vector surface: the test transpiles
//! `passcode.wasm` with the pinned `@bytecodealliance/jco` of `host-examples/node/` and drives
//! `host-examples/node/vector-host.mjs`, whose store, key reader, clock and random source are
//! JavaScript, one JSON line per call.

use std::cell::RefCell;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::rc::Rc;
use std::sync::OnceLock;

use passcode_vectors::{Failure, IssuedInfo, Surface, VerifiedInfo};
use serde_json::{json, Value};

/// The Node host example, with its pinned jco.
fn node_host_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../node")
}

/// `passcode.wasm` transpiled to JavaScript, once per test process.
fn transpiled() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let wasm = passcode_envoy_filter::host::require_wasm().unwrap_or_else(|m| panic!("{m}"));
        let jco = node_host_dir().join("node_modules/.bin/jco");
        assert!(
            jco.is_file(),
            "jco is missing at {}: run scripts/setup (it runs `npm ci` in host-examples/node)",
            jco.display()
        );
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("jco-passcode");
        let _ = std::fs::remove_dir_all(&out);
        let done = Command::new(&jco)
            .arg("transpile")
            .arg(&wasm)
            .arg("-o")
            .arg(&out)
            .args(["--instantiation", "async", "--name", "passcode", "--quiet"])
            .output()
            .unwrap_or_else(|e| panic!("cannot run {} (is node installed? scripts/setup): {e}", jco.display()));
        assert!(
            done.status.success(),
            "jco transpile failed: {}{}",
            String::from_utf8_lossy(&done.stdout),
            String::from_utf8_lossy(&done.stderr)
        );
        out
    })
}

/// One Node process hosting the component; each `open` makes a fresh instance, store and clock.
pub struct NodeHost {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl NodeHost {
    /// Transpiles the component (once) and starts `node vector-host.mjs`.
    pub fn start() -> Rc<RefCell<NodeHost>> {
        let dir = transpiled();
        let mut child = Command::new("node")
            .arg(node_host_dir().join("vector-host.mjs"))
            .arg(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start node (scripts/setup installs Debian's nodejs): {e}"));
        let input = child.stdin.take().expect("piped");
        let output = BufReader::new(child.stdout.take().expect("piped"));
        Rc::new(RefCell::new(NodeHost { child, input, output }))
    }

    /// One call: the answer's `ok` value, or the refusal. A trap fails the test at once.
    fn call(&mut self, request: Value) -> Result<Value, Failure> {
        writeln!(self.input, "{request}").expect("node reads its input");
        let mut line = String::new();
        self.output.read_line(&mut line).expect("node answers");
        let answer: Value =
            serde_json::from_str(&line).unwrap_or_else(|e| panic!("node answered {line:?} to {}: {e}", request["op"]));
        if let Some(trap) = answer.get("trap") {
            panic!("{} trapped in jco: {}", request["op"], trap.as_str().unwrap_or_default());
        }
        match answer.get("err") {
            Some(e) => Err(Failure {
                number: e["number"].as_u64().expect("a number") as u32,
                attempts_left: e["attempts_left"].as_u64().map(|n| n as u32),
                retry_after: e["retry_after"].as_str().map(|s| s.parse().expect("a u64")),
            }),
            None => Ok(answer["ok"].clone()),
        }
    }
}

impl Drop for NodeHost {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The vector surface over a shared [`NodeHost`].
pub struct JcoSurface(pub Rc<RefCell<NodeHost>>);

fn u64_of(v: &Value) -> u64 {
    v.as_str().and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("a u64 as a string: {v}"))
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_else(|| panic!("a string: {v}")).to_string()
}

fn issued(v: Value) -> IssuedInfo {
    IssuedInfo {
        token: text(&v["token"]),
        code: text(&v["code"]),
        expires_at: u64_of(&v["expires_at"]),
        resend_at: u64_of(&v["resend_at"]),
        message_text: text(&v["message_text"]),
    }
}

/// The names the WIT enums have (as the wasmtime surface, an unknown one is invalid-argument).
fn known(name: &str, names: &[&str]) -> Result<(), Failure> {
    match names.contains(&name) {
        true => Ok(()),
        false => Err(Failure { number: 1008, attempts_left: None, retry_after: None }),
    }
}

const CHANNELS: [&str; 2] = ["email", "sms"];
const PURPOSES: [&str; 5] = ["sign-up", "sign-in", "second-factor", "verify-contact", "recovery"];

impl JcoSurface {
    fn call(&mut self, request: Value) -> Result<Value, Failure> {
        self.0.borrow_mut().call(request)
    }
}

impl Surface for JcoSurface {
    fn open(&mut self, config_json: &str, now: u64) -> Result<(), Failure> {
        self.call(json!({"op": "open", "config": config_json, "now": now.to_string()})).map(|_| ())
    }
    fn advance(&mut self, seconds: u64) {
        self.call(json!({"op": "advance", "seconds": seconds.to_string()})).expect("the clock moves");
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
        known(channel, &CHANNELS)?;
        known(purpose, &PURPOSES)?;
        let request = json!({"op": "issue", "channel": channel, "identifier": identifier, "purpose": purpose,
            "client": client, "locale": locale, "account": account});
        self.call(request).map(issued)
    }
    fn verify(&mut self, token: &str, code: &str) -> Result<VerifiedInfo, Failure> {
        self.call(json!({"op": "verify", "token": token, "code": code})).map(|v| VerifiedInfo {
            identifier: text(&v["identifier"]),
            channel: text(&v["channel"]),
            purpose: text(&v["purpose"]),
            account: v["account"].as_str().map(String::from),
        })
    }
    fn resend(&mut self, token: &str, client: Option<&str>) -> Result<IssuedInfo, Failure> {
        self.call(json!({"op": "resend", "token": token, "client": client})).map(issued)
    }
    fn cancel(&mut self, token: &str) -> Result<(), Failure> {
        self.call(json!({"op": "cancel", "token": token})).map(|_| ())
    }
    fn unlock(&mut self, channel: &str, identifier: &str) -> Result<(), Failure> {
        known(channel, &CHANNELS)?;
        self.call(json!({"op": "unlock", "channel": channel, "identifier": identifier})).map(|_| ())
    }
    fn unlock_account(&mut self, account: &str) -> Result<(), Failure> {
        self.call(json!({"op": "unlock-account", "account": account})).map(|_| ())
    }
}
