//! Randomness, injected: the operating system's CSPRNG by default (S1), and uniform draws
//! from it without modulo bias.

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

/// A uniform draw from `0..n` by rejection sampling: values in the incomplete last block of
/// 2^64 are thrown away, so every result is exactly equally likely (S1, no modulo bias).
pub(crate) fn uniform_below(random: &dyn Random, n: u64) -> Result<u64, Error> {
    debug_assert!(n > 0);
    let zone = u64::MAX - (u64::MAX % n); // the largest multiple of n that fits, exclusive bound
    loop {
        let mut b = [0u8; 8];
        random.fill(&mut b)?;
        let v = u64::from_le_bytes(b);
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
        assert_eq!(uniform_below(&s, 10).unwrap(), 2);
        assert!(s.0.lock().unwrap().is_empty(), "both tail values were rejected");
        let s = Script(Mutex::new(vec![u64::MAX - 6]));
        assert_eq!(uniform_below(&s, 10).unwrap(), (u64::MAX - 6) % 10);
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
