//! The Redis store's options, read from the core config's `store` field.
//!
//! Core keeps `[store]` as plain data; this module checks the Redis-specific parts (which
//! deployment: one server, Sentinel or Cluster; the URL's scheme; the bounds of each number)
//! and reads the passwords from where the config says they are. Errors name the field, never
//! the URL or a password, since a URL may carry one.

use std::time::Duration;

use passcode_core::config::StoreConfig;
use passcode_core::Error;
use zeroize::Zeroizing;

/// The key prefix when the config names none.
pub const DEFAULT_PREFIX: &str = "passcode:";
/// Connections kept at most (per node, on Redis Cluster) when the config names no `pool_size`.
pub const DEFAULT_POOL_SIZE: u32 = 16;
/// How long to wait for a connection by default, in milliseconds.
pub const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 1000;
/// How long to wait for one answer by default, in milliseconds.
pub const DEFAULT_COMMAND_TIMEOUT_MS: u64 = 500;
/// How long a write waits for its replicas by default, when `wait_replicas` is set.
pub const DEFAULT_WAIT_TIMEOUT_MS: u64 = 100;
/// The port of a sentinel named without one.
pub const DEFAULT_SENTINEL_PORT: u16 = 26379;
/// The port of a Redis node named without one.
pub const DEFAULT_REDIS_PORT: u16 = 6379;

/// The most sentinels or cluster seed nodes a config may list.
const MAX_NODES: usize = 64;

/// A server's host (a name or an IP address, without brackets) and port.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeAddress {
    /// A host name, an IPv4 address, or an IPv6 address without brackets.
    pub host: String,
    /// The TCP port.
    pub port: u16,
}

impl NodeAddress {
    /// `host:port`, with brackets around an IPv6 address.
    pub fn authority(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Parses `host`, `host:port`, `[v6]` or `[v6]:port`.
    fn parse(text: &str, default_port: u16) -> Option<NodeAddress> {
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, after) = rest.split_once(']')?;
            match after {
                "" => (host, None),
                _ => (host, Some(after.strip_prefix(':')?)),
            }
        } else {
            match text.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (text, None),
            }
        };
        let port = match port {
            Some(p) => p.parse::<u16>().ok().filter(|p| *p != 0)?,
            None => default_port,
        };
        let valid = !host.is_empty()
            && host.len() <= 253
            && host.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'%'));
        valid.then(|| NodeAddress { host: host.to_string(), port })
    }
}

/// Which Redis deployment the store talks to.
#[derive(Clone)]
pub enum Deployment {
    /// One server, or an address that always leads to the current primary: a `redis://`,
    /// `rediss://` or `redis+unix://` URL.
    Server {
        /// The URL (it may carry a password: it is never printed).
        url: String,
    },
    /// A primary found through Redis Sentinel, followed across failovers.
    Sentinel {
        /// The sentinels, asked in turn (the one that answered last first).
        sentinels: Vec<NodeAddress>,
        /// The name the sentinels monitor the primary under.
        master_name: String,
        /// The ACL user for the sentinels, if they have their own.
        sentinel_username: Option<String>,
        /// The sentinels' password, if they require one.
        sentinel_password: Option<Zeroizing<String>>,
        /// TLS to the sentinels and to the primary.
        tls: bool,
    },
    /// Redis Cluster, discovered from some of its nodes.
    Cluster {
        /// Nodes to ask for the slot map when no known node answers.
        seeds: Vec<NodeAddress>,
        /// TLS to every node.
        tls: bool,
    },
}

/// Everything needed to open a [`crate::RedisStore`].
#[derive(Clone)]
pub struct RedisOptions {
    /// One server, Sentinel or Cluster.
    pub deployment: Deployment,
    /// Prepended to every key written.
    pub prefix: String,
    /// The most connections kept open (to each node, on Redis Cluster).
    pub pool_size: u32,
    /// The longest wait for a connection (TCP, TLS and AUTH included).
    pub connect_timeout: Duration,
    /// The longest wait for one answer.
    pub command_timeout: Duration,
    /// The ACL user for the data nodes, if any.
    pub username: Option<String>,
    /// The data nodes' password, read from a variable or a file.
    pub password: Option<Zeroizing<String>>,
    /// Replicas that must acknowledge each write (`WAIT`); 0 for none.
    pub wait_replicas: u32,
    /// The longest a write waits for them.
    pub wait_timeout: Duration,
}

impl std::fmt::Debug for RedisOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a password: it is left out, like the passwords themselves. Host
        // names stay out too: they are the operator's, not the engine's, to print.
        let mode = match &self.deployment {
            Deployment::Server { .. } => "server",
            Deployment::Sentinel { .. } => "sentinel",
            Deployment::Cluster { .. } => "cluster",
        };
        f.debug_struct("RedisOptions")
            .field("deployment", &mode)
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

/// The URL schemes of one server.
const SERVER_SCHEMES: [&str; 4] = ["redis://", "rediss://", "redis+unix://", "unix://"];
/// The URL schemes of a Sentinel deployment, plain and TLS.
const SENTINEL_SCHEMES: [&str; 2] = ["redis+sentinel://", "rediss+sentinel://"];
/// The URL schemes of a Cluster, plain and TLS.
const CLUSTER_SCHEMES: [&str; 2] = ["redis+cluster://", "rediss+cluster://"];

/// Whether a store URL is one this crate opens.
pub fn is_redis_url(url: &str) -> bool {
    SERVER_SCHEMES.iter().chain(&SENTINEL_SCHEMES).chain(&CLUSTER_SCHEMES).any(|s| url.starts_with(s))
}

/// A user name as AUTH takes it: printable, no spaces.
fn check_username(field: &'static str, user: &str) -> Result<(), Error> {
    if user.is_empty() || user.len() > 256 || user.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(out(field, "must be 1 to 256 printable bytes without spaces"));
    }
    Ok(())
}

/// A password from an environment variable or a file (at most one of them).
fn read_password(
    (env_field, env): (&'static str, &Option<String>),
    (file_field, file): (&'static str, &Option<String>),
) -> Result<Option<Zeroizing<String>>, Error> {
    match (env, file) {
        (Some(_), Some(_)) => Err(out(env_field, "set at most one of the variable and the file")),
        (Some(name), None) => match std::env::var(name) {
            Ok(p) if !p.is_empty() => Ok(Some(Zeroizing::new(p))),
            _ => Err(out(env_field, format!("the environment variable {name} is unset or empty"))),
        },
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path)
                .map(Zeroizing::new)
                .map_err(|e| out(file_field, format!("the file cannot be read ({:?})", e.kind())))?;
            // A file written by `echo` ends with a newline that is not part of the password.
            let p = text.trim_end_matches(['\r', '\n']);
            if p.is_empty() {
                return Err(out(file_field, "the file is empty"));
            }
            Ok(Some(Zeroizing::new(p.to_string())))
        }
        (None, None) => Ok(None),
    }
}

/// Decodes `%XX` escapes, as in a URL's user information.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            decoded.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// A list of nodes: `host:port`, `redis://host:port` or `rediss://host:port` each, all with
/// the same scheme. Returns the addresses and whether they use TLS.
fn parse_node_list(
    field: &'static str,
    entries: &[String],
    default_port: u16,
) -> Result<(Vec<NodeAddress>, bool), Error> {
    if entries.is_empty() || entries.len() > MAX_NODES {
        return Err(out(field, format!("list 1 to {MAX_NODES} addresses")));
    }
    let mut tls = None;
    let mut nodes = Vec::with_capacity(entries.len());
    for entry in entries {
        let (entry_tls, rest) = if let Some(rest) = entry.strip_prefix("rediss://") {
            (true, rest)
        } else {
            (false, entry.strip_prefix("redis://").unwrap_or(entry))
        };
        if *tls.get_or_insert(entry_tls) != entry_tls {
            return Err(out(field, "use one scheme for every address (redis:// or rediss://)"));
        }
        if rest.contains('@') {
            return Err(out(field, "no credentials in an address; use the password_env or password_file fields"));
        }
        let node = NodeAddress::parse(rest.trim_end_matches('/'), default_port)
            .ok_or_else(|| out(field, "each address is host:port, redis://host:port or rediss://host:port"))?;
        nodes.push(node);
    }
    Ok((nodes, tls.unwrap_or(false)))
}

/// What a `redis+sentinel://` or `redis+cluster://` URL holds: user information (for the
/// data nodes), the comma-separated nodes, and the path.
struct MultiNodeUrl {
    username: Option<String>,
    password: Option<Zeroizing<String>>,
    nodes: Vec<NodeAddress>,
    path: String,
}

fn parse_multi_node_url(rest: &str, default_port: u16) -> Result<MultiNodeUrl, Error> {
    let bad =
        || out("store.url", "expected redis+sentinel://HOST:PORT,HOST:PORT/MASTER or redis+cluster://HOST:PORT,...");
    let (authority, path) = match rest.split_once('/') {
        Some((a, p)) => (a, p.trim_end_matches('/').to_string()),
        None => (rest, String::new()),
    };
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((u, h)) => (Some(u), h),
        None => (None, authority),
    };
    let (username, password) = match userinfo {
        None => (None, None),
        Some(u) => {
            let (user, pass) = match u.split_once(':') {
                Some((user, pass)) => (user, Some(pass)),
                None => (u, None),
            };
            let user = percent_decode(user).ok_or_else(bad)?;
            let pass = match pass {
                Some(p) => Some(percent_decode(p).map(Zeroizing::new).ok_or_else(bad)?),
                None => None,
            };
            ((!user.is_empty()).then_some(user), pass.filter(|p| !p.is_empty()))
        }
    };
    let nodes =
        hosts.split(',').map(|h| NodeAddress::parse(h, default_port).ok_or_else(bad)).collect::<Result<Vec<_>, _>>()?;
    if nodes.is_empty() || nodes.len() > MAX_NODES {
        return Err(bad());
    }
    Ok(MultiNodeUrl { username, password, nodes, path })
}

impl RedisOptions {
    /// Options for one server's URL with every default, as tests and simple hosts need.
    pub fn new(url: impl Into<String>) -> Self {
        RedisOptions {
            deployment: Deployment::Server { url: url.into() },
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

    /// Reads the options from the config's `store` field, with the passwords from their
    /// variables or files.
    pub fn from_config(store: &StoreConfig) -> Result<Self, Error> {
        let sentinel_fields = store.master_name.is_some()
            || store.sentinel_username.is_some()
            || store.sentinel_password_env.is_some()
            || store.sentinel_password_file.is_some();
        let mut url_credentials = (None, None);
        let deployment = if let Some(entries) = &store.sentinels {
            let (sentinels, tls) = parse_node_list("store.sentinels", entries, DEFAULT_SENTINEL_PORT)?;
            let master_name =
                store.master_name.clone().ok_or_else(|| out("store.master_name", "required with sentinels"))?;
            Self::sentinel_deployment(store, sentinels, master_name, tls)?
        } else if let Some(entries) = &store.cluster {
            let (seeds, tls) = parse_node_list("store.cluster", entries, DEFAULT_REDIS_PORT)?;
            Deployment::Cluster { seeds, tls }
        } else if let Some((scheme, rest)) = split_scheme(&store.url, &SENTINEL_SCHEMES) {
            let parsed = parse_multi_node_url(rest, DEFAULT_SENTINEL_PORT)?;
            if store.master_name.is_some() {
                return Err(out("store.master_name", "the sentinel URL names the master already"));
            }
            url_credentials = (parsed.username, parsed.password);
            Self::sentinel_deployment(store, parsed.nodes, parsed.path, scheme.starts_with("rediss"))?
        } else if let Some((scheme, rest)) = split_scheme(&store.url, &CLUSTER_SCHEMES) {
            let parsed = parse_multi_node_url(rest, DEFAULT_REDIS_PORT)?;
            if !parsed.path.is_empty() && parsed.path != "0" {
                return Err(out("store.url", "Redis Cluster has only database 0"));
            }
            url_credentials = (parsed.username, parsed.password);
            Deployment::Cluster { seeds: parsed.nodes, tls: scheme.starts_with("rediss") }
        } else if SERVER_SCHEMES.iter().any(|s| store.url.starts_with(s)) {
            Deployment::Server { url: store.url.clone() }
        } else {
            return Err(out(
                "store.url",
                "expected `memory`, redis://, rediss://, redis+unix://, redis+sentinel:// or redis+cluster://",
            ));
        };
        if sentinel_fields && !matches!(deployment, Deployment::Sentinel { .. }) {
            return Err(out("store.master_name", "master_name and the sentinel_* fields go with sentinels"));
        }

        let prefix = store.prefix.clone().unwrap_or_else(|| DEFAULT_PREFIX.into());
        if prefix.len() > 128 {
            return Err(out("store.prefix", "at most 128 bytes"));
        }
        if matches!(deployment, Deployment::Cluster { .. }) && prefix.contains(['{', '}']) {
            // A hash tag in the prefix would send every key to one slot, so one node.
            return Err(out(
                "store.prefix",
                "no `{` or `}` on Redis Cluster: a hash tag would put every key in one slot",
            ));
        }
        let pool_size = store.pool_size.unwrap_or(DEFAULT_POOL_SIZE);
        if !(1..=1024).contains(&pool_size) {
            return Err(out("store.pool_size", "must be 1..=1024"));
        }
        let wait_replicas = store.wait_replicas.unwrap_or(0);
        if wait_replicas > 64 {
            return Err(out("store.wait_replicas", "must be 0..=64"));
        }
        let password =
            read_password(("store.password_env", &store.password_env), ("store.password_file", &store.password_file))?;
        let (url_username, url_password) = url_credentials;
        if url_password.is_some() && password.is_some() {
            return Err(out("store.url", "a password is set both in the URL and by password_env/password_file"));
        }
        if url_username.is_some() && store.username.is_some() {
            return Err(out("store.url", "a user is set both in the URL and by username"));
        }
        let username = store.username.clone().or(url_username);
        if let Some(u) = &username {
            check_username("store.username", u)?;
        }
        Ok(RedisOptions {
            deployment,
            prefix,
            pool_size,
            connect_timeout: millis("store.connect_timeout_ms", store.connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS)?,
            command_timeout: millis("store.command_timeout_ms", store.command_timeout_ms, DEFAULT_COMMAND_TIMEOUT_MS)?,
            username,
            password: password.or(url_password),
            wait_replicas,
            wait_timeout: millis("store.wait_timeout_ms", store.wait_timeout_ms, DEFAULT_WAIT_TIMEOUT_MS)?,
        })
    }

    fn sentinel_deployment(
        store: &StoreConfig,
        sentinels: Vec<NodeAddress>,
        master_name: String,
        tls: bool,
    ) -> Result<Deployment, Error> {
        if master_name.is_empty() || master_name.len() > 256 || master_name.chars().any(|c| c.is_control() || c == ' ')
        {
            return Err(out("store.master_name", "must be 1 to 256 printable bytes without spaces"));
        }
        if let Some(u) = &store.sentinel_username {
            check_username("store.sentinel_username", u)?;
        }
        let sentinel_password = read_password(
            ("store.sentinel_password_env", &store.sentinel_password_env),
            ("store.sentinel_password_file", &store.sentinel_password_file),
        )?;
        Ok(Deployment::Sentinel {
            sentinels,
            master_name,
            sentinel_username: store.sentinel_username.clone(),
            sentinel_password,
            tls,
        })
    }
}

/// The scheme among `schemes` that `url` starts with, and the rest of it.
fn split_scheme<'a>(url: &'a str, schemes: &[&'static str]) -> Option<(&'static str, &'a str)> {
    schemes.iter().find_map(|s| url.strip_prefix(s).map(|rest| (*s, rest)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(extra: &str) -> StoreConfig {
        table_with("url = \"redis://127.0.0.1:1\"", extra)
    }

    fn table_with(name: &str, extra: &str) -> StoreConfig {
        let text = format!("[store]\n{name}\n{extra}\n[[keys.ring]]\nid = 1\nfile = \"k\"");
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

    fn node(host: &str, port: u16) -> NodeAddress {
        NodeAddress { host: host.into(), port }
    }

    #[test]
    fn sentinels_as_a_table_or_a_url() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("spw");
        std::fs::write(&f, "sentinel-secret\n").unwrap();
        let o = RedisOptions::from_config(&table_with(
            "sentinels = [\"10.0.0.1\", \"redis://sentinel-2.internal:26380\", \"[fd00::3]:26381\"]",
            &format!("master_name = \"passcode\"\nsentinel_password_file = {:?}", f.to_str().unwrap()),
        ))
        .unwrap();
        let Deployment::Sentinel { sentinels, master_name, sentinel_password, tls, .. } = &o.deployment else {
            panic!("{o:?}")
        };
        assert_eq!(sentinels, &[node("10.0.0.1", 26379), node("sentinel-2.internal", 26380), node("fd00::3", 26381)]);
        assert_eq!((master_name.as_str(), *tls), ("passcode", false));
        assert_eq!(sentinel_password.as_deref().map(String::as_str), Some("sentinel-secret"));
        assert!(!format!("{o:?}").contains("secret") && !format!("{o:?}").contains("10.0.0.1"));

        let mut url = table("");
        url.url = "rediss+sentinel://otp:p%40ss@10.0.0.1:26379,10.0.0.2/passcode".into();
        let o = RedisOptions::from_config(&url).unwrap();
        let Deployment::Sentinel { sentinels, master_name, tls, .. } = &o.deployment else { panic!("{o:?}") };
        assert_eq!(sentinels, &[node("10.0.0.1", 26379), node("10.0.0.2", 26379)]);
        assert_eq!((master_name.as_str(), *tls), ("passcode", true));
        assert_eq!(o.username.as_deref(), Some("otp"));
        assert_eq!(
            o.password.as_deref().map(String::as_str),
            Some("p@ss"),
            "the user information is for the data nodes"
        );

        let e = |name: &str, extra: &str| RedisOptions::from_config(&table_with(name, extra)).unwrap_err();
        let field = |e: Error| match e {
            Error::PolicyOutOfBounds { field, .. } => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(e("sentinels = [\"h:1\"]", "")), "store.master_name");
        assert_eq!(field(e("sentinels = []", "master_name = \"m\"")), "store.sentinels");
        assert_eq!(field(e("sentinels = [\"h:1\", \"rediss://h:2\"]", "master_name = \"m\"")), "store.sentinels");
        assert_eq!(field(e("sentinels = [\"redis://u:pw@h:1\"]", "master_name = \"m\"")), "store.sentinels");
        assert_eq!(field(e("sentinels = [\"h:0\"]", "master_name = \"m\"")), "store.sentinels");
        assert_eq!(field(e("url = \"redis://h\"", "master_name = \"m\"")), "store.master_name");
        assert_eq!(field(e("url = \"redis+sentinel://h1,h2\"", "")), "store.master_name", "no master in the URL");
        let leaky = e("url = \"redis+sentinel://u:hunter2@h1,,h2/m\"", "");
        assert!(!leaky.to_string().contains("hunter2"), "{leaky}");
    }

    #[test]
    fn cluster_as_a_table_or_a_url() {
        let o =
            RedisOptions::from_config(&table_with("cluster = [\"10.0.0.1:7000\", \"redis://10.0.0.2\"]", "")).unwrap();
        let Deployment::Cluster { seeds, tls } = &o.deployment else { panic!("{o:?}") };
        assert_eq!(seeds, &[node("10.0.0.1", 7000), node("10.0.0.2", 6379)]);
        assert!(!tls);
        let mut url = table("");
        url.url = "rediss+cluster://10.0.0.1:7000,10.0.0.2:7001".into();
        let o = RedisOptions::from_config(&url).unwrap();
        assert!(matches!(&o.deployment, Deployment::Cluster { tls: true, seeds } if seeds.len() == 2));
        let e = |name: &str, extra: &str| RedisOptions::from_config(&table_with(name, extra)).unwrap_err();
        assert!(matches!(
            e("cluster = [\"h:1\"]", "prefix = \"{passcode}:\""),
            Error::PolicyOutOfBounds { field: "store.prefix", .. }
        ));
        assert!(matches!(
            e("url = \"redis+cluster://h:1/3\"", ""),
            Error::PolicyOutOfBounds { field: "store.url", .. }
        ));
        assert!(matches!(
            e("cluster = [\"h:1\"]", "master_name = \"m\""),
            Error::PolicyOutOfBounds { field: "store.master_name", .. }
        ));
    }
}
