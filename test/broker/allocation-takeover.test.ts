// Two runs of one allocation task (the first one's lease lapsed while it waited, and recovery
// ran it again elsewhere): whichever ends the request first, its outcome stands, and the late
// run gives back what it took, so no instance stays held and no port stays open for a request
// that failed. Seen under load in the 200-user concurrency test: 9 instances held by users
// whose requests had failed with 12.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, beforeEach, describe, it } from "node:test";
import { ALLOCATION_TASK } from "../../src/core/allocation/index.ts";
import { NO_FAULTS } from "../../src/simulator/server.ts";
import { RequestsRepository } from "../../src/store/requests.ts";
import { clientRules, makeInstances, makePool, makeUser, type TestUser } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("a late run of an allocation", () => {
  let s: Stack;
  let pool: { id: string; name: string };
  before(async () => {
    s = await startStack({ admin: { enabled: false }, allocation: { pollIntervalMs: 50 } });
    pool = await makePool(s);
  });
  beforeEach(() => {
    Object.assign(s.sim.ctx.faults, NO_FAULTS);
  });
  after(async () => {
    await s?.stop();
  });

  const db = () => s.runtime.store.db;
  const repo = () => new RequestsRepository(db());

  /** A free reserve instance, ACTIVE in Nova and in our records. */
  async function readyInstance(): Promise<string> {
    const [id] = await makeInstances(s, pool.id, 1);
    for (let i = 0; i < 400 && (await s.runtime.deps.cloud.nova.getServer(id)).status !== "ACTIVE"; i++)
      await new Promise((r) => setTimeout(r, 25));
    await db().updateTable("instances").set({ status: "ACTIVE" }).where("id", "=", id).execute();
    return id;
  }

  async function newRequest(u: TestUser): Promise<string> {
    const id = `req-${randomUUID()}`;
    await repo().insert({
      id,
      userId: u.id,
      userName: u.name,
      domainId: "default",
      projectId: pool.id,
      projectName: pool.name,
      connType: "rdp",
      clientIp: "203.0.113.50",
      clientOs: null,
      clientInfo: null,
      taskId: null,
    });
    return id;
  }

  const holders = async (instanceId: string) =>
    (
      await db()
        .selectFrom("instance_users")
        .select("user_id")
        .where("instance_id", "=", instanceId)
        .execute()
    ).map((r) => r.user_id);

  /** Waits (bounded) until the run has claimed an instance for the user; answers it. */
  async function claimed(userId: string): Promise<string> {
    for (let i = 0; i < 400; i++) {
      const rows = await db()
        .selectFrom("instance_users")
        .select("instance_id")
        .where("user_id", "=", userId)
        .execute();
      if (rows.length > 0) {
        assert.equal(rows.length, 1);
        return rows[0].instance_id;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`no instance claimed for ${userId}`);
  }

  it("a run that claimed after another run failed the request gives the instance back and closes nothing open", async () => {
    await readyInstance();
    const u = await makeUser(s, [pool.id]);
    const requestId = await newRequest(u);
    // Slow cloud calls keep the run busy after its claim.
    s.sim.ctx.faults.latencyMs = 150;
    const late = s.runtime.core.broker.allocate(requestId);
    const instance = await claimed(u.id);
    // Meanwhile the other run ended the request: no room in the quota.
    await repo().fail(requestId, [], 12, { project_name: pool.name });

    const result = await late;
    s.sim.ctx.faults.latencyMs = 0;
    assert.equal(result.status, "finished_before");
    assert.deepEqual(await holders(instance), [], "the instance is free again");
    const row = await repo().get(requestId);
    assert.equal(row?.status, "failed");
    assert.equal(row?.error_code, 12);
    const sessions = await db()
      .selectFrom("sessions")
      .select("id")
      .where("request_id", "=", requestId)
      .execute();
    assert.deepEqual(sessions, []);
    assert.deepEqual(await clientRules(s, instance), [], "no port left open for the late run");
  });

  it("a run aborted (lease lost) after its claim gives the instance back when the request already failed", async () => {
    await readyInstance();
    const u = await makeUser(s, [pool.id]);
    const requestId = await newRequest(u);
    s.sim.ctx.faults.latencyMs = 150;
    const controller = new AbortController();
    const late = s.runtime.core.broker.allocate(requestId, controller.signal);
    const instance = await claimed(u.id);
    await repo().fail(requestId, [], 12, { project_name: pool.name });
    controller.abort(new Error("task lease lost (revoked or taken over)"));
    await assert.rejects(late);
    s.sim.ctx.faults.latencyMs = 0;
    assert.deepEqual(await holders(instance), []);
    assert.deepEqual(await clientRules(s, instance), [], "rules it opened before it stopped are removed");
  });

  it("a run aborted while the request is still open keeps the claim: the run that goes on finds it as the user's", async () => {
    await readyInstance();
    const u = await makeUser(s, [pool.id]);
    const requestId = await newRequest(u);
    s.sim.ctx.faults.latencyMs = 150;
    const controller = new AbortController();
    const first = s.runtime.core.broker.allocate(requestId, controller.signal);
    const instance = await claimed(u.id);
    controller.abort(new Error("task lease lost (revoked or taken over)"));
    await assert.rejects(first);
    s.sim.ctx.faults.latencyMs = 0;
    assert.deepEqual(await holders(instance), [u.id]);
    const second = await s.runtime.core.broker.allocate(requestId);
    assert.equal(second.status, "completed");
    assert.equal(second.status === "completed" && second.instance_id, instance);
  });

  it("a run whose task is revoked after its claim gives the instance back: no run will finish the request", async () => {
    await readyInstance();
    const u = await makeUser(s, [pool.id]);
    const requestId = await newRequest(u);
    s.sim.ctx.faults.latencyMs = 150;
    const taskId = await s.runtime.deps.tasks.runNow(ALLOCATION_TASK, { request_id: requestId });
    await repo().setTask(requestId, taskId);
    await claimed(u.id);
    assert.ok(await s.runtime.deps.tasks.revoke(taskId));
    for (let i = 0; i < 400; i++) {
      const held = await db()
        .selectFrom("instance_users")
        .select("instance_id")
        .where("user_id", "=", u.id)
        .execute();
      if (held.length === 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    s.sim.ctx.faults.latencyMs = 0;
    const held = await db()
      .selectFrom("instance_users")
      .select("instance_id")
      .where("user_id", "=", u.id)
      .execute();
    assert.deepEqual(held, []);
    assert.notEqual((await repo().get(requestId))?.status, "completed");
  });
});
