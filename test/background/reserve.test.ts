// The reserve keeper against the simulator: refills from empty in batched Nova requests,
// never above the project's quota nor the cap of builds in flight, never twice for one
// deficit when two keepers run at once, and backs off when builds fail (ERROR, or stuck in
// BUILD and removed by the reconciler), forgetting the failures once its builds succeed.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import { startBackgroundWork } from "../../src/composition.ts";
import type { AdminCore } from "../../src/core/admin-core.ts";
import { createBackground } from "../../src/core/background.ts";
import { metrics } from "../../src/core/metrics.ts";
import { RESERVE_JOB } from "../../src/core/reserve.ts";
import { NO_FAULTS } from "../../src/simulator/server.ts";
import { PeriodicJobRepository } from "../../src/store/tasks.ts";
import { Scheduler } from "../../src/tasks/scheduler.ts";
import { makePool } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

/**
 * A stack whose workers are off (the test drives the keepers itself, nothing runs behind its
 * back) and whose Nova client counts the create requests made for each pool.
 */
function keeperStack(overrides: Record<string, unknown> = {}) {
  const env = {
    s: undefined as unknown as Stack,
    /** Nova create requests: [project, count] of each. */
    requests: [] as [string, number][],
    /** The counts of the create requests made for one pool. */
    createRequests: (poolId: string) => env.requests.filter(([p]) => p === poolId).map(([, n]) => n),
  };
  before(async () => {
    env.s = await startStack({
      workers: { enabled: false },
      reserve: { intervalSeconds: 1, maxConcurrentBuilds: 1000 },
      ...overrides,
    });
    const nova = env.s.runtime.deps.cloud.nova;
    const create = nova.createServers.bind(nova);
    nova.createServers = async (input) => {
      env.requests.push([input.projectId ?? "", input.minCount ?? 1]);
      return create(input);
    };
  });
  beforeEach(() => {
    env.requests = [];
    Object.assign(env.s.sim.ctx.faults, NO_FAULTS);
  });
  after(async () => {
    await env.s?.stop();
  });
  return env;
}

describe("reserve keeper", () => {
  const env = keeperStack();
  let s: Stack;
  before(() => {
    s = env.s;
  });
  const { createRequests } = env;

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
      reserve: { ...s.runtime.deps.config.reserve, intervalSeconds: 1, maxConcurrentBuilds: inFlight + 2 },
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
    // After the back-off it tries again, with one probe build (the circuit is half-open).
    const later = createBackground(s.runtime.deps, core(), {
      now: () => new Date(Date.now() + 3600_000),
    });
    await later.keeper.run();
    assert.deepEqual(createRequests(pool.id), [2, 1]);
    assert.equal((await core().repos.pools.get(pool.id))?.reserve_state, "half_open");
  });
});

describe("reserve keeper with builds that hang", () => {
  const env = keeperStack({ allocation: { pollIntervalMs: 50, buildTimeoutSeconds: 30 } });
  let s: Stack;
  before(() => {
    s = env.s;
  });
  const { createRequests } = env;

  const core = () => s.runtime.core as unknown as AdminCore;
  const nova = () => s.runtime.deps.cloud.nova;
  const pool = async (id: string) => (await core().repos.pools.get(id))!;
  /** A background whose clock stands `seconds` ahead: past the build timeout, or a back-off. */
  const ahead = (seconds: number) => {
    const now = new Date(Date.now() + seconds * 1000);
    return { now, ...createBackground(s.runtime.deps, core(), { now: () => now, adoptAfterSeconds: 3600 }) };
  };
  const noServers = (poolId: string) => async () =>
    (await nova().listServers({ projectId: poolId })).length === 0;
  const failuresCounted = async (poolId: string) => {
    const metric = await metrics.registry.getSingleMetric("rs_reserve_failures_total")?.get();
    return metric?.values.find((v) => v.labels.pool === poolId)?.value ?? 0;
  };
  async function until(what: string, check: () => Promise<boolean>) {
    for (let i = 0; !(await check()); i++) {
      assert.ok(i < 400, `never: ${what}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  it("backs off a pool whose builds hang once its stuck builds are removed, and says so", async () => {
    const { id } = await makePool(s, { min_reserve_vm: 2 });
    s.sim.ctx.faults.stuckBuild = true;
    const bg = createBackground(s.runtime.deps, core(), { adoptAfterSeconds: 3600 });
    assert.equal((await bg.keeper.refill(await pool(id)))?.created, 2);
    const stuck = (await nova().listServers({ projectId: id })).map((x) => x.id);
    assert.equal(stuck.length, 2);
    // Builds in flight fill the reserve: nothing more is created meanwhile.
    assert.equal((await bg.keeper.refill(await pool(id)))?.created, 0);

    // Past the build timeout the reconciler removes them: two failed builds of the pool.
    const counted = await failuresCounted(id);
    const report = await ahead(60).reconciler.run();
    for (const x of stuck) assert.ok(report.stuckBuild.includes(x), `${x} not in ${report.stuckBuild}`);
    const row = await pool(id);
    assert.equal(row.reserve_state, "backoff");
    assert.equal(row.reserve_failures, 1);
    assert.ok(row.reserve_backoff_until && row.reserve_backoff_until > new Date());
    assert.match(row.reserve_message ?? "", /2 build\(s\) failed: stuck in BUILD for more than 30 s/);
    assert.equal(await failuresCounted(id), counted + 1);

    // Before the back-off ends nothing is created, by the periodic run or a refill, even
    // though the reserve is empty and the builds would now succeed.
    s.sim.ctx.faults.stuckBuild = false;
    await bg.keeper.run();
    assert.equal((await bg.keeper.refill(await pool(id)))?.limitedBy, "backoff");
    await bg.reconciler.run();
    assert.deepEqual(createRequests(id), [2]);
    assert.equal((await pool(id)).reserve_state, "backoff");
    await until("Nova deleted the stuck builds", noServers(id));

    // After the back-off it tries again, with one probe build (the circuit is half-open).
    assert.equal((await ahead(3600).keeper.refill(await pool(id)))?.created, 1);
    assert.deepEqual(createRequests(id), [2, 1]);
  });

  it("backs off longer while builds keep hanging, and forgets once they reach ACTIVE", async () => {
    const { id } = await makePool(s, { min_reserve_vm: 1 });
    s.sim.ctx.faults.stuckBuild = true;
    const bg = createBackground(s.runtime.deps, core(), { adoptAfterSeconds: 3600 });
    await bg.keeper.refill(await pool(id));
    const late = ahead(60);
    await late.reconciler.run();
    const first = await pool(id);
    assert.equal(first.reserve_failures, 1);
    await until("Nova deleted the first stuck build", noServers(id));

    // The probe build after the back-off hangs too. While it is in flight the circuit is
    // half-open, and the failures are not forgotten: nothing has succeeded yet.
    assert.equal((await ahead(3600).keeper.refill(await pool(id)))?.created, 1);
    await bg.keeper.refill(await pool(id));
    const retrying = await pool(id);
    assert.equal(retrying.reserve_failures, 1);
    assert.equal(retrying.reserve_state, "half_open");
    assert.match(retrying.reserve_message ?? "", /Probing with one build \(half-open\) after failure 1/);
    const later = ahead(3660);
    await later.reconciler.run();
    const second = await pool(id);
    assert.equal(second.reserve_state, "backoff");
    assert.equal(second.reserve_failures, 2);
    assert.match(second.reserve_message ?? "", /\(failure 2\)/);
    // interval × 2^failures: the second back-off is twice the first.
    const wait = (p: typeof first, from: Date) => (p.reserve_backoff_until?.getTime() ?? 0) - from.getTime();
    assert.equal(wait(first, late.now), 2000);
    assert.equal(wait(second, later.now), 4000);
    await until("Nova deleted the second stuck build", noServers(id));

    // The builds recover: once the reserve is full of ACTIVE instances, the failures are gone.
    s.sim.ctx.faults.stuckBuild = false;
    assert.equal((await ahead(7200).keeper.refill(await pool(id)))?.created, 1);
    const [replacement] = await nova().listServers({ projectId: id });
    await until(
      "the replacement is ACTIVE",
      async () => (await nova().getServer(replacement.id)).status === "ACTIVE",
    );
    await bg.reconciler.run();
    await bg.keeper.refill(await pool(id));
    const healed = await pool(id);
    assert.equal(healed.reserve_state, "ok");
    assert.equal(healed.reserve_failures, 0);
    assert.equal(healed.reserve_message, null);
    assert.equal(healed.reserve_backoff_until, null);
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
        new Scheduler({
          jobs: new PeriodicJobRepository(s.runtime.store.db),
          logger: s.runtime.deps.logger,
          workerId,
          tickMs: 20,
        }),
    );
    for (const scheduler of schedulers) startBackgroundWork({ ...s.runtime.deps, scheduler }, core);
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
