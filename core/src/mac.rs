//! HMAC-SHA256 with the key prepared once (RFC 2104): the inner and outer hash states after
//! the padded key block are computed when a ring key is loaded, so each MAC on the hot path
//! costs only its message's blocks and one outer block, two compressions fewer than keying
//! HMAC afresh, with no allocation. The prepared states are as secret as the key: they are
//! wiped when dropped, as is each computation's buffer (which holds the code being hashed).
//!
//! Only the SHA-256 padding is done here; the compression function is the `sha2` crate's.
//! Tests hold it to the `hmac` crate on every message length across the block boundaries.

use sha2::compress256;
use sha2::digest::generic_array::GenericArray;
use zeroize::{Zeroize, ZeroizeOnDrop};

const BLOCK: usize = 64;
/// SHA-256's initial hash value (FIPS 180-4, 5.3.3).
const INITIAL: [u32; 8] =
    [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];

/// A key ready for HMAC-SHA256.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct PreparedMac {
    inner: [u32; 8],
    outer: [u32; 8],
}

impl std::fmt::Debug for PreparedMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PreparedMac(..)")
    }
}

impl PreparedMac {
    /// Prepares a 32-byte key (shorter than a block, so used as it is, zero-padded).
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        let pad = |byte: u8| {
            let mut block = Stream::start(INITIAL, 0);
            let mut padded = [byte; BLOCK];
            padded.iter_mut().zip(key).for_each(|(p, k)| *p ^= k);
            block.update(&padded);
            padded.zeroize();
            block.state
        };
        PreparedMac { inner: pad(0x36), outer: pad(0x5c) }
    }

    /// HMAC over several parts, each prefixed with its length (4 bytes, big-endian), so that
    /// no two lists of parts give the same input.
    pub(crate) fn parts(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut inner = Stream::start(self.inner, BLOCK as u64);
        for p in parts {
            inner.update(&(p.len() as u32).to_be_bytes());
            inner.update(p);
        }
        let digest = inner.finish();
        let mut outer = Stream::start(self.outer, BLOCK as u64);
        outer.update(&digest);
        outer.finish()
    }
}

/// SHA-256 from a given state, over bytes fed in pieces.
#[derive(Zeroize, ZeroizeOnDrop)]
struct Stream {
    state: [u32; 8],
    block: [u8; BLOCK],
    filled: usize,
    /// Bytes hashed so far, counting those before `state` (the key block).
    length: u64,
}

impl Stream {
    fn start(state: [u32; 8], length: u64) -> Self {
        Stream { state, block: [0; BLOCK], filled: 0, length }
    }

    fn compress(&mut self) {
        compress256(&mut self.state, std::slice::from_ref(GenericArray::from_slice(&self.block)));
        self.filled = 0;
    }

    fn update(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let n = (BLOCK - self.filled).min(data.len());
            self.block[self.filled..self.filled + n].copy_from_slice(&data[..n]);
            self.filled += n;
            self.length += n as u64;
            data = &data[n..];
            if self.filled == BLOCK {
                self.compress();
            }
        }
    }

    /// The padding of FIPS 180-4, 5.1.1: a 1 bit, zeros, and the length in bits.
    fn finish(mut self) -> [u8; 32] {
        let bits = self.length.wrapping_mul(8);
        self.block[self.filled] = 0x80;
        self.block[self.filled + 1..].fill(0);
        if self.filled + 1 > BLOCK - 8 {
            self.compress();
            self.block.fill(0);
        }
        self.block[BLOCK - 8..].copy_from_slice(&bits.to_be_bytes());
        self.compress();
        let mut out = [0u8; 32];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_be_bytes());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hmac::{Hmac, Mac};

    fn reference(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(key).unwrap();
        for p in parts {
            mac.update(&(p.len() as u32).to_be_bytes());
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }

    #[test]
    fn equals_the_hmac_crate_on_every_length_across_three_blocks() {
        let key: [u8; 32] = std::array::from_fn(|i| (i as u8).wrapping_mul(37).wrapping_add(5));
        let prepared = PreparedMac::new(&key);
        let message: Vec<u8> = (0..300u32).map(|i| (i * 7 + 3) as u8).collect();
        for len in 0..=message.len() {
            assert_eq!(prepared.parts(&[&message[..len]]), reference(&key, &[&message[..len]]), "length {len}");
            let (a, b) = message[..len].split_at(len / 3);
            assert_eq!(prepared.parts(&[a, b, b"x"]), reference(&key, &[a, b, b"x"]), "three parts, {len}");
        }
    }

    #[test]
    fn rfc_4231_test_case_2_shape() {
        // RFC 4231 test case 2 ("Jefe", "what do ya want for nothing?"), its key zero-padded
        // to 32 bytes: HMAC pads a short key with zeros, so the MAC is the RFC's. The parts
        // form adds a length prefix, so the message is given as one raw update here.
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        let prepared = PreparedMac::new(&key);
        let mut inner = Stream::start(prepared.inner, BLOCK as u64);
        inner.update(b"what do ya want for nothing?");
        let mut outer = Stream::start(prepared.outer, BLOCK as u64);
        outer.update(&inner.finish());
        let hex: String = outer.finish().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }
}
