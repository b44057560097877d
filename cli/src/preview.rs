//! `passcode preview`: a message as the engine renders it (the same templates, lookup by
//! locale and purpose, origin-bound line and segment count), with a sample code, so an
//! operator sees what a user gets and what each SMS costs before a deploy.

use std::fmt::Write as _;

use passcode_core::message::{sms_segments, Messages};
use passcode_core::{Alphabet, Channel, Config, Error, Message, Policy, Purpose, SmsEncoding};
use serde_json::{json, Value};

use crate::args::PreviewArgs;
use crate::output::{Failure, Redactor, Report};
use crate::source::ConfigFile;

/// The longest locale tag the engine reads.
const MAX_LOCALE_BYTES: usize = 35;

/// A code of the policy's length and alphabet: `123456` for six digits.
pub fn sample_code(policy: &Policy) -> String {
    let symbols = match policy.alphabet {
        Alphabet::Digits => &b"1234567890"[..],
        Alphabet::Alphanumeric => Alphabet::Alphanumeric.symbols(),
    };
    symbols.iter().cycle().take(policy.code_length.into()).map(|b| char::from(*b)).collect()
}

/// The engine's rule for a locale argument (it refuses anything else with the same error).
pub fn check_locale(locale: Option<&str>) -> Result<(), Error> {
    match locale {
        Some(l) if l.len() > MAX_LOCALE_BYTES => Err(Error::InputTooLong { field: "locale", max: MAX_LOCALE_BYTES }),
        Some(l) if !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') => {
            Err(Error::InvalidArgument { field: "locale" })
        }
        _ => Ok(()),
    }
}

/// A locale argument the engine would refuse.
pub fn locale_failure(e: Error) -> Failure {
    Failure::new(crate::output::Exit::Usage, format!("--locale: {e}")).numbered(e.number(), e.name())
}

/// Renders a channel's message for a purpose and locale, as the engine's `issue` would.
pub fn render(
    config: &Config,
    channel: Channel,
    purpose: Purpose,
    locale: Option<&str>,
    code: &str,
) -> Result<Message, Error> {
    check_locale(locale)?;
    let messages = Messages::new(&config.messages, &config.policy)?;
    Ok(messages.render(channel, purpose, locale, code, config.policy.lifetime(channel, purpose)))
}

fn encoding_name(e: SmsEncoding) -> &'static str {
    match e {
        SmsEncoding::Gsm7 => "GSM-7",
        SmsEncoding::Ucs2 => "UCS-2",
    }
}

/// The characters that force UCS-2 (a curly quote where a straight one would do is the
/// usual culprit, halving what one SMS holds).
fn ucs2_characters(text: &str) -> Vec<char> {
    let mut found: Vec<char> = Vec::new();
    for c in text.chars() {
        if sms_segments(c.encode_utf8(&mut [0; 4])).0 == SmsEncoding::Ucs2 && !found.contains(&c) {
            found.push(c);
        }
    }
    found
}

/// The SMS's facts, for people and for `--json`.
pub fn describe_sms(config: &Config, text: &str, encoding: SmsEncoding, segments: u32) -> (String, Value) {
    let m = &config.messages;
    let characters = text.chars().count();
    let (single, part) = match encoding {
        SmsEncoding::Gsm7 => (160, 153),
        SmsEncoding::Ucs2 => (70, 67),
    };
    let origin = m.domain.as_ref().and(text.lines().last()).filter(|l| l.starts_with('@'));
    let forcing = ucs2_characters(text);
    let mut human = String::new();
    let _ = writeln!(human, "encoding      {} ({single} per single SMS, {part} per part)", encoding_name(encoding));
    if !forcing.is_empty() {
        let shown: Vec<String> = forcing.iter().map(|c| format!("{c:?} U+{:04X}", u32::from(*c))).collect();
        let _ = writeln!(human, "              UCS-2 because of {}", shown.join(", "));
    }
    let _ = writeln!(human, "characters    {characters}");
    let _ = writeln!(
        human,
        "segments      {segments} (at most {} allowed by messages.sms_max_segments)",
        m.sms_max_segments
    );
    let _ = writeln!(
        human,
        "origin line   {}",
        origin.map_or("none (set messages.domain for WebOTP and iOS autofill)".to_string(), |l| format!(
            "{l} (last line)"
        ))
    );
    if let Some(hash) = &m.android_app_hash {
        let _ = writeln!(
            human,
            "android hash  {hash} (the SMS must fit one segment: {})",
            if segments == 1 { "it does" } else { "it does NOT" }
        );
    }
    let value = json!({
        "encoding": encoding_name(encoding),
        "ucs2_characters": forcing.iter().map(|c| c.to_string()).collect::<Vec<_>>(),
        "characters": characters,
        "segments": segments,
        "max_segments": m.sms_max_segments,
        "origin_bound_line": origin,
        "android_app_hash": m.android_app_hash,
    });
    (human, value)
}

/// Runs `preview`.
pub fn run(args: &PreviewArgs, redactor: &mut Redactor) -> Result<Report, Failure> {
    let file = ConfigFile::read(&args.config, redactor)?;
    let config = file.parse()?;
    let channel = Channel::from(args.channel);
    let purpose = Purpose::from(args.purpose);
    let code = sample_code(&config.policy);
    let locale = args.locale.as_deref();
    check_locale(locale).map_err(locale_failure)?;
    let message = render(&config, channel, purpose, locale, &code).map_err(|e| file.failure(&e))?;
    let locale_shown = locale.unwrap_or(&config.messages.default_locale).to_string();
    let minutes = config.policy.lifetime(channel, purpose).div_ceil(60);
    let mut human = format!(
        "{} for {}, locale {locale_shown}, sample code {code}, lifetime {minutes} min\n",
        channel.name(),
        purpose.name()
    );
    let mut json = json!({
        "channel": channel.name(),
        "purpose": purpose.name(),
        "locale": locale_shown,
        "sample_code": code,
        "lifetime_minutes": minutes,
    });
    match &message {
        Message::Sms(sms) => {
            let _ = write!(human, "\n-----\n{}\n-----\n\n", sms.text.as_str());
            let (facts, value) = describe_sms(&config, &sms.text, sms.encoding, sms.segments);
            human.push_str(&facts);
            json["text"] = json!(sms.text.as_str());
            if let (Some(obj), Value::Object(facts)) = (json.as_object_mut(), value) {
                obj.extend(facts);
            }
        }
        Message::Email(email) => {
            let _ = write!(
                human,
                "\nsubject  {}\n\n----- text -----\n{}\n----- html -----\n{}\n-----\n",
                email.subject.as_str(),
                email.text.as_str(),
                email.html.as_str()
            );
            json["subject"] = json!(email.subject.as_str());
            json["text"] = json!(email.text.as_str());
            json["html"] = json!(email.html.as_str());
        }
    }
    Ok(Report::ok(human, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_codes_follow_the_policy() {
        assert_eq!(sample_code(&Policy::default()), "123456");
        let p = Policy { code_length: 10, ..Policy::default() };
        assert_eq!(sample_code(&p), "1234567890");
        let p = Policy { code_length: 5, alphabet: Alphabet::Alphanumeric, ..Policy::default() };
        assert_eq!(sample_code(&p), "23456");
    }

    #[test]
    fn the_characters_that_force_ucs2_are_named() {
        assert_eq!(ucs2_characters("Don't share it"), Vec::<char>::new());
        assert_eq!(ucs2_characters("Don\u{2019}t share it \u{2019}"), vec!['\u{2019}']);
        assert_eq!(ucs2_characters("€ is GSM-7 (extended)"), Vec::<char>::new());
    }

    #[test]
    fn locales_follow_the_engine_rule() {
        assert!(check_locale(Some("pt-BR")).is_ok() && check_locale(None).is_ok());
        assert_eq!(check_locale(Some("fr;x")), Err(Error::InvalidArgument { field: "locale" }));
        assert!(matches!(check_locale(Some(&"a".repeat(36))), Err(Error::InputTooLong { .. })));
    }
}
