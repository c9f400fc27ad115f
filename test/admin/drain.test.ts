// Drain (issue 16, core/drain.ts): a drained pool hands out nothing — a user without a desktop
// there gets broker code 14 with the reason in the steps — while a user who holds one keeps
// getting it and no open session is lost; the reserve is not refilled; undrain reverses it.
// A drained instance is passed by every claim while its pool goes on serving. Shown in the
// project and server objects, filterable, and in /metrics.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { AdminCore } from "../../src/core/admin-core.ts";
import { createBackground } from "../../src/core/background.ts";
import {
  call,
  finished,
  makeInstances,
  makePool,
  makeUser,
  type Reply,
  requestVm,
  type TestUser,
} from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("drain", () => {
  let s: Stack;
  const admin = (method: string, path: string, body?: unknown) =>
    call(s.adminUrl, method, path, { body, headers: { "X-Auth-Token": s.adminToken } });

  async function desktop(u: TestUser, ip = "203.0.113.7"): Promise<Reply> {
    const { requestId, token } = await requestVm(s, u, { ip_address: ip, conn_type: "rdp" });
    return finished(s, token, requestId);
  }

  const openSessions = async (instanceId: string) =>
    s.runtime.store.db
      .selectFrom("sessions")
      .select(["id", "user_id"])
      .where("instance_id", "=", instanceId)
      .where("closed_at", "is", null)
      .execute();

  const holders = async (poolId: string) =>
    s.runtime.store.db
      .selectFrom("instance_users as u")
      .innerJoin("instances as i", "i.id", "u.instance_id")
      .select(["u.user_id", "u.instance_id"])
      .where("i.pool_id", "=", poolId)
      .execute();

  before(async () => {
    s = await startStack({ workers: { enabled: false } });
  });
  after(async () => {
    await s?.stop();
  });

  it("a drained pool hands out nothing, loses no session, is not refilled; undrain reverses it", async () => {
    const pool = await makePool(s);
    await makeInstances(s, pool.id, 3);
    const holder = await makeUser(s, [pool.id]);
    const newcomer = await makeUser(s, [pool.id]);

    const first = await desktop(holder);
    assert.equal(first.body.status, "completed", JSON.stringify(first.body));
    const held = first.body.server.id as string;
    const [session] = await openSessions(held);
    assert.ok(session, "the holder has an open session");

    const drained = await admin("POST", `/v1/projects/${pool.id}/drain`, { reason: "moving to rack B" });
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    assert.equal(drained.body.project.draining, true);
    assert.equal(drained.body.project.drain_reason, "moving to rack B");

    // The newcomer gets nothing: code 14, and the steps say why.
    const refused = await desktop(newcomer);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 14);
    assert.deepEqual(refused.body.error.data, { project_name: pool.name });
    assert.match(JSON.stringify(refused.body.steps), /draining/);
    assert.deepEqual(
      (await holders(pool.id)).map((h) => h.user_id),
      [holder.id],
      "no instance of the pool got a new holder",
    );

    // Their open session goes on through the drain and the refusal.
    assert.deepEqual(
      (await openSessions(held)).map((x) => x.id),
      [session.id],
      "the session open before the drain is still open",
    );
    // The holder keeps their desktop (a new request reconnects to it: that replaces their
    // earlier session on it, as it always does).
    const again = await desktop(holder);
    assert.equal(again.body.status, "completed", JSON.stringify(again.body));
    assert.equal(again.body.server.id, held);
    assert.equal((await openSessions(held)).length, 1);

    // Listed and filtered.
    const draining = await admin("GET", "/v1/projects?draining=true");
    assert.ok(draining.body.projects.some((p: { id: string }) => p.id === pool.id));
    const notDraining = await admin("GET", "/v1/projects?draining=false");
    assert.ok(!notDraining.body.projects.some((p: { id: string }) => p.id === pool.id));
    assert.equal((await admin("GET", "/v1/projects?draining=maybe")).status, 400);

    // The reserve keeper leaves it alone, whatever its target.
    await admin("PUT", `/v1/projects/${pool.id}`, { project: { min_reserve_vm: 6 } });
    const core = s.runtime.core as unknown as AdminCore;
    const keeper = createBackground(s.runtime.deps, core).keeper;
    const outcome = await keeper.refill((await core.repos.pools.get(pool.id))!);
    assert.equal(outcome?.created, 0);
    assert.equal(outcome?.limitedBy, "draining");

    // In the metrics.
    const metrics = await s.runtime.admin!.inject({ method: "GET", url: "/metrics" });
    assert.match(metrics.body, new RegExp(`rs_pool_draining\\{pool="${pool.id}"\\} 1`));

    // Undrain: the newcomer gets a desktop again.
    const undrained = await admin("POST", `/v1/projects/${pool.id}/undrain`);
    assert.equal(undrained.status, 200);
    assert.equal(undrained.body.project.draining, false);
    assert.equal(undrained.body.project.drain_reason, null);
    const served = await desktop(newcomer);
    assert.equal(served.body.status, "completed", JSON.stringify(served.body));
    assert.notEqual(served.body.server.id, held);
  });

  it("a drained instance is passed by every claim while its pool serves; its holder keeps it", async () => {
    const pool = await makePool(s);
    const [a, b] = await makeInstances(s, pool.id, 2);
    const res = await admin("POST", `/v1/servers/${a}/drain`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.server.draining, true);
    assert.equal(typeof res.body.server.image_id, "string");

    const u1 = await makeUser(s, [pool.id]);
    const u2 = await makeUser(s, [pool.id]);
    const r1 = await desktop(u1);
    assert.equal(r1.body.server.id, b, "the free instance that is not draining");
    // No free instance left but the drained one: the pool makes a new one instead.
    const r2 = await desktop(u2);
    assert.equal(r2.body.status, "completed", JSON.stringify(r2.body));
    assert.ok(![a, b].includes(r2.body.server.id), "a new instance, never the drained one");

    const listed = await admin("GET", `/v1/servers?project_id=${pool.id}&draining=true`);
    assert.deepEqual(
      listed.body.servers.map((x: { id: string }) => x.id),
      [a],
    );

    // An instance its holder has keeps serving them when drained.
    assert.equal((await admin("POST", `/v1/servers/${b}/drain`)).status, 200);
    const again = await desktop(u1);
    assert.equal(again.body.server.id, b);

    const back = await admin("POST", `/v1/servers/${a}/undrain`);
    assert.equal(back.body.server.draining, false);
    const u3 = await makeUser(s, [pool.id]);
    assert.equal((await desktop(u3)).body.server.id, a, "undrained: free to claim again");
  });

  it("bad input: documented errors, never a 5xx", async () => {
    assert.equal((await admin("POST", "/v1/projects/nope/drain")).status, 404);
    assert.equal((await admin("POST", "/v1/projects/nope/undrain")).status, 404);
    assert.equal((await admin("POST", "/v1/servers/nope/drain")).status, 404);
    const pool = await makePool(s);
    const long = await admin("POST", `/v1/projects/${pool.id}/drain`, { reason: "x".repeat(300) });
    assert.equal(long.status, 400);
    const wrong = await admin("POST", `/v1/projects/${pool.id}/drain`, { reason: 5 });
    assert.equal(wrong.status, 400);
    const member = await call(s.adminUrl, "POST", `/v1/projects/${pool.id}/drain`, {
      headers: { "X-Auth-Token": s.memberToken },
    });
    assert.equal(member.status, 403);
  });
});
