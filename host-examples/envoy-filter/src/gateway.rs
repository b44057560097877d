//! The gateway: its configuration, delivery, and its life (start, serve, drain, stop).
//!
//! `Gateway::start` loads the component, opens one instance per worker, opens delivery and the
//! store, binds the listeners and serves them on a tokio runtime of `workers` threads
//! (`server.rs`). Dropping the gateway, or SIGTERM for the binary, shuts it down gracefully:
//! no new connections, requests in flight finish within `drain_ms`, then delivery drains its
//! queue within `delivery.shutdown_ms`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use passcode_core::Random as _;
use passcode_delivery::{DeliveryEvent, DeliveryEventKind, DeliveryEventSink};

use crate::filter::Shared;
use crate::host::{ComponentHost, HostClock};
use crate::metrics::{MeteredDeliveryEvents, Metrics};
use crate::server::{Limits, Server};
use crate::session::{SessionKey, Sessions};

/// The engine config the gateway runs with unless given another: core's defaults, the key
/// ring from the guest's `PASSCODE_KEY_1` variable (which the gateway sets), and the app name.
pub const DEFAULT_ENGINE_CONFIG: &str = r#"# Passcode engine config (core's schema), as the gateway's component reads it.
[[keys.ring]]
id = 1
env = "PASSCODE_KEY_1"

[messages]
app_name = "Passcode demo"
"#;

/// A certificate chain and its key, PEM files: the gateway serves TLS with them.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// How log lines are written on standard error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// One line of text each.
    #[default]
    Text,
    /// One JSON object each.
    Json,
}

/// Everything the gateway is configured with (the binary fills it from `options.rs`). Its
/// `Debug` leaves the keys, the component's environment values and the store's password out.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Where to listen (default 127.0.0.1:8080; port 0 picks a free one).
    pub listen: SocketAddr,
    /// Where to serve `/metrics`, `/healthz` and `/readyz` for operators, if anywhere.
    pub admin_listen: Option<SocketAddr>,
    /// Serve TLS with these files (HTTP/2 and HTTP/1.1 by ALPN); plain HTTP otherwise.
    pub tls: Option<TlsFiles>,
    /// Worker threads, and component instances (one each).
    pub workers: usize,
    /// The component.
    pub wasm: PathBuf,
    /// The engine config (TOML or JSON in core's schema).
    pub engine_config: String,
    /// Variables the host's key reader answers the key ring's `env` entries from (the
    /// component itself sees no environment).
    pub guest_env: Vec<(String, String)>,
    /// Folders the host's key reader reads the key ring's `file` entries from (the component
    /// itself sees no filesystem).
    pub guest_dirs: Vec<PathBuf>,
    /// The DEVELOPMENT outbox folder, used when the engine config's `[delivery]` names no sender.
    pub outbox: PathBuf,
    /// Whether outbox messages are also printed.
    pub print_outbox: bool,
    /// Where delivery events go besides the metrics (default: the log, without the code, the
    /// address or the number).
    pub delivery_events: DeliveryEvents,
    /// The protected upstream (`http://host:port`), or `None` for the built-in page.
    pub upstream: Option<String>,
    /// The session cookie's signing key.
    pub session_key: [u8; 32],
    /// How long a session lasts, seconds.
    pub session_seconds: u64,
    /// The name on the pages.
    pub app_name: String,
    /// When set, only these subjects get messages and sessions (others get the same answers).
    pub accounts: Option<Vec<String>>,
    /// How many proxies in front append to `X-Forwarded-For` (as Envoy's
    /// `xff_num_trusted_hops`); 0 takes the TCP peer as the client.
    pub xff_trusted_hops: usize,
    /// The origin browsers use (`https://login.example.com`), for the cross-site check; by
    /// default the request's own `Host`.
    pub public_origin: Option<String>,
    /// Connection caps, timeouts and sizes.
    pub limits: Limits,
    /// How long requests in flight may take to finish when shutting down.
    pub drain: Duration,
    /// The log lines' format (the binary's subscriber).
    pub log_format: LogFormat,
    /// The log filter (the binary's subscriber): `info`, `debug`, ...
    pub log_level: String,
    /// The clock the component sees (tests move it).
    pub clock: HostClock,
    /// A shared store the host opens for every worker (`redis://...`), overriding the engine
    /// config's `store`; `None` keeps the config's (by default one memory map for all workers).
    pub store_url: Option<String>,
}

/// `--store URL` over the config's `[store]`: the URL names the deployment (one server,
/// Sentinel or Cluster) in place of the config's, and the table's other options (password_env,
/// pool_size, prefix, timeouts, wait_replicas) still apply, so the password can stay out of the
/// command line.
fn with_store_url(store: &mut passcode_core::config::StoreConfig, url: &str) {
    store.url = url.to_string();
    store.sentinels = None;
    store.master_name = None;
    store.cluster = None;
}

/// A store URL with its password (the user information after `:`) hidden, for anything that
/// prints the config.
pub fn redacted_store_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    // The last `@` ends the user information even when a password holds a raw `/` or `@`:
    // hiding too much beats printing a password.
    let Some((userinfo, hosts)) = rest.rsplit_once('@') else { return url.to_string() };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{hosts}"),
        None => url.to_string(),
    }
}

/// 32 random bytes from the OS.
fn random_key() -> [u8; 32] {
    let mut k = [0u8; 32];
    // The OS random source failing at startup is not recoverable.
    passcode_core::OsRandom.fill(&mut k).unwrap_or_else(|_| panic!("the OS random source failed"));
    k
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let env_names: Vec<&str> = self.guest_env.iter().map(|(name, _)| name.as_str()).collect();
        f.debug_struct("GatewayConfig")
            .field("listen", &self.listen)
            .field("admin_listen", &self.admin_listen)
            .field("tls", &self.tls)
            .field("workers", &self.workers)
            .field("wasm", &self.wasm)
            // The engine config may name a store URL with a password: only its size.
            .field("engine_config", &format_args!("<{} bytes>", self.engine_config.len()))
            .field("guest_env", &env_names)
            .field("guest_dirs", &self.guest_dirs)
            .field("outbox", &self.outbox)
            .field("print_outbox", &self.print_outbox)
            .field("upstream", &self.upstream)
            .field("session_key", &"<hidden>")
            .field("session_seconds", &self.session_seconds)
            .field("app_name", &self.app_name)
            .field("accounts", &self.accounts.as_ref().map(Vec::len))
            .field("xff_trusted_hops", &self.xff_trusted_hops)
            .field("public_origin", &self.public_origin)
            .field("limits", &self.limits)
            .field("drain", &self.drain)
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .field("store_url", &self.store_url.as_deref().map(redacted_store_url))
            .finish_non_exhaustive()
    }
}

impl GatewayConfig {
    /// Development defaults: 127.0.0.1:8080 (admin on 127.0.0.1:9901), random keys for this
    /// process (codes and sessions do not survive a restart), the outbox in `./outbox`, the
    /// built-in page. `PASSCODE_KEY_1` and `PASSCODE_SESSION_KEY` (64 hex digits) in the
    /// environment replace the random keys.
    pub fn development(wasm: PathBuf) -> Self {
        let engine_key = std::env::var("PASSCODE_KEY_1").unwrap_or_else(|_| hex(&random_key()));
        let session_key =
            std::env::var("PASSCODE_SESSION_KEY").ok().and_then(|h| parse_hex32(&h)).unwrap_or_else(random_key);
        GatewayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            admin_listen: Some(SocketAddr::from(([127, 0, 0, 1], 9901))),
            tls: None,
            workers: std::thread::available_parallelism().map_or(2, |n| n.get()).max(2),
            wasm,
            engine_config: DEFAULT_ENGINE_CONFIG.to_string(),
            guest_env: vec![("PASSCODE_KEY_1".into(), engine_key)],
            guest_dirs: Vec::new(),
            outbox: PathBuf::from("outbox"),
            print_outbox: true,
            delivery_events: DeliveryEvents::default(),
            upstream: None,
            session_key,
            session_seconds: 8 * 3600,
            app_name: "Passcode demo".into(),
            accounts: None,
            xff_trusted_hops: 0,
            public_origin: None,
            limits: Limits::default(),
            drain: Duration::from_secs(10),
            log_format: LogFormat::Text,
            log_level: "info".into(),
            clock: HostClock::system(),
            store_url: None,
        }
    }
}

/// The sink of delivery events.
#[derive(Clone)]
pub struct DeliveryEvents(pub Arc<dyn DeliveryEventSink>);

impl Default for DeliveryEvents {
    fn default() -> Self {
        DeliveryEvents(Arc::new(LogDeliveryEvents))
    }
}

impl std::fmt::Debug for DeliveryEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DeliveryEvents")
    }
}

/// Logs each delivery event but `queued` (target `passcode::delivery`): which message, its
/// subject's pseudonym, the sender, the provider's id or error code. Never the code, the
/// address or the number (events do not hold them).
#[derive(Clone, Copy, Debug, Default)]
pub struct LogDeliveryEvents;

impl DeliveryEventSink for LogDeliveryEvents {
    fn emit(&self, e: &DeliveryEvent) {
        if e.kind == DeliveryEventKind::Queued {
            return;
        }
        let kind = e.kind.name();
        let fields = (e.sender, (e.attempt > 0).then_some(e.attempt), e.provider_id.as_deref(), e.reason);
        let (sender, attempt, provider_id, reason) = fields;
        let (status, provider_code, retry_in_ms) = (e.status, e.provider_code.as_deref(), e.retry_in_ms);
        macro_rules! event {
            ($level:ident) => {
                tracing::$level!(
                    target: "passcode::delivery",
                    message_id = %e.message_id,
                    channel = e.channel.name(),
                    purpose = e.purpose.name(),
                    subject = %e.subject,
                    sender,
                    attempt,
                    provider_id,
                    reason,
                    status,
                    provider_code,
                    retry_in_ms,
                    "delivery {kind}"
                )
            };
        }
        match e.kind {
            DeliveryEventKind::Failed => event!(warn),
            _ => event!(info),
        }
    }
}

/// 64 hex digits as 32 bytes.
pub fn parse_hex32(h: &str) -> Option<[u8; 32]> {
    let h = h.trim();
    if h.len() != 64 || !h.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// Delivery as the engine config's `[delivery]` says, or, when it names no sender, the
/// DEVELOPMENT outbox (refused by a production config). Returns the outbox folder if used.
fn open_delivery(
    engine_config: &passcode_core::Config,
    config: &GatewayConfig,
    metrics: &Arc<Metrics>,
) -> Result<(passcode_delivery::Delivery, Option<PathBuf>), String> {
    let mut c = engine_config.clone();
    let outbox = if c.delivery.has_senders() {
        c.delivery.outbox.as_ref().map(|o| PathBuf::from(&o.dir))
    } else if c.delivery.production {
        return Err("the config is for production ([delivery] production = true) but names no sender: \
                    add [delivery.email], [delivery.sms] or [delivery.webhook]"
            .into());
    } else {
        c.delivery.outbox = Some(passcode_core::delivery_config::OutboxConfig {
            dir: config.outbox.display().to_string(),
            print: config.print_outbox,
        });
        Some(config.outbox.clone())
    };
    let events = MeteredDeliveryEvents { metrics: metrics.clone(), next: config.delivery_events.0.clone() };
    let delivery = passcode_delivery::Delivery::builder(&c)
        .events(Arc::new(events))
        .build()
        .map_err(|e| format!("delivery: {e}"))?;
    Ok((delivery, outbox))
}

/// A running gateway. Dropping it shuts it down gracefully (see [`Gateway::shutdown`]).
pub struct Gateway {
    server: Option<Server>,
    clock: HostClock,
    outbox: Option<PathBuf>,
    shared: Arc<Shared>,
    delivery_bound: Duration,
}

impl Gateway {
    /// Loads the component, opens one engine per worker and starts serving.
    pub fn start(config: GatewayConfig) -> Result<Gateway, String> {
        let mut builder = ComponentHost::builder(&config.wasm).clock(config.clock.clone());
        // The guest cannot open sockets: a shared store named by the config or by --store is
        // opened here, on the host, and handed to every instance through the store import.
        let mut engine_config =
            passcode_core::Config::parse(&config.engine_config).map_err(|e| format!("the engine config: {e}"))?;
        if let Some(url) = &config.store_url {
            with_store_url(&mut engine_config.store, url);
        }
        let remote_store = passcode_redis::store_for(&engine_config).map_err(|e| format!("the store: {e}"))?;
        let blocking_store = remote_store.is_some();
        if let Some(store) = remote_store {
            builder = builder.store(store);
        }
        for (k, v) in &config.guest_env {
            builder = builder.env(k, v);
        }
        for d in &config.guest_dirs {
            builder = builder.read_only_dir(d);
        }
        let host = Arc::new(builder.build().map_err(|e| format!("{e:#}"))?);
        let metrics = Arc::new(Metrics::new());
        let (delivery, outbox) = open_delivery(&engine_config, &config, &metrics)?;
        let delivery_bound = Duration::from_millis(engine_config.delivery.shutdown_ms);
        let shared = Arc::new(Shared {
            app_name: config.app_name.clone(),
            delivery,
            sessions: Sessions::new(SessionKey::new(config.session_key), host.shared_store().clone()),
            session_seconds: config.session_seconds,
            accounts: config.accounts.clone(),
            xff_trusted_hops: config.xff_trusted_hops,
            public_origin: config.public_origin.clone(),
            metrics,
        });
        let server = Server::start(&config, host, shared.clone(), blocking_store)?;
        Ok(Gateway { server: Some(server), clock: config.clock, outbox, shared, delivery_bound })
    }

    fn server(&self) -> &Server {
        // Only `shutdown` takes the server, and it consumes the gateway's use.
        self.server.as_ref().unwrap_or_else(|| unreachable!("the gateway is running until dropped"))
    }

    /// The address it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.server().addr()
    }

    /// The admin listener's address (`/metrics`, `/healthz`, `/readyz`), if any.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.server().admin_addr()
    }

    /// The sign-in page's URL.
    pub fn url(&self) -> String {
        let scheme = if self.server().is_tls() { "https" } else { "http" };
        format!("{scheme}://{}/signin", self.addr())
    }

    /// The clock the component sees.
    pub fn clock(&self) -> &HostClock {
        &self.clock
    }

    /// The DEVELOPMENT outbox folder, if messages go there.
    pub fn outbox(&self) -> Option<&PathBuf> {
        self.outbox.as_ref()
    }

    /// Delivery's counts so far.
    pub fn delivery_stats(&self) -> passcode_delivery::DeliveryStats {
        self.shared.delivery.stats()
    }

    /// The metrics, as `/metrics` serves them.
    pub fn metrics_text(&self) -> String {
        self.shared.metrics.render(&self.shared.delivery)
    }

    /// Serves until SIGTERM or SIGINT, then shuts down gracefully (for the binary).
    pub fn serve_until_signal(mut self) {
        self.server().wait_for_signal();
        tracing::info!("shutting down: no new connections; draining requests in flight and the delivery queue");
        self.shutdown();
    }

    /// Stops accepting connections, lets requests in flight finish within the drain bound
    /// (HTTP/1.1 connections close after their answer, HTTP/2 ones get a GOAWAY), then drains
    /// the delivery queue within `delivery.shutdown_ms`. Called by `Drop`.
    pub fn shutdown(&mut self) {
        if let Some(server) = self.server.take() {
            server.shutdown();
            let report = self.shared.delivery.shutdown(self.delivery_bound);
            tracing::info!(report = ?report, "stopped");
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_url_is_printed_without_its_password() {
        assert_eq!(redacted_store_url("redis://:hunter2@10.0.0.9:6379/0"), "redis://:***@10.0.0.9:6379/0");
        assert_eq!(
            redacted_store_url("redis+sentinel://app:hunter2@10.0.0.1:26379,10.0.0.2:26379/passcode"),
            "redis+sentinel://app:***@10.0.0.1:26379,10.0.0.2:26379/passcode"
        );
        assert_eq!(redacted_store_url("rediss://app:a/b@c@10.0.1.1:6379"), "rediss://app:***@10.0.1.1:6379");
        assert_eq!(
            redacted_store_url("redis+cluster://10.0.1.1:6379,10.0.1.2:6379"),
            "redis+cluster://10.0.1.1:6379,10.0.1.2:6379"
        );
        assert_eq!(redacted_store_url("redis://app@10.0.0.9"), "redis://app@10.0.0.9", "a user alone is no secret");

        let mut config = GatewayConfig::development(PathBuf::from("x.wasm"));
        config.store_url = Some("redis://:hunter2@10.0.0.9:6379/0".into());
        config.engine_config = "[store]\nurl = \"redis://:hunter3@10.0.0.9\"\n".into();
        config.guest_env = vec![("PASSCODE_KEY_1".into(), "ab".repeat(32))];
        config.session_key = [0xcd; 32];
        let printed = format!("{config:?}");
        for secret in ["hunter2", "hunter3", "abab", "205, 205"] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("PASSCODE_KEY_1") && printed.contains("10.0.0.9:6379"), "{printed}");
    }

    #[test]
    fn a_store_url_replaces_the_deployment_and_keeps_the_other_store_options() {
        let mut store = passcode_core::config::StoreConfig {
            url: String::new(),
            sentinels: Some(vec!["10.0.0.1:26379".into()]),
            master_name: Some("old".into()),
            password_env: Some("REDIS_PASSWORD".into()),
            pool_size: Some(4),
            prefix: Some("acme:".into()),
            ..Default::default()
        };
        with_store_url(&mut store, "redis+cluster://10.0.1.1:6379,10.0.1.2:6379");
        assert_eq!(store.url, "redis+cluster://10.0.1.1:6379,10.0.1.2:6379");
        assert_eq!((store.sentinels, store.master_name, store.cluster), (None, None, None));
        assert_eq!(store.password_env.as_deref(), Some("REDIS_PASSWORD"));
        assert_eq!((store.pool_size, store.prefix.as_deref()), (Some(4), Some("acme:")));
    }
}
