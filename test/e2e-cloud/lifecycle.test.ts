// Drain and golden-image roll-out end to end (issue 16), the same steps against the built-in
// simulator (default) and a real OpenStack (RS_CONTRACT_CLOUD, see ./stack.ts; the
// real-OpenStack stage runs it, .ci/openstack-stage.sh): rs-server is driven through its two
// HTTP APIs, with its background work on (the roll-out's steps every second); the cloud's
// admin checks in Nova which image each server was built from.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isCloudError } from "../../src/cloud/http.ts";
import { discover, waitFor as waitUntil } from "../contract/cloud-under-test.ts";
import { call, type Reply } from "../helpers/broker-stack.ts";
import { type E2eStack, startE2eStack, uniqueName } from "./stack.ts";

interface User {
  id: string;
  name: string;
  password: string;
}

describe("drain and roll-out against the cloud", () => {
  let s: E2eStack;
  let poolId: string | undefined;
  let oldImage: string;
  let newImage: string | undefined;
  let memberRoleId: string;
  const users: User[] = [];

  const admin = async (method: string, path: string, body?: unknown): Promise<Reply> =>
    call(s.adminUrl, method, path, { body, headers: { "X-Auth-Token": await s.adminToken() } });
  const broker = (path: string, body: unknown, headers?: Record<string, string>) =>
    call(s.brokerUrl, "POST", path, { body, headers });
  const waitFor = <T>(what: string, read: () => Promise<T>, done: (v: T) => boolean, ms = s.buildTimeoutMs) =>
    waitUntil(s, what, read, done, ms);

  async function makeUser(prefix: string): Promise<User> {
    const name = uniqueName(prefix);
    const password = `Pw-${name.slice(-8)}-1a`;
    const user = await s.admin.keystone.createUser({ name, domainId: "default", password });
    const u = { id: user.id, name, password };
    users.push(u);
    await s.admin.keystone.grantProjectRole(poolId!, { userId: u.id }, memberRoleId);
    return u;
  }

  /** request-vm, then get-vm until the request is over: its final answer. */
  async function request(u: User): Promise<Reply> {
    const req = await broker("/v1/request-vm/", {
      user: u.name,
      password: u.password,
      user_domain_name: "Default",
      ip_address: "198.51.100.20",
      conn_type: "rdp",
    });
    assert.equal(req.status, 200, JSON.stringify(req.body));
    const token = req.headers.get("x-auth-token")!;
    return waitFor(
      `get-vm of ${u.name}`,
      () => broker("/v1/get-vm/", { request: req.body.request_id }, { Authorization: `Bearer ${token}` }),
      (r) => r.status !== 200 || r.body.status === "completed",
    );
  }

  async function closeSessionsOf(u: User) {
    const list = await admin("GET", "/v1/sessions");
    for (const x of list.body.sessions as {
      session_id: string;
      user_id: string;
      closed_at: string | null;
    }[]) {
      if (x.user_id !== u.id || x.closed_at) continue;
      const res = await admin("PUT", `/v1/sessions/${x.session_id}`, { session: {} });
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  }

  const imageOf = async (serverId: string) => (await s.admin.nova.getServer(serverId)).imageId;

  before(async () => {
    s = await startE2eStack({ rollout: { intervalSeconds: 1, batchSize: 2 } });
    const member = await s.admin.keystone.findRole("member");
    assert.ok(member, "the cloud has a member role");
    memberRoleId = member.id;
    const { flavor, image, network } = await discover(s.admin);
    oldImage = image.id;
    const created = await admin("POST", "/v1/projects/", {
      project: {
        name: uniqueName("lifecycle"),
        description: "rs-server drain and roll-out flow",
        flavor_id: flavor.id,
        image_id: image.id,
        network_id: network.id,
      },
    });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    poolId = created.body.project.id;
    newImage = await s.addImage(uniqueName("golden"));
  });

  after(async () => {
    if (!s) return;
    const attempt = async (fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        if (!isCloudError(err, "not_found")) console.error(err);
      }
    };
    if (poolId) {
      const id = poolId;
      await attempt(() => admin("DELETE", `/v1/projects/${id}?force=true`));
      await attempt(async () => {
        for (const srv of await s.admin.nova.listServers({ projectId: id }))
          await s.admin.nova.deleteServer(srv.id, { ignoreNotFound: true });
        await waitFor(
          "the pool's servers to go",
          () => s.admin.nova.listServers({ projectId: id }),
          (l) => !l.length,
        );
        for (const g of await s.admin.neutron.listSecurityGroups({ projectId: id }))
          await s.admin.neutron.deleteSecurityGroup(g.id, { ignoreNotFound: true });
      });
    }
    if (newImage) await attempt(() => s.removeImage(newImage!));
    for (const u of users) await attempt(() => s.admin.keystone.deleteUser(u.id));
    await s.stop();
  });

  it("a drained pool hands a newcomer nothing (14) while its holder keeps their desktop", async () => {
    const made = await admin("POST", "/v1/servers/", { server: { project_id: poolId, count: 2 } });
    assert.equal(made.status, 200, JSON.stringify(made.body));
    const [alice, bob] = [await makeUser("alice"), await makeUser("bob")];
    const first = await request(alice);
    assert.equal(first.body.status, "completed", JSON.stringify(first.body));
    const aliceVm = first.body.server.id;

    const drained = await admin("POST", `/v1/projects/${poolId}/drain`, { reason: "e2e" });
    assert.equal(drained.status, 200, JSON.stringify(drained.body));
    assert.equal(drained.body.project.draining, true);
    const refused = await request(bob);
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, 14);
    const again = await request(alice);
    assert.equal(again.body.status, "completed", JSON.stringify(again.body));
    assert.equal(again.body.server.id, aliceVm);

    assert.equal((await admin("POST", `/v1/projects/${poolId}/undrain`)).body.project.draining, false);
    const served = await request(bob);
    assert.equal(served.body.status, "completed", JSON.stringify(served.body));
    assert.notEqual(served.body.server.id, aliceVm);
  });

  it("a roll-out rebuilds every server of the pool from the new image; users then get new-image desktops", async () => {
    for (const u of users) await closeSessionsOf(u);
    const started = await admin("POST", `/v1/projects/${poolId}/rollout`, {
      rollout: { image_id: newImage },
    });
    assert.equal(started.status, 200, JSON.stringify(started.body));
    assert.equal(started.body.rollout.from_image_id, oldImage);
    const done = await waitFor(
      "the roll-out to complete",
      () => admin("GET", `/v1/projects/${poolId}/rollout`),
      (r) => r.body?.rollout?.state === "completed",
      s.buildTimeoutMs * 4,
    );
    assert.equal(done.body.rollout.old, 0);
    const servers = await waitFor(
      "the old servers to be gone from Nova",
      () => s.admin.nova.listServers({ projectId: poolId }),
      (l) => l.every((x) => x.imageId === newImage || x.status === "DELETED"),
    );
    assert.ok(servers.length >= 2);
    const task = await admin("GET", `/v1/tasks/${done.body.rollout.id}`);
    assert.equal(task.body.status, "SUCCESS");
    for (const u of users) {
      const res = await request(u);
      assert.equal(res.body.status, "completed", JSON.stringify(res.body));
      assert.equal(await imageOf(res.body.server.id), newImage);
    }
  });
});
