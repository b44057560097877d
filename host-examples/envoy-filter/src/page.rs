//! The gateway's pages: the sign-in page (plain HTML and a little JavaScript, no build step)
//! and the built-in protected page that greets the signed-in subject.

pub use passcode_core::message::html_escape as escape;

const STYLE: &str = r#"
  :root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2330; background: #f3f5f9; }
  body { margin: 0; display: flex; min-height: 100vh; align-items: center; justify-content: center; }
  main { background: #fff; padding: 2rem 2.25rem; border-radius: 12px; box-shadow: 0 4px 24px rgba(20,30,60,.08); width: min(24rem, 90vw); }
  h1 { font-size: 1.35rem; margin: 0 0 .35rem; }
  p.lead { margin: 0 0 1.25rem; color: #566; }
  label { display: block; font-weight: 600; margin: .9rem 0 .35rem; }
  input[type=email], input[type=tel], input[type=text] { box-sizing: border-box; width: 100%; font-size: 1.05rem; padding: .6rem .7rem; border: 1px solid #c5cbd6; border-radius: 8px; }
  input#code { font-size: 1.6rem; letter-spacing: .35em; text-align: center; font-variant-numeric: tabular-nums; }
  .tabs { display: flex; gap: .5rem; margin-bottom: .5rem; }
  .tabs label { margin: 0; font-weight: 500; display: flex; gap: .3rem; align-items: center; }
  button { font-size: 1rem; padding: .6rem 1rem; border-radius: 8px; border: 0; cursor: pointer; }
  button.primary { background: #2f5bea; color: #fff; width: 100%; margin-top: 1rem; }
  button.link { background: none; color: #2f5bea; padding: .4rem 0; }
  button:disabled { opacity: .55; cursor: default; }
  .row { display: flex; justify-content: space-between; align-items: center; margin-top: .5rem; }
  #message { min-height: 1.4rem; margin-top: 1rem; font-size: .95rem; }
  #message.error { color: #b3261e; }
  #message.info { color: #1d6b3a; }
  .hidden { display: none; }
  .sent { color: #566; font-size: .95rem; }
"#;

/// The sign-in page's script: inline, and allowed by its hash in the page's
/// Content-Security-Policy (no `unsafe-inline`).
pub const SCRIPT: &str = r#"
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var resendAt = 0, timer = null;

  function say(text, kind) { var m = $("message"); m.textContent = text; m.className = kind || ""; }

  function post(path, body) {
    return fetch(path, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body || {})
    }).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (j) {
        j.status_code = r.status; j.retry_after = Number(r.headers.get("Retry-After") || j.retry_after || 0); return j;
      });
    });
  }

  function wait(seconds) {
    if (seconds >= 120) return Math.ceil(seconds / 60) + " minutes";
    return seconds + (seconds === 1 ? " second" : " seconds");
  }

  function explain(j) {
    switch (j.error) {
      case "wrong-code": return "That code is not right. " + j.attempts_left + (j.attempts_left === 1 ? " attempt" : " attempts") + " left.";
      case "expired": return "This code has expired. Send a new one.";
      case "too-many-attempts": return "Too many wrong codes for this request. Send a new code.";
      case "not-found": case "no-challenge": return "This code is no longer valid. Send a new one.";
      case "subject-locked": return j.retry_after ? "Too many wrong codes. Sign-in is locked for " + wait(j.retry_after) + "."
                                                  : "Too many wrong codes. This account is locked; contact support.";
      case "resend-too-soon": case "send-limit": return "Please wait " + wait(j.retry_after) + " before asking for another code.";
      case "invalid-email": return "Please enter a valid email address.";
      case "invalid-phone": return "Please enter a phone number with its country code, like +44 20 7946 0000.";
      case "destination-blocked": return "We cannot send text messages to that country.";
      default: return j.message || "Something went wrong. Please try again.";
    }
  }

  function tick() {
    var left = Math.max(0, Math.ceil(resendAt - Date.now() / 1000));
    var b = $("resend");
    b.disabled = left > 0;
    b.textContent = left > 0 ? "Resend code in " + left + "s" : "Resend code";
    if (left <= 0 && timer) { clearInterval(timer); timer = null; }
  }

  function cooldown(seconds) {
    resendAt = Date.now() / 1000 + seconds;
    if (!timer) timer = setInterval(tick, 250);
    tick();
  }

  function sent(j) {
    $("start-form").classList.add("hidden");
    $("verify-form").classList.remove("hidden");
    $("sent-to").textContent = "We sent a code to " + j.sent_to + ". It is valid for " + wait(j.expires_in) + ".";
    cooldown(j.resend_in);
    $("code").value = "";
    $("code").focus();
  }

  document.querySelectorAll("input[name=channel]").forEach(function (r) {
    r.addEventListener("change", function () {
      var sms = r.value === "sms" && r.checked, id = $("identifier");
      id.type = sms ? "tel" : "email";
      id.autocomplete = sms ? "tel" : "email";
      id.placeholder = sms ? "+44 20 7946 0000" : "you@example.com";
      $("identifier-label").textContent = sms ? "Phone number" : "Email address";
    });
  });

  $("start-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var channel = document.querySelector("input[name=channel]:checked").value;
    say("");
    $("start").disabled = true;
    post("/passcode/start", { channel: channel, identifier: $("identifier").value, purpose: "sign-in" })
      .then(function (j) { if (j.status_code === 202) sent(j); else say(explain(j), "error"); })
      .catch(function () { say("The server could not be reached.", "error"); })
      .then(function () { $("start").disabled = false; });
  });

  $("verify-form").addEventListener("submit", function (e) {
    e.preventDefault();
    say("");
    $("verify").disabled = true;
    post("/passcode/verify", { code: $("code").value })
      .then(function (j) {
        if (j.status_code === 200) { say("Signed in.", "info"); window.location.assign(j.redirect || "/"); return; }
        say(explain(j), "error");
        $("code").select();
      })
      .catch(function () { say("The server could not be reached.", "error"); })
      .then(function () { $("verify").disabled = false; });
  });

  $("resend").addEventListener("click", function () {
    say("");
    post("/passcode/resend").then(function (j) {
      if (j.status_code === 202) { say("We sent a new code. The previous one no longer works.", "info"); cooldown(j.resend_in); }
      else { say(explain(j), "error"); if (j.retry_after) cooldown(j.retry_after); }
    });
  });

  $("restart").addEventListener("click", function () {
    $("verify-form").classList.add("hidden");
    $("start-form").classList.remove("hidden");
    say("");
  });
})();
"#;

/// The sign-in page. `app` is the application's name (escaped here).
pub fn signin(app: &str) -> String {
    let app = escape(app);
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in · {app}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
  <h1>Sign in to {app}</h1>
  <p class="lead">We will send you a one-time code.</p>

  <form id="start-form" novalidate>
    <div class="tabs" role="radiogroup" aria-label="Send the code by">
      <label><input type="radio" name="channel" value="email" checked> Email</label>
      <label><input type="radio" name="channel" value="sms"> Text message</label>
    </div>
    <label for="identifier" id="identifier-label">Email address</label>
    <input id="identifier" name="identifier" type="email" autocomplete="email" required
           placeholder="you@example.com" maxlength="320">
    <button class="primary" type="submit" id="start">Send code</button>
  </form>

  <form id="verify-form" class="hidden" novalidate>
    <p class="sent" id="sent-to"></p>
    <label for="code">Code</label>
    <input id="code" name="code" type="text" autocomplete="one-time-code" inputmode="numeric"
           pattern="[0-9]*" maxlength="12" required aria-describedby="message">
    <button class="primary" type="submit" id="verify">Verify</button>
    <div class="row">
      <button class="link" type="button" id="resend" disabled>Resend code</button>
      <button class="link" type="button" id="restart">Use another address</button>
    </div>
  </form>

  <p id="message" role="status" aria-live="polite"></p>
</main>
<script>{SCRIPT}</script>
</body>
</html>
"#
    )
}

/// The built-in protected page.
pub fn welcome(app: &str, subject: &str) -> String {
    let app = escape(app);
    let subject = escape(subject);
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{app}</title>
<style>{STYLE}</style>
</head>
<body>
<main>
  <h1 id="greeting">Hello, {subject}</h1>
  <p class="lead">You are signed in to {app}. This page is behind the gateway: only a signed session reaches it.</p>
  <form method="post" action="/passcode/signout"><button class="primary" type="submit">Sign out</button></form>
</main>
</body>
</html>
"#
    )
}

/// A CSP source for an inline script or style: its SHA-256.
fn csp_hash(text: &str) -> String {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    format!("'sha256-{}'", STANDARD.encode(Sha256::digest(text.as_bytes())))
}

/// The Content-Security-Policy of the protected page: its own style (by hash), the sign-out
/// form to its own origin, no script, no frames.
pub fn welcome_csp() -> String {
    format!(
        "default-src 'none'; style-src {}; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        csp_hash(STYLE)
    )
}

/// The Content-Security-Policy of the sign-in page: only its own inline script and style
/// (by hash), requests to its own origin, no frames.
pub fn signin_csp() -> String {
    let hash = csp_hash;
    format!(
        "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
        hash(SCRIPT),
        hash(STYLE)
    )
}
