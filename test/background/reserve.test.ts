// The reserve keeper against the simulator: refills from empty in batched Nova requests,
// never above the project's quota nor the cap of builds in flight, never twice for one
// deficit when two keepers run at once, and backs off when builds fail.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import type { AdminCore } from "../../src/core/admin-core.ts";
import { createBackground, startBackground } from "../../src/core/background.ts";
import { RESERVE_JOB } from "../../src/core/reserve.ts";
import { NO_FAULTS } from "../../src/simulator/server.ts";
import { Scheduler } from "../../src/tasks/scheduler.ts";
import { makePool } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("reserve keeper", () => {
  let s: Stack;
  /** Nova create requests: [project, count] of each. */
  let requests: [string, number][];
  /** The counts of the create requests made for one pool. */
  const createRequests = (poolId: string) => requests.filter(([p]) => p === poolId).map(([, n]) => n);
  before(async () => {
    // Workers off: the test drives the keepers itself, nothing runs behind its back.
    s = await startStack({
      workers: { enabled: false },
      reserve: { intervalSeconds: 1, maxConcurrentBuilds: 1000 },
    });
    const nova = s.runtime.deps.cloud.nova;
    const create = nova.createServers.bind(nova);
    nova.createServers = async (input) => {
      requests.push([input.projectId ?? "", input.minCount ?? 1]);
      return create(input);
    };
  });
  beforeEach(() => {
    requests = [];
    Object.assign(s.sim.ctx.faults, NO_FAULTS);
  });
  after(async () => {
    await s?.stop();
  });

  const core = () => s.runtime.core as unknown as AdminCore;
  const keeper = () => createBackground(s.runtime.deps, core()).keeper;
  const novaCount = async (poolId: string) =>
    (await s.runtime.deps.cloud.nova.listServers({ projectId: poolId })).length;

  it("refills an empty reserve to its target in batched requests", async () => {
    const pool = await makePool(s, { min_reserve_vm: 130 });
    await s.runtime.deps.cloud.nova.setQuotas(pool.id, { instances: -1, cores: -1, ram: -1 });
    const outcome = await keeper().refill((await core().repos.pools.get(pool.id))!);
    assert.deepEqual(createRequests(pool.id), [100, 30]);
    assert.equal(outcome?.created, 130);
    assert.equal(await novaCount(pool.id), 130);
    // Full: a second run creates nothing.
    const again = await keeper().refill((await core().repos.pools.get(pool.id))!);
    assert.equal(again?.created, 0);
    assert.deepEqual(createRequests(pool.id), [100, 30]);
    assert.equal((await core().repos.pools.get(pool.id))?.reserve_state, "ok");
  });

  it("never creates above the project's Nova quota and says why", async () => {
    const pool = await makePool(s, { min_reserve_vm: 10 });
    await s.runtime.deps.cloud.nova.setQuotas(pool.id, { instances: 4 });
    await keeper().run();
    await keeper().run();
    assert.equal(await novaCount(pool.id), 4);
    assert.deepEqual(createRequests(pool.id), [4]);
    const row = await core().repos.pools.get(pool.id);
    assert.equal(row?.reserve_state, "quota");
    assert.match(row?.reserve_message ?? "", /quota \(instances\)/);
  });

  it("holds the global cap of builds in flight", async () => {
    const pool = await makePool(s, { min_reserve_vm: 5 });
    const inFlight = Number(
      (
        await s.runtime.store.db
          .selectFrom("instances")
          .select((eb) => eb.fn.countAll().as("n"))
          .where("status", "=", "BUILD")
          .where("deleted_at", "is", null)
          .executeTakeFirstOrThrow()
      ).n,
    );
    const config = {
      ...s.runtime.deps.config,
      reserve: { intervalSeconds: 1, maxConcurrentBuilds: inFlight + 2 },
    };
    const capped = createBackground({ ...s.runtime.deps, config }, core()).keeper;
    const outcome = await capped.refill((await core().repos.pools.get(pool.id))!);
    assert.equal(outcome?.created, 2);
    assert.equal(outcome?.limitedBy, "builds");
    assert.equal((await core().repos.pools.get(pool.id))?.reserve_state, "throttled");
  });

  it("two keepers on one database never create one deficit twice", async () => {
    const pool = await makePool(s, { min_reserve_vm: 12 });
    const row = (await core().repos.pools.get(pool.id))!;
    const [a, b] = [keeper(), keeper()];
    const outcomes = await Promise.all([a.refill(row), b.refill(row), a.run(), b.run()]);
    assert.equal(await novaCount(pool.id), 12);
    const created = outcomes.slice(0, 2).reduce((n, o) => n + (o?.created ?? 0), 0);
    assert.ok(created <= 12);
    assert.equal(
      createRequests(pool.id).reduce((n, c) => n + c, 0),
      12,
    );
  });

  it("backs off a pool whose builds fail, and says so", async () => {
    const pool = await makePool(s, { min_reserve_vm: 2 });
    s.sim.ctx.faults.errorBuilds = true;
    const bg = createBackground(s.runtime.deps, core(), { adoptAfterSeconds: 3600 });
    await bg.keeper.run();
    assert.deepEqual(createRequests(pool.id), [2]);
    // The builds go to ERROR; the reconciler copies Nova's status into our records.
    for (;;) {
      const servers = await s.runtime.deps.cloud.nova.listServers({ projectId: pool.id });
      if (servers.every((x) => x.status === "ERROR")) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    await bg.reconciler.run();
    await bg.keeper.run();
    const row = await core().repos.pools.get(pool.id);
    assert.equal(row?.reserve_state, "backoff");
    assert.equal(row?.reserve_failures, 1);
    assert.ok(row?.reserve_backoff_until && row.reserve_backoff_until > new Date());
    assert.match(row?.reserve_message ?? "", /2 build\(s\) failed/);
    // While backing off, nothing is created; the broken instances were removed.
    s.sim.ctx.faults.errorBuilds = false;
    await bg.keeper.run();
    assert.deepEqual(createRequests(pool.id), [2]);
    // Nova deletes in the background: the broken servers go away shortly.
    for (let i = 0; (await novaCount(pool.id)) > 0; i++) {
      assert.ok(i < 200, "the broken servers were never deleted in Nova");
      await new Promise((r) => setTimeout(r, 50));
    }
    // After the back-off it tries again.
    const later = createBackground(s.runtime.deps, core(), {
      now: () => new Date(Date.now() + 3600_000),
    });
    await later.keeper.run();
    assert.deepEqual(createRequests(pool.id), [2, 2]);
  });
});

describe("reserve keeper on two schedulers", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      workers: { enabled: false },
      reserve: { intervalSeconds: 1, maxConcurrentBuilds: 1000 },
    });
  });
  after(async () => {
    await s?.stop();
  });

  it("two worker processes on one database never create one pool's deficit twice", async () => {
    const core = s.runtime.core as unknown as AdminCore;
    const pool = await makePool(s, { min_reserve_vm: 15 });
    let created = 0;
    const nova = s.runtime.deps.cloud.nova;
    const create = nova.createServers.bind(nova);
    nova.createServers = async (input) => {
      if (input.projectId === pool.id) created += input.minCount ?? 1;
      return create(input);
    };
    // Two "processes": each its own scheduler (worker id) and keeper, on one database.
    const schedulers = ["w1", "w2"].map(
      (workerId) =>
        new Scheduler({ db: s.runtime.store.db, logger: s.runtime.deps.logger, workerId, tickMs: 20 }),
    );
    for (const scheduler of schedulers) startBackground({ ...s.runtime.deps, scheduler }, core);
    await Promise.all(schedulers.map((x) => x.start()));
    try {
      for (let round = 0; round < 5; round++) {
        await Promise.all(schedulers.map((x) => x.trigger(RESERVE_JOB)));
        await Promise.all(schedulers.map((x) => x.runDue()));
        await Promise.all(schedulers.map((x) => x.idle()));
      }
      for (;;) {
        if ((await core.repos.instances.countLive(pool.id)) >= 15) break;
        await Promise.all(schedulers.map((x) => x.trigger(RESERVE_JOB)));
        await new Promise((r) => setTimeout(r, 50));
      }
      await Promise.all(schedulers.map((x) => x.idle()));
    } finally {
      await Promise.all(schedulers.map((x) => x.stop()));
    }
    assert.equal(created, 15);
    assert.equal((await nova.listServers({ projectId: pool.id })).length, 15);
  });
});
