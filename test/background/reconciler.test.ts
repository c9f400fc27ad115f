// The reconciler and session housekeeping against the simulator: a server deleted behind our
// back is marked deleted with its assignments ended (history kept) and its sessions closed;
// an unknown TRS server of a pool is adopted; a stuck build is deleted, counted as a failed
// build of its pool, and replaced once the pool's back-off ends; sessions
// too old or of a gone instance are closed and their client rules removed from Neutron.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import type { AdminCore } from "../../src/core/admin-core.ts";
import { createBackground } from "../../src/core/background.ts";
import { TRS_TAG } from "../../src/core/pools.ts";
import { NO_FAULTS } from "../../src/simulator/server.ts";
import { makeInstances, makePool } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

async function until(_what: string, check: () => Promise<boolean>) {
  // Not a timed assertion: the test runner's own timeout ends a wait that never succeeds.
  for (;;) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("reconciler and housekeeping", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      workers: { enabled: false },
      allocation: { pollIntervalMs: 50, buildTimeoutSeconds: 5 },
    });
  });
  beforeEach(() => {
    Object.assign(s.sim.ctx.faults, NO_FAULTS);
  });
  after(async () => {
    await s?.stop();
  });

  const core = () => s.runtime.core as unknown as AdminCore;
  const db = () => s.runtime.store.db;
  const nova = () => s.runtime.deps.cloud.nova;

  async function simDelete(id: string) {
    const res = await fetch(`${s.sim.url}/compute/v2.1/servers/${id}`, {
      method: "DELETE",
      headers: { "x-auth-token": s.adminToken },
    });
    assert.equal(res.status, 204, await res.text());
  }

  async function openSession(
    instanceId: string,
    poolId: string,
    ruleIds: string[] = [],
    createdAt = new Date(),
  ) {
    const id = randomUUID();
    await db()
      .insertInto("sessions")
      .values({
        id,
        instance_id: instanceId,
        project_id: poolId,
        user_id: "u-1",
        rule_ids: JSON.stringify(ruleIds),
        created_at: createdAt,
      })
      .execute();
    return id;
  }

  async function clientRule(poolId: string) {
    const neutron = s.runtime.deps.cloud.neutron;
    const group = await neutron.createSecurityGroup({
      name: `g-${randomUUID().slice(0, 6)}`,
      projectId: poolId,
    });
    const rule = await neutron.createSecurityGroupRule({
      securityGroupId: group.id,
      protocol: "tcp",
      portRangeMin: 3389,
      portRangeMax: 3389,
      remoteIpPrefix: "203.0.113.7/32",
    });
    return rule.id;
  }

  const ruleExists = async (id: string) =>
    (await s.runtime.deps.cloud.neutron.listSecurityGroupRules({})).some((r) => r.id === id);

  it("marks an instance deleted in Nova behind our back within one run, keeping its history", async () => {
    const pool = await makePool(s);
    const [id, other] = await makeInstances(s, pool.id, 2);
    await db().insertInto("instance_users").values({ instance_id: id, user_id: "user-a" }).execute();
    const rule = await clientRule(pool.id);
    const session = await openSession(id, pool.id, [rule]);
    await simDelete(id);
    // Nova answers 204 and deletes asynchronously: wait until it no longer lists the server.
    await until("Nova forgot the server", async () =>
      (await nova().listServers({ projectId: pool.id })).every((x) => x.id !== id),
    );

    const report = await createBackground(s.runtime.deps, core()).reconciler.run();
    assert.deepEqual(report.gone, [id]);
    const row = await db().selectFrom("instances").selectAll().where("id", "=", id).executeTakeFirstOrThrow();
    assert.ok(row.deleted_at);
    assert.equal(row.status, "DELETED");
    assert.ok(await core().repos.instances.get(other), "the other instance stays");
    const users = await db().selectFrom("instance_users").selectAll().where("instance_id", "=", id).execute();
    assert.deepEqual(users, []);
    const history = await db()
      .selectFrom("assignment_history")
      .selectAll()
      .where("instance_id", "=", id)
      .execute();
    assert.ok(
      history.some((h) => JSON.stringify(h).includes("reconciler")),
      JSON.stringify(history),
    );
    const closed = await db()
      .selectFrom("sessions")
      .selectAll()
      .where("id", "=", session)
      .executeTakeFirstOrThrow();
    assert.ok(closed.closed_at);
    assert.equal(await ruleExists(rule), false);
  });

  it("adopts an unknown TRS-tagged server of a pool as a free instance", async () => {
    const pool = await makePool(s);
    const created = await nova().createServers({
      projectId: pool.id,
      name: "orphan",
      flavorId: s.sim.seed.flavorId,
      imageId: s.sim.seed.imageId,
      networkIds: [s.sim.seed.networkId],
      tags: [TRS_TAG],
    });
    const untagged = await nova().createServers({
      projectId: pool.id,
      name: "not-ours",
      flavorId: s.sim.seed.flavorId,
      imageId: s.sim.seed.imageId,
      networkIds: [s.sim.seed.networkId],
    });
    const report = await createBackground(s.runtime.deps, core(), { adoptAfterSeconds: 0 }).reconciler.run();
    assert.deepEqual(report.adopted, created.ids);
    const row = await core().repos.instances.get(created.ids[0]);
    assert.equal(row?.pool_id, pool.id);
    assert.equal(row?.name, "orphan");
    assert.equal(await core().repos.instances.get(untagged.ids[0]), undefined);
    // A second run adopts nothing more.
    const again = await createBackground(s.runtime.deps, core(), { adoptAfterSeconds: 0 }).reconciler.run();
    assert.deepEqual(again.adopted, []);
  });

  it("does not adopt a server younger than the grace period (a create still being recorded)", async () => {
    const pool = await makePool(s);
    const created = await nova().createServers({
      projectId: pool.id,
      name: "young",
      flavorId: s.sim.seed.flavorId,
      imageId: s.sim.seed.imageId,
      networkIds: [s.sim.seed.networkId],
      tags: [TRS_TAG],
    });
    const report = await createBackground(s.runtime.deps, core(), {
      adoptAfterSeconds: 3600,
    }).reconciler.run();
    assert.ok(!report.adopted.includes(created.ids[0]));
    assert.equal(await core().repos.instances.get(created.ids[0]), undefined);
  });

  it("deletes a build stuck past the timeout and the reserve replaces it after its back-off", async () => {
    const pool = await makePool(s, { min_reserve_vm: 1 });
    s.sim.ctx.faults.stuckBuild = true;
    const bg = createBackground(s.runtime.deps, core());
    const first = await bg.keeper.refill((await core().repos.pools.get(pool.id))!);
    assert.equal(first?.created, 1);
    const [stuck] = (await nova().listServers({ projectId: pool.id })).map((x) => x.id);
    s.sim.ctx.faults.stuckBuild = false;

    // Before the timeout nothing happens; past it (a clock moved ahead) the build is replaced.
    const early = await bg.reconciler.run();
    assert.deepEqual(early.stuckBuild, []);
    const late = createBackground(s.runtime.deps, core(), { now: () => new Date(Date.now() + 10_000) });
    const report = await late.reconciler.run();
    // The clock moved ahead makes other tests' young builds stuck too: look at this pool's.
    assert.ok(report.stuckBuild.includes(stuck), `${stuck} not in ${report.stuckBuild}`);
    assert.equal(await core().repos.instances.get(stuck), undefined);
    // A stuck build is a failed build: the pool backs off before replacing it...
    const held = await bg.keeper.refill((await core().repos.pools.get(pool.id))!);
    assert.equal(held?.created, 0);
    assert.equal(held?.limitedBy, "backoff");
    // ...and replaces it once the back-off is over.
    const after = createBackground(s.runtime.deps, core(), { now: () => new Date(Date.now() + 3600_000) });
    const second = await after.keeper.refill((await core().repos.pools.get(pool.id))!);
    assert.equal(second?.created, 1);
    // Nova deletes in the background: wait for the stuck one to go, then only its replacement is left.
    await until(
      "the stuck build is gone from Nova",
      async () => !(await nova().listServers({ projectId: pool.id })).some((x) => x.id === stuck),
    );
    const servers = await nova().listServers({ projectId: pool.id });
    assert.equal(servers.length, 1);
    assert.notEqual(servers[0].id, stuck);
    await until(
      "the replacement is active",
      async () => (await nova().getServer(servers[0].id)).status === "ACTIVE",
    );
  });

  it("ends the assignments and sessions of an instance an allocation found deleted (issue 12.8)", async () => {
    const pool = await makePool(s);
    const [id] = await makeInstances(s, pool.id, 1);
    await db().insertInto("instance_users").values({ instance_id: id, user_id: "user-left" }).execute();
    await db().insertInto("instance_groups").values({ instance_id: id, group_id: "group-left" }).execute();
    const session = await openSession(id, pool.id);
    // What the allocation's wait for ACTIVE does when Nova no longer knows the server; a crash
    // right after it left the assignments behind.
    await core().repos.instances.markDeleted(id);

    const report = await createBackground(s.runtime.deps, core()).reconciler.run();
    assert.ok(report.ended.includes(id), JSON.stringify(report));
    const holders = [
      ...(await db().selectFrom("instance_users").select("user_id").where("instance_id", "=", id).execute()),
      ...(await db()
        .selectFrom("instance_groups")
        .select("group_id")
        .where("instance_id", "=", id)
        .execute()),
    ];
    assert.deepEqual(holders, []);
    const history = await db()
      .selectFrom("assignment_history")
      .selectAll()
      .where("instance_id", "=", id)
      .execute();
    const ended = history.map((h) => JSON.stringify(h));
    assert.ok(
      ended.some((h) => h.includes("user-left") && h.includes("reconciler")),
      ended.join("\n"),
    );
    assert.ok(
      ended.some((h) => h.includes("group-left") && h.includes("reconciler")),
      ended.join("\n"),
    );
    const closed = await db()
      .selectFrom("sessions")
      .select("closed_at")
      .where("id", "=", session)
      .executeTakeFirstOrThrow();
    assert.ok(closed.closed_at);
    // Nothing is left for the next run.
    const again = await createBackground(s.runtime.deps, core()).reconciler.run();
    assert.ok(!again.ended.includes(id));
  });

  it("fails with code 4 the requests left pending whose task never started (issue 12.8)", async () => {
    const pool = await makePool(s);
    const task = randomUUID();
    await db()
      .insertInto("tasks")
      .values({ id: task, name: "broker.allocate", status: "PENDING", args: JSON.stringify({}) })
      .execute();
    const old = new Date(Date.now() - 3600_000);
    const request = async (taskId: string | null, createdAt: Date) => {
      const id = `req-${randomUUID()}`;
      await db()
        .insertInto("requests")
        .values({
          id,
          user_id: "u-1",
          project_id: pool.id,
          task_id: taskId,
          steps: "[]",
          created_at: createdAt,
          updated_at: createdAt,
        })
        .execute();
      return id;
    };
    const noTask = await request(null, old);
    const lostTask = await request(randomUUID(), old);
    const young = await request(null, new Date());
    const queued = await request(task, old);

    const report = await createBackground(s.runtime.deps, core()).reconciler.run();
    assert.deepEqual(report.unstarted.sort(), [noTask, lostTask].sort());
    const rows = await db()
      .selectFrom("requests")
      .select(["id", "status", "error_code", "completed_at"])
      .where("id", "in", [noTask, lostTask, young, queued])
      .execute();
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const id of [noTask, lostTask]) {
      assert.equal(byId.get(id)?.status, "failed");
      assert.equal(byId.get(id)?.error_code, 4);
      assert.ok(byId.get(id)?.completed_at);
    }
    assert.equal(byId.get(young)?.status, "pending");
    assert.equal(byId.get(queued)?.status, "pending", "a queued task will still run it");
  });

  it("closes sessions too old or of a gone instance, and removes their client rules", async () => {
    const pool = await makePool(s);
    const [live] = await makeInstances(s, pool.id, 1);
    const oldRule = await clientRule(pool.id);
    const old = await openSession(live, pool.id, [oldRule], new Date(Date.now() - 48 * 3600_000));
    const fresh = await openSession(live, pool.id);
    const orphan = await openSession("no-such-instance", pool.id);
    const closed = await createBackground(s.runtime.deps, core()).housekeeping.run();
    assert.ok(closed >= 2);
    const rows = await db()
      .selectFrom("sessions")
      .select(["id", "closed_at"])
      .where("id", "in", [old, fresh, orphan])
      .execute();
    const byId = new Map(rows.map((r) => [r.id, r.closed_at]));
    assert.ok(byId.get(old));
    assert.ok(byId.get(orphan));
    assert.equal(byId.get(fresh), null);
    assert.equal(await ruleExists(oldRule), false);
  });
});

describe("reconciler on the scheduler", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ reconcile: { intervalSeconds: 1 } });
  });
  after(async () => {
    await s?.stop();
  });

  it("reconciles a server deleted in the simulator within a period", async () => {
    const pool = await makePool(s);
    const [id] = await makeInstances(s, pool.id, 1);
    const res = await fetch(`${s.sim.url}/compute/v2.1/servers/${id}`, {
      method: "DELETE",
      headers: { "x-auth-token": s.adminToken },
    });
    assert.equal(res.status, 204);
    await until(
      "the record is deleted",
      async () =>
        await s.runtime.core.instances.require(id).then(
          () => false,
          () => true,
        ),
    );
    const row = await s.runtime.store.db
      .selectFrom("instances")
      .select("status")
      .where("id", "=", id)
      .executeTakeFirstOrThrow();
    assert.equal(row.status, "DELETED");
  });
});
