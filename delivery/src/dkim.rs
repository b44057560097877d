//! DKIM signing for the SMTP sender, with a key from a file.
//!
//! lettre signs; this reads the key in the forms operators have: RSA as PKCS#1 (`BEGIN RSA
//! PRIVATE KEY`) or PKCS#8 (`BEGIN PRIVATE KEY`, what `openssl genpkey` writes), Ed25519 as
//! PKCS#8 PEM or the bare base64 seed. Headers are signed with relaxed canonicalization, which
//! survives relays that refold them.

use base64::Engine as _;
use lettre::message::dkim::{
    DkimCanonicalization, DkimCanonicalizationType, DkimConfig, DkimSigningAlgorithm, DkimSigningKey,
};
use lettre::message::header::HeaderName;
use passcode_core::delivery_config::{DkimAlgorithm, DkimConfig as DkimSection};
use passcode_core::Error;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::DecodePrivateKey;
use zeroize::Zeroizing;

use crate::secret;

const FIELD: &str = "delivery.email.dkim.key_file";

/// The headers signed: every one the sender always writes at the top level, so none can be
/// changed in transit without breaking the signature. The top-level `Content-Type` is not
/// among them: lettre writes it with the multipart body after signing, so it cannot sign it;
/// the body hash covers the parts and their boundary.
const SIGNED_HEADERS: [&str; 8] =
    ["From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Reply-To", "Auto-Submitted"];

/// The PKCS#8 prefix of an Ed25519 private key (RFC 8410): the 32-byte seed follows it.
const ED25519_PKCS8_PREFIX: [u8; 16] =
    [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20];

fn bad(reason: &str) -> Error {
    Error::PolicyOutOfBounds { field: FIELD, reason: reason.into() }
}

/// The base64 between a PEM block's armour lines.
fn pem_body(pem: &str, label: &str) -> Option<Zeroizing<Vec<u8>>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = pem[start..].find(&end)? + start;
    let b64: Zeroizing<String> = Zeroizing::new(pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect());
    base64::engine::general_purpose::STANDARD.decode(b64.as_bytes()).ok().map(Zeroizing::new)
}

fn rsa_key(pem: &str) -> Result<DkimSigningKey, Error> {
    let pkcs1: Zeroizing<String> = if pem.contains("-----BEGIN RSA PRIVATE KEY-----") {
        Zeroizing::new(pem.to_string())
    } else if pem.contains("-----BEGIN PRIVATE KEY-----") {
        let key = rsa::RsaPrivateKey::from_pkcs8_pem(pem).map_err(|_| bad("the file is not an RSA private key"))?;
        let text = key.to_pkcs1_pem(rsa::pkcs8::LineEnding::LF).map_err(|_| bad("the RSA key cannot be re-encoded"))?;
        Zeroizing::new(text.to_string())
    } else {
        return Err(bad("the file holds no PEM private key (PKCS#1 or PKCS#8)"));
    };
    DkimSigningKey::new(&pkcs1, DkimSigningAlgorithm::Rsa).map_err(|_| bad("the file is not an RSA private key"))
}

fn ed25519_key(text: &str) -> Result<DkimSigningKey, Error> {
    let seed: Zeroizing<Vec<u8>> = if text.contains("-----BEGIN PRIVATE KEY-----") {
        let der = pem_body(text, "PRIVATE KEY").ok_or_else(|| bad("the PEM block is not base64"))?;
        match der.strip_prefix(&ED25519_PKCS8_PREFIX[..]) {
            Some(seed) if seed.len() == 32 => Zeroizing::new(seed.to_vec()),
            _ => return Err(bad("the file is not an Ed25519 private key")),
        }
    } else {
        base64::engine::general_purpose::STANDARD
            .decode(text.trim().as_bytes())
            .map(Zeroizing::new)
            .map_err(|_| bad("the file is neither PKCS#8 PEM nor a base64 Ed25519 seed"))?
    };
    if seed.len() != 32 {
        return Err(bad("an Ed25519 seed is 32 bytes"));
    }
    let b64 = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&seed[..]));
    DkimSigningKey::new(&b64, DkimSigningAlgorithm::Ed25519).map_err(|_| bad("the file is not an Ed25519 private key"))
}

/// lettre's signing configuration for `[delivery.email.dkim]`.
pub fn config(d: &DkimSection) -> Result<DkimConfig, Error> {
    let text = secret::read_file(FIELD, &d.key_file)?;
    let key = match d.algorithm {
        DkimAlgorithm::Rsa => rsa_key(&text)?,
        DkimAlgorithm::Ed25519 => ed25519_key(&text)?,
    };
    let headers = SIGNED_HEADERS.iter().map(|h| HeaderName::new_from_ascii_str(h)).collect();
    let canonicalization =
        DkimCanonicalization { header: DkimCanonicalizationType::Relaxed, body: DkimCanonicalizationType::Relaxed };
    Ok(DkimConfig::new(d.selector.clone(), d.domain.clone(), key, headers, canonicalization))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_that_are_not_keys_are_refused_without_quoting_them() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("k");
        let section = |algorithm| DkimSection {
            domain: "example.com".into(),
            selector: "s1".into(),
            algorithm,
            key_file: f.display().to_string(),
        };
        std::fs::write(&f, "not a key at all, secret-ish text").unwrap();
        for a in [DkimAlgorithm::Rsa, DkimAlgorithm::Ed25519] {
            let e = config(&section(a)).unwrap_err();
            assert!(matches!(e, Error::PolicyOutOfBounds { field: FIELD, .. }));
            assert!(!e.to_string().contains("secret-ish"), "{e}");
        }
        std::fs::write(&f, base64::engine::general_purpose::STANDARD.encode([7u8; 32])).unwrap();
        config(&section(DkimAlgorithm::Ed25519)).unwrap();
        std::fs::write(&f, base64::engine::general_purpose::STANDARD.encode([7u8; 31])).unwrap();
        assert!(config(&section(DkimAlgorithm::Ed25519)).is_err(), "a short seed");
    }
}
