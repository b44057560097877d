//! DEVELOPMENT ONLY: a sender that writes each message to a file in a folder (and optionally
//! prints it) instead of sending it, so a developer can sign in without a mail relay or an SMS
//! provider. It is the one place a code is written down in clear, so a config that says it is
//! for production refuses it.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use passcode_core::{Channel, Error};

use crate::sender::{Content, Failure, Outgoing, Receipt, SendError, Sender};

/// The banner at the top of every outbox file and printed message.
pub const BANNER: &str = "DEVELOPMENT ONLY: this message was NOT sent; it was written to the local outbox.";

/// Writes messages of one channel to a folder, one file each:
/// `<unix millis>-<sequence>-<email|sms>.txt`.
#[derive(Debug)]
pub struct OutboxSender {
    dir: PathBuf,
    print: bool,
    channel: Channel,
    seq: std::sync::Arc<AtomicU64>,
}

impl OutboxSender {
    /// An outbox for `channel` in `dir` (created if missing). Senders for the two channels made
    /// with [`OutboxSender::pair`] share one sequence.
    pub fn new(dir: &Path, print: bool, channel: Channel) -> Result<OutboxSender, Error> {
        std::fs::create_dir_all(dir).map_err(|e| Error::PolicyOutOfBounds {
            field: "delivery.outbox.dir",
            reason: format!("the folder cannot be created ({:?})", e.kind()),
        })?;
        Ok(OutboxSender { dir: dir.to_path_buf(), print, channel, seq: Default::default() })
    }

    /// Outboxes for email and SMS in one folder.
    pub fn pair(dir: &Path, print: bool) -> Result<(OutboxSender, OutboxSender), Error> {
        let email = OutboxSender::new(dir, print, Channel::Email)?;
        let sms = OutboxSender { channel: Channel::Sms, seq: email.seq.clone(), dir: email.dir.clone(), print };
        Ok((email, sms))
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Sender for OutboxSender {
    fn name(&self) -> &'static str {
        "outbox"
    }

    fn channel(&self) -> Channel {
        self.channel
    }

    fn send(&self, message: &Outgoing) -> Result<Receipt, SendError> {
        let (channel, subject, text) = match &message.content {
            Content::Sms { text } => ("sms", String::new(), text.as_str()),
            Content::Email { subject, text, .. } => {
                ("email", format!("Subject: {}\n", subject.as_str()), text.as_str())
            }
        };
        let seq = self.seq.fetch_add(1, Ordering::SeqCst);
        let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
        let path = self.dir.join(format!("{millis:013}-{seq:06}-{channel}.txt"));
        let body = format!("{BANNER}\nTo: {}\nChannel: {channel}\n{subject}\n{text}\n", message.recipient.as_str());
        std::fs::write(&path, &body)
            .map_err(|_| SendError::new(Failure::NotSent, "the outbox file could not be written"))?;
        if self.print {
            println!("---- {BANNER}\n---- file: {}\n{body}----", path.display());
        }
        Ok(Receipt { provider_id: path.file_name().and_then(|n| n.to_str()).map(String::from) })
    }
}
