//! The one error type of the engine, with a stable number per variant.
//!
//! Every surface (the Rust crate, the C ABI's `PasscodeStatus`, the WIT `error` variant)
//! reports the same number for the same answer, so a host sees one table whatever it loads.
//! Numbers are grouped by range and never reused: a retired number stays here as a comment.
//!
//! | range | group |
//! |---|---|
//! | 1000s | bad input from the caller (changes no state) |
//! | 2000s | configuration refused at load time |
//! | 3000s | verification outcomes |
//! | 4000s | send limits and blocked destinations |
//! | 5000s | the store |
//! | 6000s | internal (the OS random source) |
//!
//! No message carries a code, a key or a full identifier: an address that is refused is
//! described, never echoed.

use std::fmt;

/// Which send bucket refused a send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitScope {
    /// The subject's own bucket (sends to one address or number).
    Subject,
    /// The bucket of the client address that asked for the send.
    Client,
    /// The bucket of the SMS destination's region (its country, by libphonenumber's metadata).
    Country,
    /// The tenant's ceiling on sends (`policy.tenant_sends`).
    Tenant,
}

impl LimitScope {
    /// The stable lowercase name used in events, JSON and the WIT.
    pub fn name(self) -> &'static str {
        match self {
            LimitScope::Subject => "subject",
            LimitScope::Client => "client",
            LimitScope::Country => "country",
            LimitScope::Tenant => "tenant",
        }
    }
}

/// Everything that can go wrong, or be refused, in the engine.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    // ---- 1000s: bad input ----
    /// The email address is not one (S20). `reason` says which rule it broke.
    InvalidEmail {
        /// Which rule the address broke.
        reason: &'static str,
    },
    /// The phone number is not E.164 (S19).
    InvalidPhone {
        /// Which rule the number broke.
        reason: &'static str,
    },
    /// A text argument is longer than the engine accepts.
    InputTooLong {
        /// The argument's name.
        field: &'static str,
        /// The most bytes accepted.
        max: usize,
    },
    /// A text argument is not UTF-8 (raised by the C ABI and other byte-level surfaces).
    InvalidUtf8 {
        /// The argument's name.
        field: &'static str,
    },
    /// The challenge token is malformed, forged, altered, or from another tenant or key ring.
    /// The store was not touched.
    InvalidToken,
    /// The policy forbids this channel for this purpose (e.g. email for second-factor, S18).
    ChannelNotAllowed {
        /// The channel's name.
        channel: &'static str,
        /// The purpose's name.
        purpose: &'static str,
    },
    /// The client address is not an IPv4 or IPv6 address.
    InvalidClientAddress,
    /// An enumerated argument (channel, purpose) has an unknown value.
    InvalidArgument {
        /// The argument's name.
        field: &'static str,
    },

    // ---- 2000s: configuration ----
    /// The configuration is not valid TOML or JSON, or has a wrongly typed field.
    ConfigSyntax {
        /// Where and what: the line and column, and what was expected. It never quotes the
        /// config's text, so a password in a URL cannot leak through it.
        message: String,
    },
    /// The configuration names a field that does not exist.
    UnknownConfigField {
        /// The field's name.
        field: String,
    },
    /// A policy value is out of its bounds.
    PolicyOutOfBounds {
        /// The field's dotted name.
        field: &'static str,
        /// The bound it broke, and where the bound comes from.
        reason: String,
    },
    /// A key is too short or visibly not random.
    WeakKey {
        /// The key's id in the ring.
        id: u8,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A key could not be read from its file or environment variable.
    KeyUnavailable {
        /// The key's id in the ring.
        id: u8,
        /// Where it was looked for (the variable or file name, never its content).
        source: String,
    },
    /// A message template is invalid or would not fit the configured SMS size.
    InvalidTemplate {
        /// Which template.
        template: String,
        /// What is wrong with it.
        reason: String,
    },

    // ---- 3000s: verification ----
    /// The code is wrong. `attempts_left` more tries are allowed on this challenge.
    WrongCode {
        /// Tries left on this challenge before it is dead.
        attempts_left: u32,
    },
    /// The challenge has expired.
    Expired,
    /// The challenge used up its tries; even the right code is refused now (S8).
    TooManyAttempts,
    /// The subject is locked after too many failures. `retry_after` is the wait in seconds,
    /// or `None` for a hard lock that only an operator's unlock lifts.
    SubjectLocked {
        /// Seconds until the lock lifts; `None` for a hard lock.
        retry_after: Option<u64>,
    },
    /// No such live challenge: unknown, already used, cancelled, or replaced by a newer one.
    NotFound,
    /// The code is wrong, the guess was counted, and it started a lock of the subject: the
    /// temporary lock after every `lockout_threshold` failures, the failure budget running
    /// out, or the hard lock. Unlike `SubjectLocked`, which refuses a guess unseen, this one
    /// tells the caller that the guess was evaluated.
    WrongCodeLocked {
        /// Tries left on this challenge once the lock lifts.
        attempts_left: u32,
        /// Seconds until the lock lifts; `None` for a hard lock.
        retry_after: Option<u64>,
    },

    // ---- 4000s: limits ----
    /// The resend cooldown has not passed.
    ResendTooSoon {
        /// Seconds until a send is allowed.
        retry_after: u64,
    },
    /// A send bucket is empty.
    SendLimit {
        /// Which bucket.
        scope: LimitScope,
        /// Seconds until a send is allowed.
        retry_after: u64,
    },
    /// SMS to this destination's country is not allowed by policy.
    DestinationBlocked,

    // ---- 5000s: store ----
    /// The store failed or could not be reached; nothing was accepted (fail closed).
    StoreUnavailable {
        /// The store's own description of the failure (no keys or record contents).
        message: String,
    },
    /// The record kept changing under us; the operation gave up after bounded retries.
    Contention,
    /// A record in the store could not be decoded.
    CorruptRecord,

    // ---- 6000s: internal ----
    /// The operating system's random source failed.
    RandomUnavailable,
    /// The clock (the host's, through the C ABI or WASI) reads a time outside 2020..=9999:
    /// it is unset, wrapped or corrupt, and no time computed from it can be trusted.
    ClockOutOfRange,
}

impl Error {
    /// The stable number of this error, the same on every surface.
    pub fn number(&self) -> u32 {
        match self {
            Error::InvalidEmail { .. } => 1001,
            Error::InvalidPhone { .. } => 1002,
            Error::InputTooLong { .. } => 1003,
            Error::InvalidUtf8 { .. } => 1004,
            Error::InvalidToken => 1005,
            Error::ChannelNotAllowed { .. } => 1006,
            Error::InvalidClientAddress => 1007,
            Error::InvalidArgument { .. } => 1008,
            Error::ConfigSyntax { .. } => 2001,
            Error::UnknownConfigField { .. } => 2002,
            Error::PolicyOutOfBounds { .. } => 2003,
            Error::WeakKey { .. } => 2004,
            Error::KeyUnavailable { .. } => 2005,
            Error::InvalidTemplate { .. } => 2006,
            Error::WrongCode { .. } => 3001,
            Error::Expired => 3002,
            Error::TooManyAttempts => 3003,
            Error::SubjectLocked { .. } => 3004,
            Error::NotFound => 3005,
            Error::WrongCodeLocked { .. } => 3006,
            Error::ResendTooSoon { .. } => 4001,
            Error::SendLimit { .. } => 4002,
            Error::DestinationBlocked => 4003,
            Error::StoreUnavailable { .. } => 5001,
            Error::Contention => 5002,
            Error::CorruptRecord => 5003,
            Error::RandomUnavailable => 6001,
            Error::ClockOutOfRange => 6002,
        }
    }

    /// The stable kebab-case name of this error (used in scenario vectors, JSON and the WIT).
    pub fn name(&self) -> &'static str {
        match self {
            Error::InvalidEmail { .. } => "invalid-email",
            Error::InvalidPhone { .. } => "invalid-phone",
            Error::InputTooLong { .. } => "input-too-long",
            Error::InvalidUtf8 { .. } => "invalid-utf8",
            Error::InvalidToken => "invalid-token",
            Error::ChannelNotAllowed { .. } => "channel-not-allowed",
            Error::InvalidClientAddress => "invalid-client-address",
            Error::InvalidArgument { .. } => "invalid-argument",
            Error::ConfigSyntax { .. } => "config-syntax",
            Error::UnknownConfigField { .. } => "unknown-config-field",
            Error::PolicyOutOfBounds { .. } => "policy-out-of-bounds",
            Error::WeakKey { .. } => "weak-key",
            Error::KeyUnavailable { .. } => "key-unavailable",
            Error::InvalidTemplate { .. } => "invalid-template",
            Error::WrongCode { .. } => "wrong-code",
            Error::Expired => "expired",
            Error::TooManyAttempts => "too-many-attempts",
            Error::SubjectLocked { .. } => "subject-locked",
            Error::NotFound => "not-found",
            Error::WrongCodeLocked { .. } => "wrong-code-locked",
            Error::ResendTooSoon { .. } => "resend-too-soon",
            Error::SendLimit { .. } => "send-limit",
            Error::DestinationBlocked => "destination-blocked",
            Error::StoreUnavailable { .. } => "store-unavailable",
            Error::Contention => "contention",
            Error::CorruptRecord => "corrupt-record",
            Error::RandomUnavailable => "random-unavailable",
            Error::ClockOutOfRange => "clock-out-of-range",
        }
    }

    /// Seconds the caller should wait before trying again, for every limited answer.
    pub fn retry_after(&self) -> Option<u64> {
        match self {
            Error::SubjectLocked { retry_after } | Error::WrongCodeLocked { retry_after, .. } => *retry_after,
            Error::ResendTooSoon { retry_after } | Error::SendLimit { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }

    /// Tries left on the challenge, for a wrong code.
    pub fn attempts_left(&self) -> Option<u32> {
        match self {
            Error::WrongCode { attempts_left } | Error::WrongCodeLocked { attempts_left, .. } => Some(*attempts_left),
            _ => None,
        }
    }
}

/// Every error number with its name, for the tables that the C ABI and the WIT are tested against.
pub const ERROR_TABLE: &[(u32, &str)] = &[
    (1001, "invalid-email"),
    (1002, "invalid-phone"),
    (1003, "input-too-long"),
    (1004, "invalid-utf8"),
    (1005, "invalid-token"),
    (1006, "channel-not-allowed"),
    (1007, "invalid-client-address"),
    (1008, "invalid-argument"),
    (2001, "config-syntax"),
    (2002, "unknown-config-field"),
    (2003, "policy-out-of-bounds"),
    (2004, "weak-key"),
    (2005, "key-unavailable"),
    (2006, "invalid-template"),
    (3001, "wrong-code"),
    (3002, "expired"),
    (3003, "too-many-attempts"),
    (3004, "subject-locked"),
    (3005, "not-found"),
    (3006, "wrong-code-locked"),
    (4001, "resend-too-soon"),
    (4002, "send-limit"),
    (4003, "destination-blocked"),
    (5001, "store-unavailable"),
    (5002, "contention"),
    (5003, "corrupt-record"),
    (6001, "random-unavailable"),
    (6002, "clock-out-of-range"),
];

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidEmail { reason } => write!(f, "not an email address: {reason}"),
            Error::InvalidPhone { reason } => write!(f, "not an E.164 phone number: {reason}"),
            Error::InputTooLong { field, max } => {
                write!(f, "{field} is too long (at most {max} bytes)")
            }
            Error::InvalidUtf8 { field } => write!(f, "{field} is not valid UTF-8"),
            Error::InvalidToken => write!(f, "the challenge token is malformed or not ours"),
            Error::ChannelNotAllowed { channel, purpose } => {
                write!(f, "the policy does not allow {channel} codes for {purpose}")
            }
            Error::InvalidClientAddress => {
                write!(f, "the client address is not an IPv4 or IPv6 address")
            }
            Error::InvalidArgument { field } => write!(f, "{field} has an unknown value"),
            Error::ConfigSyntax { message } => write!(f, "config is not valid: {message}"),
            Error::UnknownConfigField { field } => write!(f, "config has an unknown field `{field}`"),
            Error::PolicyOutOfBounds { field, reason } => write!(f, "policy field `{field}`: {reason}"),
            Error::WeakKey { id, reason } => write!(f, "key {id} is weak: {reason}"),
            Error::KeyUnavailable { id, source } => {
                write!(f, "key {id} could not be read from {source}")
            }
            Error::InvalidTemplate { template, reason } => {
                write!(f, "template {template}: {reason}")
            }
            Error::WrongCode { attempts_left } => {
                write!(f, "wrong code; {attempts_left} attempts left")
            }
            Error::Expired => write!(f, "the code has expired"),
            Error::TooManyAttempts => write!(f, "too many wrong attempts on this challenge"),
            Error::SubjectLocked { retry_after: Some(s) } => {
                write!(f, "too many failures; locked for {s} more seconds")
            }
            Error::SubjectLocked { retry_after: None } => {
                write!(f, "too many failures; locked until an operator unlocks it")
            }
            Error::NotFound => write!(f, "no such challenge: unknown, used, cancelled or replaced"),
            Error::WrongCodeLocked { retry_after: Some(s), .. } => {
                write!(f, "wrong code; too many failures, locked for {s} seconds")
            }
            Error::WrongCodeLocked { retry_after: None, .. } => {
                write!(f, "wrong code; too many failures, locked until an operator unlocks it")
            }
            Error::ResendTooSoon { retry_after } => {
                write!(f, "a code was sent recently; retry in {retry_after} seconds")
            }
            Error::SendLimit { scope, retry_after } => {
                write!(f, "send limit reached for this {}; retry in {retry_after} seconds", scope.name())
            }
            Error::DestinationBlocked => write!(f, "SMS to this destination is not allowed"),
            Error::StoreUnavailable { message } => write!(f, "store unavailable: {message}"),
            Error::Contention => write!(f, "the record is too busy; try again"),
            Error::CorruptRecord => write!(f, "a stored record could not be decoded"),
            Error::RandomUnavailable => write!(f, "the operating system's random source failed"),
            Error::ClockOutOfRange => write!(f, "the clock reads a time outside 2020 to 9999"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    fn every_error() -> Vec<Error> {
        vec![
            Error::InvalidEmail { reason: "r" },
            Error::InvalidPhone { reason: "r" },
            Error::InputTooLong { field: "f", max: 1 },
            Error::InvalidUtf8 { field: "f" },
            Error::InvalidToken,
            Error::ChannelNotAllowed { channel: "email", purpose: "second-factor" },
            Error::InvalidClientAddress,
            Error::InvalidArgument { field: "f" },
            Error::ConfigSyntax { message: "m".into() },
            Error::UnknownConfigField { field: "f".into() },
            Error::PolicyOutOfBounds { field: "f", reason: "r".into() },
            Error::WeakKey { id: 1, reason: "r" },
            Error::KeyUnavailable { id: 1, source: "s".into() },
            Error::InvalidTemplate { template: "t".into(), reason: "r".into() },
            Error::WrongCode { attempts_left: 2 },
            Error::Expired,
            Error::TooManyAttempts,
            Error::SubjectLocked { retry_after: Some(5) },
            Error::NotFound,
            Error::WrongCodeLocked { attempts_left: 3, retry_after: Some(60) },
            Error::ResendTooSoon { retry_after: 3 },
            Error::SendLimit { scope: LimitScope::Client, retry_after: 3 },
            Error::DestinationBlocked,
            Error::StoreUnavailable { message: "m".into() },
            Error::Contention,
            Error::CorruptRecord,
            Error::RandomUnavailable,
            Error::ClockOutOfRange,
        ]
    }

    #[test]
    fn table_matches_every_variant_number_and_name() {
        let errors = every_error();
        assert_eq!(errors.len(), ERROR_TABLE.len());
        for (e, (n, name)) in errors.iter().zip(ERROR_TABLE) {
            assert_eq!(e.number(), *n, "{e:?}");
            assert_eq!(e.name(), *name, "{e:?}");
        }
        let mut numbers: Vec<u32> = ERROR_TABLE.iter().map(|(n, _)| *n).collect();
        numbers.dedup();
        assert_eq!(numbers.len(), ERROR_TABLE.len(), "numbers are unique and sorted");
    }

    #[test]
    fn every_message_is_specific() {
        let expected = [
            "not an email address: r",
            "not an E.164 phone number: r",
            "f is too long (at most 1 bytes)",
            "f is not valid UTF-8",
            "the challenge token is malformed or not ours",
            "the policy does not allow email codes for second-factor",
            "the client address is not an IPv4 or IPv6 address",
            "f has an unknown value",
            "config is not valid: m",
            "config has an unknown field `f`",
            "policy field `f`: r",
            "key 1 is weak: r",
            "key 1 could not be read from s",
            "template t: r",
            "wrong code; 2 attempts left",
            "the code has expired",
            "too many wrong attempts on this challenge",
            "too many failures; locked for 5 more seconds",
            "no such challenge: unknown, used, cancelled or replaced",
            "wrong code; too many failures, locked for 60 seconds",
            "a code was sent recently; retry in 3 seconds",
            "send limit reached for this client; retry in 3 seconds",
            "SMS to this destination is not allowed",
            "store unavailable: m",
            "the record is too busy; try again",
            "a stored record could not be decoded",
            "the operating system's random source failed",
            "the clock reads a time outside 2020 to 9999",
        ];
        for (e, want) in every_error().iter().zip(expected) {
            assert_eq!(e.to_string(), want);
        }
        assert_eq!(
            Error::SubjectLocked { retry_after: None }.to_string(),
            "too many failures; locked until an operator unlocks it"
        );
    }

    #[test]
    fn limited_answers_carry_retry_after() {
        assert_eq!(Error::ResendTooSoon { retry_after: 7 }.retry_after(), Some(7));
        assert_eq!(Error::SendLimit { scope: LimitScope::Subject, retry_after: 9 }.retry_after(), Some(9));
        assert_eq!(Error::SubjectLocked { retry_after: Some(4) }.retry_after(), Some(4));
        assert_eq!(Error::WrongCode { attempts_left: 3 }.attempts_left(), Some(3));
        let locked = Error::WrongCodeLocked { attempts_left: 2, retry_after: None };
        assert_eq!((locked.attempts_left(), locked.retry_after()), (Some(2), None));
        assert_eq!(Error::Expired.retry_after(), None);
    }
}
