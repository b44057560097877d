//! Reading the senders' secrets (SMTP password, provider token, webhook secret, DKIM key) from
//! where the config says they are: an environment variable or a file, never a literal.
//!
//! The text is held in a zeroizing buffer, read with a size limit, and errors name the field
//! and what went wrong, never the variable's value or the file's content.

use std::io::Read;

use passcode_core::delivery_config::SecretSource;
use passcode_core::Error;
use zeroize::Zeroizing;

/// The largest secret read (a 4096-bit RSA key in PEM is about 3.3 KB).
pub const MAX_SECRET_BYTES: usize = 16 * 1024;

fn out(field: &'static str, reason: String) -> Error {
    Error::PolicyOutOfBounds { field, reason }
}

/// Reads a secret; a file's final newline (as `echo` writes) is not part of it.
pub fn read(field: &'static str, source: &SecretSource) -> Result<Zeroizing<String>, Error> {
    let text = match source {
        SecretSource::Env(name) => {
            let value = Zeroizing::new(std::env::var(name).unwrap_or_default());
            if value.is_empty() {
                return Err(out(field, format!("the environment variable {name} is unset or empty")));
            }
            if value.len() > MAX_SECRET_BYTES {
                return Err(out(
                    field,
                    format!("the environment variable {name} is longer than {MAX_SECRET_BYTES} bytes"),
                ));
            }
            value
        }
        SecretSource::File(path) => read_file(field, path)?,
    };
    let trimmed = Zeroizing::new(text.trim_end_matches(['\n', '\r']).to_string());
    if trimmed.is_empty() {
        return Err(out(field, "the secret is empty".into()));
    }
    Ok(trimmed)
}

/// Reads a file of at most [`MAX_SECRET_BYTES`] as UTF-8 text.
pub fn read_file(field: &'static str, path: &str) -> Result<Zeroizing<String>, Error> {
    let file =
        std::fs::File::open(path).map_err(|e| out(field, format!("the file cannot be read ({:?})", e.kind())))?;
    let mut bytes = Zeroizing::new(Vec::new());
    file.take(MAX_SECRET_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| out(field, format!("the file cannot be read ({:?})", e.kind())))?;
    if bytes.len() > MAX_SECRET_BYTES {
        return Err(out(field, format!("the file is larger than {MAX_SECRET_BYTES} bytes")));
    }
    match std::str::from_utf8(&bytes) {
        Ok(s) => Ok(Zeroizing::new(s.to_string())),
        Err(_) => Err(out(field, "the file is not UTF-8 text".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_a_file_without_its_newline_and_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("pw");
        std::fs::write(&f, "s3cret-pw\n").unwrap();
        let source = SecretSource::File(f.display().to_string());
        assert_eq!(read("delivery.email.password_env", &source).unwrap().as_str(), "s3cret-pw");
        std::fs::write(&f, vec![b'x'; MAX_SECRET_BYTES + 1]).unwrap();
        assert!(read("f", &source).is_err(), "too large");
        std::fs::write(&f, [0xff, 0xfe]).unwrap();
        assert!(read("f", &source).is_err(), "not UTF-8");
        std::fs::write(&f, "\n").unwrap();
        let e = read("f", &source).unwrap_err();
        assert!(e.to_string().contains("empty"));
        let e = read("f", &SecretSource::File(dir.path().join("missing").display().to_string())).unwrap_err();
        assert!(e.to_string().contains("NotFound"), "{e}");
    }

    #[test]
    fn from_the_environment() {
        let e = read("f", &SecretSource::Env("PASSCODE_DELIVERY_TEST_SURELY_UNSET".into())).unwrap_err();
        assert!(e.to_string().contains("PASSCODE_DELIVERY_TEST_SURELY_UNSET is unset"), "{e}");
    }
}
