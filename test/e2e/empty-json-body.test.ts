// A request without a body but with `Content-Type: application/json` (what the reference's curl
// examples send on DELETE and on POST auto-allocate-users) is read as no body by both APIs
// and by the simulator, as OpenStack reads it: never "Body cannot be empty".
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { makePool, makeUser } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack?.stop());

const JSON_TYPE = { "Content-Type": "application/json" };

async function send(url: string, method: string, headers: Record<string, string>) {
  const res = await fetch(url, { method, headers });
  const text = await res.text();
  return { status: res.status, text };
}

async function routes(base: string): Promise<{ method: string; path: string }[]> {
  const doc = (await (await fetch(`${base}/docs/json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path })),
  );
}

for (const api of ["admin", "broker"] as const) {
  test(`${api} API: every route answers an empty JSON body as it answers no body`, async () => {
    const base = api === "admin" ? stack.adminUrl : stack.brokerUrl;
    const token = { "X-Auth-Token": stack.adminToken };
    let compared = 0;
    for (const { method, path } of await routes(base)) {
      // A real-looking id that names nothing: each route goes as far as its own checks let it.
      const url = `${base}${path.replace(/\{[^}]+\}/g, "0123456789abcdef0123456789abcdef")}`;
      const bare = await send(url, method, token);
      const typed = await send(url, method, { ...token, ...JSON_TYPE });
      const where = `${method} ${path}`;
      assert.doesNotMatch(typed.text, /Body cannot be empty/, where);
      assert.equal(typed.status, bare.status, `${where}: ${typed.text} / ${bare.text}`);
      compared++;
    }
    assert.ok(compared >= (api === "admin" ? 35 : 4), `only ${compared} routes compared`);
  });
}

test("admin API: the reference's bodiless DELETE and POST with a JSON type do their work", async () => {
  const pool = await makePool(stack);
  const [serverId] = (await stack.runtime.core.instances.create({ projectId: pool.id, count: 1 }, null)).ids;
  const user = await makeUser(stack, [pool.id]);
  const group = await stack.runtime.deps.cloud.keystone.createGroup({ name: "g-empty", domainId: "default" });
  await stack.runtime.core.assignments.assignUsers(serverId!, [user.id], null);
  await stack.runtime.core.assignments.assignGroups(serverId!, [group.id], null);
  const headers = { "X-Auth-Token": stack.adminToken, ...JSON_TYPE };

  const delUser = await send(`${stack.adminUrl}/v1/servers/${serverId}/users/${user.id}`, "DELETE", headers);
  assert.equal(delUser.status, 204, delUser.text);
  const delGroup = await send(
    `${stack.adminUrl}/v1/servers/${serverId}/groups/${group.id}`,
    "DELETE",
    headers,
  );
  assert.equal(delGroup.status, 204, delGroup.text);
  const left = await fetch(`${stack.adminUrl}/v1/servers/${serverId}`, { headers });
  const server = ((await left.json()) as { server: { users: string[]; groups: string[] } }).server;
  assert.deepEqual([server.users, server.groups], [[], []]);

  const auto = await send(
    `${stack.adminUrl}/v1/projects/${pool.id}/actions/auto-allocate-users`,
    "POST",
    headers,
  );
  assert.equal(auto.status, 200, auto.text);
  assert.match(JSON.parse(auto.text).task_id, /^[0-9a-f-]{36}$/);
});

test("admin API: an empty JSON body where the body is optional is {} (PUT /v1/sessions/{id} closes now)", async () => {
  const pool = await makePool(stack);
  const [serverId] = (await stack.runtime.core.instances.create({ projectId: pool.id, count: 1 }, null)).ids;
  const headers = { "X-Auth-Token": stack.adminToken, ...JSON_TYPE };
  const made = await fetch(`${stack.adminUrl}/v1/sessions/`, {
    method: "POST",
    headers,
    body: JSON.stringify({ session: { instance_id: serverId, conn_type: "web" } }),
  });
  assert.equal(made.status, 200);
  const sessionId = ((await made.json()) as { session: { session_id: string } }).session.session_id;
  const closed = await send(`${stack.adminUrl}/v1/sessions/${sessionId}`, "PUT", headers);
  assert.equal(closed.status, 200, closed.text);
  assert.equal(typeof JSON.parse(closed.text).session.closed_at, "string");
});

test("admin API: an empty JSON body where a body is required is a 400 naming what is missing", async () => {
  const headers = { "X-Auth-Token": stack.adminToken, ...JSON_TYPE };
  const res = await send(
    `${stack.adminUrl}/v1/users/0123456789abcdef0123456789abcdef/servers/`,
    "POST",
    headers,
  );
  assert.equal(res.status, 400);
  assert.match(JSON.parse(res.text).error.message, /servers/);
});

test("simulator: Keystone grants a role on PUT with a JSON type and no body, as real Keystone does", async () => {
  const ks = stack.runtime.deps.cloud.keystone;
  const user = await makeUser(stack, []);
  const role = await ks.findRole("member");
  assert.ok(role);
  const projectId = stack.sim.demo.projectId;
  const res = await send(
    `${stack.sim.authUrl}/projects/${projectId}/users/${user.id}/roles/${role.id}`,
    "PUT",
    { "X-Auth-Token": stack.adminToken, ...JSON_TYPE },
  );
  assert.equal(res.status, 204, res.text);
  assert.ok(await ks.hasProjectRole(projectId, { userId: user.id }, role.id));
});

test("simulator: Nova deletes a server on DELETE with a JSON type and no body; a create without a body is Nova's 400", async () => {
  const pool = await makePool(stack);
  const [serverId] = (await stack.runtime.core.instances.create({ projectId: pool.id, count: 1 }, null)).ids;
  const nova = `${stack.sim.url}/compute/v2.1`;
  const headers = { "X-Auth-Token": stack.adminToken, ...JSON_TYPE };
  const del = await send(`${nova}/servers/${serverId}`, "DELETE", headers);
  assert.equal(del.status, 204, del.text);
  const create = await send(`${nova}/servers`, "POST", headers);
  assert.equal(create.status, 400, create.text);
  assert.equal(JSON.parse(create.text).badRequest.code, 400);
});
