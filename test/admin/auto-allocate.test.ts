// auto-allocate-users as a task: users with a role on the project (directly or through a
// group) and no instance of it get one free ACTIVE instance each.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Stack } from "../helpers/stack.ts";
import {
  type api,
  assertAdminOnly,
  assertError,
  grantMember,
  keystone,
  makeGroup,
  makePool,
  makeServers,
  makeUser,
  useAdminStack,
  waitActive,
} from "./api.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack((started) => ({ stack, call } = started));

async function taskResult(taskId: string) {
  for (let i = 0; i < 400; i++) {
    const res = await call("GET", `/v1/tasks/${taskId}`);
    if (res.body.status === "SUCCESS") return JSON.parse(res.body.result);
    if (res.body.status === "FAILURE") throw new Error(res.body.traceback);
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`task ${taskId} did not finish`);
}

test("gives each member without an instance one free ACTIVE instance and reports who is left", async () => {
  const pool = await makePool(call, stack);
  const free = await makeServers(call, pool, { count: 2 });
  const [held] = await makeServers(call, pool);
  await waitActive(stack, [...free, held]);

  const holder = await makeUser(stack);
  const direct = await makeUser(stack);
  const viaGroup = await makeUser(stack);
  const third = await makeUser(stack);
  const outsider = await makeUser(stack);
  const group = await makeGroup(stack);
  await keystone(stack).addUserToGroup(group.id, viaGroup.id);
  await keystone(stack).addUserToGroup(group.id, third.id);
  await grantMember(stack, pool, { userId: holder.id });
  await grantMember(stack, pool, { userId: direct.id });
  await grantMember(stack, pool, { groupId: group.id });
  await call("POST", `/v1/servers/${held}/users/`, { body: { users: [holder.id] } });

  const started = await call("POST", `/v1/projects/${pool}/actions/auto-allocate-users`);
  assert.equal(started.status, 200);
  assert.deepEqual(Object.keys(started.body), ["task_id"]);
  const result = await taskResult(started.body.task_id);

  const waiting = [direct.id, viaGroup.id, third.id];
  assert.equal(result.allocated, 2);
  assert.equal(result.assignments.length, 2);
  assert.equal(result.users_without_instance.length, 1);
  assert.deepEqual(
    [
      ...result.assignments.map((a: { user_id: string }) => a.user_id),
      ...result.users_without_instance,
    ].sort(),
    waiting.sort(),
  );
  assert.deepEqual(
    result.assignments.map((a: { instance_id: string }) => a.instance_id).sort(),
    [...free].sort(),
  );
  for (const a of result.assignments) {
    const users = (await call("GET", `/v1/servers/${a.instance_id}/users/`)).body.users;
    assert.deepEqual(users, [{ id: a.user_id }]);
  }
  // The holder kept their instance and got no other; the outsider has no role and got nothing.
  assert.deepEqual((await call("GET", `/v1/users/${holder.id}/servers/`)).body.servers.length, 1);
  assert.deepEqual((await call("GET", `/v1/users/${outsider.id}/servers/`)).body.servers, []);

  // Run again: nobody left without an instance can be served, nothing changes.
  const again = await taskResult(
    (await call("POST", `/v1/projects/${pool}/actions/auto-allocate-users`)).body.task_id,
  );
  assert.equal(again.allocated, 0);
  assert.deepEqual(again.users_without_instance, result.users_without_instance);
});

test("an unknown project is 404; admin-only", async () => {
  assertError(await call("POST", "/v1/projects/nope/actions/auto-allocate-users"), 404);
  await assertAdminOnly(call, stack, "POST", "/v1/projects/nope/actions/auto-allocate-users");
});
