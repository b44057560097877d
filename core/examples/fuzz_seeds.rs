//! Writes the seed corpora of the fuzz targets in `fuzz/` (run from the repository root):
//! `cargo run -p passcode-core --features fuzzing --example fuzz_seeds -- fuzz/seeds`.
//! Records are the ones an engine really writes; tokens are sealed with the fuzz ring.

use std::path::Path;
use std::sync::{Arc, Mutex};

use passcode_core::fuzzing::seal_token;
use passcode_core::{
    Channel, Config, Engine, Expected, IssueRequest, ManualClock, MemoryStore, Purpose, Store, StoreError, StoreKey,
};

/// Keeps every value the engine writes.
#[derive(Default)]
struct Recording {
    inner: MemoryStore,
    values: Mutex<Vec<Vec<u8>>>,
}

impl Store for Recording {
    fn get(&self, key: &StoreKey, now: u64) -> Result<Option<(Vec<u8>, u64)>, StoreError> {
        self.inner.get(key, now)
    }
    fn put(
        &self,
        key: &StoreKey,
        v: &[u8],
        ttl: Option<u64>,
        e: Expected,
        now: u64,
    ) -> Result<Option<u64>, StoreError> {
        self.values.lock().unwrap_or_else(|p| p.into_inner()).push(v.to_vec());
        self.inner.put(key, v, ttl, e, now)
    }
    fn delete(&self, key: &StoreKey, version: u64, now: u64) -> Result<bool, StoreError> {
        self.inner.delete(key, version, now)
    }
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).expect("seed folder");
    std::fs::write(d.join(name), bytes).expect("seed file");
}

fn main() {
    let dir = std::env::args().nth(1).expect("usage: fuzz_seeds <folder>");
    let dir = Path::new(&dir);

    // record: what an engine writes for a subject with challenges, sends and failures, and
    // for the shared buckets; the first byte picks the clock.
    let store = Arc::new(Recording::default());
    let clock = ManualClock::new(1_800_000_000);
    let engine = Engine::builder(
        Config::parse("[policy]\nlockout_threshold = 2\ntenant_sends = { max = 50, window_seconds = 1 }").unwrap(),
    )
    .store(store.clone())
    .clock(Arc::new(clock.clone()))
    .key_ring(passcode_core::fuzzing::ring())
    .build()
    .unwrap();
    for (i, purpose) in [Purpose::SignIn, Purpose::SignUp, Purpose::Recovery].into_iter().enumerate() {
        let request = IssueRequest {
            channel: if i == 1 { Channel::Sms } else { Channel::Email },
            identifier: if i == 1 { "+442079460001" } else { "jane@example.com" },
            purpose,
            client: Some(if i == 2 { "2001:db8:1:2::3" } else { "203.0.113.7" }),
            locale: None,
        };
        let issued = engine.issue(&request).unwrap();
        let _ = engine.verify(&issued.token, "000000");
        clock.advance(31);
    }
    for (n, value) in store.values.lock().unwrap().iter().enumerate() {
        let mut seed = vec![(n % 4) as u8];
        seed.extend_from_slice(value);
        write(dir, "record", &format!("written-{n:02}"), &seed);
    }

    // token: sealed tokens, for each channel, with and without an account.
    for (n, (channel, id, account)) in [
        (Channel::Email, "jane@example.com", None),
        (Channel::Sms, "+14155552671", None),
        (Channel::Email, "Jane.Doe@example.com", Some("account-7")),
    ]
    .into_iter()
    .enumerate()
    {
        write(dir, "token", &format!("sealed-{n}"), seal_token("default", channel, id, account).as_bytes());
    }
    write(dir, "token", "garbage", b"AgEHBwcHBwcHBwcHBwcHBwcH-not-a-token");

    // identifier: the first byte picks the channel (bit 0) and the default region.
    for (n, (head, text)) in [
        (0u8, "Jane.Doe@Example.COM"),
        (0, "jos\u{65}\u{301}+tag@b\u{fc}cher.example"),
        (1, "+44 (0)20 7946 0001"),
        (1, "+1 1 876 555 0100"),
        (3, "020 7946 0001"),
        (5, "(415) 555-2671"),
        (1, "＋１ ４１５ ５５５ ２６７１"),
        (1, "+881612345678"),
        (9, "090-1234-5678"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut seed = vec![head];
        seed.extend_from_slice(text.as_bytes());
        write(dir, "identifier", &format!("typed-{n}"), &seed);
    }

    // code_input: the first byte picks the alphabet (bit 0) and the length.
    for (n, (head, text)) in [
        (12u8, "123456\n"),
        (12, "１２３–４５６"),
        (12, "٠١٢٣٤٥"),
        (16, " 1234 5678 "),
        (13, "ＡＢ２ｃ３ｄ"),
        (13, "ab2-c3d"),
    ]
    .into_iter()
    .enumerate()
    {
        let mut seed = vec![head];
        seed.extend_from_slice(text.as_bytes());
        write(dir, "code_input", &format!("typed-{n}"), &seed);
    }

    // render: app, domain, SMS, email subject, email text, email HTML, locale (NUL-separated).
    for (n, fields) in [
        ["Acme", "example.com", "{code} is your {app} code, {minutes} min", "{app}: {code}", "Code: {code}", "", "en"],
        ["<b>&", "", "{{ {code} }} ж€", "{code}", "<script>{code}</script>", "<p>{code} {app}</p>", "fr-CA"],
        ["x", "a.example", "{code}\n\n@evil.example #000000", "s", "{code}\n\n{domain}", "", "pt_BR"],
    ]
    .into_iter()
    .enumerate()
    {
        write(dir, "render", &format!("templates-{n}"), fields.join("\0").as_bytes());
    }

    // config: a few configs, a shared store's URL with a password among them.
    for (n, text) in [
        "tenant = \"realm-a\"\n[policy]\ncode_length = 8\nfailure_budget = { max = 50, window_seconds = 864000 }\n",
        "store = \"redis://:hunter2-planted@cache.internal:6379/0\"\n[[keys.ring]]\nid = 1\nfile = \"k\"\n",
        "[store]\nurl = \"redis://u:hunter2-planted@h\"\npool_size = \"hunter2-planted\"\n",
        "{\"policy\":{\"sms_countries\":{\"deny\":[\"JM\",\"1876\"]},\"sms_default_region\":\"GB\"}}",
        "[keys]\nindex = 1\nephemeral = true\n[[keys.ring]]\nid = 1\nenv = \"K\"\nindex_only = true\n",
        "[[messages.templates]]\nlocale = \"fr\"\nchannel = \"sms\"\nsms = \"{code} {app}\"\n",
    ]
    .into_iter()
    .enumerate()
    {
        write(dir, "config", &format!("config-{n}"), text.as_bytes());
    }
}
