//! What a command hands back, and how it reaches the terminal: text for people on stdout,
//! errors on stderr, or with `--json` one JSON object on stdout (errors included), and the
//! exit status scripts branch on. Everything printed goes through the [`Redactor`] first, so a
//! password that sits in a URL of the config never reaches the screen.

use std::io::Write;
use std::process::ExitCode;

use serde_json::{json, Map, Value};

/// The exit statuses, documented in `passcode --help` and the README.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// The command did what was asked.
    Ok = 0,
    /// The command was refused: the config, a key or a file is wrong (nothing was changed).
    Refused = 1,
    /// The command line or an argument is wrong (an address that is not one, a bad locale).
    Usage = 2,
    /// A service failed: the store could not be reached, or the provider did not take the message.
    Unavailable = 3,
    /// `check --strict` found warnings.
    Warnings = 4,
}

/// The `--help` text that lists the exit statuses.
pub const EXIT_STATUSES: &str = "\
Exit status:
  0  done
  1  refused: the config, a key or a file is wrong (nothing was changed)
  2  a wrong command line or argument (an address that is not one)
  3  a service failed: the store is unreachable, or the provider did not take the message
  4  check --strict found warnings";

/// Where in the config file something is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    /// From 1.
    pub line: usize,
    /// From 1, in characters.
    pub column: usize,
}

impl Location {
    /// The line and column of a byte offset in `text`.
    pub fn of_offset(text: &str, offset: usize) -> Location {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Location { line: before.matches('\n').count() + 1, column: before[line_start..].chars().count() + 1 }
    }
}

/// Why a command failed: the engine's or delivery's number and name when there is one, the
/// file, line and field it is about, and a message that never holds a secret. Boxed, so that
/// every `Result` stays small.
#[derive(Clone, Debug)]
pub struct Failure(Box<FailureDetails>);

/// What a [`Failure`] says.
#[derive(Clone, Debug)]
pub struct FailureDetails {
    /// The exit status.
    pub exit: Exit,
    /// The stable number (core's table, delivery's 8000s).
    pub number: Option<u32>,
    /// The stable name.
    pub name: Option<&'static str>,
    /// What went wrong.
    pub message: String,
    /// The config file (or `<stdin>`).
    pub file: Option<String>,
    /// Where in it.
    pub location: Option<Location>,
    /// The config field, dotted.
    pub field: Option<String>,
    /// More for `--json` (a send's attempts, a provider's status).
    pub extra: Map<String, Value>,
    /// More lines for people, after the message.
    pub notes: Vec<String>,
}

impl Failure {
    /// A failure with a message and nothing else.
    pub fn new(exit: Exit, message: impl Into<String>) -> Failure {
        Failure(Box::new(FailureDetails {
            exit,
            number: None,
            name: None,
            message: message.into(),
            file: None,
            location: None,
            field: None,
            extra: Map::new(),
            notes: Vec::new(),
        }))
    }

    /// About this file.
    pub fn in_file(mut self, file: &str) -> Failure {
        self.file = Some(file.to_string());
        self
    }

    /// With the engine's or delivery's number and name.
    pub fn numbered(mut self, number: u32, name: &'static str) -> Failure {
        self.number = Some(number);
        self.name = Some(name);
        self
    }

    fn human(&self) -> String {
        let mut place = String::new();
        if let Some(file) = &self.file {
            place.push_str(file);
            if let Some(l) = self.location {
                place.push_str(&format!(":{}:{}", l.line, l.column));
            }
            place.push_str(": ");
        }
        if let Some(field) = &self.field {
            place.push_str(field);
            place.push_str(": ");
        }
        let name = self.name.map(|n| format!(" [{n}]")).unwrap_or_default();
        let mut text = format!("passcode: error: {place}{}{name}\n", self.message);
        for note in &self.notes {
            text.push_str(&format!("  {note}\n"));
        }
        text
    }

    fn json(&self) -> Value {
        let mut error = json!({
            "number": self.number,
            "name": self.name,
            "message": self.message,
            "file": self.file,
            "line": self.location.map(|l| l.line),
            "column": self.location.map(|l| l.column),
            "field": self.field,
            "exit": self.exit as u8,
        });
        if let Some(map) = error.as_object_mut() {
            map.extend(self.extra.clone());
        }
        json!({ "ok": false, "error": error })
    }
}

impl std::ops::Deref for Failure {
    type Target = FailureDetails;
    fn deref(&self) -> &FailureDetails {
        &self.0
    }
}

impl std::ops::DerefMut for Failure {
    fn deref_mut(&mut self) -> &mut FailureDetails {
        &mut self.0
    }
}

/// What a command that ran to its end hands back.
#[derive(Clone, Debug)]
pub struct Report {
    /// For people.
    pub human: String,
    /// For `--json`.
    pub json: Value,
    /// `Ok`, or `Warnings` for `check --strict`.
    pub exit: Exit,
}

impl Report {
    /// A report that exits 0.
    pub fn ok(human: String, json: Value) -> Report {
        Report { human, json, exit: Exit::Ok }
    }
}

/// Masks secrets in everything printed: the user-information part of any URL in the config
/// text (`redis://:secret@host` prints as `redis://:***@host`), found before the config is
/// even parsed, so that a config too broken to load still cannot leak its password.
#[derive(Clone, Debug, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// Learns the secrets in a config's text.
    pub fn learn_from(&mut self, text: &str) {
        for info in url_user_infos(text) {
            let password = info.split_once(':').map_or(info, |(_, p)| p);
            for secret in [info, password] {
                if !secret.is_empty() && !self.secrets.iter().any(|s| s == secret) {
                    self.secrets.push(secret.to_string());
                }
            }
        }
        // Longest first, so a password that contains a shorter one is masked whole.
        self.secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
    }

    /// `text` with every known secret, and the user information of any URL in it, masked.
    pub fn apply(&self, text: &str) -> String {
        let mut out = mask_url_user_info(text);
        for s in &self.secrets {
            out = out.replace(s.as_str(), "***");
        }
        out
    }
}

/// The user-information parts (`user:password`) of the URLs in `text`.
fn url_user_infos(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let after = &rest[i + 3..];
        // Up to the end of the quoted string or the line: a password may hold `/` or `@`.
        let end = after.find(['"', '\'', '\n', ' ', '\t', '`']).unwrap_or(after.len());
        if let Some(at) = after[..end].rfind('@') {
            found.push(&after[..at]);
        }
        rest = after;
    }
    found
}

/// Masks the password (or the whole user information when it has no `:`) of each URL in `text`.
pub fn mask_url_user_info(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, after) = rest.split_at(i + 3);
        out.push_str(head);
        let end = after.find(['"', '\'', '\n', ' ', '\t', '`']).unwrap_or(after.len());
        match after[..end].rfind('@') {
            Some(at) => {
                let info = &after[..at];
                match info.split_once(':') {
                    Some((user, _)) => out.push_str(&format!("{user}:***")),
                    None => out.push_str("***"),
                }
                rest = &after[at..];
            }
            None => rest = after,
        }
    }
    out.push_str(rest);
    out
}

/// Prints a command's outcome and turns it into the exit status.
pub fn finish(result: Result<Report, Failure>, json: bool, redactor: &Redactor) -> ExitCode {
    let (stdout, stderr, exit) = match (&result, json) {
        (Ok(r), false) => (r.human.clone(), String::new(), r.exit),
        (Ok(r), true) => (pretty(&r.json), String::new(), r.exit),
        (Err(f), false) => (String::new(), f.human(), f.exit),
        (Err(f), true) => (pretty(&f.json()), String::new(), f.exit),
    };
    // A reader that went away (`passcode check x | head -1`) is not an error of ours.
    let _ = std::io::stdout().lock().write_all(redactor.apply(&stdout).as_bytes());
    let _ = std::io::stderr().lock().write_all(redactor.apply(&stderr).as_bytes());
    ExitCode::from(exit as u8)
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_lines_and_characters() {
        let text = "a = 1\n[policy]\nécole = 2\n";
        assert_eq!(Location::of_offset(text, 0), Location { line: 1, column: 1 });
        assert_eq!(Location::of_offset(text, 6), Location { line: 2, column: 1 });
        let e = text.find("= 2").unwrap();
        assert_eq!(Location::of_offset(text, e), Location { line: 3, column: 7 });
        assert_eq!(Location::of_offset(text, 10_000).line, 4);
    }

    #[test]
    fn passwords_in_urls_are_masked_wherever_they_appear() {
        let mut r = Redactor::default();
        r.learn_from("store = \"redis://:hunter2@10.0.0.1:6379/0\"\nx = \"rediss://app:pa/ss@h/1\"");
        assert_eq!(r.apply("redis://:hunter2@10.0.0.1:6379/0"), "redis://:***@10.0.0.1:6379/0");
        assert_eq!(r.apply("rediss://app:pa/ss@h/1"), "rediss://app:***@h/1");
        assert_eq!(r.apply("the text hunter2 alone"), "the text *** alone");
        assert_eq!(r.apply("pa/ss"), "***");
        assert_eq!(
            mask_url_user_info("redis://token@h redis://h:1 https://a.example/x@y"),
            "redis://***@h redis://h:1 https://***@y"
        );
        assert_eq!(mask_url_user_info("no url"), "no url");
    }
}
