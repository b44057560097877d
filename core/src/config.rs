//! The one configuration schema every surface uses, accepted as TOML or JSON.
//!
//! Unknown fields are refused with their name, policies out of bounds with the field and the
//! bound, and keys are never literals: each ring key names a file or an environment variable.
//! See the README's config reference for every field.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::Deserialize;

use crate::delivery_config::DeliveryConfig;
use crate::error::Error;
use crate::keys::{read_key_env, read_key_file, KeyRing};
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
    /// The id of the key that indexes subjects. Default: the first in the ring. Changing it
    /// makes every subject look new, so keep it when you rotate.
    pub index: Option<u8>,
}

/// Where records live: `store = "memory"` (the default), `store = "redis://..."`, or a
/// `[store]` table with the same `url` and the options of a shared store. A shared store is
/// named by exactly one of `url`, `sentinels` (with `master_name`) and `cluster`.
///
/// Core keeps this as data and builds only the memory store; a store crate (such as
/// `passcode-redis`) reads the rest, so core depends on no network client.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
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

/// Turns a serde message into our error: an unknown field by name, anything else as syntax.
fn syntax_error(message: String) -> Error {
    if let Some(rest) = message.split("unknown field `").nth(1) {
        if let Some(field) = rest.split('`').next() {
            return Error::UnknownConfigField { field: field.to_string() };
        }
    }
    Error::ConfigSyntax { message: message.lines().filter(|l| !l.trim().is_empty()).collect::<Vec<_>>().join(" ") }
}

impl Config {
    /// Parses TOML, or JSON when the text starts with `{`, and checks every bound.
    pub fn parse(text: &str) -> Result<Config, Error> {
        if text.len() > MAX_CONFIG_BYTES {
            return Err(Error::InputTooLong { field: "config", max: MAX_CONFIG_BYTES });
        }
        let config: Config = if text.trim_start().starts_with('{') {
            serde_json::from_str(text).map_err(|e| syntax_error(e.to_string()))?
        } else {
            toml::from_str(text).map_err(|e| syntax_error(e.to_string()))?
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
        Ok(())
    }

    /// Reads the key ring from its files and variables, or makes a process-local one.
    pub fn load_key_ring(&self, random: &dyn Random) -> Result<KeyRing, Error> {
        let (Some(first), Some(last)) = (self.keys.ring.first(), self.keys.ring.last()) else {
            return KeyRing::ephemeral(random);
        };
        let mut material = Vec::with_capacity(self.keys.ring.len());
        for k in &self.keys.ring {
            let bytes = match (&k.file, &k.env) {
                (Some(path), _) => read_key_file(k.id, path)?,
                (_, Some(name)) => read_key_env(k.id, name)?,
                _ => unreachable!("validate checks one source per key"),
            };
            material.push((k.id, bytes));
        }
        KeyRing::new(material, self.keys.active.unwrap_or(last.id), self.keys.index.unwrap_or(first.id))
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
            Error::KeyUnavailable { id: 2, source: "environment variable PASSCODE_TEST_SURELY_UNSET".into() }
        );
    }
}
