// The reserve keeper's rules (core/reserve.ts) on fake records and a fake Nova: it creates
// the deficit (target - free) in batches, within the cap of builds in flight and the quota's
// room; failed builds make it back off exponentially (capped), and it creates nothing then.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_BATCH } from "../../../src/core/instances.ts";
import { ReserveKeeper, type ReserveKeeperDeps } from "../../../src/core/reserve.ts";
import type { Pool } from "../../../src/store/pools.ts";
import { pool, silent } from "./fakes.ts";

const NOW = new Date("2026-01-01T00:00:00Z");

function keeper(
  p: Pool,
  o: {
    active?: number;
    building?: number;
    inFlight?: number;
    maxBuilds?: number;
    room?: number | null;
    failed?: { id: string; fault: string | null }[];
    createFails?: boolean;
  } = {},
) {
  const created: number[] = [];
  const removed: string[] = [];
  const states: { state: string; failures: number; backoffUntil: Date | null; message: string | null }[] = [];
  const d: ReserveKeeperDeps = {
    reserve: {
      withPoolLock: async (_id, fn) => fn(),
      whilePoolLocked: async (_id, fn) => fn(),
      failedFree: async () => o.failed ?? [],
      freeCounts: async () => ({ active: o.active ?? 0, building: o.building ?? 0 }),
      buildsInFlight: async () => o.inFlight ?? 0,
      setState: async (_id, s) => {
        states.push(s);
      },
      liveCount: async () => (o.active ?? 0) + (o.building ?? 0),
      takeSurplus: async () => [],
    },
    pools: { list: async () => [p], get: async () => p },
    instances: {
      create: async (input: { count?: number }) => {
        if (o.createFails) throw new Error("Nova said no");
        created.push(input.count ?? 1);
        return { ids: Array.from({ length: input.count ?? 1 }, (_, i) => `vm-${i}`) };
      },
      remove: async (id: string) => {
        removed.push(id);
      },
    } as unknown as ReserveKeeperDeps["instances"],
    nova: {
      getFlavor: async () => ({ id: "flavor-1", vcpus: 1, ram: 512 }),
      headroom: async () => ({ servers: o.room ?? null, limitedBy: "instances" }),
    } as unknown as ReserveKeeperDeps["nova"],
    metrics: { reserveCreate: () => {}, reserveFailure: () => {} },
    logger: silent,
    intervalSeconds: 10,
    maxConcurrentBuilds: o.maxBuilds ?? 1000,
    now: () => NOW,
  };
  return { keeper: new ReserveKeeper(d), created, removed, states };
}

describe("reserve deficit", () => {
  it("creates target minus free (ACTIVE and BUILD both count as free)", async () => {
    const k = keeper(pool({ min_reserve_vm: 5 }), { active: 1, building: 1 });
    const outcome = await k.keeper.refill(pool());
    assert.deepEqual(k.created, [3]);
    assert.equal(outcome?.created, 3);
    assert.equal(outcome?.free, 5);
    assert.equal(outcome?.limitedBy, undefined);
  });

  it("a full reserve creates nothing", async () => {
    const k = keeper(pool({ min_reserve_vm: 2 }), { active: 2, building: 1 });
    assert.equal((await k.keeper.refill(pool()))?.created, 0);
    assert.deepEqual(k.created, []);
  });

  it("a large deficit goes in batches of MAX_BATCH", async () => {
    const k = keeper(pool({ min_reserve_vm: MAX_BATCH * 2 + 5 }));
    const outcome = await k.keeper.refill(pool());
    assert.deepEqual(k.created, [MAX_BATCH, MAX_BATCH, 5]);
    assert.equal(outcome?.requests, 3);
  });

  it("the cap of builds in flight and the quota's room limit it, and say which", async () => {
    const capped = keeper(pool({ min_reserve_vm: 10 }), { inFlight: 7, maxBuilds: 10 });
    const byBuilds = await capped.keeper.refill(pool());
    assert.deepEqual(capped.created, [3]);
    assert.equal(byBuilds?.limitedBy, "builds");
    assert.equal(capped.states.at(-1)?.state, "throttled");

    const quota = keeper(pool({ min_reserve_vm: 10 }), { room: 4 });
    const byQuota = await quota.keeper.refill(pool());
    assert.deepEqual(quota.created, [4]);
    assert.equal(byQuota?.limitedBy, "quota");
    assert.equal(quota.states.at(-1)?.state, "quota");
  });

  it("a pool without a network is blocked, not built", async () => {
    const k = keeper(pool({ min_reserve_vm: 3, network_id: null }));
    assert.equal((await k.keeper.refill(pool()))?.limitedBy, "network");
    assert.deepEqual(k.created, []);
    assert.equal(k.states.at(-1)?.state, "blocked");
  });
});

describe("reserve back-off", () => {
  it("failed free instances are removed and the pool waits interval × 2^failures", async () => {
    const p = pool({ min_reserve_vm: 3, reserve_failures: 2 });
    const k = keeper(p, {
      failed: [
        { id: "bad-1", fault: "No valid host" },
        { id: "bad-2", fault: null },
      ],
    });
    const outcome = await k.keeper.refill(p);
    assert.equal(outcome?.limitedBy, "backoff");
    assert.deepEqual(k.removed, ["bad-1", "bad-2"]);
    assert.deepEqual(k.created, []);
    const s = k.states.at(-1)!;
    assert.equal(s.state, "backoff");
    assert.equal(s.failures, 3);
    assert.equal(s.backoffUntil?.getTime(), NOW.getTime() + 10 * 2 ** 3 * 1000);
    assert.match(s.message ?? "", /2 build\(s\) failed: No valid host/);
  });

  it("the wait never exceeds an hour", async () => {
    const p = pool({ min_reserve_vm: 1, reserve_failures: 20 });
    const k = keeper(p, { failed: [{ id: "bad", fault: null }] });
    await k.keeper.refill(p);
    assert.equal(k.states.at(-1)?.backoffUntil?.getTime(), NOW.getTime() + 3600 * 1000);
  });

  it("during the back-off a deficit creates nothing", async () => {
    const p = pool({
      min_reserve_vm: 3,
      reserve_state: "backoff",
      reserve_failures: 1,
      reserve_backoff_until: new Date(NOW.getTime() + 60_000),
    });
    const k = keeper(p);
    assert.equal((await k.keeper.refill(p))?.limitedBy, "backoff");
    assert.deepEqual(k.created, []);
  });

  it("a create Nova refuses starts a back-off", async () => {
    const p = pool({ min_reserve_vm: 2 });
    const k = keeper(p, { createFails: true });
    assert.equal((await k.keeper.refill(p))?.limitedBy, "backoff");
    assert.equal(k.states.at(-1)?.state, "backoff");
    assert.equal(k.states.at(-1)?.failures, 1);
  });

  it("failures are forgotten only once the reserve is full of ACTIVE instances", async () => {
    const p = pool({ min_reserve_vm: 2, reserve_failures: 3 });
    const building = keeper(p, { active: 1, building: 1 });
    await building.keeper.refill(p);
    assert.equal(building.states.at(-1)?.failures, 3);
    const active = keeper(p, { active: 2 });
    await active.keeper.refill(p);
    assert.equal(active.states.at(-1)?.failures, 0);
  });
});
