// `rs-server jobs list` as an operator runs it, against a real stack: every periodic job with its
// state, and `--problems` keeping the late and failing ones (a morning check).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { sql } from "kysely";
import { useAdminStack } from "../admin/api.ts";
import type { Stack } from "../helpers/stack.ts";
import { adminEnv, json, ok, runCli } from "./run.ts";

let stack: Stack;
useAdminStack(async (started) => {
  ({ stack } = started);
  await sql`INSERT INTO periodic_jobs (name, period_seconds, next_run_at, last_finished_at, last_error, failures)
    VALUES ('test.failing', 3600, now() + interval '1 hour', now(), ${"Error: Nova: 503\n    at stack line"}, 4),
           ('test.late', 10, now() - interval '5 minutes', NULL, NULL, 0),
           ('test.fine', 3600, now() + interval '1 hour', now(), NULL, 0)`.execute(stack.runtime.store.db);
});

const cli = (args: string[]) => runCli(args, adminEnv(stack));

describe("rs-server jobs", () => {
  test("list shows every job with its state; the table gives the error's first line", async () => {
    const rows = json(await cli(["jobs", "list", "-f", "json"]));
    const byName = Object.fromEntries(rows.map((r: any) => [r.Job, r]));
    assert.equal(byName["test.failing"].State, "failing");
    assert.equal(byName["test.failing"].Failures, 4);
    assert.equal(byName["test.failing"]["Last error"], "Error: Nova: 503");
    assert.equal(byName["test.late"].State, "late");
    assert.equal(byName["test.fine"].State, "ok");
    // The stack's own background work is there too.
    for (const job of ["reserve.keeper", "reconciler", "history.retention"]) assert.ok(byName[job], job);
    const table = ok(await cli(["jobs", "list"]));
    assert.match(table, /\| test\.failing +\| failing +\|/);
  });

  test("--problems keeps the late and failing jobs, also as the API's JSON", async () => {
    const rows = json(await cli(["jobs", "list", "--problems", "-f", "json"]));
    const names = rows.map((r: any) => r.Job).sort();
    assert.ok(names.includes("test.failing") && names.includes("test.late"));
    assert.ok(!names.includes("test.fine"));
    assert.ok(rows.every((r: any) => r.State === "late" || r.State === "failing"));
    const raw = json(await cli(["jobs", "list", "--problems", "--json"]));
    assert.ok(raw.jobs.some((j: any) => j.name === "test.failing" && j.last_error.includes("at stack line")));
    assert.ok(!raw.jobs.some((j: any) => j.name === "test.fine"));
  });
});
