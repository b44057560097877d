//! The decisions of issue, resend, verify, cancel and unlock: pure functions of a subject's
//! record, the policy and the time, which say what to write and what to answer.
//!
//! They read no clock, no store and no key: the engine reads the record, prunes it, asks
//! one of these, and writes what it says under compare-and-swap (retrying with a fresh
//! record on a conflict). So every rule of S5 to S12 is here, and is tested here at fixed
//! times, the way totp-rs tests its `check(token, time)`.

use crate::error::Error;
use crate::identifier::Purpose;
use crate::policy::{Policy, SendBucket};
use crate::record::{ChallengeState, SubjectRecord};

/// What to do with a subject's record: the record to write (none: leave it as it is), and
/// the answer once it is written.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Decision<T> {
    pub write: Option<SubjectRecord>,
    pub answer: Result<T, Error>,
}

impl<T> Decision<T> {
    /// Refuses, writing nothing.
    pub fn refuse(e: Error) -> Self {
        Decision { write: None, answer: Err(e) }
    }

    /// Writes `record` and answers `value`.
    fn write(record: SubjectRecord, value: T) -> Self {
        Decision { write: Some(record), answer: Ok(value) }
    }
}

/// What a typed code came to against the challenge it was typed for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Guess {
    /// Its MAC is the challenge's.
    Right,
    /// It is another code (or no code at all).
    Wrong,
    /// The key that hashed the challenge's code has left the ring: no code can match.
    KeyGone,
}

/// Refuses when the subject is locked: for good at `hard_lock_failures` consecutive
/// failures (S11), until its failure budget has room again, or until a temporary lock ends.
pub(crate) fn check_lock(policy: &Policy, rec: &SubjectRecord, now: u64) -> Result<(), Error> {
    if rec.failures >= policy.hard_lock_failures {
        return Err(Error::SubjectLocked { retry_after: None });
    }
    let budget = policy.failure_budget;
    let mut wait = rec.locked_until.saturating_sub(now);
    if rec.budget.count(now, budget.window_seconds) >= budget.max {
        wait = wait.max(rec.budget.wait(now, budget.window_seconds, budget.max));
    }
    match wait {
        0 => Ok(()),
        w => Err(Error::SubjectLocked { retry_after: Some(w) }),
    }
}

/// The cooldown of the purpose's live challenge and the subject's send bucket.
pub(crate) fn check_send(policy: &Policy, rec: &SubjectRecord, purpose: Purpose, now: u64) -> Result<(), Error> {
    if let Some(c) = rec.challenge(purpose) {
        if c.resend_after > now {
            return Err(Error::ResendTooSoon { retry_after: c.resend_after - now });
        }
    }
    check_subject_bucket(rec, policy.subject_sends, now)
}

/// The subject bucket is a log of send times: exactly `max` in any window.
fn check_subject_bucket(rec: &SubjectRecord, bucket: SendBucket, now: u64) -> Result<(), Error> {
    if rec.sends.len() >= bucket.max as usize {
        let oldest = rec.sends.iter().min().copied().unwrap_or(now);
        let retry_after = oldest.saturating_add(bucket.window_seconds).saturating_sub(now).max(1);
        return Err(Error::SendLimit { scope: crate::error::LimitScope::Subject, retry_after });
    }
    Ok(())
}

/// Whether a new code may be sent for the live challenge `challenge_id` of `purpose`.
pub(crate) fn check_resend(
    policy: &Policy,
    rec: &SubjectRecord,
    challenge_id: &[u8; 16],
    purpose: Purpose,
    now: u64,
) -> Result<(), Error> {
    let c = rec.challenge(purpose).filter(|c| c.id == *challenge_id).ok_or(Error::NotFound)?;
    check_lock(policy, rec, now)?;
    if now >= c.expires_at {
        return Err(Error::Expired);
    }
    if u32::from(c.tries) >= policy.max_attempts {
        return Err(Error::TooManyAttempts);
    }
    check_send(policy, rec, purpose, now)
}

/// Issue: the new challenge replaces any live one of its purpose (S7) and counts as a send;
/// the failure count is kept (S10). Refused when locked, in cooldown or over the subject's
/// send bucket.
pub(crate) fn issue(policy: &Policy, mut rec: SubjectRecord, challenge: &ChallengeState, now: u64) -> Decision<()> {
    if let Err(e) = check_lock(policy, &rec, now).and_then(|_| check_send(policy, &rec, challenge.purpose, now)) {
        return Decision::refuse(e);
    }
    rec.remove_challenge(challenge.purpose);
    rec.challenges.push(challenge.clone());
    rec.sends.push(now);
    Decision::write(rec, ())
}

/// A new code for a live challenge: its MAC (under key `key_id`) and expiry replace the old
/// ones (S7), its tries and the subject's failures stay (S10). Answers the challenge as
/// written.
pub(crate) fn resend(
    policy: &Policy,
    mut rec: SubjectRecord,
    challenge_id: &[u8; 16],
    purpose: Purpose,
    new_code: (u8, [u8; 32]),
    lifetime: u64,
    now: u64,
) -> Decision<ChallengeState> {
    if let Err(e) = check_resend(policy, &rec, challenge_id, purpose, now) {
        return Decision::refuse(e);
    }
    let Some(c) = rec.challenge_mut(purpose) else {
        return Decision::refuse(Error::NotFound);
    };
    (c.key_id, c.mac) = new_code;
    c.expires_at = now.saturating_add(lifetime);
    c.resend_after = now.saturating_add(policy.resend_cooldown_seconds);
    let updated = c.clone();
    rec.sends.push(now);
    Decision::write(rec, updated)
}

/// Verify: a guess at the live challenge `challenge_id` of `purpose`, `guess` telling what
/// the typed code came to against it. A right code uses the challenge up (S5) and clears the
/// consecutive failures and the temporary lock (S12), not the budget. A wrong one counts
/// against the challenge (S8), the subject (S9) and its budget, and may start a lock; it
/// answers `WrongCode`, or `WrongCodeLocked` when it started one. A guess refused unseen
/// (not found, locked, expired, used up) writes nothing.
pub(crate) fn verify(
    policy: &Policy,
    mut rec: SubjectRecord,
    challenge_id: &[u8; 16],
    purpose: Purpose,
    now: u64,
    guess: impl FnOnce(&ChallengeState) -> Guess,
) -> Decision<()> {
    let Some(c) = rec.challenge(purpose).filter(|c| c.id == *challenge_id) else {
        return Decision::refuse(Error::NotFound);
    };
    if let Err(e) = check_lock(policy, &rec, now) {
        return Decision::refuse(e);
    }
    if now >= c.expires_at {
        return Decision::refuse(Error::Expired);
    }
    if u32::from(c.tries) >= policy.max_attempts {
        return Decision::refuse(Error::TooManyAttempts);
    }
    let tries = c.tries.saturating_add(1);
    match guess(c) {
        Guess::KeyGone => return Decision::refuse(Error::NotFound),
        Guess::Right => {
            rec.remove_challenge(purpose);
            rec.failures = 0;
            rec.locked_until = 0;
            return Decision::write(rec, ());
        }
        Guess::Wrong => {}
    }
    if let Some(challenge) = rec.challenge_mut(purpose) {
        challenge.tries = tries;
    }
    rec.add_failure(now, policy);
    if let Some(wait) = policy.lock_seconds(rec.failures) {
        rec.locked_until = now.saturating_add(wait);
    }
    let attempts_left = policy.max_attempts.saturating_sub(u32::from(tries));
    let answer = match check_lock(policy, &rec, now) {
        Ok(()) => Err(Error::WrongCode { attempts_left }),
        Err(Error::SubjectLocked { retry_after }) => Err(Error::WrongCodeLocked { attempts_left, retry_after }),
        Err(other) => Err(other),
    };
    Decision { write: Some(rec), answer }
}

/// Cancel: the live challenge `challenge_id` of `purpose` is removed; its code stops working.
pub(crate) fn cancel(mut rec: SubjectRecord, challenge_id: &[u8; 16], purpose: Purpose) -> Decision<()> {
    if rec.challenge(purpose).is_none_or(|c| c.id != *challenge_id) {
        return Decision::refuse(Error::NotFound);
    }
    rec.remove_challenge(purpose);
    Decision::write(rec, ())
}

/// An operator's unlock: every failure, the budget and any lock are forgotten.
pub(crate) fn unlock(mut rec: SubjectRecord) -> Decision<()> {
    rec.clear_failures();
    Decision::write(rec, ())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::LimitScope;

    /// 2027-01-15 08:00:00 UTC: every test runs at a fixed time.
    const T: u64 = 1_800_000_000;
    const ID: [u8; 16] = [7; 16];
    const OTHER_ID: [u8; 16] = [8; 16];

    fn policy() -> Policy {
        Policy::default()
    }

    fn challenge(expires_at: u64, tries: u8) -> ChallengeState {
        ChallengeState {
            purpose: Purpose::SignIn,
            id: ID,
            key_id: 1,
            mac: [3; 32],
            expires_at,
            resend_after: expires_at - 570,
            tries,
        }
    }

    /// A record with one sign-in challenge issued at `T` (lives 600 s, cooldown 30 s).
    fn issued() -> SubjectRecord {
        let mut rec = SubjectRecord::default();
        rec.challenges.push(challenge(T + 600, 0));
        rec.sends.push(T);
        rec
    }

    fn failures(n: u32, at: u64) -> SubjectRecord {
        let mut rec = issued();
        for _ in 0..n {
            rec.add_failure(at, &policy());
        }
        rec
    }

    #[test]
    fn verify_at_fixed_times() {
        let right = |_: &ChallengeState| Guess::Right;
        let wrong = |_: &ChallengeState| Guess::Wrong;
        let p = policy();
        /// (case, record, challenge id, time, guess, answer)
        type Case = (&'static str, SubjectRecord, [u8; 16], u64, Guess, Result<(), Error>);
        let cases: Vec<Case> = vec![
            ("right, at once", issued(), ID, T, Guess::Right, Ok(())),
            ("right, one second before expiry (S4)", issued(), ID, T + 599, Guess::Right, Ok(())),
            ("right, at expiry (S4)", issued(), ID, T + 600, Guess::Right, Err(Error::Expired)),
            ("another challenge's id (S6)", issued(), OTHER_ID, T, Guess::Right, Err(Error::NotFound)),
            ("no challenge (used, S5)", SubjectRecord::default(), ID, T, Guess::Right, Err(Error::NotFound)),
            ("wrong, first try (S8)", issued(), ID, T, Guess::Wrong, Err(Error::WrongCode { attempts_left: 4 })),
            ("key left the ring", issued(), ID, T, Guess::KeyGone, Err(Error::NotFound)),
            (
                "right after the tries are used up (S8)",
                SubjectRecord { challenges: [challenge(T + 600, 5)].into_iter().collect(), ..issued() },
                ID,
                T,
                Guess::Right,
                Err(Error::TooManyAttempts),
            ),
            (
                "right while hard-locked (S11)",
                failures(100, T),
                ID,
                T,
                Guess::Right,
                Err(Error::SubjectLocked { retry_after: None }),
            ),
            (
                "right while locked for a minute",
                SubjectRecord { locked_until: T + 60, ..issued() },
                ID,
                T,
                Guess::Right,
                Err(Error::SubjectLocked { retry_after: Some(60) }),
            ),
            (
                "the tenth failure starts a lock (S9)",
                failures(9, T - 10),
                ID,
                T,
                Guess::Wrong,
                Err(Error::WrongCodeLocked { attempts_left: 4, retry_after: Some(60) }),
            ),
        ];
        for (case, rec, id, now, guess, answer) in cases {
            let decision = verify(&p, rec.clone(), &id, Purpose::SignIn, now, |_| guess);
            assert_eq!(decision.answer, answer, "{case}");
            let counted = matches!(answer, Err(Error::WrongCode { .. } | Error::WrongCodeLocked { .. }));
            assert_eq!(decision.write.is_some(), answer.is_ok() || counted, "{case}: writes only what counted");
        }

        // What a right code writes: the challenge gone, the consecutive count and the lock
        // cleared (S5, S12), the budget kept.
        let before = SubjectRecord { failures: 3, locked_until: 0, ..failures(3, T - 100) };
        let written = verify(&p, before.clone(), &ID, Purpose::SignIn, T, right).write.unwrap();
        assert!(written.challenge(Purpose::SignIn).is_none());
        assert_eq!((written.failures, written.locked_until), (0, 0));
        assert_eq!(written.budget, before.budget, "a success does not clear the budget");

        // What a wrong code writes: one try on the challenge, one failure on the subject.
        let written = verify(&p, issued(), &ID, Purpose::SignIn, T, wrong).write.unwrap();
        assert_eq!(written.challenge(Purpose::SignIn).unwrap().tries, 1);
        assert_eq!((written.failures, written.last_failure), (1, T));
        assert_eq!(written.budget.count(T, p.failure_budget.window_seconds), 1);
    }

    #[test]
    fn issue_at_fixed_times() {
        let p = policy();
        let new = ChallengeState { id: OTHER_ID, ..challenge(T + 700, 0) };
        let cases: Vec<(&str, SubjectRecord, u64, Result<(), Error>)> = vec![
            ("a new subject", SubjectRecord::default(), T, Ok(())),
            ("inside the cooldown", issued(), T + 29, Err(Error::ResendTooSoon { retry_after: 1 })),
            ("after the cooldown", issued(), T + 30, Ok(())),
            (
                "the subject's bucket is full",
                SubjectRecord { sends: [T; 5].into_iter().collect(), ..SubjectRecord::default() },
                T + 100,
                Err(Error::SendLimit { scope: LimitScope::Subject, retry_after: 500 }),
            ),
            ("hard-locked (S11)", failures(100, T), T + 100, Err(Error::SubjectLocked { retry_after: None })),
        ];
        for (case, rec, now, answer) in cases {
            let decision = issue(&p, rec, &new, now);
            assert_eq!(decision.answer, answer, "{case}");
            assert_eq!(decision.write.is_some(), answer.is_ok(), "{case}");
        }
        // The new challenge replaces the old (S7); failures are kept (S10).
        let written = issue(&p, failures(2, T - 100), &new, T + 30).write.unwrap();
        assert_eq!(written.challenges.len(), 1);
        assert_eq!(written.challenge(Purpose::SignIn).unwrap().id, OTHER_ID);
        assert_eq!((written.failures, written.sends.len()), (2, 2));
    }

    #[test]
    fn resend_at_fixed_times() {
        let p = policy();
        let code = (2, [9u8; 32]);
        let resent = |rec: SubjectRecord, id: [u8; 16], now: u64| resend(&p, rec, &id, Purpose::SignIn, code, 600, now);
        assert_eq!(resent(issued(), ID, T + 29).answer, Err(Error::ResendTooSoon { retry_after: 1 }));
        assert_eq!(resent(issued(), OTHER_ID, T + 30).answer, Err(Error::NotFound));
        assert_eq!(resent(issued(), ID, T + 600).answer, Err(Error::Expired));
        let used_up = SubjectRecord { challenges: [challenge(T + 600, 5)].into_iter().collect(), ..issued() };
        assert_eq!(resent(used_up, ID, T + 30).answer, Err(Error::TooManyAttempts));
        // A new code and expiry; the tries and the failures stay (S7, S10).
        let mut rec = failures(2, T);
        rec.challenge_mut(Purpose::SignIn).unwrap().tries = 2;
        let decision = resent(rec, ID, T + 30);
        let c = decision.answer.unwrap();
        assert_eq!((c.key_id, c.mac, c.expires_at, c.resend_after, c.tries), (2, [9; 32], T + 630, T + 60, 2));
        let written = decision.write.unwrap();
        assert_eq!((written.failures, written.sends.len()), (2, 2));
    }

    #[test]
    fn cancel_and_unlock_at_fixed_times() {
        assert_eq!(cancel(issued(), &OTHER_ID, Purpose::SignIn), Decision::refuse(Error::NotFound));
        assert_eq!(cancel(issued(), &ID, Purpose::SignUp), Decision::refuse(Error::NotFound));
        let written = cancel(issued(), &ID, Purpose::SignIn).write.unwrap();
        assert!(written.challenges.is_empty());
        let written = unlock(failures(100, T)).write.unwrap();
        assert_eq!(check_lock(&policy(), &written, T), Ok(()));
        assert_eq!(written.challenges, issued().challenges, "the challenges keep their tries");
    }
}
