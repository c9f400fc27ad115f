// TokenCache: expiry capped by the token's own, brief memory of invalid tokens, the size
// bound with least-recently-used eviction, one load per token, and no token kept as a key.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { TokenCache, tokenKey } from "../../src/cloud/token-cache.ts";

interface Info {
  user: string;
  expiresAt: Date;
}

function setup(opts: Partial<{ ttlMs: number; invalidTtlMs: number; maxEntries: number }> = {}) {
  let now = 1_000_000;
  const cache = new TokenCache<Info>({
    ttlMs: 300_000,
    invalidTtlMs: 10_000,
    maxEntries: 100,
    ...opts,
    now: () => now,
  });
  return {
    cache,
    advance: (ms: number) => {
      now += ms;
    },
    at: (ms: number) => new Date(now + ms),
  };
}

describe("TokenCache", () => {
  test("a valid result is kept for the TTL, then loaded again", async () => {
    const { cache, advance, at } = setup();
    let loads = 0;
    const load = async () => ({ user: `u${++loads}`, expiresAt: at(3_600_000) });
    assert.equal((await cache.get("t", load))?.user, "u1");
    advance(299_999);
    assert.equal((await cache.get("t", load))?.user, "u1");
    advance(1);
    assert.equal((await cache.get("t", load))?.user, "u2");
  });

  test("a result never outlives the token's expiry", async () => {
    const { cache, advance, at } = setup();
    cache.set("t", { user: "u", expiresAt: at(5_000) });
    assert.ok(cache.lookup("t")?.value);
    advance(5_000);
    assert.equal(cache.lookup("t"), undefined);
  });

  test("a loaded token that is already expired counts as invalid", async () => {
    const { cache, at } = setup();
    const res = await cache.get("t", async () => ({ user: "u", expiresAt: at(-1) }));
    assert.equal(res, undefined);
    assert.deepEqual(cache.lookup("t"), { value: undefined });
  });

  test("an invalid token is remembered for the invalid TTL only", async () => {
    const { cache, advance } = setup();
    let loads = 0;
    const load = async () => {
      loads++;
      return undefined;
    };
    assert.equal(await cache.get("bad", load), undefined);
    assert.equal(await cache.get("bad", load), undefined);
    assert.equal(loads, 1);
    advance(10_000);
    await cache.get("bad", load);
    assert.equal(loads, 2);
  });

  test("an invalid TTL of 0 does not cache invalid tokens", async () => {
    const { cache } = setup({ invalidTtlMs: 0 });
    cache.set("bad", undefined);
    assert.equal(cache.lookup("bad"), undefined);
    assert.equal(cache.size, 0);
  });

  test("the bound evicts the least recently used entry", () => {
    const { cache, at } = setup({ maxEntries: 2 });
    cache.set("a", { user: "a", expiresAt: at(60_000) });
    cache.set("b", { user: "b", expiresAt: at(60_000) });
    assert.ok(cache.lookup("a"), "touching a makes b the oldest");
    cache.set("c", { user: "c", expiresAt: at(60_000) });
    assert.equal(cache.size, 2);
    assert.ok(cache.lookup("a"));
    assert.equal(cache.lookup("b"), undefined);
    assert.ok(cache.lookup("c"));
  });

  test("concurrent lookups of one token share one load", async () => {
    const { cache, at } = setup();
    let loads = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const load = async () => {
      loads++;
      await gate;
      return { user: "u", expiresAt: at(60_000) };
    };
    const both = Promise.all([cache.get("t", load), cache.get("t", load)]);
    release();
    const [a, b] = await both;
    assert.equal(loads, 1);
    assert.equal(a?.user, "u");
    assert.equal(b?.user, "u");
  });

  test("keys are SHA-256 digests, never the token itself", () => {
    const { cache, at } = setup();
    const token = "gAAAAABsecret-token-value";
    cache.set(token, { user: "u", expiresAt: at(60_000) });
    const keys = [...(cache as unknown as { entries: Map<string, unknown> }).entries.keys()];
    assert.deepEqual(keys, [tokenKey(token)]);
    assert.match(keys[0], /^[0-9a-f]{64}$/);
    assert.ok(!keys[0].includes(token));
  });

  test("delete forgets a token", () => {
    const { cache, at } = setup();
    cache.set("t", { user: "u", expiresAt: at(60_000) });
    cache.delete("t");
    assert.equal(cache.lookup("t"), undefined);
  });
});

describe("TokenCache.refresh", () => {
  test("asks the loader whatever is cached, and caches its answer for the reads that follow", async () => {
    const { cache, at } = setup();
    let calls = 0;
    let valid = true;
    const load = async () => {
      calls++;
      return valid ? { user: "alice", expiresAt: at(3600_000) } : undefined;
    };
    assert.equal((await cache.get("t", load))?.user, "alice");
    assert.equal((await cache.get("t", load))?.user, "alice");
    assert.equal(calls, 1);
    // Revoked in Keystone: a cached read would still say alice; a refresh does not.
    valid = false;
    assert.equal((await cache.get("t", load))?.user, "alice");
    assert.equal(await cache.refresh("t", load), undefined);
    assert.equal(calls, 2);
    assert.equal(await cache.get("t", load), undefined, "the refusal is what reads see now");
    assert.equal(calls, 2);
  });
});
