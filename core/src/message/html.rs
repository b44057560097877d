//! HTML for email bodies: escaping (with a fast path for text that needs none), and the body
//! derived from a text body when the config gives no HTML template.

use super::Sink;

/// Escapes text for HTML element content and quoted attribute values.
pub fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    escape_html(s, &mut |piece| out.push_str(piece));
    out
}

/// Writes `s` escaped for HTML, by pieces (runs of plain text, and entities).
pub(super) fn escape_html(s: &str, out: Sink<'_>) {
    if !s.bytes().any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\'')) {
        // Nearly all text (a code, an app name, a line of a template) needs no escaping.
        out(s);
        return;
    }
    let mut plain_from = 0;
    for (i, c) in s.char_indices() {
        let entity = match c {
            '&' => "&amp;",
            '<' => "&lt;",
            '>' => "&gt;",
            '"' => "&quot;",
            '\'' => "&#39;",
            _ => continue,
        };
        out(&s[plain_from..i]);
        out(entity);
        plain_from = i + c.len_utf8();
    }
    out(&s[plain_from..]);
}

/// The length of `s` escaped for HTML.
pub(super) fn escaped_len(s: &str) -> usize {
    s.bytes().fold(0, |len, b| {
        len + match b {
            b'<' | b'>' => "&lt;".len(),
            b'&' => "&amp;".len(),
            b'\'' => "&#39;".len(),
            b'"' => "&quot;".len(),
            _ => 1,
        }
    })
}

/// An email's HTML body derived from its text body: each paragraph (lines apart from a blank
/// line) in `<p>`, its lines apart by `<br>`, everything escaped.
pub(super) fn derive_html(text_body: &str, out: Sink<'_>) {
    out("<!doctype html><html><body style=\"font-family:sans-serif\">");
    for paragraph in text_body.split("\n\n") {
        out("<p>");
        for (i, line) in paragraph.trim().split('\n').enumerate() {
            if i > 0 {
                out("<br>");
            }
            escape_html(line, out);
        }
        out("</p>");
    }
    out("</body></html>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_with_and_without_the_fast_path() {
        for (text, escaped) in [
            ("plain text, 123456", "plain text, 123456"),
            ("", ""),
            ("Acme & <Co> \"q\" 'a'", "Acme &amp; &lt;Co&gt; &quot;q&quot; &#39;a&#39;"),
            ("ж & 😀", "ж &amp; 😀"),
        ] {
            assert_eq!(html_escape(text), escaped);
            assert_eq!(escaped_len(text), escaped.len(), "{text:?}");
        }
    }
}
