//! Channels, purposes, and the addresses and numbers codes are sent to.
//!
//! An identifier is normalised before anything is derived from it, so that every spelling of
//! one mailbox or line is one subject: `Jane@Example.COM`, `JANE@example.com` and the local
//! part in NFD form are one address (S20), and `+44 (0)20 7946 0000` and `+442079460000` are
//! one number (S19). Numbers are parsed and validated with libphonenumber's metadata (the
//! `phonenumber` crate): unassigned country codes, impossible lengths and unassigned ranges
//! are refused, and each number gets its region (ISO 3166) and type (mobile, premium-rate...)
//! for the SMS rules. What is refused is refused with the rule it broke, never echoed.
//!
//! What stays distinct, on purpose: sub-addresses (`jane+news@` and `jane@`) and dots in a
//! local part (`j.ane@`), because whether they reach one mailbox is each provider's own rule
//! (`+` is a plain character at some, `-` the tag separator at others, dots matter at most).
//! Merging them would merge different people's mailboxes at some providers. A host whose
//! accounts treat them as one person gives its account id as the subject instead
//! (`Engine::issue_for_account`).

use std::fmt::Write as _;

use crate::error::Error;
use crate::unicode::{ascii_digit, caseless, is_separator};

/// The most bytes of identifier text the engine looks at; anything longer is refused unread.
pub const MAX_IDENTIFIER_BYTES: usize = 320;

/// How a code travels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Channel {
    /// An email address.
    Email,
    /// An E.164 phone number, by SMS.
    Sms,
}

impl Channel {
    /// The stable name: `email` or `sms`.
    pub fn name(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
        }
    }

    /// Parses a stable name.
    pub fn parse(name: &str) -> Result<Self, Error> {
        match name {
            "email" => Ok(Channel::Email),
            "sms" => Ok(Channel::Sms),
            _ => Err(Error::InvalidArgument { field: "channel" }),
        }
    }

    pub(crate) fn byte(self) -> u8 {
        match self {
            Channel::Email => 1,
            Channel::Sms => 2,
        }
    }

    pub(crate) fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Channel::Email),
            2 => Some(Channel::Sms),
            _ => None,
        }
    }
}

/// What a code is for. A code issued for one purpose never verifies for another (S6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// Creating an account.
    SignUp,
    /// Signing in with the code alone.
    SignIn,
    /// A second factor after a password or passkey.
    SecondFactor,
    /// Confirming that the user controls an address or number.
    VerifyContact,
    /// Account recovery.
    Recovery,
}

impl Purpose {
    /// Every purpose, in the order of their stable bytes.
    pub const ALL: [Purpose; 5] =
        [Purpose::SignUp, Purpose::SignIn, Purpose::SecondFactor, Purpose::VerifyContact, Purpose::Recovery];

    /// The stable name: `sign-up`, `sign-in`, `second-factor`, `verify-contact`, `recovery`.
    pub fn name(self) -> &'static str {
        match self {
            Purpose::SignUp => "sign-up",
            Purpose::SignIn => "sign-in",
            Purpose::SecondFactor => "second-factor",
            Purpose::VerifyContact => "verify-contact",
            Purpose::Recovery => "recovery",
        }
    }

    /// Parses a stable name.
    pub fn parse(name: &str) -> Result<Self, Error> {
        Purpose::ALL.into_iter().find(|p| p.name() == name).ok_or(Error::InvalidArgument { field: "purpose" })
    }

    pub(crate) fn byte(self) -> u8 {
        match self {
            Purpose::SignUp => 1,
            Purpose::SignIn => 2,
            Purpose::SecondFactor => 3,
            Purpose::VerifyContact => 4,
            Purpose::Recovery => 5,
        }
    }

    pub(crate) fn from_byte(b: u8) -> Option<Self> {
        Purpose::ALL.into_iter().find(|p| p.byte() == b)
    }
}

/// What kind of line a phone number is, from libphonenumber's metadata. SMS to the costly
/// kinds (premium-rate, shared-cost, ...) is refused by default (`policy.sms_number_types`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PhoneType {
    /// A fixed line.
    FixedLine,
    /// A mobile number.
    Mobile,
    /// Where the numbering plan does not tell the two apart (North America).
    FixedLineOrMobile,
    /// A freephone number.
    TollFree,
    /// A premium-rate number: the sender pays the owner.
    PremiumRate,
    /// A shared-cost number.
    SharedCost,
    /// A personal number, forwarded to another line.
    PersonalNumber,
    /// A VoIP number.
    Voip,
    /// A pager.
    Pager,
    /// A universal access (company) number.
    Uan,
    /// A voicemail access number.
    Voicemail,
}

impl PhoneType {
    /// Every type, in the order of their names' table.
    pub const ALL: [PhoneType; 11] = [
        PhoneType::FixedLine,
        PhoneType::Mobile,
        PhoneType::FixedLineOrMobile,
        PhoneType::TollFree,
        PhoneType::PremiumRate,
        PhoneType::SharedCost,
        PhoneType::PersonalNumber,
        PhoneType::Voip,
        PhoneType::Pager,
        PhoneType::Uan,
        PhoneType::Voicemail,
    ];

    /// The stable name used in the config: `mobile`, `premium-rate`, ...
    pub fn name(self) -> &'static str {
        match self {
            PhoneType::FixedLine => "fixed-line",
            PhoneType::Mobile => "mobile",
            PhoneType::FixedLineOrMobile => "fixed-line-or-mobile",
            PhoneType::TollFree => "toll-free",
            PhoneType::PremiumRate => "premium-rate",
            PhoneType::SharedCost => "shared-cost",
            PhoneType::PersonalNumber => "personal-number",
            PhoneType::Voip => "voip",
            PhoneType::Pager => "pager",
            PhoneType::Uan => "uan",
            PhoneType::Voicemail => "voicemail",
        }
    }

    /// Parses a stable name.
    pub fn parse(name: &str) -> Option<PhoneType> {
        PhoneType::ALL.into_iter().find(|t| t.name() == name)
    }

    fn of(t: phonenumber::Type) -> Option<PhoneType> {
        use phonenumber::Type as T;
        Some(match t {
            T::FixedLine => PhoneType::FixedLine,
            T::Mobile => PhoneType::Mobile,
            T::FixedLineOrMobile => PhoneType::FixedLineOrMobile,
            T::TollFree => PhoneType::TollFree,
            T::PremiumRate => PhoneType::PremiumRate,
            T::SharedCost => PhoneType::SharedCost,
            T::PersonalNumber => PhoneType::PersonalNumber,
            T::Voip => PhoneType::Voip,
            T::Pager => PhoneType::Pager,
            T::Uan => PhoneType::Uan,
            T::Voicemail => PhoneType::Voicemail,
            _ => return None,
        })
    }
}

/// What libphonenumber's metadata says about a valid number.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct PhoneFacts {
    /// The region: an ISO 3166 country code such as `GB` or `JM`, or `001` for the
    /// non-geographic codes (+800, +881, ...).
    region: &'static str,
    /// The country calling code's digits.
    calling_code_len: usize,
    kind: PhoneType,
}

/// A normalised address or number: who a code is sent to.
///
/// It has two forms. The delivery form (`as_str`) is what messages go to and what verify
/// returns: an address with its local part as typed and its domain in lowercase ASCII, or an
/// E.164 number. The canonical form (`canonical`) is what the subject key is derived from,
/// so that every spelling of one mailbox or line is one subject: for email, the local part
/// also case-folded and NFC-normalised; for a number, E.164 (which is already canonical).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Identifier {
    channel: Channel,
    normalised: String,
    /// For a number parsed here (not one read back from a token): its region and type.
    phone: Option<PhoneFacts>,
}

impl std::fmt::Debug for Identifier {
    // Identifiers are personal data: a Debug print shows only the channel and a masked form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identifier({}, {})", self.channel.name(), self.masked())
    }
}

impl Identifier {
    /// Checks and normalises `text` for `channel`. A number must be international (`+` and
    /// the country code); see [`Identifier::parse_with_region`] for national formats.
    pub fn parse(channel: Channel, text: &str) -> Result<Self, Error> {
        Identifier::parse_with_region(channel, text, None)
    }

    /// As [`Identifier::parse`], but a number without `+` is read in the national format of
    /// `default_region` (an ISO 3166 code such as `GB`), as a user of that country types it.
    pub fn parse_with_region(channel: Channel, text: &str, default_region: Option<&str>) -> Result<Self, Error> {
        if text.len() > MAX_IDENTIFIER_BYTES {
            return Err(Error::InputTooLong { field: "identifier", max: MAX_IDENTIFIER_BYTES });
        }
        match channel {
            Channel::Email => Ok(Identifier { channel, normalised: normalise_email(text)?, phone: None }),
            Channel::Sms => {
                let (normalised, facts) = parse_phone(text, default_region)?;
                Ok(Identifier { channel, normalised, phone: Some(facts) })
            }
        }
    }

    /// An identifier normalised earlier and sealed since (in a token).
    pub(crate) fn trusted(channel: Channel, normalised: String) -> Self {
        Identifier { channel, normalised, phone: None }
    }

    /// The channel.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The delivery form: the address with its domain in lowercase ASCII and its local part
    /// as typed, or the E.164 number.
    pub fn as_str(&self) -> &str {
        &self.normalised
    }

    /// The normalised address or number, without a copy.
    pub(crate) fn into_string(self) -> String {
        self.normalised
    }

    /// The canonical form the subject is derived from: for email, the local part also
    /// case-folded and NFC-normalised (`Jane@` and `JANE@` are one subject); for a number,
    /// its E.164 form.
    pub fn canonical(&self) -> std::borrow::Cow<'_, str> {
        match self.channel {
            Channel::Sms => std::borrow::Cow::Borrowed(&self.normalised),
            Channel::Email => {
                let (local, domain) = self.normalised.rsplit_once('@').unwrap_or(("", &self.normalised));
                if local.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase()) {
                    // Lowercase ASCII is its own case folding and NFC form (and the domain is
                    // normalised already): the common case needs no copy.
                    return std::borrow::Cow::Borrowed(&self.normalised);
                }
                std::borrow::Cow::Owned(format!("{}@{domain}", caseless(local)))
            }
        }
    }

    /// A form safe for a screen or a support log: `j***@example.com`, `+44*******00`.
    pub fn masked(&self) -> String {
        match self.channel {
            Channel::Email => {
                let (local, domain) = self.normalised.rsplit_once('@').unwrap_or(("", ""));
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            Channel::Sms => {
                let digits = self.normalised.get(1..).unwrap_or("");
                let keep_head = self.calling_code().map_or(0, str::len);
                let n = digits.len();
                let tail = if n > keep_head + 2 { &digits[n - 2..] } else { "" };
                let stars = n.saturating_sub(keep_head + tail.len());
                format!("+{}{}{}", &digits[..keep_head.min(n)], "*".repeat(stars), tail)
            }
        }
    }

    /// For SMS, the country calling code (1 to 3 digits) of the number; `None` for email.
    pub fn calling_code(&self) -> Option<&str> {
        if self.channel != Channel::Sms {
            return None;
        }
        let digits = self.normalised.get(1..).unwrap_or("");
        let len = match &self.phone {
            Some(facts) => facts.calling_code_len,
            None => calling_code_len(digits),
        };
        digits.get(..len)
    }

    /// For a number parsed here, its region: an ISO 3166 code (`GB`, `JM`), or `001` for a
    /// non-geographic code. `None` for email and for numbers read back from a token.
    pub fn region(&self) -> Option<&str> {
        self.phone.as_ref().map(|p| p.region)
    }

    /// For a number parsed here, its type. `None` for email and for numbers read back from a token.
    pub fn phone_type(&self) -> Option<PhoneType> {
        self.phone.as_ref().map(|p| p.kind)
    }
}

/// RFC 5321 limits and a dot-atom local part; the domain lowercased in its ASCII (IDNA) form.
fn normalise_email(text: &str) -> Result<String, Error> {
    let bad = |reason| Error::InvalidEmail { reason };
    let text = text.trim();
    let (local, domain) = text.rsplit_once('@').ok_or(bad("it has no @"))?;
    if local.is_empty() {
        return Err(bad("the local part is empty"));
    }
    if local.len() > 64 {
        return Err(bad("the local part is longer than 64 octets"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(bad("the local part has a misplaced dot"));
    }
    let atext = |c: char| {
        c.is_ascii_alphanumeric()
            || "!#$%&'*+-/=?^_`{|}~.".contains(c)
            || (!c.is_ascii() && !c.is_control() && !c.is_whitespace())
    };
    if !local.chars().all(atext) {
        return Err(bad("the local part has a character that needs quoting"));
    }
    if domain.is_empty() {
        return Err(bad("the domain is empty"));
    }
    // The address is built once, at its final size: the local part, `@`, the ASCII domain.
    let mut whole = String::with_capacity(local.len() + 1 + domain.len());
    whole.push_str(local);
    whole.push('@');
    if is_plain_ascii_domain(domain) {
        // What IDNA gives such a name: itself in lowercase (a test holds the two equal).
        whole.extend(domain.bytes().map(|b| char::from(b.to_ascii_lowercase())));
    } else {
        let ascii = idna::domain_to_ascii(domain).map_err(|_| bad("the domain is not a valid name"))?;
        whole.push_str(&ascii);
    }
    let ascii = &whole[local.len() + 1..];
    if ascii.len() > 255 {
        return Err(bad("the domain is longer than 255 octets"));
    }
    if !ascii.contains('.') {
        return Err(bad("the domain has no dot"));
    }
    for label in ascii.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("a domain label is empty or longer than 63 octets"));
        }
        if !label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(bad("a domain label has a character a host name cannot have"));
        }
    }
    if ascii.rsplit('.').next().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit())) {
        return Err(bad("the domain is an address, not a name"));
    }
    if whole.len() > 254 {
        return Err(bad("the address is longer than 254 octets"));
    }
    Ok(whole)
}

/// Whether IDNA's mapping of `domain` is just its ASCII lowercase: a name of ASCII letters,
/// digits, hyphens and dots, with no label in Punycode (`xn--`, which IDNA decodes and
/// checks). Nearly every address typed has such a domain; the rest take the full path.
fn is_plain_ascii_domain(domain: &str) -> bool {
    domain.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
        && !domain.split('.').any(|label| label.len() >= 4 && label[..4].eq_ignore_ascii_case("xn--"))
}

/// The most digits a typed number may have: 15 for E.164, plus room for a trunk prefix or
/// an international dialling prefix in a national format.
const MAX_PHONE_DIGITS: usize = 20;

/// Why a number libphonenumber read is refused: not a valid number of its country's plan.
const NOT_IN_PLAN: &str = "it is not a valid number for its country (length or range)";

/// A number, parsed and validated with libphonenumber's metadata: its E.164 form and what
/// the metadata says about it. Digits of any script count as digits; spaces, dashes, dots,
/// slashes and parentheses are dropped; anything else (letters, `;`, `tel:`) is refused
/// before the parser sees it, so it only ever reads `+`, digits and those separators.
///
/// A number typed in another form than its E.164 one (national, with an international
/// dialling prefix, or with a trunk prefix after the `+`) is accepted only if its E.164 form,
/// read again, is valid and the same number. The `phonenumber` crate does not always read the
/// two alike: from the UK, `00 7 8400 794001` reads as the valid +7 8400794001, but
/// `+7 8400 794001` loses its `8` as a trunk prefix and is invalid. A subject must be one
/// number whichever way it was typed, and a stored identifier must read back as itself.
fn parse_phone(text: &str, default_region: Option<&str>) -> Result<(String, PhoneFacts), Error> {
    let (e164, facts, typed_as_e164) = parse_phone_once(text, default_region)?;
    if !typed_as_e164 {
        match parse_phone_once(&e164, None) {
            Ok((again, _, _)) if again == e164 => {}
            _ => return Err(Error::InvalidPhone { reason: NOT_IN_PLAN }),
        }
    }
    Ok((e164, facts))
}

/// One reading of a number by libphonenumber: its E.164 form, its facts, and whether the text
/// was that E.164 form already (a `+` and the same digits, separators aside).
fn parse_phone_once(text: &str, default_region: Option<&str>) -> Result<(String, PhoneFacts, bool), Error> {
    let bad = |reason| Error::InvalidPhone { reason };
    let text = text.trim();
    let (international, rest) = match text.strip_prefix('+').or_else(|| text.strip_prefix('\u{ff0b}')) {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let mut plain = String::with_capacity(MAX_PHONE_DIGITS + 1);
    if international {
        plain.push('+');
    }
    let mut digits = 0usize;
    for c in rest.chars() {
        if let Some(d) = ascii_digit(c) {
            digits += 1;
            if digits > MAX_PHONE_DIGITS {
                return Err(bad("it has too many digits"));
            }
            plain.push(d);
        } else if is_separator(c) || matches!(c, '.' | '(' | ')' | '/') {
            plain.push(' ');
        } else {
            return Err(bad("it has a character that is not a digit"));
        }
    }
    if digits == 0 {
        return Err(bad("it has no digits"));
    }
    let region = match (international, default_region) {
        (true, _) => None,
        (false, Some(r)) => {
            Some(region_id(r).ok_or(bad("it does not start with + and the default region is unknown"))?)
        }
        (false, None) => return Err(bad("it does not start with + and no default region is configured")),
    };
    let number = phonenumber::parse(region, &plain).map_err(|e| match e {
        phonenumber::ParseError::InvalidCountryCode => bad("its country calling code is not assigned"),
        _ => bad("it is not a phone number"),
    })?;
    if number.extension().is_some() {
        return Err(bad("it has an extension"));
    }
    // libphonenumber finds a number's metadata by matching its national number against the
    // leading digits of each region of its calling code (25 regions share +1), and each of
    // `is_valid_with`, `number_type` and `metadata` does it again. `is_valid_with` is
    // `number_type(..) != Unknown` asked of the national number with its leading zeros, and
    // `number_type` asks it without them: for a number with no leading zero (all but a few
    // plans, such as Italy's) the two are one question, asked once.
    let database: &'static phonenumber::metadata::Database = &phonenumber::metadata::DATABASE;
    let number_type = number.number_type(database);
    let valid = match number.national().zeros() {
        0 => number_type != phonenumber::Type::Unknown,
        _ => number.is_valid_with(database),
    };
    if !valid {
        return Err(bad(NOT_IN_PLAN));
    }
    // What `format_with(database).mode(E164)` writes, without first matching the number
    // against the national formats, which E.164 does not use.
    let code = number.code().value();
    let mut e164 = String::with_capacity(1 + MAX_PHONE_DIGITS);
    write!(e164, "+{code}{}", number.national()).map_err(|_| bad("it is not a phone number"))?;
    let e164_digits = e164.len().saturating_sub(1);
    if !(7..=15).contains(&e164_digits) || e164.starts_with("+0") {
        return Err(bad("it is not a valid E.164 number"));
    }
    let region = number.metadata(database).map(|m| m.id()).ok_or(bad("it is not a phone number"))?;
    let kind = PhoneType::of(number_type).ok_or(bad("it is not a valid number for its country (type)"))?;
    let calling_code_len = code.checked_ilog10().map_or(1, |l| l as usize + 1);
    let typed_as_e164 = international && plain.bytes().filter(|b| *b != b' ').eq(e164.bytes());
    Ok((e164, PhoneFacts { region, calling_code_len, kind }, typed_as_e164))
}

/// libphonenumber's id of a region code (`GB`, `US`, ...), if it knows the region.
fn region_id(code: &str) -> Option<phonenumber::country::Id> {
    code.parse().ok()
}

/// Whether `code` is a region libphonenumber has metadata for: an ISO 3166 code it knows,
/// or `001` for the non-geographic codes.
pub(crate) fn is_known_region(code: &str) -> bool {
    phonenumber::metadata::DATABASE.by_id(code).is_some()
}

/// ITU-T E.164 country calling codes: 1 and 7 are one digit, the listed ones two, all others
/// three. Used only to mask a number read back from a token (no metadata lookup on verify).
fn calling_code_len(digits: &str) -> usize {
    const TWO: [&str; 44] = [
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
        "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84",
        "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    if digits.starts_with('1') || digits.starts_with('7') {
        1
    } else if digits.get(..2).is_some_and(|two| TWO.contains(&two)) {
        2
    } else {
        3.min(digits.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(s: &str) -> Result<String, Error> {
        Identifier::parse(Channel::Email, s).map(|i| i.as_str().to_string())
    }
    fn phone(s: &str) -> Result<String, Error> {
        Identifier::parse(Channel::Sms, s).map(|i| i.as_str().to_string())
    }

    #[test]
    fn s19_a_number_is_accepted_only_if_its_e164_form_reads_back_as_itself() {
        let from_uk =
            |s: &str| Identifier::parse_with_region(Channel::Sms, s, Some("GB")).map(|i| i.as_str().to_string());
        // Found by the identifier fuzz target: the phonenumber crate reads this through the
        // UK's international prefix as the valid +7 8400794001, but reads `+78400794001` as
        // +7 400794001 (its 8 taken for Russia's trunk prefix), which is invalid. Both are
        // refused, so one number is one subject however it was typed.
        let refused = Err(Error::InvalidPhone { reason: "it is not a valid number for its country (length or range)" });
        assert_eq!(from_uk("0(0 78400 794001"), refused);
        assert_eq!(from_uk("00 7 8400 794001"), refused);
        assert_eq!(phone("+7 8400 794001"), refused);
        // Typed nationally, through the international prefix, or with a trunk prefix after
        // the `+`: the same E.164 form, which reads back as itself.
        for typed in ["07400 123456", "00 44 7400 123456", "+44 (0) 7400 123456", "+447400123456"] {
            let e164 = from_uk(typed).unwrap();
            assert_eq!(e164, "+447400123456", "{typed}");
            assert_eq!(phone(&e164).unwrap(), e164);
        }
    }

    #[test]
    fn s20_domain_lowercased_local_part_kept() {
        assert_eq!(email("Jane.Doe@Example.COM").unwrap(), "Jane.Doe@example.com");
        assert_eq!(email("  a+tag@sub.example.org ").unwrap(), "a+tag@sub.example.org");
    }

    #[test]
    fn s20_internationalised_domain_compared_in_ascii() {
        assert_eq!(email("user@bücher.example").unwrap(), "user@xn--bcher-kva.example");
        assert_eq!(email("user@BÜCHER.example").unwrap(), email("user@xn--bcher-kva.example").unwrap());
    }

    #[test]
    fn s20_length_limits() {
        let local64 = "a".repeat(64);
        assert!(email(&format!("{local64}@example.com")).is_ok());
        assert_eq!(
            email(&format!("{}@example.com", "a".repeat(65))),
            Err(Error::InvalidEmail { reason: "the local part is longer than 64 octets" })
        );
        // 254 characters in all is the most an address may have.
        let label = "b".repeat(63);
        let domain = format!("{label}.{label}.{label}.{}", "c".repeat(57)); // 249 octets
        assert_eq!(domain.len(), 249);
        assert!(email(&format!("abcd@{domain}")).is_ok()); // 254
        assert_eq!(
            email(&format!("abcde@{domain}")),
            Err(Error::InvalidEmail { reason: "the address is longer than 254 octets" })
        );
        assert_eq!(
            email(&format!("a@{}.com", "d".repeat(64))),
            Err(Error::InvalidEmail { reason: "a domain label is empty or longer than 63 octets" })
        );
        assert!(matches!(email(&"x".repeat(400)), Err(Error::InputTooLong { field: "identifier", .. })));
    }

    #[test]
    fn s20_addresses_that_are_not_addresses() {
        for (s, reason) in [
            ("plainaddress", "it has no @"),
            ("@example.com", "the local part is empty"),
            ("a@", "the domain is empty"),
            (".a@example.com", "the local part has a misplaced dot"),
            ("a..b@example.com", "the local part has a misplaced dot"),
            ("a b@example.com", "the local part has a character that needs quoting"),
            ("a@localhost", "the domain has no dot"),
            ("a@exa_mple.com", "a domain label has a character a host name cannot have"),
            ("a@-example.com", "a domain label has a character a host name cannot have"),
            ("a@127.0.0.1", "the domain is an address, not a name"),
        ] {
            assert_eq!(email(s), Err(Error::InvalidEmail { reason }), "{s}");
        }
    }

    #[test]
    fn s20_spellings_of_one_address_have_one_canonical_form() {
        let canonical = |s: &str| Identifier::parse(Channel::Email, s).unwrap().canonical().into_owned();
        let jane = canonical("jane@example.com");
        for spelling in ["Jane@example.com", "JANE@EXAMPLE.COM", " jAnE@Example.Com\n"] {
            assert_eq!(canonical(spelling), jane, "{spelling:?}");
        }
        // NFC and NFD forms of one local part, in either case.
        assert_eq!(canonical("jos\u{e9}@example.com"), canonical("JOSE\u{301}@example.com"));
        assert_eq!(canonical("stra\u{df}e@example.de"), canonical("STRASSE@example.de"));
        // The delivery form keeps the local part as typed.
        assert_eq!(email("JANE@Example.com").unwrap(), "JANE@example.com");
        // What stays distinct: sub-addresses and dots are each provider's own rules.
        assert_ne!(canonical("jane+news@example.com"), jane);
        assert_ne!(canonical("j.ane@example.com"), jane);
    }

    /// The ASCII fast path of `normalise_email` gives what IDNA gives, on every name it takes.
    #[test]
    fn s20_the_ascii_domain_fast_path_is_idna() {
        let mut names: Vec<String> = [
            "example.com",
            "Example.COM",
            "EXAMPLE.COM",
            "sub.example.co.uk",
            "a.b",
            "a-b.c-d",
            "ab--cd.example",
            "a--.example",
            "-a.example",
            "a-.example",
            "1.2.3.4",
            "127.0.0.1",
            "0x7f.1",
            "123.com",
            "example.123",
            "a..b",
            ".a.b",
            "a.b.",
            ".",
            "..",
            "a",
            "-",
            "--",
            "xn--bcher-kva.example",
            "XN--BCHER-KVA.EXAMPLE",
            "Xn--bcher-kva.example",
            "xN--a.example",
            "xn--.example",
            "xn--ls8h.la",
            "xn--a-.example",
            "xn-a.example",
            "xn.example",
            "axn--b.example",
            "bücher.example",
            "BÜCHER.example",
            "faß.de",
            "I.example",
            "[127.0.0.1]",
            "exa_mple.com",
            "exa mple.com",
            "exa%mple.com",
            "ex\u{ad}ample.com",
            "example.com\u{3002}",
            "ＥＸＡＭＰＬＥ.com",
            "localhost",
            "LOCALHOST",
            "ab.c",
            "0.0",
            "a.0",
            "0a.b1",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        names.push(format!("{}.com", "a".repeat(63)));
        names.push(format!("{}.com", "a".repeat(64)));
        names.push(format!("{}.com", "B".repeat(250)));
        // Every string of up to 4 characters over a small alphabet of the tricky ones.
        let alphabet = ['a', 'X', 'n', 'N', '-', '.', '1', '_', 'é'];
        let mut short = vec![String::new()];
        for _ in 0..4 {
            short = short.iter().flat_map(|s| alphabet.iter().map(move |c| format!("{s}{c}"))).collect();
            names.extend(short.iter().cloned());
        }
        let mut fast = 0;
        for name in &names {
            if is_plain_ascii_domain(name) {
                fast += 1;
                assert_eq!(idna::domain_to_ascii(name).ok(), Some(name.to_ascii_lowercase()), "{name:?}");
            }
        }
        assert!(fast > 1000, "the fast path was taken {fast} times");
        for name in ["xn--bcher-kva.example", "XN--a.example", "bücher.example", "a_b.example", "[1.2.3.4]"] {
            assert!(!is_plain_ascii_domain(name), "{name:?} takes the full path");
        }
    }

    #[test]
    fn s19_numbers_are_parsed_to_e164_with_their_region_and_type() {
        assert_eq!(phone("+44 20 7946 0000").unwrap(), "+442079460000");
        assert_eq!(phone("+44 (0)20 7946 0000").unwrap(), "+442079460000", "the trunk 0 in brackets");
        assert_eq!(phone("+1 (415) 555-2671").unwrap(), "+14155552671");
        assert_eq!(phone("＋４４ ２０ ７９４６ ００００").unwrap(), "+442079460000", "full-width");
        assert_eq!(phone("+44\u{2013}20\u{2013}7946\u{2013}0000").unwrap(), "+442079460000", "en dashes");
        let facts = |s: &str| {
            let i = Identifier::parse(Channel::Sms, s).unwrap();
            (i.region().unwrap().to_string(), i.phone_type().unwrap())
        };
        assert_eq!(facts("+18765550100"), ("JM".into(), PhoneType::Mobile), "Jamaica, not the whole of +1");
        assert_eq!(facts("+14155552671"), ("US".into(), PhoneType::FixedLineOrMobile));
        assert_eq!(facts("+442079460000"), ("GB".into(), PhoneType::FixedLine));
        assert_eq!(facts("+449098790000"), ("GB".into(), PhoneType::PremiumRate));
        assert_eq!(facts("+19005550100"), ("US".into(), PhoneType::PremiumRate));
        assert_eq!(facts("+881612345678"), ("001".into(), PhoneType::Mobile), "non-geographic");
    }

    /// One type query stands for `is_valid_with`, and the E.164 text is the formatter's, for
    /// numbers of many plans: shared calling codes, Italian leading zeros, non-geographic.
    #[test]
    fn s19_one_type_query_and_the_e164_text_are_libphonenumbers() {
        let database = &phonenumber::metadata::DATABASE;
        let mut checked = 0;
        for prefix in [
            "+1415555",
            "+1876555",
            "+1900555",
            "+1268464",
            "+44207946",
            "+44909879",
            "+447700900",
            "+390612345",
            "+39335123",
            "+3902123",
            "+33612345",
            "+4930123",
            "+8190123",
            "+2348012",
            "+8816123",
            "+8001234",
            "+7916123",
            "+55119876",
            "+61412345",
            "+35312345",
            "+9715012",
            "+12345",
        ] {
            for tail in 0..40u32 {
                let text = format!("{prefix}{:0w$}", tail * 2_467 % 10_000, w = 4);
                let Ok(number) = phonenumber::parse(None, &text) else { continue };
                let valid = number.is_valid_with(database);
                if number.national().zeros() == 0 {
                    assert_eq!(number.number_type(database) != phonenumber::Type::Unknown, valid, "{text}");
                }
                match (phone(&text), valid) {
                    (Ok(e164), true) => {
                        assert_eq!(e164, number.format_with(database).mode(phonenumber::Mode::E164).to_string());
                        checked += 1;
                    }
                    (Err(_), false) => {}
                    (Err(e), true) => assert!(
                        !matches!(e, Error::InvalidPhone { reason } if reason.contains("length or range")),
                        "{text}"
                    ),
                    (Ok(_), false) => panic!("{text} is not valid but was taken"),
                }
            }
        }
        assert!(checked > 200, "{checked} valid numbers compared");
    }

    #[test]
    fn s19_national_formats_need_a_default_region() {
        assert_eq!(
            phone("020 7946 0000"),
            Err(Error::InvalidPhone { reason: "it does not start with + and no default region is configured" })
        );
        let gb = Identifier::parse_with_region(Channel::Sms, "020 7946 0000", Some("GB")).unwrap();
        assert_eq!(gb.as_str(), "+442079460000");
        let us = Identifier::parse_with_region(Channel::Sms, "(415) 555-2671", Some("US")).unwrap();
        assert_eq!(us.as_str(), "+14155552671");
        // An international number ignores the default region.
        let intl = Identifier::parse_with_region(Channel::Sms, "+33 6 12 34 56 78", Some("GB")).unwrap();
        assert_eq!(intl.as_str(), "+33612345678");
    }

    #[test]
    fn s19_numbers_that_are_not_numbers_refused() {
        for (s, reason) in [
            ("4155552671", "it does not start with + and no default region is configured"),
            ("+0123456789", "its country calling code is not assigned"),
            ("+9991234567", "its country calling code is not assigned"),
            ("+1 1 876 555 0100", "it is not a valid number for its country (length or range)"),
            ("+123456789012345", "it is not a valid number for its country (length or range)"),
            ("+44 7700 900123", "it is not a valid number for its country (length or range)"),
            ("+12345", "it is not a valid number for its country (length or range)"),
            ("+1415555267a", "it has a character that is not a digit"),
            ("tel:+14155552671", "it has a character that is not a digit"),
            ("+14155552671;phone-context=x", "it has a character that is not a digit"),
            ("+14155552671 ext 12", "it has a character that is not a digit"),
            ("+123456789012345678901", "it has too many digits"),
            ("+", "it has no digits"),
            ("", "it has no digits"),
        ] {
            assert_eq!(phone(s), Err(Error::InvalidPhone { reason }), "{s}");
        }
    }

    #[test]
    fn calling_codes() {
        let cc = |s: &str| Identifier::parse(Channel::Sms, s).unwrap().calling_code().unwrap().to_string();
        assert_eq!(cc("+14155552671"), "1");
        assert_eq!(cc("+79161234567"), "7");
        assert_eq!(cc("+442079460000"), "44");
        assert_eq!(cc("+33612345678"), "33");
        assert_eq!(cc("+2348012345678"), "234");
        assert_eq!(cc("+881612345678"), "881");
        let trusted = |s: &str| Identifier::trusted(Channel::Sms, s.into()).calling_code().unwrap().to_string();
        assert_eq!(trusted("+442079460000"), "44");
        assert_eq!(trusted("+2348012345678"), "234");
        assert_eq!(Identifier::parse(Channel::Email, "a@example.com").unwrap().calling_code(), None);
    }

    #[test]
    fn phone_type_names_round_trip() {
        for t in PhoneType::ALL {
            assert_eq!(PhoneType::parse(t.name()), Some(t));
        }
        assert_eq!(PhoneType::parse("landline"), None);
    }

    #[test]
    fn masked_and_debug_hide_the_identifier() {
        let e = Identifier::parse(Channel::Email, "jane@example.com").unwrap();
        assert_eq!(e.masked(), "j***@example.com");
        assert!(!format!("{e:?}").contains("jane"));
        let p = Identifier::parse(Channel::Sms, "+442079460000").unwrap();
        assert_eq!(p.masked(), "+44********00");
        assert!(!format!("{p:?}").contains("2079460000"));
    }

    #[test]
    fn names_round_trip() {
        for p in Purpose::ALL {
            assert_eq!(Purpose::parse(p.name()), Ok(p));
            assert_eq!(Purpose::from_byte(p.byte()), Some(p));
        }
        assert_eq!(Purpose::parse("login"), Err(Error::InvalidArgument { field: "purpose" }));
        assert_eq!(Channel::parse("fax"), Err(Error::InvalidArgument { field: "channel" }));
    }
}
