// The per-instance security groups (trs-instance-<id>, made when a user connects) are swept by
// the reconciler once the instance is deleted, whichever path deleted it: a desktop given to a
// user and deleted through the admin API loses its group in the simulator's Neutron; the group
// of a live instance, a group named after an unknown id, and a group of the deleted id in a
// project that is not its pool stay; a group still held by a port ("in use") goes on a later run.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { AdminCore } from "../../src/core/admin-core.ts";
import { createBackground } from "../../src/core/background.ts";
import { instanceGroupName } from "../../src/core/user-resources.ts";
import { finished, makeInstances, makePool, makeUser, requestVm } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

async function until(_what: string, check: () => Promise<boolean>) {
  // Not a timed assertion: the test runner's own timeout ends a wait that never succeeds.
  for (;;) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("reconciler: security groups of deleted instances", () => {
  let s: Stack;
  before(async () => {
    // The periodic reconciler stays out of the way: the test runs it itself.
    s = await startStack({ reconcile: { intervalSeconds: 3600 } });
  });
  after(async () => {
    await s?.stop();
  });

  const core = () => s.runtime.core as unknown as AdminCore;
  const neutron = () => s.runtime.deps.cloud.neutron;
  const reconcile = () => createBackground(s.runtime.deps, core()).reconciler.run();
  const groupIds = async (name: string) => (await neutron().listSecurityGroups({ name })).map((g) => g.id);

  async function desktopOf(poolId: string, ip: string): Promise<string> {
    const u = await makeUser(s, [poolId]);
    const { requestId, token } = await requestVm(s, u, { ip_address: ip, conn_type: "rdp" });
    const res = await finished(s, token, requestId);
    assert.equal(res.body.status, "completed", JSON.stringify(res.body));
    return res.body.server.id;
  }

  async function adminDelete(id: string) {
    const res = await s.runtime.admin!.inject({
      method: "DELETE",
      url: `/v1/servers/${id}`,
      headers: { "x-auth-token": s.adminToken },
    });
    assert.equal(res.statusCode, 204, res.body);
    // Nova deletes asynchronously (its ports with it): wait until it no longer lists the server.
    await until("Nova forgot the server", async () =>
      (await s.runtime.deps.cloud.nova.listServers({ allTenants: true })).every((x) => x.id !== id),
    );
  }

  async function portHolding(groupId: string, projectId: string): Promise<string> {
    const res = await fetch(`${s.sim.url}/network/v2.0/ports`, {
      method: "POST",
      headers: { "x-auth-token": s.adminToken, "content-type": "application/json" },
      body: JSON.stringify({
        port: { network_id: s.sim.seed.networkId, project_id: projectId, security_groups: [groupId] },
      }),
    });
    const text = await res.text();
    assert.equal(res.status, 201, text);
    return (JSON.parse(text) as { port: { id: string } }).port.id;
  }

  it("deletes the group of a desktop deleted through the admin API, and only that one", async () => {
    const pool = await makePool(s);
    await makeInstances(s, pool.id, 2);
    const deleted = await desktopOf(pool.id, "203.0.113.7");
    const live = await desktopOf(pool.id, "203.0.113.8");
    assert.notEqual(deleted, live);
    const [deletedGroup] = await groupIds(instanceGroupName(deleted));
    const [liveGroup] = await groupIds(instanceGroupName(live));
    assert.ok(deletedGroup, "connecting made the desktop's own group");
    assert.ok(liveGroup, "connecting made the desktop's own group");
    const unknown = await neutron().createSecurityGroup({
      name: instanceGroupName(randomUUID()),
      projectId: pool.id,
    });
    // Named after the deleted desktop, but not in its pool's project: not ours to remove.
    const elsewhere = await neutron().createSecurityGroup({
      name: instanceGroupName(deleted),
      projectId: s.sim.demo.projectId,
    });

    await adminDelete(deleted);
    const report = await reconcile();

    const left = new Set((await neutron().listSecurityGroups()).map((g) => g.id));
    assert.ok(!left.has(deletedGroup), "the deleted desktop's group is gone from Neutron");
    assert.ok(left.has(liveGroup), "the live desktop's group stays");
    assert.ok(left.has(unknown.id), "a group of an unknown id stays");
    assert.ok(left.has(elsewhere.id), "a group in another project stays");
    assert.deepEqual(report.groupsDeleted, [deletedGroup]);

    // Nothing left to do: the next run deletes nothing.
    assert.deepEqual((await reconcile()).groupsDeleted, []);
  });

  it("leaves a group still in use for a later run", async () => {
    const pool = await makePool(s);
    await makeInstances(s, pool.id, 1);
    const id = await desktopOf(pool.id, "198.51.100.9");
    const [group] = await groupIds(instanceGroupName(id));
    assert.ok(group);
    await adminDelete(id);
    // A port that still holds the group, as the instance's port does until Nova frees it.
    const port = await portHolding(group, pool.id);

    const first = await reconcile();
    assert.deepEqual(first.groupsDeleted, []);
    assert.deepEqual(await groupIds(instanceGroupName(id)), [group], "in use: not deleted yet");

    const res = await fetch(`${s.sim.url}/network/v2.0/ports/${port}`, {
      method: "DELETE",
      headers: { "x-auth-token": s.adminToken },
    });
    assert.equal(res.status, 204);
    assert.deepEqual((await reconcile()).groupsDeleted, [group]);
    assert.deepEqual(await groupIds(instanceGroupName(id)), []);
  });
});
