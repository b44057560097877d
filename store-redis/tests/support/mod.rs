//! What every Redis test needs: its own `redis-server` on a free loopback port, stopped
//! when the guard is dropped, and small helpers around it.
//!
//! The tests never reuse a server someone else runs: each starts Debian's `redis-server`
//! (package `redis-server`) in a temporary folder, without persistence, bound to 127.0.0.1.
#![allow(dead_code)] // Each test file uses a different part of this module.

pub mod deployments;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `redis-server`, killed on drop.
pub struct RedisServer {
    child: Option<Child>,
    /// The loopback port it listens on.
    pub port: u16,
    dir: tempfile::TempDir,
    extra: Vec<String>,
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
    l.local_addr().expect("local address").port()
}

impl RedisServer {
    /// Starts a server on a free port and waits until it answers PING.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts a server with extra `redis-server` arguments (e.g. `--requirepass`).
    pub fn start_with(extra: &[&str]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut s =
            RedisServer { child: None, port: free_port(), dir, extra: extra.iter().map(|s| s.to_string()).collect() };
        // The free port may be taken between the probe and redis-server's bind (another
        // test, an outgoing connection): then try another.
        for _ in 0..5 {
            match s.try_start() {
                Ok(()) => return s,
                Err(_) => s.port = free_port(),
            }
        }
        s.restart();
        s
    }

    /// The folder the server runs in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's process id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `redis://127.0.0.1:PORT/0`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    /// Kills the server (as a crash or an operator's stop would) and waits for it to go.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts the server again on the same port (after `stop`), and waits for PING.
    pub fn restart(&mut self) {
        if let Err(log) = self.try_start() {
            panic!("redis-server exited on port {}:\n{log}", self.port);
        }
    }

    /// Starts the server on its port and waits for PING; `Err` with its log if it exited.
    fn try_start(&mut self) -> Result<(), String> {
        self.stop();
        let log = self.dir.path().join("redis.log");
        let mut cmd = Command::new("redis-server");
        // A replica's first sync starts at once (the default waits 5 s to batch replicas).
        cmd.args(["--port", &self.port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .args(["--repl-diskless-sync-delay", "0"])
            .args(["--dir", self.dir.path().to_str().expect("UTF-8 temp dir")])
            .args(["--logfile", log.to_str().expect("UTF-8 temp dir"), "--daemonize", "no"])
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!(
                "redis-server is not installed: these tests need Debian's package `redis-server` \
                 (apt-get install -y redis-server redis-tools, or scripts/setup)"
            ),
            Err(e) => panic!("cannot start redis-server: {e}"),
        };
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if self.ping() {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                return Err(format!("{status}: {}", std::fs::read_to_string(&log).unwrap_or_default()));
            }
            assert!(Instant::now() < deadline, "redis-server did not answer PING within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn ping(&self) -> bool {
        let Ok(client) = redis::Client::open(self.admin_url()) else { return false };
        let Ok(mut c) = client.get_connection_with_timeout(Duration::from_millis(200)) else { return false };
        // A server with a password answers NOAUTH: it is up all the same.
        match redis::cmd("PING").query::<String>(&mut c) {
            Ok(_) => true,
            Err(e) => e.code() == Some("NOAUTH"),
        }
    }

    fn admin_url(&self) -> String {
        match self.extra.iter().position(|a| a == "--requirepass") {
            Some(i) => format!("redis://:{}@127.0.0.1:{}/0", self.extra[i + 1], self.port),
            None => self.url(),
        }
    }

    /// A direct connection for the test to inspect or poke the server.
    pub fn admin(&self) -> redis::Connection {
        let client = redis::Client::open(self.admin_url()).expect("client");
        client.get_connection_with_timeout(Duration::from_secs(2)).expect("connect to the test server")
    }

    /// One command's answer, as a test inspects the server.
    pub fn query<T: redis::FromRedisValue>(&self, args: &[&str]) -> T {
        let mut c = self.admin();
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(&mut c).unwrap_or_else(|e| panic!("{args:?}: {e}"))
    }

    /// How many times the server ran each command the store uses for records (HMGET,
    /// EVALSHA, SCRIPT, WAIT), from INFO commandstats: the store's round trips, without the
    /// pool's connection set-up or the test's own commands.
    pub fn store_commands(&self) -> u64 {
        let info: String = self.query(&["INFO", "commandstats"]);
        info.lines()
            .filter(|l| {
                ["cmdstat_hmget:", "cmdstat_evalsha:", "cmdstat_script|load:", "cmdstat_wait:"]
                    .iter()
                    .any(|p| l.starts_with(p))
            })
            .map(|l| {
                l.split(&[':', ','][..])
                    .find_map(|f| f.strip_prefix("calls="))
                    .and_then(|v| v.parse::<u64>().ok())
                    .expect("calls= in commandstats")
            })
            .sum()
    }

    /// Every command the server processed (INFO stats), set-up and inspection included.
    pub fn commands_processed(&self) -> u64 {
        let info: String = self.query(&["INFO", "stats"]);
        info.lines()
            .find_map(|l| l.strip_prefix("total_commands_processed:"))
            .and_then(|v| v.trim().parse().ok())
            .expect("total_commands_processed in INFO stats")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A folder with a 32-byte key file (hex), shared by every process of one test.
pub struct KeyFile {
    _dir: tempfile::TempDir,
    /// The key file.
    pub path: PathBuf,
}

impl KeyFile {
    /// A fresh random key (from the OS), written as hex.
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("key1.hex");
        let mut bytes = [0u8; 32];
        passcode_core::Random::fill(&passcode_core::OsRandom, &mut bytes).expect("OS random");
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(&path, hex).expect("write key");
        KeyFile { _dir: dir, path }
    }
}

/// A config for a Redis-backed engine: the store table, the key ring and extra TOML.
pub fn config_toml(url: &str, prefix: &str, store_extra: &str, key: &Path, rest: &str) -> String {
    format!(
        "[store]\nurl = {url:?}\nprefix = {prefix:?}\n{store_extra}\n\n[[keys.ring]]\nid = 1\nfile = {:?}\n\n{rest}\n",
        key.to_str().expect("UTF-8 path")
    )
}

/// A unique prefix for one test's records.
pub fn unique_prefix(name: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    format!("t{}:{name}:{}:", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}
