//! The signed session cookie: `subject|channel|expires` and an HMAC-SHA256 over it.
//!
//! The cookie is signed, not encrypted: it carries the signed-in address or number, which the
//! gateway hands to the upstream anyway (`x-passcode-subject`). It is HttpOnly,
//! SameSite=Strict, and Secure when the request came over TLS.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "passcode_session";

/// A signed-in session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The normalised address or number.
    pub subject: String,
    /// `email` or `sms`.
    pub channel: String,
    /// When it ends, Unix seconds.
    pub expires_at: u64,
}

/// Why a session cookie was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// Not ours: malformed, or the signature does not match.
    Invalid,
    /// Ours, but past its end.
    Expired,
}

/// Signs and checks session cookies with one key.
#[derive(Clone)]
pub struct SessionKey([u8; 32]);

impl std::fmt::Debug for SessionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionKey(..)")
    }
}

impl SessionKey {
    /// A key from 32 bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        SessionKey(bytes)
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes a key of any length: this cannot fail.
        <Hmac<Sha256> as Mac>::new_from_slice(&self.0).unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
    }

    /// The cookie value for a session.
    pub fn sign(&self, s: &Session) -> String {
        let payload = format!("{}|{}|{}", s.subject, s.channel, s.expires_at);
        let mut mac = self.mac();
        mac.update(b"passcode-session-v1|");
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
    }

    /// The session in a cookie value, checked (constant-time) and not expired at `now`.
    pub fn open(&self, value: &str, now: u64) -> Result<Session, SessionError> {
        let (payload, tag) = value.split_once('.').ok_or(SessionError::Invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| SessionError::Invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| SessionError::Invalid)?;
        let mut mac = self.mac();
        mac.update(b"passcode-session-v1|");
        mac.update(&payload);
        mac.verify_slice(&tag).map_err(|_| SessionError::Invalid)?;
        let text = String::from_utf8(payload).map_err(|_| SessionError::Invalid)?;
        let mut parts = text.rsplitn(3, '|');
        let (Some(expires), Some(channel), Some(subject)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SessionError::Invalid);
        };
        let expires_at = expires.parse().map_err(|_| SessionError::Invalid)?;
        if now >= expires_at {
            return Err(SessionError::Expired);
        }
        Ok(Session { subject: subject.to_string(), channel: channel.to_string(), expires_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signed_sessions_open_and_tampered_ones_do_not() {
        let k = SessionKey::new([7; 32]);
        let s = Session { subject: "jane@example.com".into(), channel: "email".into(), expires_at: 1000 };
        let v = k.sign(&s);
        assert_eq!(k.open(&v, 999), Ok(s.clone()));
        assert_eq!(k.open(&v, 1000), Err(SessionError::Expired));
        assert_eq!(SessionKey::new([8; 32]).open(&v, 0), Err(SessionError::Invalid), "another key");
        let forged = Session { subject: "admin@example.com".into(), ..s };
        let (_, tag) = v.split_once('.').unwrap();
        let (payload, _) = k.sign(&forged).split_once('.').map(|(a, b)| (a.to_string(), b.to_string())).unwrap();
        assert_eq!(k.open(&format!("{payload}.{tag}"), 0), Err(SessionError::Invalid), "a swapped payload");
        assert_eq!(k.open("garbage", 0), Err(SessionError::Invalid));
        assert_eq!(k.open("a.b.c", 0), Err(SessionError::Invalid));
    }
}
