//! Real servers on loopback for the delivery tests, started by the tests themselves:
//!
//! - [`SmtpServer`]: aiosmtpd (Debian's `python3-aiosmtpd`), plain, STARTTLS or implicit TLS,
//!   with AUTH when asked; it keeps every accepted message as raw bytes for a MIME parser.
//! - [`ProviderServer`]: a Twilio-compatible Messages API and a Standard Webhooks receiver
//!   that verifies signatures with the reference library (PyPI `standardwebhooks`).
//! - [`Certificates`]: a throwaway CA and a server certificate for `localhost`/127.0.0.1,
//!   made with the `openssl` command.
//! - [`dkim_verify`]: checks a DKIM signature with dkimpy (Debian's `python3-dkim`).
//!
//! The Python runs in `target/tools/py`, a venv `scripts/setup` makes. A missing tool fails
//! the test with a message naming it: nothing here skips.
#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

const SMTP_SERVER: &str = include_str!("../python/smtp_server.py");
const PROVIDER_SERVER: &str = include_str!("../python/provider_server.py");

/// The venv's Python (`PASSCODE_TEST_PYTHON` overrides it).
pub fn python() -> PathBuf {
    if let Some(p) = std::env::var_os("PASSCODE_TEST_PYTHON") {
        return PathBuf::from(p);
    }
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/py/bin/python");
    assert!(
        p.exists(),
        "the delivery tests need the Python venv {} with aiosmtpd, dkim and standardwebhooks: run scripts/setup",
        p.display()
    );
    p
}

/// A child process that is killed when dropped; closing its stdin asks it to stop.
struct Server {
    child: Child,
    _stdin: ChildStdin,
    port: u16,
}

impl Server {
    /// Runs `script` with `args`, waits for its `READY <port>` line.
    fn start(name: &str, script: &str, dir: &Path, args: &[String]) -> Server {
        let path = dir.join(name);
        std::fs::write(&path, script).expect("write the server script");
        let mut child = Command::new(python())
            .arg(&path)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} with {}: {e}", python().display()));
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
        let Some(port) = line.strip_prefix("READY ").and_then(|p| p.trim().parse().ok()) else {
            let _ = child.kill();
            panic!("{name} did not start (it printed {line:?}); is python3-aiosmtpd installed? run scripts/setup");
        };
        Server { child, _stdin: stdin, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A throwaway CA and a certificate it signed for `localhost` and 127.0.0.1, plus a second
/// CA that signed nothing (trusting only it must fail).
pub struct Certificates {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let status = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("the TLS tests need the `openssl` command (Debian package `openssl`): {e}"));
    assert!(status.success(), "openssl {args:?} failed");
}

impl Certificates {
    /// Makes the certificates in a new temporary folder.
    pub fn new() -> Certificates {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
        for (key, crt, subject) in
            [("ca.key", "ca.crt", "/CN=Passcode test CA"), ("other.key", "other.crt", "/CN=Other CA")]
        {
            openssl(
                d,
                &[&["req", "-x509"], &ec[..], &["-keyout", key, "-out", crt, "-days", "2", "-subj", subject]].concat(),
            );
        }
        openssl(
            d,
            &[&["req"], &ec[..], &["-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost"]].concat(),
        );
        std::fs::write(d.join("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n").expect("write san.ext");
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.crt",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.crt",
                "-days",
                "2",
                "-extfile",
                "san.ext",
            ],
        );
        Certificates { dir }
    }

    /// The CA that signed the server's certificate (PEM).
    pub fn ca(&self) -> PathBuf {
        self.dir.path().join("ca.crt")
    }

    /// A CA that signed nothing here (PEM).
    pub fn other_ca(&self) -> PathBuf {
        self.dir.path().join("other.crt")
    }

    /// The server's certificate (PEM).
    pub fn cert(&self) -> PathBuf {
        self.dir.path().join("server.crt")
    }

    /// The server's private key (PEM).
    pub fn key(&self) -> PathBuf {
        self.dir.path().join("server.key")
    }
}

impl Default for Certificates {
    fn default() -> Self {
        Certificates::new()
    }
}

/// How the test SMTP server protects connections.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SmtpTls {
    /// Plain SMTP.
    None,
    /// STARTTLS required before anything else.
    Starttls,
    /// TLS from the first byte.
    Implicit,
}

/// What the test SMTP server is started with.
pub struct SmtpOptions<'a> {
    /// TLS mode; `Starttls` and `Implicit` need `certificates`.
    pub tls: SmtpTls,
    /// The certificate and key it presents.
    pub certificates: Option<&'a Certificates>,
    /// Require AUTH with this user and password.
    pub auth: Option<(&'a str, &'a str)>,
    /// Wait this long before answering DATA (a slow relay).
    pub delay_seconds: f64,
}

impl Default for SmtpOptions<'_> {
    fn default() -> Self {
        SmtpOptions { tls: SmtpTls::None, certificates: None, auth: None, delay_seconds: 0.0 }
    }
}

/// One message the SMTP server accepted.
#[derive(Clone, Debug)]
pub struct Received {
    /// The envelope sender.
    pub mail_from: String,
    /// The envelope recipients.
    pub rcpt_tos: Vec<String>,
    /// Whether the session had authenticated.
    pub authenticated: bool,
    /// Whether the session was encrypted.
    pub encrypted: bool,
    /// The client's port: messages with the same one came over one connection.
    pub peer_port: u64,
    /// The message as sent (headers and body).
    pub raw: Vec<u8>,
}

/// aiosmtpd on a free loopback port.
pub struct SmtpServer {
    server: Server,
    mailbox: tempfile::TempDir,
}

impl SmtpServer {
    /// Starts a server.
    pub fn start(options: SmtpOptions<'_>) -> SmtpServer {
        let mailbox = tempfile::tempdir().expect("tempdir");
        let box_dir = mailbox.path().join("mail");
        let mut args = vec!["--dir".to_string(), box_dir.display().to_string()];
        let tls = match options.tls {
            SmtpTls::None => "none",
            SmtpTls::Starttls => "starttls",
            SmtpTls::Implicit => "implicit",
        };
        args.extend(["--tls".into(), tls.into()]);
        if options.tls != SmtpTls::None {
            let c = options.certificates.expect("a TLS server needs certificates");
            args.extend([
                "--cert".into(),
                c.cert().display().to_string(),
                "--key".into(),
                c.key().display().to_string(),
            ]);
        }
        if let Some((u, p)) = options.auth {
            args.extend(["--user".into(), u.into(), "--password".into(), p.into()]);
        }
        if options.delay_seconds > 0.0 {
            args.extend(["--delay".into(), options.delay_seconds.to_string()]);
        }
        let server = Server::start("smtp_server.py", SMTP_SERVER, mailbox.path(), &args);
        SmtpServer { server, mailbox }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.server.port
    }

    /// Every message accepted so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        let dir = self.mailbox.path().join("mail");
        let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
        let mut emls: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "eml"))
            .collect();
        emls.sort();
        emls.iter()
            .map(|eml| {
                let meta: Value = serde_json::from_slice(&std::fs::read(eml.with_extension("json")).expect("envelope"))
                    .expect("envelope json");
                Received {
                    mail_from: meta["mail_from"].as_str().unwrap_or_default().to_string(),
                    rcpt_tos: meta["rcpt_tos"]
                        .as_array()
                        .map(|a| a.iter().filter_map(|v| v.as_str().map(String::from)).collect())
                        .unwrap_or_default(),
                    authenticated: meta["authenticated"].as_bool().unwrap_or(false),
                    encrypted: meta["encrypted"].as_bool().unwrap_or(false),
                    peer_port: meta["peer_port"].as_u64().unwrap_or(0),
                    raw: std::fs::read(eml).expect("message"),
                }
            })
            .collect()
    }

    /// Waits until at least `n` messages have arrived; panics after `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let m = self.messages();
            if m.len() >= n {
                return m;
            }
            assert!(start.elapsed() < timeout, "the SMTP server got {} messages, not {n}, within {timeout:?}", m.len());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// The SMS provider stand-in on a free loopback port.
pub struct ProviderServer {
    server: Server,
    agent: ureq::Agent,
    _dir: tempfile::TempDir,
}

impl ProviderServer {
    /// Starts it with Messages API accounts `(sid, token)` and a webhook secret (`whsec_...`).
    pub fn start(accounts: &[(&str, &str)], webhook_secret: Option<&str>) -> ProviderServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args = Vec::new();
        for (sid, token) in accounts {
            args.extend(["--account".to_string(), format!("{sid}:{token}")]);
        }
        if let Some(s) = webhook_secret {
            args.extend(["--webhook-secret".to_string(), s.to_string()]);
        }
        let server = Server::start("provider_server.py", PROVIDER_SERVER, dir.path(), &args);
        let agent: ureq::Agent =
            ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(10))).build().into();
        ProviderServer { server, agent, _dir: dir }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.server.port)
    }

    /// The webhook endpoint's URL.
    pub fn webhook_url(&self) -> String {
        format!("{}/webhook", self.base_url())
    }

    /// Sets the answers an endpoint gives next (`key`: an account id, or `webhook`).
    pub fn script(&self, key: &str, answers: &[&str]) {
        let body = serde_json::json!({ "key": key, "answers": answers }).to_string();
        self.agent
            .post(format!("{}/_script", self.base_url()))
            .header("content-type", "application/json")
            .send(body.as_bytes())
            .expect("script the provider stand-in");
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<Value> {
        let mut r = self.agent.get(format!("{}/_requests", self.base_url())).call().expect("read the requests");
        let text = r.body_mut().read_to_string().expect("requests body");
        serde_json::from_str::<Vec<Value>>(&text).expect("requests json")
    }

    /// Waits until at least `n` requests have arrived; panics after `timeout`.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Value> {
        let start = Instant::now();
        loop {
            let r = self.requests();
            if r.len() >= n {
                return r;
            }
            assert!(start.elapsed() < timeout, "the provider got {} requests, not {n}, within {timeout:?}", r.len());
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Verifies a message's DKIM signature with dkimpy, the public key served as the DNS TXT
/// record `<selector>._domainkey.<domain>`. `public_key_b64` is the key's DER in base64 (the
/// `p=` value).
pub fn dkim_verify(
    raw: &[u8],
    selector: &str,
    domain: &str,
    algorithm: &str,
    public_key_b64: &str,
) -> Result<(), String> {
    let script = r#"
import sys, dkim
name, record = sys.argv[1].encode(), sys.argv[2].encode()
def dns(qname, timeout=5):
    return record if qname.rstrip(b".") == name else None
msg = sys.stdin.buffer.read()
sys.exit(0 if dkim.verify(msg, dnsfunc=dns) else 3)
"#;
    let name = format!("{selector}._domainkey.{domain}");
    let record = format!("v=DKIM1; k={algorithm}; p={public_key_b64}");
    let mut child = Command::new(python())
        .args(["-c", script, &name, &record])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run python for dkimpy: {e}"))?;
    child.stdin.take().expect("stdin").write_all(raw).map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    match out.status.code() {
        Some(0) => Ok(()),
        Some(3) => Err("dkimpy says the signature does not verify".into()),
        _ => Err(format!("dkimpy failed (is python3-dkim installed?): {}", String::from_utf8_lossy(&out.stderr))),
    }
}
