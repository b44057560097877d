//! The Keycloak example (host-examples/keycloak/): Java 17 over libpasscode through JNA.
//!
//! The library this test run built is installed with ffi/install.sh into a scratch prefix (the
//! layout an operator gets: libpasscode.so.1 and the libpasscode.so link), the Java sources are
//! built with host-examples/keycloak/build.sh (javac and jar, no network), and then:
//! - the JUnit 5 tests run against servers started here on loopback, closing with
//!   "N passed, N failed": a Redis server, an SMTP server (aiosmtpd) and the SMS provider
//!   stand-in, both from tests/test-servers, which the authenticators deliver codes to through
//!   libpasscode's delivery. What those servers receive is copied into a folder the Java tests
//!   read their codes from, and checked here afterwards: each message carries a code, and
//!   nothing reached the address that has no account;
//! - the scenario vectors of tests/vectors run through the JNA binding, driven by the shared
//!   Rust runner over a pipe to one JVM;
//! - the binding's status enum is compared with include/passcode.h, and the layout JNA gives its
//!   structs with the C ABI's;
//! - the provider jar holds the service file and the theme, and none of the stand-in types.
//!
//! A missing tool (java, javac, jar, Debian's libjna-java or junit5, redis-server, the Python
//! of tests/test-servers) fails the test, naming it.

#[path = "../../store-redis/tests/support/mod.rs"]
mod support;

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Output, Stdio};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use passcode_core::ERROR_TABLE;
use passcode_test_servers::{ProviderServer, SmtpServer};
use passcode_vectors::{Failure, IssuedInfo, Surface, VerifiedInfo};

const JNA_JAR: &str = "/usr/share/java/jna.jar";
const JUNIT_JAR: &str = "/usr/share/java/junit-platform-console-standalone.jar";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("ffi/ is in the repository").to_path_buf()
}

fn show(out: &Output) -> String {
    format!("--- stdout\n{}--- stderr\n{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr))
}

/// Fails the test, naming what to install, unless the JDK and the Debian jars are there.
fn need_java() {
    for tool in ["java", "javac", "jar"] {
        let ok = Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success());
        assert!(ok, "`{tool}` (a JDK 17) is needed for the Keycloak example and was not found; run scripts/setup");
    }
    assert!(Path::new(JNA_JAR).is_file(), "{JNA_JAR} is missing: install Debian's libjna-java (scripts/setup)");
    assert!(Path::new(JUNIT_JAR).is_file(), "{JUNIT_JAR} is missing: install Debian's junit5 (scripts/setup)");
}

/// `<target>/<profile>` of this test binary, with the cdylib built there (cargo test builds
/// only the rlib), and the library installed under `<target>/<profile>/java-test-prefix`.
fn lib_dir() -> &'static Path {
    static LIB: OnceLock<PathBuf> = OnceLock::new();
    LIB.get_or_init(|| {
        let exe = std::env::current_exe().expect("the test's path");
        let dir = exe.parent().and_then(Path::parent).expect("<target>/<profile>").to_path_buf();
        let profile = dir.file_name().and_then(|n| n.to_str()).expect("a profile name").to_string();
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut cmd = Command::new(cargo);
        cmd.args(["build", "--lib", "-p", "passcode-ffi"])
            .current_dir(repo())
            .env("CARGO_TARGET_DIR", dir.parent().expect("<target>"));
        match profile.as_str() {
            "debug" => {}
            "release" => {
                cmd.arg("--release");
            }
            other => {
                cmd.args(["--profile", other]);
            }
        }
        let out = cmd.output().expect("cargo runs");
        assert!(out.status.success(), "cargo build -p passcode-ffi failed:\n{}", show(&out));
        let prefix = dir.join("java-test-prefix");
        let _ = std::fs::remove_dir_all(&prefix);
        let out = Command::new("bash")
            .arg(repo().join("ffi/install.sh"))
            .arg(&prefix)
            .env("PASSCODE_NO_BUILD", "1")
            .env("PASSCODE_LIB_DIR", &dir)
            .output()
            .expect("bash runs ffi/install.sh");
        assert!(out.status.success(), "ffi/install.sh failed:\n{}", show(&out));
        prefix.join("lib")
    })
}

/// The jars, built once per run into `<target>/<profile>/keycloak`; returns the classpath.
fn classpath() -> &'static str {
    static CLASSPATH: OnceLock<String> = OnceLock::new();
    CLASSPATH.get_or_init(|| {
        need_java();
        let out_dir = lib_dir().parent().and_then(Path::parent).expect("<profile>").join("keycloak");
        let out = Command::new("bash")
            .arg(repo().join("host-examples/keycloak/build.sh"))
            .arg(&out_dir)
            .output()
            .expect("bash runs build.sh");
        assert!(out.status.success(), "host-examples/keycloak/build.sh failed:\n{}", show(&out));
        std::fs::read_to_string(out_dir.join("classpath")).expect("build.sh writes the classpath").trim().to_string()
    })
}

/// `java` with the example's classpath and the installed library.
fn java(main: &str) -> Command {
    let mut cmd = Command::new("java");
    cmd.arg("-cp")
        .arg(classpath())
        .arg(format!("-Djna.library.path={}", lib_dir().display()))
        .arg(format!("-Dpasscode.expectedVersion={}", env!("CARGO_PKG_VERSION")))
        .arg(main)
        .current_dir(lib_dir());
    cmd
}

/// The SMS provider stand-in's account; the Java tests name the token's variable, never the token.
const SMS_ACCOUNT: &str = "AC0123456789abcdef0123456789abcdef";
const SMS_TOKEN: &str = "java-test-token";
/// The address the Java tests use for "no account here": nothing may ever be sent to it.
const NOBODY: &str = "nobody@example.com";

/// Copies what the servers receive into `inbox`, one file per message and recipient
/// (`NNNNNN-email.txt` with the raw mail, `NNNNNN-sms.txt` with the SMS text), its first line
/// `to: RECIPIENT`, until `done` is set; then once more, so nothing received is left out.
fn relay(smtp: &SmtpServer, provider: &ProviderServer, inbox: &Path, done: &AtomicBool) {
    let mut written = 0usize;
    let mut mails = 0usize;
    let mut sms = 0usize;
    let mut write = |kind: &str, to: &str, body: &[u8]| {
        written += 1;
        let tmp = inbox.join(format!("{written:06}-{kind}.tmp"));
        let mut text = format!("to: {to}\n").into_bytes();
        text.extend_from_slice(body);
        std::fs::write(&tmp, text).expect("write to the inbox");
        std::fs::rename(&tmp, tmp.with_extension("txt")).expect("publish in the inbox");
    };
    loop {
        let last = done.load(Ordering::SeqCst);
        for mail in smtp.messages().iter().skip(mails) {
            mails += 1;
            for to in &mail.rcpt_tos {
                write("email", to, &mail.raw);
            }
        }
        for request in provider.requests().iter().skip(sms) {
            sms += 1;
            let form = &request["form"];
            write("sms", form["To"].as_str().unwrap_or(""), form["Body"].as_str().unwrap_or("").as_bytes());
        }
        if last {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Whether `text` holds a run of exactly six digits (a code).
fn holds_a_code(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_digit()).any(|run| run.len() == 6)
}

#[test]
fn java_tests_pass_with_their_closing_line() {
    let redis = support::RedisServer::start();
    let smtp = SmtpServer::start(Default::default());
    let provider = ProviderServer::start(&[(SMS_ACCOUNT, SMS_TOKEN)], None);
    let inbox = tempfile::tempdir().expect("a folder for the inbox");
    let done = AtomicBool::new(false);
    let out = std::thread::scope(|scope| {
        scope.spawn(|| relay(&smtp, &provider, inbox.path(), &done));
        let out = java("passcode.keycloak.tests.TestMain")
            .env("PASSCODE_TEST_REDIS_URL", redis.url())
            .env("PASSCODE_TEST_SMTP_PORT", smtp.port().to_string())
            .env("PASSCODE_TEST_SMS_BASE_URL", provider.base_url())
            .env("PASSCODE_TEST_SMS_ACCOUNT", SMS_ACCOUNT)
            .env("PASSCODE_TEST_SMS_TOKEN", SMS_TOKEN)
            .env("PASSCODE_TEST_INBOX", inbox.path())
            .output()
            .expect("java runs");
        done.store(true, Ordering::SeqCst);
        out
    });
    let text = show(&out);
    let closing = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(" passed, 0 failed").and_then(|n| n.parse::<u32>().ok()))
        .next_back();
    assert!(out.status.success(), "the Java tests failed:\n{text}");
    let passed = closing.unwrap_or_else(|| panic!("no closing `N passed, 0 failed` line:\n{text}"));
    assert!(passed >= 39, "only {passed} Java tests ran:\n{text}");

    // What libpasscode's delivery sent for the authenticators, as the servers received it.
    let mails = smtp.messages();
    assert!(mails.len() >= 5, "the SMTP server got {} mails; the delivery tests send at least 5", mails.len());
    for mail in &mails {
        let raw = String::from_utf8_lossy(&mail.raw);
        for to in &mail.rcpt_tos {
            assert_ne!(to, NOBODY, "a code was mailed to the address that has no account");
            assert!(to.starts_with("jane.") && to.ends_with("@example.com"), "a mail to {to}");
        }
        assert_eq!(mail.mail_from, "sign-in@acme.example", "sent from the configured address");
        let body = raw
            .split_once("Content-Type: text/plain")
            .map(|(_, b)| b)
            .unwrap_or_else(|| panic!("no text part:\n{raw}"));
        assert!(holds_a_code(body), "the mail carries a six-digit code:\n{raw}");
    }
    let sms: Vec<_> = provider.requests().into_iter().filter(|r| r["endpoint"] == "messages").collect();
    assert!(!sms.is_empty(), "the SMS provider stand-in got no SMS");
    for r in &sms {
        assert_eq!(r["auth_ok"], true, "the SMS request authenticated with the token from the variable: {r}");
        assert_eq!(r["answer"], "201", "{r}");
        assert!(r["form"]["To"].as_str().is_some_and(|to| to.starts_with("+1415555")), "{r}");
        assert!(holds_a_code(r["form"]["Body"].as_str().unwrap_or("")), "the SMS carries a six-digit code: {r}");
    }
    print!("{}", String::from_utf8_lossy(&out.stdout));
    println!("Java tests: {passed} passed, 0 failed; {} mails and {} SMS delivered", mails.len(), sms.len());
}

/// What a Java main prints as `NAME=number` lines.
fn java_table<T: std::str::FromStr + Ord>(main: &str) -> BTreeSet<(String, T)> {
    let out = java(main).output().expect("java runs");
    assert!(out.status.success(), "{}", show(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(name, n)| (name.to_string(), n.parse().unwrap_or_else(|_| panic!("{main} printed {name}={n}"))))
        .collect()
}

#[test]
fn the_binding_structs_have_the_c_layout() {
    use passcode::{PasscodeDeliveryEvent, PasscodeEvent, PasscodeFailure};
    use std::mem::{offset_of, size_of};
    macro_rules! layout {
        ($t:ident: $($f:ident),+) => {{
            let mut v = vec![(stringify!($t).to_string(), size_of::<$t>())];
            $(v.push((format!("{}.{}", stringify!($t), stringify!($f)), offset_of!($t, $f)));)+
            v
        }};
    }
    let mut expected: BTreeSet<(String, usize)> = BTreeSet::new();
    expected.extend(layout!(PasscodeDeliveryEvent: kind, at, message_id, message_id_len, channel, purpose, subject,
        subject_len, sender, sender_len, attempt, provider_id, provider_id_len, reason, reason_len, status,
        provider_code, provider_code_len, has_retry_in, retry_in_ms));
    expected.extend(layout!(PasscodeEvent: kind, at, channel, purpose, subject, subject_len, has_attempts_left,
        attempts_left, has_retry_after, retry_after, scope, error));
    expected.extend(layout!(PasscodeFailure: status, has_attempts_left, attempts_left, has_retry_after, retry_after));
    let from_java: BTreeSet<(String, usize)> = java_table("passcode.jna.StructLayout");
    assert_eq!(from_java, expected, "the JNA structs must have the C ABI's offsets and sizes, field for field");
}

#[test]
fn the_binding_status_enum_is_the_headers() {
    let header = std::fs::read_to_string(repo().join("include/passcode.h")).expect("the header");
    let start = header.find("enum PasscodeStatus").expect("the status enum");
    let body = &header[start..start + header[start..].find("};").expect("its end")];
    let from_header: BTreeSet<(String, u32)> = body
        .lines()
        .filter_map(|l| l.trim().strip_prefix("PASSCODE_STATUS_"))
        .filter_map(|l| l.trim_end_matches(',').split_once(" = "))
        .map(|(name, n)| (name.to_string(), n.parse().expect("a number")))
        .collect();
    assert!(from_header.len() > 20, "parsed {} statuses from the header", from_header.len());
    let from_java: BTreeSet<(String, u32)> = java_table("passcode.keycloak.tests.StatusTable");
    assert_eq!(from_java, from_header, "PasscodeStatus.java must list every PASSCODE_STATUS_* with its number");
}

#[test]
fn the_provider_jar_holds_the_service_file_and_theme_and_no_stand_ins() {
    let jar =
        Path::new(classpath().split(':').find(|p| p.ends_with("/passcode-keycloak.jar")).expect("the provider jar"));
    let out = Command::new("jar").arg("tf").arg(jar).output().expect("jar runs");
    let entries = String::from_utf8_lossy(&out.stdout).to_string();
    for needed in [
        "META-INF/services/org.keycloak.authentication.AuthenticatorFactory",
        "theme-resources/templates/passcode-code.ftl",
        "theme-resources/templates/passcode-address.ftl",
        "theme-resources/messages/messages_en.properties",
        "passcode/jna/PasscodeEngine.class",
        "passcode/jna/PasscodeDelivery.class",
    ] {
        assert!(entries.lines().any(|l| l == needed), "{needed} is not in the provider jar");
    }
    for line in entries.lines() {
        assert!(
            !line.starts_with("org/keycloak/") && !line.starts_with("jakarta/"),
            "the provider jar must not carry a stand-in of Keycloak's types: {line}"
        );
    }
    let services = std::fs::read_to_string(repo().join(
        "host-examples/keycloak/src/main/resources/META-INF/services/org.keycloak.authentication.AuthenticatorFactory",
    ))
    .expect("the service file");
    for class in services.lines().filter(|l| !l.trim().is_empty()) {
        let path = format!("{}.class", class.replace('.', "/"));
        assert!(entries.lines().any(|l| l == path), "the service file names {class}, which is not in the jar");
    }
}

/// One JVM running passcode.jna.VectorDriver, shared by the surfaces of one vector run.
struct Jvm {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl Jvm {
    fn start() -> Self {
        let mut child = java("passcode.jna.VectorDriver")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("java starts");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        Jvm { child, stdin, stdout }
    }

    /// Sends one operation; `Ok(fields)` or the refusal.
    fn call(&mut self, fields: &[Option<&str>]) -> Result<Vec<String>, Failure> {
        let line: Vec<String> = fields.iter().map(|f| f.map_or("~".to_string(), encode)).collect();
        writeln!(self.stdin, "{}", line.join(" ")).expect("write to the driver");
        self.stdin.flush().expect("flush");
        let mut answer = String::new();
        self.stdout.read_line(&mut answer).expect("read from the driver");
        let parts: Vec<&str> = answer.trim_end_matches('\n').split(' ').collect();
        match parts[0] {
            "ok" => Ok(parts[1..].iter().map(|p| decode(p)).collect()),
            "err" => Err(Failure {
                number: parts[1].parse().expect("a status number"),
                attempts_left: parts[2].parse().ok(),
                retry_after: parts[3].parse().ok(),
            }),
            _ => panic!("the driver answered {answer:?}"),
        }
    }
}

impl Drop for Jvm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Percent-encodes every byte but ASCII letters and digits (Java's URLDecoder reads it back).
fn encode(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

/// Reads Java's URLEncoder form: `+` is a space, `%XX` a byte.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("a %XX escape"));
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).expect("UTF-8 from the driver")
}

struct JavaSurface(Rc<RefCell<Jvm>>);

impl JavaSurface {
    fn issued(fields: Vec<String>) -> IssuedInfo {
        IssuedInfo {
            token: fields[0].clone(),
            code: fields[1].clone(),
            expires_at: fields[2].parse().expect("expires_at"),
            resend_at: fields[3].parse().expect("resend_at"),
            message_text: fields[4].clone(),
        }
    }
}

impl Surface for JavaSurface {
    fn open(&mut self, config_json: &str, now: u64) -> Result<(), Failure> {
        self.0.borrow_mut().call(&[Some("open"), Some(config_json), Some(&now.to_string())]).map(|_| ())
    }
    fn advance(&mut self, seconds: u64) {
        self.0.borrow_mut().call(&[Some("advance"), Some(&seconds.to_string())]).expect("advance");
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
        let f = [Some("issue"), Some(channel), Some(identifier), Some(purpose), client, locale, account];
        self.0.borrow_mut().call(&f).map(Self::issued)
    }
    fn verify(&mut self, token: &str, code: &str) -> Result<VerifiedInfo, Failure> {
        self.0.borrow_mut().call(&[Some("verify"), Some(token), Some(code)]).map(|f| VerifiedInfo {
            identifier: f[0].clone(),
            channel: f[1].clone(),
            purpose: f[2].clone(),
            account: Some(f[3].clone()).filter(|a| !a.is_empty()),
        })
    }
    fn resend(&mut self, token: &str, client: Option<&str>) -> Result<IssuedInfo, Failure> {
        self.0.borrow_mut().call(&[Some("resend"), Some(token), client]).map(Self::issued)
    }
    fn cancel(&mut self, token: &str) -> Result<(), Failure> {
        self.0.borrow_mut().call(&[Some("cancel"), Some(token)]).map(|_| ())
    }
    fn unlock(&mut self, channel: &str, identifier: &str) -> Result<(), Failure> {
        self.0.borrow_mut().call(&[Some("unlock"), Some(channel), Some(identifier)]).map(|_| ())
    }
    fn unlock_account(&mut self, account: &str) -> Result<(), Failure> {
        self.0.borrow_mut().call(&[Some("unlockAccount"), Some(account)]).map(|_| ())
    }
}

#[test]
fn every_vector_passes_through_the_jna_binding() {
    let jvm = Rc::new(RefCell::new(Jvm::start()));
    passcode_vectors::run_all_or_panic(&mut || Box::new(JavaSurface(jvm.clone())), ERROR_TABLE);
}
