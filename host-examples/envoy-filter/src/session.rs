//! Sessions: a signed cookie that names the subject, and a record in the engine's store that
//! says the session is still live, which signing out deletes.
//!
//! The cookie is `subject|channel|expires|session id` with an HMAC-SHA256 over it. It is
//! signed, not encrypted: it carries the signed-in address or number, which the gateway hands
//! to the upstream anyway (`x-passcode-subject`), and this keeps identifiers out of the store
//! (the store holds none, as for the engine's own records). The live record sits under
//! HMAC(session key, "live" | session id), so a copy of the store gives no cookie away; its
//! value is only the expiry. Every gateway sharing the store (Redis) sees a sign-out at once:
//! a copied cookie stops working everywhere, through the proxy and through ext_authz.

use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use hmac::{Hmac, Mac};
use passcode_core::{Expected, Random as _, Store, StoreKey};
use sha2::Sha256;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "passcode_session";

/// The live record's format version.
const RECORD_V1: u8 = 0x51;

/// A signed-in session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    /// The normalised address or number.
    pub subject: String,
    /// `email` or `sms`.
    pub channel: String,
    /// When it ends, Unix seconds.
    pub expires_at: u64,
    /// The session's random id (hex), which names its live record.
    pub id: String,
}

/// Why a session cookie was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SessionError {
    /// Not ours: malformed, or the signature does not match.
    Invalid,
    /// Ours, but past its end.
    Expired,
    /// Ours and not expired, but signed out (its live record is gone).
    Revoked,
    /// The store did not answer: refused, fail closed.
    StoreUnavailable,
}

impl SessionError {
    /// The error name in JSON answers and metrics.
    pub fn name(&self) -> &'static str {
        match self {
            SessionError::Invalid => "invalid-session",
            SessionError::Expired => "session-expired",
            SessionError::Revoked => "session-revoked",
            SessionError::StoreUnavailable => "store-unavailable",
        }
    }
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

    fn mac(&self, label: &[u8]) -> Hmac<Sha256> {
        // HMAC takes a key of any length: this cannot fail.
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
        mac.update(label);
        mac
    }

    /// The cookie value for a session.
    pub fn sign(&self, s: &Session) -> String {
        let payload = format!("{}|{}|{}|{}", s.subject, s.channel, s.expires_at, s.id);
        let mut mac = self.mac(b"passcode-session-v2|");
        mac.update(payload.as_bytes());
        let tag = mac.finalize().into_bytes();
        format!("{}.{}", URL_SAFE_NO_PAD.encode(payload), URL_SAFE_NO_PAD.encode(tag))
    }

    /// The session in a cookie value, its signature checked (constant-time) and not expired at
    /// `now`. Whether it was signed out is the store's to say ([`Sessions::check`]).
    pub fn open(&self, value: &str, now: u64) -> Result<Session, SessionError> {
        let (payload, tag) = value.split_once('.').ok_or(SessionError::Invalid)?;
        let payload = URL_SAFE_NO_PAD.decode(payload).map_err(|_| SessionError::Invalid)?;
        let tag = URL_SAFE_NO_PAD.decode(tag).map_err(|_| SessionError::Invalid)?;
        let mut mac = self.mac(b"passcode-session-v2|");
        mac.update(&payload);
        mac.verify_slice(&tag).map_err(|_| SessionError::Invalid)?;
        let text = String::from_utf8(payload).map_err(|_| SessionError::Invalid)?;
        let mut parts = text.rsplitn(4, '|');
        let (Some(id), Some(expires), Some(channel), Some(subject)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(SessionError::Invalid);
        };
        let expires_at = expires.parse().map_err(|_| SessionError::Invalid)?;
        if now >= expires_at {
            return Err(SessionError::Expired);
        }
        Ok(Session { subject: subject.to_string(), channel: channel.to_string(), expires_at, id: id.to_string() })
    }

    /// Where a session's live record is kept: a keyed hash of its id.
    fn record_key(&self, id: &str) -> StoreKey {
        let mut mac = self.mac(b"passcode-session-live|");
        mac.update(id.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

/// Sessions kept live in the engine's store.
#[derive(Clone)]
pub struct Sessions {
    key: SessionKey,
    store: Arc<dyn Store>,
}

impl std::fmt::Debug for Sessions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sessions(..)")
    }
}

impl Sessions {
    /// Sessions signed with `key`, live records in `store`.
    pub fn new(key: SessionKey, store: Arc<dyn Store>) -> Self {
        Sessions { key, store }
    }

    /// Starts a session: writes its live record, returns the cookie value.
    pub fn create(&self, subject: &str, channel: &str, now: u64, seconds: u64) -> Result<String, SessionError> {
        let mut id = [0u8; 16];
        passcode_core::OsRandom.fill(&mut id).map_err(|_| SessionError::StoreUnavailable)?;
        let id: String = id.iter().map(|b| format!("{b:02x}")).collect();
        let expires_at = now.saturating_add(seconds);
        let mut record = vec![RECORD_V1];
        record.extend_from_slice(&expires_at.to_le_bytes());
        let written = self
            .store
            .put(&self.key.record_key(&id), &record, Some(seconds.max(1)), Expected::Absent, now)
            .map_err(|_| SessionError::StoreUnavailable)?;
        // A conflict on a fresh random 128-bit id would mean a broken store: fail closed.
        written.ok_or(SessionError::StoreUnavailable)?;
        Ok(self.key.sign(&Session { subject: subject.into(), channel: channel.into(), expires_at, id }))
    }

    /// The session a cookie names, if it is ours, unexpired and not signed out.
    pub fn check(&self, value: &str, now: u64) -> Result<Session, SessionError> {
        let session = self.key.open(value, now)?;
        match self.store.get(&self.key.record_key(&session.id), now) {
            Ok(Some((record, _))) if record.first() == Some(&RECORD_V1) => Ok(session),
            Ok(_) => Err(SessionError::Revoked),
            Err(_) => Err(SessionError::StoreUnavailable),
        }
    }

    /// Signs a session out: deletes its live record, so the cookie stops working on every
    /// gateway sharing the store. A cookie that is not ours, or already out, is a no-op.
    pub fn revoke(&self, value: &str, now: u64) -> Result<bool, SessionError> {
        let Ok(session) = self.key.open(value, now) else { return Ok(false) };
        let key = self.key.record_key(&session.id);
        // Bounded: only a concurrent sign-out of the same session can change the record.
        for _ in 0..4 {
            match self.store.get(&key, now).map_err(|_| SessionError::StoreUnavailable)? {
                None => return Ok(false),
                Some((_, version)) => {
                    if self.store.delete(&key, version, now).map_err(|_| SessionError::StoreUnavailable)? {
                        return Ok(true);
                    }
                }
            }
        }
        Err(SessionError::StoreUnavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use passcode_core::MemoryStore;

    #[test]
    fn signed_sessions_open_and_tampered_ones_do_not() {
        let k = SessionKey::new([7; 32]);
        let s = Session {
            subject: "jane@example.com".into(),
            channel: "email".into(),
            expires_at: 1000,
            id: "00ff".into(),
        };
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

    #[test]
    fn a_revoked_session_is_refused_and_the_store_holds_no_identifier() {
        let store = Arc::new(MemoryStore::new());
        let sessions = Sessions::new(SessionKey::new([3; 32]), store.clone());
        let cookie = sessions.create("jane@example.com", "email", 100, 3600).unwrap();
        let s = sessions.check(&cookie, 200).unwrap();
        assert_eq!((s.subject.as_str(), s.channel.as_str(), s.expires_at), ("jane@example.com", "email", 3700));
        let (record, _) = store.get(&sessions.key.record_key(&s.id), 200).unwrap().unwrap();
        assert_eq!(record.len(), 9, "only a version and the expiry are stored");
        assert!(sessions.revoke(&cookie, 300).unwrap());
        assert_eq!(sessions.check(&cookie, 300), Err(SessionError::Revoked));
        assert!(!sessions.revoke(&cookie, 300).unwrap(), "signing out twice is a no-op");
        assert!(!sessions.revoke("garbage", 300).unwrap());
        let other = sessions.create("jane@example.com", "email", 100, 3600).unwrap();
        assert!(sessions.check(&other, 300).is_ok(), "another session of the same subject lives on");
        assert_eq!(sessions.check(&other, 3700), Err(SessionError::Expired));
    }
}
