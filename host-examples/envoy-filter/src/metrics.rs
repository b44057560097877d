//! What the gateway counts, for Prometheus (`/metrics` on the admin listener, OpenMetrics text
//! by `prometheus-client`): issues, verifies by outcome, locks, limits hit, deliveries by
//! outcome, latencies of engine calls and of requests, connections and refusals.
//!
//! Labels are channel, purpose, operation, outcome and route: small fixed sets. Never an
//! identifier, a client address, a code or a path an upstream might put one in.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use passcode_delivery::{DeliveryEvent, DeliveryEventKind, DeliveryEventSink};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An engine operation's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Operation {
    /// `start`, `resend` or `verify`.
    pub operation: &'static str,
    /// `email`, `sms`, or `unknown` when a refusal came before the channel was known.
    pub channel: &'static str,
    /// The purpose's name, or `unknown`.
    pub purpose: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    operation: &'static str,
    channel: &'static str,
    purpose: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Lock {
    operation: &'static str,
    channel: &'static str,
    purpose: &'static str,
    lock: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Limit {
    operation: &'static str,
    channel: &'static str,
    purpose: &'static str,
    limit: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Delivered {
    channel: &'static str,
    purpose: &'static str,
    outcome: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliveryFailure {
    channel: &'static str,
    purpose: &'static str,
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabel {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: &'static str,
    status: u16,
}

/// The routes requests are counted by: a small fixed set, never the path itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// `/metrics` on the admin listener.
    Metrics,
    /// `/healthz`.
    Healthz,
    /// `/readyz`.
    Readyz,
    /// Anything else on the admin listener.
    AdminOther,
    /// `/signin`.
    Signin,
    /// `/passcode/start`.
    Start,
    /// `/passcode/verify`.
    Verify,
    /// `/passcode/resend`.
    Resend,
    /// `/passcode/signout`.
    Signout,
    /// Any other `/passcode/...` path.
    PasscodeOther,
    /// `/ext_authz` and below.
    ExtAuthz,
    /// Everything else: the upstream, behind a session.
    Protected,
}

impl Route {
    /// How many routes there are.
    const COUNT: usize = Route::Protected as usize + 1;

    /// The route of a request's path (the admin listener serves its own few).
    pub fn of(admin: bool, path: &str) -> Route {
        match path {
            "/metrics" if admin => Route::Metrics,
            "/healthz" => Route::Healthz,
            "/readyz" => Route::Readyz,
            _ if admin => Route::AdminOther,
            "/signin" => Route::Signin,
            "/passcode/start" => Route::Start,
            "/passcode/verify" => Route::Verify,
            "/passcode/resend" => Route::Resend,
            "/passcode/signout" => Route::Signout,
            p if p.starts_with("/passcode/") => Route::PasscodeOther,
            p if p == "/ext_authz" || p.starts_with("/ext_authz/") => Route::ExtAuthz,
            _ => Route::Protected,
        }
    }

    /// The `route` label.
    pub fn name(self) -> &'static str {
        match self {
            Route::Metrics => "metrics",
            Route::Healthz => "healthz",
            Route::Readyz => "readyz",
            Route::AdminOther => "admin-other",
            Route::Signin => "signin",
            Route::Start => "start",
            Route::Verify => "verify",
            Route::Resend => "resend",
            Route::Signout => "signout",
            Route::PasscodeOther => "passcode-other",
            Route::ExtAuthz => "ext_authz",
            Route::Protected => "protected",
        }
    }
}

/// HTTP statuses 100 to 599: the ones a route's counters are cached for.
const STATUSES: std::ops::Range<u16> = 100..600;

/// Each route's request counters (one per status) and latency histogram, looked up in their
/// families once, on first use (so a label set shows in `/metrics` only once it has a count),
/// then taken from here: a request's metrics cost no hashing of label sets and no lock on the
/// family's map.
struct RouteHandles {
    seconds: [OnceLock<Histogram>; Route::COUNT],
    statuses: Vec<OnceLock<Counter>>,
}

impl RouteHandles {
    fn new() -> Self {
        RouteHandles {
            seconds: std::array::from_fn(|_| OnceLock::new()),
            statuses: (0..Route::COUNT * STATUSES.len()).map(|_| OnceLock::new()).collect(),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Reason {
    reason: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SessionEvent {
    event: &'static str,
}

type Seconds = Family<Operation, Histogram, fn() -> Histogram>;
type RouteSeconds = Family<RouteLabel, Histogram, fn() -> Histogram>;

/// Latency buckets, seconds: 50 µs to 2.5 s. An engine call is a few microseconds on the
/// memory store and a round trip or two on Redis; a request adds HTTP and the upstream.
fn latency_histogram() -> Histogram {
    Histogram::new([
        0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    ])
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Registry,
    outcomes: Family<Outcome, Counter>,
    locks: Family<Lock, Counter>,
    limits: Family<Limit, Counter>,
    operation_seconds: Seconds,
    deliveries: Family<Delivered, Counter>,
    delivery_failures: Family<DeliveryFailure, Counter>,
    delivery_refused: Family<Reason, Counter>,
    delivery_waiting: Gauge,
    requests: Family<RouteStatus, Counter>,
    request_seconds: RouteSeconds,
    refused_requests: Family<Reason, Counter>,
    connections_open: Gauge,
    refused_connections: Family<Reason, Counter>,
    sessions: Family<SessionEvent, Counter>,
    routes: RouteHandles,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics(..)")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Every family registered, all at zero.
    pub fn new() -> Self {
        let m = Metrics {
            registry: Registry::default(),
            outcomes: Family::default(),
            locks: Family::default(),
            limits: Family::default(),
            operation_seconds: Family::new_with_constructor(latency_histogram),
            deliveries: Family::default(),
            delivery_failures: Family::default(),
            delivery_refused: Family::default(),
            delivery_waiting: Gauge::default(),
            requests: Family::default(),
            request_seconds: Family::new_with_constructor(latency_histogram),
            refused_requests: Family::default(),
            connections_open: Gauge::default(),
            refused_connections: Family::default(),
            sessions: Family::default(),
            routes: RouteHandles::new(),
        };
        let mut registry = Registry::with_prefix("passcode");
        // Each family's name (after `passcode_`; counters get `_total`) and help text.
        macro_rules! register {
            ($($field:ident: $name:literal, $help:literal;)*) => {
                $(registry.register($name, $help, m.$field.clone());)*
            };
        }
        register! {
            outcomes: "engine_operations",
                "Engine operations (start and resend issue a code, verify checks one) by outcome: sent, verified, or the engine's error name";
            locks: "locks",
                "Answers refused because the subject is locked (the answer that locks it included), temporary or hard";
            limits: "limits", "Sends refused by a limit: resend-cooldown, subject, client, country, destination-blocked";
            operation_seconds: "engine_operation_seconds", "Time in the engine (the component and its store) per operation";
            deliveries: "deliveries", "Delivery steps by outcome: queued, retried, sent, failed";
            delivery_failures: "delivery_failures", "Messages given up, by reason";
            delivery_refused: "delivery_refusals",
                "Sends refused before a code was issued: queue-full, no-sender, stopped";
            delivery_waiting: "delivery_waiting", "Messages waiting in the delivery queue";
            requests: "http_requests", "Requests answered, by route and status";
            request_seconds: "http_request_seconds", "Time from the request head to the answer's head, by route";
            refused_requests: "http_refusals",
                "Requests refused: missing-host, repeated-host, bad-host, body-too-large, body, body-timeout, cross-site";
            connections_open: "connections_open", "Client connections open now";
            refused_connections: "connection_refusals",
                "Connections closed at once: over the per-client cap, or the total cap";
            sessions: "sessions", "Sessions created, revoked (signed out) and refused";
        }
        Metrics { registry, ..m }
    }

    /// The OpenMetrics text of every family, with delivery's queue length read now.
    pub fn render(&self, delivery: &passcode_delivery::Delivery) -> String {
        self.delivery_waiting.set(i64::try_from(delivery.stats().waiting).unwrap_or(i64::MAX));
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }

    /// An engine operation's outcome (`sent`, `verified`, or an error name) and its time.
    pub fn operation(&self, op: &Operation, outcome: &'static str, took: Duration) {
        self.outcomes
            .get_or_create(&Outcome { operation: op.operation, channel: op.channel, purpose: op.purpose, outcome })
            .inc();
        self.operation_seconds.get_or_create(op).observe(took.as_secs_f64());
    }

    /// An answer refused because the subject is locked.
    pub fn lock(&self, op: &Operation, hard: bool) {
        let lock = if hard { "hard" } else { "temporary" };
        self.locks
            .get_or_create(&Lock { operation: op.operation, channel: op.channel, purpose: op.purpose, lock })
            .inc();
    }

    /// A send refused by a limit.
    pub fn limit(&self, op: &Operation, limit: &'static str) {
        self.limits
            .get_or_create(&Limit { operation: op.operation, channel: op.channel, purpose: op.purpose, limit })
            .inc();
    }

    /// A send refused by delivery before any code was issued.
    pub fn delivery_refused(&self, reason: &'static str) {
        self.delivery_refused.get_or_create(&Reason { reason }).inc();
    }

    /// A request answered.
    pub fn request(&self, route: Route, status: u16, took: Duration) {
        let name = route.name();
        let at = route as usize;
        let new_counter = || self.requests.get_or_create_owned(&RouteStatus { route: name, status });
        match STATUSES.contains(&status).then(|| &self.routes.statuses[at * STATUSES.len() + usize::from(status - 100)])
        {
            Some(cached) => cached.get_or_init(new_counter).inc(),
            None => new_counter().inc(),
        };
        let seconds = self.routes.seconds[at]
            .get_or_init(|| self.request_seconds.get_or_create_owned(&RouteLabel { route: name }));
        seconds.observe(took.as_secs_f64());
    }

    /// A request refused before the filters.
    pub fn refused_request(&self, reason: &'static str) {
        self.refused_requests.get_or_create(&Reason { reason }).inc();
    }

    /// A connection opened (`+1`) or closed (`-1`).
    pub fn connection(&self, delta: i64) {
        self.connections_open.inc_by(delta);
    }

    /// A connection closed at once.
    pub fn refused_connection(&self, reason: &'static str) {
        self.refused_connections.get_or_create(&Reason { reason }).inc();
    }

    /// A session created, revoked or refused.
    pub fn session(&self, event: &'static str) {
        self.sessions.get_or_create(&SessionEvent { event }).inc();
    }
}

/// Counts delivery events into [`Metrics`], then passes them on to the next sink (the log).
pub struct MeteredDeliveryEvents {
    /// Where the counts go.
    pub metrics: Arc<Metrics>,
    /// The sink that also gets every event.
    pub next: Arc<dyn DeliveryEventSink>,
}

impl DeliveryEventSink for MeteredDeliveryEvents {
    fn emit(&self, e: &DeliveryEvent) {
        let (channel, purpose) = (e.channel.name(), e.purpose.name());
        self.metrics.deliveries.get_or_create(&Delivered { channel, purpose, outcome: e.kind.name() }).inc();
        if e.kind == DeliveryEventKind::Failed {
            let reason = e.reason.unwrap_or("unknown");
            self.metrics.delivery_failures.get_or_create(&DeliveryFailure { channel, purpose, reason }).inc();
        }
        self.next.emit(e);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_route_and_status_once_seen() {
        let m = Metrics::new();
        let line = |status: &str| format!("passcode_http_requests_total{{route=\"verify\",status=\"{status}\"}}");
        let text = m.registry_text();
        assert!(!text.contains(&line("410")), "no label set before its first count:\n{text}");
        for _ in 0..3 {
            m.request(Route::of(false, "/passcode/verify"), 410, Duration::from_micros(20));
        }
        // A status outside the cached range still counts.
        m.request(Route::Verify, 99, Duration::from_micros(20));
        m.request(Route::of(true, "/metrics"), 200, Duration::from_micros(20));
        let text = m.registry_text();
        assert!(text.contains(&format!("{} 3\n", line("410"))), "{text}");
        assert!(text.contains(&format!("{} 1\n", line("99"))), "{text}");
        assert!(text.contains("passcode_http_requests_total{route=\"metrics\",status=\"200\"} 1\n"), "{text}");
        assert!(text.contains("passcode_http_request_seconds_count{route=\"verify\"} 4\n"), "{text}");
    }

    #[test]
    fn routes_are_named_by_path_and_listener() {
        let cases = [
            (false, "/passcode/verify", "verify"),
            (false, "/passcode/other", "passcode-other"),
            (false, "/ext_authz/app", "ext_authz"),
            (false, "/ext_authzx", "protected"),
            (false, "/metrics", "protected"),
            (true, "/metrics", "metrics"),
            (true, "/signin", "admin-other"),
            (true, "/healthz", "healthz"),
        ];
        for (admin, path, name) in cases {
            assert_eq!(Route::of(admin, path).name(), name, "{path} (admin: {admin})");
        }
    }

    impl Metrics {
        fn registry_text(&self) -> String {
            let mut text = String::new();
            prometheus_client::encoding::text::encode(&mut text, &self.registry).unwrap();
            text
        }
    }
}
