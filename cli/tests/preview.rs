//! `passcode preview` against the engine's own messages: for each config, channel, purpose and
//! locale, the engine issues a real code and the preview's text, encoding and segment count
//! must be the engine's, with only the code differing.

mod support;

use passcode_core::{Channel, Config, Engine, IssueRequest, Message, Purpose, SmsEncoding};
use serde_json::Value;
use support::passcode;

const CONFIGS: &[&str] = &[
    // The built-in English, with the origin-bound line.
    "[messages]\napp_name = \"Acme\"\ndomain = \"login.acme.example\"\n",
    // A French template with a dash that forces UCS-2, and two segments allowed.
    "[messages]\napp_name = \"Acme\"\ndomain = \"login.acme.example\"\nsms_max_segments = 3\n\
     [[messages.templates]]\nlocale = \"fr\"\nchannel = \"sms\"\n\
     sms = \"{code} est votre code {app} – il expire dans {minutes} min. Ne le partagez avec personne, jamais.\"\n\
     [[messages.templates]]\nlocale = \"fr\"\nchannel = \"email\"\nemail_subject = \"Votre code {app}\"\n\
     email_text = \"Votre code est {code}.\"\nemail_html = \"<p>Code : <b>{code}</b> <i>{app}</i></p>\"\n",
    // Long GSM-7 text over several segments, a ten-digit code, and the app hash off.
    "[policy]\ncode_length = 10\n[messages]\nsms_max_segments = 4\n\
     [[messages.templates]]\nlocale = \"en\"\nchannel = \"sms\"\npurpose = \"recovery\"\n\
     sms = \"Use {code} to recover your {app} account. It works for {minutes} minutes and only once. \
     If you did not ask for it, someone may be trying to get into your account: do not share the code \
     with anyone, not even with us, and change your password. {{not a placeholder}} ~ ^ €\"\n",
    // An alphanumeric code and the Android SMS Retriever hash (one segment).
    "[policy]\nalphabet = \"alphanumeric\"\ncode_length = 8\n[messages]\nandroid_app_hash = \"FA+9qCX9VSu\"\ndomain = \"acme.example\"\n",
];

fn engine_message(config: &Config, channel: Channel, purpose: Purpose, locale: Option<&str>) -> (Message, String) {
    let engine = Engine::from_config(config).unwrap();
    let identifier = if channel == Channel::Sms { "+447400123456" } else { "jane@example.com" };
    let issued = engine.issue(&IssueRequest { channel, identifier, purpose, client: None, locale }).unwrap();
    (issued.message.clone(), issued.code.to_string())
}

#[test]
fn previews_are_the_engines_messages_with_a_sample_code() {
    let dir = tempfile::tempdir().unwrap();
    let mut compared = 0;
    for (i, text) in CONFIGS.iter().enumerate() {
        let name = format!("c{i}.toml");
        std::fs::write(dir.path().join(&name), text).unwrap();
        let config = Config::parse(text).unwrap();
        for purpose in Purpose::ALL {
            for locale in [None, Some("fr-CA"), Some("en")] {
                for channel in [Channel::Sms, Channel::Email] {
                    let mut args = vec![
                        "preview",
                        "--json",
                        name.as_str(),
                        "--channel",
                        channel.name(),
                        "--purpose",
                        purpose.name(),
                    ];
                    if let Some(l) = locale {
                        args.extend(["--locale", l]);
                    }
                    let p: Value = passcode(dir.path(), &args).expect(0).json();
                    let sample = p["sample_code"].as_str().unwrap().to_string();
                    assert_eq!(sample.len(), usize::from(config.policy.code_length));
                    let (message, code) = engine_message(&config, channel, purpose, locale);
                    let with_sample = |s: &str| s.replace(&code, &sample);
                    match message {
                        Message::Sms(sms) => {
                            assert_eq!(
                                p["text"].as_str().unwrap(),
                                with_sample(&sms.text),
                                "{name} {purpose:?} {locale:?}"
                            );
                            assert_eq!(
                                p["segments"].as_u64().unwrap(),
                                u64::from(sms.segments),
                                "{name} {purpose:?} {locale:?}"
                            );
                            let encoding = match sms.encoding {
                                SmsEncoding::Gsm7 => "GSM-7",
                                SmsEncoding::Ucs2 => "UCS-2",
                            };
                            assert_eq!(p["encoding"], encoding, "{name} {purpose:?} {locale:?}");
                            assert_eq!(p["characters"].as_u64().unwrap() as usize, sms.text.chars().count());
                        }
                        Message::Email(email) => {
                            assert_eq!(p["subject"].as_str().unwrap(), with_sample(&email.subject));
                            assert_eq!(p["text"].as_str().unwrap(), with_sample(&email.text));
                            assert_eq!(p["html"].as_str().unwrap(), with_sample(&email.html));
                        }
                    }
                    compared += 1;
                }
            }
        }
    }
    assert_eq!(compared, CONFIGS.len() * 5 * 3 * 2);
}

#[test]
fn the_preview_shows_what_each_sms_costs_and_why() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("fr.toml"), CONFIGS[1]).unwrap();
    let out = passcode(dir.path(), &["preview", "fr.toml", "--channel", "sms", "--locale", "fr"]).expect(0);
    assert!(out.stdout.contains("UCS-2 because of '–' U+2013"), "{}", out.stdout);
    assert!(out.stdout.contains("segments      2 (at most 3"), "{}", out.stdout);
    assert!(out.stdout.contains("origin line   @login.acme.example #123456 (last line)"), "{}", out.stdout);
    let json =
        passcode(dir.path(), &["preview", "--json", "fr.toml", "--channel", "sms", "--locale", "fr"]).expect(0).json();
    assert_eq!(json["ucs2_characters"], serde_json::json!(["–"]));
    assert_eq!(json["origin_bound_line"], "@login.acme.example #123456");

    std::fs::write(dir.path().join("hash.toml"), CONFIGS[3]).unwrap();
    let out = passcode(dir.path(), &["preview", "hash.toml", "--channel", "sms"]).expect(0);
    assert!(out.stdout.contains("android hash  FA+9qCX9VSu (the SMS must fit one segment: it does)"), "{}", out.stdout);

    let bad = passcode(dir.path(), &["preview", "fr.toml", "--channel", "sms", "--locale", "fr;rm"]).expect(2);
    assert!(bad.stderr.contains("--locale") && bad.stderr.contains("[invalid-argument]"), "{}", bad.stderr);
    passcode(dir.path(), &["preview", "fr.toml", "--channel", "fax"]).expect(2);
    passcode(dir.path(), &["preview", "fr.toml"]).expect(2);
}
