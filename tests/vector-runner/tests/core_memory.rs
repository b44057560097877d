//! The scenario vectors through the Rust crate on the in-memory store.

use std::sync::Arc;

use passcode_core::{Channel, Config, Engine, Error, IssueRequest, Issued, ManualClock, Purpose, ERROR_TABLE};
use passcode_vectors::{Failure, IssuedInfo, Surface, VerifiedInfo};

#[derive(Default)]
struct Core {
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

impl Core {
    fn engine(&self) -> &Engine {
        self.engine.as_ref().expect("opened")
    }
}

impl Surface for Core {
    fn open(&mut self, config_json: &str, now: u64) -> Result<(), Failure> {
        self.clock.set(now);
        let config = Config::parse(config_json).map_err(failure)?;
        self.engine = Some(Engine::builder(config).clock(Arc::new(self.clock.clone())).build().map_err(failure)?);
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
fn every_vector_passes_on_the_memory_store() {
    passcode_vectors::run_all_or_panic(&mut || Box::new(Core::default()), ERROR_TABLE);
}
