//! Randomness, injected: the operating system's CSPRNG by default (S1), and uniform draws
//! from it without modulo bias.

use zeroize::Zeroizing;

use crate::error::Error;

/// A source of cryptographically secure random bytes.
pub trait Random: Send + Sync {
    /// Fills `buf` with random bytes, or fails (the engine then fails closed).
    fn fill(&self, buf: &mut [u8]) -> Result<(), Error>;
}

/// The operating system's CSPRNG (getrandom(2) on Linux, `wasi:random` on wasm32-wasip2).
/// On wasm32-unknown-unknown there is no operating system: it always fails
/// (`RandomUnavailable`), and a host there passes its own source to the builder.
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

#[cfg(not(all(target_family = "wasm", target_os = "unknown")))]
impl Random for OsRandom {
    fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
        use rand::{rngs::OsRng, TryRngCore};
        OsRng.try_fill_bytes(buf).map_err(|_| Error::RandomUnavailable)
    }
}

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
impl Random for OsRandom {
    fn fill(&self, _buf: &mut [u8]) -> Result<(), Error> {
        Err(Error::RandomUnavailable)
    }
}

/// The most bytes drawn at once: a challenge id and the draws of a ten-symbol code.
const MAX_DRAWN: usize = 16 + 8 * 10;

/// Random bytes drawn from the source in one call and handed out in pieces, so that an issue
/// makes one CSPRNG call (its challenge id and every draw of its code) rather than one per
/// piece. More are drawn only when rejection sampling throws a value away. Wiped when dropped
/// (the bytes decide the code).
pub(crate) struct Draws<'a> {
    random: &'a dyn Random,
    bytes: Zeroizing<[u8; MAX_DRAWN]>,
    len: usize,
    used: usize,
}

impl<'a> Draws<'a> {
    /// Draws `len` bytes (at most `MAX_DRAWN`) in one call.
    pub(crate) fn new(random: &'a dyn Random, len: usize) -> Result<Self, Error> {
        let mut draws = Draws { random, bytes: Zeroizing::new([0; MAX_DRAWN]), len: 0, used: 0 };
        draws.refill(len)?;
        Ok(draws)
    }

    fn refill(&mut self, len: usize) -> Result<(), Error> {
        self.len = len.min(MAX_DRAWN);
        self.used = 0;
        self.random.fill(&mut self.bytes[..self.len])
    }

    /// The next `N` bytes, drawing more if those drawn are used up.
    pub(crate) fn take<const N: usize>(&mut self) -> Result<[u8; N], Error> {
        if self.used + N > self.len {
            self.refill(N)?;
        }
        let out = self.bytes[self.used..self.used + N].try_into().expect("N bytes");
        self.used += N;
        Ok(out)
    }
}

/// A uniform draw from `0..n` by rejection sampling: values in the incomplete last block of
/// 2^64 are thrown away, so every result is exactly equally likely (S1, no modulo bias).
pub(crate) fn uniform_below(draws: &mut Draws<'_>, n: u64) -> Result<u64, Error> {
    debug_assert!(n > 0);
    let zone = u64::MAX - (u64::MAX % n); // the largest multiple of n that fits, exclusive bound
    loop {
        let v = u64::from_le_bytes(draws.take::<8>()?);
        if v < zone {
            return Ok(v % n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Replays given 64-bit values.
    struct Script(Mutex<Vec<u64>>);
    impl Random for Script {
        fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
            let v = self.0.lock().unwrap().remove(0);
            buf.copy_from_slice(&v.to_le_bytes()[..buf.len()]);
            Ok(())
        }
    }

    #[test]
    fn s1_rejection_sampling_discards_the_biased_tail() {
        // For n = 10 the zone ends at u64::MAX - 5; values at or past it are redrawn.
        let s = Script(Mutex::new(vec![u64::MAX, u64::MAX - 5, 12]));
        assert_eq!(uniform_below(&mut Draws::new(&s, 8).unwrap(), 10).unwrap(), 2);
        assert!(s.0.lock().unwrap().is_empty(), "both tail values were rejected");
        let s = Script(Mutex::new(vec![u64::MAX - 6]));
        assert_eq!(uniform_below(&mut Draws::new(&s, 8).unwrap(), 10).unwrap(), (u64::MAX - 6) % 10);
    }

    #[test]
    fn one_call_serves_an_issue() {
        struct Counting(Mutex<usize>);
        impl Random for Counting {
            fn fill(&self, buf: &mut [u8]) -> Result<(), Error> {
                *self.0.lock().unwrap() += 1;
                buf.fill(1);
                Ok(())
            }
        }
        let random = Counting(Mutex::new(0));
        let mut draws = Draws::new(&random, 16 + 8 * 10).unwrap();
        draws.take::<16>().unwrap();
        for _ in 0..10 {
            uniform_below(&mut draws, 31).unwrap();
        }
        assert_eq!(*random.0.lock().unwrap(), 1, "the id and ten symbols from one draw");
        uniform_below(&mut draws, 31).unwrap();
        assert_eq!(*random.0.lock().unwrap(), 2, "more only when those are used up");
    }

    #[test]
    fn os_random_fills() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        OsRandom.fill(&mut a).unwrap();
        OsRandom.fill(&mut b).unwrap();
        assert_ne!(a, b);
    }
}
