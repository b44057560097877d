//! Times each candidate for the challenge token's cipher on a token-sized message, and one
//! HMAC-SHA256 beside them, in the process it runs in: natively, or built for wasm32-wasip2
//! and run in wasmtime (which has no AES instructions to offer the guest). Prints one JSON
//! object per line: `{"target", "candidate", "op", "ns"}`, the median of several batches.
//!
//! `scripts/bench` runs it both ways; by hand:
//! `cargo run --release -p passcode-bench-ciphers` and, for wasm,
//! `cargo build --release -p passcode-bench-ciphers --target wasm32-wasip2` then
//! `cargo bench -p passcode-envoy-filter --bench wasm-ciphers`.

use std::hint::black_box;
use std::time::Instant;

use aes_gcm::Aes256Gcm;
use aes_gcm_siv::Aes256GcmSiv;
use aes_siv::Aes256SivAead;
use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, XChaCha20Poly1305};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// A token's sealed part: channel, purpose, account length and a 37-byte address: 40 bytes.
const PLAIN: &[u8; 40] = b"\x01\x02\x00jane.doe-12345678@mail.example.org.uk";
/// Version, key id, challenge id and a tenant: the associated data.
const AAD: &[u8] = b"\x03\x01abcdefghijklmnopdefault";
/// Long enough for AES-SIV, which takes two AES-256 keys; the others take its first 32 bytes.
const KEY: [u8; 64] = [7; 64];

/// Runs `op` in batches until about `budget_ms` has passed and gives the median ns per call.
fn time(budget_ms: u128, mut op: impl FnMut()) -> f64 {
    let calibrate = Instant::now();
    let mut per_batch = 0u32;
    while calibrate.elapsed().as_micros() < 2_000 {
        op();
        per_batch += 1;
    }
    let per_batch = per_batch.max(1);
    let mut samples = Vec::new();
    let start = Instant::now();
    while start.elapsed().as_millis() < budget_ms || samples.len() < 5 {
        let t = Instant::now();
        for _ in 0..per_batch {
            op();
        }
        samples.push(t.elapsed().as_nanos() as f64 / f64::from(per_batch));
    }
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

/// Times sealing and opening a token-sized message with `seal` and `open`, which take a
/// buffer (the plaintext, or `sealed`) and work in place.
fn seal_and_open(
    name: &str,
    budget: u128,
    sealed: [u8; 40],
    mut seal: impl FnMut(&mut [u8; 40]),
    mut open: impl FnMut(&mut [u8; 40]),
    out: &mut Vec<(String, &str, f64)>,
) {
    out.push((
        name.into(),
        "seal",
        time(budget, || {
            let mut b = *PLAIN;
            seal(&mut b);
            black_box(b);
        }),
    ));
    out.push((
        name.into(),
        "open",
        time(budget, || {
            let mut b = sealed;
            open(&mut b);
            black_box(b);
        }),
    ));
}

/// Seal and open with a prepared cipher (key schedule done once), and open with the key
/// schedule done per call, for one AEAD with an `N`-byte nonce.
fn aead<A: AeadInPlace + KeyInit, const N: usize>(name: &str, budget: u128, out: &mut Vec<(String, &str, f64)>) {
    let cipher = A::new_from_slice(&KEY[..A::key_size()]).expect("a key of its size");
    let nonce_bytes = [9u8; N];
    let nonce = aes_gcm::aead::Nonce::<A>::from_slice(&nonce_bytes);
    let mut sealed = *PLAIN;
    let tag = cipher.encrypt_in_place_detached(nonce, AAD, &mut sealed).expect("seals");
    seal_and_open(
        name,
        budget,
        sealed,
        |b| {
            black_box(cipher.encrypt_in_place_detached(nonce, AAD, b).expect("seals"));
        },
        |b| cipher.decrypt_in_place_detached(nonce, AAD, b, &tag).expect("opens"),
        out,
    );
    out.push((
        name.into(),
        "key setup + open",
        time(budget, || {
            let cipher = A::new_from_slice(black_box(&KEY[..A::key_size()])).expect("a key of its size");
            let mut b = sealed;
            cipher.decrypt_in_place_detached(nonce, AAD, &mut b, &tag).expect("opens");
            black_box(b);
        }),
    ));
}

/// SIV (RFC 5297's construction) from HMAC-SHA256 and ChaCha20: the synthetic IV is the
/// MAC of the associated data and the plaintext, truncated to 16 bytes; it is the tag, and
/// the nonce of the ChaCha20 keystream that encrypts. Two keys, prepared once.
struct HmacChaChaSiv {
    mac: Hmac<Sha256>,
    key: [u8; 32],
}

impl HmacChaChaSiv {
    fn iv(&self, aad: &[u8], plain: &[u8]) -> [u8; 16] {
        let mut mac = self.mac.clone();
        mac.update(&(aad.len() as u32).to_be_bytes());
        mac.update(aad);
        mac.update(plain);
        mac.finalize().into_bytes()[..16].try_into().expect("16 bytes")
    }

    fn keystream(&self, iv: &[u8; 16], buffer: &mut [u8]) {
        use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
        // The IV as ChaCha20's 32-bit counter (top bit cleared) and 96-bit nonce, as in
        // passcode-core's token.rs.
        let counter = u32::from_le_bytes(iv[..4].try_into().expect("4 bytes")) & 0x7fff_ffff;
        let mut cipher = chacha20::ChaCha20::new(&self.key.into(), iv[4..].into());
        cipher.seek(u64::from(counter) * 64);
        cipher.apply_keystream(buffer);
    }

    fn seal(&self, aad: &[u8], buffer: &mut [u8]) -> [u8; 16] {
        let iv = self.iv(aad, buffer);
        self.keystream(&iv, buffer);
        iv
    }

    fn open(&self, aad: &[u8], buffer: &mut [u8], tag: &[u8; 16]) -> bool {
        use subtle::ConstantTimeEq;
        self.keystream(tag, buffer);
        bool::from(self.iv(aad, buffer).ct_eq(tag))
    }
}

fn siv(budget: u128, out: &mut Vec<(String, &str, f64)>) {
    let siv = HmacChaChaSiv {
        mac: <Hmac<Sha256> as Mac>::new_from_slice(&KEY[32..]).expect("any length"),
        key: KEY[..32].try_into().expect("32"),
    };
    let mut sealed = *PLAIN;
    let tag = siv.seal(AAD, &mut sealed);
    seal_and_open(
        "HMAC-SHA256/ChaCha20 SIV",
        budget,
        sealed,
        |b| {
            black_box(siv.seal(AAD, b));
        },
        |b| assert!(siv.open(AAD, b, &tag)),
        out,
    );
}

fn main() {
    let target = if cfg!(target_family = "wasm") { "wasm32-wasip2" } else { "native" };
    let budget: u128 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(400);
    let mut results = Vec::new();
    aead::<XChaCha20Poly1305, 24>("XChaCha20-Poly1305", budget, &mut results);
    aead::<ChaCha20Poly1305, 12>("ChaCha20-Poly1305", budget, &mut results);
    aead::<Aes256GcmSiv, 12>("AES-256-GCM-SIV", budget, &mut results);
    aead::<Aes256Gcm, 12>("AES-256-GCM", budget, &mut results);
    aead::<Aes256SivAead, 16>("AES-256-SIV", budget, &mut results);
    siv(budget, &mut results);
    let message = [5u8; 53];
    results.push((
        "HMAC-SHA256".into(),
        "key setup + 53 bytes",
        time(budget, || {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(black_box(&KEY[..32])).expect("any key length");
            mac.update(&message);
            black_box(mac.finalize());
        }),
    ));
    let prepared = <Hmac<Sha256> as Mac>::new_from_slice(&KEY[..32]).expect("any key length");
    results.push((
        "HMAC-SHA256".into(),
        "prepared + 53 bytes",
        time(budget, || {
            let mut mac = prepared.clone();
            mac.update(&message);
            black_box(mac.finalize());
        }),
    ));
    for (candidate, op, ns) in results {
        println!("{}", serde_json::json!({ "target": target, "candidate": candidate, "op": op, "ns": ns.round() }));
    }
}
