//! The scenario vectors of `tests/vectors/` and a runner that drives them through any surface.
//!
//! A vector is a JSON file: a config (the engine's schema, without keys: the runner adds a key
//! file of its own), a start time, and steps: operations with the outcome each must have, and
//! clock moves. Codes are symbolic ("issued", "wrong", ...), because the engine draws them.
//! Each surface (the Rust crate, the C ABI, the WASI component, a Redis-backed engine)
//! implements [`Surface`]; the runner does the rest, so every surface is held to one script.

pub mod engine_surface;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

/// What an issue or resend returned.
#[derive(Clone, Debug)]
pub struct IssuedInfo {
    /// The challenge token.
    pub token: String,
    /// The code.
    pub code: String,
    /// Expiry, Unix seconds.
    pub expires_at: u64,
    /// Earliest resend, Unix seconds.
    pub resend_at: u64,
    /// The SMS text, or the email's plain-text body.
    pub message_text: String,
}

/// What a successful verify returned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedInfo {
    /// The normalised identifier.
    pub identifier: String,
    /// `email` or `sms`.
    pub channel: String,
    /// The purpose's name.
    pub purpose: String,
    /// The host's account id, for a code issued for an account.
    pub account: Option<String>,
}

/// A refusal, as every surface reports it: the stable number and the numbers it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// The error's stable number.
    pub number: u32,
    /// Tries left, for a wrong code.
    pub attempts_left: Option<u32>,
    /// Seconds to wait, for limits and locks.
    pub retry_after: Option<u64>,
}

/// One way of reaching the engine.
pub trait Surface {
    /// Opens a fresh engine (and a fresh, empty store) from a JSON config, its clock at `now`.
    fn open(&mut self, config_json: &str, now: u64) -> Result<(), Failure>;
    /// Moves the engine's clock forward.
    fn advance(&mut self, seconds: u64);
    /// Issues a code; for the host's account when `account` is given (`issue_for_account`).
    fn issue(
        &mut self,
        channel: &str,
        identifier: &str,
        purpose: &str,
        client: Option<&str>,
        locale: Option<&str>,
        account: Option<&str>,
    ) -> Result<IssuedInfo, Failure>;
    /// Verifies a code.
    fn verify(&mut self, token: &str, code: &str) -> Result<VerifiedInfo, Failure>;
    /// Resends a code.
    fn resend(&mut self, token: &str, client: Option<&str>) -> Result<IssuedInfo, Failure>;
    /// Cancels a challenge.
    fn cancel(&mut self, token: &str) -> Result<(), Failure>;
    /// Unlocks a subject.
    fn unlock(&mut self, channel: &str, identifier: &str) -> Result<(), Failure>;
    /// Unlocks an account subject.
    fn unlock_account(&mut self, account: &str) -> Result<(), Failure>;
}

/// A scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vector {
    /// A short name.
    pub name: String,
    /// What it shows.
    #[serde(default)]
    pub description: String,
    /// The requirements of REQUIREMENTS.md it checks (S1..S24).
    #[serde(default)]
    pub requirements: Vec<String>,
    /// The config, in the engine's JSON schema, without `keys`.
    #[serde(default)]
    pub config: Value,
    /// The clock's start, Unix seconds.
    #[serde(default = "default_start")]
    pub start: u64,
    /// The steps.
    pub steps: Vec<Step>,
}

fn default_start() -> u64 {
    1_800_000_000
}

/// One step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// `issue`, `verify`, `resend`, `cancel`, `unlock`, or `advance`.
    pub op: String,
    /// For `issue`: the name later steps use for this challenge.
    #[serde(rename = "as")]
    pub name: Option<String>,
    /// The challenge a step acts on (by its `as` name).
    pub challenge: Option<String>,
    /// A literal token instead of a challenge's ("garbage"), `tampered` for the challenge's
    /// token with one character changed, or `spaced` for it with whitespace around it.
    pub token: Option<String>,
    /// `email` or `sms`.
    pub channel: Option<String>,
    /// The address or number.
    pub identifier: Option<String>,
    /// The purpose's name.
    pub purpose: Option<String>,
    /// The client address.
    pub client: Option<String>,
    /// The locale.
    pub locale: Option<String>,
    /// For `issue` and `unlock`: the host's account id, the subject instead of the identifier.
    pub account: Option<String>,
    /// For `verify`: `issued`, `issued-spaced`, `issued-upper`, `issued-newline` (a line break
    /// after it), `issued-en-dash` (an en dash in the middle), `issued-fullwidth` (full-width
    /// digits and letters), `issued-arabic-indic` (Arabic-Indic digits), `previous`, `wrong`,
    /// `code-of:NAME`, or `literal:TEXT`.
    pub code: Option<String>,
    /// For `advance`: seconds.
    pub seconds: Option<u64>,
    /// Run the step this many times, each with the same expectation.
    #[serde(default = "one")]
    pub repeat: u32,
    /// The outcome each run must have (absent for `advance`).
    pub expect: Option<Expect>,
}

fn one() -> u32 {
    1
}

/// An expected outcome.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// The error's name, or absent for success.
    pub error: Option<String>,
    /// For `wrong-code`.
    pub attempts_left: Option<u32>,
    /// For limits and locks; `null` with `hard: true` for a hard lock.
    pub retry_after: Option<u64>,
    /// For `subject-locked`: a hard lock (no retry-after).
    #[serde(default)]
    pub hard: bool,
    /// For a successful issue or resend: seconds until expiry.
    pub expires_in: Option<u64>,
    /// For a successful issue or resend: seconds until a resend is allowed.
    pub resend_in: Option<u64>,
    /// For a successful issue or resend: the message's last line, `{code}` standing for the code.
    pub last_line: Option<String>,
    /// For a successful issue or resend: the code's length.
    pub code_length: Option<usize>,
    /// For a successful verify: the identifier returned.
    pub identifier: Option<String>,
    /// For a successful verify: the purpose returned.
    pub purpose: Option<String>,
    /// For a successful verify: the channel returned.
    pub channel: Option<String>,
    /// For a successful verify: the account returned (`""` for none).
    pub account: Option<String>,
}

#[derive(Default)]
struct ChallengeCodes {
    token: String,
    code: String,
    previous: Option<String>,
}

/// Runs one vector; `Err` names the step that went wrong and how.
pub fn run(vector: &Vector, surface: &mut dyn Surface, errors: &[(u32, &str)], key_file: &Path) -> Result<(), String> {
    let mut config = if vector.config.is_null() { Value::Object(Default::default()) } else { vector.config.clone() };
    config["keys"] =
        serde_json::json!({ "ring": [ { "id": 1, "file": key_file.to_str().ok_or("key path is not UTF-8")? } ] });
    surface
        .open(&config.to_string(), vector.start)
        .map_err(|f| format!("{}: the config was refused: {f:?}", vector.name))?;
    let number_of = |name: &str| -> Result<u32, String> {
        errors.iter().find(|(_, n)| *n == name).map(|(n, _)| *n).ok_or(format!("unknown error name {name}"))
    };
    let mut challenges: HashMap<String, ChallengeCodes> = HashMap::new();
    let mut now = vector.start;
    let mut wrong_counter = 0u64;
    for (i, step) in vector.steps.iter().enumerate() {
        let at = |msg: String| format!("{} step {} ({}): {msg}", vector.name, i + 1, step.op);
        for run in 0..step.repeat {
            let at = |msg: String| at(format!("run {}: {msg}", run + 1));
            let need = |v: &Option<String>, what: &str| v.clone().ok_or_else(|| at(format!("needs `{what}`")));
            let token = |challenges: &HashMap<String, ChallengeCodes>| -> Result<String, String> {
                match (&step.token, &step.challenge) {
                    (Some(t), Some(c)) if t == "tampered" => {
                        let real = &challenges.get(c).ok_or_else(|| at(format!("no challenge {c}")))?.token;
                        let mut bytes = real.clone().into_bytes();
                        let mid = bytes.len() / 2;
                        bytes[mid] = if bytes[mid] == b'A' { b'B' } else { b'A' };
                        Ok(String::from_utf8(bytes).expect("ASCII"))
                    }
                    (Some(t), Some(c)) if t == "spaced" => {
                        let real = &challenges.get(c).ok_or_else(|| at(format!("no challenge {c}")))?.token;
                        Ok(format!(" \t{real}\r\n"))
                    }
                    (Some(t), _) => Ok(t.clone()),
                    (None, Some(c)) => {
                        Ok(challenges.get(c).ok_or_else(|| at(format!("no challenge {c}")))?.token.clone())
                    }
                    (None, None) => Err(at("needs `challenge` or `token`".into())),
                }
            };
            let outcome: Result<Outcome, Failure> = match step.op.as_str() {
                "advance" => {
                    let s = step.seconds.ok_or_else(|| at("needs `seconds`".into()))?;
                    surface.advance(s);
                    now = now.saturating_add(s);
                    continue;
                }
                "issue" => surface
                    .issue(
                        &need(&step.channel, "channel")?,
                        &need(&step.identifier, "identifier")?,
                        &need(&step.purpose, "purpose")?,
                        step.client.as_deref(),
                        step.locale.as_deref(),
                        step.account.as_deref(),
                    )
                    .map(Outcome::Issued),
                "resend" => surface.resend(&token(&challenges)?, step.client.as_deref()).map(Outcome::Issued),
                "verify" => {
                    let symbol = need(&step.code, "code")?;
                    let name = step.challenge.clone().unwrap_or_default();
                    let codes = challenges.get(&name);
                    let current = codes.map(|c| c.code.clone()).unwrap_or_else(|| "000000".into());
                    let code = match symbol.as_str() {
                        "issued" => current.clone(),
                        "issued-spaced" => {
                            let (a, b) = current.split_at(current.len() / 2);
                            format!(" {a} {b}-")
                        }
                        "issued-upper" => current.to_uppercase(),
                        "issued-newline" => format!("{current}\n"),
                        "issued-en-dash" => {
                            let (a, b) = current.split_at(current.len() / 2);
                            format!("{a}\u{2013}{b}")
                        }
                        "issued-fullwidth" => current.chars().map(|c| shift(c, 0xff10, 0xff41)).collect(),
                        "issued-arabic-indic" => current.chars().map(|c| shift(c, 0x0660, u32::from('a'))).collect(),
                        "previous" => {
                            codes.and_then(|c| c.previous.clone()).ok_or_else(|| at("no previous code".into()))?
                        }
                        "wrong" => {
                            wrong_counter += 1;
                            wrong_code(&current, codes.and_then(|c| c.previous.as_deref()), wrong_counter)
                        }
                        s if s.starts_with("code-of:") => challenges
                            .get(&s["code-of:".len()..])
                            .map(|c| c.code.clone())
                            .ok_or_else(|| at(format!("no challenge for {s}")))?,
                        s if s.starts_with("literal:") => s["literal:".len()..].to_string(),
                        s => return Err(at(format!("unknown code symbol {s}"))),
                    };
                    surface.verify(&token(&challenges)?, &code).map(Outcome::Verified)
                }
                "cancel" => surface.cancel(&token(&challenges)?).map(|_| Outcome::Done),
                "unlock" => match &step.account {
                    Some(account) => surface.unlock_account(account),
                    None => surface.unlock(&need(&step.channel, "channel")?, &need(&step.identifier, "identifier")?),
                }
                .map(|_| Outcome::Done),
                other => return Err(at(format!("unknown op {other}"))),
            };
            let expect = step.expect.as_ref().ok_or_else(|| at("needs `expect`".into()))?;
            match (&expect.error, outcome) {
                (None, Ok(Outcome::Issued(issued))) => {
                    check_issued(expect, &issued, now).map_err(&at)?;
                    match step.op.as_str() {
                        "issue" => {
                            let name = step.name.clone().unwrap_or_default();
                            challenges.insert(
                                name,
                                ChallengeCodes { token: issued.token, code: issued.code, previous: None },
                            );
                        }
                        _ => {
                            let name = step.challenge.clone().unwrap_or_default();
                            let c =
                                challenges.get_mut(&name).ok_or_else(|| at("resend of an unknown challenge".into()))?;
                            if issued.token != c.token {
                                return Err(at("a resend must keep the token".into()));
                            }
                            c.previous = Some(std::mem::replace(&mut c.code, issued.code));
                        }
                    }
                }
                (None, Ok(Outcome::Verified(v))) => {
                    let account = v.account.clone().unwrap_or_default();
                    let checks = [
                        (&expect.identifier, &v.identifier),
                        (&expect.purpose, &v.purpose),
                        (&expect.channel, &v.channel),
                        (&expect.account, &account),
                    ];
                    for (want, got) in checks {
                        if let Some(w) = want {
                            if w != got {
                                return Err(at(format!("verified {got}, expected {w}")));
                            }
                        }
                    }
                }
                (None, Ok(Outcome::Done)) => {}
                (None, Err(f)) => return Err(at(format!("expected success, got {f:?}"))),
                (Some(name), Ok(_)) => return Err(at(format!("expected {name}, got success"))),
                (Some(name), Err(f)) => {
                    let want = number_of(name)?;
                    if f.number != want {
                        let got = errors.iter().find(|(n, _)| *n == f.number).map_or("?", |(_, s)| s);
                        return Err(at(format!("expected {name} ({want}), got {got} ({}) {f:?}", f.number)));
                    }
                    if let Some(a) = expect.attempts_left {
                        if f.attempts_left != Some(a) {
                            return Err(at(format!("attempts_left {:?}, expected {a}", f.attempts_left)));
                        }
                    }
                    if let Some(r) = expect.retry_after {
                        if f.retry_after != Some(r) {
                            return Err(at(format!("retry_after {:?}, expected {r}", f.retry_after)));
                        }
                    }
                    if expect.hard && f.retry_after.is_some() {
                        return Err(at(format!("expected a hard lock, got retry_after {:?}", f.retry_after)));
                    }
                }
            }
        }
    }
    Ok(())
}

enum Outcome {
    Issued(IssuedInfo),
    Verified(VerifiedInfo),
    Done,
}

/// A digit moved to the run of ten digits starting at `zero`, and an ASCII letter to the
/// alphabet starting at `a` (the same letter when `a` is `'a'`).
fn shift(c: char, zero: u32, a: u32) -> char {
    let moved = match c {
        '0'..='9' => zero + (u32::from(c) - u32::from('0')),
        'a'..='z' => a + (u32::from(c) - u32::from('a')),
        _ => u32::from(c),
    };
    char::from_u32(moved).unwrap_or(c)
}

fn check_issued(expect: &Expect, issued: &IssuedInfo, now: u64) -> Result<(), String> {
    if let Some(e) = expect.expires_in {
        if issued.expires_at != now.saturating_add(e) {
            return Err(format!("expires_at {} is not now + {e}", issued.expires_at));
        }
    }
    if let Some(r) = expect.resend_in {
        if issued.resend_at != now.saturating_add(r) {
            return Err(format!("resend_at {} is not now + {r}", issued.resend_at));
        }
    }
    if let Some(n) = expect.code_length {
        if issued.code.chars().count() != n {
            return Err(format!("the code has {} symbols, expected {n}", issued.code.chars().count()));
        }
    }
    if let Some(l) = &expect.last_line {
        let want = l.replace("{code}", &issued.code);
        let got = issued.message_text.lines().last().unwrap_or("");
        if got != want {
            return Err(format!("last line {got:?}, expected {want:?}"));
        }
    }
    Ok(())
}

/// A code of the same shape as `current` that is neither it nor `previous`.
fn wrong_code(current: &str, previous: Option<&str>, salt: u64) -> String {
    let digits = current.bytes().all(|b| b.is_ascii_digit());
    let mut k = salt;
    loop {
        let candidate: String = if digits {
            let n = current.len() as u32;
            let m = 10u64.pow(n);
            let v = (current.parse::<u64>().unwrap_or(0) + k) % m;
            format!("{v:0width$}", width = n as usize)
        } else {
            const A: &[u8] = b"23456789abcdefghjkmnpqrstuvwxyz";
            let mut b = current.as_bytes().to_vec();
            let last = b.len() - 1;
            let i = A.iter().position(|c| *c == b[last]).unwrap_or(0);
            b[last] = A[(i + k as usize) % A.len()];
            String::from_utf8(b).expect("ASCII")
        };
        if candidate != current && Some(candidate.as_str()) != previous {
            return candidate;
        }
        k += 1;
    }
}

/// The vectors directory of this repository.
pub fn vectors_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join("vectors")
}

/// Every vector, sorted by file name.
pub fn load_all() -> Vec<(String, Vector)> {
    let mut files: Vec<_> = std::fs::read_dir(vectors_dir())
        .expect("tests/vectors exists")
        .map(|e| e.expect("readable").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable vector");
            let v: Vector = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), v)
        })
        .collect()
}

/// Writes a fresh random-looking 32-byte key (hex) to a file in a new temporary folder, for
/// the vectors' configs.
pub fn write_key_file() -> PathBuf {
    use std::time::{SystemTime, UNIX_EPOCH};
    let seed = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0) as u64
        ^ u64::from(std::process::id());
    let dir = std::env::temp_dir().join(format!("passcode-vectors-{seed:x}"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    // Not a secret: a test key. A splitmix64 stream gives 32 well-spread bytes.
    let mut x = seed;
    let mut hex = String::new();
    for _ in 0..4 {
        x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = x;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        hex.push_str(&format!("{z:016x}"));
    }
    let path = dir.join("key.hex");
    std::fs::write(&path, hex).expect("write key");
    path
}

/// Runs every vector through surfaces made by `make`, and panics listing every failure.
pub fn run_all_or_panic(make: &mut dyn FnMut() -> Box<dyn Surface>, errors: &[(u32, &str)]) {
    let key = write_key_file();
    let vectors = load_all();
    assert!(vectors.len() >= 10, "expected the full set of vectors, found {}", vectors.len());
    let mut failures = Vec::new();
    for (file, v) in &vectors {
        let mut surface = make();
        if let Err(e) = run(v, surface.as_mut(), errors, &key) {
            failures.push(format!("{file}: {e}"));
        }
    }
    let _ = std::fs::remove_dir_all(key.parent().expect("in a dir"));
    assert!(failures.is_empty(), "{} of {} vectors failed:\n{}", failures.len(), vectors.len(), failures.join("\n"));
    eprintln!("{} vectors passed", vectors.len());
}
