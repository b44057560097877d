//! The one configuration schema every surface uses, accepted as TOML or JSON.
//!
//! Unknown fields are refused with their name, policies out of bounds with the field and the
//! bound, and keys are never literals: each ring key names a file or an environment variable.
//! See the README's config reference for every field.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::delivery_config::DeliveryConfig;
use crate::error::Error;
use crate::keys::{read_key_env, read_key_file, read_key_with, KeyLocation, KeyReader, KeyRing};
use crate::message::{Messages, MessagesConfig};
use crate::policy::Policy;
use crate::random::Random;

/// The most bytes of config text accepted.
pub const MAX_CONFIG_BYTES: usize = 1 << 20;

/// Where one ring key is read from: exactly one of `file` and `env`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeySource {
    /// The key's id, 1..=255, carried in tokens and records so keys can rotate.
    pub id: u8,
    /// A file holding the key as hex, base64, or raw bytes.
    pub file: Option<String>,
    /// An environment variable holding the key as hex or base64.
    pub env: Option<String>,
    /// The key only names subject records (it may be `keys.index`) and no longer verifies
    /// codes or tokens: a retired key keeps the subjects' history without being able to
    /// forge anything. Default false.
    #[serde(default)]
    pub index_only: bool,
}

/// The `[keys]` section.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeysConfig {
    /// The ring, oldest key first.
    #[serde(default)]
    pub ring: Vec<KeySource>,
    /// The id of the key that signs new codes and tokens. Default: the last in the ring.
    pub active: Option<u8>,
    /// The id of the key that indexes subjects; required when the ring has more than one key.
    /// Changing it makes every subject look new (resetting every failure count and lock), so
    /// keep it when you rotate: retire it to `index_only` instead of dropping it.
    pub index: Option<u8>,
    /// With an empty ring, accept a random key that dies with this engine. Needed only when
    /// the host gives the engine its own store (the builder, the C ABI's callbacks, the
    /// component's imported store): such a store may be shared, and engines with keys of
    /// their own would each count failures apart. For tests and single-process demos only.
    #[serde(default)]
    pub ephemeral: bool,
}

/// Where records live: `store = "memory"` (the default), `store = "redis://..."`, or a
/// `[store]` table with the same `url` and the options of a shared store. A shared store is
/// named by exactly one of `url`, `sentinels` (with `master_name`) and `cluster`.
///
/// Core keeps this as data and builds only the memory store; a store crate (such as
/// `passcode-redis`) reads the rest, so core depends on no network client. Its `Debug`
/// hides a URL's user information (`redis://***@host`).
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `memory`, or a URL: `redis://host:port/db`, `rediss://...` for TLS,
    /// `redis+sentinel://host:port,host:port/master_name`, `redis+cluster://host:port,host:port`.
    /// Empty in a table that names `sentinels` or `cluster` instead.
    #[serde(default)]
    pub url: String,
    /// Redis Sentinel: the sentinels' addresses (`host:port`, `redis://host:port` or
    /// `rediss://host:port` for TLS to the sentinels and the primary).
    pub sentinels: Option<Vec<String>>,
    /// Redis Sentinel: the name the sentinels monitor the primary under.
    pub master_name: Option<String>,
    /// Redis Sentinel: the user name for AUTH to the sentinels (their own ACL).
    pub sentinel_username: Option<String>,
    /// Redis Sentinel: an environment variable holding the sentinels' password.
    pub sentinel_password_env: Option<String>,
    /// Redis Sentinel: a file holding the sentinels' password.
    pub sentinel_password_file: Option<String>,
    /// Redis Cluster: some of its nodes' addresses (the rest are discovered), in the same forms.
    pub cluster: Option<Vec<String>>,
    /// The prefix of every key the store writes (Redis default `passcode:`).
    pub prefix: Option<String>,
    /// The most connections the store keeps open.
    pub pool_size: Option<u32>,
    /// How long to wait for a connection, in milliseconds.
    pub connect_timeout_ms: Option<u64>,
    /// How long to wait for an answer to one command, in milliseconds.
    pub command_timeout_ms: Option<u64>,
    /// The user name for AUTH (Redis ACL).
    pub username: Option<String>,
    /// An environment variable holding the password (never a literal in config).
    pub password_env: Option<String>,
    /// A file holding the password (never a literal in config).
    pub password_file: Option<String>,
    /// Replicas that must acknowledge each write before it counts (Redis `WAIT`); 0: none.
    pub wait_replicas: Option<u32>,
    /// How long a write waits for those replicas, in milliseconds.
    pub wait_timeout_ms: Option<u64>,
}

impl Default for StoreConfig {
    /// The embedded in-memory store, with no options.
    fn default() -> Self {
        StoreConfig {
            url: "memory".into(),
            sentinels: None,
            master_name: None,
            sentinel_username: None,
            sentinel_password_env: None,
            sentinel_password_file: None,
            cluster: None,
            prefix: None,
            pool_size: None,
            connect_timeout_ms: None,
            command_timeout_ms: None,
            username: None,
            password_env: None,
            password_file: None,
            wait_replicas: None,
            wait_timeout_ms: None,
        }
    }
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact_all =
            |list: &Option<Vec<String>>| list.as_ref().map(|l| l.iter().map(|u| redact_url(u)).collect::<Vec<_>>());
        f.debug_struct("StoreConfig")
            .field("url", &redact_url(&self.url))
            .field("sentinels", &redact_all(&self.sentinels))
            .field("master_name", &self.master_name)
            .field("sentinel_username", &self.sentinel_username)
            .field("sentinel_password_env", &self.sentinel_password_env)
            .field("sentinel_password_file", &self.sentinel_password_file)
            .field("cluster", &redact_all(&self.cluster))
            .field("prefix", &self.prefix)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("command_timeout_ms", &self.command_timeout_ms)
            .field("username", &self.username)
            .field("password_env", &self.password_env)
            .field("password_file", &self.password_file)
            .field("wait_replicas", &self.wait_replicas)
            .field("wait_timeout_ms", &self.wait_timeout_ms)
            .finish()
    }
}

/// A URL with its user information (`user:password@`) replaced by `***`: everything before
/// the last `@` but the scheme, so that a malformed URL (`redis//:password@host`) is hidden too.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").map_or(("", url), |(s, r)| (s, r));
    match rest.rfind('@') {
        Some(at) if scheme.is_empty() => format!("***{}", &rest[at..]),
        Some(at) => format!("{scheme}://***{}", &rest[at..]),
        None => url.to_string(),
    }
}

impl StoreConfig {
    /// The embedded in-memory store.
    pub fn memory() -> Self {
        StoreConfig::default()
    }

    /// Whether this is the embedded in-memory store.
    pub fn is_memory(&self) -> bool {
        self.url == "memory"
    }

    /// Whether any option beyond the URL is set.
    fn has_options(&self) -> bool {
        *self != StoreConfig { url: self.url.clone(), ..StoreConfig::default() }
    }
}

/// `store` is either a string (the URL alone) or a table; a table refuses unknown fields by name.
fn store_from_text_or_table<'de, D: Deserializer<'de>>(d: D) -> Result<StoreConfig, D::Error> {
    struct TextOrTable;
    impl<'de> Visitor<'de> for TextOrTable {
        type Value = StoreConfig;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("`memory`, a store URL, or a table with `url`")
        }
        fn visit_str<E: de::Error>(self, url: &str) -> Result<StoreConfig, E> {
            Ok(StoreConfig { url: url.to_string(), ..StoreConfig::default() })
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<StoreConfig, A::Error> {
            StoreConfig::deserialize(de::value::MapAccessDeserializer::new(map))
        }
    }
    d.deserialize_any(TextOrTable)
}

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Keeps subjects of several engines apart in one store (a realm, a site). Default "default".
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// `memory` (the default), or a URL that a store crate opens (e.g. `redis://...`), or a
    /// table with that `url` and the store's options.
    #[serde(default = "StoreConfig::memory", deserialize_with = "store_from_text_or_table")]
    pub store: StoreConfig,
    /// The key ring. Empty: a random key for this process only, allowed with the memory store.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Every limit.
    #[serde(default)]
    pub policy: Policy,
    /// Messages and templates.
    #[serde(default)]
    pub messages: MessagesConfig,
    /// How messages are sent (data for `passcode-delivery`; the engine sends nothing).
    #[serde(default)]
    pub delivery: DeliveryConfig,
}

fn default_tenant() -> String {
    "default".into()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tenant: default_tenant(),
            store: StoreConfig::memory(),
            keys: KeysConfig::default(),
            policy: Policy::default(),
            messages: MessagesConfig::default(),
            delivery: DeliveryConfig::default(),
        }
    }
}

/// Turns a parser's message into our error, quoting nothing of the config's text (a value
/// can be a `redis://:password@host` URL): an unknown field by its name when that is a plain
/// name, anything else as the line, the column and what was expected.
fn syntax_error(message: &str, text: &str, offset: Option<usize>) -> Error {
    if let Some(rest) = message.split("unknown field `").nth(1) {
        let field = rest.split('`').next().unwrap_or("");
        let plain = !field.is_empty()
            && field.len() <= 64
            && field.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        return Error::UnknownConfigField { field: if plain { field.into() } else { "(not a field name)".into() } };
    }
    let place = offset.map(|o| {
        let before = &text.as_bytes()[..o.min(text.len())];
        let line = before.iter().filter(|b| **b == b'\n').count() + 1;
        let column = before.iter().rev().take_while(|b| **b != b'\n').count() + 1;
        format!("line {line}, column {column}: ")
    });
    Error::ConfigSyntax { message: format!("{}{}", place.unwrap_or_default(), describe_parse_error(message)) }
}

/// What a TOML or JSON parser's message says, without the values it quotes: serde's "invalid
/// type: string \"hunter2\", expected u8" becomes "a value of the wrong type or form,
/// expected u8" (what is expected comes from our schema, never from the config).
fn describe_parse_error(message: &str) -> String {
    let m = message.split_whitespace().collect::<Vec<_>>().join(" ");
    let expected = |m: &str| m.split_once(", expected ").map(|(_, e)| e.to_string());
    if ["invalid type:", "invalid value:", "invalid length"].iter().any(|p| m.starts_with(p)) {
        return match expected(&m) {
            Some(e) => format!("a value of the wrong type or form, expected {e}"),
            None => "a value of the wrong type or form".into(),
        };
    }
    if m.starts_with("unknown variant") {
        return match expected(&m) {
            Some(e) => format!("an unknown value, expected {e}"),
            None => "an unknown value".into(),
        };
    }
    if m.starts_with("duplicate") {
        return "a field or key given twice".into();
    }
    if m.starts_with("missing field `") {
        return m; // the name is our schema's
    }
    scrub_quotes(&m)
}

/// Drops every quoted or backticked part of a grammar message but punctuation such as `]`.
fn scrub_quotes(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['`', '"', '\'']) {
        let quote = rest[start..].chars().next().unwrap_or('`');
        out.push_str(&rest[..start]);
        let after = &rest[start + quote.len_utf8()..];
        match after.find(quote) {
            Some(end) => {
                let inner = &after[..end];
                if !inner.is_empty() && inner.len() <= 2 && !inner.chars().any(char::is_alphanumeric) {
                    out.push(quote);
                    out.push_str(inner);
                    out.push(quote);
                } else {
                    out.push('…');
                }
                rest = &after[end + quote.len_utf8()..];
            }
            None => {
                out.push('…');
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// The byte offset of a 1-based line and column in `text`.
fn json_offset(text: &str, line: usize, column: usize) -> Option<usize> {
    let start: usize = text.split_inclusive('\n').take(line.checked_sub(1)?).map(str::len).sum();
    Some(start + column.saturating_sub(1))
}

impl Config {
    /// Parses TOML, or JSON when the text starts with `{`, and checks every bound.
    pub fn parse(text: &str) -> Result<Config, Error> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(Error::InputTooLong { field: "config", max: MAX_CONFIG_BYTES });
        }
        let config: Config = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| {
                let message = e.to_string();
                let message = message.split(" at line ").next().unwrap_or("");
                let offset = json_offset(text, e.line(), e.column());
                syntax_error(message, text, offset)
            })?
        } else {
            toml::from_str(text).map_err(|e| syntax_error(e.message(), text, e.span().map(|s| s.start)))?
        };
        config.validate()?;
        Ok(config)
    }

    /// Checks every field (also called by `parse`).
    pub fn validate(&self) -> Result<(), Error> {
        if self.tenant.is_empty() || self.tenant.len() > 64 || self.tenant.chars().any(|c| c.is_control()) {
            return Err(Error::PolicyOutOfBounds { field: "tenant", reason: "must be 1 to 64 printable bytes".into() });
        }
        self.policy.validate()?;
        Messages::new(&self.messages, &self.policy)?;
        self.delivery.validate()?;
        let named = [!self.store.url.is_empty(), self.store.sentinels.is_some(), self.store.cluster.is_some()];
        match named.iter().filter(|n| **n).count() {
            0 => {
                return Err(Error::PolicyOutOfBounds {
                    field: "store.url",
                    reason: "must be `memory` or a URL, or give `sentinels` or `cluster`".into(),
                })
            }
            1 => {}
            _ => {
                return Err(Error::PolicyOutOfBounds {
                    field: "store",
                    reason: "name the store by exactly one of `url`, `sentinels` and `cluster`".into(),
                })
            }
        }
        if !self.store.url.is_empty()
            && !self.store.is_memory()
            && !self.store.url.split_once("://").is_some_and(|(s, r)| !s.is_empty() && !r.is_empty())
        {
            return Err(Error::PolicyOutOfBounds {
                field: "store.url",
                reason: "must be `memory` or a URL such as `redis://host:6379/0`".into(),
            });
        }
        if self.store.is_memory() && self.store.has_options() {
            return Err(Error::PolicyOutOfBounds {
                field: "store",
                reason:
                    "the memory store takes no options; prefix, pool, timeouts and credentials are a shared store's"
                        .into(),
            });
        }
        if self.keys.ring.is_empty() && !self.store.is_memory() {
            return Err(Error::PolicyOutOfBounds {
                field: "keys.ring",
                reason: "a shared store needs keys from files or environment variables, so every node derives the same"
                    .into(),
            });
        }
        if self.keys.ephemeral && (!self.keys.ring.is_empty() || !self.store.is_memory()) {
            return Err(Error::PolicyOutOfBounds {
                field: "keys.ephemeral",
                reason: "an ephemeral key is for an empty ring and no shared store in the config".into(),
            });
        }
        if self.keys.ring.len() > 1 && self.keys.index.is_none() {
            return Err(Error::PolicyOutOfBounds {
                field: "keys.index",
                reason: "name the index key when the ring has more than one: a default would move when a key is \
                         dropped, and a new index key resets every subject's failures and locks"
                    .into(),
            });
        }
        for k in &self.keys.ring {
            if k.id == 0 {
                return Err(Error::PolicyOutOfBounds { field: "keys.ring", reason: "key ids are 1..=255".into() });
            }
            if k.file.is_some() == k.env.is_some() {
                return Err(Error::PolicyOutOfBounds {
                    field: "keys.ring",
                    reason: format!("key {} needs exactly one of `file` and `env`", k.id),
                });
            }
        }
        if self.keys.ring.iter().any(|k| k.index_only && Some(k.id) == self.active_key_id()) {
            return Err(Error::PolicyOutOfBounds {
                field: "keys.active",
                reason: "the active key cannot be index-only: name another with `active`".into(),
            });
        }
        Ok(())
    }

    /// The active key's id: `keys.active`, or the last key of the ring that is not index-only.
    fn active_key_id(&self) -> Option<u8> {
        self.keys.active.or_else(|| self.keys.ring.iter().rev().find(|k| !k.index_only).map(|k| k.id))
    }

    /// Whether this config gives the engine no keys of its own and does not accept an
    /// ephemeral one: then it may run only on a store the engine builds itself.
    pub(crate) fn lacks_keys_for_a_host_store(&self) -> bool {
        self.keys.ring.is_empty() && !self.keys.ephemeral
    }

    /// Reads the key ring from its files and variables, or makes a process-local one.
    pub fn load_key_ring(&self, random: &dyn Random) -> Result<KeyRing, Error> {
        self.load_key_ring_from(random, None)
    }

    /// As [`Config::load_key_ring`], each key read by the host's `reader` from the location
    /// its entry names, instead of from this process's files and environment.
    pub fn load_key_ring_with(&self, random: &dyn Random, reader: &dyn KeyReader) -> Result<KeyRing, Error> {
        self.load_key_ring_from(random, Some(reader))
    }

    fn load_key_ring_from(&self, random: &dyn Random, reader: Option<&dyn KeyReader>) -> Result<KeyRing, Error> {
        let (Some(first), Some(active)) = (self.keys.ring.first(), self.active_key_id()) else {
            return match self.keys.ring.is_empty() {
                true => KeyRing::ephemeral(random),
                false => {
                    Err(Error::PolicyOutOfBounds { field: "keys.active", reason: "every key is index-only".into() })
                }
            };
        };
        let mut material = Vec::with_capacity(self.keys.ring.len());
        for k in &self.keys.ring {
            let location = match (&k.file, &k.env) {
                (Some(path), _) => KeyLocation::File(path),
                (_, Some(name)) => KeyLocation::Env(name),
                _ => return Err(Error::PolicyOutOfBounds { field: "keys.ring", reason: "a key has no source".into() }),
            };
            let mut bytes = match (reader, location) {
                (Some(reader), location) => read_key_with(reader, k.id, location)?,
                (None, KeyLocation::File(path)) => read_key_file(k.id, path)?,
                (None, KeyLocation::Env(name)) => read_key_env(k.id, name)?,
            };
            // Moved, not copied: the ring wipes it once the keys are derived.
            material.push((k.id, std::mem::take(&mut *bytes)));
        }
        let index_only: Vec<u8> = self.keys.ring.iter().filter(|k| k.index_only).map(|k| k.id).collect();
        KeyRing::new(material, active, self.keys.index.unwrap_or(first.id))?.with_index_only(&index_only)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Alphabet;

    #[test]
    fn empty_config_is_the_default() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
        assert_eq!(Config::parse("{}").unwrap(), Config::default());
    }

    #[test]
    fn toml_and_json_read_the_same_schema() {
        let toml = r#"
            tenant = "realm-a"
            [policy]
            code_length = 8
            alphabet = "alphanumeric"
            subject_sends = { max = 3, window_seconds = 300 }
            [messages]
            app_name = "Acme"
            domain = "acme.example"
        "#;
        let json = r#"{"tenant":"realm-a","policy":{"code_length":8,"alphabet":"alphanumeric",
            "subject_sends":{"max":3,"window_seconds":300}},
            "messages":{"app_name":"Acme","domain":"acme.example"}}"#;
        let a = Config::parse(toml).unwrap();
        assert_eq!(a, Config::parse(json).unwrap());
        assert_eq!(a.policy.alphabet, Alphabet::Alphanumeric);
        assert_eq!(a.policy.max_attempts, 5, "unset fields keep their defaults");
    }

    #[test]
    fn unknown_fields_are_named() {
        assert_eq!(Config::parse("colour = 1").unwrap_err(), Error::UnknownConfigField { field: "colour".into() });
        assert_eq!(
            Config::parse("[policy]\nmax_tries = 3").unwrap_err(),
            Error::UnknownConfigField { field: "max_tries".into() }
        );
        assert_eq!(
            Config::parse(r#"{"keys":{"ring":[{"id":1,"value":"00"}]}}"#).unwrap_err(),
            Error::UnknownConfigField { field: "value".into() },
            "a key literal is not a field"
        );
    }

    #[test]
    fn syntax_errors_and_bounds() {
        assert!(matches!(Config::parse("[policy").unwrap_err(), Error::ConfigSyntax { .. }));
        assert!(matches!(Config::parse("{\"policy\": ").unwrap_err(), Error::ConfigSyntax { .. }));
        assert!(matches!(Config::parse("[policy]\ncode_length = \"six\"").unwrap_err(), Error::ConfigSyntax { .. }));
        assert!(matches!(
            Config::parse("[policy]\ncode_length = 4").unwrap_err(),
            Error::PolicyOutOfBounds { field: "policy.code_length", .. }
        ));
        assert!(matches!(
            Config::parse("store = \"redis://127.0.0.1\"").unwrap_err(),
            Error::PolicyOutOfBounds { field: "keys.ring", .. }
        ));
        assert!(matches!(
            Config::parse("[[keys.ring]]\nid = 1\nfile = \"a\"\nenv = \"B\"").unwrap_err(),
            Error::PolicyOutOfBounds { field: "keys.ring", .. }
        ));
        assert!(matches!(
            Config::parse("tenant = \"\"").unwrap_err(),
            Error::PolicyOutOfBounds { field: "tenant", .. }
        ));
        assert!(matches!(Config::parse(&" ".repeat(MAX_CONFIG_BYTES + 1)).unwrap_err(), Error::InputTooLong { .. }));
    }

    #[test]
    fn errors_never_quote_the_config() {
        let password = "hunter2-secret";
        for text in [
            format!("store = \"redis://:{password}@cache.internal:6379\"\n[policy]\ncode_length = \"{password}\""),
            format!("store = \"redis://:{password}@cache.internal"),
            format!("[store]\nurl = \"redis://u:{password}@h\"\npool_size = \"{password}\""),
            format!("[policy]\nalphabet = \"{password}\""),
            format!("[policy]\nmax_attempts = {password}"),
            format!("\"redis://:{password}@h\" = 1"),
            format!("[policy]\nsms_countries = {{ deny = [\"{password}\"] }}"),
            format!("[policy]\nsms_default_region = \"{password}\""),
            format!(r#"{{"store": "redis://:{password}@h", "policy": {{"code_length": "{password}"}}}}"#),
            format!(r#"{{"store": "redis://:{password}@h", "#),
            format!("[[messages.templates]]\nlocale = \"{password}!\"\nchannel = \"sms\"\nsms = \"{{code}}\""),
            format!("[[messages.templates]]\nlocale = \"en\"\nchannel = \"sms\"\nsms = \"{{code}} {{{password}}}\""),
        ] {
            let e = Config::parse(&text).unwrap_err();
            assert!(!e.to_string().contains(password), "{e}");
            assert!(!format!("{e:?}").contains(password), "{e:?}");
        }
        let e = Config::parse("[policy]\ncode_length = \"six\"").unwrap_err();
        assert_eq!(
            e,
            Error::ConfigSyntax { message: "line 2, column 15: a value of the wrong type or form, expected u8".into() }
        );
        let e = Config::parse("{\"policy\": {\"code_length\": \"six\"}}").unwrap_err();
        assert!(matches!(&e, Error::ConfigSyntax { message } if message.starts_with("line 1, column ")), "{e:?}");
        let config =
            Config::parse(&format!("store = \"redis://:{password}@h:6379/0\"\n[[keys.ring]]\nid = 1\nfile = \"k\""))
                .unwrap();
        let shown = format!("{config:?}");
        assert!(!shown.contains(password) && shown.contains("redis://***@h:6379/0"), "{shown}");
    }

    #[test]
    fn key_rules() {
        let ring =
            |extra: &str| format!("[[keys.ring]]\nid = 1\nfile = \"a\"\n[[keys.ring]]\nid = 2\nfile = \"b\"\n{extra}");
        // Two keys and no index named: dropping the first one later would move the index silently.
        assert!(matches!(Config::parse(&ring("")).unwrap_err(), Error::PolicyOutOfBounds { field: "keys.index", .. }));
        let c = Config::parse(&ring("[keys]\nindex = 1")).unwrap();
        assert_eq!(c.active_key_id(), Some(2));
        // The first key retired to index-only: the last one signs.
        let retired = "[[keys.ring]]\nid = 1\nfile = \"a\"\nindex_only = true\n[[keys.ring]]\nid = 2\nfile = \"b\"\n[keys]\nindex = 1";
        assert_eq!(Config::parse(retired).unwrap().active_key_id(), Some(2));
        let active_retired = format!("{retired}\nactive = 1");
        assert!(matches!(
            Config::parse(&active_retired).unwrap_err(),
            Error::PolicyOutOfBounds { field: "keys.active", .. }
        ));
        // Ephemeral keys: only with an empty ring and no shared store.
        assert!(Config::parse("[keys]\nephemeral = true").unwrap().keys.ephemeral);
        assert!(matches!(
            Config::parse(&ring("[keys]\nindex = 1\nephemeral = true")).unwrap_err(),
            Error::PolicyOutOfBounds { field: "keys.ephemeral", .. }
        ));
        assert!(matches!(
            Config::parse("store = \"redis://h\"\n[keys]\nephemeral = true").unwrap_err(),
            Error::PolicyOutOfBounds { field: "keys.ring", .. }
        ));
    }

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact_url("redis://:pw@h:1/0"), "redis://***@h:1/0");
        assert_eq!(redact_url("rediss://user:pw@h"), "rediss://***@h");
        assert_eq!(redact_url("redis://h:1/0?x=a@b"), "redis://***@b", "hides too much rather than too little");
        assert_eq!(redact_url("memory"), "memory");
        // Found by the config fuzz target: a malformed URL kept its password in Debug.
        assert_eq!(redact_url("redis2//:hunter2@cache.internal:6128/0"), "***@cache.internal:6128/0");
        assert!(matches!(
            Config::parse("store = \"redis2//:hunter2@cache.internal:6128/0\"\n[[keys.ring]]\nid = 1\nfile = \"k\""),
            Err(Error::PolicyOutOfBounds { field: "store.url", .. })
        ));
        // Sentinel and Cluster addresses can carry credentials too.
        let sentinel = Config::parse(
            "[store]\nsentinels = [\"redis://:hunter2@s1:26379\"]\nmaster_name = \"m\"\n[[keys.ring]]\nid = 1\nfile = \"k\"",
        )
        .unwrap();
        let cluster =
            Config::parse("[store]\ncluster = [\"rediss://u:hunter2@c1:7000\"]\n[[keys.ring]]\nid = 1\nfile = \"k\"")
                .unwrap();
        for config in [sentinel, cluster] {
            let debug = format!("{config:?}");
            assert!(!debug.contains("hunter2") && debug.contains("***@"), "{debug}");
        }
    }

    #[test]
    fn store_is_a_url_or_a_table() {
        let url = Config::parse("store = \"redis://127.0.0.1:6379\"\n[[keys.ring]]\nid = 1\nfile = \"k\"").unwrap();
        assert_eq!(url.store.url, "redis://127.0.0.1:6379");
        assert_eq!(url.store.prefix, None);
        let table = Config::parse(
            "[store]\nurl = \"redis://127.0.0.1:6379\"\nprefix = \"p:\"\npool_size = 4\nconnect_timeout_ms = 250\n\
             command_timeout_ms = 100\nusername = \"otp\"\npassword_env = \"REDIS_PW\"\nwait_replicas = 1\n\
             [[keys.ring]]\nid = 1\nfile = \"k\"",
        )
        .unwrap();
        assert_eq!(table.store.prefix.as_deref(), Some("p:"));
        assert_eq!(table.store.pool_size, Some(4));
        assert_eq!(table.store.password_env.as_deref(), Some("REDIS_PW"));
        let json = Config::parse(
            r#"{"store":{"url":"redis://127.0.0.1:6379","prefix":"p:","pool_size":4,"connect_timeout_ms":250,
            "command_timeout_ms":100,"username":"otp","password_env":"REDIS_PW","wait_replicas":1},
            "keys":{"ring":[{"id":1,"file":"k"}]}}"#,
        )
        .unwrap();
        assert_eq!(json, table);
        assert_eq!(Config::parse("store = \"memory\"").unwrap(), Config::default());
        assert_eq!(
            Config::parse("[store]\nurl = \"redis://h\"\npassword = \"x\"").unwrap_err(),
            Error::UnknownConfigField { field: "password".into() },
            "a password literal is not a field"
        );
        assert!(matches!(
            Config::parse("[store]\nurl = \"memory\"\nprefix = \"x\"").unwrap_err(),
            Error::PolicyOutOfBounds { field: "store", .. }
        ));
        assert!(matches!(Config::parse("store = 3").unwrap_err(), Error::ConfigSyntax { .. }));
    }

    #[test]
    fn store_is_named_by_one_of_url_sentinels_and_cluster() {
        let ring = "[[keys.ring]]\nid = 1\nfile = \"k\"";
        let sentinel = Config::parse(&format!(
            "[store]\nsentinels = [\"10.0.0.1:26379\", \"10.0.0.2:26379\"]\nmaster_name = \"passcode\"\n\
             sentinel_password_env = \"SENTINEL_PW\"\n{ring}"
        ))
        .unwrap();
        assert_eq!(sentinel.store.url, "", "no url with sentinels");
        assert!(!sentinel.store.is_memory());
        assert_eq!(sentinel.store.sentinels.as_ref().map(Vec::len), Some(2));
        assert_eq!(sentinel.store.master_name.as_deref(), Some("passcode"));
        let cluster = Config::parse(&format!("[store]\ncluster = [\"10.0.0.1:6379\"]\n{ring}")).unwrap();
        assert_eq!(cluster.store.cluster, Some(vec!["10.0.0.1:6379".to_string()]));
        let json = Config::parse(r#"{"store":{"cluster":["10.0.0.1:6379"]},"keys":{"ring":[{"id":1,"file":"k"}]}}"#);
        assert_eq!(json.unwrap(), cluster);
        let refused = |text: &str| Config::parse(&format!("{text}\n{ring}")).unwrap_err();
        assert!(matches!(
            refused("[store]\nurl = \"redis://h\"\ncluster = [\"h:1\"]"),
            Error::PolicyOutOfBounds { field: "store", .. }
        ));
        assert!(matches!(
            refused("[store]\nsentinels = [\"h:1\"]\ncluster = [\"h:1\"]"),
            Error::PolicyOutOfBounds { field: "store", .. }
        ));
        assert!(matches!(refused("[store]\nprefix = \"p:\""), Error::PolicyOutOfBounds { field: "store.url", .. }));
        assert!(matches!(
            Config::parse("[store]\ncluster = [\"h:1\"]").unwrap_err(),
            Error::PolicyOutOfBounds { field: "keys.ring", .. }
        ));
    }

    #[test]
    fn keys_from_files_and_environment() {
        let dir = tempfile::tempdir().unwrap();
        let hex: String = (0u8..32).map(|i| format!("{:02x}", i.wrapping_mul(37).wrapping_add(5))).collect();
        let good = dir.path().join("k1");
        std::fs::write(&good, format!("{hex}\n")).unwrap();
        let weak = dir.path().join("weak");
        std::fs::write(&weak, "00".repeat(32)).unwrap();
        let text = dir.path().join("text");
        std::fs::write(&text, "correct horse battery staple, a passphrase").unwrap();
        let cfg = |path: &std::path::Path| {
            Config::parse(&format!("[[keys.ring]]\nid = 1\nfile = {:?}", path.to_str().unwrap())).unwrap()
        };
        cfg(&good).load_key_ring(&crate::random::OsRandom).unwrap();
        assert_eq!(
            cfg(&weak).load_key_ring(&crate::random::OsRandom).unwrap_err(),
            Error::WeakKey { id: 1, reason: "too few distinct bytes to be random" }
        );
        assert_eq!(
            cfg(&text).load_key_ring(&crate::random::OsRandom).unwrap_err(),
            Error::WeakKey { id: 1, reason: "the key file is text but not hex or base64" }
        );
        let missing = dir.path().join("missing");
        let e = cfg(&missing).load_key_ring(&crate::random::OsRandom).unwrap_err();
        assert!(matches!(e, Error::KeyUnavailable { id: 1, .. }));
        let c = Config::parse("[[keys.ring]]\nid = 2\nenv = \"PASSCODE_TEST_SURELY_UNSET\"").unwrap();
        assert_eq!(
            c.load_key_ring(&crate::random::OsRandom).unwrap_err(),
            Error::KeyUnavailable { id: 2, source: "its environment variable (unset or not UTF-8)".into() }
        );
    }
}
