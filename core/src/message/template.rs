//! Templates: checked when the config is loaded, then prepared once into pieces (text with
//! the config's values already in it, and the places of the code and the minutes), so that a
//! render writes each part once into a buffer of its exact size.

use crate::error::Error;
use crate::identifier::{Channel, Purpose};

use zeroize::Zeroizing;

use super::html::{derive_html, escape_html, escaped_len};
#[cfg(test)]
use super::Sink;
use super::{MessagesConfig, SecretText};

/// A template as configured (or built in), checked.
#[derive(Clone, Debug)]
pub(super) enum Template {
    Sms(String),
    Email { subject: String, text: String, html: Option<String> },
}

/// A template ready to render: parsed once at load into its pieces, with the config's values
/// (`{app}`, `{domain}`, the SMS's closing lines) already in its text.
#[derive(Clone, Debug)]
pub(super) enum Ready {
    Sms(Prepared),
    /// `html: None` derives the HTML from the text body at render time (see `Html`).
    Email {
        subject: Prepared,
        text: Prepared,
        html: Html,
    },
}

/// An email's HTML body, when the config gives none: derived from its text body.
#[derive(Clone, Debug)]
pub(super) enum Html {
    /// The configured HTML template.
    Template(Prepared),
    /// The text body's paragraphs, derived at load with markers where the code and the
    /// minutes go (the same as deriving it from each rendered text: a test holds them equal).
    Derived(Prepared),
    /// The text or the app name holds a marker character: derived from each rendered text.
    AtRender,
}

/// One piece of a prepared template.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Code,
    Minutes,
}

/// A template's pieces, and whether the code and minutes are escaped for HTML when written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Prepared {
    pieces: Vec<Piece>,
    escaped: bool,
    /// The bytes of the text pieces, for sizing the output.
    text_len: usize,
}

/// Where the code and the minutes stand in a template rendered at load to derive its HTML:
/// private-use characters, no whitespace, nothing HTML escapes.
const CODE_MARK: char = '\u{e000}';
const MINUTES_MARK: char = '\u{e001}';

impl Prepared {
    /// Parses a checked template (see `check_template`), filling in the config's values.
    fn parse(template: &str, app: &str, domain: &str, escaped: bool) -> Self {
        let mut prepared = Prepared { pieces: Vec::new(), escaped, text_len: 0 };
        let mut rest = template;
        while let Some(i) = rest.find(['{', '}']) {
            prepared.text(&rest[..i]);
            let tail = &rest[i..];
            if tail.starts_with("{{") || tail.starts_with("}}") {
                prepared.text(&tail[..1]);
                rest = &tail[2..];
            } else if let (true, Some(end)) = (tail.starts_with('{'), tail.find('}')) {
                match &tail[1..end] {
                    "code" => prepared.pieces.push(Piece::Code),
                    "minutes" => prepared.pieces.push(Piece::Minutes),
                    name => {
                        let value = match name {
                            "app" => app,
                            "domain" => domain,
                            _ => "",
                        };
                        match escaped {
                            true => escape_html(value, &mut |piece| prepared.text(piece)),
                            false => prepared.text(value),
                        }
                    }
                }
                rest = &tail[end + 1..];
            } else {
                prepared.text(&tail[..1]);
                rest = &tail[1..];
            }
        }
        prepared.text(rest);
        prepared
    }

    /// Splits text rendered with `CODE_MARK` and `MINUTES_MARK` into pieces.
    fn from_marked(marked: &str, escaped: bool) -> Self {
        let mut prepared = Prepared { pieces: Vec::new(), escaped, text_len: 0 };
        let mut rest = marked;
        while let Some(i) = rest.find([CODE_MARK, MINUTES_MARK]) {
            prepared.text(&rest[..i]);
            let mark = rest[i..].chars().next().expect("a mark");
            prepared.pieces.push(if mark == CODE_MARK { Piece::Code } else { Piece::Minutes });
            rest = &rest[i + mark.len_utf8()..];
        }
        prepared.text(rest);
        prepared
    }

    /// Adds text, joined to the text piece before it.
    fn text(&mut self, text: &str) {
        if text.is_empty() {
            return;
        }
        self.text_len += text.len();
        match self.pieces.last_mut() {
            Some(Piece::Text(last)) => last.push_str(text),
            _ => self.pieces.push(Piece::Text(text.to_string())),
        }
    }

    /// The text, written into one buffer of its exact size.
    pub(super) fn render(&self, code: &str, minutes: &str) -> SecretText {
        let value_len = |v: &str| if self.escaped { escaped_len(v) } else { v.len() };
        let (code_len, minutes_len) = (value_len(code), value_len(minutes));
        let len = self.pieces.iter().fold(self.text_len, |len, piece| match piece {
            Piece::Text(_) => len,
            Piece::Code => len.saturating_add(code_len),
            Piece::Minutes => len.saturating_add(minutes_len),
        });
        let mut out = Zeroizing::new(String::with_capacity(len));
        let value = |v: &str, out: &mut String| match self.escaped {
            true => escape_html(v, &mut |piece| out.push_str(piece)),
            false => out.push_str(v),
        };
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Code => value(code, &mut out),
                Piece::Minutes => value(minutes, &mut out),
            }
        }
        debug_assert_eq!(out.len(), len, "sized exactly");
        SecretText(out)
    }
}

/// A number's decimal digits, on the stack.
pub(super) struct Decimal {
    digits: [u8; 20],
    start: usize,
}

impl Decimal {
    pub(super) fn new(mut n: u64) -> Self {
        let mut d = Decimal { digits: [b'0'; 20], start: 20 };
        loop {
            d.start -= 1;
            d.digits[d.start] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                return d;
            }
        }
    }

    pub(super) fn as_str(&self) -> &str {
        std::str::from_utf8(&self.digits[self.start..]).expect("ASCII digits")
    }
}

fn action(p: Purpose) -> &'static str {
    match p {
        Purpose::SignUp => "to create your account",
        Purpose::SignIn => "to sign in",
        Purpose::SecondFactor => "to confirm it's you",
        Purpose::VerifyContact => "to confirm this contact",
        Purpose::Recovery => "to recover your account",
    }
}

pub(super) fn builtin(channel: Channel, purpose: Purpose, code_in_subject: bool) -> Template {
    let a = action(purpose);
    match channel {
        Channel::Sms => {
            Template::Sms(format!("{{code}} is your {{app}} code {a}. It expires in {{minutes}} min. Don't share it."))
        }
        Channel::Email => Template::Email {
            subject: if code_in_subject { "{code} is your {app} code".into() } else { "Your {app} code".into() },
            text: format!(
                "Your {{app}} code {a} is:\n\n    {{code}}\n\nIt expires in {{minutes}} minutes. \
                 If you did not ask for it, ignore this email. Never share this code with anyone."
            ),
            html: None,
        },
    }
}

/// Fills placeholders, writing each value through `value` (plain, or escaped for HTML): how
/// templates were rendered before they were prepared at load, kept as the reference the
/// prepared ones are tested against.
#[cfg(test)]
pub(super) fn fill(template: &str, vars: &[(&str, &str)], value: fn(&str, Sink<'_>), out: Sink<'_>) {
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out(&tail[..1]);
            rest = &tail[2..];
        } else if let (true, Some(end)) = (tail.starts_with('{'), tail.find('}')) {
            let name = &tail[1..end];
            value(vars.iter().find(|(k, _)| *k == name).map_or("", |(_, v)| v), out);
            rest = &tail[end + 1..];
        } else {
            out(&tail[..1]);
            rest = &tail[1..];
        }
    }
    out(rest);
}

#[cfg(test)]
pub(super) fn plain(text: &str, out: Sink<'_>) {
    out(text);
}

pub(super) fn check_template(name: &str, template: &str, needs_code: bool) -> Result<(), Error> {
    let bad = |reason: String| Error::InvalidTemplate { template: name.into(), reason };
    if template.len() > 8192 {
        return Err(bad("longer than 8192 bytes".into()));
    }
    let mut rest = template;
    let mut has_code = false;
    while let Some(i) = rest.find(['{', '}']) {
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return Err(bad("a lone `}` (write `}}`)".into()));
        }
        let end = tail.find('}').ok_or_else(|| bad("an unclosed `{`".into()))?;
        match &tail[1..end] {
            "code" => has_code = true,
            "app" | "minutes" | "domain" => {}
            // Not quoted: the error names the template, never the config's text.
            _ => return Err(bad("an unknown placeholder (the known ones: {code}, {app}, {minutes}, {domain})".into())),
        }
        rest = &tail[end + 1..];
    }
    if needs_code && !has_code {
        return Err(bad("it has no `{code}`".into()));
    }
    Ok(())
}

/// Whether the HTML derived at load with a mark for the code is the HTML derived from a text
/// with `code` in it: a code that starts no paragraph or line, ends none, and is not trimmed
/// away, as every code the engine draws (letters and digits).
pub(super) fn derives_alike(code: &str) -> bool {
    !code.is_empty()
        && !code.contains('\n')
        && !code.starts_with(char::is_whitespace)
        && !code.ends_with(char::is_whitespace)
}

/// A checked template, ready to render with `config`'s values.
pub(super) fn prepare(config: &MessagesConfig, template: &Template) -> Ready {
    let app = config.app_name.as_str();
    let domain = config.domain.as_deref().unwrap_or("");
    match template {
        Template::Sms(t) => {
            let mut sms = Prepared::parse(t, app, domain, false);
            if let Some(hash) = &config.android_app_hash {
                sms.text("\n");
                sms.text(hash);
            }
            if let Some(domain) = &config.domain {
                // S21: the origin-bound line is the last line, and nothing precedes its `@`.
                sms.text("\n\n@");
                sms.text(domain);
                sms.text(" #");
                sms.pieces.push(Piece::Code);
                if let Some(embedded) = &config.embedded_domain {
                    sms.text(" @");
                    sms.text(embedded);
                }
            }
            Ready::Sms(sms)
        }
        Template::Email { subject, text, html } => {
            let text_ready = Prepared::parse(text, app, domain, false);
            let html = match html {
                Some(h) => Html::Template(Prepared::parse(h, app, domain, true)),
                None if [text.as_str(), app].iter().any(|s| s.contains([CODE_MARK, MINUTES_MARK])) => Html::AtRender,
                None => {
                    let mut marks = [0u8; 8];
                    let code = CODE_MARK.encode_utf8(&mut marks[..4]).to_string();
                    let minutes = MINUTES_MARK.encode_utf8(&mut marks[4..]).to_string();
                    let marked = text_ready.render(&code, &minutes);
                    let mut derived = String::new();
                    derive_html(&marked, &mut |piece| derived.push_str(piece));
                    Html::Derived(Prepared::from_marked(&derived, true))
                }
            };
            Ready::Email { subject: Prepared::parse(subject, app, domain, false), text: text_ready, html }
        }
    }
}
