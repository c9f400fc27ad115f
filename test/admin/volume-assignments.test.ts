// Volume assignments (#29-#31, DELETE extension): unwrapped body, Cinder and Keystone checks.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Stack } from "../helpers/stack.ts";
import { type api, assertAdminOnly, assertError, makePool, makeUser, useAdminStack } from "./api.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
let pool: string;
useAdminStack(async (started) => {
  ({ stack, call } = started);
  pool = await makePool(call, stack);
});

const volume = async (projectId = pool) =>
  (await stack.runtime.deps.cloud.cinder.createVolume({ size: 1, projectId, name: "user-volume" })).id;

test("create, show, list with modifiers and delete", async () => {
  const [a, b] = [await makeUser(stack), await makeUser(stack)];
  const [v1, v2] = [await volume(), await volume()];
  const created = await call("POST", "/v1/volume-assignments/", {
    body: { user_id: a.id, project_id: pool, volume_id: v1 },
  });
  assert.equal(created.status, 200);
  const va = created.body["volume-assignment"];
  assert.equal(typeof va.id, "number");
  assert.deepEqual(va, { id: va.id, user_id: a.id, project_id: pool, volume_id: v1 });
  const other = (
    await call("POST", "/v1/volume-assignments/", {
      body: { user_id: b.id, project_id: pool, volume_id: v2 },
    })
  ).body["volume-assignment"];

  assert.deepEqual((await call("GET", `/v1/volume-assignments/${va.id}`)).body, { "volume-assignment": va });
  const list = async (q: string) =>
    ((await call("GET", `/v1/volume-assignments/${q}`)).body["volume-assignments"] as { id: number }[]).map(
      (x) => x.id,
    );
  assert.deepEqual(await list(`?user_id=${a.id}`), [va.id]);
  assert.deepEqual(await list(`?project_id=${pool}`), [va.id, other.id]);
  assert.deepEqual(await list(`?project_id=${pool}&user_id__noteq=${a.id}`), [other.id]);
  assert.deepEqual(await list(`?volume_id__in=${v1},${v2}`), [va.id, other.id]);
  assert.deepEqual(await list(`?volume_id__endswith=${v2.slice(-6)}`), [other.id]);

  assert.equal((await call("DELETE", `/v1/volume-assignments/${va.id}`)).status, 204);
  assertError(await call("GET", `/v1/volume-assignments/${va.id}`), 404);
  assertError(await call("DELETE", `/v1/volume-assignments/${va.id}`), 404);
});

test("one volume per user per project, one user per volume (409)", async () => {
  const [a, b] = [await makeUser(stack), await makeUser(stack)];
  const [v1, v2] = [await volume(), await volume()];
  await call("POST", "/v1/volume-assignments/", { body: { user_id: a.id, project_id: pool, volume_id: v1 } });
  assertError(
    await call("POST", "/v1/volume-assignments/", {
      body: { user_id: a.id, project_id: pool, volume_id: v2 },
    }),
    409,
  );
  assertError(
    await call("POST", "/v1/volume-assignments/", {
      body: { user_id: b.id, project_id: pool, volume_id: v1 },
    }),
    409,
  );
});

test("unknown volume, user or project and non-TRS projects are 400; nothing is created", async () => {
  const a = await makeUser(stack);
  const v = await volume();
  const before = (await call("GET", "/v1/volume-assignments/")).body["volume-assignments"].length;
  const bad = [
    { user_id: a.id, project_id: pool, volume_id: "no-such-volume" },
    { user_id: "ghost", project_id: pool, volume_id: v },
    { user_id: a.id, project_id: "no-such-project", volume_id: v },
    { user_id: a.id, project_id: stack.sim.demo.projectId, volume_id: v },
    { user_id: a.id, project_id: pool },
    { user_id: a.id, project_id: pool, volume_id: 5 },
    { volume: { user_id: a.id, project_id: pool, volume_id: v } },
  ];
  for (const body of bad) assertError(await call("POST", "/v1/volume-assignments/", { body }), 400);
  assert.equal((await call("GET", "/v1/volume-assignments/")).body["volume-assignments"].length, before);
});

test("unknown modifiers and ids; admin-only", async () => {
  assertError(await call("GET", "/v1/volume-assignments/?user_id__like=x"), 400);
  assertError(await call("GET", "/v1/volume-assignments/?size=1"), 400);
  assertError(await call("GET", "/v1/volume-assignments/999999"), 404);
  assertError(await call("GET", "/v1/volume-assignments/not-a-number"), 404);
  await assertAdminOnly(call, stack, "GET", "/v1/volume-assignments/");
  await assertAdminOnly(call, stack, "GET", "/v1/volume-assignments/1");
  await assertAdminOnly(call, stack, "POST", "/v1/volume-assignments/", {
    user_id: "a",
    project_id: "b",
    volume_id: "c",
  });
  await assertAdminOnly(call, stack, "DELETE", "/v1/volume-assignments/1");
});
