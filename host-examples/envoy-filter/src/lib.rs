//! An Envoy-style sign-in gateway that hosts the Passcode WASI component with wasmtime.
//!
//! - [`host`] loads the component, gives each worker its own instance and backs the imported
//!   `store` with one map shared by every worker (compare-and-swap), or Redis.
//! - [`server`] is the wire: hyper on tokio (HTTP/1.1, HTTP/2, TLS), connection caps,
//!   timeouts, framing checks, graceful shutdown; [`proxy`] sends signed-in requests upstream.
//! - [`filter`] is the Envoy-style filter chain: headers and body in, continue or a local
//!   reply out; the sign-in API, page and ext_authz check live there.
//! - [`gateway`] is the configuration and the gateway's life, with delivery
//!   (`passcode-delivery`: SMTP, SMS providers, or the DEVELOPMENT-ONLY outbox by default);
//!   [`options`] lists every option once, as a flag and a config file key.
//! - [`session`] signs session cookies and keeps them revocable in the store; [`metrics`]
//!   counts for Prometheus.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod filter;
pub mod gateway;
pub mod host;
pub mod http;
pub mod metrics;
pub mod options;
pub mod page;
pub mod proxy;
pub mod server;
pub mod session;
