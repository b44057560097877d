//! SMS through a generic HTTPS webhook, signed per Standard Webhooks.
//!
//! The body is JSON: `{"id", "channel", "to", "body"}`, plus `code` and `purpose` when the
//! config says the receiver renders its own text. The headers are `webhook-id` (the message's
//! id, the same on every attempt, so a receiver can drop a repeat), `webhook-timestamp` (Unix
//! seconds of the attempt) and `webhook-signature`: `v1,` and base64 of HMAC-SHA256 with the
//! secret over `id.timestamp.body`. The secret is `whsec_` and base64 of 24 to 64 bytes.
//! A 2xx answer is a success; its JSON `id`, if any, is the provider's id.

use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use passcode_core::delivery_config::WebhookConfig;
use passcode_core::{Channel, Clock, Error, SystemClock};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::http::{agent, classify_status, classify_transport, json_token, read_json, retry_after};
use crate::secret;
use crate::sender::{Content, Failure, Outgoing, Receipt, SendError, Sender};

const SECRET_FIELD: &str = "delivery.webhook.secret_env";

/// Sends SMS to one webhook.
pub struct WebhookSender {
    url: String,
    key: Zeroizing<Vec<u8>>,
    include_code: bool,
    agent: ureq::Agent,
    clock: Box<dyn Clock>,
}

impl std::fmt::Debug for WebhookSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookSender").field("include_code", &self.include_code).finish_non_exhaustive()
    }
}

/// The key of a `whsec_...` secret.
fn secret_key(text: &str) -> Result<Zeroizing<Vec<u8>>, Error> {
    let bad = |reason: &str| Error::PolicyOutOfBounds { field: SECRET_FIELD, reason: reason.into() };
    let b64 = text.trim().strip_prefix("whsec_").ok_or_else(|| bad("the secret must start with `whsec_`"))?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(b64.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| bad("the secret after `whsec_` must be base64"))?;
    if !(24..=64).contains(&key.len()) {
        return Err(bad("the secret must hold 24 to 64 bytes (Standard Webhooks)"));
    }
    Ok(key)
}

/// `v1,` and base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}")).
pub fn signature(key: &[u8], id: &str, timestamp: u64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
}

impl WebhookSender {
    /// A sender from `[delivery.webhook]`; reads the secret.
    pub fn from_config(c: &WebhookConfig) -> Result<WebhookSender, Error> {
        let key = secret_key(&secret::read(SECRET_FIELD, &c.secret()?)?)?;
        ureq::http::Uri::try_from(c.url.as_str()).map_err(|_| Error::PolicyOutOfBounds {
            field: "delivery.webhook.url",
            reason: "is not a valid URL".into(),
        })?;
        let agent = agent(
            "delivery.webhook.ca_file",
            c.ca_file.as_deref(),
            Duration::from_millis(c.connect_timeout_ms.unwrap_or(3_000)),
            Duration::from_millis(c.timeout_ms.unwrap_or(10_000)),
        )?;
        Ok(WebhookSender { url: c.url.clone(), key, include_code: c.include_code, agent, clock: Box::new(SystemClock) })
    }

    /// The JSON body for a message.
    fn body(&self, message: &Outgoing, text: &str) -> Zeroizing<Vec<u8>> {
        let mut body = serde_json::json!({
            "id": message.id,
            "channel": "sms",
            "to": message.recipient.as_str(),
            "body": text,
        });
        if self.include_code {
            body["code"] = serde_json::Value::String(message.code.to_string());
            body["purpose"] = serde_json::Value::String(message.purpose.name().into());
        }
        let bytes = Zeroizing::new(serde_json::to_vec(&body).expect("JSON of strings"));
        // The `Value` held copies of the text and code: wipe them before they are freed.
        if let serde_json::Value::Object(mut map) = body {
            for (_, v) in map.iter_mut() {
                if let serde_json::Value::String(s) = v {
                    zeroize::Zeroize::zeroize(s);
                }
            }
        }
        bytes
    }
}

impl Sender for WebhookSender {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn channel(&self) -> Channel {
        Channel::Sms
    }

    fn send(&self, message: &Outgoing) -> Result<Receipt, SendError> {
        let Content::Sms { text } = &message.content else {
            return Err(SendError::new(Failure::Rejected, "an email was given to the SMS webhook"));
        };
        let body = self.body(message, text);
        let timestamp = self.clock.now();
        let mut response = self
            .agent
            .post(&self.url)
            .header("content-type", "application/json")
            .header("webhook-id", message.id.as_str())
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature(&self.key, &message.id, timestamp, &body))
            .send(&body[..])
            .map_err(|e| classify_transport(&e))?;
        let status = response.status().as_u16();
        let wait = retry_after(response.headers().get("retry-after").and_then(|v| v.to_str().ok()));
        let answer = read_json(&mut response);
        if (200..300).contains(&status) {
            return Ok(Receipt { provider_id: answer.as_ref().and_then(|b| json_token(&b["id"])) });
        }
        Err(classify_status(status, wait, answer.as_ref().and_then(|b| json_token(&b["code"]))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_standard_webhooks_example_signature() {
        // The example in the Standard Webhooks specification (spec/standard-webhooks.md).
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn weak_or_malformed_secrets_are_refused() {
        assert!(secret_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_err(), "no prefix");
        assert!(secret_key("whsec_!!!").is_err(), "not base64");
        assert!(
            secret_key(&format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([1u8; 16]))).is_err(),
            "16 bytes"
        );
        assert!(secret_key(&format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([1u8; 32]))).is_ok());
    }
}
