//! What the gateway counts, for Prometheus (`/metrics` on the admin listener, OpenMetrics text
//! by `prometheus-client`): issues, verifies by outcome, locks, limits hit, deliveries by
//! outcome, latencies of engine calls and of requests, connections and refusals.
//!
//! Labels are channel, purpose, operation, outcome and route: small fixed sets. Never an
//! identifier, a client address, a code or a path an upstream might put one in.

use std::sync::Arc;
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
struct Route {
    route: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteStatus {
    route: &'static str,
    status: u16,
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
type RouteSeconds = Family<Route, Histogram, fn() -> Histogram>;

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
        let mut registry = Registry::with_prefix("passcode");
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
        };
        registry.register(
            "engine_operations",
            "Engine operations (start and resend issue a code, verify checks one) by outcome: sent, verified, or the engine's error name",
            m.outcomes.clone(),
        );
        registry.register(
            "locks",
            "Answers refused because the subject is locked (the answer that locks it included), temporary or hard",
            m.locks.clone(),
        );
        registry.register(
            "limits",
            "Sends refused by a limit: resend-cooldown, subject, client, country, destination-blocked",
            m.limits.clone(),
        );
        registry.register(
            "engine_operation_seconds",
            "Time in the engine (the component and its store) per operation",
            m.operation_seconds.clone(),
        );
        registry.register(
            "deliveries",
            "Delivery steps by outcome: queued, retried, sent, failed",
            m.deliveries.clone(),
        );
        registry.register("delivery_failures", "Messages given up, by reason", m.delivery_failures.clone());
        registry.register(
            "delivery_refusals",
            "Sends refused before a code was issued: queue-full, no-sender, stopped",
            m.delivery_refused.clone(),
        );
        registry.register("delivery_waiting", "Messages waiting in the delivery queue", m.delivery_waiting.clone());
        registry.register("http_requests", "Requests answered, by route and status", m.requests.clone());
        registry.register(
            "http_request_seconds",
            "Time from the request head to the answer's head, by route",
            m.request_seconds.clone(),
        );
        registry.register(
            "http_refusals",
            "Requests refused: missing-host, repeated-host, bad-host, body-too-large, body, body-timeout, cross-site",
            m.refused_requests.clone(),
        );
        registry.register("connections_open", "Client connections open now", m.connections_open.clone());
        registry.register(
            "connection_refusals",
            "Connections closed at once: over the per-client cap, or the total cap",
            m.refused_connections.clone(),
        );
        registry.register("sessions", "Sessions created, revoked (signed out) and refused", m.sessions.clone());
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
    pub fn request(&self, route: &'static str, status: u16, took: Duration) {
        self.requests.get_or_create(&RouteStatus { route, status }).inc();
        self.request_seconds.get_or_create(&Route { route }).observe(took.as_secs_f64());
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
