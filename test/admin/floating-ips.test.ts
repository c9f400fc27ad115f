// Floating IP per user (#22-#25, DELETE extension), checked against Neutron.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Stack } from "../helpers/stack.ts";
import { type api, assertAdminOnly, assertError, makeUser, useAdminStack } from "./api.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack((started) => ({ stack, call } = started));

const floatingIp = async () =>
  (
    await stack.runtime.deps.cloud.neutron.createFloatingIp({
      floatingNetworkId: stack.sim.seed.externalNetworkId,
    })
  ).id;

test("assign, show, list, replace and remove a user's floating IP", async () => {
  const user = await makeUser(stack);
  const [fip1, fip2] = [await floatingIp(), await floatingIp()];
  assert.deepEqual((await call("GET", `/v1/users/${user.id}`)).body, {
    user: [{ id: user.id, floating_ip_id: null }],
  });

  const created = await call("POST", `/v1/users/${user.id}/floating-ip`, { body: { floating_ip_id: fip1 } });
  assert.equal(created.status, 204);
  assert.deepEqual((await call("GET", `/v1/users/${user.id}`)).body, {
    user: [{ id: user.id, floating_ip_id: fip1 }],
  });
  const listed = (await call("GET", "/v1/users/")).body.users;
  assert.deepEqual(
    listed.filter((u: { id: string }) => u.id === user.id),
    [{ id: user.id, floating_ip_id: fip1 }],
  );

  assert.equal(
    (await call("PUT", `/v1/users/${user.id}/floating-ip`, { body: { floating_ip_id: fip2 } })).status,
    204,
  );
  assert.equal((await call("GET", `/v1/users/${user.id}`)).body.user[0].floating_ip_id, fip2);

  assert.equal((await call("DELETE", `/v1/users/${user.id}/floating-ip`)).status, 204);
  assert.equal((await call("GET", `/v1/users/${user.id}`)).body.user[0].floating_ip_id, null);
  assertError(await call("DELETE", `/v1/users/${user.id}/floating-ip`), 404);
});

test("conflicts: the user already has one, or the IP is another user's", async () => {
  const [a, b] = [await makeUser(stack), await makeUser(stack)];
  const [fip1, fip2] = [await floatingIp(), await floatingIp()];
  await call("POST", `/v1/users/${a.id}/floating-ip`, { body: { floating_ip_id: fip1 } });
  assertError(await call("POST", `/v1/users/${a.id}/floating-ip`, { body: { floating_ip_id: fip2 } }), 409);
  assertError(await call("POST", `/v1/users/${b.id}/floating-ip`, { body: { floating_ip_id: fip1 } }), 409);
  assertError(await call("PUT", `/v1/users/${b.id}/floating-ip`, { body: { floating_ip_id: fip1 } }), 409);
  assert.equal((await call("GET", `/v1/users/${a.id}`)).body.user[0].floating_ip_id, fip1);
  assert.equal((await call("GET", `/v1/users/${b.id}`)).body.user[0].floating_ip_id, null);
});

test("unknown floating IPs are 400, unknown users 404, bad bodies 400; nothing changes", async () => {
  const user = await makeUser(stack);
  assertError(
    await call("POST", `/v1/users/${user.id}/floating-ip`, { body: { floating_ip_id: "no-such-ip" } }),
    400,
  );
  assertError(
    await call("PUT", `/v1/users/${user.id}/floating-ip`, { body: { floating_ip_id: "no-such-ip" } }),
    400,
  );
  assertError(await call("POST", `/v1/users/${user.id}/floating-ip`, { body: { floating_ip_id: 7 } }), 400);
  assertError(await call("POST", `/v1/users/${user.id}/floating-ip`, { body: {} }), 400);
  assertError(
    await call("POST", "/v1/users/ghost/floating-ip", { body: { floating_ip_id: await floatingIp() } }),
    404,
  );
  assertError(await call("GET", "/v1/users/ghost"), 404);
  assert.equal((await call("GET", `/v1/users/${user.id}`)).body.user[0].floating_ip_id, null);
  assert.ok((await call("GET", "/v1/users/")).body.users.every((u: { id: string }) => u.id !== "ghost"));
});

test("every floating IP route is admin-only", async () => {
  await assertAdminOnly(call, stack, "GET", "/v1/users/");
  await assertAdminOnly(call, stack, "GET", "/v1/users/x");
  await assertAdminOnly(call, stack, "POST", "/v1/users/x/floating-ip", { floating_ip_id: "y" });
  await assertAdminOnly(call, stack, "PUT", "/v1/users/x/floating-ip", { floating_ip_id: "y" });
  await assertAdminOnly(call, stack, "DELETE", "/v1/users/x/floating-ip");
});
