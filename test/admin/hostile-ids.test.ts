// Ids an attacker picks: "." and ".." (fetch resolves them, so a Keystone or Nova URL built from
// them would name another resource, often a whole collection) and "__proto__" / "constructor"
// (members of every plain JavaScript object). In a path or in a body, each is an unknown id:
// 404 or 400 in the envelope, and nothing is assigned. And a body nested deeper than a recursive
// walk can go.
import assert from "node:assert/strict";
import { request } from "node:http";
import { test } from "node:test";
import type { Stack } from "../helpers/stack.ts";
import { type api, assertError, makePool, makeServers, useAdminStack } from "./api.ts";

const HOSTILE = ["..", ".", "__proto__", "constructor", "%2e%2e"];

let stack: Stack;
let call: ReturnType<typeof api>;
let instance: string;
useAdminStack(async (started) => {
  ({ stack, call } = started);
  const pool = await makePool(call, stack, { operation_mode: "2", max_users_per_instance: 5 });
  [instance] = await makeServers(call, pool);
});

test("hostile user and group ids in a body are unknown ids (400), and nothing is assigned", async () => {
  for (const id of HOSTILE) {
    assertError(await call("POST", `/v1/servers/${instance}/users/`, { body: { users: [id] } }), 400);
    assertError(await call("POST", `/v1/servers/${instance}/groups/`, { body: { groups: [id] } }), 400);
    assertError(
      await call("PUT", `/v1/servers/${instance}`, { body: { server: { users: [id], groups: [id] } } }),
      400,
    );
  }
  assert.deepEqual((await call("GET", `/v1/servers/${instance}/users/`)).body.users, []);
  assert.deepEqual((await call("GET", `/v1/servers/${instance}/groups/`)).body.groups, []);
});

/** An HTTP request with its path sent as it is (fetch and inject resolve dot segments first). */
function raw(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> {
  const url = new URL(stack.adminUrl);
  return new Promise((done, fail) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        method,
        path,
        headers: {
          "X-Auth-Token": stack.adminToken,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
      },
      (res) => {
        let text = "";
        res.on("data", (c) => {
          text += c;
        });
        res.on("end", () => done({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on("error", fail);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

test("hostile ids in a path are unknown (404 or 400), never a 5xx", async () => {
  for (const id of HOSTILE) {
    for (const [method, url, body] of [
      ["GET", `/v1/users/${id}/servers/`],
      ["POST", `/v1/users/${id}/servers/`, { servers: [instance] }],
      ["POST", `/v1/groups/${id}/servers/`, { servers: [instance] }],
      ["GET", `/v1/projects/${id}`],
      ["GET", `/v1/projects/${id}/statistics`],
      ["GET", `/v1/servers/${id}`],
      ["GET", `/v1/servers/${id}?with_os_object=true`],
      ["DELETE", `/v1/servers/${instance}/users/${id}`],
    ] as [string, string, unknown?][]) {
      const reply = await raw(method, url, body);
      assert.ok(
        [400, 404].includes(reply.status),
        `${method} ${url} → ${reply.status} ${JSON.stringify(reply.body)}`,
      );
      assertError(reply, reply.status);
    }
  }
  assert.deepEqual((await call("GET", `/v1/servers/${instance}/users/`)).body.users, []);
});

test("JSON nested 20,000 deep is a 400 with a token and a 401 without, never a 500", async () => {
  const deep = `{"users": ${"[".repeat(20_000)}${"]".repeat(20_000)}}`;
  const send = (token?: string) =>
    fetch(`${stack.adminUrl}/v1/servers/${instance}/users/`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...(token ? { "X-Auth-Token": token } : {}) },
      body: deep,
    });
  const withToken = await send(stack.adminToken);
  assert.equal(withToken.status, 400, await withToken.text());
  const without = await send();
  assert.equal(without.status, 401, await without.text());
});

test("a lone surrogate (JSON's \\ud800) in an id is a 400, not a 500 from encoding it into an OpenStack URL", async () => {
  // Found by test/e2e/fuzz.test.ts: encodeURIComponent throws on it (POST /volume-assignments/).
  const lone = JSON.parse('"a\\ud800"') as string;
  const before = await call("GET", "/v1/volume-assignments/");
  for (const body of [
    { user_id: lone, project_id: "p", volume_id: "v" },
    { user_id: "u", project_id: "p", volume_id: lone },
  ])
    assertError(await call("POST", "/v1/volume-assignments/", { body }), 400);
  assertError(await call("POST", `/v1/servers/${instance}/users/`, { body: { users: [lone] } }), 400);
  assert.deepEqual((await call("GET", "/v1/volume-assignments/")).body, before.body);
});
