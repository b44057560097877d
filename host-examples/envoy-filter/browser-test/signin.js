// Signs in through the gateway's page in headless Chromium (Debian's /usr/bin/chromium),
// driven by playwright-core. Run by tests/browser.rs, which starts the gateway and passes:
//   GATEWAY_URL      http://127.0.0.1:PORT
//   OUTBOX           the gateway's DEVELOPMENT outbox folder (where the code is read)
//   SCREENSHOT_DIR   where to save the screenshots
//   USER_DATA_DIR    a fresh, empty profile folder
//   CHROMIUM         the browser (default /usr/bin/chromium)
// Prints one line of JSON with what it saw; exits non-zero on the first failed expectation.
"use strict";

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const env = (name, fallback) => {
  const v = process.env[name] || fallback;
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const base = env("GATEWAY_URL");
const outbox = env("OUTBOX");
const shots = env("SCREENSHOT_DIR");
const profile = env("USER_DATA_DIR");
const executablePath = env("CHROMIUM", "/usr/bin/chromium");
const who = "jane@example.com";

function expect(ok, what) {
  if (!ok) throw new Error(`expected ${what}`);
}

// The code in the newest outbox message to `who`: the first run of 6 digits of its body.
async function codeFromOutbox(deadlineMs) {
  const until = Date.now() + deadlineMs;
  while (Date.now() < until) {
    const files = fs.existsSync(outbox) ? fs.readdirSync(outbox).sort().reverse() : [];
    for (const f of files) {
      const text = fs.readFileSync(path.join(outbox, f), "utf8");
      expect(text.startsWith("DEVELOPMENT ONLY"), "the outbox file to be marked DEVELOPMENT ONLY");
      if (!text.split("\n").includes(`To: ${who}`)) continue;
      const body = text.slice(text.indexOf("\n\n") + 2);
      const m = body.match(/(?<!\d)\d{6}(?!\d)/);
      if (m) return m[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("no code arrived in the outbox");
}

(async () => {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    viewport: { width: 800, height: 640 },
  });
  const seen = {};
  try {
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(10000);

    // Not signed in: the protected page sends the browser to the sign-in page.
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname === "/signin", `a redirect to /signin, got ${page.url()}`);

    await page.fill("#identifier", who);
    await page.click("#start");
    await page.waitForSelector("#verify-form:not(.hidden)");
    seen.sent_to = await page.textContent("#sent-to");
    expect(seen.sent_to.includes("j***@example.com"), `the masked address, got ${seen.sent_to}`);
    seen.autocomplete = await page.getAttribute("#code", "autocomplete");
    seen.inputmode = await page.getAttribute("#code", "inputmode");
    expect(seen.autocomplete === "one-time-code", "autocomplete=one-time-code");
    expect(seen.inputmode === "numeric", "inputmode=numeric");
    seen.resend = await page.textContent("#resend");
    expect(/^Resend code in \d+s$/.test(seen.resend), `the resend cooldown, got "${seen.resend}"`);
    expect(await page.isDisabled("#resend"), "the resend button disabled during the cooldown");

    const code = await codeFromOutbox(5000);

    // A wrong code shows the error and the attempts left.
    const wrong = code === "000000" ? "111111" : "000000";
    await page.fill("#code", wrong);
    await page.click("#verify");
    await page.waitForFunction(() => document.querySelector("#message").textContent.includes("not right"));
    seen.wrong_message = await page.textContent("#message");
    expect(seen.wrong_message.includes("4 attempts left"), `4 attempts left, got "${seen.wrong_message}"`);
    expect((await page.getAttribute("#message", "class")) === "error", "the message styled as an error");
    await page.screenshot({ path: path.join(shots, "signin-wrong-code.png") });

    // The right code lands on the protected page.
    await page.fill("#code", code);
    await Promise.all([page.waitForURL(`${base}/`), page.click("#verify")]);
    seen.greeting = await page.textContent("#greeting");
    expect(seen.greeting.trim() === `Hello, ${who}`, `the greeting, got "${seen.greeting}"`);
    const cookies = await context.cookies(base);
    const session = cookies.find((c) => c.name === "passcode_session");
    expect(session && session.httpOnly && session.sameSite === "Strict", "an HttpOnly SameSite=Strict session cookie");
    seen.page_script_sees_cookies = await page.evaluate(() => document.cookie);
    expect(seen.page_script_sees_cookies === "", "no cookie visible to page scripts");
    await page.screenshot({ path: path.join(shots, "signed-in.png") });
    seen.ok = true;
    console.log(JSON.stringify(seen));
  } finally {
    await context.close();
  }
})().catch((e) => {
  console.error(`browser test failed: ${e.message}`);
  process.exit(1);
});
