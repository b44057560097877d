//! `passcode keygen`: a new ring key from the OS CSPRNG, in the format the config's key files
//! use (hex), written to a new file with mode 0600 or to a pipe, never to a terminal.

use std::io::{IsTerminal, Write};
use std::path::Path;

use passcode_core::keys::MIN_KEY_BYTES;
use passcode_core::{KeyRing, OsRandom, Random};
use serde_json::json;
use zeroize::Zeroizing;

use crate::args::KeygenArgs;
use crate::output::{Exit, Failure, Report};

/// A fresh key as hex text with a newline, checked by the engine's own rules.
fn new_key(id: u8) -> Result<Zeroizing<String>, Failure> {
    let mut bytes = Zeroizing::new(vec![0u8; MIN_KEY_BYTES]);
    OsRandom.fill(&mut bytes).map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
    // The engine refuses a key that looks patterned; a fresh random one essentially never is,
    // but a key that the engine would refuse must not be written.
    KeyRing::new(vec![(id, bytes.to_vec())], id, id).map_err(|e| Failure::new(Exit::Unavailable, e.to_string()))?;
    let mut hex = Zeroizing::new(String::with_capacity(2 * MIN_KEY_BYTES + 1));
    for b in bytes.iter() {
        hex.push_str(&format!("{b:02x}"));
    }
    hex.push('\n');
    Ok(hex)
}

/// Creates `path` (never replacing a file) with mode 0600 and writes the key.
fn write_new(path: &Path, key: &str) -> Result<(), Failure> {
    let name = path.display().to_string();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| {
        let message = match e.kind() {
            std::io::ErrorKind::AlreadyExists => "the file exists; a key is never overwritten (replacing a key \
                                                  makes every live code and subject record unreadable): choose a new \
                                                  file and a new id to rotate"
                .to_string(),
            std::io::ErrorKind::NotFound => "its folder does not exist".to_string(),
            _ => format!("the file cannot be created ({e})"),
        };
        Failure::new(Exit::Refused, message).in_file(&name)
    })?;
    // The mode given at creation is narrowed by the umask, never widened; set it exactly.
    #[cfg(unix)]
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| Failure::new(Exit::Refused, format!("cannot set mode 0600 ({e})")).in_file(&name))?;
    file.write_all(key.as_bytes())
        .and_then(|_| file.sync_all())
        .map_err(|e| Failure::new(Exit::Refused, format!("cannot write the key ({e})")).in_file(&name))
}

/// The `[[keys.ring]]` lines for a key read from `source` (`file = "..."` or `env = "..."`).
fn ring_lines(id: u8, source: &str) -> String {
    format!(
        "# The key's entry in the config's ring. To rotate, add it beside the old ones and set\n\
         # `active = {id}` under [keys]; keep `index` (the key that names subjects) as it is.\n\
         [[keys.ring]]\nid = {id}\n{source}\n"
    )
}

/// Runs `keygen`.
pub fn run(args: &KeygenArgs, json: bool) -> Result<Report, Failure> {
    let key = new_key(args.id)?;
    match &args.out {
        Some(path) => {
            write_new(path, &key)?;
            let shown = std::fs::canonicalize(path).unwrap_or_else(|_| path.clone());
            let shown = shown.display().to_string();
            let lines = ring_lines(args.id, &format!("file = {shown:?}"));
            let human = format!("wrote a new key (id {}) to {shown}, mode 0600\n\n{lines}", args.id);
            Ok(Report::ok(
                human,
                json!({ "ok": true, "id": args.id, "file": shown, "mode": "0600", "keys_toml": lines }),
            ))
        }
        None => {
            if json {
                return Err(Failure::new(
                    Exit::Usage,
                    "--json needs --out FILE: without it the key itself is the output",
                ));
            }
            if std::io::stdout().is_terminal() {
                return Err(Failure::new(
                    Exit::Usage,
                    "refusing to print a key to a terminal: write it with --out FILE, or pipe it into your secret \
                     store (passcode keygen | ...)",
                ));
            }
            std::io::stdout()
                .lock()
                .write_all(key.as_bytes())
                .map_err(|e| Failure::new(Exit::Refused, format!("cannot write the key to stdout ({e})")))?;
            // The lines to paste go to stderr, so the pipe carries the key alone.
            let lines = ring_lines(args.id, &format!("env = {:?}", args.env));
            let note = format!(
                "wrote a new key (id {}) to stdout; give it to the engine in ${}\n\n{lines}",
                args.id, args.env
            );
            let _ = std::io::stderr().lock().write_all(note.as_bytes());
            Ok(Report::ok(String::new(), json!({})))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_hex_of_32_random_bytes_the_engine_accepts() {
        let a = new_key(1).unwrap();
        let b = new_key(1).unwrap();
        assert_ne!(*a, *b);
        let hex = a.trim_end();
        assert_eq!(hex.len(), 64);
        assert!(hex.bytes().all(|c| c.is_ascii_hexdigit()));
        assert!(a.ends_with('\n'));
    }

    #[test]
    fn the_ring_lines_parse_as_a_config() {
        let lines = ring_lines(3, "env = \"K3\"");
        let config = passcode_core::Config::parse(&lines).unwrap();
        assert_eq!(config.keys.ring[0].id, 3);
        assert_eq!(config.keys.ring[0].env.as_deref(), Some("K3"));
    }
}
