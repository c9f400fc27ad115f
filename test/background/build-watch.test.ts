// The build watcher: instances in BUILD in our records get Nova's status at the next look (one
// listing of the servers changed since the previous look), and with nothing building it makes
// no cloud call at all.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ListServersFilters } from "../../src/cloud/nova.ts";
import type { AdminCore } from "../../src/core/admin-core.ts";
import { createBackground } from "../../src/core/background.ts";
import { makeInstances, makePool } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("build watcher", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      workers: { enabled: false },
      admin: { enabled: false },
      broker: { enabled: false },
    });
  });
  after(async () => {
    await s?.stop();
  });

  const statusOf = async (ids: string[]) =>
    (
      await s.runtime.store.db
        .selectFrom("instances")
        .select(["id", "status"])
        .where("id", "in", ids)
        .execute()
    ).map((r) => r.status);

  it("copies Nova's status of building instances; asks only for changes after its first look", async () => {
    const nova = s.runtime.deps.cloud.nova;
    const looks: ListServersFilters[] = [];
    const listServers = nova.listServers.bind(nova);
    nova.listServers = (f: ListServersFilters = {}) => {
      looks.push(f);
      return listServers(f);
    };
    try {
      const { buildWatcher } = createBackground(s.runtime.deps, s.runtime.core as unknown as AdminCore);
      assert.equal(await buildWatcher.run(), 0, "nothing building yet");
      assert.equal(looks.length, 0, "no cloud call with nothing in BUILD");

      const pool = await makePool(s);
      const ids = await makeInstances(s, pool.id, 3);
      assert.deepEqual(await statusOf(ids), ["BUILD", "BUILD", "BUILD"]);
      // Bounded wait for the simulator's builds, then one look copies them.
      for (let i = 0; i < 400; i++) {
        const servers = await listServers({ projectId: pool.id });
        if (servers.every((x) => x.status === "ACTIVE")) break;
        await new Promise((r) => setTimeout(r, 25));
      }
      await buildWatcher.run();
      assert.deepEqual(await statusOf(ids), ["ACTIVE", "ACTIVE", "ACTIVE"]);
      assert.equal(looks.at(-1)?.changesSince, undefined, "the first look lists every TRS server");
      assert.deepEqual(looks.at(-1)?.tags, ["trs"]);

      // A second batch: the next look asks only for what changed since the previous one.
      const more = await makeInstances(s, pool.id, 2);
      await buildWatcher.run();
      assert.ok(looks.at(-1)?.changesSince instanceof Date, "later looks ask for changes only");
      for (let i = 0; i < 400 && (await statusOf(more)).some((x) => x !== "ACTIVE"); i++) {
        await new Promise((r) => setTimeout(r, 25));
        await buildWatcher.run();
      }
      assert.deepEqual(await statusOf(more), ["ACTIVE", "ACTIVE"]);

      const before = looks.length;
      assert.equal(await buildWatcher.run(), 0);
      assert.equal(looks.length, before, "nothing building again: no call");
    } finally {
      nova.listServers = listServers;
    }
  });
});
