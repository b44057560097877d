//! The wire: hyper 1 on tokio serving HTTP/1.1 and HTTP/2 (h2c by its preface, or TLS with
//! rustls and ALPN), with the limits a gateway on the internet needs.
//!
//! - **Connections**: at most `max_connections` at once (more wait in the listen backlog) and
//!   `max_connections_per_client` from one address or IPv6 /64 (more are closed at once), with
//!   the open-file limit raised, or the cap lowered, so the cap is reached before the file
//!   descriptors run out.
//! - **Time**: the whole request head within `header_read_timeout` (from the connection's
//!   first byte, and again from the end of each answer: an idle keep-alive connection closes
//!   too), the body within `body_read_timeout`, an idle HTTP/2 connection closed after
//!   `idle_timeout`.
//! - **Framing**: hyper refuses header values with CR, LF or NUL, a `Content-Length` that is
//!   not digits or lengths that differ, whitespace before a colon, a transfer coding other than
//!   chunked, and closes the connection after a request framed both by length and chunks (RFC
//!   9112 6.1); this module refuses a missing or repeated `Host` (3.2), bodies over
//!   `max_body_bytes`, heads over `max_header_bytes`.
//! - **Shutdown**: a stop signal ends the accept loops, tells every connection to finish
//!   (HTTP/1.1 closes after the answer in flight, HTTP/2 sends GOAWAY), and waits for them up
//!   to the drain bound.
//!
//! Requests that pass go through the filter chain on one of `workers` component instances,
//! then to the upstream (`proxy.rs`) or the built-in page.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::{Body as _, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Notify, Semaphore};

use crate::filter::{default_chain, run_chain, HttpFilter, Shared, WorkerSlot};
use crate::gateway::{GatewayConfig, TlsFiles};
use crate::host::ComponentHost;
use crate::http::{Request, Response};
use crate::metrics::Route;
use crate::page;
use crate::proxy::Upstream;

/// The body of every answer: a local reply's bytes, or the upstream's body streamed through.
pub type Body = Either<Full<Bytes>, Incoming>;

/// File descriptors kept back from the connection cap: the listeners, the store's and the
/// upstream's connections, delivery's, the component's files.
const FD_RESERVE: u64 = 512;

/// Connections at once on the admin listener (within the reserve above).
const ADMIN_CONNECTIONS: usize = 32;

/// Connection caps, timeouts and sizes.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Client connections at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// Connections at once from one IPv4 address or IPv6 /64; more are closed at once.
    pub max_connections_per_client: usize,
    /// The whole request head must arrive within this (also the keep-alive idle time).
    pub header_read_timeout: Duration,
    /// The whole body must arrive within this after the head.
    pub body_read_timeout: Duration,
    /// An HTTP/2 connection with no request in flight for this long is closed.
    pub idle_timeout: Duration,
    /// The request head (HTTP/1.1 buffer, at least 8 KiB) or header list (HTTP/2), at most.
    pub max_header_bytes: usize,
    /// A request body, at most.
    pub max_body_bytes: usize,
    /// HTTP/2 requests at once on one connection.
    pub max_concurrent_streams: u32,
    /// The upstream's answer head must arrive within this.
    pub upstream_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4096,
            max_connections_per_client: 64,
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_header_bytes: 16 * 1024,
            max_body_bytes: 64 * 1024,
            max_concurrent_streams: 64,
            upstream_timeout: Duration::from_secs(30),
        }
    }
}

/// The component instances, one per worker: a request takes one for its run through the
/// chain and gives it back. With a store on the network (Redis) the run blocks on it, so it
/// runs in `block_in_place` and the worker thread's other connections move to another thread.
struct WorkerPool {
    slots: Mutex<Vec<WorkerSlot>>,
    free: Semaphore,
    host: Arc<ComponentHost>,
    config: String,
    blocking: bool,
}

impl WorkerPool {
    async fn run<R>(&self, f: impl FnOnce(&mut WorkerSlot) -> R) -> R {
        // The semaphore is never closed.
        let _permit = self.free.acquire().await;
        let taken = self.slots.lock().ok().and_then(|mut s| s.pop());
        // A slot lost to a panic is replaced by a new instance, opened on first use.
        let mut slot = taken.unwrap_or_else(|| WorkerSlot::new(self.host.clone(), self.config.clone()));
        let r = if self.blocking { tokio::task::block_in_place(|| f(&mut slot)) } else { f(&mut slot) };
        if let Ok(mut s) = self.slots.lock() {
            s.push(slot);
        }
        r
    }

    /// Runs a store call, off the async path if the store is on the network.
    fn blocking<R>(&self, f: impl FnOnce() -> R) -> R {
        if self.blocking {
            tokio::task::block_in_place(f)
        } else {
            f()
        }
    }
}

/// Who a connection counts against: an IPv4 address, or an IPv6 /64 (one subscriber's
/// allocation, as the engine's per-client bucket counts them).
fn client_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        },
        v4 => v4,
    }
}

/// What a connection's requests know of it.
struct ConnInfo {
    peer: SocketAddr,
    tls: bool,
    admin: bool,
    /// HTTP/2: its requests keep the two counts below, for the idle timeout (an HTTP/1.1
    /// connection's idle time is hyper's head timeout, so its requests skip them).
    http2: bool,
    in_flight: AtomicUsize,
    last_active_ms: AtomicU64,
    opened: Instant,
}

impl ConnInfo {
    fn touch(&self) {
        let ms = u64::try_from(self.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_active_ms.store(ms, Ordering::Relaxed);
    }

    fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_active_ms.load(Ordering::Relaxed));
        self.opened.elapsed().saturating_sub(last)
    }
}

/// What every connection task shares.
struct State {
    shared: Arc<Shared>,
    pool: WorkerPool,
    chain: Vec<Box<dyn HttpFilter>>,
    limits: Limits,
    upstream: Option<Upstream>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    host: Arc<ComponentHost>,
    app_name: String,
    total: Arc<Semaphore>,
    admin_total: Arc<Semaphore>,
    clients: Mutex<HashMap<IpAddr, usize>>,
    open: AtomicUsize,
    all_closed: Notify,
    draining: AtomicBool,
}

/// A connection's place in the caps, given back when the connection ends.
struct Admitted {
    state: Arc<State>,
    /// The address counted against the per-client cap (none on the admin listener).
    client: Option<IpAddr>,
    _total: tokio::sync::OwnedSemaphorePermit,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        if let (Some(client), Ok(mut clients)) = (self.client, self.state.clients.lock()) {
            if let Some(n) = clients.get_mut(&client) {
                *n -= 1;
                if *n == 0 {
                    clients.remove(&client);
                }
            }
        }
        self.state.shared.metrics.connection(-1);
        if self.state.open.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.state.all_closed.notify_waiters();
        }
    }
}

impl State {
    /// Counts a new connection against the caps, or refuses it (over the per-client cap).
    /// The admin listener's connections have a cap of their own and none per client: an
    /// operator's scraper must get through while a client is held at its cap.
    fn admit(
        self: &Arc<Self>,
        peer: IpAddr,
        total: tokio::sync::OwnedSemaphorePermit,
        admin: bool,
    ) -> Option<Admitted> {
        let client = (!admin).then(|| client_key(peer));
        if let Some(client) = client {
            let mut clients = self.clients.lock().ok()?;
            let n = clients.entry(client).or_insert(0);
            if *n >= self.limits.max_connections_per_client {
                return None;
            }
            *n += 1;
        }
        self.open.fetch_add(1, Ordering::SeqCst);
        self.shared.metrics.connection(1);
        Some(Admitted { state: self.clone(), client, _total: total })
    }
}

/// The running server: its runtime, listeners and stop signal.
pub struct Server {
    runtime: Option<tokio::runtime::Runtime>,
    addr: SocketAddr,
    admin_addr: Option<SocketAddr>,
    is_tls: bool,
    state: Arc<State>,
    stop: watch::Sender<bool>,
    drain: Duration,
}

/// Binds a listener (in the runtime's context) with a backlog deep enough that a burst of
/// connections waits for the accept loop rather than being dropped.
fn bind(addr: SocketAddr) -> Result<TcpListener, String> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4() } else { tokio::net::TcpSocket::new_v6() };
    let listener = socket
        .and_then(|s| {
            s.set_reuseaddr(true)?;
            s.bind(addr)?;
            s.listen(1024)
        })
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    Ok(listener)
}

fn tls_acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, String> {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&files.cert)
        .and_then(|i| i.collect())
        .map_err(|e| format!("tls_cert {}: {e}", files.cert.display()))?;
    if certs.is_empty() {
        return Err(format!("tls_cert {}: no certificate in it", files.cert.display()));
    }
    // The error names the file, never the key's bytes.
    let key = PrivateKeyDer::from_pem_file(&files.key).map_err(|_| {
        format!("tls_key {}: not a readable PEM private key (PKCS#8, PKCS#1 or SEC1)", files.key.display())
    })?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("tls_cert and tls_key do not make a usable pair: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Makes room for the connection cap under the open-file limit: raises the soft limit toward
/// the hard one, or lowers the cap, and says which.
fn fit_open_files(wanted: usize) -> usize {
    let want = u64::try_from(wanted).unwrap_or(u64::MAX).saturating_add(FD_RESERVE);
    let soft = match rlimit::increase_nofile_limit(want) {
        Ok(limit) => limit,
        Err(_) => rlimit::Resource::NOFILE.get().map_or(1024, |(soft, _)| soft),
    };
    if soft >= want {
        return wanted;
    }
    let fits = usize::try_from(soft.saturating_sub(FD_RESERVE).max(16)).unwrap_or(16);
    tracing::warn!(
        max_connections = wanted,
        lowered_to = fits,
        open_file_limit = soft,
        "the open-file limit is too low for max_connections; lowering the cap (raise `ulimit -n` to keep it)"
    );
    fits
}

impl Server {
    /// Binds the listeners and serves them on a runtime of `config.workers` threads.
    pub fn start(
        config: &GatewayConfig,
        host: Arc<ComponentHost>,
        shared: Arc<Shared>,
        blocking_store: bool,
    ) -> Result<Server, String> {
        let workers = config.workers.max(1);
        let mut slots = Vec::with_capacity(workers);
        for _ in 0..workers {
            let mut slot = WorkerSlot::new(host.clone(), config.engine_config.clone());
            // Open every instance now, so a bad config fails the start, not the first request.
            slot.open()?;
            slots.push(slot);
        }
        let mut limits = config.limits.clone();
        limits.max_connections = fit_open_files(limits.max_connections);
        let tls = config.tls.as_ref().map(tls_acceptor).transpose()?;
        let upstream = config.upstream.as_deref().map(|u| Upstream::new(u, limits.upstream_timeout)).transpose()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("passcode-worker")
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the runtime: {e}"))?;
        let entered = runtime.enter();
        let main = bind(config.listen)?;
        let addr = main.local_addr().map_err(|e| e.to_string())?;
        let admin = config.admin_listen.map(bind).transpose()?;
        let admin_addr = admin.as_ref().map(|l| l.local_addr().map_err(|e| e.to_string())).transpose()?;
        let state = Arc::new(State {
            pool: WorkerPool {
                slots: Mutex::new(slots),
                free: Semaphore::new(workers),
                host: host.clone(),
                config: config.engine_config.clone(),
                blocking: blocking_store,
            },
            chain: default_chain(),
            total: Arc::new(Semaphore::new(limits.max_connections)),
            admin_total: Arc::new(Semaphore::new(ADMIN_CONNECTIONS)),
            limits,
            upstream,
            tls,
            host,
            app_name: config.app_name.clone(),
            clients: Mutex::new(HashMap::new()),
            open: AtomicUsize::new(0),
            all_closed: Notify::new(),
            draining: AtomicBool::new(false),
            shared,
        });
        let is_tls = state.tls.is_some();
        let (stop, stopped) = watch::channel(false);
        runtime.spawn(accept_loop(main, false, state.clone(), stopped.clone()));
        if let Some(admin) = admin {
            runtime.spawn(accept_loop(admin, true, state.clone(), stopped.clone()));
        }
        drop(entered);
        tracing::info!(%addr, admin = ?admin_addr, tls = is_tls, workers, "serving");
        Ok(Server { runtime: Some(runtime), addr, admin_addr, is_tls, state, stop, drain: config.drain })
    }

    /// The main listener's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The admin listener's address.
    pub fn admin_addr(&self) -> Option<SocketAddr> {
        self.admin_addr
    }

    /// Whether the main listener serves TLS.
    pub fn is_tls(&self) -> bool {
        self.is_tls
    }

    /// Blocks until SIGTERM or SIGINT.
    pub fn wait_for_signal(&self) {
        let Some(runtime) = &self.runtime else { return };
        runtime.block_on(async {
            let term = async {
                match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                    Ok(mut s) => {
                        s.recv().await;
                    }
                    Err(_) => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = term => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        });
    }

    /// Stops accepting, asks every connection to finish, waits up to the drain bound, then
    /// stops the runtime (what is still running is cut off).
    pub fn shutdown(mut self) {
        let Some(runtime) = self.runtime.take() else { return };
        self.state.draining.store(true, Ordering::SeqCst);
        let _ = self.stop.send(true);
        let state = self.state.clone();
        let drained = runtime.block_on(async {
            let all_closed = async {
                loop {
                    let notified = state.all_closed.notified();
                    if state.open.load(Ordering::SeqCst) == 0 {
                        return;
                    }
                    notified.await;
                }
            };
            tokio::time::timeout(self.drain, all_closed).await.is_ok()
        });
        if !drained {
            tracing::warn!(
                connections = self.state.open.load(Ordering::SeqCst),
                "requests still in flight at the drain bound were cut off"
            );
        }
        runtime.shutdown_timeout(Duration::from_millis(200));
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            let _ = self.stop.send(true);
            runtime.shutdown_timeout(Duration::from_millis(200));
        }
    }
}

/// Resolves once the stop signal is given (at once if it already was).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it here, not across an await.
    let _ = stop.wait_for(|s| *s).await;
}

/// Accepts connections while the caps allow, until the stop signal.
async fn accept_loop(listener: TcpListener, admin: bool, state: Arc<State>, mut stop: watch::Receiver<bool>) {
    let cap = if admin { state.admin_total.clone() } else { state.total.clone() };
    loop {
        let permit = tokio::select! {
            p = cap.clone().acquire_owned() => match p { Ok(p) => p, Err(_) => return },
            _ = stopped(&mut stop) => return,
        };
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors (or a connection reset before accept): wait a
                    // little rather than spin; connections closing will free some.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = stopped(&mut stop) => return,
        };
        let Some(admitted) = state.admit(peer.ip(), permit, admin) else {
            state.shared.metrics.refused_connection("per-client");
            // Closed at once, without reading: the client already holds its share.
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        tokio::spawn(serve(stream, peer, admin, state.clone(), admitted, stop.clone()));
    }
}

/// Whether a plaintext connection speaks HTTP/2 (its preface), read within the head deadline:
/// `None` if the client sent nothing in time or closed.
async fn is_h2c(stream: &TcpStream, deadline: tokio::time::Instant) -> Option<bool> {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let mut buf = [0u8; 24];
    loop {
        let n = tokio::time::timeout_at(deadline, stream.peek(&mut buf)).await.ok()?.ok()?;
        if n == 0 {
            return None;
        }
        if buf[..n] != PREFACE[..n] {
            return Some(false);
        }
        if n == PREFACE.len() {
            return Some(true);
        }
        // Part of the preface so far: peek again once more may have come.
        tokio::time::sleep(Duration::from_millis(5)).await;
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
    }
}

async fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    admin: bool,
    state: Arc<State>,
    admitted: Admitted,
    stop: watch::Receiver<bool>,
) {
    let deadline = tokio::time::Instant::now() + state.limits.header_read_timeout;
    let conn = |tls, http2| {
        Arc::new(ConnInfo {
            peer,
            tls,
            admin,
            http2,
            in_flight: AtomicUsize::new(0),
            last_active_ms: AtomicU64::new(0),
            opened: Instant::now(),
        })
    };
    match (&state.tls, admin) {
        (Some(acceptor), false) => {
            let Ok(Ok(tls)) = tokio::time::timeout_at(deadline, acceptor.accept(stream)).await else { return };
            let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
            serve_http(TokioIo::new(tls), h2, conn(true, h2), state, stop).await;
        }
        _ => {
            let Some(h2) = is_h2c(&stream, deadline).await else { return };
            serve_http(TokioIo::new(stream), h2, conn(false, h2), state, stop).await;
        }
    }
    drop(admitted);
}

async fn serve_http<I>(io: I, h2: bool, conn: Arc<ConnInfo>, state: Arc<State>, stop: watch::Receiver<bool>)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let service = {
        let (state, conn) = (state.clone(), conn.clone());
        service_fn(move |req| {
            let (state, conn) = (state.clone(), conn.clone());
            async move { Ok::<_, Infallible>(handle(&state, &conn, req).await) }
        })
    };
    let limits = &state.limits;
    if h2 {
        let mut builder = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        builder
            .timer(TokioTimer::new())
            .max_concurrent_streams(limits.max_concurrent_streams)
            .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
            // Rapid reset (CVE-2023-44487): few streams reset before the answer.
            .max_pending_accept_reset_streams(Some(20))
            .keep_alive_interval(Some(Duration::from_secs(30)))
            .keep_alive_timeout(Duration::from_secs(10));
        drive(builder.serve_connection(io, service), &conn, Some(limits.idle_timeout), stop).await;
    } else {
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(limits.header_read_timeout)
            .max_buf_size(limits.max_header_bytes.max(8192))
            .keep_alive(true);
        // HTTP/1.1's idle time is the head timeout, which runs from the end of each answer.
        drive(builder.serve_connection(io, service), &conn, None, stop).await;
    }
}

/// Runs a connection to its end: on the stop signal, or after `idle` with no request in
/// flight, asks it to finish gracefully (HTTP/1.1 closes after the answer in flight, HTTP/2
/// sends GOAWAY) and waits for it.
async fn drive<C>(connection: C, conn: &ConnInfo, idle: Option<Duration>, mut stop: watch::Receiver<bool>)
where
    C: GracefulConnection,
{
    let mut connection = pin!(connection);
    let idle_out = async {
        let Some(idle) = idle else { return std::future::pending().await };
        loop {
            tokio::time::sleep(idle / 4).await;
            if conn.in_flight.load(Ordering::SeqCst) == 0 && conn.idle_for() >= idle {
                return;
            }
        }
    };
    tokio::select! {
        _ = connection.as_mut() => return,
        _ = stopped(&mut stop) => {}
        _ = idle_out => {}
    }
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

async fn handle(state: &Arc<State>, conn: &ConnInfo, req: hyper::Request<Incoming>) -> hyper::Response<Body> {
    let began = Instant::now();
    if conn.http2 {
        conn.in_flight.fetch_add(1, Ordering::SeqCst);
        conn.touch();
    }
    let route = Route::of(conn.admin, req.uri().path());
    let response = answer(state, conn, req).await;
    state.shared.metrics.request(route, response.status().as_u16(), began.elapsed());
    if conn.http2 {
        conn.touch();
        conn.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
    response
}

/// A local reply as hyper's response.
pub(crate) fn local(reply: Response) -> hyper::Response<Body> {
    let mut response = hyper::Response::new(Either::Left(Full::new(reply.body)));
    *response.status_mut() =
        http::StatusCode::from_u16(reply.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    *response.headers_mut() = reply.headers;
    response
}

/// A refusal before the filters: counted, and the connection closed after it (what is left
/// of the request on the wire cannot be trusted to frame the next one).
fn refuse(state: &State, status: u16, reason: &'static str, message: &str) -> hyper::Response<Body> {
    state.shared.metrics.refused_request(reason);
    local(Response::error(status, reason, message).secure_headers().with_header("connection", "close"))
}

/// The check hyper leaves to the application: `Host` exactly once on HTTP/1.1 (at most once on
/// 1.0; consistent with `:authority` on HTTP/2). (`Transfer-Encoding` beside `Content-Length`
/// hyper settles itself as RFC 9112 6.1 says: the body is read as chunked, the length header
/// dropped, and the connection closed after the answer.)
fn check_host(req: &hyper::Request<Incoming>) -> Result<(), (&'static str, &'static str)> {
    let mut hosts = req.headers().get_all(http::header::HOST).iter();
    let host_required = req.version() == http::Version::HTTP_11;
    match (hosts.next(), hosts.next()) {
        (None, _) if host_required => return Err(("missing-host", "an HTTP/1.1 request needs a Host header")),
        (None, _) => {}
        (Some(one), None) => {
            let valid = one.to_str().ok().and_then(|h| h.parse::<http::uri::Authority>().ok());
            let Some(host) = valid else { return Err(("bad-host", "the Host header is not a host[:port]")) };
            if req.version() == http::Version::HTTP_2 {
                if let Some(authority) = req.uri().authority() {
                    if !authority.as_str().eq_ignore_ascii_case(host.as_str()) {
                        return Err(("bad-host", "Host and :authority differ"));
                    }
                }
            }
        }
        (Some(_), Some(_)) => return Err(("repeated-host", "a request may carry one Host header only")),
    }
    Ok(())
}

async fn answer(state: &Arc<State>, conn: &ConnInfo, req: hyper::Request<Incoming>) -> hyper::Response<Body> {
    if let Err((reason, message)) = check_host(&req) {
        return refuse(state, 400, reason, message);
    }
    let (parts, body) = req.into_parts();
    let max = state.limits.max_body_bytes;
    if body.size_hint().exact().is_some_and(|n| n > max as u64) {
        return refuse(state, 413, "body-too-large", "the request body is too large");
    }
    let body = match tokio::time::timeout(state.limits.body_read_timeout, Limited::new(body, max).collect()).await {
        Ok(Ok(collected)) => collected.to_bytes(),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => {
            return refuse(state, 413, "body-too-large", "the request body is too large");
        }
        Ok(Err(_)) => return refuse(state, 400, "body", "the request body could not be read"),
        Err(_) => return refuse(state, 408, "body-timeout", "the request body did not arrive in time"),
    };
    let forwarded_https =
        parts.headers.get("x-forwarded-proto").is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let mut request = Request {
        method: parts.method,
        uri: parts.uri,
        version: parts.version,
        headers: parts.headers,
        body,
        secure: conn.tls || forwarded_https,
    };
    if conn.admin {
        return local(admin(state, &request).secure_headers());
    }
    match request.path() {
        "/healthz" => return local(Response::empty(204).secure_headers()),
        "/readyz" => return local(readiness(state).secure_headers()),
        _ => {}
    }
    let peer = conn.peer.ip();
    let decision = state.pool.run(|slot| run_chain(&state.chain, &mut request, slot, peer, &state.shared)).await;
    match decision {
        Ok(reply) => local(reply.secure_headers()),
        Err(session) => match &state.upstream {
            Some(upstream) => upstream.forward(request, peer).await,
            None => {
                let subject = session.as_ref().map_or("", |s| s.subject.as_str());
                local(
                    Response::new(200, "text/html; charset=utf-8", page::welcome(&state.app_name, subject))
                        .with_header("content-security-policy", page::welcome_csp())
                        .secure_headers(),
                )
            }
        },
    }
}

/// The admin listener: metrics and the probes.
fn admin(state: &State, request: &Request) -> Response {
    match request.path() {
        "/metrics" => {
            Response::new(200, crate::metrics::CONTENT_TYPE, state.shared.metrics.render(&state.shared.delivery))
        }
        "/healthz" => Response::empty(204),
        "/readyz" => readiness(state),
        _ => Response::error(404, "not-found", "the admin listener serves /metrics, /healthz and /readyz"),
    }
}

/// Ready when not shutting down and the store answers a read.
fn readiness(state: &State) -> Response {
    if state.draining.load(Ordering::SeqCst) {
        return Response::error(503, "draining", "shutting down");
    }
    let store = state.host.shared_store();
    let now = state.host.clock().now();
    // A key no record uses: any answer, found or not, shows the store works.
    match state.pool.blocking(|| store.get(&[0u8; 32], now)) {
        Ok(_) => Response::empty(204),
        Err(_) => Response::error(503, "store-unavailable", "the store does not answer"),
    }
}
