//! The router's upstream: signed-in requests go on over HTTP/1.1 with pooled connections,
//! as a reverse proxy sends them. Hop-by-hop headers are dropped both ways (RFC 9110 7.6.1);
//! the gateway's identity headers were set by the filters; `X-Forwarded-For` gets the peer
//! appended and `X-Forwarded-Proto` says what the client used. The answer's body streams
//! through; its head must come within the upstream timeout.

use std::net::IpAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http_body_util::{Either, Full};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::http::{Request, Response};
use crate::server::Body;

/// Headers that describe one connection, never forwarded.
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Drops hop-by-hop headers, and those the `Connection` header names.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|n| HeaderName::from_bytes(n.trim().as_bytes()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(*name);
    }
}

/// The protected upstream.
pub struct Upstream {
    authority: http::uri::Authority,
    client: Client<HttpConnector, Full<Bytes>>,
    timeout: Duration,
}

impl Upstream {
    /// The upstream at `http://host:port`.
    pub fn new(url: &str, timeout: Duration) -> Result<Upstream, String> {
        let authority = url
            .strip_prefix("http://")
            .map(|a| a.trim_end_matches('/'))
            .and_then(|a| a.parse::<http::uri::Authority>().ok())
            .ok_or(format!("the upstream must be an http://host:port URL: {url}"))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(64)
            .build(connector);
        Ok(Upstream { authority, client, timeout })
    }

    /// Sends the request on and returns the answer (or 502/504 when the upstream fails).
    pub async fn forward(&self, request: Request, peer: IpAddr) -> hyper::Response<Body> {
        let target = request.uri.path_and_query().map_or("/", |p| p.as_str());
        let uri = match format!("http://{}{target}", self.authority).parse::<http::Uri>() {
            Ok(uri) => uri,
            Err(_) => return failed(400, "bad-request", "the request target cannot be forwarded"),
        };
        let mut headers = request.headers;
        strip_hop_by_hop(&mut headers);
        headers.remove(http::header::CONTENT_LENGTH);
        if let Ok(host) = HeaderValue::from_str(self.authority.as_str()) {
            headers.insert(http::header::HOST, host);
        }
        let forwarded = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(before) => format!("{before}, {peer}"),
            None => peer.to_string(),
        };
        if let Ok(v) = HeaderValue::from_str(&forwarded) {
            headers.insert("x-forwarded-for", v);
        }
        headers.insert("x-forwarded-proto", HeaderValue::from_static(if request.secure { "https" } else { "http" }));
        let mut outgoing = hyper::Request::new(Full::new(request.body));
        *outgoing.method_mut() = request.method;
        *outgoing.uri_mut() = uri;
        *outgoing.headers_mut() = headers;
        match tokio::time::timeout(self.timeout, self.client.request(outgoing)).await {
            Ok(Ok(answer)) => {
                let (mut parts, body) = answer.into_parts();
                strip_hop_by_hop(&mut parts.headers);
                hyper::Response::from_parts(parts, Either::Right(body))
            }
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "the upstream failed");
                failed(502, "bad-gateway", "the upstream failed")
            }
            Err(_) => {
                tracing::warn!("the upstream did not answer in time");
                failed(504, "gateway-timeout", "the upstream did not answer in time")
            }
        }
    }
}

fn failed(status: u16, error: &str, message: &str) -> hyper::Response<Body> {
    crate::server::local(Response::error(status, error, message).secure_headers())
}
