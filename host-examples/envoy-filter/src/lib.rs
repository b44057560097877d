//! An Envoy-style sign-in gateway that hosts the Passcode WASI component with wasmtime.
//!
//! - [`host`] loads the component, gives each worker thread its own instance and backs the
//!   imported `store` with one map shared by every worker (compare-and-swap).
//! - [`filter`] is the Envoy-style filter chain: headers and body in, continue or a local
//!   reply out; the sign-in API, page and ext_authz check live there.
//! - [`gateway`] is the listener, the worker threads, the router to the upstream and delivery
//!   (`passcode-delivery`: SMTP, SMS providers, or the DEVELOPMENT-ONLY outbox by default).
//! - [`session`] signs the session cookie.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod filter;
pub mod gateway;
pub mod host;
pub mod http;
pub mod page;
pub mod session;
