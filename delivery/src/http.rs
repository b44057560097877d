//! What the HTTP senders (the Messages API and the webhook) share: a ureq agent with the
//! right timeouts and roots, and the reading of an answer into a [`SendError`] class.
//!
//! The agent never follows redirects (a provider's redirect is a misconfiguration, and
//! following it would re-send a form carrying the message), reads at most 64 KiB of an
//! answer, and reuses a kept-alive connection only within a few seconds of its last use: a
//! connection the provider closed meanwhile would fail after the request went out, an outcome
//! that cannot be retried safely.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use passcode_core::Error;
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::sender::{clean_provider_id, Failure, SendError};

/// The most bytes of a provider's answer read.
const MAX_ANSWER_BYTES: u64 = 64 * 1024;
/// How long an idle kept-alive connection may be reused (see above).
const MAX_IDLE_AGE: Duration = Duration::from_secs(4);

/// The system's roots (`/etc/ssl/certs`), read once; Mozilla's when the system has none.
fn system_roots() -> RootCerts {
    static ROOTS: OnceLock<RootCerts> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let found = rustls_native_certs::load_native_certs();
            let certs: Vec<Certificate<'static>> =
                found.certs.iter().map(|c| Certificate::from_der(c.as_ref()).to_owned()).collect();
            if certs.is_empty() {
                RootCerts::WebPki
            } else {
                RootCerts::Specific(Arc::new(certs))
            }
        })
        .clone()
}

/// Only the certificates of a PEM file.
fn file_roots(field: &'static str, path: &str) -> Result<RootCerts, Error> {
    let bad = |reason: String| Error::PolicyOutOfBounds { field, reason };
    let pem = std::fs::read(path).map_err(|e| bad(format!("the CA file cannot be read ({:?})", e.kind())))?;
    let mut certs = Vec::new();
    for item in ureq::tls::parse_pem(&pem) {
        if let Ok(PemItem::Certificate(c)) = item {
            certs.push(c);
        }
    }
    if certs.is_empty() {
        return Err(bad("the CA file holds no PEM certificate".into()));
    }
    Ok(RootCerts::Specific(Arc::new(certs)))
}

/// An agent for one provider.
pub(crate) fn agent(
    ca_field: &'static str,
    ca_file: Option<&str>,
    connect_timeout: Duration,
    total_timeout: Duration,
) -> Result<ureq::Agent, Error> {
    let roots = match ca_file {
        Some(path) => file_roots(ca_field, path)?,
        None => system_roots(),
    };
    let config = ureq::Agent::config_builder()
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .timeout_connect(Some(connect_timeout))
        .timeout_global(Some(total_timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .max_idle_age(MAX_IDLE_AGE)
        .user_agent(concat!("passcode-delivery/", env!("CARGO_PKG_VERSION")))
        .build();
    Ok(config.into())
}

/// A failure before any answer: by the step it happened at.
pub(crate) fn classify_transport(e: &ureq::Error) -> SendError {
    use std::io::ErrorKind;
    use ureq::Timeout;
    match e {
        ureq::Error::Timeout(Timeout::Resolve | Timeout::Connect | Timeout::SendRequest | Timeout::SendBody) => {
            SendError::new(Failure::NotSent, "the request could not be sent in time")
        }
        ureq::Error::Timeout(_) => {
            SendError::new(Failure::Unknown, "no answer came in time after the request was sent")
        }
        ureq::Error::HostNotFound | ureq::Error::ConnectionFailed => {
            SendError::new(Failure::NotSent, "the provider could not be reached")
        }
        ureq::Error::Io(io)
            if matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::AddrNotAvailable
                    | ErrorKind::NetworkUnreachable
                    | ErrorKind::HostUnreachable
            ) =>
        {
            SendError::new(Failure::NotSent, "the provider could not be reached")
        }
        ureq::Error::Tls(_) | ureq::Error::Rustls(_) | ureq::Error::Pem(_) | ureq::Error::TlsRequired => {
            SendError::new(
                Failure::Refused,
                "TLS failed (the provider's certificate is not trusted, or the handshake failed)",
            )
        }
        ureq::Error::BadUri(_) | ureq::Error::Http(_) | ureq::Error::RequireHttpsOnly(_) => {
            SendError::new(Failure::Refused, "the provider's URL is not usable")
        }
        _ => SendError::new(Failure::Unknown, "the exchange failed after the request was sent"),
    }
}

/// `Retry-After`: seconds, or an HTTP date.
pub(crate) fn retry_after(value: Option<&str>) -> Option<Duration> {
    let v = value?.trim();
    if let Ok(seconds) = v.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(std::time::SystemTime::now()).unwrap_or(Duration::ZERO))
}

/// A provider's answer that is not a success, by its status.
pub(crate) fn classify_status(status: u16, retry_after: Option<Duration>, provider_code: Option<String>) -> SendError {
    let err = match status {
        408 => SendError::new(Failure::Busy { retry_after }, "the provider timed the request out"),
        429 => SendError::new(Failure::Busy { retry_after }, "the provider is limiting our rate"),
        500..=599 => SendError::new(Failure::Busy { retry_after }, "the provider failed"),
        401 | 403 => SendError::new(Failure::Refused, "the provider refused our credentials"),
        300..=399 | 404 | 405 => SendError::new(Failure::Refused, "the provider's URL is wrong"),
        400..=499 => SendError::new(Failure::Rejected, "the provider refused the message"),
        _ => SendError::new(Failure::Unknown, "the provider answered with an unexpected status"),
    };
    err.with_status(status).with_provider_code(provider_code)
}

/// Reads an answer's JSON body, if it has one within the size limit.
pub(crate) fn read_json(response: &mut ureq::http::Response<ureq::Body>) -> Option<serde_json::Value> {
    let bytes = response.body_mut().with_config().limit(MAX_ANSWER_BYTES).read_to_vec().ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A JSON field as a provider code or id: a number, or a clean string.
pub(crate) fn json_token(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::String(s) => clean_provider_id(s),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_by_what_a_retry_can_do() {
        assert_eq!(classify_status(503, None, None).failure, Failure::Busy { retry_after: None });
        let ra = Some(Duration::from_secs(2));
        assert_eq!(classify_status(429, ra, None).failure, Failure::Busy { retry_after: ra });
        assert_eq!(classify_status(400, None, Some("21211".into())).failure, Failure::Rejected);
        assert_eq!(classify_status(401, None, None).failure, Failure::Refused);
        assert_eq!(classify_status(302, None, None).failure, Failure::Refused, "redirects are not followed");
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(retry_after(Some("3")), Some(Duration::from_secs(3)));
        assert_eq!(retry_after(Some("Wed, 21 Oct 2015 07:28:00 GMT")), Some(Duration::ZERO), "a past date");
        let later = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(120));
        let d = retry_after(Some(&later)).unwrap();
        assert!(d > Duration::from_secs(110) && d <= Duration::from_secs(120), "{d:?}");
        assert_eq!(retry_after(Some("soon")), None);
        assert_eq!(retry_after(None), None);
    }
}
