//! DEVELOPMENT-ONLY delivery: each message is written to a file in an outbox folder and
//! printed, so a developer can sign in without an email or SMS provider. The outbox is the
//! one place a code appears; real email and SMS come with the delivery crate.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::host::{Issued, Message};

/// The banner at the top of every outbox file and printed message.
pub const BANNER: &str = "DEVELOPMENT ONLY: this message was NOT sent; it was written to the local outbox.";

/// Writes messages to a folder, one file per message.
#[derive(Debug)]
pub struct Outbox {
    dir: PathBuf,
    print: bool,
    seq: AtomicU64,
}

impl Outbox {
    /// An outbox in `dir` (created if missing); `print` also prints each message to stdout.
    pub fn new(dir: &Path, print: bool) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(Outbox { dir: dir.to_path_buf(), print, seq: AtomicU64::new(0) })
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Delivers a message: writes it to a new file and returns the file's path.
    pub fn deliver(&self, issued: &Issued) -> std::io::Result<PathBuf> {
        let (channel, subject, text) = match &issued.message {
            Message::Sms(s) => ("sms", String::new(), s.text.clone()),
            Message::Email(e) => ("email", format!("Subject: {}\n", e.subject), e.text.clone()),
        };
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let path = self.dir.join(format!("{millis:013}-{seq:06}-{channel}.txt"));
        let body = format!("{BANNER}\nTo: {}\nChannel: {channel}\n{subject}\n{text}\n", issued.recipient);
        std::fs::write(&path, &body)?;
        if self.print {
            println!("---- {BANNER}\n---- file: {}\n{body}----", path.display());
        }
        Ok(path)
    }
}
