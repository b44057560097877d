//! The records kept in the store, in a small versioned binary format.
//!
//! A subject record holds everything that must change atomically for one address or number:
//! its live challenge per purpose (codes as keyed hashes only), the consecutive failure count
//! and lock, and the send log. A bucket record is a rate limiter shared by many subjects
//! (one client address, one country calling code). The first byte of each is a format
//! version, so a later release can still read what this one wrote.

use crate::error::Error;
use crate::identifier::Purpose;

const SUBJECT_V1: u8 = 1;
const BUCKET_V1: u8 = 0x81;

/// How long an expired challenge is kept, so that verify can say "expired" instead of "not found".
pub(crate) const EXPIRED_GRACE_SECONDS: u64 = 600;

/// One live (or recently expired) challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ChallengeState {
    pub purpose: Purpose,
    pub id: [u8; 16],
    pub key_id: u8,
    pub mac: [u8; 32],
    pub expires_at: u64,
    pub resend_after: u64,
    pub tries: u8,
}

/// Everything about one subject.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct SubjectRecord {
    /// Consecutive failures across every challenge; reset only by a success or an unlock.
    pub failures: u32,
    /// A temporary lock's end, 0 for none.
    pub locked_until: u64,
    /// Send times within the subject bucket's window.
    pub sends: Vec<u64>,
    /// At most one challenge per purpose.
    pub challenges: Vec<ChallengeState>,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Error> {
        if self.0.len() < n {
            return Err(Error::CorruptRecord);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, Error> {
        Ok(self.take(1)?[0])
    }
    fn u32(&mut self) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into().expect("4 bytes")))
    }
    fn u64(&mut self) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into().expect("8 bytes")))
    }
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        Ok(self.take(N)?.try_into().expect("N bytes"))
    }
}

impl SubjectRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + 8 * self.sends.len() + 67 * self.challenges.len());
        out.push(SUBJECT_V1);
        out.extend_from_slice(&self.failures.to_le_bytes());
        out.extend_from_slice(&self.locked_until.to_le_bytes());
        out.push(self.sends.len() as u8);
        for s in &self.sends {
            out.extend_from_slice(&s.to_le_bytes());
        }
        out.push(self.challenges.len() as u8);
        for c in &self.challenges {
            out.push(c.purpose.byte());
            out.extend_from_slice(&c.id);
            out.push(c.key_id);
            out.extend_from_slice(&c.mac);
            out.extend_from_slice(&c.expires_at.to_le_bytes());
            out.extend_from_slice(&c.resend_after.to_le_bytes());
            out.push(c.tries);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader(bytes);
        if r.u8()? != SUBJECT_V1 {
            return Err(Error::CorruptRecord);
        }
        let failures = r.u32()?;
        let locked_until = r.u64()?;
        let n = r.u8()? as usize;
        let sends = (0..n).map(|_| r.u64()).collect::<Result<_, _>>()?;
        let n = r.u8()? as usize;
        let mut challenges = Vec::with_capacity(n);
        for _ in 0..n {
            challenges.push(ChallengeState {
                purpose: Purpose::from_byte(r.u8()?).ok_or(Error::CorruptRecord)?,
                id: r.array()?,
                key_id: r.u8()?,
                mac: r.array()?,
                expires_at: r.u64()?,
                resend_after: r.u64()?,
                tries: r.u8()?,
            });
        }
        if !r.0.is_empty() {
            return Err(Error::CorruptRecord);
        }
        Ok(SubjectRecord { failures, locked_until, sends, challenges })
    }

    /// Drops what no longer matters at `now`: sends outside the window, challenges long expired.
    pub fn prune(&mut self, now: u64, send_window: u64) {
        self.sends.retain(|t| t.saturating_add(send_window) > now);
        self.challenges.retain(|c| c.expires_at.saturating_add(EXPIRED_GRACE_SECONDS) > now);
        if self.locked_until <= now {
            self.locked_until = 0;
        }
    }

    /// How long the store should keep this record: for ever while it counts failures (they are
    /// reset only by a success or an unlock, S11), else until nothing in it matters any more.
    pub fn ttl(&self, now: u64, send_window: u64) -> Option<u64> {
        if self.failures > 0 {
            return None;
        }
        let until = self
            .sends
            .iter()
            .map(|t| t.saturating_add(send_window))
            .chain(self.challenges.iter().map(|c| c.expires_at.saturating_add(EXPIRED_GRACE_SECONDS)))
            .chain(std::iter::once(self.locked_until))
            .max()
            .unwrap_or(now);
        Some(until.saturating_sub(now).max(1))
    }

    pub fn challenge(&self, purpose: Purpose) -> Option<&ChallengeState> {
        self.challenges.iter().find(|c| c.purpose == purpose)
    }

    pub fn challenge_mut(&mut self, purpose: Purpose) -> Option<&mut ChallengeState> {
        self.challenges.iter_mut().find(|c| c.purpose == purpose)
    }

    pub fn remove_challenge(&mut self, purpose: Purpose) {
        self.challenges.retain(|c| c.purpose != purpose);
    }
}

/// A shared rate limiter (GCRA): one number, the theoretical arrival time in milliseconds.
/// It allows `max` sends at once and then one every `window / max`, so that its state stays
/// eight bytes however large `max` is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct BucketRecord {
    pub tat_ms: u64,
}

impl BucketRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![BUCKET_V1];
        out.extend_from_slice(&self.tat_ms.to_le_bytes());
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let mut r = Reader(bytes);
        if r.u8()? != BUCKET_V1 {
            return Err(Error::CorruptRecord);
        }
        let tat_ms = r.u64()?;
        if !r.0.is_empty() {
            return Err(Error::CorruptRecord);
        }
        Ok(BucketRecord { tat_ms })
    }

    /// Takes one send at `now`: the new state and its TTL, or the seconds to wait.
    pub fn take(self, now: u64, max: u32, window_seconds: u64) -> Result<(BucketRecord, u64), u64> {
        let now_ms = now.saturating_mul(1000);
        let window_ms = window_seconds.saturating_mul(1000);
        let interval = (window_ms / u64::from(max)).max(1);
        let tolerance = window_ms.saturating_sub(interval);
        let tat = self.tat_ms.max(now_ms);
        if tat - now_ms > tolerance {
            let wait_ms = tat - now_ms - tolerance;
            return Err(wait_ms.div_ceil(1000).max(1));
        }
        let new_tat = tat + interval;
        Ok((BucketRecord { tat_ms: new_tat }, (new_tat - now_ms).div_ceil(1000).max(1)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SubjectRecord {
        SubjectRecord {
            failures: 7,
            locked_until: 99,
            sends: vec![10, 20],
            challenges: vec![ChallengeState {
                purpose: Purpose::Recovery,
                id: [1; 16],
                key_id: 3,
                mac: [2; 32],
                expires_at: 1000,
                resend_after: 40,
                tries: 2,
            }],
        }
    }

    #[test]
    fn round_trip_and_size() {
        let r = sample();
        let bytes = r.encode();
        assert_eq!(SubjectRecord::decode(&bytes).unwrap(), r);
        // A subject with one challenge and one send: 15 + 8 + 67 bytes.
        let mut one = r.clone();
        one.sends.truncate(1);
        assert_eq!(one.encode().len(), 90);
    }

    #[test]
    fn corrupt_records_refused_not_panicking() {
        let bytes = sample().encode();
        for n in 0..bytes.len() {
            assert_eq!(SubjectRecord::decode(&bytes[..n]), Err(Error::CorruptRecord), "truncated at {n}");
        }
        let mut extra = bytes.clone();
        extra.push(0);
        assert_eq!(SubjectRecord::decode(&extra), Err(Error::CorruptRecord));
        let mut wrong_version = bytes;
        wrong_version[0] = 9;
        assert_eq!(SubjectRecord::decode(&wrong_version), Err(Error::CorruptRecord));
        assert_eq!(BucketRecord::decode(&[1, 2]), Err(Error::CorruptRecord));
    }

    #[test]
    fn ttl_is_unbounded_while_failures_count() {
        let mut r = sample();
        assert_eq!(r.ttl(0, 600), None);
        r.failures = 0;
        assert_eq!(r.ttl(0, 600), Some(1000 + EXPIRED_GRACE_SECONDS));
        r.prune(5000, 600);
        assert!(r.challenges.is_empty() && r.sends.is_empty() && r.locked_until == 0);
        assert_eq!(r.ttl(5000, 600), Some(1));
    }

    #[test]
    fn gcra_bucket_allows_a_burst_then_a_steady_rate() {
        let mut b = BucketRecord::default();
        for _ in 0..3 {
            b = b.take(1000, 3, 60).unwrap().0;
        }
        assert_eq!(b.take(1000, 3, 60), Err(20), "three per minute: the next one in 20 s");
        assert!(b.take(1020, 3, 60).is_ok());
        assert_eq!(BucketRecord::decode(&b.encode()).unwrap(), b);
    }
}
