// The audit trail (issue 16): every write the admin API answers is recorded from one hook,
// refused ones too (with their status), with who, what (route, target ids, key names, safe
// values only), when and from where; GET /v1/audit filters it with the reference's modifiers
// and time ranges, newest first; the database itself refuses to change or delete a record.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sql } from "kysely";
import { type api, assertAdminOnly, assertError, makePool, useAdminStack } from "../admin/api.ts";
import type { Stack } from "../helpers/stack.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
useAdminStack(async (started) => {
  ({ stack, call } = started);
});

async function events(query = "") {
  const res = await call("GET", `/v1/audit${query}`);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.events as any[];
}

describe("the audit trail", () => {
  test("a pool change is recorded with its author, route, target, key names and only safe values", async () => {
    const pool = await makePool(call, stack);
    const secretScript = Buffer.from("#!/bin/sh\necho hunter2-secret\n").toString("base64");
    const res = await call("PUT", `/v1/projects/${pool}`, {
      body: { project: { min_reserve_vm: 3, instance_init_script: secretScript } },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const [e] = await events(`?target__contains=${pool}&method=PUT`);
    assert.ok(e, "the PUT is listed");
    assert.equal(e.user_id, stack.sim.admin.userId);
    assert.equal(e.user_name, stack.sim.admin.username);
    assert.equal(e.route, "/v1/projects/:project_id");
    assert.deepEqual(e.target, { project_id: pool });
    assert.deepEqual(e.changed_keys.sort(), ["project.instance_init_script", "project.min_reserve_vm"]);
    assert.deepEqual(e.changed_values, { "project.min_reserve_vm": 3 });
    assert.equal(e.status, 200);
    assert.equal(e.client_ip, "127.0.0.1");
    assert.match(e.request_id, /^http-/);
    assert.match(e.at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    assert.ok(!JSON.stringify(e).includes(secretScript));
    // The creation is there too, older.
    const all = await events(`?target__contains=${pool}`);
    assert.equal(all.length, 1, "creation has no target id in its route");
    const created = await events(`?route=/v1/projects&method=POST&changed_keys__contains=project.name`);
    assert.ok(created.length >= 1);
  });

  test("refused changes are recorded with their status, and no token means no user", async () => {
    const body = { project: { name: "x" } };
    assert.equal((await call("POST", "/v1/projects/", { token: stack.memberToken, body })).status, 403);
    assert.equal((await call("POST", "/v1/projects/", { token: null, body })).status, 401);
    assert.equal((await call("DELETE", "/v1/projects/not-a-pool")).status, 404);
    const refused = await events("?status__gte=400&limit=3");
    assert.deepEqual(
      refused.map((e) => [e.method, e.status]),
      [
        ["DELETE", 404],
        ["POST", 401],
        ["POST", 403],
      ],
      "newest first",
    );
    assert.equal(refused[1].user_id, null);
    assert.equal(
      refused[2].user_name,
      stack.sim.demo.username,
      "the member's token was valid: its user is known",
    );
    assert.notEqual(refused[2].user_id, null);
    assert.deepEqual(refused[0].target, { project_id: "not-a-pool" });
  });

  test("a dashboard sign-in is recorded under the name it sent, never with its password", async () => {
    const res = await call("POST", "/v1/auth/tokens", {
      token: null,
      body: { user: "mallory", password: "hunter2-pass", domain: "Default" },
    });
    assert.equal(res.status, 401);
    const [e] = await events("?route=/v1/auth/tokens&limit=1");
    assert.equal(e.user_name, "mallory");
    assert.equal(e.user_id, null);
    assert.equal(e.status, 401);
    assert.deepEqual(e.changed_keys.sort(), ["domain", "password", "user"]);
    assert.deepEqual(e.changed_values, { user: "mallory", domain: "Default" });
    const raw = await sql<{ row: string }>`SELECT audit_events::text AS row FROM audit_events`.execute(
      stack.runtime.store.db,
    );
    assert.ok(
      raw.rows.every((r) => !r.row.includes("hunter2")),
      "no password anywhere in the table",
    );
  });

  test("reads are not recorded", async () => {
    const before = (await events("?limit=10000")).length;
    await call("GET", "/v1/projects/");
    await call("GET", "/v1/audit");
    assert.equal((await events("?limit=10000")).length, before);
  });

  test("time ranges, modifiers and limit filter the list", async () => {
    const all = await events("?limit=10000");
    assert.ok(all.length >= 5);
    const newest = all[0];
    const older = await events(`?at__lt=${newest.at}`);
    assert.ok(older.every((e) => e.at < newest.at));
    const recent = await events(`?at__gte=${newest.at}`);
    assert.ok(recent.some((e) => e.id === newest.id));
    assert.deepEqual(await events("?at__gt=2999-01-01T00:00:00"), []);
    assert.equal((await events("?limit=2")).length, 2);
    const notPost = await events("?method__noteq=POST&limit=10000");
    assert.ok(notPost.length > 0 && notPost.every((e) => e.method !== "POST"));
    const inList = await events("?status__in=401,403&limit=10000");
    assert.ok(inList.length >= 2 && inList.every((e) => e.status === 401 || e.status === 403));
  });

  test("bad queries are 400 envelopes", async () => {
    assertError(await call("GET", "/v1/audit?at__gt=yesterday"), 400);
    assertError(await call("GET", "/v1/audit?at__contains=2026"), 400);
    assertError(await call("GET", "/v1/audit?limit=0"), 400);
    assertError(await call("GET", "/v1/audit?limit=abc"), 400);
    assertError(await call("GET", "/v1/audit?nope=1"), 400);
    assertError(await call("GET", "/v1/audit?user_id__bogus=1"), 400);
  });

  test("only admins list it", async () => {
    await assertAdminOnly(call, stack, "GET", "/v1/audit");
  });

  test("the database refuses to change, delete or truncate a record", async () => {
    const db = stack.runtime.store.db;
    const [e] = await events("?limit=1");
    await assert.rejects(
      sql`UPDATE audit_events SET status = 200 WHERE id = ${e.id}`.execute(db),
      /append-only/,
    );
    await assert.rejects(sql`DELETE FROM audit_events WHERE id = ${e.id}`.execute(db), /append-only/);
    await assert.rejects(sql`TRUNCATE audit_events`.execute(db), /append-only/);
    assert.equal((await events("?limit=1"))[0].status, e.status);
  });
});
