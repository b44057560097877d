//! Passcode core: a one-time-passcode engine for email and SMS.
//!
//! It issues random single-use codes (six digits by default, NIST SP 800-63B), keeps only
//! keyed hashes of them, binds each to its subject, purpose and challenge, expires them,
//! caps wrong tries per challenge and failures per subject across every challenge, throttles
//! sends, and renders messages that phones autofill. It does no network I/O: delivery,
//! shared stores and bindings live in other crates and call this one.
//!
//! ```
//! use passcode_core::{Channel, Config, Engine, IssueRequest, Purpose};
//!
//! let engine = Engine::from_config(&Config::default())?;
//! let issued = engine.issue(&IssueRequest {
//!     channel: Channel::Email,
//!     identifier: "jane@example.com",
//!     purpose: Purpose::SignIn,
//!     client: Some("203.0.113.7"),
//!     locale: None,
//! })?;
//! // Deliver issued.message to issued.recipient; keep issued.token in the session.
//! let verified = engine.verify(&issued.token, &issued.code)?;
//! assert_eq!(verified.identifier, "jane@example.com");
//! # Ok::<(), passcode_core::Error>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod clock;
mod code;
pub mod config;
mod decide;
pub mod delivery_config;
mod engine;
pub mod error;
pub mod event;
#[cfg(feature = "bench")]
#[doc(hidden)]
pub mod floor;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
pub mod identifier;
pub mod keys;
mod mac;
pub mod message;
pub mod policy;
pub mod random;
mod record;
pub mod store;
mod token;
mod unicode;

pub use clock::{Clock, ManualClock, SystemClock};
pub use code::{generate as generate_code, MAX_CODE_INPUT_BYTES};
pub use config::Config;
pub use engine::{Engine, EngineBuilder, IssueRequest, Issued, SubjectStatus, Verified};
pub use error::{Error, LimitScope, ERROR_TABLE};
pub use event::{Event, EventKind, EventLog, EventSink};
pub use identifier::{Channel, Identifier, PhoneType, Purpose};
pub use keys::{KeyLocation, KeyReader, KeyRing};
pub use message::{EmailMessage, Message, SecretText, SmsEncoding, SmsMessage};
pub use policy::{Alphabet, NumberTypeRules, Policy};
pub use random::{OsRandom, Random};
pub use store::{Change, Expected, MemoryStore, Store, StoreError, StoreKey};
pub use token::{MAX_ACCOUNT_BYTES, MAX_TOKEN_BYTES};

/// This crate's version, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
