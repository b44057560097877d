//! The scenario vectors of tests/vectors through the Rust crate on Redis: the same outcomes
//! as on the memory store.
//!
//! The engine's clock is a `ManualClock` that jumps forward, while Redis expires keys by its
//! own clock: a record whose TTL the engine set has not expired inside Redis when the manual
//! clock says it should. No outcome depends on that: the engine prunes what a record holds
//! by its own clock on every read (challenges past expiry plus grace, sends outside the
//! window, locks that ended), and a send bucket's state is a time the engine compares with
//! `now`. Store-side expiry only reclaims memory; `contract.rs` checks that it behaves as
//! absence with a real TTL.

mod support;

use std::sync::Arc;

use passcode_core::config::StoreConfig;
use passcode_core::{Channel, Config, Engine, Error, IssueRequest, Issued, ManualClock, Purpose, ERROR_TABLE};
use passcode_vectors::{Failure, IssuedInfo, Surface, VerifiedInfo};
use support::{unique_prefix, RedisServer};

struct OnRedis {
    url: String,
    engine: Option<Engine>,
    clock: ManualClock,
}

fn failure(e: Error) -> Failure {
    Failure { number: e.number(), attempts_left: e.attempts_left(), retry_after: e.retry_after() }
}

fn info(i: Issued) -> IssuedInfo {
    let message_text = match &i.message {
        passcode_core::Message::Sms(s) => s.text.clone(),
        passcode_core::Message::Email(e) => e.text.clone(),
    };
    IssuedInfo {
        token: i.token,
        code: i.code.to_string(),
        expires_at: i.expires_at,
        resend_at: i.resend_at,
        message_text,
    }
}

impl OnRedis {
    fn engine(&self) -> &Engine {
        self.engine.as_ref().expect("opened")
    }
}

impl Surface for OnRedis {
    fn open(&mut self, config_json: &str, now: u64) -> Result<(), Failure> {
        self.clock.set(now);
        let mut config = Config::parse(config_json).map_err(failure)?;
        // A fresh prefix per vector: each starts from an empty store, as on memory.
        config.store =
            StoreConfig { url: self.url.clone(), prefix: Some(unique_prefix("vector")), ..StoreConfig::default() };
        let builder = passcode_redis::builder(config).map_err(failure)?;
        self.engine = Some(builder.clock(Arc::new(self.clock.clone())).build().map_err(failure)?);
        Ok(())
    }
    fn advance(&mut self, seconds: u64) {
        self.clock.advance(seconds);
    }
    fn issue(
        &mut self,
        channel: &str,
        identifier: &str,
        purpose: &str,
        client: Option<&str>,
        locale: Option<&str>,
    ) -> Result<IssuedInfo, Failure> {
        let request = IssueRequest {
            channel: Channel::parse(channel).map_err(failure)?,
            identifier,
            purpose: Purpose::parse(purpose).map_err(failure)?,
            client,
            locale,
        };
        self.engine().issue(&request).map(info).map_err(failure)
    }
    fn verify(&mut self, token: &str, code: &str) -> Result<VerifiedInfo, Failure> {
        self.engine()
            .verify(token, code)
            .map(|v| VerifiedInfo {
                identifier: v.identifier,
                channel: v.channel.name().into(),
                purpose: v.purpose.name().into(),
            })
            .map_err(failure)
    }
    fn resend(&mut self, token: &str, client: Option<&str>) -> Result<IssuedInfo, Failure> {
        self.engine().resend(token, client, None).map(info).map_err(failure)
    }
    fn cancel(&mut self, token: &str) -> Result<(), Failure> {
        self.engine().cancel(token).map_err(failure)
    }
    fn unlock(&mut self, channel: &str, identifier: &str) -> Result<(), Failure> {
        self.engine().unlock(Channel::parse(channel).map_err(failure)?, identifier).map_err(failure)
    }
}

#[test]
fn every_vector_passes_on_redis() {
    let server = RedisServer::start();
    let url = server.url();
    let before = server.store_commands();
    passcode_vectors::run_all_or_panic(
        &mut || Box::new(OnRedis { url: url.clone(), engine: None, clock: ManualClock::default() }),
        ERROR_TABLE,
    );
    // The records really went through Redis, not an embedded store.
    let used = server.store_commands() - before;
    assert!(used > 200, "only {used} store commands reached Redis");
    let keys: i64 = server.query(&["DBSIZE"]);
    assert!(keys > 23, "records and one version counter per vector stay in Redis: {keys}");
}
