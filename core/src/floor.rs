//! The floors of issue and verify: the work neither can avoid, done with the engine's own
//! primitives and prepared keys, so that the benchmarks can state each operation as a ratio
//! of its floor measured in the same run (feature `bench`; not an API).
//!
//! - verify: the subject's index MAC, the code's MAC, and opening the token's sealed part;
//! - issue: one CSPRNG call (the challenge id and the code's draw), the same two MACs, and
//!   sealing the token's contents.
//!
//! Everything else an operation does (reading the token text, the store, the record, the
//! limits, the message) is the engine's overhead over its floor.

use crate::keys::KeyRing;
use crate::random::{OsRandom, Random};

const SUBJECT: &[u8] = b"user123456@example.com";
const TENANT: &[u8] = b"default";
/// A token's sealed part for that subject: channel, purpose, account length, address.
const CONTENTS: &[u8] = b"\x01\x02\x00user123456@example.com";

/// Keys prepared as the engine prepares them, and a token's sealed part to open.
pub struct Floor {
    ring: KeyRing,
    aad: Vec<u8>,
    sealed: Vec<u8>,
    tag: [u8; 16],
}

impl Default for Floor {
    fn default() -> Self {
        let key: Vec<u8> = (0u8..32).map(|i| i.wrapping_mul(151).wrapping_add(9)).collect();
        let ring = KeyRing::new(vec![(1, key)], 1, 1).expect("a strong key");
        let aad = [&[3u8, 1][..], &[9; 16], TENANT].concat();
        let mut sealed = CONTENTS.to_vec();
        let tag = ring.active().token.seal(&aad, &mut sealed);
        Floor { ring, aad, sealed, tag }
    }
}

impl Floor {
    /// One HMAC-SHA256 with a prepared key, of a code's size.
    pub fn mac(&self) -> [u8; 32] {
        self.ring.active().code.parts(&[b"code", &[9; 16], &[2], b"123456"])
    }

    /// What verify cannot avoid.
    pub fn verify(&self) -> ([u8; 32], [u8; 32], [u8; 40]) {
        let keys = self.ring.active();
        let mut contents = [0u8; 40];
        let opened = &mut contents[..self.sealed.len()];
        opened.copy_from_slice(&self.sealed);
        keys.token.open(&self.aad, opened, &self.tag).expect("the floor's own token");
        let subject = self.ring.index().index.parts(&[b"subject", TENANT, &[1], SUBJECT]);
        let code = keys.code.parts(&[b"code", &[9; 16], &[2], b"123456"]);
        (subject, code, contents)
    }

    /// What issue cannot avoid.
    pub fn issue(&self) -> ([u8; 32], [u8; 32], [u8; 16]) {
        let keys = self.ring.active();
        let mut draw = [0u8; 24];
        OsRandom.fill(&mut draw).expect("the OS random source");
        let subject = self.ring.index().index.parts(&[b"subject", TENANT, &[1], SUBJECT]);
        let code = keys.code.parts(&[b"code", &draw[..16], &[2], &draw[16..22]]);
        let mut contents = [0u8; CONTENTS.len()];
        contents.copy_from_slice(CONTENTS);
        let tag = keys.token.seal(&self.aad, &mut contents);
        (subject, code, tag)
    }
}
