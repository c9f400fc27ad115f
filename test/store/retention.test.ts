// History retention (core/retention.ts, store/retention.ts): finished tasks and finished broker
// requests past their retention are deleted, batch after batch; unfinished ones are kept however
// old, recent ones are kept, and 0 days keeps everything.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, beforeEach, test } from "node:test";
import { sql } from "kysely";
import pino from "pino";
import { HistoryRetention } from "../../src/core/retention.ts";
import type { Store } from "../../src/store/db.ts";
import { RetentionRepository } from "../../src/store/retention.ts";
import { createTestStore } from "../helpers/db.ts";

let store: Store;
before(async () => {
  store = await createTestStore();
});
after(() => store.close());
beforeEach(async () => {
  await sql`TRUNCATE tasks, requests`.execute(store.db);
});

const daysAgo = (d: number) => new Date(Date.now() - d * 86_400_000);

async function task(status: string, ageDays: number): Promise<string> {
  const id = randomUUID();
  await sql`INSERT INTO tasks (id, name, status, created_at) VALUES (${id}::uuid, 'x', ${status}, ${daysAgo(ageDays)})`.execute(
    store.db,
  );
  return id;
}

async function request(status: string, ageDays: number): Promise<string> {
  const id = randomUUID();
  await store.db
    .insertInto("requests")
    .values({
      id,
      user_id: "u",
      project_id: "p",
      status,
      steps: JSON.stringify([]),
      created_at: daysAgo(ageDays),
    } as never)
    .execute();
  return id;
}

const ids = async (table: "tasks" | "requests") =>
  (await sql<{ id: string }>`SELECT id::text FROM ${sql.table(table)} ORDER BY id`.execute(store.db)).rows
    .map((r) => r.id)
    .sort();

test("finished tasks and requests past their days are deleted; unfinished and recent ones are kept", async () => {
  const keptTasks = [
    await task("PENDING", 90),
    await task("STARTED", 90),
    await task("RETRY", 90),
    await task("SUCCESS", 5),
  ];
  for (const s of ["SUCCESS", "FAILURE", "REVOKED"]) await task(s, 31);
  const keptRequests = [
    await request("pending", 90),
    await request("in_progress", 90),
    await request("failed", 29),
  ];
  for (const s of ["completed", "failed"]) await request(s, 40);

  const job = new HistoryRetention(
    new RetentionRepository(store.db),
    { tasksDays: 30, requestsDays: 30, batch: 1000 },
    pino({ level: "silent" }),
  );
  assert.deepEqual(await job.run(), { tasks: 3, requests: 2 });
  assert.deepEqual(await ids("tasks"), keptTasks.sort());
  assert.deepEqual(await ids("requests"), keptRequests.sort());
  // Nothing left to delete: the next run deletes nothing.
  assert.deepEqual(await job.run(), { tasks: 0, requests: 0 });
});

test("a run deletes batch after batch, oldest first, until none is left", async () => {
  for (let i = 0; i < 23; i++) await request("completed", 40 + i);
  const repo = new RetentionRepository(store.db);
  // One batch deletes at most its limit, the oldest.
  assert.equal(await repo.pruneRequests(30, 5), 5);
  const left = await store.db.selectFrom("requests").select("created_at").orderBy("created_at").execute();
  assert.equal(left.length, 18);
  assert.ok(left[0].created_at > daysAgo(57.5), "the oldest five went first");
  const job = new HistoryRetention(
    repo,
    { tasksDays: 30, requestsDays: 30, batch: 5 },
    pino({ level: "silent" }),
  );
  assert.deepEqual(await job.run(), { tasks: 0, requests: 18 });
  assert.deepEqual(await ids("requests"), []);
});

test("0 days keeps everything", async () => {
  await task("SUCCESS", 400);
  await request("completed", 400);
  const job = new HistoryRetention(
    new RetentionRepository(store.db),
    { tasksDays: 0, requestsDays: 0, batch: 5 },
    pino({ level: "silent" }),
  );
  assert.deepEqual(await job.run(), { tasks: 0, requests: 0 });
  assert.equal((await ids("tasks")).length, 1);
  assert.equal((await ids("requests")).length, 1);
});

test("a batch reads the oldest rows by index, not by scanning the table", async () => {
  await sql`SET enable_seqscan = off`.execute(store.db);
  try {
    for (const table of ["tasks", "requests"]) {
      const { rows } = await sql<{ "QUERY PLAN": string }>`EXPLAIN
        SELECT id FROM ${sql.table(table)} WHERE created_at < now() - interval '30 days' ORDER BY created_at LIMIT 5000`.execute(
        store.db,
      );
      const plan = rows.map((r) => r["QUERY PLAN"]).join("\n");
      assert.match(plan, /Index Scan (using|on) (tasks|requests)_created/, plan);
    }
  } finally {
    await sql`RESET enable_seqscan`.execute(store.db);
  }
});
