// Issue 2's end-to-end check: real Keystone tokens from the simulator against the admin API.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack?.stop());

const get = (path: string, token?: string) =>
  fetch(`${stack.adminUrl}${path}`, { headers: token ? { "X-Auth-Token": token } : {} });

test("an admin token reads /v1/info and /v1/tasks", async () => {
  const info = await get("/v1/info", stack.adminToken);
  assert.equal(info.status, 200);
  const body = (await info.json()) as { info: { version: string; license: unknown } };
  assert.match(body.info.version, /^\d+\.\d+\.\d+/);
  assert.equal(body.info.license, null);
  const tasks = await get("/v1/tasks/", stack.adminToken);
  assert.equal(tasks.status, 200);
  assert.ok(Array.isArray(((await tasks.json()) as { tasks: string[] }).tasks));
});

test("a member token gets 403 in the envelope", async () => {
  const res = await get("/v1/info", stack.memberToken);
  assert.equal(res.status, 403);
  const body = (await res.json()) as { error: { code: number; title: string; message: string } };
  assert.equal(body.error.code, 403);
  assert.equal(body.error.title, "Forbidden");
});

test("no token gets 401 and an invalid token 401", async () => {
  const none = await get("/v1/tasks");
  assert.equal(none.status, 401);
  assert.equal(((await none.json()) as { error: { code: number } }).error.code, 401);
  const bad = await get("/v1/tasks", "not-a-token");
  assert.equal(bad.status, 401);
});

test("a revoked token stops working once its cache entry is gone", async () => {
  const token = await stack.token({ ...stack.sim.admin, projectId: stack.sim.admin.projectId });
  assert.equal((await get("/v1/info", token)).status, 200);
  await fetch(`${stack.sim.authUrl}/auth/tokens`, {
    method: "DELETE",
    headers: { "X-Auth-Token": stack.adminToken, "X-Subject-Token": token },
  });
  // The validation is cached by hash for tokenCacheSeconds; a fresh validator sees the revocation.
  const validator = stack.runtime.deps.cloud.keystone;
  assert.equal(await validator.validateToken(token), undefined);
});

test("every response carries a request id, and unknown paths answer the envelope", async () => {
  const res = await get("/v1/no-such-thing", stack.adminToken);
  assert.equal(res.status, 404);
  assert.match(res.headers.get("x-request-id") ?? "", /^http-/);
  assert.equal(((await res.json()) as { error: { code: number } }).error.code, 404);
});

test("health reports the database and the cloud", async () => {
  const res = await fetch(`${stack.adminUrl}/health`);
  assert.equal(res.status, 200);
  const body = (await res.json()) as { status: string; checks: Record<string, { ok: boolean }> };
  assert.equal(body.status, "ok");
  assert.equal(body.checks.database.ok, true);
  assert.equal(body.checks.cloud.ok, true);
});

test("the OpenAPI document is served", async () => {
  const res = await fetch(`${stack.adminUrl}/docs/json`);
  assert.equal(res.status, 200);
  const doc = (await res.json()) as { openapi: string; paths: Record<string, unknown> };
  assert.equal(doc.openapi, "3.0.3");
  assert.ok(doc.paths["/v1/info"]);
});
