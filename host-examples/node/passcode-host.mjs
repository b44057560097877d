// A Node.js host for the Passcode WASI component, as transpiled by jco: it implements the
// component's whole world in JavaScript (the store, the key reader, the wall clock and the
// random source) and grants nothing else: no filesystem, environment or streams reach the
// guest. The tests run every scenario vector through it (vector-host.mjs); README.md shows
// how an application uses it.

import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { randomFillSync } from 'node:crypto';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const hex = (bytes) => Buffer.from(bytes).toString('hex');

/**
 * The store contract of `wit/passcode.wit` on a Map: compare-and-swap per key, versions
 * never 0 and never reused, expiry read from the engine's `now` (an entry with a time to
 * live of t seconds, written at `now`, is absent from `now + max(t, 1)` on).
 */
export class MemoryStore {
  #entries = new Map();
  #lastVersion = 0n;

  #live(key, now) {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt !== undefined && now >= entry.expiresAt) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  get(key, now) {
    const entry = this.#live(hex(key), now);
    return entry ? [entry.value, entry.version] : undefined;
  }

  put(key, value, ttl, expected, now) {
    const k = hex(key);
    const current = this.#live(k, now);
    const matches = expected === undefined ? current === undefined : current?.version === expected;
    if (!matches) return undefined;
    this.#lastVersion += 1n;
    const expiresAt = ttl === undefined ? undefined : now + (ttl > 0n ? ttl : 1n);
    this.#entries.set(k, { value: Uint8Array.from(value), version: this.#lastVersion, expiresAt });
    return this.#lastVersion;
  }

  delete(key, version, now) {
    const k = hex(key);
    if (this.#live(k, now)?.version !== version) return false;
    this.#entries.delete(k);
    return true;
  }

  /** Entries held, for tests. */
  get size() {
    return this.#entries.size;
  }
}

/**
 * The key reader of `wit/passcode.wit`: ring keys from the files and environment variables
 * the configuration names, read by the host. A host with a secret manager answers from it
 * instead; an error says where the key was looked for, never what it holds.
 */
export const fileAndEnvKeys = {
  read(id, location) {
    try {
      switch (location.tag) {
        case 'file':
          return readFileSync(location.val);
        case 'env': {
          const value = process.env[location.val];
          if (value === undefined) return { tag: 'err', val: `key ${id}: the variable is unset` };
          return new TextEncoder().encode(value);
        }
        default:
          return { tag: 'err', val: `key ${id}: unknown location ${location.tag}` };
      }
    } catch {
      return { tag: 'err', val: `key ${id}: the file is missing or unreadable` };
    }
  },
};

/** A wall clock the host sets (Unix seconds as a BigInt), for tests; the system's by default. */
export class HostClock {
  constructor(seconds) {
    this.seconds = seconds;
  }
  now() {
    return this.seconds ?? BigInt(Math.floor(Date.now() / 1000));
  }
}

/**
 * Loads a component transpiled with `jco transpile passcode.wasm -o DIR --instantiation
 * async --name passcode`, compiling its core modules once. Returns a function that makes a
 * new instance from the world's imports: `{ store, keys, clock }` (clock: `{ now() }` in
 * Unix seconds as a BigInt; the random source is Node's CSPRNG). The instance's
 * `engine.Engine.open(config)` opens an engine; refusals are thrown as errors whose
 * `payload` is the WIT `error` (`{ tag: 'wrong-code', val: 4 }`, ...).
 */
export async function loadPasscode(dir) {
  const { instantiate } = await import(pathToFileURL(join(dir, 'passcode.js')).href);
  const modules = new Map();
  const getCoreModule = (name) => {
    if (!modules.has(name)) modules.set(name, readFile(join(dir, name)).then((b) => WebAssembly.compile(b)));
    return modules.get(name);
  };
  return ({ store, keys = fileAndEnvKeys, clock = new HostClock() }) =>
    instantiate(getCoreModule, {
      // jco calls imports as plain functions: bind them to their objects.
      'passcode:engine/store': {
        get: (...a) => store.get(...a),
        put: (...a) => store.put(...a),
        delete: (...a) => store.delete(...a),
      },
      'passcode:engine/keys': { read: (...a) => keys.read(...a) },
      'passcode:engine/types': {},
      'wasi:clocks/wall-clock': {
        now: () => ({ seconds: clock.now(), nanoseconds: 0 }),
        resolution: () => ({ seconds: 1n, nanoseconds: 0 }),
      },
      'wasi:random/random': {
        getRandomBytes: (len) => randomFillSync(new Uint8Array(Number(len))),
        getRandomU64: () => randomFillSync(new BigUint64Array(1))[0],
      },
    });
}
