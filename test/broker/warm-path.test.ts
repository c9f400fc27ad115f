// The warm path (docs/broker-api.md#the-warm-path): a free ACTIVE reserve instance whose address
// we know is claimed by request-vm itself, with the completed request and its session, so the
// first get-vm says `completed`; no task, and no call to Nova or Neutron, nor to Keystone for
// the token get-vm shows. Anything that needs the cloud goes the ordinary way (the task).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { RequestsRepository } from "../../src/store/requests.ts";
import { broker, finished, makeInstances, makePool, makeUser, requestVm } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

interface SimStats {
  services: Record<string, number>;
  routes: Record<string, number>;
}

describe("warm path", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ admin: { enabled: false } });
  });
  after(async () => {
    await s?.stop();
  });

  const stats = async (reset = false): Promise<SimStats> => {
    const res = await fetch(`${s.sim.url}/sim/stats`, {
      method: reset ? "DELETE" : "GET",
      headers: { "X-Auth-Token": s.adminToken },
    });
    return reset ? { services: {}, routes: {} } : ((await res.json()) as SimStats);
  };

  /** A pool with `count` reserve instances ACTIVE in our records, with their addresses. */
  async function warmPool(count: number) {
    const pool = await makePool(s);
    const ids = await makeInstances(s, pool.id, count);
    for (let round = 0; round < 600; round++) {
      await s.runtime.core.instances.syncFromNova(
        await s.runtime.deps.cloud.nova.listServers({ projectId: pool.id }),
      );
      const rows = await Promise.all(ids.map((id) => s.runtime.deps.repos.instances.get(id)));
      if (rows.every((r) => r?.status === "ACTIVE" && r.fixed_ip)) return { pool, ids };
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error("the reserve did not become ACTIVE");
  }

  const getVm = (token: string, request: string) =>
    broker(s, "/v1/get-vm/", { request }, { "X-Auth-Token": token });

  it("request-vm answers with the desktop claimed: the first get-vm is completed, nothing asked of Nova or Neutron", async () => {
    const { pool, ids } = await warmPool(1);
    const u = await makeUser(s, [pool.id]);
    await stats(true);
    const { requestId, token } = await requestVm(s, u, { conn_type: "rdp" });
    const res = await getVm(token, requestId);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, "completed", JSON.stringify(res.body));
    assert.equal(res.body.server.id, ids[0]);
    assert.equal(res.body.server.status, "ACTIVE");
    const row = await s.runtime.deps.repos.instances.get(ids[0]);
    assert.equal(res.body.server.ip, row?.fixed_ip);
    assert.deepEqual(
      res.body.steps.map((x: any) => [x.name, x.outcome]),
      [
        ["find_instance", "ok"],
        ["wait_active", "ok"],
        ["floating_ip", "ok"],
        ["volume", "skipped"],
        ["resolve_ip", "ok"],
        ["client_rules", "skipped"],
        ["session", "ok"],
      ],
    );
    for (const step of res.body.steps)
      assert.match(step.started_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$/);
    const seen = await stats();
    assert.equal(seen.services.compute ?? 0, 0, JSON.stringify(seen.routes));
    assert.equal(seen.services.network ?? 0, 0, JSON.stringify(seen.routes));
    // The password authentication and the user's projects; get-vm's token was not validated.
    assert.equal(seen.services.identity, 2, JSON.stringify(seen.routes));

    const request = await new RequestsRepository(s.runtime.store.db).get(requestId);
    assert.equal(request?.task_id, null, "no task");
    assert.equal(request?.status, "completed");
    const sessions = await s.runtime.store.db
      .selectFrom("sessions")
      .selectAll()
      .where("request_id", "=", requestId)
      .execute();
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0].user_id, u.id);
    assert.equal(sessions[0].instance_id, ids[0]);
    assert.equal(sessions[0].connection_type, "rdp");
    assert.equal(sessions[0].client_ip, "127.0.0.1");
    const holders = await s.runtime.store.db
      .selectFrom("assignment_history")
      .select(["subject_id", "action"])
      .where("instance_id", "=", ids[0])
      .execute();
    assert.deepEqual(holders, [{ subject_id: u.id, action: "assign" }]);
  });

  it("the same user again gets the same desktop, through the task (it is the user's already)", async () => {
    const { pool, ids } = await warmPool(2);
    const u = await makeUser(s, [pool.id]);
    const first = await requestVm(s, u);
    const desktop = (await getVm(first.token, first.requestId)).body.server.id;
    assert.ok(ids.includes(desktop));
    const again = await requestVm(s, u);
    const res = await finished(s, again.token, again.requestId);
    assert.equal(res.body.status, "completed", JSON.stringify(res.body));
    assert.equal(res.body.server.id, desktop);
    assert.match(res.body.steps[0].detail, /assigned to the user/);
    const row = await new RequestsRepository(s.runtime.store.db).get(again.requestId);
    assert.ok(row?.task_id, "the second request ran as a task");
  });

  it("a client address with a connection type (rules to open) goes the ordinary way", async () => {
    const { pool } = await warmPool(1);
    const u = await makeUser(s, [pool.id]);
    const { requestId, token } = await requestVm(s, u, { conn_type: "rdp", ip_address: "192.0.2.7" });
    const res = await finished(s, token, requestId);
    assert.equal(res.body.status, "completed", JSON.stringify(res.body));
    assert.equal(res.body.steps.find((x: any) => x.name === "client_rules")?.outcome, "ok");
    const row = await new RequestsRepository(s.runtime.store.db).get(requestId);
    assert.ok(row?.task_id);
  });

  it("with allocation.warmPath off, every request runs as a task and asks Nova first", async () => {
    const cold = await startStack({ admin: { enabled: false }, allocation: { warmPath: false } });
    try {
      const pool = await makePool(cold);
      const [id] = await makeInstances(cold, pool.id, 1);
      for (let round = 0; round < 600; round++) {
        await cold.runtime.core.instances.syncFromNova(
          await cold.runtime.deps.cloud.nova.listServers({ projectId: pool.id }),
        );
        if ((await cold.runtime.deps.repos.instances.get(id))?.status === "ACTIVE") break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const u = await makeUser(cold, [pool.id]);
      const { requestId, token } = await requestVm(cold, u);
      const res = await finished(cold, token, requestId);
      assert.equal(res.body.server.id, id);
      const row = await new RequestsRepository(cold.runtime.store.db).get(requestId);
      assert.ok(row?.task_id);
    } finally {
      await cold.stop();
    }
  });
});
