//! SMS through a Twilio-compatible Messages API, with ureq.
//!
//! `POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`, form-encoded `To`,
//! `From` (or `MessagingServiceSid`) and `Body`, basic auth with the account id and token. The
//! base URL is configurable, so any compatible provider, or a local stand-in in tests, can
//! take Twilio's place. A success reports the provider's message id (`sid`); a refusal its
//! HTTP status and its error code (`code`, e.g. 21211 invalid number, 21610 opted out), never
//! its `message`, which repeats the number.

use std::time::Duration;

use base64::Engine as _;
use passcode_core::delivery_config::{SmsApiConfig, SmsApiFields};
use passcode_core::{Channel, Error};
use zeroize::Zeroizing;

use crate::http::{agent, classify_status, classify_transport, json_token, read_json, retry_after};
use crate::secret;
use crate::sender::{Content, Failure, Outgoing, Receipt, SendError, Sender};

/// Who the message is from: a number or sender id, or a messaging service.
#[derive(Clone, Debug)]
enum From {
    Number(String),
    Service(String),
}

/// Sends SMS through one Messages API account.
pub struct SmsApiSender {
    name: &'static str,
    url: String,
    authorization: Zeroizing<String>,
    from: From,
    agent: ureq::Agent,
}

impl std::fmt::Debug for SmsApiSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsApiSender").field("name", &self.name).finish_non_exhaustive()
    }
}

impl SmsApiSender {
    /// A sender from `[delivery.sms]` (`name` "sms") or `[delivery.sms_fallback]`; reads the token.
    pub fn from_config(name: &'static str, c: &SmsApiConfig, fields: &SmsApiFields) -> Result<SmsApiSender, Error> {
        let token = secret::read(fields.auth_token, &c.auth_token(fields.auth_token)?)?;
        let credentials = Zeroizing::new(format!("{}:{}", c.account_sid, token.as_str()));
        let authorization = Zeroizing::new(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials.as_bytes())
        ));
        let url = format!("{}/2010-04-01/Accounts/{}/Messages.json", c.base_url().trim_end_matches('/'), c.account_sid);
        ureq::http::Uri::try_from(url.as_str())
            .map_err(|_| Error::PolicyOutOfBounds { field: fields.base_url, reason: "is not a valid URL".into() })?;
        let from = match (&c.from, &c.messaging_service_sid) {
            (Some(f), _) => From::Number(f.clone()),
            (None, Some(s)) => From::Service(s.clone()),
            (None, None) => unreachable!("validate requires one"),
        };
        let agent = agent(
            fields.ca_file,
            c.ca_file.as_deref(),
            Duration::from_millis(c.connect_timeout_ms.unwrap_or(3_000)),
            Duration::from_millis(c.timeout_ms.unwrap_or(10_000)),
        )?;
        Ok(SmsApiSender { name, url, authorization, from, agent })
    }
}

impl Sender for SmsApiSender {
    fn name(&self) -> &'static str {
        self.name
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn send(&self, message: &Outgoing) -> Result<Receipt, SendError> {
        let Content::Sms { text } = &message.content else {
            return Err(SendError::new(Failure::Rejected, "an email was given to an SMS sender"));
        };
        let (from_field, from_value) = match &self.from {
            From::Number(n) => ("From", n.as_str()),
            From::Service(s) => ("MessagingServiceSid", s.as_str()),
        };
        let form = [("To", message.recipient.as_str()), (from_field, from_value), ("Body", text.as_str())];
        let mut response = self
            .agent
            .post(&self.url)
            .header("authorization", self.authorization.as_str())
            .header("accept", "application/json")
            .send_form(form)
            .map_err(|e| classify_transport(&e))?;
        let status = response.status().as_u16();
        let wait = retry_after(response.headers().get("retry-after").and_then(|v| v.to_str().ok()));
        let body = read_json(&mut response);
        if (200..300).contains(&status) {
            return Ok(Receipt { provider_id: body.as_ref().and_then(|b| json_token(&b["sid"])) });
        }
        Err(classify_status(status, wait, body.as_ref().and_then(|b| json_token(&b["code"]))))
    }
}
