//! The engine: issue, verify, resend, cancel and unlock.
//!
//! Every operation on a subject is one read-modify-write of its record under compare-and-swap,
//! retried a bounded number of times, so that counts and single use hold however many threads,
//! processes or nodes share the store. A store failure fails the operation closed: a success
//! is reported only after the challenge was recorded as used.

use std::net::IpAddr;
use std::sync::Arc;

use zeroize::Zeroizing;

use crate::clock::{checked_now, Clock, SystemClock};
use crate::code::{code_mac, draw_bytes, generate, generate_from, macs_equal, normalise_input};
use crate::config::Config;
use crate::decide::{self, Decision, Guess};
use crate::error::{Error, LimitScope};
use crate::event::{Event, EventKind, EventSink, NoEvents};
use crate::identifier::{Channel, Identifier, Purpose};
use crate::keys::{KeyReader, KeyRing};
use crate::message::{Message, Messages};
use crate::policy::{Policy, SendBucket};
use crate::random::{Draws, OsRandom, Random};
use crate::record::{BucketRecord, ChallengeState, SubjectRecord, Take};
use crate::store::{Expected, MemoryStore, Store, StoreError, StoreKey};
use crate::token::{self, Sealing, MAX_ACCOUNT_BYTES};

/// How often a compare-and-swap is retried before the engine reports `Contention`.
const MAX_CAS_ATTEMPTS: usize = 64;
/// The longest locale tag read.
const MAX_LOCALE_BYTES: usize = 35;
/// The longest client address text read.
const MAX_CLIENT_BYTES: usize = 64;

/// A request for a new code.
#[derive(Clone, Copy, Debug)]
pub struct IssueRequest<'a> {
    /// Email or SMS.
    pub channel: Channel,
    /// The address or E.164 number, as typed; the engine normalises it.
    pub identifier: &'a str,
    /// What the code is for.
    pub purpose: Purpose,
    /// The client's IP address, for the per-client send bucket.
    pub client: Option<&'a str>,
    /// A locale tag such as `fr-CA`, for the message.
    pub locale: Option<&'a str>,
}

/// A code issued or re-sent.
#[derive(Clone)]
pub struct Issued {
    /// The opaque challenge token for the host's session. A resend returns the same token.
    pub token: String,
    /// The code, for hosts that deliver messages themselves. Never log it.
    pub code: Zeroizing<String>,
    /// When the code expires (Unix seconds); it is refused from this second on.
    pub expires_at: u64,
    /// The earliest time a resend is allowed (Unix seconds).
    pub resend_at: u64,
    /// The normalised address or number to deliver to.
    pub recipient: String,
    /// The channel.
    pub channel: Channel,
    /// What the code is for.
    pub purpose: Purpose,
    /// The subject's pseudonym, as in events (16 hex digits): for a host's delivery events
    /// and logs, which must not carry the address or number.
    pub subject: String,
    /// The rendered message.
    pub message: Message,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("expires_at", &self.expires_at)
            .field("resend_at", &self.resend_at)
            .field("channel", &self.channel)
            .field("purpose", &self.purpose)
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

/// A code verified: who it was sent to and what for. The challenge is used up.
#[derive(Clone, PartialEq, Eq)]
pub struct Verified {
    /// The normalised address or number.
    pub identifier: String,
    /// The channel.
    pub channel: Channel,
    /// The purpose.
    pub purpose: Purpose,
    /// The host's account id, when the code was issued with `issue_for_account`: check it is
    /// the account the session is signing in to.
    pub account: Option<String>,
}

impl std::fmt::Debug for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verified")
            .field("channel", &self.channel)
            .field("purpose", &self.purpose)
            .finish_non_exhaustive()
    }
}

/// A subject's standing, for an operator's `status`: its failure count and lock, read from
/// the store without changing it. It holds no code, no challenge and no identifier.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubjectStatus {
    /// Consecutive failures across every challenge (reset by a success or an unlock).
    pub failures: u32,
    /// Failures within the failure budget's window (`policy.failure_budget`): a success does
    /// not clear them, an unlock does. At the budget's `max` the subject is locked until the
    /// oldest of them leaves the window.
    pub budget_failures: u32,
    /// When a temporary lock in force now ends (Unix seconds); `None` when there is none.
    pub locked_until: Option<u64>,
    /// Whether the subject reached the hard cap: only an operator's unlock lifts it.
    pub hard_locked: bool,
}

/// Builds an engine with parts of the host's own.
pub struct EngineBuilder {
    config: Config,
    store: Option<Arc<dyn Store>>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    events: Arc<dyn EventSink>,
    key_ring: Option<KeyRing>,
    key_reader: Option<Box<dyn KeyReader>>,
}

impl EngineBuilder {
    /// The store (default: a new in-memory store).
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The clock (default: the system clock).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// The random source (default: the OS CSPRNG).
    pub fn random(mut self, random: Arc<dyn Random>) -> Self {
        self.random = random;
        self
    }

    /// The event sink (default: none).
    pub fn events(mut self, events: Arc<dyn EventSink>) -> Self {
        self.events = events;
        self
    }

    /// A key ring built by the host, instead of the config's files and variables.
    pub fn key_ring(mut self, ring: KeyRing) -> Self {
        self.key_ring = Some(ring);
        self
    }

    /// Reads the config's ring keys through the host's `reader` (a secret manager, Envoy's
    /// secret discovery, the component's host) instead of from this process's files and
    /// environment variables. The config's key rules are the same either way.
    pub fn key_reader(mut self, reader: Box<dyn KeyReader>) -> Self {
        self.key_reader = Some(reader);
        self
    }

    /// Checks the config and builds the engine.
    ///
    /// A store given here (or by the C ABI's callbacks, or the component's imported store)
    /// may be shared with other engines, processes or nodes, which must all derive the same
    /// keys: with such a store the engine refuses to start without a key ring (from the config
    /// or `key_ring`), unless the config asks for `keys.ephemeral = true`. A random key per
    /// engine would give each one its own failure counts, and every restart a fresh budget.
    pub fn build(self) -> Result<Engine, Error> {
        self.config.validate()?;
        if self.store.is_some() && self.key_ring.is_none() && self.config.lacks_keys_for_a_host_store() {
            return Err(Error::PolicyOutOfBounds {
                field: "keys.ring",
                reason: "the host gave the engine a store, which other engines may share: name the ring's key files \
                         or variables so that every engine derives the same keys (keys.ephemeral = true accepts a \
                         key that dies with this engine, for tests)"
                    .into(),
            });
        }
        let store = match self.store {
            Some(s) => s,
            None if self.config.store.is_memory() => Arc::new(MemoryStore::new()),
            None => {
                return Err(Error::PolicyOutOfBounds {
                    field: "store",
                    reason: "only `memory` is built in; open a shared store with its crate (for redis:// URLs, \
                             passcode_redis::open_engine) or pass it to the builder"
                        .into(),
                })
            }
        };
        let keys = match self.key_ring {
            Some(k) => k,
            None => match &self.key_reader {
                Some(reader) => self.config.load_key_ring_with(self.random.as_ref(), reader.as_ref())?,
                None => self.config.load_key_ring(self.random.as_ref())?,
            },
        };
        let messages = Messages::new(&self.config.messages, &self.config.policy)?;
        Ok(Engine {
            tenant: self.config.tenant,
            policy: self.config.policy,
            messages,
            keys,
            store,
            clock: self.clock,
            random: self.random,
            events: self.events,
        })
    }
}

/// The passcode engine. Safe to share between threads (`Arc<Engine>`).
pub struct Engine {
    tenant: String,
    policy: Policy,
    messages: Messages,
    keys: KeyRing,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn Random>,
    events: Arc<dyn EventSink>,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine").field("tenant", &self.tenant).field("policy", &self.policy).finish_non_exhaustive()
    }
}

/// An event before the engine fills in time, channel and subject.
struct Draft {
    kind: EventKind,
    attempts_left: Option<u32>,
    retry_after: Option<u64>,
    scope: Option<LimitScope>,
    error: Option<u32>,
}

impl Draft {
    fn of(kind: EventKind) -> Self {
        Draft { kind, attempts_left: None, retry_after: None, scope: None, error: None }
    }

    /// The events an error stands for: none for bad input, which names no subject; two for a
    /// counted wrong code that started a lock (`Failed`, then `Locked`).
    fn of_error(e: &Error) -> Vec<Self> {
        let kinds: &[EventKind] = match e {
            Error::WrongCode { .. } => &[EventKind::Failed],
            Error::WrongCodeLocked { .. } => &[EventKind::Failed, EventKind::Locked],
            Error::SubjectLocked { .. } | Error::NotFound | Error::TooManyAttempts => &[EventKind::Refused],
            Error::Expired => &[EventKind::Expired],
            Error::ResendTooSoon { .. } | Error::SendLimit { .. } => &[EventKind::RateLimited],
            Error::DestinationBlocked => &[EventKind::Blocked],
            _ => &[],
        };
        let scope = match e {
            Error::SendLimit { scope, .. } => Some(*scope),
            _ => None,
        };
        kinds
            .iter()
            .map(|kind| Draft {
                kind: *kind,
                attempts_left: e.attempts_left().filter(|_| *kind == EventKind::Failed),
                retry_after: e.retry_after().filter(|_| *kind != EventKind::Failed),
                scope,
                error: Some(e.number()),
            })
            .collect()
    }
}

/// The subject an operation changes, and what its events say.
struct SubjectOp<'a> {
    key: &'a StoreKey,
    now: u64,
    /// The event of a success.
    ok_kind: EventKind,
    channel: Channel,
    purpose: Option<Purpose>,
}

/// What one pass of a read-modify-write came to. It lives on the stack for one pass: boxing
/// the decision (the record is inline, several hundred bytes) would allocate on the hot path.
#[allow(clippy::large_enum_variant)]
enum Pass<T> {
    /// The store did not call the change (a store that breaks its contract).
    NotRun,
    /// The record read does not decode: the operation fails closed.
    Unreadable(Error),
    /// The decision, written (or nothing to write) unless the store reported a conflict.
    Decided(Decision<T>),
}

/// A shared send bucket to take one send from.
struct Bucket {
    key: StoreKey,
    limit: SendBucket,
    scope: LimitScope,
}

fn store_error(e: StoreError) -> Error {
    Error::StoreUnavailable { message: e.0 }
}

/// The buckets a client address falls in: its own (an IPv4 address, or an IPv6 /64: one
/// subscriber's network), and for IPv6 its /48 too (a site's allocation of 65,536 /64s,
/// which an attacker can otherwise rotate through for free).
#[derive(Debug, PartialEq, Eq)]
struct ClientBuckets {
    host: Vec<u8>,
    network: Option<Vec<u8>>,
}

impl ClientBuckets {
    fn parse(text: &str) -> Result<Self, Error> {
        if text.len() > MAX_CLIENT_BYTES {
            return Err(Error::InputTooLong { field: "client", max: MAX_CLIENT_BYTES });
        }
        match text.trim().parse::<IpAddr>().map_err(|_| Error::InvalidClientAddress)? {
            IpAddr::V4(v4) => Ok(ClientBuckets { host: v4.octets().to_vec(), network: None }),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => Ok(ClientBuckets { host: v4.octets().to_vec(), network: None }),
                None => Ok(ClientBuckets { host: v6.octets()[..8].to_vec(), network: Some(v6.octets()[..6].to_vec()) }),
            },
        }
    }
}

impl Engine {
    /// An engine from a config: the memory store, the system clock and the OS CSPRNG.
    pub fn from_config(config: &Config) -> Result<Engine, Error> {
        Engine::builder(config.clone()).build()
    }

    /// A builder, to bring the host's store, clock, random source or event sink.
    pub fn builder(config: Config) -> EngineBuilder {
        EngineBuilder {
            config,
            store: None,
            clock: Arc::new(SystemClock),
            random: Arc::new(OsRandom),
            events: Arc::new(NoEvents),
            key_ring: None,
            key_reader: None,
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// Issues a new code for a new challenge, replacing any live challenge of the same
    /// subject and purpose. Send limits and the resend cooldown apply; the subject's failure
    /// count is kept (S10). The subject is the identifier's canonical form.
    pub fn issue(&self, request: &IssueRequest<'_>) -> Result<Issued, Error> {
        self.issue_as(request, None)
    }

    /// As `issue`, but the subject is the host's own account id: failures, locks, the failure
    /// budget and the send log are the account's, whichever address or number the code goes
    /// to, so an account with an address and a number is one subject, not two. One live
    /// challenge per purpose per account. `account` is at most 128 bytes, never logged, and
    /// comes back in `Verified::account`.
    pub fn issue_for_account(&self, account: &str, request: &IssueRequest<'_>) -> Result<Issued, Error> {
        check_account(account)?;
        self.issue_as(request, Some(account))
    }

    fn issue_as(&self, request: &IssueRequest<'_>, account: Option<&str>) -> Result<Issued, Error> {
        let now = checked_now(self.clock.as_ref())?;
        let identifier = Identifier::parse_with_region(
            request.channel,
            request.identifier,
            self.policy.sms_default_region.as_deref(),
        )?;
        check_locale(request.locale)?;
        if request.channel == Channel::Email
            && request.purpose == Purpose::SecondFactor
            && !self.policy.email_second_factor
        {
            return Err(Error::ChannelNotAllowed { channel: "email", purpose: request.purpose.name() });
        }
        let client = request.client.map(ClientBuckets::parse).transpose()?;
        let key = self.subject_key(&identifier, account);
        let purpose = request.purpose;
        let refuse = |e: Error| self.refuse(e, now, identifier.channel(), Some(purpose), &key);
        self.check_destination(&identifier).map_err(refuse)?;

        // Check the subject before taking from shared buckets, so that a refused send does
        // not use up a client's or a country's budget; the checks run again under CAS.
        let current = self.store.get(&key, now).map_err(store_error)?;
        let mut record = decode_subject(current.as_ref())?;
        record.prune(now, &self.policy);
        decide::check_lock(&self.policy, &record, now)
            .and_then(|_| decide::check_send(&self.policy, &record, purpose, now))
            .map_err(refuse)?;
        self.take_shared_buckets(&identifier, client.as_ref(), now).map_err(refuse)?;

        // One CSPRNG call for the challenge id and the code.
        let mut draws = Draws::new(self.random.as_ref(), 16 + draw_bytes(&self.policy))?;
        let id = draws.take::<16>()?;
        let code = generate_from(&self.policy, &mut draws)?;
        drop(draws);
        let active = self.keys.active();
        let lifetime = self.policy.lifetime(identifier.channel(), purpose);
        let challenge = ChallengeState {
            purpose,
            id,
            key_id: active.id,
            mac: code_mac(&active.code, &id, purpose, &code),
            expires_at: now.saturating_add(lifetime),
            resend_after: now.saturating_add(self.policy.resend_cooldown_seconds),
            tries: 0,
        };
        let op = SubjectOp {
            key: &key,
            now,
            ok_kind: EventKind::Issued,
            channel: identifier.channel(),
            purpose: Some(purpose),
        };
        self.update_subject(&op, Some(current), |rec| decide::issue(&self.policy, rec, &challenge, now))?;
        let sealing = Sealing { challenge_id: id, purpose, identifier: &identifier, account };
        let token = token::seal(active, &self.tenant, sealing);
        Ok(self.issued(token, code, &challenge, identifier, &key, request.locale, lifetime))
    }

    /// The channel a challenge was issued on, read from its token alone: the token is opened
    /// and authenticated, the store is not read, and nothing changes. A host that sends the
    /// code itself picks the sender with it before `resend` makes a new code, so that a channel
    /// it cannot send on is refused with no code made.
    pub fn challenge_channel(&self, token: &str) -> Result<Channel, Error> {
        Ok(token::open(&self.keys, &self.tenant, token)?.identifier.channel())
    }

    /// Sends a new code for a live challenge: the previous code stops working (S7), the
    /// cooldown and send limits apply, and neither the challenge's tries nor the subject's
    /// failures are reset (S10). The token stays the same. The SMS destination rules are
    /// checked again, under the policy in force now.
    pub fn resend(&self, token: &str, client: Option<&str>, locale: Option<&str>) -> Result<Issued, Error> {
        let now = checked_now(self.clock.as_ref())?;
        let t = token::open(&self.keys, &self.tenant, token)?;
        check_locale(locale)?;
        let client = client.map(ClientBuckets::parse).transpose()?;
        let key = self.subject_key(&t.identifier, t.account.as_deref());
        let channel = t.identifier.channel();
        let refuse = |e: Error| self.refuse(e, now, channel, Some(t.purpose), &key);
        // A number read back from a token carries no metadata: parse its E.164 form again.
        let destination = match channel {
            Channel::Sms => {
                Identifier::parse(channel, t.identifier.as_str()).map_err(|_| refuse(Error::DestinationBlocked))?
            }
            Channel::Email => t.identifier.clone(),
        };
        self.check_destination(&destination).map_err(refuse)?;

        let current = self.store.get(&key, now).map_err(store_error)?;
        let mut record = decode_subject(current.as_ref())?;
        record.prune(now, &self.policy);
        decide::check_resend(&self.policy, &record, &t.challenge_id, t.purpose, now).map_err(refuse)?;
        self.take_shared_buckets(&destination, client.as_ref(), now).map_err(refuse)?;

        let code = generate(&self.policy, self.random.as_ref())?;
        let active = self.keys.active();
        let lifetime = self.policy.lifetime(channel, t.purpose);
        let new_code = (active.id, code_mac(&active.code, &t.challenge_id, t.purpose, &code));
        let op = SubjectOp { key: &key, now, ok_kind: EventKind::Resent, channel, purpose: Some(t.purpose) };
        let challenge = self.update_subject(&op, Some(current), |rec| {
            decide::resend(&self.policy, rec, &t.challenge_id, t.purpose, new_code, lifetime, now)
        })?;
        Ok(self.issued(token.trim().to_string(), code, &challenge, t.identifier, &key, locale, lifetime))
    }

    /// Checks a code. On success the challenge is used up and the subject's consecutive
    /// failures and temporary lock reset (S5, S12); its failure budget does not. A wrong code
    /// counts against the challenge (S8), the subject (S9) and its budget; the answer is
    /// `WrongCode`, or `WrongCodeLocked` when that failure started a lock. A guess refused
    /// without being evaluated (locked, expired, used up, not found) is told apart from both.
    pub fn verify(&self, token: &str, code: &str) -> Result<Verified, Error> {
        let now = checked_now(self.clock.as_ref())?;
        let t = token::open(&self.keys, &self.tenant, token)?;
        let typed = normalise_input(&self.policy, code);
        let key = self.subject_key(&t.identifier, t.account.as_deref());
        let channel = t.identifier.channel();
        let op = SubjectOp { key: &key, now, ok_kind: EventKind::Verified, channel, purpose: Some(t.purpose) };
        let guess = |c: &ChallengeState| match self.keys.get(c.key_id) {
            None => Guess::KeyGone,
            Some(keys) => match typed.as_ref() {
                Some(typed) if macs_equal(&code_mac(&keys.code, &c.id, t.purpose, typed.as_str()), &c.mac) => {
                    Guess::Right
                }
                _ => Guess::Wrong,
            },
        };
        self.update_subject(&op, None, |rec| {
            decide::verify(&self.policy, rec, &t.challenge_id, t.purpose, now, guess)
        })?;
        // The token's own copies become the answer: no allocation for it.
        Ok(Verified { identifier: t.identifier.into_string(), channel, purpose: t.purpose, account: t.account })
    }

    /// Cancels a live challenge; its code stops working.
    pub fn cancel(&self, token: &str) -> Result<(), Error> {
        let now = checked_now(self.clock.as_ref())?;
        let t = token::open(&self.keys, &self.tenant, token)?;
        let key = self.subject_key(&t.identifier, t.account.as_deref());
        let op = SubjectOp {
            key: &key,
            now,
            ok_kind: EventKind::Cancelled,
            channel: t.identifier.channel(),
            purpose: Some(t.purpose),
        };
        self.update_subject(&op, None, |rec| decide::cancel(rec, &t.challenge_id, t.purpose))
    }

    /// An operator's unlock: clears the subject's failure count, its failure budget and any
    /// lock (temporary, budget or hard). Live challenges keep their own try counts.
    pub fn unlock(&self, channel: Channel, identifier: &str) -> Result<(), Error> {
        let identifier = Identifier::parse_with_region(channel, identifier, self.policy.sms_default_region.as_deref())?;
        self.unlock_key(channel, self.subject_key(&identifier, None))
    }

    /// An operator's unlock of an account subject (see `issue_for_account`).
    pub fn unlock_account(&self, account: &str) -> Result<(), Error> {
        check_account(account)?;
        self.unlock_key(Channel::Email, self.account_key(account))
    }

    fn unlock_key(&self, channel: Channel, key: StoreKey) -> Result<(), Error> {
        let now = checked_now(self.clock.as_ref())?;
        let op = SubjectOp { key: &key, now, ok_kind: EventKind::Unlocked, channel, purpose: None };
        self.update_subject(&op, None, decide::unlock)
    }

    /// An operator's read of a subject's failure count, failure budget and lock, as `issue`
    /// and `verify` would judge them now. The identifier names the same subject as in
    /// `issue` (every spelling of one address or number is one subject). Read-only: it writes
    /// nothing and emits no event.
    pub fn status(&self, channel: Channel, identifier: &str) -> Result<SubjectStatus, Error> {
        let identifier = Identifier::parse_with_region(channel, identifier, self.policy.sms_default_region.as_deref())?;
        self.status_key(&self.subject_key(&identifier, None))
    }

    /// An operator's read of an account subject (see `issue_for_account`), like `status`.
    pub fn status_account(&self, account: &str) -> Result<SubjectStatus, Error> {
        check_account(account)?;
        self.status_key(&self.account_key(account))
    }

    fn status_key(&self, key: &StoreKey) -> Result<SubjectStatus, Error> {
        let now = checked_now(self.clock.as_ref())?;
        let current = self.store.get(key, now).map_err(store_error)?;
        let record = decode_subject(current.as_ref())?;
        let (locked_until, hard_locked) = match decide::check_lock(&self.policy, &record, now) {
            Err(Error::SubjectLocked { retry_after: Some(wait) }) => (Some(now.saturating_add(wait)), false),
            Err(Error::SubjectLocked { retry_after: None }) => (None, true),
            _ => (None, false),
        };
        let budget_failures = record.budget.count(now, self.policy.failure_budget.window_seconds);
        Ok(SubjectStatus { failures: record.failures, budget_failures, locked_until, hard_locked })
    }

    #[allow(clippy::too_many_arguments)]
    fn issued(
        &self,
        token: String,
        code: Zeroizing<String>,
        challenge: &ChallengeState,
        identifier: Identifier,
        key: &StoreKey,
        locale: Option<&str>,
        lifetime: u64,
    ) -> Issued {
        let channel = identifier.channel();
        let message = self.messages.render(channel, challenge.purpose, locale, &code, lifetime);
        Issued {
            token,
            code,
            expires_at: challenge.expires_at,
            resend_at: challenge.resend_after,
            channel,
            purpose: challenge.purpose,
            subject: pseudonym(key),
            // The identifier's own text becomes the answer: no copy.
            recipient: identifier.into_string(),
            message,
        }
    }

    /// The SMS rules of the policy (`Policy::allows_destination`), as an error.
    fn check_destination(&self, identifier: &Identifier) -> Result<(), Error> {
        match self.policy.allows_destination(identifier) {
            true => Ok(()),
            false => Err(Error::DestinationBlocked),
        }
    }

    /// The subject's record key: the account's, or the identifier's canonical form's.
    fn subject_key(&self, identifier: &Identifier, account: Option<&str>) -> StoreKey {
        match account {
            Some(account) => self.account_key(account),
            None => self.keys.index().index.parts(&[
                b"subject",
                self.tenant.as_bytes(),
                &[identifier.channel().byte()],
                identifier.canonical().as_bytes(),
            ]),
        }
    }

    fn account_key(&self, account: &str) -> StoreKey {
        self.keys.index().index.parts(&[b"account", self.tenant.as_bytes(), account.as_bytes()])
    }

    fn bucket_key(&self, kind: &[u8], value: &[u8]) -> StoreKey {
        self.keys.index().index.parts(&[kind, self.tenant.as_bytes(), value])
    }

    /// Takes one send from every shared bucket the send falls in: the client's address and
    /// IPv6 /48, the SMS destination's region, and the tenant's ceiling.
    fn take_shared_buckets(
        &self,
        identifier: &Identifier,
        client: Option<&ClientBuckets>,
        now: u64,
    ) -> Result<(), Error> {
        let policy = &self.policy;
        let client_buckets =
            client.map(|c| (b"client".as_slice(), c.host.as_slice(), policy.client_sends, LimitScope::Client));
        let network_buckets = client
            .and_then(|c| c.network.as_deref())
            .map(|network| (b"network".as_slice(), network, policy.client_network_sends, LimitScope::Client));
        let region_bucket = identifier
            .region()
            .map(|region| (b"region".as_slice(), region.as_bytes(), policy.country_sends, LimitScope::Country));
        let tenant_bucket =
            policy.tenant_sends.map(|tenant| (b"tenant".as_slice(), b"".as_slice(), tenant, LimitScope::Tenant));
        for (kind, value, limit, scope) in
            [client_buckets, network_buckets, region_bucket, tenant_bucket].into_iter().flatten()
        {
            self.take_bucket(&Bucket { key: self.bucket_key(kind, value), limit, scope }, now)?;
        }
        Ok(())
    }

    /// Takes one send from a bucket, or refuses with `SendLimit` when it is full.
    fn take_bucket(&self, bucket: &Bucket, now: u64) -> Result<(), Error> {
        for _ in 0..MAX_CAS_ATTEMPTS {
            let current = self.store.get(&bucket.key, now).map_err(store_error)?;
            let (state, expected) = match &current {
                Some((bytes, v)) => (BucketRecord::decode(bytes)?, Expected::Version(*v)),
                None => (BucketRecord::default(), Expected::Absent),
            };
            let (next, ttl) = match state.take(now, bucket.limit) {
                Take::Taken { next, ttl } => (next, ttl),
                Take::Full { retry_after } => return Err(Error::SendLimit { scope: bucket.scope, retry_after }),
            };
            if self.store.put(&bucket.key, &next.encode(), Some(ttl), expected, now).map_err(store_error)?.is_some() {
                return Ok(());
            }
            backoff();
        }
        Err(Error::Contention)
    }

    /// One read-modify-write of a subject record (`Store::update`, a compare-and-swap in
    /// most stores), retried on conflict: the record read is pruned and `decide` says what to
    /// write and answer. `first` is a read the caller already made, written against by
    /// compare-and-swap. Events are emitted once the outcome is settled: `op.ok_kind` on
    /// success, the error's own kind on a refusal.
    fn update_subject<T>(
        &self,
        op: &SubjectOp<'_>,
        mut first: Option<Option<(Vec<u8>, u64)>>,
        mut decide: impl FnMut(SubjectRecord) -> Decision<T>,
    ) -> Result<T, Error> {
        let now = op.now;
        for _ in 0..MAX_CAS_ATTEMPTS {
            let mut pass = Pass::NotRun;
            let mut change = |current: Option<&[u8]>| {
                let mut record = match current.map_or(Ok(SubjectRecord::default()), SubjectRecord::decode) {
                    Ok(record) => record,
                    Err(e) => {
                        pass = Pass::Unreadable(e);
                        return None;
                    }
                };
                record.prune(now, &self.policy);
                let decision = decide(record);
                let write = decision.write.as_ref().map(|new| (new.encode(), Some(new.ttl(now, &self.policy))));
                pass = Pass::Decided(decision);
                write
            };
            let written = match first.take() {
                Some(current) => {
                    let expected = current.as_ref().map_or(Expected::Absent, |(_, v)| Expected::Version(*v));
                    match change(current.as_ref().map(|(bytes, _)| bytes.as_slice())) {
                        Some((bytes, ttl)) => {
                            self.store.put(op.key, &bytes, ttl, expected, now).map_err(store_error)?.is_some()
                        }
                        None => true,
                    }
                }
                None => self.store.update(op.key, now, &mut change).map_err(store_error)?,
            };
            match pass {
                Pass::NotRun => return Err(Error::Contention),
                Pass::Unreadable(e) => return Err(e),
                Pass::Decided(_) if !written => backoff(),
                Pass::Decided(Decision { answer: Ok(v), .. }) => {
                    self.emit(&Draft::of(op.ok_kind), now, op.channel, op.purpose, op.key);
                    return Ok(v);
                }
                Pass::Decided(Decision { answer: Err(e), .. }) => {
                    return Err(self.refuse(e, now, op.channel, op.purpose, op.key))
                }
            }
        }
        Err(Error::Contention)
    }

    /// Emits the events a refusal stands for, and gives it back.
    fn refuse(&self, e: Error, now: u64, channel: Channel, purpose: Option<Purpose>, key: &StoreKey) -> Error {
        for d in Draft::of_error(&e) {
            self.emit(&d, now, channel, purpose, key);
        }
        e
    }

    fn emit(&self, d: &Draft, now: u64, channel: Channel, purpose: Option<Purpose>, key: &StoreKey) {
        if !self.events.enabled() {
            return;
        }
        self.events.emit(&Event {
            kind: d.kind,
            at: now,
            channel,
            purpose,
            subject: pseudonym(key),
            attempts_left: d.attempts_left,
            retry_after: d.retry_after,
            scope: d.scope,
            error: d.error,
        });
    }
}

/// The subject's pseudonym in events and `Issued`: the first 8 bytes of its keyed index hash.
fn pseudonym(key: &StoreKey) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(16);
    for b in &key[..8] {
        text.push(char::from(HEX[usize::from(b >> 4)]));
        text.push(char::from(HEX[usize::from(b & 15)]));
    }
    text
}

fn decode_subject(current: Option<&(Vec<u8>, u64)>) -> Result<SubjectRecord, Error> {
    current.map_or(Ok(SubjectRecord::default()), |(bytes, _)| SubjectRecord::decode(bytes))
}

fn check_locale(locale: Option<&str>) -> Result<(), Error> {
    match locale {
        Some(l) if l.len() > MAX_LOCALE_BYTES => Err(Error::InputTooLong { field: "locale", max: MAX_LOCALE_BYTES }),
        Some(l) if !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {
            Err(Error::InvalidArgument { field: "locale" })
        }
        _ => Ok(()),
    }
}

/// A host's account id: 1 to 128 bytes, no control characters. It is personal data: it goes
/// into the sealed token and the keyed subject hash, never into the store, an event or an error.
fn check_account(account: &str) -> Result<(), Error> {
    if account.len() > MAX_ACCOUNT_BYTES {
        return Err(Error::InputTooLong { field: "account", max: MAX_ACCOUNT_BYTES });
    }
    if account.is_empty() || account.chars().any(char::is_control) {
        return Err(Error::InvalidArgument { field: "account" });
    }
    Ok(())
}

fn backoff() {
    std::thread::yield_now();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;

    /// A token issued before the cipher changed (version 2, XChaCha20-Poly1305, as a running
    /// deployment holds in its sessions at the upgrade) keeps working until its code expires.
    #[test]
    fn tokens_issued_under_the_old_format_open_until_they_expire() {
        let clock = ManualClock::new(1_800_000_000);
        let ring = KeyRing::ephemeral(&OsRandom).unwrap();
        let engine = Engine::builder(Config::default()).clock(Arc::new(clock.clone())).key_ring(ring).build().unwrap();
        let request = |address| IssueRequest {
            channel: Channel::Email,
            identifier: address,
            purpose: Purpose::SignIn,
            client: None,
            locale: None,
        };
        let as_version_2 = |issued: &Issued| {
            let contents = token::open(&engine.keys, &engine.tenant, &issued.token).unwrap();
            token::seal_legacy(engine.keys.active(), 2, &engine.tenant, &contents)
        };

        let issued = engine.issue(&request("jane@example.com")).unwrap();
        let old = as_version_2(&issued);
        assert_ne!(old, issued.token);
        let wrong = if issued.code.as_str() == "000000" { "000001" } else { "000000" };
        assert_eq!(engine.verify(&old, wrong), Err(Error::WrongCode { attempts_left: 4 }), "opened and counted");
        let verified = engine.verify(&old, &issued.code).unwrap();
        assert_eq!((verified.identifier.as_str(), verified.purpose), ("jane@example.com", Purpose::SignIn));

        let issued = engine.issue(&request("john@example.com")).unwrap();
        let old = as_version_2(&issued);
        clock.advance(engine.policy().lifetime(Channel::Email, Purpose::SignIn) - 1);
        assert!(engine.resend(&old, None, None).is_ok(), "a resend keeps the old token working");
        clock.advance(engine.policy().lifetime(Channel::Email, Purpose::SignIn));
        assert_eq!(engine.verify(&old, &issued.code), Err(Error::Expired), "until the code expires");
    }

    #[test]
    fn client_addresses_bucket_by_host_or_v6_64_and_48() {
        let parse = |s: &str| ClientBuckets::parse(s).unwrap();
        assert_eq!(parse("203.0.113.5"), ClientBuckets { host: vec![203, 0, 113, 5], network: None });
        assert_eq!(parse("::ffff:203.0.113.5"), parse("203.0.113.5"));
        assert_eq!(parse("2001:db8:1:2::1"), parse("2001:db8:1:2:ffff::9"));
        assert_ne!(parse("2001:db8:1:2::1").host, parse("2001:db8:1:3::1").host);
        assert_eq!(parse("2001:db8:1:2::1").network, parse("2001:db8:1:ffff::1").network, "one /48");
        assert_ne!(parse("2001:db8:1:2::1").network, parse("2001:db8:2:2::1").network);
        assert_eq!(ClientBuckets::parse("not-an-ip"), Err(Error::InvalidClientAddress));
        assert!(matches!(ClientBuckets::parse(&"1".repeat(100)), Err(Error::InputTooLong { .. })));
    }

    #[test]
    fn account_ids_are_checked() {
        assert!(check_account("user-42").is_ok());
        assert_eq!(check_account(""), Err(Error::InvalidArgument { field: "account" }));
        assert_eq!(check_account("a\nb"), Err(Error::InvalidArgument { field: "account" }));
        assert!(matches!(check_account(&"a".repeat(129)), Err(Error::InputTooLong { field: "account", .. })));
    }

    #[test]
    fn status_reads_failures_and_locks_without_writing() {
        use crate::clock::ManualClock;
        use crate::event::EventLog;
        let clock = ManualClock::new(1_800_000_000);
        let store = Arc::new(MemoryStore::new());
        let events = Arc::new(EventLog::default());
        let config = Config::parse(
            "[keys]\nephemeral = true\n[policy]\nmax_attempts = 10\nlockout_threshold = 3\nlockout_base_seconds = 60\n\
             hard_lock_failures = 6",
        )
        .unwrap();
        let engine = Engine::builder(config)
            .store(store.clone())
            .clock(Arc::new(clock.clone()))
            .events(events.clone())
            .build()
            .unwrap();
        let none = SubjectStatus { failures: 0, budget_failures: 0, locked_until: None, hard_locked: false };
        assert_eq!(engine.status(Channel::Email, "jane@example.com").unwrap(), none);
        assert!(store.is_empty(), "reading an unknown subject creates no record");

        let issued = engine
            .issue(&IssueRequest {
                channel: Channel::Email,
                identifier: "jane@example.com",
                purpose: Purpose::SignIn,
                client: None,
                locale: None,
            })
            .unwrap();
        let wrong = format!("{:06}", (issued.code.parse::<u32>().unwrap() + 1) % 1_000_000);
        let fail = || assert!(engine.verify(&issued.token, &wrong).is_err());
        fail();
        fail();
        let status = engine.status(Channel::Email, "jane@EXAMPLE.com").unwrap();
        assert_eq!(
            status,
            SubjectStatus { failures: 2, budget_failures: 2, ..none },
            "the domain is normalised as in issue"
        );
        let status = engine.status(Channel::Email, "JANE@example.com").unwrap();
        assert_eq!(status.failures, 2, "every spelling of the local part is the one subject issue counts");

        fail();
        let locked = engine.status(Channel::Email, "jane@example.com").unwrap();
        assert_eq!(
            locked,
            SubjectStatus { failures: 3, budget_failures: 3, locked_until: Some(1_800_000_060), hard_locked: false }
        );
        clock.advance(60);
        assert_eq!(
            engine.status(Channel::Email, "jane@example.com").unwrap(),
            SubjectStatus { failures: 3, budget_failures: 3, ..none }
        );

        for _ in 0..3 {
            fail();
        }
        let key = engine.subject_key(&Identifier::parse(Channel::Email, "jane@example.com").unwrap(), None);
        let before = store.get(&key, clock.now()).unwrap();
        let events_before = events.events().len();
        let hard = engine.status(Channel::Email, "jane@example.com").unwrap();
        assert_eq!(hard, SubjectStatus { failures: 6, budget_failures: 6, locked_until: None, hard_locked: true });
        assert_eq!(store.get(&key, clock.now()).unwrap(), before, "status writes nothing");
        assert_eq!(events.events().len(), events_before, "status emits no event");

        engine.unlock(Channel::Email, "jane@example.com").unwrap();
        assert_eq!(engine.status(Channel::Email, "jane@example.com").unwrap(), none);
        assert!(matches!(engine.status(Channel::Email, "not an address"), Err(Error::InvalidEmail { .. })));
        assert!(matches!(engine.status(Channel::Sms, "0770"), Err(Error::InvalidPhone { .. })));
    }

    #[test]
    fn status_finds_the_subject_issue_counts_its_budget_and_accounts() {
        use crate::clock::ManualClock;
        let clock = ManualClock::new(1_800_000_000);
        let config = Config::parse("[keys]\nephemeral = true\n[policy]\nsms_default_region = \"GB\"\n").unwrap();
        let engine =
            Engine::builder(config).store(Arc::new(MemoryStore::new())).clock(Arc::new(clock)).build().unwrap();
        let request = |channel, identifier| IssueRequest {
            channel,
            identifier,
            purpose: Purpose::SignIn,
            client: None,
            locale: None,
        };
        let wrong = |code: &str| format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);

        // Two failures and a success by SMS to a national spelling: the consecutive count is
        // cleared, the budget is not; every spelling of the number reads the same subject.
        let issued = engine.issue(&request(Channel::Sms, "020 7946 0001")).unwrap();
        for _ in 0..2 {
            assert!(engine.verify(&issued.token, &wrong(&issued.code)).is_err());
        }
        engine.verify(&issued.token, &issued.code).unwrap();
        for spelling in ["+44 (0)20 7946 0001", "+442079460001", "020 7946 0001"] {
            let status = engine.status(Channel::Sms, spelling).unwrap();
            assert_eq!((status.failures, status.budget_failures), (0, 2), "{spelling}");
        }
        assert!(matches!(engine.status(Channel::Sms, "+1 1 876 555 0100"), Err(Error::InvalidPhone { .. })));

        // An account subject spans its address and number; it is not the address's subject.
        let issued = engine.issue_for_account("user-42", &request(Channel::Email, "jane@example.com")).unwrap();
        assert!(engine.verify(&issued.token, &wrong(&issued.code)).is_err());
        assert_eq!(engine.status_account("user-42").unwrap().failures, 1);
        assert_eq!(engine.status(Channel::Email, "jane@example.com").unwrap().failures, 0);
        engine.unlock_account("user-42").unwrap();
        assert_eq!(engine.status_account("user-42").unwrap().budget_failures, 0, "an unlock clears the budget");
        assert_eq!(engine.status_account(""), Err(Error::InvalidArgument { field: "account" }));
    }

    #[test]
    fn locales_are_checked() {
        assert!(check_locale(Some("pt-BR")).is_ok());
        assert_eq!(check_locale(Some("fr;drop")), Err(Error::InvalidArgument { field: "locale" }));
        assert!(matches!(check_locale(Some(&"a".repeat(36))), Err(Error::InputTooLong { .. })));
    }
}
