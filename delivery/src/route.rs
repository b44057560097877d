//! Retries and fallback: how one message goes through its channel's senders.
//!
//! The rules, read off each failure's [`Failure`] class:
//! - **Not sent** (no connection, the request not complete) and **busy** (HTTP 5xx, 408, 429;
//!   SMTP 4xx): retried on the same sender, up to `max_attempts` in all, after a backoff that
//!   doubles from `backoff_base_ms` up to `backoff_max_ms` with jitter (half fixed, half
//!   random, so a provider that came back is not hit by every waiting message at once), or
//!   after exactly the provider's `Retry-After` when it names one.
//! - **Outcome unknown** (the request went out in full and no answer came): never repeated to
//!   the same sender, since the provider may have sent it and a repeat could be a second paid
//!   SMS; the route moves on to the next sender. So one message costs at most one send per
//!   sender that may have sent it: with a fallback, at most two SMS in the worst case.
//! - **Refused** (the provider refused our credentials, address or URL): the next sender.
//! - **Rejected** (the recipient or the message, for good: an invalid or opted-out number, an
//!   unknown mailbox): given up at once, with no fallback, which would be refused too or, for
//!   an opted-out number, must not send.
//! - Nothing is attempted after the message's deadline (`deadline_ms` from queueing), and a
//!   wait that would end after it moves on to the next sender instead.

use std::sync::Arc;
use std::time::{Duration, Instant};

use passcode_core::Clock;
use rand::Rng;

use crate::events::{Counters, DeliveryEvent, DeliveryEventKind, DeliveryEventSink};
use crate::sender::{Failure, Outgoing, Receipt, SendError, Sender};

/// How retries are spaced and bounded (the `[delivery]` fields of the same names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per sender, the first included.
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles per retry.
    pub backoff_base: Duration,
    /// The longest wait between two attempts (a provider's `Retry-After` is honoured beyond it).
    pub backoff_max: Duration,
    /// How long a message may take from queueing to its last attempt.
    pub deadline: Duration,
}

impl RetryPolicy {
    /// The policy of a `[delivery]` section.
    pub fn from_config(c: &passcode_core::delivery_config::DeliveryConfig) -> RetryPolicy {
        RetryPolicy {
            max_attempts: c.max_attempts,
            backoff_base: Duration::from_millis(c.backoff_base_ms),
            backoff_max: Duration::from_millis(c.backoff_max_ms),
            deadline: Duration::from_millis(c.deadline_ms),
        }
    }

    /// The wait after failed attempt number `attempt` (from 1): half of the doubled backoff
    /// fixed, half random.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let doubled = self.backoff_base.saturating_mul(1u32 << attempt.saturating_sub(1).min(20));
        let cap = doubled.min(self.backoff_max);
        let half = cap / 2;
        let jitter_ms = rand::rng().random_range(0..=half.as_millis().min(u128::from(u64::MAX)) as u64);
        half + Duration::from_millis(jitter_ms)
    }
}

/// Waits between attempts. Returns false when delivery is giving up (shutting down past its
/// bound): the message is then abandoned.
pub trait Pause: Send + Sync {
    /// Waits `wait`, or less if delivery is giving up.
    fn pause(&self, wait: Duration) -> bool;
}

/// Sleeps the thread.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sleep;

impl Pause for Sleep {
    fn pause(&self, wait: Duration) -> bool {
        std::thread::sleep(wait);
        true
    }
}

/// Emits events and counts them.
pub(crate) struct Reporter<'a> {
    pub sink: &'a dyn DeliveryEventSink,
    pub clock: &'a dyn Clock,
    pub counters: &'a Counters,
}

/// The details of one event beyond its kind and message.
#[derive(Default)]
pub(crate) struct Detail<'a> {
    pub sender: Option<&'static str>,
    pub attempt: u32,
    pub provider_id: Option<String>,
    pub reason: Option<&'static str>,
    pub error: Option<&'a SendError>,
    pub retry_in: Option<Duration>,
}

impl Reporter<'_> {
    pub fn emit(&self, kind: DeliveryEventKind, message: &Outgoing, d: Detail<'_>) {
        self.counters.count(kind);
        self.sink.emit(&DeliveryEvent {
            kind,
            at: self.clock.now(),
            message_id: message.id.clone(),
            channel: message.channel,
            purpose: message.purpose,
            subject: message.subject.clone(),
            sender: d.sender,
            attempt: d.attempt,
            provider_id: d.provider_id,
            reason: d.reason.or(d.error.map(|e| e.failure.reason())),
            status: d.error.and_then(|e| e.status),
            provider_code: d.error.and_then(|e| e.provider_code.clone()),
            retry_in_ms: d.retry_in.map(|w| w.as_millis().min(u128::from(u64::MAX)) as u64),
        });
    }
}

/// Sends one message through `route` by the rules above, emitting `Retried` and then `Sent`
/// or `Failed`. `started` is when it was queued (the deadline counts from there).
pub(crate) fn deliver(
    route: &[Arc<dyn Sender>],
    message: &Outgoing,
    policy: &RetryPolicy,
    started: Instant,
    pause: &dyn Pause,
    report: &Reporter<'_>,
) -> Result<Receipt, SendError> {
    let deadline = started + policy.deadline;
    let mut last: Option<(&'static str, u32, SendError)> = None;
    let give_up = |reason: &'static str, last: &Option<(&'static str, u32, SendError)>| {
        let (sender, attempt, error) = match last {
            Some((s, a, e)) => (Some(*s), *a, Some(e)),
            None => (None, 0, None),
        };
        report.emit(
            DeliveryEventKind::Failed,
            message,
            Detail { sender, attempt, reason: Some(reason), error, ..Detail::default() },
        );
        let mut e = error.cloned().unwrap_or_else(|| SendError::new(Failure::NotSent, "no attempt was made"));
        e.detail = match reason {
            "deadline" => "the delivery deadline passed",
            "shutdown" => "delivery shut down first",
            _ => e.detail,
        };
        e
    };
    for (i, sender) in route.iter().enumerate() {
        let name = sender.name();
        let mut attempt = 0;
        loop {
            attempt += 1;
            if Instant::now() >= deadline {
                return Err(give_up("deadline", &last));
            }
            let error = match sender.send(message) {
                Ok(receipt) => {
                    let provider_id = receipt.provider_id.clone();
                    report.emit(
                        DeliveryEventKind::Sent,
                        message,
                        Detail { sender: Some(name), attempt, provider_id, ..Detail::default() },
                    );
                    return Ok(receipt);
                }
                Err(e) => e,
            };
            if error.failure == Failure::Rejected {
                report.emit(
                    DeliveryEventKind::Failed,
                    message,
                    Detail { sender: Some(name), attempt, error: Some(&error), ..Detail::default() },
                );
                return Err(error);
            }
            let retry_here =
                matches!(error.failure, Failure::NotSent | Failure::Busy { .. }) && attempt < policy.max_attempts;
            if retry_here {
                let wait = match error.failure {
                    Failure::Busy { retry_after: Some(wait) } => wait,
                    _ => policy.backoff(attempt),
                };
                if Instant::now() + wait < deadline {
                    report.emit(
                        DeliveryEventKind::Retried,
                        message,
                        Detail {
                            sender: Some(name),
                            attempt,
                            error: Some(&error),
                            retry_in: Some(wait),
                            ..Detail::default()
                        },
                    );
                    last = Some((name, attempt, error));
                    if !pause.pause(wait) {
                        return Err(give_up("shutdown", &last));
                    }
                    continue;
                }
            }
            if i + 1 < route.len() {
                report.emit(
                    DeliveryEventKind::Retried,
                    message,
                    Detail {
                        sender: Some(name),
                        attempt,
                        error: Some(&error),
                        retry_in: Some(Duration::ZERO),
                        ..Detail::default()
                    },
                );
            }
            last = Some((name, attempt, error));
            break;
        }
    }
    let reason = last.as_ref().map_or("refused", |(_, _, e)| e.failure.reason());
    Err(give_up(reason, &last))
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use passcode_core::{ManualClock, Purpose};
    use zeroize::Zeroizing;

    use super::*;
    use crate::events::DeliveryEventLog;
    use crate::sender::Content;

    /// A sender that answers from a script and counts its calls.
    struct Scripted {
        name: &'static str,
        answers: Mutex<Vec<Result<Receipt, SendError>>>,
        calls: Mutex<u32>,
    }

    impl Scripted {
        fn new(name: &'static str, answers: Vec<Result<Receipt, SendError>>) -> Arc<Scripted> {
            Arc::new(Scripted { name, answers: Mutex::new(answers), calls: Mutex::new(0) })
        }
        fn calls(&self) -> u32 {
            *self.calls.lock().unwrap()
        }
    }

    impl Sender for Scripted {
        fn name(&self) -> &'static str {
            self.name
        }
        fn channel(&self) -> passcode_core::Channel {
            passcode_core::Channel::Sms
        }
        fn send(&self, _: &Outgoing) -> Result<Receipt, SendError> {
            *self.calls.lock().unwrap() += 1;
            let mut a = self.answers.lock().unwrap();
            if a.is_empty() {
                Ok(Receipt { provider_id: Some(format!("{}-ok", self.name)) })
            } else {
                a.remove(0)
            }
        }
    }

    /// Records the waits instead of sleeping.
    #[derive(Default)]
    struct Waits(Mutex<Vec<Duration>>);

    impl Pause for Waits {
        fn pause(&self, wait: Duration) -> bool {
            self.0.lock().unwrap().push(wait);
            true
        }
    }

    fn err(f: Failure) -> Result<Receipt, SendError> {
        Err(SendError::new(f, "test"))
    }

    fn message() -> Outgoing {
        Outgoing::new(
            Purpose::SignIn,
            "00ff00ff00ff00ff",
            "+447400123456",
            Content::Sms { text: Zeroizing::new("t".into()) },
            "123456",
        )
    }

    fn policy() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 3,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            deadline: Duration::from_secs(60),
        }
    }

    /// Each event's kind, sender and reason.
    type Seen = Vec<(DeliveryEventKind, Option<&'static str>, Option<&'static str>)>;

    fn run(route: &[Arc<dyn Sender>], waits: &Waits) -> (Result<Receipt, SendError>, Seen) {
        let log = DeliveryEventLog::default();
        let clock = ManualClock::new(1_700_000_000);
        let counters = Counters::default();
        let report = Reporter { sink: &log, clock: &clock, counters: &counters };
        let r = deliver(route, &message(), &policy(), Instant::now(), waits, &report);
        (r, log.events().iter().map(|e| (e.kind, e.sender, e.reason)).collect())
    }

    use DeliveryEventKind::{Failed, Retried, Sent};

    #[test]
    fn a_busy_provider_is_retried_after_a_backoff_then_sends_once() {
        let a = Scripted::new("sms", vec![err(Failure::Busy { retry_after: None }), err(Failure::NotSent)]);
        let waits = Waits::default();
        let (r, events) = run(&[a.clone() as Arc<dyn Sender>], &waits);
        assert_eq!(r.unwrap().provider_id.as_deref(), Some("sms-ok"));
        assert_eq!(a.calls(), 3);
        assert_eq!(
            events,
            vec![
                (Retried, Some("sms"), Some("busy")),
                (Retried, Some("sms"), Some("not-sent")),
                (Sent, Some("sms"), None)
            ]
        );
        let w = waits.0.lock().unwrap().clone();
        assert!(w[0] >= Duration::from_millis(50) && w[0] <= Duration::from_millis(100), "{w:?}");
        assert!(w[1] >= Duration::from_millis(100) && w[1] <= Duration::from_millis(200), "doubled: {w:?}");
    }

    #[test]
    fn retry_after_is_honoured_exactly() {
        let a = Scripted::new("sms", vec![err(Failure::Busy { retry_after: Some(Duration::from_secs(7)) })]);
        let waits = Waits::default();
        let (r, _) = run(&[a], &waits);
        assert!(r.is_ok());
        assert_eq!(*waits.0.lock().unwrap(), vec![Duration::from_secs(7)]);
    }

    #[test]
    fn a_rejection_stops_the_route_without_the_fallback() {
        let a = Scripted::new("sms", vec![err(Failure::Rejected)]);
        let b = Scripted::new("webhook", vec![]);
        let (r, events) = run(&[a.clone(), b.clone()], &Waits::default());
        assert_eq!(r.unwrap_err().failure, Failure::Rejected);
        assert_eq!((a.calls(), b.calls()), (1, 0));
        assert_eq!(events, vec![(Failed, Some("sms"), Some("rejected"))]);
    }

    #[test]
    fn an_unknown_outcome_is_never_repeated_to_the_same_provider() {
        let a = Scripted::new("sms", vec![err(Failure::Unknown)]);
        let (r, events) = run(&[a.clone() as Arc<dyn Sender>], &Waits::default());
        assert_eq!(r.unwrap_err().failure, Failure::Unknown);
        assert_eq!(a.calls(), 1, "a second request could be a second paid SMS");
        assert_eq!(events, vec![(Failed, Some("sms"), Some("outcome-unknown"))]);
        let a = Scripted::new("sms", vec![err(Failure::Unknown)]);
        let b = Scripted::new("sms_fallback", vec![]);
        let (r, events) = run(&[a.clone(), b.clone()], &Waits::default());
        assert_eq!(r.unwrap().provider_id.as_deref(), Some("sms_fallback-ok"));
        assert_eq!((a.calls(), b.calls()), (1, 1));
        assert_eq!(events, vec![(Retried, Some("sms"), Some("outcome-unknown")), (Sent, Some("sms_fallback"), None)]);
    }

    #[test]
    fn attempts_per_sender_are_bounded_then_the_fallback_runs() {
        let a = Scripted::new("sms", (0..10).map(|_| err(Failure::Busy { retry_after: None })).collect());
        let b = Scripted::new("webhook", vec![err(Failure::Refused)]);
        let (r, events) = run(&[a.clone(), b.clone()], &Waits::default());
        assert_eq!(r.unwrap_err().failure, Failure::Refused);
        assert_eq!((a.calls(), b.calls()), (3, 1), "max_attempts on each sender; none after refused");
        assert_eq!(events.last(), Some(&(Failed, Some("webhook"), Some("refused"))));
        assert_eq!(events.iter().filter(|e| e.0 == Retried).count(), 3);
    }

    #[test]
    fn a_wait_past_the_deadline_moves_on() {
        let a = Scripted::new("sms", vec![err(Failure::Busy { retry_after: Some(Duration::from_secs(3600)) })]);
        let b = Scripted::new("webhook", vec![]);
        let waits = Waits::default();
        let (r, _) = run(&[a.clone(), b.clone()], &waits);
        assert!(r.is_ok());
        assert_eq!((a.calls(), b.calls()), (1, 1));
        assert!(waits.0.lock().unwrap().is_empty());
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let p = policy();
        for attempt in 1..30 {
            let w = p.backoff(attempt);
            let cap = (p.backoff_base * (1 << (attempt - 1).min(20))).min(p.backoff_max);
            assert!(w >= cap / 2 && w <= cap, "attempt {attempt}: {w:?} within [{:?}, {cap:?}]", cap / 2);
        }
    }
}
