//! What delivery can answer a host, with stable numbers in the 8000s beside the engine's table.
//!
//! Config problems are the engine's own errors (`policy-out-of-bounds` naming the field), so a
//! host sees one table for every config mistake. The 8000s are what happens when a message is
//! handed over: the queue is full, no sender serves the channel, delivery is shutting down, or
//! (for a synchronous send only) the providers failed. No text carries a code, an address or a
//! number, or a provider's own message (providers echo the number in theirs).

use std::fmt;

use crate::sender::SendError;

/// Every delivery error number with its name, beside `passcode_core::ERROR_TABLE`.
pub const DELIVERY_ERROR_TABLE: &[(u32, &str)] =
    &[(8001, "delivery-queue-full"), (8002, "no-sender"), (8003, "delivery-stopped"), (8004, "delivery-failed")];

/// An error from delivery.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Error {
    /// The config was refused (an engine error: its field is named, its value never quoted).
    Config(passcode_core::Error),
    /// The queue is full: nothing was queued and nothing will be sent. Try again shortly.
    QueueFull,
    /// No sender is configured for this channel.
    NoSender {
        /// `email` or `sms`.
        channel: &'static str,
    },
    /// Delivery is shutting down and takes no new messages.
    Stopped,
    /// A synchronous send failed with every provider of the route (`Delivery::send_now`).
    Failed(SendError),
}

impl Error {
    /// The stable number: the engine's for `Config`, else the 8000s.
    pub fn number(&self) -> u32 {
        match self {
            Error::Config(e) => e.number(),
            Error::QueueFull => 8001,
            Error::NoSender { .. } => 8002,
            Error::Stopped => 8003,
            Error::Failed(_) => 8004,
        }
    }

    /// The stable name, from the engine's table or [`DELIVERY_ERROR_TABLE`].
    pub fn name(&self) -> &'static str {
        match self {
            Error::Config(e) => e.name(),
            other => {
                let n = other.number();
                DELIVERY_ERROR_TABLE.iter().find(|(m, _)| *m == n).map_or("other", |(_, name)| name)
            }
        }
    }
}

impl From<passcode_core::Error> for Error {
    fn from(e: passcode_core::Error) -> Self {
        Error::Config(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(e) => write!(f, "{e}"),
            Error::QueueFull => f.write_str("the delivery queue is full; nothing was sent; try again shortly"),
            Error::NoSender { channel } => write!(f, "no sender is configured for {channel}"),
            Error::Stopped => f.write_str("delivery is shutting down and takes no new messages"),
            Error::Failed(e) => write!(f, "the message was not sent: {e}"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sender::Failure;

    #[test]
    fn numbers_and_names_come_from_the_tables() {
        let all = [
            Error::QueueFull,
            Error::NoSender { channel: "sms" },
            Error::Stopped,
            Error::Failed(SendError::new(Failure::Rejected, "rejected")),
        ];
        assert_eq!(all.len(), DELIVERY_ERROR_TABLE.len());
        for (e, (n, name)) in all.iter().zip(DELIVERY_ERROR_TABLE) {
            assert_eq!((e.number(), e.name()), (*n, *name));
        }
        let config =
            Error::from(passcode_core::Error::PolicyOutOfBounds { field: "delivery.workers", reason: "x".into() });
        assert_eq!((config.number(), config.name()), (2003, "policy-out-of-bounds"));
        for (n, _) in DELIVERY_ERROR_TABLE {
            assert!(!passcode_core::ERROR_TABLE.iter().any(|(m, _)| m == n), "{n} is the engine's");
        }
    }
}
