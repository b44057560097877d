//! The Redis store's options, read from the core config's `store` field.
//!
//! Core keeps `[store]` as plain data; this module checks the Redis-specific parts (the URL's
//! scheme, the bounds of each number) and reads the password from where the config says it
//! is. Errors name the field, never the URL or the password, since a URL may carry one.

use std::time::Duration;

use passcode_core::config::StoreConfig;
use passcode_core::Error;
use zeroize::Zeroizing;

/// The key prefix when the config names none.
pub const DEFAULT_PREFIX: &str = "passcode:";
/// Connections kept at most when the config names no `pool_size`.
pub const DEFAULT_POOL_SIZE: u32 = 16;
/// How long to wait for a connection by default, in milliseconds.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 1000;
/// How long to wait for one answer by default, in milliseconds.
pub const DEFAULT_COMMAND_TIMEOUT_MS: u64 = 500;
/// How long a write waits for its replicas by default, when `wait_replicas` is set.
pub const DEFAULT_WAIT_TIMEOUT_MS: u64 = 100;

/// Everything needed to open a [`crate::RedisStore`].
#[derive(Clone)]
pub struct RedisOptions {
    /// `redis://host:port/db`, `rediss://host:port/db` (TLS), or `redis+unix:///path`.
    pub url: String,
    /// Prepended to every key written.
    pub prefix: String,
    /// The most connections kept open.
    pub pool_size: u32,
    /// The longest wait for a connection (TCP, TLS and AUTH included).
    pub connect_timeout: Duration,
    /// The longest wait for one answer.
    pub command_timeout: Duration,
    /// The ACL user, if any.
    pub username: Option<String>,
    /// The password, read from a variable or a file.
    pub password: Option<Zeroizing<String>>,
    /// Replicas that must acknowledge each write (`WAIT`); 0 for none.
    pub wait_replicas: u32,
    /// The longest a write waits for them.
    pub wait_timeout: Duration,
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: it is left out, like the password itself.
        f.debug_struct("RedisOptions")
            .field("prefix", &self.prefix)
            .field("pool_size", &self.pool_size)
            .field("connect_timeout", &self.connect_timeout)
            .field("command_timeout", &self.command_timeout)
            .field("username", &self.username)
            .field("wait_replicas", &self.wait_replicas)
            .finish_non_exhaustive()
    }
}

fn out(field: &'static str, reason: impl Into<String>) -> Error {
    Error::PolicyOutOfBounds { field, reason: reason.into() }
}

fn millis(field: &'static str, value: Option<u64>, default: u64) -> Result<Duration, Error> {
    let ms = value.unwrap_or(default);
    if !(1..=60_000).contains(&ms) {
        return Err(out(field, "must be 1..=60000 milliseconds"));
    }
    Ok(Duration::from_millis(ms))
}

/// Whether a store URL is one this crate opens.
pub fn is_redis_url(url: &str) -> bool {
    ["redis://", "rediss://", "redis+unix://", "unix://"].iter().any(|s| url.starts_with(s))
}

impl RedisOptions {
    /// Options for a URL with every default, as tests and simple hosts need.
    pub fn new(url: impl Into<String>) -> Self {
        RedisOptions {
            url: url.into(),
            prefix: DEFAULT_PREFIX.into(),
            pool_size: DEFAULT_POOL_SIZE,
            connect_timeout: Duration::from_millis(DEFAULT_CONNECT_TIMEOUT_MS),
            command_timeout: Duration::from_millis(DEFAULT_COMMAND_TIMEOUT_MS),
            username: None,
            password: None,
            wait_replicas: 0,
            wait_timeout: Duration::from_millis(DEFAULT_WAIT_TIMEOUT_MS),
        }
    }

    /// Reads the options from the config's `store` field, with the password from its
    /// variable or file.
    pub fn from_config(store: &StoreConfig) -> Result<Self, Error> {
        if !is_redis_url(&store.url) {
            return Err(out("store.url", "expected `memory`, redis://, rediss:// or redis+unix://"));
        }
        let prefix = store.prefix.clone().unwrap_or_else(|| DEFAULT_PREFIX.into());
        if prefix.len() > 128 {
            return Err(out("store.prefix", "at most 128 bytes"));
        }
        let pool_size = store.pool_size.unwrap_or(DEFAULT_POOL_SIZE);
        if !(1..=1024).contains(&pool_size) {
            return Err(out("store.pool_size", "must be 1..=1024"));
        }
        let wait_replicas = store.wait_replicas.unwrap_or(0);
        if wait_replicas > 64 {
            return Err(out("store.wait_replicas", "must be 0..=64"));
        }
        if let Some(u) = &store.username {
            if u.is_empty() || u.len() > 256 || u.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(out("store.username", "must be 1 to 256 printable bytes without spaces"));
            }
        }
        let password = match (&store.password_env, &store.password_file) {
            (Some(_), Some(_)) => {
                return Err(out("store.password_env", "set at most one of `password_env` and `password_file`"))
            }
            (Some(name), None) => match std::env::var(name) {
                Ok(p) if !p.is_empty() => Some(Zeroizing::new(p)),
                _ => {
                    return Err(out("store.password_env", format!("the environment variable {name} is unset or empty")))
                }
            },
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path)
                    .map(Zeroizing::new)
                    .map_err(|e| out("store.password_file", format!("the file cannot be read ({:?})", e.kind())))?;
                // A file written by `echo` ends with a newline that is not part of the password.
                let p = text.trim_end_matches(['\r', '\n']);
                if p.is_empty() {
                    return Err(out("store.password_file", "the file is empty"));
                }
                Some(Zeroizing::new(p.to_string()))
            }
            (None, None) => None,
        };
        Ok(RedisOptions {
            url: store.url.clone(),
            prefix,
            pool_size,
            connect_timeout: millis("store.connect_timeout_ms", store.connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS)?,
            command_timeout: millis("store.command_timeout_ms", store.command_timeout_ms, DEFAULT_COMMAND_TIMEOUT_MS)?,
            username: store.username.clone(),
            password,
            wait_replicas,
            wait_timeout: millis("store.wait_timeout_ms", store.wait_timeout_ms, DEFAULT_WAIT_TIMEOUT_MS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(extra: &str) -> StoreConfig {
        let text = format!("[store]\nurl = \"redis://127.0.0.1:1\"\n{extra}\n[[keys.ring]]\nid = 1\nfile = \"k\"");
        passcode_core::Config::parse(&text).unwrap().store
    }

    #[test]
    fn defaults_and_bounds() {
        let o = RedisOptions::from_config(&table("")).unwrap();
        assert_eq!((o.prefix.as_str(), o.pool_size, o.wait_replicas), (DEFAULT_PREFIX, DEFAULT_POOL_SIZE, 0));
        assert_eq!(o.command_timeout, Duration::from_millis(DEFAULT_COMMAND_TIMEOUT_MS));
        let e = |extra: &str| RedisOptions::from_config(&table(extra)).unwrap_err();
        assert!(matches!(e("pool_size = 0"), Error::PolicyOutOfBounds { field: "store.pool_size", .. }));
        assert!(matches!(
            e("command_timeout_ms = 0"),
            Error::PolicyOutOfBounds { field: "store.command_timeout_ms", .. }
        ));
        assert!(matches!(
            e("password_env = \"A\"\npassword_file = \"b\""),
            Error::PolicyOutOfBounds { field: "store.password_env", .. }
        ));
        let mut other = table("");
        other.url = "memcached://user:hunter2@h".into();
        let msg = RedisOptions::from_config(&other).unwrap_err().to_string();
        assert!(!msg.contains("hunter2"), "the URL (and a password in it) stays out of errors: {msg}");
    }

    #[test]
    fn password_from_file_or_environment() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret-from-file\n").unwrap();
        let o = RedisOptions::from_config(&table(&format!("password_file = {:?}", f.to_str().unwrap()))).unwrap();
        assert_eq!(o.password.as_deref().map(String::as_str), Some("s3cret-from-file"));
        assert!(!format!("{o:?}").contains("s3cret"), "Debug leaves the password out");
        let missing = dir.path().join("missing");
        let e = RedisOptions::from_config(&table(&format!("password_file = {:?}", missing.to_str().unwrap())));
        assert!(matches!(e.unwrap_err(), Error::PolicyOutOfBounds { field: "store.password_file", .. }));
        let e = RedisOptions::from_config(&table("password_env = \"PASSCODE_REDIS_TEST_SURELY_UNSET\""));
        assert!(matches!(e.unwrap_err(), Error::PolicyOutOfBounds { field: "store.password_env", .. }));
    }
}
