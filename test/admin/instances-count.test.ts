// POST /v1/servers/ with a count above one Nova request's batch (100): any count the Nova
// quota admits is created, in several requests, all or nothing; a count the quota cannot
// hold is Nova's quota error, and leaves nothing behind.
import assert from "node:assert/strict";
import { test } from "node:test";
import { CloudError } from "../../src/cloud/http.ts";
import type { Stack } from "../helpers/stack.ts";
import { type api, assertError, makePool, useAdminStack } from "./api.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack((started) => ({ stack, call } = started));

const nova = () => stack.runtime.deps.cloud.nova;

/** The project's servers in Nova that are not being deleted. */
async function novaServers(projectId: string) {
  const all = await nova().listServers({ projectId, allTenants: true });
  return all.filter((s) => s.status !== "DELETED" && s.taskState !== "deleting");
}

async function records(projectId: string) {
  return stack.runtime.store.db
    .selectFrom("instances")
    .select(["id", "name", "reservation_id"])
    .where("pool_id", "=", projectId)
    .where("deleted_at", "is", null)
    .execute();
}

test("count 250 within the quota: 250 instances, in three Nova requests, named by the pattern", async () => {
  const pool = await makePool(call, stack);
  await nova().setQuotas(pool, { instances: 300, cores: -1, ram: -1 });
  const res = await call("POST", "/v1/servers/", { body: { server: { project_id: pool, count: 250 } } });
  assert.equal(res.status, 200, JSON.stringify(res.body).slice(0, 300));
  const ids: string[] = res.body.servers.map((s: { id: string }) => s.id);
  assert.equal(ids.length, 250);
  assert.equal(new Set(ids).size, 250);
  assert.match(res.body.reservation_id, /^r-/);

  const rows = await records(pool);
  assert.deepEqual(new Set(rows.map((r) => r.id)), new Set(ids));
  assert.equal(new Set(rows.map((r) => r.reservation_id)).size, 3, "three Nova requests");
  // In the answer's order, the names follow the pattern's counter (trs-** grows past 99).
  const byId = new Map(rows.map((r) => [r.id, r.name]));
  assert.equal(byId.get(ids[0]!), "trs-01");
  assert.equal(byId.get(ids[99]!), "trs-100");
  assert.equal(byId.get(ids[249]!), "trs-250");

  const servers = await novaServers(pool);
  assert.deepEqual(new Set(servers.map((s) => s.id)), new Set(ids));
  assert.equal(servers.find((s) => s.id === ids[249])?.name, "trs-250", "Nova carries our name too");

  // Beyond the quota now: 50 left. One request (Nova's own refusal) and several (ours).
  for (const count of [100, 150]) {
    const over = await call("POST", "/v1/servers/", { body: { server: { project_id: pool, count } } });
    assertError(over, 400);
    assert.match(over.body.error.message, /[Qq]uota exceeded/);
  }
  assert.equal((await novaServers(pool)).length, 250, "nothing more in Nova");
  assert.equal((await records(pool)).length, 250, "nothing more recorded");
});

test("a count above 100 that the quota cannot hold is refused before any server is made", async () => {
  const pool = await makePool(call, stack);
  await nova().setQuotas(pool, { instances: 120, cores: -1, ram: -1 });
  const res = await call("POST", "/v1/servers/", { body: { server: { project_id: pool, count: 150 } } });
  assertError(res, 400);
  assert.match(res.body.error.message, /Quota exceeded for instances: Requested 150/);
  assert.deepEqual(await novaServers(pool), []);
  assert.deepEqual(await records(pool), []);
  // The name counter was not taken either: the next instance is the pattern's first.
  const one = await call("POST", "/v1/servers/", { body: { server: { project_id: pool, count: 1 } } });
  assert.equal(one.status, 200);
  assert.deepEqual(
    (await records(pool)).map((r) => r.name),
    ["trs-01"],
  );
});

test("two large creates racing for one quota: each is all or nothing, and Nova holds what was recorded", async () => {
  const pool = await makePool(call, stack);
  // Each fits alone; both cannot (300 > 200), so at least one is refused.
  await nova().setQuotas(pool, { instances: 200, cores: -1, ram: -1 });
  const both = await Promise.all(
    [0, 1].map(() => call("POST", "/v1/servers/", { body: { server: { project_id: pool, count: 150 } } })),
  );
  const ok = both.filter((r) => r.status === 200);
  assert.ok(ok.length <= 1, "both cannot fit");
  for (const r of both.filter((r) => r.status !== 200)) assertError(r, 400);
  const created = ok.flatMap((r) => r.body.servers.map((s: { id: string }) => s.id));
  for (const r of ok) assert.equal(r.body.servers.length, 150);
  assert.deepEqual(new Set((await records(pool)).map((r) => r.id)), new Set(created));
  // A refused create deleted what its earlier requests made; Nova is done deleting in time.
  let left = await novaServers(pool);
  for (let i = 0; i < 100 && left.length !== created.length; i++) {
    await new Promise((r) => setTimeout(r, 50));
    left = await novaServers(pool);
  }
  assert.deepEqual(new Set(left.map((s) => s.id)), new Set(created));
});

test("a batch Nova refuses after earlier ones succeeded: the earlier servers are deleted, nothing is recorded", async () => {
  const pool = await makePool(call, stack);
  await nova().setQuotas(pool, { instances: 300, cores: -1, ram: -1 });
  const client = nova();
  const create = client.createServers;
  let calls = 0;
  // The second request fails as a Nova outage would (after the first made 100 servers).
  client.createServers = async (input) => {
    calls += 1;
    if (calls === 2) throw new CloudError("unavailable", "Nova is down for maintenance", "compute");
    return create.call(client, input);
  };
  try {
    const res = await call("POST", "/v1/servers/", { body: { server: { project_id: pool, count: 150 } } });
    assertError(res, 503);
  } finally {
    client.createServers = create;
  }
  assert.equal(calls, 2);
  assert.deepEqual(await records(pool), []);
  let left = await novaServers(pool);
  for (let i = 0; i < 100 && left.length > 0; i++) {
    await new Promise((r) => setTimeout(r, 50));
    left = await novaServers(pool);
  }
  assert.deepEqual(left, [], "the first request's 100 servers were deleted");
});
