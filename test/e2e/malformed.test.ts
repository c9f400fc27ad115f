// No request, however malformed, gets a 5xx or a stack trace: every route of both APIs (read
// from their own OpenAPI documents) is sent broken bodies, ids and query strings.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack?.stop());

const BODIES: (string | undefined)[] = [
  undefined,
  "",
  "{",
  "null",
  "[]",
  '"text"',
  "42",
  '{"project": null, "server": [], "users": "x", "session": {"instance_id": 5}}',
  '{"project": {"name": {"a": 1}, "flavor_id": 3, "min_reserve_vm": "many", "instance_init_script": "%%%"}}',
  '{"server": {"name": "x", "count": -1, "users": [1, 2]}, "groups": [null]}',
  `{"user": "${"u".repeat(5000)}", "password": 1, "request": {"x": 1}}`,
  '{"user_id": [], "project_id": {}, "volume_id": null, "floating_ip_id": 7}',
];
const IDS = [
  "x",
  "%00",
  "..%2f..",
  "..",
  "__proto__",
  "constructor",
  "a".repeat(600),
  "00000000-0000-0000-0000-000000000000",
  "%E2%82%AC",
];
const QUERIES = [
  "",
  "?with_os_object=maybe",
  "?assigned__bogus=1",
  "?user_id__in=",
  "?last=2&x=%00",
  "?project_id__gt=a&project_id__gt=b",
];

async function routes(base: string): Promise<{ method: string; path: string }[]> {
  const doc = (await (await fetch(`${base}/docs/json`)).json()) as {
    paths: Record<string, Record<string, unknown>>;
  };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.keys(ops).map((method) => ({ method: method.toUpperCase(), path })),
  );
}

function fill(path: string, id: string) {
  return path.replace(/\{[^}]+\}/g, id);
}

for (const api of ["admin", "broker"] as const) {
  test(`${api} API: malformed requests never get a 5xx or a stack trace`, async () => {
    const base = api === "admin" ? stack.adminUrl : stack.brokerUrl;
    const seen: string[] = [];
    for (const { method, path } of await routes(base)) {
      for (const id of IDS) {
        for (const [i, body] of BODIES.entries()) {
          const query = QUERIES[i % QUERIES.length];
          const headers: Record<string, string> = { "X-Auth-Token": stack.adminToken };
          if (body !== undefined) headers["Content-Type"] = i % 5 === 4 ? "text/plain" : "application/json";
          const res = await fetch(`${base}${fill(path, id)}${query}`, {
            method,
            headers,
            body: method === "GET" || method === "HEAD" ? undefined : body,
          });
          const text = await res.text();
          const where = `${method} ${fill(path, id)}${query} body=${body?.slice(0, 60)}`;
          assert.ok(res.status < 500, `${where} → ${res.status} ${text.slice(0, 200)}`);
          assert.doesNotMatch(text, /\n\s+at .+:\d+:\d+/, `${where} leaked a stack trace`);
          if (res.status >= 400 && path !== "/metrics") {
            const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown } };
            assert.equal(
              typeof parsed.error?.message,
              "string",
              `${where} → no error envelope: ${text.slice(0, 200)}`,
            );
          }
          seen.push(`${res.status}`);
        }
      }
    }
    assert.ok(seen.length > 100, `only ${seen.length} requests made`);
  });
}
