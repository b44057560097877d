//! Passcode delivery: codes reach real inboxes and phones.
//!
//! Beside the engine (`passcode-core`, which does no I/O), this crate sends what the engine
//! renders: email over SMTP with lettre, SMS through a Twilio-compatible Messages API or a
//! webhook signed per Standard Webhooks with ureq, or, in development, files in an outbox. It
//! retries what can safely be retried, falls back to a second SMS provider, and does all of it
//! off the request path, on a bounded queue with worker threads, reporting every step as an
//! event that carries the engine's pseudonym and never the code, the address or the number.
//!
//! ```no_run
//! use passcode_core::{Channel, Config, Engine, IssueRequest, Purpose};
//! use passcode_delivery::{Delivery, Outgoing};
//!
//! let config = Config::parse(&std::fs::read_to_string("passcode.toml")?)?;
//! let engine = Engine::from_config(&config)?;
//! let delivery = Delivery::from_config(&config)?;
//!
//! // Reserve a place first: a code is never issued that the queue would then refuse.
//! let slot = delivery.reserve(Channel::Email)?;
//! let issued = engine.issue(&IssueRequest {
//!     channel: Channel::Email,
//!     identifier: "jane@example.com",
//!     purpose: Purpose::SignIn,
//!     client: Some("203.0.113.7"),
//!     locale: None,
//! })?;
//! slot.send(Outgoing::from_issued(&issued))?; // queued; sent by a worker, with retries
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod dkim;
pub mod error;
pub mod events;
mod http;
pub mod outbox;
mod queue;
pub mod route;
pub mod secret;
pub mod sender;
pub mod sms_api;
pub mod smtp;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use passcode_core::delivery_config::{DeliveryConfig, SMS_FALLBACK_FIELDS, SMS_FIELDS};
use passcode_core::{Channel, Clock, Config, SystemClock};

pub use error::{Error, DELIVERY_ERROR_TABLE};
pub use events::{
    DeliveryEvent, DeliveryEventKind, DeliveryEventLog, DeliveryEventSink, DeliveryStats, NoDeliveryEvents,
};
pub use outbox::OutboxSender;
pub use queue::{ShutdownReport, Slot};
pub use route::RetryPolicy;
pub use sender::{Content, Failure, Outgoing, Receipt, SendError, Sender};
pub use sms_api::SmsApiSender;
pub use smtp::SmtpSender;
pub use webhook::WebhookSender;

/// The senders of each channel, in the order they are tried.
#[derive(Clone, Default)]
pub struct Routes {
    /// Email senders.
    pub email: Vec<Arc<dyn Sender>>,
    /// SMS senders (the first, then its fallbacks).
    pub sms: Vec<Arc<dyn Sender>>,
}

impl Routes {
    /// The senders a `[delivery]` section names, built (secrets read, keys parsed, roots
    /// loaded). The outbox serves each channel that has no other sender.
    pub fn from_config(d: &DeliveryConfig) -> Result<Routes, Error> {
        d.validate()?;
        let mut routes = Routes::default();
        if let Some(e) = &d.email {
            routes.email.push(Arc::new(SmtpSender::from_config(e)?));
        }
        for name in d.sms_route() {
            let sender: Arc<dyn Sender> = match name {
                "sms" => Arc::new(SmsApiSender::from_config("sms", d.sms.as_ref().expect("validated"), &SMS_FIELDS)?),
                "sms_fallback" => Arc::new(SmsApiSender::from_config(
                    "sms_fallback",
                    d.sms_fallback.as_ref().expect("validated"),
                    &SMS_FALLBACK_FIELDS,
                )?),
                _ => Arc::new(WebhookSender::from_config(d.webhook.as_ref().expect("validated"))?),
            };
            routes.sms.push(sender);
        }
        if let Some(o) = &d.outbox {
            let (email, sms) = OutboxSender::pair(std::path::Path::new(&o.dir), o.print)?;
            if routes.email.is_empty() {
                routes.email.push(Arc::new(email));
            }
            if routes.sms.is_empty() {
                routes.sms.push(Arc::new(sms));
            }
        }
        Ok(routes)
    }
}

/// Builds a [`Delivery`] with parts of the host's own.
pub struct DeliveryBuilder {
    config: DeliveryConfig,
    routes: Option<Routes>,
    events: Arc<dyn DeliveryEventSink>,
    clock: Arc<dyn Clock>,
}

impl DeliveryBuilder {
    /// The event sink (default: none).
    pub fn events(mut self, events: Arc<dyn DeliveryEventSink>) -> Self {
        self.events = events;
        self
    }

    /// The clock events are stamped with (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The host's own senders instead of the config's.
    pub fn routes(mut self, routes: Routes) -> Self {
        self.routes = Some(routes);
        self
    }

    /// Builds the senders and starts the workers.
    pub fn build(self) -> Result<Delivery, Error> {
        self.config.validate()?;
        let routes = match self.routes {
            Some(r) => r,
            None => Routes::from_config(&self.config)?,
        };
        let queue = queue::Queue::start(
            self.config.queue_capacity as usize,
            self.config.workers as usize,
            routes.email,
            routes.sms,
            RetryPolicy::from_config(&self.config),
            self.events,
            self.clock,
        )
        .map_err(|_| {
            Error::Config(passcode_core::Error::PolicyOutOfBounds {
                field: "delivery.workers",
                reason: "the worker threads could not be started".into(),
            })
        })?;
        Ok(Delivery { queue, shutdown_bound: Duration::from_millis(self.config.shutdown_ms) })
    }
}

/// Delivery: the senders of each channel, the bounded queue and its workers. Safe to share
/// between threads. Dropping it shuts it down (see [`Delivery::shutdown`]).
pub struct Delivery {
    queue: queue::Queue,
    shutdown_bound: Duration,
}

impl std::fmt::Debug for Delivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delivery").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

impl Delivery {
    /// Delivery as the config's `[delivery]` section says.
    pub fn from_config(config: &Config) -> Result<Delivery, Error> {
        Delivery::builder(config).build()
    }

    /// A builder, to bring the host's event sink, clock or senders.
    pub fn builder(config: &Config) -> DeliveryBuilder {
        DeliveryBuilder {
            config: config.delivery.clone(),
            routes: None,
            events: Arc::new(NoDeliveryEvents),
            clock: Arc::new(SystemClock),
        }
    }

    /// Whether some sender serves the channel.
    pub fn has_route(&self, channel: Channel) -> bool {
        self.queue.has_route(channel)
    }

    /// Whether a message could be queued now (for a host that must answer the same way for an
    /// account it does not know).
    pub fn has_room(&self) -> bool {
        self.queue.has_room()
    }

    /// Reserves a place in the queue for a message of `channel`: `NoSender`, `QueueFull` (at
    /// once, never blocking) or `Stopped` otherwise.
    pub fn reserve(&self, channel: Channel) -> Result<Slot, Error> {
        self.queue.reserve(Some(channel))
    }

    /// Reserves a place for a message whose channel is not known yet (a resend, where the
    /// channel is sealed in the token); [`Slot::send`] then checks the channel has a sender.
    pub fn reserve_any(&self) -> Result<Slot, Error> {
        self.queue.reserve(None)
    }

    /// Queues a message (reserve and send in one step).
    pub fn send(&self, message: Outgoing) -> Result<(), Error> {
        self.reserve(message.channel)?.send(message)
    }

    /// Sends a message now, on this thread, through the same route, retries and fallback, and
    /// returns the provider's receipt (for an operator's test send; hosts use the queue).
    pub fn send_now(&self, message: &Outgoing) -> Result<Receipt, Error> {
        self.queue.send_now(message)
    }

    /// Counts since start.
    pub fn stats(&self) -> DeliveryStats {
        self.queue.stats()
    }

    /// Stops taking messages, lets the workers drain the queue for at most `within`, then
    /// gives up what is left. Later calls return at once.
    pub fn shutdown(&self, within: Duration) -> ShutdownReport {
        self.queue.shutdown(within)
    }
}

impl Drop for Delivery {
    fn drop(&mut self) {
        self.queue.shutdown(self.shutdown_bound);
    }
}
