//! The Rust crate as a [`Surface`]: an `Engine` on a `ManualClock`, built by a function the
//! driver gives (the memory store, a Redis store, ...), so every Rust-side driver shares one
//! mapping from the engine's answers to the runner's.

use std::sync::Arc;

use passcode_core::{
    Channel, Config, Engine, EngineBuilder, Error, IssueRequest, Issued, ManualClock, Message, Purpose,
};

use crate::{Failure, IssuedInfo, Surface, VerifiedInfo};

/// Makes the builder of a fresh engine (with a fresh, empty store) from a vector's config.
pub type OpenEngine = Box<dyn FnMut(Config) -> Result<EngineBuilder, Error>>;

/// An engine driven through the Rust API.
pub struct EngineSurface {
    open: OpenEngine,
    engine: Option<Engine>,
    clock: ManualClock,
}

impl EngineSurface {
    /// A surface whose engines `open` builds; the surface adds its clock.
    pub fn new(open: impl FnMut(Config) -> Result<EngineBuilder, Error> + 'static) -> Self {
        EngineSurface { open: Box::new(open), engine: None, clock: ManualClock::default() }
    }

    fn engine(&self) -> &Engine {
        self.engine.as_ref().expect("opened")
    }
}

/// The runner's view of an error.
pub fn failure(e: Error) -> Failure {
    Failure { number: e.number(), attempts_left: e.attempts_left(), retry_after: e.retry_after() }
}

/// The runner's view of an issued code.
pub fn issued_info(i: Issued) -> IssuedInfo {
    let message_text = match &i.message {
        Message::Sms(s) => s.text.to_string(),
        Message::Email(e) => e.text.to_string(),
    };
    IssuedInfo {
        token: i.token,
        code: i.code.to_string(),
        expires_at: i.expires_at,
        resend_at: i.resend_at,
        message_text,
    }
}

impl Surface for EngineSurface {
    fn open(&mut self, config_json: &str, now: u64) -> Result<(), Failure> {
        self.clock.set(now);
        let config = Config::parse(config_json).map_err(failure)?;
        let builder = (self.open)(config).map_err(failure)?;
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
        account: Option<&str>,
    ) -> Result<IssuedInfo, Failure> {
        let request = IssueRequest {
            channel: Channel::parse(channel).map_err(failure)?,
            identifier,
            purpose: Purpose::parse(purpose).map_err(failure)?,
            client,
            locale,
        };
        let issued = match account {
            Some(account) => self.engine().issue_for_account(account, &request),
            None => self.engine().issue(&request),
        };
        issued.map(issued_info).map_err(failure)
    }
    fn verify(&mut self, token: &str, code: &str) -> Result<VerifiedInfo, Failure> {
        self.engine()
            .verify(token, code)
            .map(|v| VerifiedInfo {
                identifier: v.identifier,
                channel: v.channel.name().into(),
                purpose: v.purpose.name().into(),
                account: v.account,
            })
            .map_err(failure)
    }
    fn resend(&mut self, token: &str, client: Option<&str>) -> Result<IssuedInfo, Failure> {
        self.engine().resend(token, client, None).map(issued_info).map_err(failure)
    }
    fn cancel(&mut self, token: &str) -> Result<(), Failure> {
        self.engine().cancel(token).map_err(failure)
    }
    fn unlock(&mut self, channel: &str, identifier: &str) -> Result<(), Failure> {
        self.engine().unlock(Channel::parse(channel).map_err(failure)?, identifier).map_err(failure)
    }
    fn unlock_account(&mut self, account: &str) -> Result<(), Failure> {
        self.engine().unlock_account(account).map_err(failure)
    }
}
