//! What the command-line tests share: running the built `passcode` binary in a folder of the
//! test's own, reading what it printed, and a `redis-server` of the test's own on loopback.
#![allow(dead_code)] // Each test file uses a different part of this module.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary cargo built for these tests.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_passcode"))
}

/// What one run printed, and how it ended.
#[derive(Debug)]
pub struct Run {
    /// The exit status (-1 if a signal ended it).
    pub status: i32,
    /// Everything on stdout.
    pub stdout: String,
    /// Everything on stderr.
    pub stderr: String,
}

impl Run {
    /// Stdout as JSON (`--json` runs print one object, errors included).
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!("stdout is not one JSON object ({e}):\n{}\nstderr:\n{}", self.stdout, self.stderr)
        })
    }

    /// Stdout and stderr together, for "never printed" checks.
    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }

    /// Asserts the exit status, showing the output when it differs.
    pub fn expect(self, status: i32) -> Run {
        assert_eq!(self.status, status, "exit status\nstdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }
}

/// Runs `passcode ARGS` in `dir` with `stdin` as its input.
pub fn passcode_with_stdin(dir: &Path, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(binary())
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the passcode binary");
    let mut input = child.stdin.take().expect("piped stdin");
    // A command that does not read stdin may exit first: a broken pipe then is no failure.
    let _ = input.write_all(stdin.as_bytes());
    drop(input);
    let out = child.wait_with_output().expect("wait for passcode");
    Run {
        status: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
        stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
    }
}

/// Runs `passcode ARGS` in `dir`, with nothing on stdin.
pub fn passcode(dir: &Path, args: &[&str]) -> Run {
    passcode_with_stdin(dir, args, "")
}

/// A 32-byte random key file (hex), written as `keygen` would.
pub fn key_file(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join(name);
    let mut bytes = [0u8; 32];
    passcode_core::Random::fill(&passcode_core::OsRandom, &mut bytes).expect("OS random");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&path, format!("{hex}\n")).expect("write the key");
    #[cfg(unix)]
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o600)).expect("chmod the key");
    path
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("bind a loopback port").local_addr().expect("its address").port()
}

/// Debian's `redis-server` on a free loopback port, without persistence, killed on drop.
pub struct RedisServer {
    child: Child,
    /// Its port on 127.0.0.1.
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    /// Starts a server (with `--requirepass PASSWORD` when given) and waits until it answers.
    pub fn start(password: Option<&str>) -> RedisServer {
        for _ in 0..5 {
            let dir = tempfile::tempdir().expect("temp dir");
            let port = free_port();
            let mut cmd = Command::new("redis-server");
            cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
                .args(["--dir", dir.path().to_str().expect("UTF-8 temp dir")])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if let Some(p) = password {
                cmd.args(["--requirepass", p]);
            }
            let child = cmd.spawn().unwrap_or_else(|e| {
                panic!("these tests need Debian's `redis-server` (apt-get install redis-server, or scripts/setup): {e}")
            });
            let mut server = RedisServer { child, port, _dir: dir };
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if server.answers() {
                    return server;
                }
                if server.child.try_wait().ok().flatten().is_some() {
                    break; // The port was taken meanwhile: try another.
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        panic!("redis-server did not start on a loopback port within 10 s (5 tries)");
    }

    /// Whether it answers PING (a password-protected server answers NOAUTH: it is up all the same).
    fn answers(&self) -> bool {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else { return false };
        let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
        if s.write_all(b"PING\r\n").is_err() {
            return false;
        }
        let mut buf = [0u8; 64];
        matches!(s.read(&mut buf), Ok(n) if n > 0 && (buf.starts_with(b"+PONG") || buf.starts_with(b"-NOAUTH")))
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
