//! Channels, purposes, and the addresses and numbers codes are sent to.
//!
//! An identifier is normalised before anything is derived from it, so that "User@Example.COM"
//! and "User@example.com" are one subject (S20), and "+44 20 7946 0000" and "+442079460000"
//! are one number (S19). What is refused is refused with the rule it broke, never echoed.

use crate::error::Error;

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

/// A normalised address or number: the subject a code is sent to.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Identifier {
    channel: Channel,
    normalised: String,
}

impl std::fmt::Debug for Identifier {
    // Identifiers are personal data: a Debug print shows only the channel and a masked form.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Identifier({}, {})", self.channel.name(), self.masked())
    }
}

impl Identifier {
    /// Checks and normalises `text` for `channel`.
    pub fn parse(channel: Channel, text: &str) -> Result<Self, Error> {
        if text.len() > MAX_IDENTIFIER_BYTES {
            return Err(Error::InputTooLong { field: "identifier", max: MAX_IDENTIFIER_BYTES });
        }
        let normalised = match channel {
            Channel::Email => normalise_email(text)?,
            Channel::Sms => normalise_phone(text)?,
        };
        Ok(Identifier { channel, normalised })
    }

    /// An identifier normalised earlier and sealed since (in a token).
    pub(crate) fn trusted(channel: Channel, normalised: String) -> Self {
        Identifier { channel, normalised }
    }

    /// The channel.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The normalised text (the address with its domain in lowercase ASCII, or `+` and digits).
    pub fn as_str(&self) -> &str {
        &self.normalised
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
                let digits = &self.normalised[1..];
                let keep_head = calling_code(digits).len();
                let n = digits.len();
                let tail = if n > keep_head + 2 { &digits[n - 2..] } else { "" };
                let stars = n.saturating_sub(keep_head + tail.len());
                format!("+{}{}{}", &digits[..keep_head], "*".repeat(stars), tail)
            }
        }
    }

    /// For SMS, the country calling code (1 to 3 digits) of the number; `None` for email.
    pub fn calling_code(&self) -> Option<&str> {
        match self.channel {
            Channel::Sms => Some(calling_code(&self.normalised[1..])),
            Channel::Email => None,
        }
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
    let ascii = idna::domain_to_ascii(domain).map_err(|_| bad("the domain is not a valid name"))?;
    if ascii.len() > 255 {
        return Err(bad("the domain is longer than 255 octets"));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("the domain has no dot"));
    }
    for label in &labels {
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
    if labels.last().is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit())) {
        return Err(bad("the domain is an address, not a name"));
    }
    let whole = format!("{local}@{ascii}");
    if whole.len() > 254 {
        return Err(bad("the address is longer than 254 octets"));
    }
    Ok(whole)
}

/// E.164: `+`, a first digit 1-9, 7 to 15 digits in all. Spaces, dashes, dots and
/// parentheses that people type are dropped first.
fn normalise_phone(text: &str) -> Result<String, Error> {
    let bad = |reason| Error::InvalidPhone { reason };
    let text = text.trim();
    let rest = text.strip_prefix('+').ok_or(bad("it does not start with +"))?;
    let mut digits = String::with_capacity(16);
    for c in rest.chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '(' | ')' => {}
            _ => return Err(bad("it has a character that is not a digit")),
        }
    }
    if digits.starts_with('0') {
        return Err(bad("the country code cannot start with 0"));
    }
    if digits.len() < 7 {
        return Err(bad("it has fewer than 7 digits"));
    }
    if digits.len() > 15 {
        return Err(bad("it has more than 15 digits"));
    }
    Ok(format!("+{digits}"))
}

/// ITU-T E.164 country calling codes: 1 and 7 are one digit, the listed ones two, all others three.
fn calling_code(digits: &str) -> &str {
    const TWO: [&str; 44] = [
        "20", "27", "30", "31", "32", "33", "34", "36", "39", "40", "41", "43", "44", "45", "46", "47", "48", "49",
        "51", "52", "53", "54", "55", "56", "57", "58", "60", "61", "62", "63", "64", "65", "66", "81", "82", "84",
        "86", "90", "91", "92", "93", "94", "95", "98",
    ];
    if digits.starts_with('1') || digits.starts_with('7') {
        &digits[..1]
    } else if TWO.contains(&&digits[..2]) {
        &digits[..2]
    } else {
        &digits[..3]
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
    fn s19_e164_accepted_and_normalised() {
        assert_eq!(phone("+44 20 7946 0000").unwrap(), "+442079460000");
        assert_eq!(phone("+1 (415) 555-2671").unwrap(), "+14155552671");
        assert_eq!(phone("+123456789012345").unwrap(), "+123456789012345");
    }

    #[test]
    fn s19_not_e164_refused() {
        for (s, reason) in [
            ("4155552671", "it does not start with +"),
            ("+0123456789", "the country code cannot start with 0"),
            ("+1234567890123456", "it has more than 15 digits"),
            ("+12345", "it has fewer than 7 digits"),
            ("+1415555267a", "it has a character that is not a digit"),
            ("+", "it has fewer than 7 digits"),
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
