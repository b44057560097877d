//! The gateway's options in one place: each is a flag (`--max-body-bytes 65536`) and a key of
//! the config file's `[gateway]` table (`max_body_bytes = 65536`), with one default and one
//! line of help. [`OPTIONS`] lists them (for `--help` and the README, checked by a test);
//! [`apply`] is where each lands in a [`GatewayConfig`].
//!
//! The config file is core's engine config (TOML or JSON) plus that `[gateway]` table, so an
//! operator keeps one file; the gateway takes its table out before the engine reads the rest.
//! Flags override the file.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::gateway::{GatewayConfig, LogFormat, TlsFiles};

/// One option.
#[derive(Clone, Copy, Debug)]
pub struct OptionSpec {
    /// The config file key; the flag is the same with dashes (`--max-body-bytes`).
    pub key: &'static str,
    /// What the value is (`ADDR`, `N`, `FILE`), or empty for a switch.
    pub value: &'static str,
    /// The default, as text.
    pub default: &'static str,
    /// One line of help.
    pub help: &'static str,
}

macro_rules! options {
    ($(($key:literal, $value:literal, $default:literal, $help:literal)),* $(,)?) => {
        /// Every option of the gateway.
        pub const OPTIONS: &[OptionSpec] = &[$(OptionSpec { key: $key, value: $value, default: $default, help: $help }),*];
    };
}

options![
    ("listen", "ADDR", "127.0.0.1:8080", "where to serve HTTP/1.1 and HTTP/2 (h2c, or TLS with tls_cert)"),
    (
        "admin_listen",
        "ADDR",
        "127.0.0.1:9901",
        "where to serve /metrics, /healthz and /readyz for operators; `none` for no admin listener"
    ),
    ("tls_cert", "FILE", "none", "a PEM certificate chain: serve TLS (HTTP/2 and HTTP/1.1 by ALPN)"),
    ("tls_key", "FILE", "none", "the PEM private key of tls_cert"),
    ("workers", "N", "CPU count, at least 2", "worker threads, and component instances (one each)"),
    (
        "wasm",
        "FILE",
        "target/wasm32-unknown-unknown/release/passcode.wasm",
        "the component (built first when run through cargo)"
    ),
    ("key_dir", "DIR", "none", "a folder the host reads ring keys given as `file` from, for the component"),
    ("upstream", "URL", "a built-in page", "the protected upstream, http://host:port"),
    (
        "store",
        "URL",
        "the engine config's store",
        "a store shared by several gateways, sessions included: redis://host:port/db (rediss:// for TLS), \
         redis+sentinel://host:port,host:port/master or redis+cluster://host:port,host:port; the config's \
         other [store] options still apply (keep the password in its password_env, not in the URL)"
    ),
    ("accounts", "FILE", "anyone", "only these addresses/numbers (one per line, normalised) get codes and sessions"),
    ("outbox", "DIR", "./outbox", "the DEVELOPMENT outbox, used when the config's [delivery] names no sender"),
    ("quiet_outbox", "", "off", "write outbox files without printing them"),
    (
        "xff_trusted_hops",
        "N",
        "0",
        "proxies in front that append to X-Forwarded-For; the client is the Nth entry from the right (0: the TCP peer)"
    ),
    (
        "public_origin",
        "URL",
        "the request's Host",
        "the origin browsers use (https://login.example.com), for the cross-site check"
    ),
    ("session_seconds", "N", "28800", "how long a session lasts"),
    (
        "max_connections",
        "N",
        "4096, and below the open-file limit",
        "client connections at once; more wait in the listen backlog"
    ),
    (
        "max_connections_per_client",
        "N",
        "64",
        "connections at once from one address (IPv6: one /64); more are closed at once"
    ),
    (
        "header_read_timeout_ms",
        "N",
        "10000",
        "the whole request head must arrive within this (also the keep-alive idle time)"
    ),
    ("body_read_timeout_ms", "N", "10000", "the whole request body must arrive within this after the head"),
    ("idle_timeout_ms", "N", "60000", "an HTTP/2 connection with no request for this long is closed"),
    ("max_header_bytes", "N", "16384", "the request head (HTTP/1.1) or header list (HTTP/2), at most"),
    ("max_body_bytes", "N", "65536", "a request body, at most (the gateway reads bodies whole)"),
    ("max_concurrent_streams", "N", "64", "HTTP/2 requests at once on one connection"),
    ("upstream_timeout_ms", "N", "30000", "the upstream's answer head must arrive within this"),
    ("drain_ms", "N", "10000", "on SIGTERM, how long requests in flight may take to finish"),
    ("log_format", "text|json", "text", "log lines on standard error as text or one JSON object each"),
    ("log_level", "LEVEL", "info", "error, warn, info, debug or trace (or a tracing filter)"),
];

/// Options to apply, in order (the file's, then the flags').
pub type Options = Vec<(String, OptionValue)>;

/// A value from a flag or the file.
#[derive(Clone, Debug, PartialEq)]
pub enum OptionValue {
    /// Text (every flag value is text).
    Text(String),
    /// A whole number from the file.
    Int(i64),
    /// A switch, or a boolean from the file.
    Bool(bool),
}

impl OptionValue {
    fn text(&self, key: &str) -> Result<String, String> {
        match self {
            OptionValue::Text(t) => Ok(t.clone()),
            OptionValue::Int(n) => Ok(n.to_string()),
            OptionValue::Bool(_) => Err(format!("{key}: expected text")),
        }
    }

    fn number(&self, key: &str) -> Result<u64, String> {
        match self {
            OptionValue::Int(n) => u64::try_from(*n).map_err(|_| format!("{key}: must not be negative")),
            OptionValue::Text(t) => t.trim().parse().map_err(|_| format!("{key}: not a whole number: {t}")),
            OptionValue::Bool(_) => Err(format!("{key}: expected a number")),
        }
    }

    fn switch(&self, key: &str) -> Result<bool, String> {
        match self {
            OptionValue::Bool(b) => Ok(*b),
            OptionValue::Text(t) if t == "true" => Ok(true),
            OptionValue::Text(t) if t == "false" => Ok(false),
            _ => Err(format!("{key}: expected true or false")),
        }
    }
}

fn addr(key: &str, v: &OptionValue) -> Result<SocketAddr, String> {
    let t = v.text(key)?;
    t.parse().map_err(|_| format!("{key}: not an address (IP:port): {t}"))
}

fn millis(key: &str, v: &OptionValue) -> Result<Duration, String> {
    let n = v.number(key)?;
    if n == 0 {
        return Err(format!("{key}: must be at least 1"));
    }
    Ok(Duration::from_millis(n))
}

fn count(key: &str, v: &OptionValue) -> Result<usize, String> {
    let n = v.number(key)?;
    if n == 0 {
        return Err(format!("{key}: must be at least 1"));
    }
    usize::try_from(n).map_err(|_| format!("{key}: too large"))
}

/// Sets one option on `config`: the one place where an option takes effect.
pub fn apply(config: &mut GatewayConfig, key: &str, v: &OptionValue) -> Result<(), String> {
    let limits = &mut config.limits;
    match key {
        "listen" => config.listen = addr(key, v)?,
        "admin_listen" => {
            config.admin_listen = if v.text(key)? == "none" { None } else { Some(addr(key, v)?) };
        }
        "tls_cert" => config.tls.get_or_insert_with(TlsFiles::default).cert = PathBuf::from(v.text(key)?),
        "tls_key" => config.tls.get_or_insert_with(TlsFiles::default).key = PathBuf::from(v.text(key)?),
        "workers" => config.workers = count(key, v)?,
        "wasm" => config.wasm = PathBuf::from(v.text(key)?),
        "key_dir" => config.guest_dirs.push(PathBuf::from(v.text(key)?)),
        "upstream" => {
            let u = v.text(key)?;
            if !u.starts_with("http://") {
                return Err(format!("{key}: must be an http://host:port URL: {u}"));
            }
            config.upstream = Some(u);
        }
        "store" => config.store_url = Some(v.text(key)?),
        "accounts" => {
            let file = v.text(key)?;
            let text = std::fs::read_to_string(&file).map_err(|e| format!("{key}: cannot read {file}: {e}"))?;
            config.accounts = Some(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from)
                    .collect(),
            );
        }
        "outbox" => config.outbox = PathBuf::from(v.text(key)?),
        "quiet_outbox" => config.print_outbox = !v.switch(key)?,
        "xff_trusted_hops" => {
            config.xff_trusted_hops = usize::try_from(v.number(key)?).map_err(|_| format!("{key}: too large"))?
        }
        "public_origin" => {
            let o = v.text(key)?;
            let o = o.trim_end_matches('/');
            let host = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
            if host.is_none_or(|h| h.is_empty() || h.contains('/')) {
                return Err(format!("{key}: must be a scheme and host, like https://login.example.com: {o}"));
            }
            config.public_origin = Some(o.to_ascii_lowercase());
        }
        "session_seconds" => config.session_seconds = v.number(key)?.max(1),
        "max_connections" => limits.max_connections = count(key, v)?,
        "max_connections_per_client" => limits.max_connections_per_client = count(key, v)?,
        "header_read_timeout_ms" => limits.header_read_timeout = millis(key, v)?,
        "body_read_timeout_ms" => limits.body_read_timeout = millis(key, v)?,
        "idle_timeout_ms" => limits.idle_timeout = millis(key, v)?,
        "max_header_bytes" => limits.max_header_bytes = count(key, v)?.max(8192),
        "max_body_bytes" => limits.max_body_bytes = count(key, v)?,
        "max_concurrent_streams" => {
            limits.max_concurrent_streams = u32::try_from(count(key, v)?).map_err(|_| format!("{key}: too large"))?
        }
        "upstream_timeout_ms" => limits.upstream_timeout = millis(key, v)?,
        "drain_ms" => config.drain = millis(key, v)?,
        "log_format" => {
            config.log_format = match v.text(key)?.as_str() {
                "text" => LogFormat::Text,
                "json" => LogFormat::Json,
                other => return Err(format!("{key}: `text` or `json`, not {other}")),
            }
        }
        "log_level" => config.log_level = v.text(key)?,
        other => return Err(format!("unknown option `{other}` (see --help)")),
    }
    Ok(())
}

/// The config file split in two: the `[gateway]` options, and the engine config text (the
/// rest, for core and the component).
pub fn split_config_file(text: &str) -> Result<(Options, String), String> {
    let json = text.trim_start().starts_with('{');
    let (options, rest) = if json {
        let mut value: serde_json::Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let Some(table) = value.as_object_mut().and_then(|o| o.remove("gateway")) else {
            return Ok((Vec::new(), text.to_string()));
        };
        let rest = value.to_string();
        let serde_json::Value::Object(table) = table else { return Err("`gateway` must be an object".into()) };
        let options = table
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    serde_json::Value::String(s) => OptionValue::Text(s),
                    serde_json::Value::Bool(b) => OptionValue::Bool(b),
                    serde_json::Value::Number(n) => {
                        OptionValue::Int(n.as_i64().ok_or(format!("gateway.{k}: not a whole number"))?)
                    }
                    _ => return Err(format!("gateway.{k}: expected text, a number or a boolean")),
                };
                Ok((k, v))
            })
            .collect::<Result<Vec<_>, String>>()?;
        (options, rest)
    } else {
        let mut table: toml::Table = text.parse().map_err(|e| format!("not TOML: {e}"))?;
        let Some(gateway) = table.remove("gateway") else { return Ok((Vec::new(), text.to_string())) };
        let toml::Value::Table(gateway) = gateway else { return Err("`gateway` must be a table".into()) };
        let rest = toml::to_string(&table).map_err(|e| format!("cannot re-encode the engine config: {e}"))?;
        let options = gateway
            .into_iter()
            .map(|(k, v)| {
                let v = match v {
                    toml::Value::String(s) => OptionValue::Text(s),
                    toml::Value::Boolean(b) => OptionValue::Bool(b),
                    toml::Value::Integer(n) => OptionValue::Int(n),
                    _ => return Err(format!("gateway.{k}: expected text, a number or a boolean")),
                };
                Ok((k, v))
            })
            .collect::<Result<Vec<_>, String>>()?;
        (options, rest)
    };
    for (k, _) in &options {
        if !OPTIONS.iter().any(|o| o.key == k) {
            return Err(format!("[gateway] has an unknown option `{k}`"));
        }
    }
    Ok((options, rest))
}

/// The `--help` text's option lines, from [`OPTIONS`].
pub fn help() -> String {
    let mut out = String::new();
    for o in OPTIONS {
        let flag = format!("--{} {}", o.key.replace('_', "-"), o.value);
        out.push_str(&format!("  {flag:<36} {} (default: {})\n", o.help, o.default));
    }
    out
}

/// The command line as options: `--config FILE` first (the file, then the flags over it),
/// `--flag VALUE` and switches. Returns the options in the order to apply and the engine
/// config text, if a file was given.
pub fn parse_args(args: &[String]) -> Result<(Options, Option<String>), String> {
    let mut from_file = Vec::new();
    let mut engine = None;
    let mut flags = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a == "--trust-forwarded" {
            return Err(
                "--trust-forwarded is gone: it trusted the first X-Forwarded-For entry, which the client writes. \
                        Use --xff-trusted-hops N, the number of proxies in front of the gateway"
                    .into(),
            );
        }
        let Some(name) = a.strip_prefix("--") else { return Err(format!("unexpected argument {a} (see --help)")) };
        let key = name.replace('-', "_");
        if key == "config" {
            let file = args.get(i).ok_or("--config needs a value")?;
            i += 1;
            let text = std::fs::read_to_string(file).map_err(|e| format!("--config: cannot read {file}: {e}"))?;
            let (options, rest) = split_config_file(&text).map_err(|e| format!("--config {file}: {e}"))?;
            from_file = options;
            engine = Some(rest);
            continue;
        }
        let spec = OPTIONS.iter().find(|o| o.key == key).ok_or(format!("unknown option {a} (see --help)"))?;
        if spec.value.is_empty() {
            flags.push((key, OptionValue::Bool(true)));
        } else {
            let value = args.get(i).ok_or(format!("{a} needs a value (see --help)"))?;
            i += 1;
            flags.push((key, OptionValue::Text(value.clone())));
        }
    }
    from_file.extend(flags);
    Ok((from_file, engine))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gateway_table_is_taken_out_of_a_toml_or_json_config() {
        let (options, rest) = split_config_file(
            "[gateway]\nlisten = \"0.0.0.0:8443\"\nxff_trusted_hops = 1\n\n[messages]\napp_name = \"Acme\"\n",
        )
        .unwrap();
        assert_eq!(
            options,
            vec![
                ("listen".to_string(), OptionValue::Text("0.0.0.0:8443".into())),
                ("xff_trusted_hops".to_string(), OptionValue::Int(1))
            ]
        );
        assert!(!rest.contains("gateway") && rest.contains("app_name = \"Acme\""), "{rest}");
        passcode_core::Config::parse(&rest).expect("the engine reads the rest");

        let (options, rest) = split_config_file(r#"{"gateway": {"quiet_outbox": true}, "policy": {}}"#).unwrap();
        assert_eq!(options, vec![("quiet_outbox".to_string(), OptionValue::Bool(true))]);
        assert_eq!(rest, r#"{"policy":{}}"#);

        let untouched = "# comment kept\n[messages]\napp_name = \"Acme\"\n";
        assert_eq!(split_config_file(untouched).unwrap().1, untouched, "no [gateway]: the text is passed as it is");
        assert!(split_config_file("[gateway]\nlisten_on = \"x\"\n").unwrap_err().contains("listen_on"));
    }

    #[test]
    fn flags_override_the_file_and_switches_take_no_value() {
        let args: Vec<String> = ["--quiet-outbox", "--max-body-bytes", "100"].iter().map(|s| s.to_string()).collect();
        let (options, engine) = parse_args(&args).unwrap();
        assert_eq!(engine, None);
        assert_eq!(options[0], ("quiet_outbox".to_string(), OptionValue::Bool(true)));
        assert_eq!(options[1], ("max_body_bytes".to_string(), OptionValue::Text("100".into())));
        assert!(parse_args(&["--trust-forwarded".to_string()]).unwrap_err().contains("--xff-trusted-hops"));
        assert!(parse_args(&["--nope".to_string()]).unwrap_err().contains("--nope"));
    }

    #[test]
    fn every_option_has_an_effect_and_help() {
        let help = help();
        for o in OPTIONS {
            assert!(help.contains(&format!("--{}", o.key.replace('_', "-"))), "{}", o.key);
        }
        let mut config = GatewayConfig::development(PathBuf::from("x.wasm"));
        assert!(apply(&mut config, "max_body_bytes", &OptionValue::Text("0".into())).is_err());
        assert!(apply(&mut config, "listen", &OptionValue::Text("nowhere".into())).is_err());
        apply(&mut config, "admin_listen", &OptionValue::Text("none".into())).unwrap();
        assert_eq!(config.admin_listen, None);
        apply(&mut config, "max_body_bytes", &OptionValue::Int(100)).unwrap();
        assert_eq!(config.limits.max_body_bytes, 100);
        assert!(apply(&mut config, "upstream", &OptionValue::Text("https://x".into())).is_err());
        assert!(apply(&mut config, "public_origin", &OptionValue::Text("https://x/path".into())).is_err());
    }
}
