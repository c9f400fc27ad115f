// The allocation end to end through the broker API against the simulator: a desktop from the
// reserve, one created on demand, steps recorded, and the session written.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { finished, makeInstances, makePool, makeUser, requestVm } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("allocation flow", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ admin: { enabled: false } });
  });
  after(async () => {
    await s?.stop();
  });

  it("hands out a reserve instance, records the steps and the session", async () => {
    const pool = await makePool(s);
    const [reserved] = await makeInstances(s, pool.id, 1);
    const u = await makeUser(s, [pool.id]);
    const { requestId, token } = await requestVm(s, u, {
      conn_type: "rdp",
      os: "Linux",
      client: "RS client 2.4",
    });
    assert.match(requestId, /^req-[0-9a-f-]{36}$/);
    const res = await finished(s, token, requestId);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.status, "completed");
    assert.equal(res.body.message, null);
    assert.equal(res.body.server.id, reserved);
    assert.equal(res.body.server.status, "ACTIVE");
    assert.match(res.body.server.ip, /^\d+\.\d+\.\d+\.\d+$/);
    const names = res.body.steps.map((x: any) => x.name);
    assert.deepEqual(names.slice(0, 3), ["find_instance", "wait_active", "floating_ip"]);
    assert.ok(names.includes("session"));
    for (const step of res.body.steps) {
      assert.ok(["ok", "skipped"].includes(step.outcome), JSON.stringify(step));
      assert.match(step.started_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$/);
      assert.equal(typeof step.duration_ms, "number");
    }
    const sessions = await s.runtime.store.db
      .selectFrom("sessions")
      .selectAll()
      .where("request_id", "=", requestId)
      .execute();
    assert.equal(sessions.length, 1);
    assert.equal(sessions[0].user_id, u.id);
    assert.equal(sessions[0].instance_id, reserved);
    assert.equal(sessions[0].connection_type, "rdp");
    // No ip_address given: the session records where the request came from, and no port was
    // opened for it (rules open only for an address the client names).
    assert.equal(sessions[0].client_ip, "127.0.0.1");
    assert.deepEqual(sessions[0].rule_ids, []);
    assert.equal(res.body.steps.find((x: any) => x.name === "client_rules")?.outcome, "skipped");
  });

  it("creates an instance on demand when nothing is free, tagged trs, held by the user", async () => {
    const pool = await makePool(s);
    const u = await makeUser(s, [pool.id]);
    const { requestId, token } = await requestVm(s, u);
    const res = await finished(s, token, requestId);
    assert.equal(res.body.status, "completed", JSON.stringify(res.body));
    const steps = res.body.steps.map((x: any) => x.name);
    assert.ok(steps.includes("create_instance"));
    const server = await s.runtime.deps.cloud.nova.getServer(res.body.server.id);
    assert.ok(server.tags.includes("trs"));
    assert.equal(server.projectId, pool.id);
    const holders = await s.runtime.store.db
      .selectFrom("instance_users")
      .selectAll()
      .where("instance_id", "=", server.id)
      .execute();
    assert.deepEqual(
      holders.map((h) => [h.user_id, h.exclusive]),
      [[u.id, true]],
    );
  });
});
