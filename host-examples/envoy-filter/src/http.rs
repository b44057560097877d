//! The request and response as the filter chain sees them: the head hyper parsed and the
//! whole body (bounded), and a local reply with the headers every answer of the gateway
//! carries. The wire (framing, limits, timeouts) is `server.rs`'s job; by the time a request
//! is a [`Request`] it has passed those checks.

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri, Version};

/// A request, as a filter sees it: headers and the whole body.
#[derive(Clone, Debug)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: Method,
    /// The request target (origin-form in practice; absolute-form is accepted per RFC 9112).
    pub uri: Uri,
    /// HTTP/1.0, 1.1 or 2.
    pub version: Version,
    /// The headers, after the server dropped the ones with underscores in their names.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// Whether the request came over TLS to this gateway, or (behind trusted proxies) says it
    /// did in `X-Forwarded-Proto`.
    pub secure: bool,
}

impl Request {
    /// A request with no headers and no body (for tests and benches of the filters).
    pub fn new(method: Method, uri: &str) -> Self {
        Request {
            method,
            uri: uri.parse().unwrap_or_default(),
            version: Version::HTTP_11,
            headers: HeaderMap::new(),
            body: Bytes::new(),
            secure: false,
        }
    }

    /// The path, without the query.
    pub fn path(&self) -> &str {
        self.uri.path()
    }

    /// The query string, without `?`.
    pub fn query(&self) -> &str {
        self.uri.query().unwrap_or("")
    }

    /// The first value of a header, if it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A cookie's value from the `Cookie` headers (HTTP/2 may split them over several).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v)
    }

    /// The authority the client addressed: the absolute-form target's, else `Host`'s
    /// (RFC 9112 3.2.2), which the server has checked is there exactly once on HTTP/1.1.
    pub fn authority(&self) -> Option<&str> {
        self.uri.authority().map(|a| a.as_str()).or_else(|| self.header("host"))
    }

    /// Whether the method may change state (everything but GET, HEAD, OPTIONS and TRACE).
    pub fn is_state_changing(&self) -> bool {
        !matches!(self.method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE)
    }
}

/// A local reply: status, headers, body.
#[derive(Clone, Debug)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers (several `Set-Cookie` allowed).
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
}

impl Response {
    /// A response with a body and its content type.
    pub fn new(status: u16, content_type: &'static str, body: impl Into<Bytes>) -> Self {
        // Room for the content type, the secure headers and a cookie or two: one allocation.
        let mut headers = HeaderMap::with_capacity(8);
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        Response { status, headers, body: body.into() }
    }

    /// A response without a body.
    pub fn empty(status: u16) -> Self {
        Response { status, headers: HeaderMap::with_capacity(8), body: Bytes::new() }
    }

    /// A JSON response.
    pub fn json(status: u16, value: &impl serde::Serialize) -> Self {
        // Serializing the gateway's own answers (strings, numbers, maps with string keys)
        // cannot fail.
        Response::new(status, "application/json", serde_json::to_vec(value).unwrap_or_default())
    }

    /// The JSON refusal every layer uses: `{"error": name, "message": text}`, with the tries
    /// left after a wrong code and the seconds to wait when there is a wait.
    pub fn error(status: u16, error: &str, message: &str) -> Self {
        Response::json(status, &Refusal { error, message, attempts_left: None, retry_after: None })
    }

    /// Adds a header (another value if it is already there). A value this crate built that
    /// is not a valid header value (a CR, an LF, a NUL) is left out, never sent.
    pub fn with_header(mut self, name: &'static str, value: impl AsRef<str>) -> Self {
        if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
            self.headers.append(HeaderName::from_static(name), v);
        }
        self
    }

    /// Sets a header, replacing any value it had: headers that must appear once.
    pub fn set_header(&mut self, name: &'static str, value: impl AsRef<str>) {
        if let Ok(v) = HeaderValue::from_str(value.as_ref()) {
            self.headers.insert(HeaderName::from_static(name), v);
        }
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Whether the body is an HTML page.
    pub fn is_html(&self) -> bool {
        self.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|c| c.starts_with("text/html"))
    }

    /// The headers every answer of the gateway carries: not sniffed, no Referer leaving, not
    /// stored by caches; and on HTML pages, no framing (a page that sets its own
    /// Content-Security-Policy already says `frame-ancestors 'none'`).
    pub fn secure_headers(mut self) -> Self {
        // Static values: every answer carries them, so none is copied per request.
        let h = &mut self.headers;
        h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
        h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.is_html() {
            let h = &mut self.headers;
            if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
                h.insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
                );
            }
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        }
        self
    }
}

/// A refusal's JSON body. The fields are in the order `serde_json`'s maps print them
/// (alphabetical), as the answers have always been written.
#[derive(serde::Serialize)]
pub struct Refusal<'a> {
    /// Tries left, after a wrong code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempts_left: Option<u32>,
    /// The error's stable name.
    pub error: &'a str,
    /// What went wrong, for a person.
    pub message: &'a str,
    /// Seconds to wait, for limits and temporary locks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}
