//! The Envoy-style filter chain: each filter sees the request's headers and whole body and
//! either lets it continue down the chain (and on to the upstream), or answers it itself
//! with a local reply, as Envoy's `decodeHeaders`/`decodeData` return `Continue` or call
//! `sendLocalReply`.
//!
//! The chain, in order:
//! 1. [`StripIdentityHeaders`]: drops every header with an underscore in its name (a CGI or
//!    WSGI upstream would merge `X_Passcode_Subject` with `X-Passcode-Subject`) and every
//!    header the gateway itself sets to the upstream, however it is spelt, so only the
//!    gateway can name the signed-in subject.
//! 2. [`PasscodeFilter`]: the sign-in page, the JSON API and the ext_authz check; each is a
//!    local reply. This is where the component runs, on the worker's own instance. Every
//!    state-changing request must come from the gateway's own origin (`Origin`,
//!    `Sec-Fetch-Site`).
//! 3. [`RequireSession`]: everything else needs a live session (signed cookie, and its record
//!    still in the store); with one, the request continues with `x-passcode-subject` and
//!    `x-passcode-channel` added; without, a browser is sent to the sign-in page and an API
//!    client gets 401.

use std::borrow::Cow;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderName, Method};
use serde_json::{json, Value};

use crate::host::{
    attempts_left, error_name, retry_after, Channel, ComponentHost, EngineError, IssueRequest, Issued, LimitScope,
    Message, Purpose, Worker,
};
use crate::http::{Refusal, Request, Response};
use crate::metrics::{Metrics, Operation};
use crate::page;
use crate::session::{Session, SessionError, Sessions, SESSION_COOKIE};

/// The challenge cookie's name. It holds the flow's channel and purpose (for metrics) and the
/// engine's opaque challenge token: `email.sign-in.<token>`.
pub const CHALLENGE_COOKIE: &str = "passcode_challenge";

/// The headers the gateway sets on requests to the upstream (and in ext_authz answers). A
/// client's own, in any spelling, are dropped first.
pub const IDENTITY_HEADER_PREFIX: &str = "x-passcode-";

/// What a filter decided.
#[derive(Debug)]
pub enum FilterStatus {
    /// Go on to the next filter, then the upstream.
    Continue,
    /// Answer now; later filters and the upstream never see the request.
    LocalReply(Response),
}

/// One filter of the chain.
pub trait HttpFilter: Send + Sync {
    /// Sees a request's headers and body; may change them.
    fn on_request(&self, request: &mut Request, cx: &mut FilterContext<'_>) -> FilterStatus;
}

/// What the gateway's filters share across workers: settings, delivery, sessions, metrics.
#[derive(Debug)]
pub struct Shared {
    /// The application's name, on pages.
    pub app_name: String,
    /// The senders and their queue (the DEVELOPMENT outbox when the config names none).
    pub delivery: passcode_delivery::Delivery,
    /// Session cookies and their live records in the engine's store.
    pub sessions: Sessions,
    /// How long a session lasts, seconds.
    pub session_seconds: u64,
    /// When set, only these subjects (normalised) are sent codes and allowed through; every
    /// other identifier gets the same answer and no message.
    pub accounts: Option<Vec<String>>,
    /// How many proxies in front of the gateway append to `X-Forwarded-For` (0: the TCP peer
    /// is the client).
    pub xff_trusted_hops: usize,
    /// The origin browsers use, if configured; else the request's own `Host`.
    pub public_origin: Option<String>,
    /// The counts.
    pub metrics: Arc<Metrics>,
}

/// A worker's own component instance, reopened if a call ever traps.
pub struct WorkerSlot {
    host: Arc<ComponentHost>,
    config: String,
    worker: Option<Worker>,
}

impl WorkerSlot {
    /// A slot that opens its engine from `config` on first use.
    pub fn new(host: Arc<ComponentHost>, config: String) -> Self {
        WorkerSlot { host, config, worker: None }
    }

    /// Opens the instance now, to report a bad config at startup.
    pub fn open(&mut self) -> Result<(), String> {
        match self.host.open(&self.config) {
            Ok(Ok(w)) => {
                self.worker = Some(w);
                Ok(())
            }
            Ok(Err(e)) => Err(format!("the engine refused the config: {} ({})", error_name(&e), describe(&e))),
            Err(trap) => Err(format!("the component failed to start: {trap:#}")),
        }
    }

    /// Runs one engine call; a trap drops the instance (a new one is opened next time) and
    /// becomes `Err(())`.
    fn call<T>(
        &mut self,
        f: impl FnOnce(&mut Worker) -> Result<Result<T, EngineError>, wasmtime::Error>,
    ) -> Result<Result<T, EngineError>, ()> {
        if self.worker.is_none() && self.open().is_err() {
            return Err(());
        }
        let Some(worker) = self.worker.as_mut() else { return Err(()) };
        match f(worker) {
            Ok(r) => Ok(r),
            Err(trap) => {
                tracing::error!(error = %trap, "a component call trapped; reopening the instance");
                self.worker = None;
                Err(())
            }
        }
    }

    /// The host's clock, in Unix seconds (the time the guest sees).
    pub fn now(&self) -> u64 {
        self.host.clock().now()
    }
}

/// What a filter may use: this worker's instance, the peer, the shared settings.
pub struct FilterContext<'a> {
    /// This worker's component instance.
    pub worker: &'a mut WorkerSlot,
    /// The TCP peer's address.
    pub peer: IpAddr,
    /// The shared settings.
    pub shared: &'a Shared,
    /// The session, once a filter has checked it.
    pub session: Option<Session>,
}

/// The client's address: the TCP peer, or behind `hops` trusted proxies the `hops`-th
/// `X-Forwarded-For` entry from the right (the address the outermost trusted proxy saw), as
/// Envoy's `xff_num_trusted_hops`. Entries to the left of it are the client's own writing and
/// never used. With fewer entries than hops, the request did not come through the proxies:
/// the peer it is.
pub fn client_address(request: &Request, peer: IpAddr, hops: usize) -> IpAddr {
    if hops == 0 {
        return peer;
    }
    let entries: Vec<&str> = request
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    entries.len().checked_sub(hops).and_then(|i| entries[i].parse::<IpAddr>().ok()).unwrap_or(peer)
}

impl FilterContext<'_> {
    fn client(&self, request: &Request) -> String {
        client_address(request, self.peer, self.shared.xff_trusted_hops).to_string()
    }

    fn allowed(&self, subject: &str) -> bool {
        self.shared.accounts.as_ref().is_none_or(|a| a.iter().any(|s| s == subject))
    }

    /// The session cookie, checked against its signature and its live record.
    fn session(&self, request: &Request) -> Result<Session, Option<SessionError>> {
        let value = request.cookie(SESSION_COOKIE).ok_or(None)?;
        let s = self.shared.sessions.check(value, self.worker.now()).map_err(Some)?;
        Ok(s)
    }
}

/// Whether a state-changing request comes from the gateway's own origin. A browser sends
/// `Sec-Fetch-Site` (all current ones) and `Origin` (on every POST); a request with neither
/// is not from a browser, and a cross-site page cannot make a browser leave them out. The
/// session cookie's `SameSite=Strict` is the other guard; this one also holds for a browser
/// that ignores it, and for requests that carry no cookie (sign-in CSRF, forced sign-out).
pub fn same_origin(request: &Request, public_origin: Option<&str>) -> bool {
    if let Some(site) = request.header("sec-fetch-site") {
        if !site.eq_ignore_ascii_case("same-origin") {
            return false;
        }
    }
    let Some(origin) = request.header("origin") else { return true };
    let origin = origin.trim().to_ascii_lowercase();
    match public_origin {
        Some(expected) => origin == expected,
        None => {
            let Some((scheme, host)) = origin.split_once("://") else { return false };
            let own = request.authority().unwrap_or("").to_ascii_lowercase();
            without_default_port(scheme, host) == without_default_port(scheme, &own)
        }
    }
}

fn without_default_port<'a>(scheme: &str, authority: &'a str) -> &'a str {
    let default = if scheme == "https" { ":443" } else { ":80" };
    authority.strip_suffix(default).unwrap_or(authority)
}

fn cross_site() -> Response {
    json_error(403, "cross-site", "this request must come from the sign-in page's own origin")
}

/// Whether a header name is one the gateway sets, however it is spelt: read as a CGI or WSGI
/// server would, any punctuation standing for `-` (names are lowercase already).
fn is_identity_header(name: &HeaderName) -> bool {
    let (name, prefix) = (name.as_str().as_bytes(), IDENTITY_HEADER_PREFIX.as_bytes());
    name.len() > prefix.len()
        && name.iter().zip(prefix).all(|(n, p)| if *p == b'-' { !n.is_ascii_alphanumeric() } else { n == p })
}

/// Removes client-sent identity headers and headers with underscores in their names.
pub struct StripIdentityHeaders;

impl HttpFilter for StripIdentityHeaders {
    fn on_request(&self, request: &mut Request, _: &mut FilterContext<'_>) -> FilterStatus {
        let doomed: Vec<HeaderName> =
            request.headers.keys().filter(|n| n.as_str().contains('_') || is_identity_header(n)).cloned().collect();
        for name in doomed {
            request.headers.remove(name);
        }
        FilterStatus::Continue
    }
}

/// The sign-in page, the JSON API (`/passcode/start`, `/passcode/verify`,
/// `/passcode/resend`, `/passcode/signout`) and the ext_authz check (`/ext_authz/...`).
pub struct PasscodeFilter;

impl HttpFilter for PasscodeFilter {
    fn on_request(&self, request: &mut Request, cx: &mut FilterContext<'_>) -> FilterStatus {
        let path = request.path();
        let is_api = path.starts_with("/passcode/");
        if is_api && request.method == Method::POST && !same_origin(request, cx.shared.public_origin.as_deref()) {
            cx.shared.metrics.refused_request("cross-site");
            return FilterStatus::LocalReply(cross_site());
        }
        let reply = match (&request.method, path) {
            (&Method::GET | &Method::HEAD, "/signin") => {
                Response::new(200, "text/html; charset=utf-8", page::signin(&cx.shared.app_name))
                    .with_header("content-security-policy", page::signin_csp())
            }
            (&Method::POST, "/passcode/start") => with_json(request, |body| start(request, body, cx)),
            (&Method::POST, "/passcode/verify") => verify(request, cx),
            (&Method::POST, "/passcode/resend") => with_json(request, |_| resend(request, cx)),
            (&Method::POST, "/passcode/signout") => signout(request, cx),
            _ if is_api => json_error(405, "method-not-allowed", "use POST").with_header("allow", "POST"),
            (_, p) if p == "/ext_authz" || p.starts_with("/ext_authz/") => ext_authz(request, cx),
            _ => return FilterStatus::Continue,
        };
        FilterStatus::LocalReply(reply)
    }
}

/// Lets through only requests with a live session, adding who it is for the upstream.
pub struct RequireSession;

impl HttpFilter for RequireSession {
    fn on_request(&self, request: &mut Request, cx: &mut FilterContext<'_>) -> FilterStatus {
        match cx.session(request) {
            Ok(s) if cx.allowed(&s.subject) => {
                if request.is_state_changing() && !same_origin(request, cx.shared.public_origin.as_deref()) {
                    cx.shared.metrics.refused_request("cross-site");
                    return FilterStatus::LocalReply(cross_site());
                }
                if let (Ok(subject), Ok(channel)) = (s.subject.parse(), s.channel.parse()) {
                    request.headers.insert("x-passcode-subject", subject);
                    request.headers.insert("x-passcode-channel", channel);
                }
                cx.session = Some(s);
                FilterStatus::Continue
            }
            refused => {
                if let Err(Some(e)) = &refused {
                    cx.shared.metrics.session(if *e == SessionError::Revoked { "revoked-refused" } else { "refused" });
                }
                let browser =
                    request.method == Method::GET && request.header("accept").is_some_and(|a| a.contains("text/html"));
                FilterStatus::LocalReply(if browser {
                    Response::new(302, "text/plain", "sign in first").with_header("location", "/signin")
                } else {
                    json_error(401, "no-session", "sign in first")
                })
            }
        }
    }
}

/// Envoy's HTTP ext_authz check: 200 with the subject for the upstream, 401 without a live
/// session, 403 for a live session whose subject is no longer among the accounts, or for a
/// state-changing request from another origin (Envoy passes `Origin` and `Sec-Fetch-Site`).
fn ext_authz(request: &Request, cx: &mut FilterContext<'_>) -> Response {
    match cx.session(request) {
        Ok(s) if !cx.allowed(&s.subject) => json_error(403, "not-allowed", "this account may not use this service"),
        Ok(_) if request.is_state_changing() && !same_origin(request, cx.shared.public_origin.as_deref()) => {
            cx.shared.metrics.refused_request("cross-site");
            cross_site()
        }
        Ok(s) => Response::empty(200)
            .with_header("x-passcode-subject", s.subject)
            .with_header("x-passcode-channel", s.channel),
        Err(None) => json_error(401, "no-session", "sign in first"),
        Err(Some(SessionError::StoreUnavailable)) => {
            json_error(503, "store-unavailable", "the store is unavailable; try again")
        }
        Err(Some(e)) => {
            cx.shared.metrics.session(if e == SessionError::Revoked { "revoked-refused" } else { "refused" });
            let message = match e {
                SessionError::Expired => "the session has ended; sign in again",
                SessionError::Revoked => "the session was signed out; sign in again",
                _ => "the session cookie is not valid",
            };
            json_error(401, e.name(), message)
        }
    }
}

/// Signs out: the session's live record is deleted (so a copy of the cookie stops working on
/// every gateway sharing the store) and the browser is told to drop the cookie.
fn signout(request: &Request, cx: &mut FilterContext<'_>) -> Response {
    if let Some(value) = request.cookie(SESSION_COOKIE) {
        match cx.shared.sessions.revoke(value, cx.worker.now()) {
            Ok(true) => cx.shared.metrics.session("revoked"),
            Ok(false) => {}
            Err(_) => return json_error(503, "store-unavailable", "the store is unavailable; try again"),
        }
    }
    Response::new(303, "text/plain", "signed out")
        .with_header("location", "/signin")
        .with_header("set-cookie", clear_cookie(SESSION_COOKIE, "/", request.secure))
}

fn with_json(request: &Request, f: impl FnOnce(&Value) -> Response) -> Response {
    match json_object(request) {
        Ok(body) => f(&body),
        Err(bad) => bad.answer(),
    }
}

/// Why a request's body was refused before a handler saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BadBody {
    /// Not `application/json`: a cross-site form cannot send that without a preflight (a
    /// CSRF guard).
    MediaType,
    /// JSON, but not an object.
    NotAnObject,
}

impl BadBody {
    fn answer(self) -> Response {
        match self {
            BadBody::MediaType => {
                json_error(415, "unsupported-media-type", "send a JSON body with Content-Type: application/json")
            }
            BadBody::NotAnObject => json_error(400, "bad-request", "the body is not a JSON object"),
        }
    }
}

/// The body as a JSON object (none is `{}`).
fn json_object(request: &Request) -> Result<Value, BadBody> {
    if !json_object_type(request) {
        return Err(BadBody::MediaType);
    }
    if request.body.is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_slice(&request.body) {
        Ok(v @ Value::Object(_)) => Ok(v),
        _ => Err(BadBody::NotAnObject),
    }
}

/// Whether the request says its body is JSON (`application/json`, any case, any parameters).
fn json_object_type(request: &Request) -> bool {
    const JSON: &[u8] = b"application/json";
    let content_type = request.header("content-type").map(str::as_bytes);
    content_type.and_then(|c| c.get(..JSON.len())).is_some_and(|t| t.eq_ignore_ascii_case(JSON))
}

/// A verify request's `code`, with the same checks and answers as [`json_object`]. The body
/// nearly always is `{"code":"..."}`: that is read in place, without building a `Value`. Any
/// other object (the field missing, of another type, or repeated: the last one counts) goes
/// the general way.
fn json_code(request: &Request) -> Result<Option<Cow<'_, str>>, BadBody> {
    #[derive(serde::Deserialize)]
    struct Fields<'a> {
        #[serde(borrow)]
        code: Cow<'a, str>,
    }
    let is_object = request.body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_object && json_object_type(request) {
        if let Ok(fields) = serde_json::from_slice::<Fields<'_>>(&request.body) {
            return Ok(Some(fields.code));
        }
    }
    let body = json_object(request)?;
    Ok(body["code"].as_str().map(|c| Cow::Owned(c.to_string())))
}

fn cookie(name: &str, value: &str, path: &str, max_age: u64, secure: bool) -> String {
    let s = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{s}")
}

fn clear_cookie(name: &str, path: &str, secure: bool) -> String {
    cookie(name, "", path, 0, secure)
}

fn json_error(status: u16, error: &str, message: &str) -> Response {
    Response::error(status, error, message)
}

fn internal() -> Response {
    json_error(500, "internal", "the engine failed; try again")
}

/// A short description of a refusal, without any identifier, code or key.
pub fn describe(e: &EngineError) -> String {
    match e {
        EngineError::InvalidEmail(r) => format!("not an email address: {r}"),
        EngineError::InvalidPhone(r) => format!("not an E.164 phone number: {r}"),
        EngineError::InputTooLong(t) => format!("{} is too long (at most {} bytes)", t.field, t.max),
        EngineError::InvalidUtf8(f) => format!("{f} is not valid UTF-8"),
        EngineError::InvalidToken => "the challenge is not valid; request a new code".into(),
        EngineError::ChannelNotAllowed(_) => "this channel is not allowed for this purpose".into(),
        EngineError::InvalidClientAddress => "the client address is not an IP address".into(),
        EngineError::InvalidArgument(f) => format!("{f} has a value that is not accepted"),
        EngineError::ConfigSyntax(m) => format!("config is not valid: {m}"),
        EngineError::UnknownConfigField(f) => format!("config has an unknown field `{f}`"),
        EngineError::PolicyOutOfBounds(fr) => format!("policy field `{}`: {}", fr.field, fr.reason),
        EngineError::WeakKey(k) => format!("key {} is weak: {}", k.id, k.reason),
        EngineError::KeyUnavailable(k) => format!("key {} {}", k.id, k.reason),
        EngineError::InvalidTemplate(fr) => format!("template {}: {}", fr.field, fr.reason),
        EngineError::WrongCode(n) => format!("wrong code; {n} attempts left"),
        EngineError::Expired => "the code has expired".into(),
        EngineError::TooManyAttempts => "too many wrong attempts on this code; request a new one".into(),
        EngineError::SubjectLocked(Some(s)) => format!("too many failures; locked for {s} more seconds"),
        EngineError::SubjectLocked(None) => "too many failures; locked until an operator unlocks it".into(),
        EngineError::NotFound => "this code is no longer valid; request a new one".into(),
        EngineError::WrongCodeLocked(l) => match l.retry_after {
            Some(s) => format!("wrong code; too many failures, locked for {s} seconds"),
            None => "wrong code; too many failures, locked until an operator unlocks it".into(),
        },
        EngineError::ClockOutOfRange => "the clock is out of range".into(),
        EngineError::ResendTooSoon(s) => format!("a code was sent recently; retry in {s} seconds"),
        EngineError::SendLimit(l) => format!("send limit reached; retry in {} seconds", l.retry_after),
        EngineError::DestinationBlocked => "SMS to this destination is not allowed".into(),
        EngineError::StoreUnavailable(_) => "the store is unavailable; try again".into(),
        EngineError::Contention => "too busy; try again".into(),
        EngineError::CorruptRecord => "a stored record could not be read".into(),
        EngineError::RandomUnavailable => "the random source failed".into(),
        EngineError::Other((n, _)) => format!("refused ({n})"),
    }
}

/// The HTTP answer to an engine refusal: 400 bad input, 401 wrong code (with attempts left),
/// 410 expired or used up, 423 locked, 429 limits; `Retry-After` whenever there is a wait.
pub fn refusal(e: &EngineError) -> Response {
    let status = match e {
        EngineError::WrongCode(_) => 401,
        EngineError::Expired | EngineError::TooManyAttempts | EngineError::NotFound => 410,
        EngineError::SubjectLocked(_) | EngineError::WrongCodeLocked(_) => 423,
        EngineError::ResendTooSoon(_) | EngineError::SendLimit(_) => 429,
        EngineError::DestinationBlocked | EngineError::ChannelNotAllowed(_) => 403,
        EngineError::StoreUnavailable(_)
        | EngineError::Contention
        | EngineError::RandomUnavailable
        | EngineError::ClockOutOfRange => 503,
        EngineError::CorruptRecord | EngineError::Other(_) => 500,
        EngineError::ConfigSyntax(_)
        | EngineError::UnknownConfigField(_)
        | EngineError::PolicyOutOfBounds(_)
        | EngineError::WeakKey(_)
        | EngineError::KeyUnavailable(_)
        | EngineError::InvalidTemplate(_) => 500,
        _ => 400,
    };
    let wait = retry_after(e);
    let message = describe(e);
    let body = Refusal { error: error_name(e), message: &message, attempts_left: attempts_left(e), retry_after: wait };
    let response = Response::json(status, &body);
    match wait {
        Some(s) => response.with_header("retry-after", s.to_string()),
        None => response,
    }
}

/// The message for a code the component issued.
fn outgoing(issued: &Issued) -> passcode_delivery::Outgoing {
    use passcode_delivery::Content;
    use zeroize::Zeroizing;
    let content = match &issued.message {
        Message::Sms(s) => Content::Sms { text: Zeroizing::new(s.text.clone()) },
        Message::Email(e) => Content::Email {
            subject: Zeroizing::new(e.subject.clone()),
            text: Zeroizing::new(e.text.clone()),
            html: Zeroizing::new(e.html.clone()),
        },
    };
    passcode_delivery::Outgoing::new(
        core_purpose(issued.purpose),
        &issued.subject,
        &issued.recipient,
        content,
        &issued.code,
    )
}

fn core_purpose(p: Purpose) -> passcode_core::Purpose {
    match p {
        Purpose::SignUp => passcode_core::Purpose::SignUp,
        Purpose::SignIn => passcode_core::Purpose::SignIn,
        Purpose::SecondFactor => passcode_core::Purpose::SecondFactor,
        Purpose::VerifyContact => passcode_core::Purpose::VerifyContact,
        Purpose::Recovery => passcode_core::Purpose::Recovery,
    }
}

/// The HTTP answer when delivery cannot take a message: 503 with `Retry-After` when the queue
/// is full or stopping, 400 when the channel has no sender here.
pub fn delivery_refusal(e: &passcode_delivery::Error) -> Response {
    use passcode_delivery::Error as D;
    let (status, message) = match e {
        D::NoSender { .. } => (400, "codes cannot be sent on this channel here".to_string()),
        D::QueueFull | D::Stopped => (503, "too many messages are waiting to be sent; try again shortly".to_string()),
        other => (503, other.to_string()),
    };
    let response = Response::json(status, &json!({ "error": e.name(), "message": message }));
    if status == 503 {
        response.with_header("retry-after", "5")
    } else {
        response
    }
}

fn channel_name(c: Channel) -> &'static str {
    match c {
        Channel::Email => "email",
        Channel::Sms => "sms",
    }
}

fn purpose_name(p: Purpose) -> &'static str {
    core_purpose(p).name()
}

/// The challenge cookie's parts: the flow's channel and purpose (labels for metrics only:
/// the engine checks the token, which binds both) and the token.
fn challenge(request: &Request) -> Option<(&'static str, &'static str, &str)> {
    let value = request.cookie(CHALLENGE_COOKIE).filter(|t| !t.is_empty())?;
    let mut parts = value.splitn(3, '.');
    let labels = match (parts.next(), parts.next(), parts.next()) {
        (Some(c), Some(p), Some(token)) => {
            let channel = ["email", "sms"].into_iter().find(|n| *n == c);
            let purpose = passcode_core::Purpose::ALL.iter().map(|p| p.name()).find(|n| *n == p);
            channel.zip(purpose).map(|(c, p)| (c, p, token))
        }
        _ => None,
    };
    Some(labels.unwrap_or(("unknown", "unknown", value)))
}

/// Counts an engine call's outcome, and the locks and limits among refusals.
fn observe<T>(cx: &FilterContext<'_>, op: &Operation, outcome: &Result<Result<T, EngineError>, ()>, took: Instant) {
    let m = &cx.shared.metrics;
    let name = match outcome {
        Ok(Ok(_)) if op.operation == "verify" => "verified",
        Ok(Ok(_)) => "sent",
        Ok(Err(e)) => error_name(e),
        Err(()) => "trap",
    };
    m.operation(op, name, took.elapsed());
    match outcome {
        // A lock is counted once, by the counted wrong code that started it; the refusals
        // while it lasts are in the operations' `subject-locked` outcome.
        Ok(Err(EngineError::WrongCodeLocked(l))) => m.lock(op, l.retry_after.is_none()),
        Ok(Err(EngineError::ResendTooSoon(_))) => m.limit(op, "resend-cooldown"),
        Ok(Err(EngineError::SendLimit(l))) => m.limit(
            op,
            match l.scope {
                LimitScope::Subject => "subject",
                LimitScope::Client => "client",
                LimitScope::Country => "country",
                LimitScope::Tenant => "tenant",
            },
        ),
        Ok(Err(EngineError::DestinationBlocked)) => m.limit(op, "destination-blocked"),
        _ => {}
    }
}

/// The HTTP answer when delivery refuses, counted.
fn refused_by_delivery(cx: &FilterContext<'_>, e: &passcode_delivery::Error) -> Response {
    cx.shared.metrics.delivery_refused(e.name());
    delivery_refusal(e)
}

/// The answer to a code issued: the message goes to the delivery queue in the place reserved
/// for it, or, for an identifier that is not an account, the place is given back. Both take
/// the same steps and give the same answer (S16).
fn sent(
    issued: &Issued,
    now: u64,
    request: &Request,
    cx: &FilterContext<'_>,
    slot: passcode_delivery::Slot,
) -> Response {
    let channel = match issued.channel {
        Channel::Email => passcode_core::Channel::Email,
        Channel::Sms => passcode_core::Channel::Sms,
    };
    let sent_to =
        passcode_core::Identifier::parse(channel, &issued.recipient).map_or_else(|_| "you".into(), |i| i.masked());
    if cx.allowed(&issued.recipient) {
        if let Err(e) = slot.send(outgoing(issued)) {
            return refused_by_delivery(cx, &e);
        }
    } else {
        drop(slot);
    }
    let expires_in = issued.expires_at.saturating_sub(now);
    let value = format!("{}.{}.{}", channel.name(), purpose_name(issued.purpose), issued.token);
    Response::json(
        202,
        &json!({
            "status": "sent",
            "channel": channel.name(),
            "sent_to": sent_to,
            "expires_in": expires_in,
            "resend_in": issued.resend_at.saturating_sub(now),
        }),
    )
    .with_header("set-cookie", cookie(CHALLENGE_COOKIE, &value, "/passcode", expires_in, request.secure))
}

fn start(request: &Request, body: &Value, cx: &mut FilterContext<'_>) -> Response {
    let channel = match body["channel"].as_str() {
        Some("email") => Channel::Email,
        Some("sms") => Channel::Sms,
        _ => return json_error(400, "invalid-argument", "channel must be \"email\" or \"sms\""),
    };
    let purpose = match body["purpose"].as_str().unwrap_or("sign-in") {
        "sign-in" => Purpose::SignIn,
        "sign-up" => Purpose::SignUp,
        "second-factor" => Purpose::SecondFactor,
        "verify-contact" => Purpose::VerifyContact,
        "recovery" => Purpose::Recovery,
        _ => return json_error(400, "invalid-argument", "purpose is not one of the engine's purposes"),
    };
    let Some(identifier) = body["identifier"].as_str() else {
        return json_error(400, "invalid-argument", "identifier is required");
    };
    let issue = IssueRequest {
        channel,
        identifier: identifier.to_string(),
        purpose,
        client: Some(cx.client(request)),
        locale: None,
    };
    // A place in the delivery queue first, so no code is issued that could not be sent.
    let core_channel = match channel {
        Channel::Email => passcode_core::Channel::Email,
        Channel::Sms => passcode_core::Channel::Sms,
    };
    let slot = match cx.shared.delivery.reserve(core_channel) {
        Ok(slot) => slot,
        Err(e) => return refused_by_delivery(cx, &e),
    };
    let op = Operation { operation: "start", channel: channel_name(channel), purpose: purpose_name(purpose) };
    let now = cx.worker.now();
    let began = Instant::now();
    let outcome = cx.worker.call(|w| w.issue(&issue));
    observe(cx, &op, &outcome, began);
    match outcome {
        Ok(Ok(issued)) => sent(&issued, now, request, cx, slot),
        Ok(Err(e)) => refusal(&e),
        Err(()) => internal(),
    }
}

fn verify(request: &Request, cx: &mut FilterContext<'_>) -> Response {
    let code = match json_code(request) {
        Ok(code) => code,
        Err(bad) => return bad.answer(),
    };
    let Some((channel, purpose, token)) = challenge(request) else {
        return json_error(400, "no-challenge", "request a code first");
    };
    let Some(code) = code else {
        return json_error(400, "invalid-argument", "code is required");
    };
    let now = cx.worker.now();
    let began = Instant::now();
    let outcome = cx.worker.call(|w| w.verify(token, &code));
    let op = match &outcome {
        Ok(Ok(v)) => {
            Operation { operation: "verify", channel: channel_name(v.channel), purpose: purpose_name(v.purpose) }
        }
        _ => Operation { operation: "verify", channel, purpose },
    };
    observe(cx, &op, &outcome, began);
    match outcome {
        Ok(Ok(v)) => {
            if !cx.allowed(&v.identifier) {
                // Unreachable in practice (no code was delivered), but never sign in a subject
                // that is not an account.
                return refusal(&EngineError::NotFound);
            }
            let seconds = cx.shared.session_seconds;
            let value = match cx.shared.sessions.create(&v.identifier, op.channel, now, seconds) {
                Ok(value) => value,
                Err(_) => return json_error(503, "store-unavailable", "the store is unavailable; try again"),
            };
            cx.shared.metrics.session("created");
            Response::json(200, &json!({ "status": "verified", "redirect": "/" }))
                .with_header("set-cookie", cookie(SESSION_COOKIE, &value, "/", seconds, request.secure))
                .with_header("set-cookie", clear_cookie(CHALLENGE_COOKIE, "/passcode", request.secure))
        }
        Ok(Err(e)) => refusal(&e),
        Err(()) => internal(),
    }
}

fn resend(request: &Request, cx: &mut FilterContext<'_>) -> Response {
    let Some((channel, purpose, token)) = challenge(request) else {
        return json_error(400, "no-challenge", "request a code first");
    };
    let client = cx.client(request);
    let slot = match cx.shared.delivery.reserve_any() {
        Ok(slot) => slot,
        Err(e) => return refused_by_delivery(cx, &e),
    };
    let op = Operation { operation: "resend", channel, purpose };
    let now = cx.worker.now();
    let began = Instant::now();
    let outcome = cx.worker.call(|w| w.resend(token, Some(&client), None));
    observe(cx, &op, &outcome, began);
    match outcome {
        Ok(Ok(issued)) => sent(&issued, now, request, cx, slot),
        Ok(Err(e)) => refusal(&e),
        Err(()) => internal(),
    }
}

/// The chain every request goes through.
pub fn default_chain() -> Vec<Box<dyn HttpFilter>> {
    vec![Box::new(StripIdentityHeaders), Box::new(PasscodeFilter), Box::new(RequireSession)]
}

/// Runs the chain: `Ok` is a local reply, `Err` continues to the upstream with the session.
pub fn run_chain(
    chain: &[Box<dyn HttpFilter>],
    request: &mut Request,
    slot: &mut WorkerSlot,
    peer: IpAddr,
    shared: &Shared,
) -> Result<Response, Option<Session>> {
    let mut cx = FilterContext { worker: slot, peer, shared, session: None };
    for filter in chain {
        if let FilterStatus::LocalReply(r) = filter.on_request(request, &mut cx) {
            return Ok(r);
        }
    }
    Err(cx.session)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify_request(content_type: &str, body: &str) -> Request {
        let mut r = Request::new(Method::POST, "/passcode/verify");
        r.headers.insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
        r.body = bytes::Bytes::copy_from_slice(body.as_bytes());
        r
    }

    #[test]
    fn a_verify_code_reads_as_the_whole_json_object_would() {
        let code = |content_type: &str, body: &str| {
            json_code(&verify_request(content_type, body))
                .map(|c| c.map(|c| (c.to_string(), matches!(c, Cow::Borrowed(_)))))
                .map_err(|bad| bad.answer())
                .map_err(|r| (r.status, serde_json::from_slice::<Value>(&r.body).unwrap()["error"].clone()))
        };
        let json = "application/json";
        assert_eq!(code(json, r#"{"code":"123456"}"#), Ok(Some(("123456".into(), true))), "read in place");
        assert_eq!(code("Application/JSON; charset=utf-8", r#" {"x":[1],"code":"1"}"#), Ok(Some(("1".into(), true))));
        assert_eq!(code(json, r#"{"code":"12\u0033"}"#), Ok(Some(("123".into(), false))), "an escape");
        assert_eq!(code(json, r#"{"code":"1","code":"2"}"#), Ok(Some(("2".into(), false))), "the last one counts");
        assert_eq!(code(json, r#"{"code":123456}"#), Ok(None), "not a string: code is required");
        assert_eq!(code(json, r#"{}"#), Ok(None));
        assert_eq!(code(json, ""), Ok(None), "no body is {{}}");
        assert_eq!(code(json, r#"["123456"]"#), Err((400, "bad-request".into())), "an array is not an object");
        assert_eq!(code(json, r#"{"code":"1"} x"#), Err((400, "bad-request".into())));
        assert_eq!(code("text/plain", r#"{"code":"1"}"#), Err((415, "unsupported-media-type".into())));
    }

    #[test]
    fn refusals_are_written_as_before() {
        let body = |e: EngineError| String::from_utf8(refusal(&e).body.to_vec()).unwrap();
        assert_eq!(
            body(EngineError::WrongCode(4)),
            r#"{"attempts_left":4,"error":"wrong-code","message":"wrong code; 4 attempts left"}"#
        );
        assert_eq!(
            body(EngineError::TooManyAttempts),
            r#"{"error":"too-many-attempts","message":"too many wrong attempts on this code; request a new one"}"#
        );
        let r = refusal(&EngineError::ResendTooSoon(30));
        assert_eq!((r.status, r.header("retry-after")), (429, Some("30")));
        assert!(String::from_utf8(r.body.to_vec()).unwrap().ends_with(r#","retry_after":30}"#));
    }
}
