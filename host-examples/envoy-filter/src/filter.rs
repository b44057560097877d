//! The Envoy-style filter chain: each filter sees the request's headers and whole body and
//! either lets it continue down the chain (and on to the upstream), or answers it itself
//! with a local reply, as Envoy's `decodeHeaders`/`decodeData` return `Continue` or call
//! `sendLocalReply`.
//!
//! The chain, in order:
//! 1. [`StripIdentityHeaders`]: drops any `x-passcode-*` header a client sent, so only the
//!    gateway can name the signed-in subject to the upstream.
//! 2. [`PasscodeFilter`]: the sign-in page, the JSON API and the ext_authz check; each is a
//!    local reply. This is where the component runs, on the worker's own instance.
//! 3. [`RequireSession`]: everything else needs a valid session cookie; with one, the
//!    request continues with `x-passcode-subject` and `x-passcode-channel` added; without,
//!    a browser is sent to the sign-in page and an API client gets 401.

use std::net::IpAddr;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::host::{
    attempts_left, error_name, retry_after, Channel, ComponentHost, EngineError, IssueRequest, Issued, Message,
    Purpose, Worker,
};
use crate::http::{Request, Response};
use crate::page;
use crate::session::{Session, SessionError, SessionKey, SESSION_COOKIE};

/// The challenge cookie's name. It holds the engine's opaque challenge token.
pub const CHALLENGE_COOKIE: &str = "passcode_challenge";

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

/// What the gateway's filters share across workers: settings, delivery and keys.
#[derive(Debug)]
pub struct Shared {
    /// The application's name, on pages.
    pub app_name: String,
    /// The senders and their queue (the DEVELOPMENT outbox when the config names none).
    pub delivery: passcode_delivery::Delivery,
    /// Signs session cookies.
    pub session_key: SessionKey,
    /// How long a session lasts, seconds.
    pub session_seconds: u64,
    /// When set, only these subjects (normalised) are sent codes and allowed through; every
    /// other identifier gets the same answer and no message.
    pub accounts: Option<Vec<String>>,
    /// Whether to take the client address from `X-Forwarded-For` (behind a trusted proxy).
    pub trust_forwarded: bool,
}

/// A worker thread's own component instance, reopened if a call ever traps.
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
                eprintln!("passcode-envoy-filter: a component call trapped; reopening the instance: {trap}");
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
    /// The peer's address.
    pub peer: IpAddr,
    /// The shared settings.
    pub shared: &'a Shared,
    /// The session, once a filter has checked it.
    pub session: Option<Session>,
}

impl FilterContext<'_> {
    fn client(&self, request: &Request) -> String {
        if self.shared.trust_forwarded {
            if let Some(first) = request.header("x-forwarded-for").and_then(|v| v.split(',').next()) {
                if first.trim().parse::<IpAddr>().is_ok() {
                    return first.trim().to_string();
                }
            }
        }
        self.peer.to_string()
    }

    fn allowed(&self, subject: &str) -> bool {
        self.shared.accounts.as_ref().is_none_or(|a| a.iter().any(|s| s == subject))
    }
}

/// Removes client-sent identity headers.
pub struct StripIdentityHeaders;

impl HttpFilter for StripIdentityHeaders {
    fn on_request(&self, request: &mut Request, _: &mut FilterContext<'_>) -> FilterStatus {
        request.headers.retain(|(n, _)| !n.starts_with("x-passcode-"));
        FilterStatus::Continue
    }
}

/// The sign-in page, the JSON API (`/passcode/start`, `/passcode/verify`,
/// `/passcode/resend`, `/passcode/signout`) and the ext_authz check (`/ext_authz/...`).
pub struct PasscodeFilter;

impl HttpFilter for PasscodeFilter {
    fn on_request(&self, request: &mut Request, cx: &mut FilterContext<'_>) -> FilterStatus {
        let path = request.path.clone();
        let reply = match (request.method.as_str(), path.as_str()) {
            ("GET" | "HEAD", "/signin") => {
                Response::new(200, "text/html; charset=utf-8", page::signin(&cx.shared.app_name))
                    .with_header("cache-control", "no-store")
                    .with_header("content-security-policy", page::signin_csp())
                    .with_header("x-frame-options", "DENY")
            }
            ("POST", "/passcode/start") => with_json(request, |body| start(request, body, cx)),
            ("POST", "/passcode/verify") => with_json(request, |body| verify(request, body, cx)),
            ("POST", "/passcode/resend") => with_json(request, |_| resend(request, cx)),
            ("POST", "/passcode/signout") => Response::new(303, "text/plain", "signed out")
                .with_header("location", "/signin")
                .with_header("set-cookie", clear_cookie(SESSION_COOKIE, "/", secure(request))),
            (_, p) if p.starts_with("/passcode/") => json_error(405, "method-not-allowed", "use POST"),
            (_, p) if p == "/ext_authz" || p.starts_with("/ext_authz/") => ext_authz(request, cx),
            _ => return FilterStatus::Continue,
        };
        FilterStatus::LocalReply(reply.with_header("cache-control", "no-store"))
    }
}

/// Lets through only requests with a valid session, adding who it is for the upstream.
pub struct RequireSession;

impl HttpFilter for RequireSession {
    fn on_request(&self, request: &mut Request, cx: &mut FilterContext<'_>) -> FilterStatus {
        match session_of(request, cx) {
            Ok(s) => {
                request.headers.push(("x-passcode-subject".into(), s.subject.clone()));
                request.headers.push(("x-passcode-channel".into(), s.channel.clone()));
                cx.session = Some(s);
                FilterStatus::Continue
            }
            Err(_) => {
                let browser =
                    request.method == "GET" && request.header("accept").is_some_and(|a| a.contains("text/html"));
                FilterStatus::LocalReply(if browser {
                    Response::new(302, "text/plain", "sign in first").with_header("location", "/signin")
                } else {
                    json_error(401, "no-session", "sign in first")
                })
            }
        }
    }
}

/// The session cookie, checked: `Err(None)` when there is none.
fn session_of(request: &Request, cx: &FilterContext<'_>) -> Result<Session, Option<SessionError>> {
    let value = request.cookie(SESSION_COOKIE).ok_or(None)?;
    let s = cx.shared.session_key.open(value, cx.worker.now()).map_err(Some)?;
    if !cx.allowed(&s.subject) {
        return Err(Some(SessionError::Invalid));
    }
    Ok(s)
}

/// Envoy's HTTP ext_authz check: 200 with the subject for the upstream, 401 without a valid
/// session, 403 for a valid session whose subject is no longer among the accounts.
fn ext_authz(request: &Request, cx: &mut FilterContext<'_>) -> Response {
    let Some(value) = request.cookie(SESSION_COOKIE) else {
        return json_error(401, "no-session", "sign in first");
    };
    match cx.shared.session_key.open(value, cx.worker.now()) {
        Ok(s) if cx.allowed(&s.subject) => Response::new(200, "text/plain", "")
            .with_header("x-passcode-subject", s.subject)
            .with_header("x-passcode-channel", s.channel),
        Ok(_) => json_error(403, "not-allowed", "this account may not use this service"),
        Err(SessionError::Expired) => json_error(401, "session-expired", "the session has ended; sign in again"),
        Err(SessionError::Invalid) => json_error(401, "invalid-session", "the session cookie is not valid"),
    }
}

fn with_json(request: &Request, f: impl FnOnce(&Value) -> Response) -> Response {
    let is_json =
        request.header("content-type").is_some_and(|c| c.to_ascii_lowercase().starts_with("application/json"));
    if !is_json {
        // Cross-site forms cannot send application/json without a preflight: a CSRF guard.
        return json_error(415, "unsupported-media-type", "send a JSON body with Content-Type: application/json");
    }
    let body: Value = if request.body.is_empty() {
        json!({})
    } else {
        match serde_json::from_slice(&request.body) {
            Ok(v @ Value::Object(_)) => v,
            _ => return json_error(400, "bad-request", "the body is not a JSON object"),
        }
    };
    f(&body)
}

fn secure(request: &Request) -> bool {
    request.header("x-forwarded-proto").is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

fn cookie(name: &str, value: &str, path: &str, max_age: u64, secure: bool) -> String {
    let s = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{s}")
}

fn clear_cookie(name: &str, path: &str, secure: bool) -> String {
    cookie(name, "", path, 0, secure)
}

fn json_error(status: u16, error: &str, message: &str) -> Response {
    Response::json(status, &json!({ "error": error, "message": message }))
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
    let mut body = json!({ "error": error_name(e), "message": describe(e) });
    if let Some(n) = attempts_left(e) {
        body["attempts_left"] = json!(n);
    }
    let wait = retry_after(e);
    if let Some(s) = wait {
        body["retry_after"] = json!(s);
    }
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
            return delivery_refusal(&e);
        }
    } else {
        drop(slot);
    }
    let expires_in = issued.expires_at.saturating_sub(now);
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
    .with_header("set-cookie", cookie(CHALLENGE_COOKIE, &issued.token, "/passcode", expires_in, secure(request)))
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
        Err(e) => return delivery_refusal(&e),
    };
    let now = cx.worker.now();
    match cx.worker.call(|w| w.issue(&issue)) {
        Ok(Ok(issued)) => sent(&issued, now, request, cx, slot),
        Ok(Err(e)) => refusal(&e),
        Err(()) => internal(),
    }
}

fn verify(request: &Request, body: &Value, cx: &mut FilterContext<'_>) -> Response {
    let Some(token) = request.cookie(CHALLENGE_COOKIE).filter(|t| !t.is_empty()) else {
        return json_error(400, "no-challenge", "request a code first");
    };
    let Some(code) = body["code"].as_str() else {
        return json_error(400, "invalid-argument", "code is required");
    };
    let now = cx.worker.now();
    match cx.worker.call(|w| w.verify(token, code)) {
        Ok(Ok(v)) => {
            if !cx.allowed(&v.identifier) {
                // Unreachable in practice (no code was delivered), but never sign in a subject
                // that is not an account.
                return refusal(&EngineError::NotFound);
            }
            let channel = match v.channel {
                Channel::Email => "email",
                Channel::Sms => "sms",
            };
            let session = Session {
                subject: v.identifier,
                channel: channel.into(),
                expires_at: now.saturating_add(cx.shared.session_seconds),
            };
            let value = cx.shared.session_key.sign(&session);
            Response::json(200, &json!({ "status": "verified", "redirect": "/" }))
                .with_header(
                    "set-cookie",
                    cookie(SESSION_COOKIE, &value, "/", cx.shared.session_seconds, secure(request)),
                )
                .with_header("set-cookie", clear_cookie(CHALLENGE_COOKIE, "/passcode", secure(request)))
        }
        Ok(Err(e)) => refusal(&e),
        Err(()) => internal(),
    }
}

fn resend(request: &Request, cx: &mut FilterContext<'_>) -> Response {
    let Some(token) = request.cookie(CHALLENGE_COOKIE).filter(|t| !t.is_empty()) else {
        return json_error(400, "no-challenge", "request a code first");
    };
    let client = cx.client(request);
    let slot = match cx.shared.delivery.reserve_any() {
        Ok(slot) => slot,
        Err(e) => return delivery_refusal(&e),
    };
    let now = cx.worker.now();
    match cx.worker.call(|w| w.resend(token, Some(&client), None)) {
        Ok(Ok(issued)) => sent(&issued, now, request, cx, slot),
        Ok(Err(e)) => refusal(&e),
        Err(()) => internal(),
    }
}

/// The chain every request goes through.
pub fn default_chain() -> Vec<Box<dyn HttpFilter>> {
    vec![Box::new(StripIdentityHeaders), Box::new(PasscodeFilter), Box::new(RequireSession)]
}
