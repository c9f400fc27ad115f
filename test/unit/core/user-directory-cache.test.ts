// The broker's cache of Keystone's answers about a user (auth.userCacheSeconds): kept for the
// TTL, asked again after it, never kept when Keystone failed, forgotten on an access change.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { KsProject } from "../../../src/cloud/keystone-types.ts";
import { UserDirectoryCache } from "../../../src/core/broker/context.ts";

function counting(ttlMs: number) {
  let now = 1_000;
  const calls = { projects: 0, groups: 0 };
  let fail = false;
  const cache = new UserDirectoryCache(
    async (userId) => {
      calls.projects++;
      if (fail) throw new Error("Keystone is down");
      return [{ id: `p-${userId}-${calls.projects}` } as KsProject];
    },
    async (userId) => {
      calls.groups++;
      return [`g-${userId}-${calls.groups}`];
    },
    ttlMs,
    () => now,
  );
  return {
    cache,
    calls,
    advance: (ms: number) => {
      now += ms;
    },
    failing: (v: boolean) => {
      fail = v;
    },
  };
}

describe("user directory cache", () => {
  it("keeps a user's projects and groups for the TTL, then asks again", async () => {
    const c = counting(30_000);
    assert.equal((await c.cache.projects("u1"))[0].id, "p-u1-1");
    assert.equal((await c.cache.projects("u1"))[0].id, "p-u1-1");
    assert.deepEqual(await c.cache.groups("u1"), ["g-u1-1"]);
    assert.deepEqual(await c.cache.groups("u1"), ["g-u1-1"]);
    assert.equal((await c.cache.projects("u2"))[0].id, "p-u2-2", "one entry per user");
    assert.deepEqual(c.calls, { projects: 2, groups: 1 });
    c.advance(30_001);
    assert.equal((await c.cache.projects("u1"))[0].id, "p-u1-3");
    assert.deepEqual(await c.cache.groups("u1"), ["g-u1-2"]);
  });

  it("0 keeps nothing", async () => {
    const c = counting(0);
    await c.cache.projects("u1");
    await c.cache.projects("u1");
    assert.equal(c.calls.projects, 2);
  });

  it("a failed answer is not kept", async () => {
    const c = counting(30_000);
    c.failing(true);
    await assert.rejects(c.cache.projects("u1"), /down/);
    c.failing(false);
    assert.equal((await c.cache.projects("u1"))[0].id, "p-u1-2");
  });

  it("forget drops one user's answers, or everyone's", async () => {
    const c = counting(30_000);
    await c.cache.projects("u1");
    await c.cache.projects("u2");
    c.cache.forget("u1");
    await c.cache.projects("u1");
    await c.cache.projects("u2");
    assert.equal(c.calls.projects, 3);
    c.cache.forget();
    await c.cache.projects("u2");
    assert.equal(c.calls.projects, 4);
  });
});
