//! The policy: every limit the engine applies, its default, and its bounds.
//!
//! Bounds live here and only here, each with the source it comes from, so that a weaker
//! policy is refused when the configuration is loaded (S2), not discovered in production.
//! A test that needs a value outside the bounds builds it with [`Policy::build_noncompliant`].

use std::ops::RangeInclusive;

use serde::Deserialize;

use crate::error::Error;
use crate::identifier::{is_known_region, Channel, Identifier, PhoneType, Purpose};

/// The bounds of the policy, each with its source. `Policy::validate` refuses a value outside
/// them; ARCHITECTURE.md ("Defaults and why") gives the reasoning for each default.
pub mod bounds {
    use std::ops::RangeInclusive;

    /// Code length: at least six digits or the equivalent (S2: NIST SP 800-63B rev4 3.1.3.2,
    /// ASVS 5.0 6.5.4; the minimum per alphabet is `Alphabet::min_length`); at most 10, so a
    /// digit code is one uniform draw below 10^10 (it fits a u64).
    pub const MAX_CODE_LENGTH: u8 = 10;
    /// A code's lifetime, seconds: at most 10 minutes for a code sent by SMS (S4: NIST SP
    /// 800-63B rev3 5.1.3.2, rev4 3.1.3.2; ASVS 4.0.3 2.7.2).
    pub const LIFETIME_SECONDS: RangeInclusive<u64> = 60..=600;
    /// The lifetime of an email code for recovery or contact confirmation, seconds: at most
    /// 24 hours (S4: NIST SP 800-63B rev4 4.2, ASVS 5.0 6.5.5).
    pub const EMAIL_CONFIRMATION_LIFETIME_SECONDS: RangeInclusive<u64> = 60..=86_400;
    /// Wrong tries per challenge (S8, the engine's own rule: a small part of the budget of S11).
    pub const MAX_ATTEMPTS: RangeInclusive<u32> = 1..=10;
    /// Consecutive failures before the hard lock: no more than 100 (S11: NIST SP 800-63B rev3
    /// 5.2.2, rev4 3.2.2; ASVS 4.0.3 2.2.1).
    pub const HARD_LOCK_FAILURES: RangeInclusive<u32> = 1..=100;
    /// The first temporary lock, seconds: up to a day (the engine's own rule).
    pub const LOCKOUT_BASE_SECONDS: RangeInclusive<u64> = 1..=86_400;
    /// The longest temporary lock, seconds: a week (the engine's own rule; a longer wait is
    /// what the hard lock is for).
    pub const MAX_LOCKOUT_SECONDS: u64 = 7 * 86_400;
    /// Failures in the failure budget's window: at most 100, so a guesser's chance stays at
    /// most 1e-4 per window with six digits (S13: RFC 4226 section 6 and appendix A.4.2).
    pub const FAILURE_BUDGET_MAX: RangeInclusive<u32> = 1..=100;
    /// The failure budget's window, seconds: a day to a year (S13).
    pub const FAILURE_BUDGET_WINDOW_SECONDS: RangeInclusive<u64> = 86_400..=365 * 86_400;
    /// How long failures are kept after the last one, seconds: at most 366 days (the least is
    /// the budget's window and the longest lock, so no failure is forgotten while it counts).
    pub const MAX_FAILURE_RECORD_SECONDS: u64 = 366 * 86_400;
    /// The wait between two sends for one challenge, seconds: up to an hour (S17).
    pub const MAX_RESEND_COOLDOWN_SECONDS: u64 = 3_600;
    /// Sends per subject in a window: the record keeps each send's time, so at most 20 (S17).
    pub const MAX_SUBJECT_SENDS: u32 = 20;
    /// Sends per client address, per client /48 and per SMS region in a window (S17).
    pub const MAX_SHARED_SENDS: u32 = 1_000_000;
    /// Sends for the whole tenant in a window (S17).
    pub const MAX_TENANT_SENDS: u32 = 10_000_000;
    /// A send bucket's window, seconds: up to a week (S17).
    pub const SEND_WINDOW_SECONDS: RangeInclusive<u64> = 1..=7 * 86_400;
}

pub use bounds::MAX_SUBJECT_SENDS;

/// The characters a code is drawn from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Alphabet {
    /// `0-9`. The default, and the only one phones autofill everywhere.
    #[default]
    Digits,
    /// 31 lowercase letters and digits with the look-alikes (0, 1, i, l, o) left out.
    Alphanumeric,
}

impl Alphabet {
    /// The symbols, in the order a draw indexes them.
    pub fn symbols(self) -> &'static [u8] {
        match self {
            Alphabet::Digits => b"0123456789",
            Alphabet::Alphanumeric => b"23456789abcdefghjkmnpqrstuvwxyz",
        }
    }

    /// The shortest code with at least the guessing resistance of six digits (S2).
    pub fn min_length(self) -> u8 {
        match self {
            Alphabet::Digits => 6,
            // 31^5 = 28.6e6 >= 1e6 > 31^4.
            Alphabet::Alphanumeric => 5,
        }
    }
}

/// A limit: at most `max` events (sends, or failures for the failure budget) in any window of
/// `window_seconds`. It means what it says: no window of that length ever holds more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendBucket {
    /// Sends allowed in a window.
    pub max: u32,
    /// The window, in seconds.
    pub window_seconds: u64,
}

/// Which SMS destinations may be sent to. Each entry is a region, as libphonenumber's
/// metadata names it (an ISO 3166 code such as `GB` or `JM`, or `001` for the non-geographic
/// codes), or an E.164 prefix (a calling code such as `44`, or a longer one such as `1876`),
/// matched against the number's canonical E.164 form. An empty allow list allows every region.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CountryRules {
    /// Regions or prefixes allowed; empty means all.
    #[serde(default)]
    pub allow: Vec<String>,
    /// Regions or prefixes refused, checked after the allow list.
    #[serde(default)]
    pub deny: Vec<String>,
}

impl CountryRules {
    /// Whether an E.164 number (`+` and digits) in `region` may receive SMS.
    pub fn allows(&self, number: &str, region: &str) -> bool {
        let digits = number.trim_start_matches('+');
        let matches = |p: &String| {
            let p = p.trim_start_matches('+');
            if p.bytes().all(|b| b.is_ascii_digit()) && !is_region_code(p) {
                digits.starts_with(p)
            } else {
                p.eq_ignore_ascii_case(region)
            }
        };
        (self.allow.is_empty() || self.allow.iter().any(matches)) && !self.deny.iter().any(matches)
    }
}

/// `001` names libphonenumber's non-geographic region, not the prefix 001 (no E.164 number
/// starts with 0 anyway).
fn is_region_code(entry: &str) -> bool {
    entry == "001" || (entry.len() == 2 && entry.bytes().all(|b| b.is_ascii_alphabetic()))
}

/// Which kinds of number may receive SMS, by libphonenumber's type names: `mobile`,
/// `fixed-line`, `fixed-line-or-mobile`, `voip`, `toll-free`, `premium-rate`, `shared-cost`,
/// `personal-number`, `pager`, `uan`, `voicemail`. An empty allow list allows every type not
/// denied. By default the costly types are denied (SMS pumping and toll fraud pay out through
/// them); a configured `deny` list replaces that default, so name them in yours.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct NumberTypeRules {
    /// Types allowed; empty means every type not denied.
    pub allow: Vec<String>,
    /// Types refused, checked after the allow list.
    pub deny: Vec<String>,
}

/// The types SMS is refused to by default: each can cost the sender, or is no person's phone.
pub const COSTLY_NUMBER_TYPES: [PhoneType; 7] = [
    PhoneType::PremiumRate,
    PhoneType::SharedCost,
    PhoneType::PersonalNumber,
    PhoneType::Uan,
    PhoneType::TollFree,
    PhoneType::Pager,
    PhoneType::Voicemail,
];

impl Default for NumberTypeRules {
    fn default() -> Self {
        NumberTypeRules { allow: Vec::new(), deny: COSTLY_NUMBER_TYPES.iter().map(|t| t.name().to_string()).collect() }
    }
}

impl NumberTypeRules {
    /// Whether a number of type `kind` may receive SMS.
    pub fn allows(&self, kind: PhoneType) -> bool {
        let matches = |name: &String| name == kind.name();
        (self.allow.is_empty() || self.allow.iter().any(matches)) && !self.deny.iter().any(matches)
    }
}

/// Every limit the engine applies. Field names are the config's (`[policy]`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Policy {
    /// Code length in symbols. Default 6; digits 6..=10, alphanumeric 5..=10.
    pub code_length: u8,
    /// The code's alphabet. Default digits.
    pub alphabet: Alphabet,
    /// How long a code lives, in seconds. Default 600; at most 600 (S4).
    pub lifetime_seconds: u64,
    /// Lifetime of email codes for verify-contact and recovery. Default 600; at most 86400 (S4).
    pub email_confirmation_lifetime_seconds: u64,
    /// Wrong tries per challenge before it is dead (S8). Default 5; 1..=10.
    pub max_attempts: u32,
    /// A temporary lock after every this many consecutive failures of a subject. Default 10.
    pub lockout_threshold: u32,
    /// The first temporary lock, in seconds; each later one doubles. Default 60.
    pub lockout_base_seconds: u64,
    /// The longest temporary lock, in seconds. Default 3600.
    pub lockout_max_seconds: u64,
    /// Consecutive failures after which only an operator's unlock helps (S11). Default 100; at most 100.
    pub hard_lock_failures: u32,
    /// Failures of a subject in a long window, which a success does not clear: once `max`
    /// wrong guesses were counted in any window of `window_seconds`, the subject is locked
    /// until the oldest leave the window. Default 100 per 30 days; max 1..=100, window 1 to
    /// 365 days. So the chance of S13 (max / 10^digits) holds per window even against an
    /// attacker who stops short of the hard lock before every success of the real user.
    pub failure_budget: SendBucket,
    /// How long a subject's failures (count, locks, budget) are kept after its last failure,
    /// refreshed by each one; then the record is forgotten. Default 30 days; at least the
    /// budget's window and the longest temporary lock, at most 366 days. A hard lock lasts
    /// this long after the last failure unless an operator unlocks it sooner.
    pub failure_record_seconds: u64,
    /// The wait between two sends for one challenge or purpose, in seconds. Default 30.
    pub resend_cooldown_seconds: u64,
    /// Sends per subject. Default 5 per 600 s; at most 20 per window.
    pub subject_sends: SendBucket,
    /// Sends per client address (IPv4, or IPv6 /64). Default 20 per 600 s.
    pub client_sends: SendBucket,
    /// Sends per client IPv6 /48 (a site's whole allocation: 65,536 /64s). Default 200 per 600 s.
    pub client_network_sends: SendBucket,
    /// SMS sends per destination region (Jamaica and the United States are two). Default 500 per 600 s.
    pub country_sends: SendBucket,
    /// An optional ceiling on sends for the whole tenant, e.g. `{ max = 50, window_seconds = 1 }`.
    /// Default none. Every issue and resend then also writes one shared record.
    pub tenant_sends: Option<SendBucket>,
    /// Which SMS destinations are allowed, by region or E.164 prefix (S17).
    pub sms_countries: CountryRules,
    /// Which kinds of number may receive SMS; premium-rate and the other costly types are
    /// refused by default.
    pub sms_number_types: NumberTypeRules,
    /// The region whose national format numbers without `+` are read in (`GB`: `020 7946 0000`
    /// is `+442079460000`). Default none: every number must start with `+`.
    pub sms_default_region: Option<String>,
    /// Whether email codes may be used as a second factor. NIST rev4 3.1.3.1 says email is not
    /// an out-of-band authenticator at AAL2 (S18): set this to `false` for AAL2. Default true.
    pub email_second_factor: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            code_length: 6,
            alphabet: Alphabet::Digits,
            lifetime_seconds: 600,
            email_confirmation_lifetime_seconds: 600,
            max_attempts: 5,
            lockout_threshold: 10,
            lockout_base_seconds: 60,
            lockout_max_seconds: 3600,
            hard_lock_failures: 100,
            failure_budget: SendBucket { max: 100, window_seconds: 30 * 86_400 },
            failure_record_seconds: 30 * 86_400,
            resend_cooldown_seconds: 30,
            subject_sends: SendBucket { max: 5, window_seconds: 600 },
            client_sends: SendBucket { max: 20, window_seconds: 600 },
            client_network_sends: SendBucket { max: 200, window_seconds: 600 },
            country_sends: SendBucket { max: 500, window_seconds: 600 },
            tenant_sends: None,
            sms_countries: CountryRules::default(),
            sms_number_types: NumberTypeRules::default(),
            sms_default_region: None,
            email_second_factor: true,
        }
    }
}

fn out(field: &'static str, reason: impl Into<String>) -> Error {
    Error::PolicyOutOfBounds { field, reason: reason.into() }
}

impl Policy {
    /// Whether an SMS may go to this number: its region or prefix (`sms_countries`) and its
    /// type (`sms_number_types`, costly types refused by default). A number whose region or
    /// type is unknown (one read back from a token) is refused. Email is always allowed.
    pub fn allows_destination(&self, identifier: &Identifier) -> bool {
        if identifier.channel() != Channel::Sms {
            return true;
        }
        let (Some(region), Some(kind)) = (identifier.region(), identifier.phone_type()) else {
            return false;
        };
        self.sms_countries.allows(identifier.as_str(), region) && self.sms_number_types.allows(kind)
    }

    /// Checks every bound. Called when a configuration is loaded.
    pub fn validate(&self) -> Result<(), Error> {
        use bounds::*;
        let min = self.alphabet.min_length();
        if !(min..=MAX_CODE_LENGTH).contains(&self.code_length) {
            return Err(out(
                "policy.code_length",
                format!(
                    "must be {min}..={MAX_CODE_LENGTH} for this alphabet (NIST SP 800-63B rev4 3.1.3.2: at least six \
                     digits or equivalent)"
                ),
            ));
        }
        if !LIFETIME_SECONDS.contains(&self.lifetime_seconds) {
            return Err(out(
                "policy.lifetime_seconds",
                format!("must be {} (NIST SP 800-63B: an SMS code lives at most 10 minutes)", range(LIFETIME_SECONDS)),
            ));
        }
        if !EMAIL_CONFIRMATION_LIFETIME_SECONDS.contains(&self.email_confirmation_lifetime_seconds) {
            return Err(out(
                "policy.email_confirmation_lifetime_seconds",
                format!(
                    "must be {} (email codes for recovery or contact confirmation live at most 24 hours)",
                    range(EMAIL_CONFIRMATION_LIFETIME_SECONDS)
                ),
            ));
        }
        if !MAX_ATTEMPTS.contains(&self.max_attempts) {
            return Err(out("policy.max_attempts", format!("must be {}", range(MAX_ATTEMPTS))));
        }
        if !HARD_LOCK_FAILURES.contains(&self.hard_lock_failures) {
            return Err(out(
                "policy.hard_lock_failures",
                format!(
                    "must be {} (NIST SP 800-63B rev4 3.2.2: no more than 100 consecutive failures)",
                    range(HARD_LOCK_FAILURES)
                ),
            ));
        }
        if self.lockout_threshold == 0 || self.lockout_threshold > self.hard_lock_failures {
            return Err(out("policy.lockout_threshold", "must be 1..=hard_lock_failures"));
        }
        if !LOCKOUT_BASE_SECONDS.contains(&self.lockout_base_seconds) {
            return Err(out("policy.lockout_base_seconds", format!("must be {}", range(LOCKOUT_BASE_SECONDS))));
        }
        if !(self.lockout_base_seconds..=MAX_LOCKOUT_SECONDS).contains(&self.lockout_max_seconds) {
            return Err(out(
                "policy.lockout_max_seconds",
                format!("must be lockout_base_seconds..={MAX_LOCKOUT_SECONDS}"),
            ));
        }
        let budget = self.failure_budget;
        if !FAILURE_BUDGET_MAX.contains(&budget.max) || !FAILURE_BUDGET_WINDOW_SECONDS.contains(&budget.window_seconds)
        {
            return Err(out(
                "policy.failure_budget",
                format!(
                    "max must be {} and window_seconds {} (S13: at most 1e-4 per window with six digits)",
                    range(FAILURE_BUDGET_MAX),
                    range(FAILURE_BUDGET_WINDOW_SECONDS)
                ),
            ));
        }
        let shortest_life = budget.window_seconds.max(self.lockout_max_seconds);
        if !(shortest_life..=MAX_FAILURE_RECORD_SECONDS).contains(&self.failure_record_seconds) {
            return Err(out(
                "policy.failure_record_seconds",
                format!(
                    "must be at least failure_budget.window_seconds and lockout_max_seconds, and at most \
                     {MAX_FAILURE_RECORD_SECONDS}"
                ),
            ));
        }
        if self.resend_cooldown_seconds > MAX_RESEND_COOLDOWN_SECONDS {
            return Err(out("policy.resend_cooldown_seconds", format!("must be 0..={MAX_RESEND_COOLDOWN_SECONDS}")));
        }
        check_bucket("policy.subject_sends", self.subject_sends, MAX_SUBJECT_SENDS)?;
        check_bucket("policy.client_sends", self.client_sends, MAX_SHARED_SENDS)?;
        check_bucket("policy.client_network_sends", self.client_network_sends, MAX_SHARED_SENDS)?;
        check_bucket("policy.country_sends", self.country_sends, MAX_SHARED_SENDS)?;
        if let Some(t) = self.tenant_sends {
            check_bucket("policy.tenant_sends", t, MAX_TENANT_SENDS)?;
        }
        for p in self.sms_countries.allow.iter().chain(&self.sms_countries.deny) {
            let entry = p.trim_start_matches('+');
            let prefix = !entry.is_empty()
                && entry.len() <= 6
                && entry.bytes().all(|b| b.is_ascii_digit())
                && !entry.starts_with('0');
            let region =
                is_region_code(entry) && entry.bytes().all(|b| !b.is_ascii_lowercase()) && is_known_region(entry);
            if !prefix && !region {
                return Err(out(
                    "policy.sms_countries",
                    "an entry is neither a region (`GB`, `JM`, `001`) nor an E.164 prefix (1 to 6 digits, not starting with 0)",
                ));
            }
        }
        for t in self.sms_number_types.allow.iter().chain(&self.sms_number_types.deny) {
            if PhoneType::parse(t).is_none() {
                return Err(out(
                    "policy.sms_number_types",
                    "an entry is not a number type (mobile, fixed-line, fixed-line-or-mobile, voip, toll-free, \
                     premium-rate, shared-cost, personal-number, pager, uan, voicemail)",
                ));
            }
        }
        if let Some(r) = &self.sms_default_region {
            if r.len() != 2 || !r.bytes().all(|b| b.is_ascii_uppercase()) || !is_known_region(r) {
                return Err(out("policy.sms_default_region", "must be a region with a numbering plan, such as `GB`"));
            }
        }
        Ok(())
    }

    /// A policy outside the bounds, for tests that must show what the bounds prevent.
    pub fn build_noncompliant(self) -> Policy {
        self
    }

    /// How long a code for this channel and purpose lives.
    pub fn lifetime(&self, channel: Channel, purpose: Purpose) -> u64 {
        match (channel, purpose) {
            (Channel::Email, Purpose::VerifyContact | Purpose::Recovery) => self.email_confirmation_lifetime_seconds,
            _ => self.lifetime_seconds,
        }
    }

    /// The temporary lock that `failures` consecutive failures earn, if any: after every
    /// `lockout_threshold` failures, `base * 2^(k-1)` seconds, at most `lockout_max_seconds`.
    pub fn lock_seconds(&self, failures: u32) -> Option<u64> {
        if failures == 0 || failures % self.lockout_threshold != 0 {
            return None;
        }
        let k = failures / self.lockout_threshold;
        let factor = 1u64.checked_shl(k.saturating_sub(1).min(62)).unwrap_or(u64::MAX);
        Some(self.lockout_base_seconds.saturating_mul(factor).min(self.lockout_max_seconds))
    }
}

fn check_bucket(field: &'static str, b: SendBucket, max: u32) -> Result<(), Error> {
    if !(1..=max).contains(&b.max) {
        return Err(out(field, format!("max must be 1..={max}")));
    }
    if !bounds::SEND_WINDOW_SECONDS.contains(&b.window_seconds) {
        return Err(out(field, format!("window_seconds must be {}", range(bounds::SEND_WINDOW_SECONDS))));
    }
    Ok(())
}

/// A bound as the errors write it: `60..=600`.
fn range<T: std::fmt::Display>(r: RangeInclusive<T>) -> String {
    format!("{}..={}", r.start(), r.end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(p: Policy) -> &'static str {
        match p.validate() {
            Err(Error::PolicyOutOfBounds { field, .. }) => field,
            other => panic!("expected a bound error, got {other:?}"),
        }
    }

    /// The errors name each bound as they did before the bounds became constants.
    #[test]
    fn bound_errors_say_their_bounds() {
        let reason = |p: Policy| match p.validate() {
            Err(Error::PolicyOutOfBounds { reason, .. }) => reason,
            other => panic!("expected a bound error, got {other:?}"),
        };
        let d = Policy::default;
        let bucket = |max, window_seconds| SendBucket { max, window_seconds };
        for (policy, text) in [
            (
                Policy { code_length: 11, ..d() },
                "must be 6..=10 for this alphabet (NIST SP 800-63B rev4 3.1.3.2: at least six digits or equivalent)",
            ),
            (Policy { lifetime_seconds: 601, ..d() }, "must be 60..=600 (NIST SP 800-63B: an SMS code lives at most 10 minutes)"),
            (
                Policy { email_confirmation_lifetime_seconds: 59, ..d() },
                "must be 60..=86400 (email codes for recovery or contact confirmation live at most 24 hours)",
            ),
            (Policy { max_attempts: 11, ..d() }, "must be 1..=10"),
            (
                Policy { hard_lock_failures: 101, ..d() },
                "must be 1..=100 (NIST SP 800-63B rev4 3.2.2: no more than 100 consecutive failures)",
            ),
            (Policy { lockout_base_seconds: 86_401, lockout_max_seconds: 86_401, ..d() }, "must be 1..=86400"),
            (Policy { lockout_max_seconds: 604_801, ..d() }, "must be lockout_base_seconds..=604800"),
            (
                Policy { failure_budget: bucket(101, 86_400), ..d() },
                "max must be 1..=100 and window_seconds 86400..=31536000 (S13: at most 1e-4 per window with six digits)",
            ),
            (
                Policy { failure_record_seconds: 366 * 86_400 + 1, ..d() },
                "must be at least failure_budget.window_seconds and lockout_max_seconds, and at most 31622400",
            ),
            (Policy { resend_cooldown_seconds: 3_601, ..d() }, "must be 0..=3600"),
            (Policy { subject_sends: bucket(21, 600), ..d() }, "max must be 1..=20"),
            (Policy { client_sends: bucket(1_000_001, 600), ..d() }, "max must be 1..=1000000"),
            (Policy { tenant_sends: Some(bucket(10_000_001, 1)), ..d() }, "max must be 1..=10000000"),
            (Policy { country_sends: bucket(1, 604_801), ..d() }, "window_seconds must be 1..=604800"),
        ] {
            assert_eq!(reason(policy), text);
        }
    }

    #[test]
    fn defaults_are_nist_and_valid() {
        let p = Policy::default();
        p.validate().unwrap();
        assert_eq!(p.code_length, 6);
        assert_eq!(p.lifetime_seconds, 600);
        assert_eq!(p.max_attempts, 5);
        assert_eq!(p.hard_lock_failures, 100);
        assert_eq!(p.resend_cooldown_seconds, 30);
        assert_eq!(p.subject_sends, SendBucket { max: 5, window_seconds: 600 });
    }

    #[test]
    fn s2_fewer_than_six_digits_refused() {
        let p = Policy { code_length: 5, ..Policy::default() };
        assert_eq!(field_of(p), "policy.code_length");
        let p = Policy { code_length: 11, ..Policy::default() };
        assert_eq!(field_of(p), "policy.code_length");
        // Five alphanumeric symbols carry more than 20 bits; four do not.
        let p = Policy { code_length: 5, alphabet: Alphabet::Alphanumeric, ..Policy::default() };
        p.validate().unwrap();
        let p = Policy { code_length: 4, alphabet: Alphabet::Alphanumeric, ..Policy::default() };
        assert_eq!(field_of(p), "policy.code_length");
    }

    #[test]
    fn s2_alphanumeric_minimum_has_six_digit_strength() {
        let a = Alphabet::Alphanumeric;
        let n = a.symbols().len() as f64;
        assert!(n.powi(a.min_length() as i32) >= 1e6);
        assert!(n.powi(a.min_length() as i32 - 1) < 1e6);
    }

    #[test]
    fn s4_lifetimes_bounded() {
        assert_eq!(field_of(Policy { lifetime_seconds: 601, ..Policy::default() }), "policy.lifetime_seconds");
        assert_eq!(
            field_of(Policy { email_confirmation_lifetime_seconds: 86_401, ..Policy::default() }),
            "policy.email_confirmation_lifetime_seconds"
        );
        let p = Policy { email_confirmation_lifetime_seconds: 86_400, ..Policy::default() };
        p.validate().unwrap();
        assert_eq!(p.lifetime(Channel::Email, Purpose::Recovery), 86_400);
        assert_eq!(p.lifetime(Channel::Email, Purpose::VerifyContact), 86_400);
        assert_eq!(p.lifetime(Channel::Sms, Purpose::Recovery), 600);
        assert_eq!(p.lifetime(Channel::Email, Purpose::SignIn), 600);
    }

    #[test]
    fn s11_hard_cap_at_most_100() {
        assert_eq!(field_of(Policy { hard_lock_failures: 101, ..Policy::default() }), "policy.hard_lock_failures");
        assert_eq!(
            field_of(Policy { lockout_threshold: 20, hard_lock_failures: 10, ..Policy::default() }),
            "policy.lockout_threshold"
        );
    }

    #[test]
    fn s13_default_bound_is_one_in_ten_thousand() {
        let p = Policy::default();
        let chance = p.hard_lock_failures as f64 / 10f64.powi(p.code_length as i32);
        assert!(chance <= 1e-4);
    }

    #[test]
    fn other_bounds_name_their_field() {
        let d = Policy::default;
        assert_eq!(field_of(Policy { max_attempts: 0, ..d() }), "policy.max_attempts");
        assert_eq!(field_of(Policy { max_attempts: 11, ..d() }), "policy.max_attempts");
        assert_eq!(field_of(Policy { lockout_base_seconds: 0, ..d() }), "policy.lockout_base_seconds");
        assert_eq!(field_of(Policy { lockout_max_seconds: 10, ..d() }), "policy.lockout_max_seconds");
        assert_eq!(field_of(Policy { resend_cooldown_seconds: 3601, ..d() }), "policy.resend_cooldown_seconds");
        assert_eq!(
            field_of(Policy { subject_sends: SendBucket { max: 21, window_seconds: 60 }, ..d() }),
            "policy.subject_sends"
        );
        assert_eq!(
            field_of(Policy { client_sends: SendBucket { max: 0, window_seconds: 60 }, ..d() }),
            "policy.client_sends"
        );
        assert_eq!(
            field_of(Policy { country_sends: SendBucket { max: 1, window_seconds: 0 }, ..d() }),
            "policy.country_sends"
        );
        let rules = CountryRules { allow: vec!["4x".into()], deny: vec![] };
        assert_eq!(field_of(Policy { sms_countries: rules, ..d() }), "policy.sms_countries");
        let rules = CountryRules { allow: vec![], deny: vec!["UK".into()] };
        assert_eq!(field_of(Policy { sms_countries: rules, ..d() }), "policy.sms_countries", "UK is not a region code");
        let types = NumberTypeRules { allow: vec!["landline".into()], deny: vec![] };
        assert_eq!(field_of(Policy { sms_number_types: types, ..d() }), "policy.sms_number_types");
        assert_eq!(field_of(Policy { sms_default_region: Some("gb".into()), ..d() }), "policy.sms_default_region");
        assert_eq!(field_of(Policy { sms_default_region: Some("001".into()), ..d() }), "policy.sms_default_region");
        assert_eq!(
            field_of(Policy { failure_budget: SendBucket { max: 101, window_seconds: 86_400 }, ..d() }),
            "policy.failure_budget"
        );
        assert_eq!(
            field_of(Policy { failure_budget: SendBucket { max: 10, window_seconds: 3600 }, ..d() }),
            "policy.failure_budget"
        );
        assert_eq!(
            field_of(Policy { failure_record_seconds: 29 * 86_400, ..d() }),
            "policy.failure_record_seconds",
            "shorter than the budget's window"
        );
        assert_eq!(
            field_of(Policy { tenant_sends: Some(SendBucket { max: 0, window_seconds: 1 }), ..d() }),
            "policy.tenant_sends"
        );
    }

    #[test]
    fn lock_waits_grow_and_are_capped() {
        let p = Policy::default();
        assert_eq!(p.lock_seconds(9), None);
        assert_eq!(p.lock_seconds(10), Some(60));
        assert_eq!(p.lock_seconds(11), None);
        assert_eq!(p.lock_seconds(20), Some(120));
        assert_eq!(p.lock_seconds(30), Some(240));
        assert_eq!(p.lock_seconds(90), Some(3600));
        assert_eq!(p.lock_seconds(u32::MAX - (u32::MAX % 10)), Some(3600));
    }

    #[test]
    fn s17_country_rules_by_prefix_and_region() {
        let all = CountryRules::default();
        assert!(all.allows("+442079460000", "GB"));
        let r = CountryRules { allow: vec!["+44".into(), "1".into()], deny: vec!["1876".into()] };
        assert!(r.allows("+442079460000", "GB"));
        assert!(r.allows("+14155552671", "US"));
        assert!(!r.allows("+18765550000", "JM"), "Jamaica denied inside NANP");
        assert!(!r.allows("+33612345678", "FR"), "not in the allow list");
        let r = CountryRules { allow: vec!["US".into(), "CA".into(), "001".into()], deny: vec![] };
        assert!(r.allows("+14155552671", "US"));
        assert!(!r.allows("+18765550000", "JM"), "+1 is not one country");
        assert!(r.allows("+881612345678", "001"));
        Policy { sms_countries: r, ..Policy::default() }.validate().unwrap();
    }

    #[test]
    fn s17_costly_number_types_refused_by_default() {
        let d = NumberTypeRules::default();
        for t in PhoneType::ALL {
            assert_eq!(d.allows(t), !COSTLY_NUMBER_TYPES.contains(&t), "{}", t.name());
        }
        let mobile_only = NumberTypeRules { allow: vec!["mobile".into()], deny: vec![] };
        assert!(mobile_only.allows(PhoneType::Mobile));
        assert!(!mobile_only.allows(PhoneType::FixedLine));
    }
}
