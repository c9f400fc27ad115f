// `rs-server audit list|export` (issue 16) as an operator runs it, against a real stack: the
// changes made through the API are listed newest first and exported oldest first, every
// event once across pages, as JSON and as csv.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { type api, makePool, useAdminStack } from "../admin/api.ts";
import type { Stack } from "../helpers/stack.ts";
import { adminEnv, failed, json, ok, runCli } from "./run.ts";

let stack: Stack;
let call: ReturnType<typeof api>;
let pool: string;
useAdminStack(async (started) => {
  ({ stack, call } = started);
  pool = await makePool(call, stack);
  for (const n of [1, 2, 3]) {
    const res = await call("PUT", `/v1/projects/${pool}`, { body: { project: { min_reserve_vm: n } } });
    assert.equal(res.status, 200);
  }
  assert.equal((await call("DELETE", "/v1/projects/no-such-pool")).status, 404);
});

const cli = (args: string[]) => runCli(args, adminEnv(stack));

describe("rs-server audit", () => {
  test("list shows the changes newest first, filtered by target, as a table and as JSON", async () => {
    const table = ok(await cli(["audit", "list", "--target", pool]));
    assert.match(table, /PUT .*\/v1\/projects\/:project_id/);
    const rows = json(await cli(["audit", "list", "--target", pool, "-f", "json"]));
    assert.equal(rows.length, 3);
    assert.ok(rows.every((r: any) => r.Method === "PUT" && r.Status === 200));
    assert.ok(Number(rows[0].Id) > Number(rows[2].Id), "newest first");
    const refused = json(await cli(["audit", "list", "--refused", "--json"]));
    assert.ok(refused.events.some((e: any) => e.status === 404 && e.target.project_id === "no-such-pool"));
  });

  test("export pages through every event of the range, oldest first, once each", async () => {
    const all = json(await cli(["audit", "export", "--since", "2000-01-01T00:00:00", "--page", "2"]));
    const ids = all.map((e: any) => Number(e.id));
    assert.deepEqual(
      ids,
      [...ids].sort((a, b) => a - b),
      "oldest first",
    );
    assert.equal(new Set(ids).size, ids.length, "none twice");
    const direct = (await call("GET", "/v1/audit?limit=10000")).body.events;
    assert.ok(ids.length >= 5);
    // The export ran after those: every event the API listed then is in it.
    for (const e of direct) assert.ok(ids.includes(Number(e.id)), `event ${e.id} exported`);
    const puts = all.filter((e: any) => e.method === "PUT");
    assert.deepEqual(
      puts.map((e: any) => e.changed_values["project.min_reserve_vm"]),
      [1, 2, 3],
    );
  });

  test("export as csv has a header and one line per event, nested fields as JSON", async () => {
    const csv = ok(await cli(["audit", "export", "--target", pool, "-f", "csv"]));
    const lines = csv.trim().split("\n");
    assert.match(lines[0], /^"id","at","user_id","user_name",/);
    assert.equal(lines.length, 1 + 3);
    assert.match(lines[1], /"\{""project_id"":""[0-9a-f]+""\}"/);
  });

  test("a bad time is a usage error, not a stack trace", async () => {
    failed(await cli(["audit", "export", "--since", "yesterday"]), 2, /ISO 8601/);
  });
});

describe("rs-server pools update: session policy options", () => {
  test("set the pool's session_policy, none clears a limit, a bad action is a usage error", async () => {
    const set = json(
      await cli([
        "pools",
        "update",
        pool,
        "--idle-minutes",
        "30",
        "--max-minutes",
        "600",
        "--after-session",
        "rebuild",
        "--json",
      ]),
    );
    assert.deepEqual(set.project.session_policy, {
      idle_minutes: 30,
      disconnected_minutes: null,
      max_minutes: 600,
      after_session: "rebuild",
    });
    const cleared = json(await cli(["pools", "update", pool, "--idle-minutes", "none", "--json"]));
    assert.equal(cleared.project.session_policy.idle_minutes, null);
    assert.equal(cleared.project.session_policy.max_minutes, 600);
    failed(await cli(["pools", "update", pool, "--after-session", "burn"]), 2, /after-session/);
    // The change is in the audit trail with its keys and values.
    const [e] = json(await cli(["audit", "list", "--target", pool, "--limit", "1", "--json"])).events;
    assert.deepEqual(e.changed_values, { "project.session_policy.idle_minutes": null });
  });
});
