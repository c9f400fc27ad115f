// Users and groups of instances (#13-#21): Standard vs Simultaneous rules, Keystone checks,
// no-op re-assignments and the history of every change.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Stack } from "../helpers/stack.ts";
import {
  type api,
  assertAdminOnly,
  assertError,
  makeGroup,
  makePool,
  makeServers,
  makeUser,
  useAdminStack,
} from "./api.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
let standard: string;
let shared: string;
useAdminStack(async (started) => {
  ({ stack, call } = started);
  standard = await makePool(call, stack, { operation_mode: "1" });
  shared = await makePool(call, stack, { operation_mode: "2", max_users_per_instance: 2 });
});

const history = (instanceId: string) =>
  stack.runtime.store.db
    .selectFrom("assignment_history")
    .select(["subject_type", "subject_id", "action", "actor"])
    .where("instance_id", "=", instanceId)
    .orderBy("id")
    .execute();

const usersOf = async (id: string) =>
  ((await call("GET", `/v1/servers/${id}/users/`)).body.users as { id: string }[]).map((u) => u.id).sort();

describe("POST /v1/servers/{id}/users/", () => {
  test("Standard: one user; a second is 409; the same pair again is a no-op", async () => {
    const [id] = await makeServers(call, standard);
    const [a, b] = [await makeUser(stack), await makeUser(stack)];
    const res = await call("POST", `/v1/servers/${id}/users/`, { body: { users: [a.id] } });
    assert.equal(res.status, 204);
    assert.equal(res.body, undefined);
    assert.equal((await call("POST", `/v1/servers/${id}/users/`, { body: { users: [a.id] } })).status, 204);
    assertError(await call("POST", `/v1/servers/${id}/users/`, { body: { users: [b.id] } }), 409);
    assert.deepEqual(await usersOf(id), [a.id]);
    assert.deepEqual(await history(id), [
      { subject_type: "user", subject_id: a.id, action: "assign", actor: stack.sim.admin.userId },
    ]);
  });

  test("the unique index is the last guard of Standard instances", async () => {
    const [id] = await makeServers(call, standard);
    const [a, b] = [await makeUser(stack), await makeUser(stack)];
    // Two assignments racing each other: exactly one can win.
    const results = await Promise.all([
      call("POST", `/v1/servers/${id}/users/`, { body: { users: [a.id] } }),
      call("POST", `/v1/servers/${id}/users/`, { body: { users: [b.id] } }),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), [204, 409]);
    assert.equal((await usersOf(id)).length, 1);
    const db = stack.runtime.store.db;
    await assert.rejects(
      db
        .insertInto("instance_users")
        .values({ instance_id: id, user_id: "intruder", exclusive: true })
        .execute(),
      /instance_users_one_holder/,
    );
  });

  test("Simultaneous: several users up to max_users_per_instance", async () => {
    const [id] = await makeServers(call, shared);
    const [a, b, c] = [await makeUser(stack), await makeUser(stack), await makeUser(stack)];
    assert.equal(
      (await call("POST", `/v1/servers/${id}/users/`, { body: { users: [a.id, b.id] } })).status,
      204,
    );
    assert.deepEqual(await usersOf(id), [a.id, b.id].sort());
    assertError(await call("POST", `/v1/servers/${id}/users/`, { body: { users: [c.id] } }), 409);
    assert.deepEqual(await usersOf(id), [a.id, b.id].sort());
  });

  test("unknown users are 400, unknown instances 404, and nothing changes", async () => {
    const [id] = await makeServers(call, shared);
    const a = await makeUser(stack);
    assertError(await call("POST", `/v1/servers/${id}/users/`, { body: { users: [a.id, "ghost"] } }), 400);
    assertError(await call("POST", `/v1/servers/${id}/users/`, { body: { users: "ghost" } }), 400);
    assertError(await call("POST", `/v1/servers/${id}/users/`, { body: {} }), 400);
    assertError(await call("POST", "/v1/servers/nope/users/", { body: { users: [a.id] } }), 404);
    assert.deepEqual(await usersOf(id), []);
    assert.deepEqual(await history(id), []);
    await assertAdminOnly(call, stack, "POST", `/v1/servers/${id}/users/`, { users: [a.id] });
  });
});

describe("POST /v1/servers/{id}/groups/", () => {
  test("assigns groups (several, even on Standard), checks them in Keystone", async () => {
    const [id] = await makeServers(call, standard);
    const [g1, g2] = [await makeGroup(stack), await makeGroup(stack)];
    assert.equal(
      (await call("POST", `/v1/servers/${id}/groups/`, { body: { groups: [g1.id, g2.id] } })).status,
      204,
    );
    assert.equal(
      (await call("POST", `/v1/servers/${id}/groups/`, { body: { groups: [g1.id] } })).status,
      204,
    );
    const groups = (await call("GET", `/v1/servers/${id}/groups/`)).body.groups.map(
      (g: { id: string }) => g.id,
    );
    assert.deepEqual(groups.sort(), [g1.id, g2.id].sort());
    assert.equal((await history(id)).length, 2);
    assertError(await call("POST", `/v1/servers/${id}/groups/`, { body: { groups: ["nogroup"] } }), 400);
    assertError(await call("POST", "/v1/servers/nope/groups/", { body: { groups: [g1.id] } }), 404);
    await assertAdminOnly(call, stack, "POST", `/v1/servers/${id}/groups/`, { groups: [g1.id] });
  });
});

describe("POST /v1/users/{id}/servers/ and /v1/groups/{id}/servers/", () => {
  test("assigns a user to several instances, all or nothing", async () => {
    const [s1, s2] = await makeServers(call, standard, { count: 2 });
    const [a, b] = [await makeUser(stack), await makeUser(stack)];
    await call("POST", `/v1/servers/${s2}/users/`, { body: { users: [b.id] } });
    // s2 is taken in a Standard pool: the whole request fails and s1 stays free.
    assertError(await call("POST", `/v1/users/${a.id}/servers/`, { body: { servers: [s1, s2] } }), 409);
    assert.deepEqual(await usersOf(s1), []);
    assertError(await call("POST", `/v1/users/${a.id}/servers/`, { body: { servers: [s1, "nope"] } }), 400);
    assert.deepEqual(await usersOf(s1), []);
    assertError(await call("POST", "/v1/users/ghost/servers/", { body: { servers: [s1] } }), 404);

    assert.equal((await call("POST", `/v1/users/${a.id}/servers/`, { body: { servers: [s1] } })).status, 204);
    assert.deepEqual(await usersOf(s1), [a.id]);
    await assertAdminOnly(call, stack, "POST", `/v1/users/${a.id}/servers/`, { servers: [s1] });
  });

  test("assigns a group to several instances", async () => {
    const [s1, s2] = await makeServers(call, shared, { count: 2 });
    const g = await makeGroup(stack);
    assert.equal(
      (await call("POST", `/v1/groups/${g.id}/servers/`, { body: { servers: [s1, s2] } })).status,
      204,
    );
    const filtered = (await call("GET", `/v1/servers/?group=${g.id}`)).body.servers.map(
      (s: { id: string }) => s.id,
    );
    assert.deepEqual(filtered.sort(), [s1, s2].sort());
    assertError(await call("POST", "/v1/groups/ghost/servers/", { body: { servers: [s1] } }), 404);
    assertError(await call("POST", `/v1/groups/${g.id}/servers/`, { body: { servers: ["nope"] } }), 400);
    await assertAdminOnly(call, stack, "POST", `/v1/groups/${g.id}/servers/`, { servers: [s1] });
  });
});

describe("GET lists of assignments", () => {
  test("GET /v1/users/{id}/servers/ gives instance, project id and name", async () => {
    const [s1] = await makeServers(call, standard);
    const a = await makeUser(stack);
    assert.deepEqual((await call("GET", `/v1/users/${a.id}/servers/`)).body, { servers: [] });
    await call("POST", `/v1/servers/${s1}/users/`, { body: { users: [a.id] } });
    const res = await call("GET", `/v1/users/${a.id}/servers/`);
    assert.equal(res.status, 200);
    const pool = (await call("GET", `/v1/projects/${standard}`)).body.project;
    assert.deepEqual(res.body.servers, [{ instance_id: s1, project_id: standard, project_name: pool.name }]);
    assertError(await call("GET", "/v1/users/ghost/servers/"), 404);
    await assertAdminOnly(call, stack, "GET", `/v1/users/${a.id}/servers/`);
  });

  test("GET users and groups of an instance: 404 for unknown, admin-only", async () => {
    assertError(await call("GET", "/v1/servers/nope/users/"), 404);
    assertError(await call("GET", "/v1/servers/nope/groups/"), 404);
    await assertAdminOnly(call, stack, "GET", "/v1/servers/nope/users/");
    await assertAdminOnly(call, stack, "GET", "/v1/servers/nope/groups/");
  });
});

describe("DELETE /v1/servers/{id}/users/{user} and /groups/{group}", () => {
  test("unassigns with history; an absent pair is 404", async () => {
    const [id] = await makeServers(call, shared);
    const a = await makeUser(stack);
    const g = await makeGroup(stack);
    await call("POST", `/v1/servers/${id}/users/`, { body: { users: [a.id] } });
    await call("POST", `/v1/servers/${id}/groups/`, { body: { groups: [g.id] } });
    assert.equal((await call("DELETE", `/v1/servers/${id}/users/${a.id}`)).status, 204);
    assert.equal((await call("DELETE", `/v1/servers/${id}/groups/${g.id}`)).status, 204);
    assert.deepEqual(await usersOf(id), []);
    assert.equal((await call("GET", `/v1/servers/${id}`)).body.server.assigned, false);
    assert.deepEqual(
      (await history(id)).map((h) => `${h.action} ${h.subject_type}`),
      ["assign user", "assign group", "unassign user", "unassign group"],
    );
    assertError(await call("DELETE", `/v1/servers/${id}/users/${a.id}`), 404);
    assertError(await call("DELETE", `/v1/servers/${id}/groups/${g.id}`), 404);
    assertError(await call("DELETE", `/v1/servers/nope/users/${a.id}`), 404);
    await assertAdminOnly(call, stack, "DELETE", `/v1/servers/${id}/users/${a.id}`);
    await assertAdminOnly(call, stack, "DELETE", `/v1/servers/${id}/groups/${g.id}`);
  });
});
