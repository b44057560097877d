//! The gateway: a listener on loopback, connection threads that read HTTP/1.1, and worker
//! threads that each own one component instance and run the filter chain (as Envoy's
//! workers each run their own wasm VM). What continues past the chain goes to the
//! configured upstream, or to the built-in page that greets the signed-in subject.

use std::io::{BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use passcode_core::Random as _;
use passcode_delivery::{DeliveryEvent, DeliveryEventKind, DeliveryEventSink};

use crate::filter::{default_chain, FilterContext, FilterStatus, HttpFilter, Shared, WorkerSlot};
use crate::host::{ComponentHost, HostClock};
use crate::http::{read_request, write_response, ReadError, Request, Response};
use crate::page;
use crate::session::{Session, SessionKey};

/// The engine config the gateway runs with unless given another: core's defaults, the key
/// ring from the guest's `PASSCODE_KEY_1` variable (which the gateway sets), and the app name.
pub const DEFAULT_ENGINE_CONFIG: &str = r#"# Passcode engine config (core's schema), as the gateway's component reads it.
[[keys.ring]]
id = 1
env = "PASSCODE_KEY_1"

[messages]
app_name = "Passcode demo"
"#;

/// Everything the gateway is configured with.
#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Where to listen (default 127.0.0.1:8080; port 0 picks a free one).
    pub listen: SocketAddr,
    /// Worker threads, each with its own component instance.
    pub workers: usize,
    /// The component.
    pub wasm: PathBuf,
    /// The engine config (TOML or JSON in core's schema).
    pub engine_config: String,
    /// Environment variables the component sees (the key ring's `env` sources).
    pub guest_env: Vec<(String, String)>,
    /// Directories the component may read (the key ring's `file` sources).
    pub guest_dirs: Vec<PathBuf>,
    /// The DEVELOPMENT outbox folder, used when the engine config's `[delivery]` names no sender.
    pub outbox: PathBuf,
    /// Whether outbox messages are also printed.
    pub print_outbox: bool,
    /// Where delivery events go (default: a line each on standard error, without the code,
    /// the address or the number).
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
    /// Whether `X-Forwarded-For` names the client (only behind a trusted proxy).
    pub trust_forwarded: bool,
    /// The clock the component sees (tests move it).
    pub clock: HostClock,
    /// A shared store the host opens for every worker (`redis://...`), overriding the engine
    /// config's `store`; `None` keeps the config's (by default one memory map for all workers).
    pub store_url: Option<String>,
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

impl GatewayConfig {
    /// Development defaults: 127.0.0.1:8080, random keys for this process (codes and
    /// sessions do not survive a restart), the outbox in `./outbox`, the built-in page.
    /// `PASSCODE_KEY_1` and `PASSCODE_SESSION_KEY` (64 hex digits) in the environment
    /// replace the random keys.
    pub fn development(wasm: PathBuf) -> Self {
        let engine_key = std::env::var("PASSCODE_KEY_1").unwrap_or_else(|_| hex(&random_key()));
        let session_key =
            std::env::var("PASSCODE_SESSION_KEY").ok().and_then(|h| parse_hex32(&h)).unwrap_or_else(random_key);
        GatewayConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
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
            trust_forwarded: false,
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

/// Prints each delivery event but `queued` as one line on standard error: which message, its
/// subject's pseudonym, the sender, the provider's id or error code. Never the code, the
/// address or the number (events do not hold them).
#[derive(Clone, Copy, Debug, Default)]
pub struct LogDeliveryEvents;

impl DeliveryEventSink for LogDeliveryEvents {
    fn emit(&self, e: &DeliveryEvent) {
        if e.kind == DeliveryEventKind::Queued {
            return;
        }
        let mut line = format!(
            "passcode-envoy-filter: delivery {} message={} channel={} purpose={} subject={}",
            e.kind.name(),
            e.message_id,
            e.channel.name(),
            e.purpose.name(),
            e.subject
        );
        let mut field = |name: &str, value: Option<String>| {
            if let Some(v) = value {
                line.push_str(&format!(" {name}={v}"));
            }
        };
        field("sender", e.sender.map(String::from));
        field("attempt", (e.attempt > 0).then(|| e.attempt.to_string()));
        field("provider_id", e.provider_id.clone());
        field("reason", e.reason.map(String::from));
        field("status", e.status.map(|s| s.to_string()));
        field("provider_code", e.provider_code.clone());
        field("retry_in_ms", e.retry_in_ms.map(|m| m.to_string()));
        eprintln!("{line}");
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

/// What a worker decided for a request.
enum Decision {
    Reply(Response),
    Continue(Box<Request>, Option<Session>),
}

struct Job {
    request: Request,
    peer: IpAddr,
    reply: Sender<Decision>,
}

/// A running gateway. Dropping it stops accepting connections and drains the delivery queue
/// within the config's `delivery.shutdown_ms`.
pub struct Gateway {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
    clock: HostClock,
    outbox: Option<PathBuf>,
    shared: Arc<Shared>,
    shutdown_bound: Duration,
}

/// Delivery as the engine config's `[delivery]` says, or, when it names no sender, the
/// DEVELOPMENT outbox (refused by a production config). Returns the outbox folder if used.
fn open_delivery(
    engine_config: &passcode_core::Config,
    config: &GatewayConfig,
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
    let delivery = passcode_delivery::Delivery::builder(&c)
        .events(config.delivery_events.0.clone())
        .build()
        .map_err(|e| format!("delivery: {e}"))?;
    Ok((delivery, outbox))
}

impl Gateway {
    /// Loads the component, opens one engine per worker and starts listening.
    pub fn start(config: GatewayConfig) -> Result<Gateway, String> {
        let mut builder = ComponentHost::builder(&config.wasm).clock(config.clock.clone());
        // The guest cannot open sockets: a shared store named by the config or by --store is
        // opened here, on the host, and handed to every instance through the store import.
        let mut engine_config =
            passcode_core::Config::parse(&config.engine_config).map_err(|e| format!("the engine config: {e}"))?;
        if let Some(url) = &config.store_url {
            engine_config.store = passcode_core::config::StoreConfig { url: url.clone(), ..Default::default() };
        }
        if let Some(store) = passcode_redis::store_for(&engine_config).map_err(|e| format!("the store: {e}"))? {
            builder = builder.store(store);
        }
        for (k, v) in &config.guest_env {
            builder = builder.env(k, v);
        }
        for d in &config.guest_dirs {
            builder = builder.read_only_dir(d);
        }
        let host = Arc::new(builder.build().map_err(|e| e.to_string())?);
        let (delivery, outbox) = open_delivery(&engine_config, &config)?;
        let shutdown_bound = Duration::from_millis(engine_config.delivery.shutdown_ms);
        let shared = Arc::new(Shared {
            app_name: config.app_name.clone(),
            delivery,
            session_key: SessionKey::new(config.session_key),
            session_seconds: config.session_seconds,
            accounts: config.accounts.clone(),
            trust_forwarded: config.trust_forwarded,
        });
        let listener =
            TcpListener::bind(config.listen).map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
        let addr = listener.local_addr().map_err(|e| e.to_string())?;

        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for n in 0..config.workers.max(1) {
            let mut slot = WorkerSlot::new(host.clone(), config.engine_config.clone());
            // Open every instance now, so a bad config fails the start, not the first request.
            slot.open()?;
            let queue = queue.clone();
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("passcode-worker-{n}"))
                .spawn(move || worker(slot, &queue, &shared))
                .map_err(|e| e.to_string())?;
        }

        let stop = Arc::new(AtomicBool::new(false));
        let upstream = config.upstream.clone();
        let app_name = config.app_name.clone();
        let stopping = stop.clone();
        let accept = std::thread::Builder::new()
            .name("passcode-accept".into())
            .spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let jobs = jobs.clone();
                    let upstream = upstream.clone();
                    let app_name = app_name.clone();
                    let _ = std::thread::Builder::new()
                        .name("passcode-conn".into())
                        .spawn(move || connection(stream, &jobs, upstream.as_deref(), &app_name));
                }
            })
            .map_err(|e| e.to_string())?;
        Ok(Gateway { addr, stop, accept: Some(accept), clock: config.clock, outbox, shared, shutdown_bound })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The sign-in page's URL.
    pub fn url(&self) -> String {
        format!("http://{}/signin", self.addr)
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

    /// Blocks until the gateway stops (for the binary).
    pub fn wait(mut self) {
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(a) = self.accept.take() {
            let _ = a.join();
        }
        self.shared.delivery.shutdown(self.shutdown_bound);
    }
}

/// A worker thread: one component instance, the filter chain, requests from the queue.
fn worker(mut slot: WorkerSlot, queue: &Mutex<Receiver<Job>>, shared: &Shared) {
    let chain = default_chain();
    loop {
        let job = {
            let Ok(q) = queue.lock() else { return };
            match q.recv() {
                Ok(j) => j,
                Err(_) => return,
            }
        };
        let Job { mut request, peer, reply } = job;
        let decision = run_chain(&chain, &mut request, &mut slot, peer, shared);
        let _ = reply.send(match decision {
            Ok(response) => Decision::Reply(response),
            Err(session) => Decision::Continue(Box::new(request), session),
        });
    }
}

/// Runs the chain: `Ok` is a local reply, `Err` continues to the upstream with the session.
fn run_chain(
    chain: &[Box<dyn HttpFilter>],
    request: &mut Request,
    slot: &mut WorkerSlot,
    peer: IpAddr,
    shared: &Shared,
) -> Result<Response, Option<Session>> {
    let mut cx = FilterContext { worker: slot, peer, shared, session: None };
    for filter in chain {
        if let FilterStatus::LocalReply(r) = filter.on_request(request, &mut cx) {
            return Ok(r);
        }
    }
    Err(cx.session)
}

/// A connection thread: reads requests (keep-alive), hands each to a worker, writes answers.
fn connection(stream: TcpStream, jobs: &Sender<Job>, upstream: Option<&str>, app_name: &str) {
    let peer = stream.peer_addr().map_or(IpAddr::from([127, 0, 0, 1]), |a| a.ip());
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else { return };
    let mut reader = BufReader::new(stream);
    loop {
        let request = match read_request(&mut reader) {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad(status, why)) => {
                let r = Response::json(status, &serde_json::json!({ "error": "bad-request", "message": why }));
                let _ = write_response(&mut writer, &r, true);
                // Read what the client is still sending before closing, so that closing with
                // unread data does not reset the connection before it reads the answer.
                let _ = writer.shutdown(std::net::Shutdown::Write);
                let _ = reader.get_ref().set_read_timeout(Some(Duration::from_secs(1)));
                let _ = std::io::copy(&mut reader.by_ref().take(1 << 20), &mut std::io::sink());
                return;
            }
        };
        let close = request.close;
        let head = request.method == "HEAD";
        let (tx, rx) = mpsc::channel();
        if jobs.send(Job { request, peer, reply: tx }).is_err() {
            return;
        }
        let mut response = match rx.recv() {
            Ok(Decision::Reply(r)) => r,
            Ok(Decision::Continue(request, session)) => route(&request, session.as_ref(), upstream, app_name),
            Err(_) => Response::json(503, &serde_json::json!({ "error": "unavailable", "message": "no worker" })),
        };
        if head {
            response.body.clear();
        }
        if write_response(&mut writer, &response, close).is_err() || close {
            return;
        }
    }
}

/// The router: the upstream if one is configured, else the built-in greeting page.
fn route(request: &Request, session: Option<&Session>, upstream: Option<&str>, app_name: &str) -> Response {
    match upstream {
        Some(u) => proxy(u, request).unwrap_or_else(|e| {
            eprintln!("passcode-envoy-filter: upstream error: {e}");
            Response::json(502, &serde_json::json!({ "error": "bad-gateway", "message": "the upstream failed" }))
        }),
        None => {
            let subject = session.map_or("", |s| s.subject.as_str());
            Response::new(200, "text/html; charset=utf-8", page::welcome(app_name, subject))
                .with_header("cache-control", "no-store")
        }
    }
}

/// Forwards a request to `http://host:port` over HTTP/1.1 and reads the whole answer.
fn proxy(upstream: &str, request: &Request) -> Result<Response, String> {
    let authority = upstream.strip_prefix("http://").ok_or("the upstream must be an http:// URL")?;
    let authority = authority.trim_end_matches('/');
    let mut conn = TcpStream::connect(authority).map_err(|e| format!("connect: {e}"))?;
    let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
    let target =
        if request.query.is_empty() { request.path.clone() } else { format!("{}?{}", request.path, request.query) };
    let mut head = format!("{} {target} HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n", request.method);
    for (n, v) in &request.headers {
        if matches!(
            n.as_str(),
            "host" | "connection" | "keep-alive" | "content-length" | "transfer-encoding" | "upgrade"
        ) {
            continue;
        }
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    head.push_str(&format!("content-length: {}\r\n\r\n", request.body.len()));
    conn.write_all(head.as_bytes()).and_then(|_| conn.write_all(&request.body)).map_err(|e| format!("write: {e}"))?;
    let mut raw = Vec::new();
    conn.take(16 << 20).read_to_end(&mut raw).map_err(|e| format!("read: {e}"))?;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or("no response head")?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.lines();
    let status: u16 =
        lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).ok_or("bad status line")?;
    let mut headers = Vec::new();
    let mut chunked = false;
    for line in lines {
        if let Some((n, v)) = line.split_once(':') {
            let n = n.trim().to_ascii_lowercase();
            if n == "transfer-encoding" {
                chunked = v.to_ascii_lowercase().contains("chunked");
                continue;
            }
            if matches!(n.as_str(), "connection" | "keep-alive" | "content-length") {
                continue;
            }
            headers.push((n, v.trim().to_string()));
        }
    }
    if chunked {
        body = dechunk(&body).ok_or("bad chunked body")?;
    }
    Ok(Response { status, headers, body })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}
