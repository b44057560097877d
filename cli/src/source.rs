//! The config file as the operator wrote it: read (a path, or `-` for stdin), parsed exactly
//! as the engine parses it (`Config::parse`), and kept as text so that an error or a warning
//! can name the line a field sits on, and `check` can say whether a value came from the file
//! or is a default.
//!
//! The gateway (`passcode-envoy-filter`) reads the same file with its own options in a
//! `[gateway]` table, which the engine does not know: that table is set aside before the
//! engine parses the rest, with its lines blanked rather than removed so that every other
//! field keeps its line number. The gateway checks its own options when it starts.
//!
//! TOML positions come from toml_edit, which keeps each key's place in the text; JSON has no
//! such reader here, so a field's line is found by scanning for its quoted name in order,
//! after its presence has been confirmed on the parsed value.

use std::io::Read;
use std::path::Path;

use passcode_core::config::MAX_CONFIG_BYTES;
use passcode_core::{Config, Error};
use serde_json::Value;
use toml_edit::{ImDocument, Item, TableLike};

use crate::output::{Exit, Failure, Location, Redactor};

/// One step of a path into the config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// A key of a table.
    Key(String),
    /// The entry of an array of tables whose keys have these values (`None`: the key is absent).
    Entry(Vec<(String, Option<String>)>),
}

/// A dotted field name as steps.
pub fn steps(field: &str) -> Vec<Step> {
    field.split('.').map(|k| Step::Key(k.to_string())).collect()
}

/// The steps to the ring key with this id.
pub fn ring_key(id: u8) -> Vec<Step> {
    vec![Step::Key("keys".into()), Step::Key("ring".into()), Step::Entry(vec![("id".into(), Some(id.to_string()))])]
}

/// The steps to a configured template, from the name the engine gives it (`fr/sms/*`).
fn template(name: &str) -> Option<Vec<Step>> {
    let mut parts = name.splitn(3, '/');
    let (locale, channel) = (parts.next()?, parts.next()?);
    let purpose = match parts.next() {
        Some("*") | None => None,
        Some(p) => Some(p.to_string()),
    };
    Some(vec![
        Step::Key("messages".into()),
        Step::Key("templates".into()),
        Step::Entry(vec![
            ("locale".into(), Some(locale.to_string())),
            ("channel".into(), Some(channel.to_string())),
            ("purpose".into(), purpose),
        ]),
    ])
}

/// A config file, read and kept as text.
pub struct ConfigFile {
    /// The path as given, or `<stdin>`.
    pub name: String,
    /// The text.
    pub text: String,
    /// The text the engine parses: `text` without the gateway's `[gateway]` table.
    engine_text: String,
    /// How many options the `[gateway]` table holds, if the file has one.
    pub gateway_options: Option<usize>,
    toml: Option<ImDocument<String>>,
    json: Option<Value>,
}

impl ConfigFile {
    /// Reads a config from a path, or from stdin for `-`, and teaches the redactor the
    /// secrets in it before anything can be printed.
    pub fn read(path: &Path, redactor: &mut Redactor) -> Result<ConfigFile, Failure> {
        let is_stdin = path == Path::new("-");
        let name = if is_stdin { "<stdin>".to_string() } else { path.display().to_string() };
        let cannot = |e: std::io::Error| {
            let why = match e.kind() {
                std::io::ErrorKind::NotFound => "there is no such file".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => format!("it cannot be read ({e})"),
            };
            Failure::new(Exit::Refused, format!("cannot read the config: {why}")).in_file(&name)
        };
        // One byte more than the engine accepts, so that the engine's own error reports it.
        let limit = MAX_CONFIG_BYTES as u64 + 1;
        let mut bytes = Vec::new();
        if is_stdin {
            std::io::stdin().lock().take(limit).read_to_end(&mut bytes).map_err(cannot)?;
        } else {
            if path.is_dir() {
                return Err(Failure::new(Exit::Refused, "the config path is a folder, not a file").in_file(&name));
            }
            std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut bytes)).map_err(cannot)?;
        }
        let text = String::from_utf8(bytes)
            .map_err(|_| Failure::new(Exit::Refused, "the config is not UTF-8 text").in_file(&name))?;
        redactor.learn_from(&text);
        let is_json = text.trim_start().starts_with('{');
        let toml = if is_json { None } else { ImDocument::parse(text.clone()).ok() };
        let json = if is_json { serde_json::from_str(&text).ok() } else { None };
        let (engine_text, gateway_options) = match without_gateway(&text, is_json) {
            Some((engine_text, n)) => (engine_text, Some(n)),
            None => (text.clone(), None),
        };
        Ok(ConfigFile { name, text, engine_text, gateway_options, toml, json })
    }

    /// The config, exactly as the engine parses and checks it.
    pub fn parse(&self) -> Result<Config, Failure> {
        Config::parse(&self.engine_text).map_err(|e| self.failure(&e))
    }

    /// An engine error, placed in this file: its line and field, and its exit status.
    pub fn failure(&self, e: &Error) -> Failure {
        let exit = match e.number() / 1000 {
            1 => Exit::Usage,
            5 | 6 => Exit::Unavailable,
            _ => Exit::Refused,
        };
        let mut f = Failure::new(exit, e.to_string()).in_file(&self.name).numbered(e.number(), e.name());
        match e {
            Error::ConfigSyntax { .. } | Error::UnknownConfigField { .. } => {
                if let Some((message, location)) = self.syntax_error() {
                    f.message = message;
                    f.location = location;
                }
                if let Error::UnknownConfigField { field } = e {
                    f.field = Some(field.clone());
                }
            }
            Error::PolicyOutOfBounds { field, reason } => {
                f.message = reason.clone();
                f.field = Some(field.to_string());
                f.location = self.locate_near(&steps(field));
            }
            Error::WeakKey { id, .. } | Error::KeyUnavailable { id, .. } => {
                f.field = Some(format!("keys.ring (id = {id})"));
                let source = |k: &str| [ring_key(*id), vec![Step::Key(k.into())]].concat();
                f.location = self
                    .locate(&source("file"))
                    .or_else(|| self.locate(&source("env")))
                    .or_else(|| self.locate_near(&ring_key(*id)));
            }
            Error::StoreUnavailable { .. } | Error::Contention | Error::CorruptRecord => {
                f.field = Some("store".into());
                f.location = self.locate(&steps("store"));
            }
            Error::InvalidTemplate { template: name, .. } => {
                f.field = Some("messages.templates".into());
                f.location = template(name)
                    .and_then(|s| self.locate(&s))
                    .or_else(|| self.locate_near(&steps("messages.templates")));
            }
            _ => {}
        }
        f
    }

    /// A delivery error, placed in this file like the engine's.
    pub fn delivery_failure(&self, e: &passcode_delivery::Error) -> Failure {
        match e {
            passcode_delivery::Error::Config(inner) => self.failure(inner),
            other => {
                let exit = if matches!(other, passcode_delivery::Error::Failed(_)) {
                    Exit::Unavailable
                } else {
                    Exit::Refused
                };
                Failure::new(exit, other.to_string()).in_file(&self.name).numbered(other.number(), other.name())
            }
        }
    }

    /// The parser's own message and position for a syntax error or an unknown field (the
    /// engine's error keeps only the text, without the place).
    fn syntax_error(&self) -> Option<(String, Option<Location>)> {
        if self.text.trim_start().starts_with('{') {
            let e = serde_json::from_str::<Config>(&self.engine_text).err()?;
            let message = e.to_string();
            let message = message.rsplit_once(" at line ").map_or(message.as_str(), |(m, _)| m).to_string();
            // Without its `gateway` object, a JSON config is re-encoded: its lines are not
            // the file's.
            let same_lines = self.gateway_options.is_none();
            let location =
                (same_lines && e.line() > 0).then_some(Location { line: e.line(), column: e.column().max(1) });
            Some((message, location))
        } else {
            let e = toml::from_str::<Config>(&self.engine_text).err()?;
            let location = e.span().map(|s| Location::of_offset(&self.engine_text, s.start));
            Some((e.message().to_string(), location))
        }
    }

    /// Whether the file sets this field.
    pub fn is_set(&self, field: &str) -> bool {
        self.offset(&steps(field)).is_some()
    }

    /// Where the field is, if the file sets it.
    pub fn locate(&self, steps: &[Step]) -> Option<Location> {
        self.offset(steps).map(|o| Location::of_offset(&self.text, o))
    }

    /// Where the field is, or else the nearest of its parents that the file sets (an
    /// `_env` field also matches its `_file` twin, since errors name the first).
    pub fn locate_near(&self, steps: &[Step]) -> Option<Location> {
        if let Some(Step::Key(last)) = steps.last() {
            if let Some(stem) = last.strip_suffix("_env") {
                let mut twin = steps.to_vec();
                twin.pop();
                twin.push(Step::Key(format!("{stem}_file")));
                if let Some(l) = self.locate(steps).or_else(|| self.locate(&twin)) {
                    return Some(l);
                }
            }
        }
        (1..=steps.len()).rev().find_map(|n| self.locate(&steps[..n]))
    }

    fn offset(&self, steps: &[Step]) -> Option<usize> {
        if let Some(doc) = &self.toml {
            return toml_offset(doc.as_item(), steps);
        }
        let json = self.json.as_ref()?;
        json_has(json, steps).then(|| json_offset(&self.text, steps)).flatten()
    }
}

/// The config without the gateway's table, and the number of options in it; `None` when the
/// file has no `gateway` table (or does not parse: the engine's parser then says why).
fn without_gateway(text: &str, is_json: bool) -> Option<(String, usize)> {
    if is_json {
        let mut value: Value = serde_json::from_str(text).ok()?;
        let gateway = value.as_object_mut()?.remove("gateway")?;
        return Some((serde_json::to_string_pretty(&value).ok()?, gateway.as_object()?.len()));
    }
    let mut expected: toml::Table = text.parse().ok()?;
    let options = expected.remove("gateway")?.as_table()?.len();
    // Blank the lines from `[gateway]` (or `[gateway.x]`) to the next table header, then
    // make sure that removed exactly the gateway's table; if it did not (the table written
    // inline, or as dotted keys), re-encode the rest instead, at the cost of its lines.
    let mut blanked = String::with_capacity(text.len());
    let mut inside = false;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            let header = t.trim_start_matches('[').split(']').next().unwrap_or("").trim();
            inside = header == "gateway" || header.starts_with("gateway.");
        }
        blanked.push_str(if !inside {
            line
        } else if line.ends_with('\n') {
            "\n"
        } else {
            ""
        });
    }
    if blanked.parse::<toml::Table>().ok().as_ref() == Some(&expected) {
        return Some((blanked, options));
    }
    Some((toml::to_string(&expected).ok()?, options))
}

/// The text of a scalar TOML value, for matching array entries (`id = 1` is `"1"`).
fn toml_scalar(item: &Item) -> Option<String> {
    item.as_str().map(str::to_string).or_else(|| item.as_integer().map(|i| i.to_string()))
}

fn matches(table: &dyn TableLike, conditions: &[(String, Option<String>)]) -> bool {
    conditions.iter().all(|(k, want)| table.get(k).and_then(toml_scalar) == *want)
}

/// The byte offset of the last step in a TOML document (a key, or an entry's header).
fn toml_offset(root: &Item, steps: &[Step]) -> Option<usize> {
    let mut node: &dyn TableLike = root.as_table_like()?;
    let mut item: Option<&Item> = None;
    let mut offset = None;
    for step in steps {
        match step {
            Step::Key(k) => {
                if let Some(i) = item {
                    node = i.as_table_like()?;
                }
                let (key, value) = node.get_key_value(k)?;
                offset = key.span().or_else(|| value.span()).map(|s| s.start).or(offset);
                item = Some(value);
            }
            Step::Entry(conditions) => {
                let array = item?;
                let first_key = conditions.first().map(|(k, _)| k.as_str()).unwrap_or("");
                let found: Option<(&dyn TableLike, Option<usize>)> = if let Some(aot) = array.as_array_of_tables() {
                    aot.iter().find(|t| matches(*t, conditions)).map(|t| {
                        let at = t.span().or_else(|| t.key(first_key).and_then(|k| k.span())).map(|s| s.start);
                        (t as &dyn TableLike, at)
                    })
                } else {
                    array.as_array()?.iter().filter_map(|v| v.as_inline_table()).find(|t| matches(*t, conditions)).map(
                        |t| {
                            let at = t.span().or_else(|| t.key(first_key).and_then(|k| k.span())).map(|s| s.start);
                            (t as &dyn TableLike, at)
                        },
                    )
                };
                let (table, at) = found?;
                node = table;
                item = None;
                offset = at.or(offset);
            }
        }
    }
    offset
}

fn json_scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Whether the parsed JSON has the field (exact, unlike the scan for its line).
fn json_has(root: &Value, steps: &[Step]) -> bool {
    let mut node = root;
    for step in steps {
        let next = match step {
            Step::Key(k) => node.get(k),
            Step::Entry(conditions) => node.as_array().and_then(|a| {
                a.iter().find(|e| conditions.iter().all(|(k, want)| e.get(k).and_then(json_scalar) == *want))
            }),
        };
        match next {
            Some(n) => node = n,
            None => return false,
        }
    }
    true
}

/// The offset of `"key"` followed by `:` at or after `from`.
fn json_key(text: &str, key: &str, from: usize) -> Option<usize> {
    let quoted = format!("\"{key}\"");
    let mut at = from;
    while let Some(i) = text.get(at..)?.find(&quoted) {
        let start = at + i;
        let after = &text[start + quoted.len()..];
        if after.trim_start().starts_with(':') {
            return Some(start);
        }
        at = start + quoted.len();
    }
    None
}

/// Where a field present in a JSON config is: its keys' quoted names, found in order.
fn json_offset(text: &str, steps: &[Step]) -> Option<usize> {
    let mut at = 0;
    for step in steps {
        at = match step {
            Step::Key(k) => json_key(text, k, at)?,
            Step::Entry(conditions) => {
                let (k, v) = conditions.iter().find_map(|(k, v)| v.as_ref().map(|v| (k, v)))?;
                let mut from = at;
                loop {
                    let i = json_key(text, k, from)?;
                    let value = text[i + k.len() + 2..].trim_start().trim_start_matches(':').trim_start();
                    let value = value.strip_prefix('"').unwrap_or(value);
                    if value.starts_with(v.as_str()) {
                        break i;
                    }
                    from = i + 1;
                }
            }
        };
    }
    Some(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> ConfigFile {
        // One file per call: the tests of this module run at once in one process.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("passcode-cli-source-{}-{n}.conf", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let f = ConfigFile::read(&path, &mut Redactor::default()).unwrap();
        std::fs::remove_file(&path).unwrap();
        f
    }

    const TOML: &str =
        "tenant = \"a\"\n\n[policy]\ncode_length = 4\nsubject_sends = { max = 3, window_seconds = 60 }\n\n\
                        [[keys.ring]]\nid = 1\nfile = \"k1\"\n[[keys.ring]]\nid = 2\nenv = \"K2\"\n";

    #[test]
    fn toml_fields_are_found_with_their_lines() {
        let f = file(TOML);
        assert_eq!(f.locate(&steps("policy.code_length")), Some(Location { line: 4, column: 1 }));
        assert_eq!(f.locate(&steps("policy.subject_sends.max")).map(|l| l.line), Some(5));
        assert_eq!(f.locate(&ring_key(2)).map(|l| l.line), Some(10));
        let e = f.failure(&Error::KeyUnavailable { id: 2, source: "environment variable K2".into() });
        assert_eq!((e.field.as_deref(), e.location.map(|l| l.line)), (Some("keys.ring (id = 2)"), Some(12)));
        assert_eq!(f.locate(&steps("policy.lifetime_seconds")), None);
        assert_eq!(f.locate_near(&steps("policy.lifetime_seconds")).map(|l| l.line), Some(3), "its table");
        assert!(f.is_set("tenant") && f.is_set("policy.code_length") && !f.is_set("policy.max_attempts"));
        let e = f.parse().unwrap_err();
        assert_eq!((e.field.as_deref(), e.location.map(|l| l.line)), (Some("policy.code_length"), Some(4)));
        assert_eq!(e.number, Some(2003));
    }

    #[test]
    fn dotted_keys_and_inline_tables_are_found() {
        let f = file("policy.code_length = 7\nkeys = { ring = [{ id = 3, file = \"k\" }] }\n");
        assert_eq!(f.locate(&steps("policy.code_length")).map(|l| l.line), Some(1));
        assert_eq!(f.locate(&ring_key(3)).map(|l| l.line), Some(2));
    }

    #[test]
    fn json_fields_are_found_with_their_lines() {
        let f = file("{\n  \"policy\": {\n    \"max_attempts\": 0\n  },\n  \"keys\": {\"ring\": [\n  {\"id\": 1, \"file\": \"a\"},\n  {\"id\": 2, \"env\": \"B\"}]}\n}");
        assert_eq!(f.locate(&steps("policy.max_attempts")).map(|l| l.line), Some(3));
        assert_eq!(f.locate(&ring_key(2)).map(|l| l.line), Some(7));
        assert!(!f.is_set("policy.code_length"));
        let e = f.parse().unwrap_err();
        assert_eq!((e.field.as_deref(), e.location.map(|l| l.line)), (Some("policy.max_attempts"), Some(3)));
    }

    #[test]
    fn syntax_errors_and_unknown_fields_carry_the_parser_position() {
        let e = file("[policy]\nmax_attempts = 3\nmax_tries = 3\n").parse().unwrap_err();
        assert_eq!(e.name, Some("unknown-config-field"));
        assert_eq!(e.location, Some(Location { line: 3, column: 1 }));
        assert!(e.message.contains("unknown field `max_tries`"), "{}", e.message);
        let e = file("[policy\n").parse().unwrap_err();
        assert_eq!((e.name, e.location.map(|l| l.line)), (Some("config-syntax"), Some(1)));
        assert!(!e.message.contains('|'), "the parser's message, without its quote of the file: {}", e.message);
        let e = file("{\"policy\": {\n\"code_length\": \"six\"}}").parse().unwrap_err();
        assert_eq!((e.name, e.location.map(|l| l.line)), (Some("config-syntax"), Some(2)));
    }

    #[test]
    fn the_gateway_table_is_set_aside_and_every_other_line_kept() {
        let text = "tenant = \"a\"\n[gateway]\nlisten = \"127.0.0.1:8080\"\nworkers = 2\n\n[policy]\ncode_length = 4\n";
        let f = file(text);
        assert_eq!(f.gateway_options, Some(2));
        let e = f.parse().unwrap_err();
        assert_eq!((e.field.as_deref(), e.location.map(|l| l.line)), (Some("policy.code_length"), Some(7)));
        // Written inline, the table is still set aside (the rest re-encoded).
        let f = file("gateway = { workers = 2 }\ntenant = \"a\"\n");
        assert_eq!((f.gateway_options, f.parse().map(|c| c.tenant).ok()), (Some(1), Some("a".to_string())));
        let f = file("{\"gateway\": {\"workers\": 2, \"listen\": \"x\"}, \"tenant\": \"b\"}");
        assert_eq!((f.gateway_options, f.parse().map(|c| c.tenant).ok()), (Some(2), Some("b".to_string())));
        // Without one, nothing changes, and an unknown table is still refused.
        assert_eq!(file("tenant = \"a\"\n").gateway_options, None);
        assert_eq!(file("[gateways]\nx = 1\n").parse().unwrap_err().name, Some("unknown-config-field"));
    }

    #[test]
    fn templates_and_twin_secret_fields_are_found() {
        let f = file(
            "[[messages.templates]]\nlocale = \"fr\"\nchannel = \"sms\"\nsms = \"x {code}\"\n\
             [[messages.templates]]\nlocale = \"de\"\nchannel = \"sms\"\nsms = \"{nope}\"\n\
             [delivery.email]\nhost = \"h\"\nusername = \"u\"\npassword_file = \"/missing\"\n",
        );
        assert_eq!(f.locate(&template("de/sms/*").unwrap()).map(|l| l.line), Some(5));
        assert_eq!(f.locate_near(&steps("delivery.email.password_env")).map(|l| l.line), Some(12));
    }
}
