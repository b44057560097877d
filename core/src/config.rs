//! The one configuration schema every surface uses, accepted as TOML or JSON.
//!
//! Unknown fields are refused with their name, policies out of bounds with the field and the
//! bound, and keys are never literals: each ring key names a file or an environment variable.
//! See the README's config reference for every field.

use serde::Deserialize;

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

/// The whole configuration.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Keeps subjects of several engines apart in one store (a realm, a site). Default "default".
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// `memory` (the default), or a URL that a store crate opens (e.g. `redis://...`).
    #[serde(default = "default_store")]
    pub store: String,
    /// The key ring. Empty: a random key for this process only, allowed with the memory store.
    #[serde(default)]
    pub keys: KeysConfig,
    /// Every limit.
    #[serde(default)]
    pub policy: Policy,
    /// Messages and templates.
    #[serde(default)]
    pub messages: MessagesConfig,
}

fn default_tenant() -> String {
    "default".into()
}

fn default_store() -> String {
    "memory".into()
}

impl Default for Config {
    fn default() -> Self {
        Config {
            tenant: default_tenant(),
            store: default_store(),
            keys: KeysConfig::default(),
            policy: Policy::default(),
            messages: MessagesConfig::default(),
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
        if self.keys.ring.is_empty() && self.store != "memory" {
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
