// The scenario vectors' driver in Node: the Rust test (host-examples/envoy-filter/tests/
// component_vectors.rs) writes one request per line on stdin and reads one answer per line,
// so every vector runs through the component hosted by jco with a JavaScript store, as it
// runs through wasmtime. Usage: node vector-host.mjs TRANSPILED_DIR
//
// Requests: {"op":"open","config":TEXT,"now":"SECONDS"} (a fresh instance, store and clock),
// {"op":"advance","seconds":"N"}, and issue, verify, resend, cancel, unlock, unlock-account
// with the engine's arguments. Answers: {"ok":VALUE}, {"err":{"number","attempts_left",
// "retry_after"}}, or {"trap":TEXT} when the guest trapped. u64 values travel as strings.

import { createInterface } from 'node:readline';
import { HostClock, MemoryStore, loadPasscode } from './passcode-host.mjs';

const newInstance = await loadPasscode(process.argv[2]);
let api;
let engine;
let clock;

const u64 = (v) => (v === undefined || v === null ? null : String(v));

function failure(payload) {
  const { tag, val } = payload;
  const attemptsLeft = tag === 'wrong-code' ? val : tag === 'wrong-code-locked' ? val.attemptsLeft : undefined;
  const retryAfter = {
    'subject-locked': () => val,
    'wrong-code-locked': () => val.retryAfter,
    'resend-too-soon': () => val,
    'send-limit': () => val.retryAfter,
  }[tag]?.();
  return { number: api.errorNumber(payload), attempts_left: attemptsLeft ?? null, retry_after: u64(retryAfter) };
}

function issued(i) {
  const message_text = i.message.val.text;
  return { token: i.token, code: i.code, expires_at: u64(i.expiresAt), resend_at: u64(i.resendAt), message_text };
}

const request = (r) => ({
  channel: r.channel,
  identifier: r.identifier,
  purpose: r.purpose,
  client: r.client ?? undefined,
  locale: r.locale ?? undefined,
});

const calls = {
  async open(r) {
    clock = new HostClock(BigInt(r.now));
    const instance = await newInstance({ store: new MemoryStore(), clock });
    api = instance.engine;
    engine = api.Engine.open(r.config);
    return null;
  },
  advance(r) {
    clock.seconds += BigInt(r.seconds);
    return null;
  },
  issue: (r) =>
    issued(r.account == null ? engine.issue(request(r)) : engine.issueForAccount(r.account, request(r))),
  verify(r) {
    const v = engine.verify(r.token, r.code);
    return { identifier: v.identifier, channel: v.channel, purpose: v.purpose, account: v.account ?? null };
  },
  resend: (r) => issued(engine.resend(r.token, r.client ?? undefined, undefined)),
  cancel: (r) => (engine.cancel(r.token), null),
  unlock: (r) => (engine.unlock(r.channel, r.identifier), null),
  'unlock-account': (r) => (engine.unlockAccount(r.account), null),
};

for await (const line of createInterface({ input: process.stdin })) {
  const r = JSON.parse(line);
  let answer;
  try {
    answer = { ok: await calls[r.op](r) };
  } catch (e) {
    answer = e && Object.hasOwn(e, 'payload') ? { err: failure(e.payload) } : { trap: String(e?.stack ?? e) };
  }
  process.stdout.write(JSON.stringify(answer) + '\n');
}
