// auth.userCacheSeconds: the broker keeps Keystone's answer about a user's projects; a grant or
// revoke through this process's admin API is seen at once, one made in Keystone directly only
// once the answer is older than the setting.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { api } from "../admin/api.ts";
import { broker, login, makeInstances, makePool, type TestUser } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("the broker's cache of a user's projects", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ auth: { userCacheSeconds: 300 } });
  });
  after(async () => {
    await s?.stop();
  });

  async function newcomer(): Promise<TestUser> {
    const name = `new-${randomBytes(4).toString("hex")}`;
    const password = `pw-${randomBytes(6).toString("hex")}`;
    const user = await s.runtime.deps.cloud.keystone.createUser({ name, domainId: "default", password });
    return { id: user.id, name, password, domain: "Default" };
  }
  const projects = async (u: TestUser) => (await broker(s, "/v1/get-projects/", login(u))).body.projects;

  it("access changed through the admin API shows at once; changed in Keystone, after the cache", async () => {
    const call = api(s);
    const pool = await makePool(s);
    await makeInstances(s, pool.id, 1);
    const u = await newcomer();
    assert.deepEqual(await projects(u), []);
    assert.equal((await call("PUT", `/v1/projects/${pool.id}/access/users/${u.id}`)).status, 204);
    assert.deepEqual(await projects(u), [pool.name]);
    assert.equal((await call("DELETE", `/v1/projects/${pool.id}/access/users/${u.id}`)).status, 204);
    assert.deepEqual(await projects(u), []);

    // Granted in Keystone itself: this process still has the answer it was given.
    const ks = s.runtime.deps.cloud.keystone;
    const member = await ks.findRole("member");
    assert.ok(member);
    await ks.grantProjectRole(pool.id, { userId: u.id }, member.id);
    assert.deepEqual(await projects(u), []);
    s.runtime.core.broker.forgetUser(u.id);
    assert.deepEqual(await projects(u), [pool.name]);
  });
});
