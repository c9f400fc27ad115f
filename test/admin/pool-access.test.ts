// Access to a pool through the admin API: granting the configured Keystone role lets a user
// with no role at all get a desktop through the broker; revoking it gives broker code 5; the
// listing shows direct holders; unknown ids are 404 and a member token 403; and the directory
// finds users and groups by part of their name.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import {
  broker,
  finished,
  login,
  makeInstances,
  makePool,
  requestVm,
  type TestUser,
} from "../helpers/broker-stack.ts";
import type { Stack } from "../helpers/stack.ts";
import { type api, assertAdminOnly, assertError, keystone, useAdminStack } from "./api.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack((started) => ({ stack, call } = started));

const UNKNOWN = "0123456789abcdef0123456789abcdef";

/** A Keystone user with no role anywhere, as a new employee is. */
async function newcomer(name = `new-${randomBytes(4).toString("hex")}`): Promise<TestUser> {
  const password = `pw-${randomBytes(6).toString("hex")}`;
  const user = await keystone(stack).createUser({ name, domainId: "default", password });
  return { id: user.id, name, password, domain: "Default" };
}

test("a granted user gets a desktop through the broker; once revoked, broker code 5", async () => {
  const pool = await makePool(stack);
  await makeInstances(stack, pool.id, 1);
  const user = await newcomer();

  const before = await broker(stack, "/v1/request-vm/", login(user));
  assert.equal(before.body.error?.code, 5, JSON.stringify(before.body));

  assert.equal((await call("PUT", `/v1/projects/${pool.id}/access/users/${user.id}`)).status, 204);
  // Twice is once.
  assert.equal((await call("PUT", `/v1/projects/${pool.id}/access/users/${user.id}`)).status, 204);
  const member = await keystone(stack).findRole("member");
  assert.ok(member);
  assert.ok(await keystone(stack).hasProjectRole(pool.id, { userId: user.id }, member.id));

  const listed = await call("GET", `/v1/projects/${pool.id}/access`);
  assert.equal(listed.status, 200);
  assert.deepEqual(listed.body, {
    users: [{ id: user.id, name: user.name, domain_id: "default" }],
    groups: [],
  });

  const { requestId, token } = await requestVm(stack, user);
  const done = await finished(stack, token, requestId);
  assert.equal(done.body.status, "completed", JSON.stringify(done.body));
  assert.equal(done.body.server.status, "ACTIVE");

  assert.equal((await call("DELETE", `/v1/projects/${pool.id}/access/users/${user.id}`)).status, 204);
  assert.equal((await call("DELETE", `/v1/projects/${pool.id}/access/users/${user.id}`)).status, 204);
  assert.equal(await keystone(stack).hasProjectRole(pool.id, { userId: user.id }, member.id), false);
  const after = await broker(stack, "/v1/request-vm/", login(user));
  assert.equal(after.status, 400);
  assert.equal(after.body.error.code, 5, JSON.stringify(after.body));
  assert.deepEqual((await call("GET", `/v1/projects/${pool.id}/access`)).body, { users: [], groups: [] });
});

test("a group's access admits its members; revoking it shuts them out", async () => {
  const pool = await makePool(stack);
  await makeInstances(stack, pool.id, 1);
  const user = await newcomer();
  const group = await keystone(stack).createGroup({
    name: `staff-${randomBytes(3).toString("hex")}`,
    domainId: "default",
  });
  await keystone(stack).addUserToGroup(group.id, user.id);

  assert.equal((await call("PUT", `/v1/projects/${pool.id}/access/groups/${group.id}`)).status, 204);
  const listed = await call("GET", `/v1/projects/${pool.id}/access`);
  assert.deepEqual(listed.body.groups, [{ id: group.id, name: group.name, domain_id: "default" }]);
  const { requestId, token } = await requestVm(stack, user);
  assert.equal((await finished(stack, token, requestId)).body.status, "completed");

  assert.equal((await call("DELETE", `/v1/projects/${pool.id}/access/groups/${group.id}`)).status, 204);
  const after = await broker(stack, "/v1/request-vm/", login(user));
  assert.equal(after.body.error?.code, 5, JSON.stringify(after.body));
});

test("unknown pool, user or group: 404 in the envelope, and nothing changes", async () => {
  const pool = await makePool(stack);
  const user = await newcomer();
  for (const method of ["PUT", "DELETE"]) {
    assertError(await call(method, `/v1/projects/${UNKNOWN}/access/users/${user.id}`), 404);
    assertError(await call(method, `/v1/projects/${pool.id}/access/users/${UNKNOWN}`), 404);
    assertError(await call(method, `/v1/projects/${pool.id}/access/groups/${UNKNOWN}`), 404);
  }
  // A Keystone project that is not a TRS project is not a pool either.
  assertError(await call("PUT", `/v1/projects/${stack.sim.demo.projectId}/access/users/${user.id}`), 404);
  assertError(await call("GET", `/v1/projects/${UNKNOWN}/access`), 404);
  assert.deepEqual((await call("GET", `/v1/projects/${pool.id}/access`)).body, { users: [], groups: [] });
});

test("every access and directory route is admin-only (401 without a token, 403 with a member's)", async () => {
  const pool = await makePool(stack);
  const user = await newcomer();
  await assertAdminOnly(call, stack, "GET", `/v1/projects/${pool.id}/access`);
  await assertAdminOnly(call, stack, "PUT", `/v1/projects/${pool.id}/access/users/${user.id}`);
  await assertAdminOnly(call, stack, "DELETE", `/v1/projects/${pool.id}/access/users/${user.id}`);
  await assertAdminOnly(call, stack, "PUT", `/v1/projects/${pool.id}/access/groups/${UNKNOWN}`);
  await assertAdminOnly(call, stack, "DELETE", `/v1/projects/${pool.id}/access/groups/${UNKNOWN}`);
  await assertAdminOnly(call, stack, "GET", "/v1/directory/users?name__contains=a");
  await assertAdminOnly(call, stack, "GET", "/v1/directory/groups?name__contains=a");
  const ks = keystone(stack);
  const member = await ks.findRole("member");
  assert.ok(member);
  assert.equal(await ks.hasProjectRole(pool.id, { userId: user.id }, member.id), false);
});

test("the directory finds users and groups by part of the name (case ignored), with their domain's name", async () => {
  const tag = randomBytes(3).toString("hex");
  const zed = await newcomer(`Zed-${tag}`);
  const amy = await newcomer(`amy-${tag}`);
  await newcomer(`other-${randomBytes(3).toString("hex")}`);
  const group = await keystone(stack).createGroup({ name: `Team-${tag}`, domainId: "default" });

  const users = await call("GET", `/v1/directory/users?name__contains=${tag.toUpperCase()}`);
  assert.equal(users.status, 200);
  assert.deepEqual(users.body, {
    users: [
      { id: amy.id, name: amy.name, domain_id: "default", domain_name: "Default" },
      { id: zed.id, name: zed.name, domain_id: "default", domain_name: "Default" },
    ].sort((a, b) => a.name.localeCompare(b.name)),
  });
  const exact = await call("GET", `/v1/directory/users?name=${amy.name}&domain_id=default`);
  assert.deepEqual(
    exact.body.users.map((u: { id: string }) => u.id),
    [amy.id],
  );
  const elsewhere = await call(
    "GET",
    `/v1/directory/users?name__contains=${tag}&domain_id=${stack.sim.seed.demoDomainId}`,
  );
  assert.deepEqual(elsewhere.body, { users: [] });

  const groups = await call("GET", `/v1/directory/groups?name__contains=team-${tag}`);
  assert.deepEqual(groups.body, {
    groups: [{ id: group.id, name: group.name, domain_id: "default", domain_name: "Default" }],
  });
  const demo = await call("GET", "/v1/directory/users?name=demo");
  assert.deepEqual(
    demo.body.users.map((u: { domain_name: string }) => u.domain_name),
    ["demo"],
  );
  assertError(await call("GET", "/v1/directory/users?bogus=1"), 400);
});

test("the directory answers at most 50, sorted by name", async () => {
  const tag = randomBytes(3).toString("hex");
  const ks = keystone(stack);
  await Promise.all(
    Array.from({ length: 55 }, (_, i) =>
      ks.createGroup({ name: `bulk-${tag}-${String(i).padStart(2, "0")}`, domainId: "default" }),
    ),
  );
  const res = await call("GET", `/v1/directory/groups?name__contains=bulk-${tag}`);
  assert.equal(res.body.groups.length, 50);
  const names = res.body.groups.map((g: { name: string }) => g.name);
  assert.deepEqual(names, [...names].sort());
  assert.equal(names[0], `bulk-${tag}-00`);
});
