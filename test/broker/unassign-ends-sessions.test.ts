// A user who loses an instance loses their way into it: unassigning the user (or the group they
// hold it through, or replacing the instance's users) through the admin API closes their open
// sessions on it and removes their client rules at once; other users' sessions stay.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import {
  call,
  clientRules,
  finished,
  makeInstances,
  makePool,
  makeUser,
  requestVm,
  type TestUser,
} from "../helpers/broker-stack.ts";
import { issueToken, type Stack, startStack } from "../helpers/stack.ts";

describe("unassigning ends the user's sessions and client rules", () => {
  let s: Stack;
  let pool: { id: string; name: string };
  let instances: string[];

  const admin = (method: string, path: string, body?: unknown) =>
    call(s.adminUrl, method, path, { body, headers: { "X-Auth-Token": s.adminToken } });

  /** A desktop for the user on the instance assigned to them; answers the session's id. */
  async function desktop(u: TestUser, instanceId: string, ip: string): Promise<string> {
    const { requestId, token } = await requestVm(s, u, { ip_address: ip, conn_type: "rdp" });
    const res = await finished(s, token, requestId);
    assert.equal(res.body.status, "completed", JSON.stringify(res.body));
    assert.equal(res.body.server.id, instanceId);
    const row = await s.runtime.store.db
      .selectFrom("sessions")
      .select("id")
      .where("request_id", "=", requestId)
      .executeTakeFirstOrThrow();
    return row.id;
  }

  const closedAt = async (sessionId: string) =>
    (
      await s.runtime.store.db
        .selectFrom("sessions")
        .select("closed_at")
        .where("id", "=", sessionId)
        .executeTakeFirstOrThrow()
    ).closed_at;

  before(async () => {
    s = await startStack({});
    pool = await makePool(s, { operation_mode: "2", max_users_per_instance: 3 });
    instances = await makeInstances(s, pool.id, 3);
  });
  after(async () => {
    await s?.stop();
  });

  it("DELETE /servers/{id}/users/{user_id}: that user's session closes and their rule goes, not the other's", async () => {
    const [a] = instances;
    const u = await makeUser(s, [pool.id]);
    const v = await makeUser(s, [pool.id]);
    await s.runtime.core.assignments.assignUsers(a, [u.id, v.id], null);
    const su = await desktop(u, a, "203.0.113.21");
    const sv = await desktop(v, a, "203.0.113.22");
    assert.deepEqual((await clientRules(s, a)).map((r) => r.remoteIpPrefix).sort(), [
      "203.0.113.21/32",
      "203.0.113.22/32",
    ]);

    assert.equal((await admin("DELETE", `/v1/servers/${a}/users/${u.id}`)).status, 204);
    assert.ok(await closedAt(su), "the unassigned user's session is closed");
    assert.equal(await closedAt(sv), null, "the other user's session stays open");
    assert.deepEqual(
      (await clientRules(s, a)).map((r) => r.remoteIpPrefix),
      ["203.0.113.22/32"],
    );
  });

  it("DELETE /servers/{id}/groups/{group_id}: a member who held it only through the group loses their session", async () => {
    const [, b] = instances;
    const ks = s.runtime.deps.cloud.keystone;
    const group = await ks.createGroup({ name: `grp-${Date.now()}`, domainId: "default" });
    const w = await makeUser(s, [pool.id]);
    const x = await makeUser(s, [pool.id]);
    await ks.addUserToGroup(group.id, w.id);
    await ks.addUserToGroup(group.id, x.id);
    await s.runtime.core.assignments.assignGroups(b, [group.id], null);
    // x also holds the instance directly: losing the group does not take it from x.
    await s.runtime.core.assignments.assignUsers(b, [x.id], null);
    // Each records their own session with their own token (POST /sessions takes a user token
    // for an instance the user holds, directly or through a group).
    const open = async (u: TestUser) => {
      const token = await issueToken(s.sim.authUrl, {
        username: u.name,
        password: u.password,
        userDomainName: u.domain,
      });
      const res = await call(s.adminUrl, "POST", "/v1/sessions/", {
        body: { session: { instance_id: b, conn_type: "rdp" } },
        headers: { "X-Auth-Token": token },
      });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      return res.body.session.session_id as string;
    };
    const sw = await open(w);
    const sx = await open(x);

    assert.equal((await admin("DELETE", `/v1/servers/${b}/groups/${group.id}`)).status, 204);
    assert.ok(await closedAt(sw), "w held it only through the group");
    assert.equal(await closedAt(sx), null, "x holds it directly");
  });

  it("PUT /servers/{id} with an empty user list closes the sessions of the users it removed", async () => {
    const [, , c] = instances;
    const y = await makeUser(s, [pool.id]);
    await s.runtime.core.assignments.assignUsers(c, [y.id], null);
    const sy = await desktop(y, c, "192.0.2.41");
    const res = await admin("PUT", `/v1/servers/${c}`, { server: { users: [] } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.ok(await closedAt(sy));
    assert.deepEqual(
      (await clientRules(s, c)).map((r) => r.remoteIpPrefix),
      [],
    );
  });

  it("a failed unassignment (not assigned: 404) closes nothing", async () => {
    const [a] = instances;
    const open = await s.runtime.store.db
      .selectFrom("sessions")
      .select("id")
      .where("instance_id", "=", a)
      .where("closed_at", "is", null)
      .execute();
    assert.ok(open.length > 0);
    const stranger = await makeUser(s, [pool.id]);
    assert.equal((await admin("DELETE", `/v1/servers/${a}/users/${stranger.id}`)).status, 404);
    for (const o of open) assert.equal(await closedAt(o.id), null);
  });
});
