// The planner statistics job (core/planner-stats.ts): a reserve that came ACTIVE since the
// instances table was last analyzed looks empty to the planner, which may then plan the claim
// as a scan of the pool and a sort (the storm bench did, at 6.8 ms of PostgreSQL per
// allocation), and a prepared claim keeps that plan until the next ANALYZE; the job analyzes
// the tables that changed past autovacuum's threshold, and the claim then reads the free index. A role that may not
// ANALYZE is told once, and the job stops trying.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import pino from "pino";
import { PlannerStatistics } from "../../src/core/planner-stats.ts";
import type { Store } from "../../src/store/db.ts";
import { PlannerStatsRepository } from "../../src/store/planner-stats.ts";
import { createTestStore, insertTestPool } from "../helpers/db.ts";
import { waitFor } from "../tasks/helpers.ts";

let store: Store;
before(async () => {
  store = await createTestStore();
});
after(() => store.close());

/** How many ACTIVE instances of the pool the planner believes there are. */
async function activeEstimate(): Promise<number> {
  const { rows } = await sql<{ "QUERY PLAN": string }>`EXPLAIN
    SELECT id FROM instances WHERE pool_id = 'p1' AND status = 'ACTIVE'`.execute(store.db);
  return Number(/rows=(\d+)/.exec(rows[0]["QUERY PLAN"])?.[1]);
}

/** The plan of the warm claim's choice of a free instance (store/holders.ts warmFree). */
async function freeClaimPlan(): Promise<string> {
  const { rows } = await sql<{ "QUERY PLAN": string }>`EXPLAIN
    SELECT i.id FROM instances i
     WHERE i.pool_id = 'p1' AND i.status = 'ACTIVE' AND i.deleted_at IS NULL
       AND NOT i.draining AND i.holder_count = 0 AND i.ready_at <= now()
     ORDER BY i.created_at, i.id LIMIT 1 FOR UPDATE OF i SKIP LOCKED`.execute(store.db);
  return rows.map((r) => r["QUERY PLAN"]).join("\n");
}

test("a pool grown since the last ANALYZE is claimed from the free index once the job has run", async () => {
  const db = store.db;
  await insertTestPool(db, "p1", "img");
  // A reserve built: statistics taken while its instances were still building (autovacuum's
  // last look), then all of them come ACTIVE.
  await sql`INSERT INTO instances (id, pool_id, name, status, created_at)
    SELECT 'i' || n, 'p1', 'x-' || n, 'BUILD', now() - make_interval(secs => 5000 - n)
      FROM generate_series(1, 2000) n`.execute(db);
  await sql`ANALYZE instances`.execute(db);
  await db.connection().execute(async (c) => {
    await sql`UPDATE instances SET status = 'ACTIVE', fixed_ip = '10.0.0.1', ready_at = now() - interval '1 hour'`.execute(
      c,
    );
    await sql`SELECT pg_stat_force_next_flush()`.execute(c);
  });
  const repo = new PlannerStatsRepository(db);
  await waitFor("the inserts in the table statistics", async () =>
    (await repo.stale(["instances"])).some((t) => t.table === "instances"),
  );
  // The planner believes the pool has no ACTIVE instance: a scan of the pool and a sort look
  // as cheap as the free index (which plan it takes then is a toss-up).
  assert.ok((await activeEstimate()) < 20, `estimate ${await activeEstimate()}`);

  const job = new PlannerStatistics(repo, pino({ level: "silent" }));
  assert.ok((await job.run()).includes("instances"));
  assert.ok((await activeEstimate()) > 1500, `estimate ${await activeEstimate()}`);
  const plan = await freeClaimPlan();
  assert.match(plan, /Index Scan using instances_free/, plan);
  assert.doesNotMatch(plan, /Sort/, plan);
  // Nothing changed since: nothing to do.
  await waitFor(
    "the ANALYZE in the table statistics",
    async () => !(await repo.stale(["instances"])).some((t) => t.table === "instances"),
  );
  assert.deepEqual(await job.run(), []);
});

test("a database role that may not ANALYZE is told once, and the job leaves it to autovacuum", async () => {
  const lines: string[] = [];
  const logger = pino({ level: "info" }, { write: (l: string) => lines.push(l) });
  let asked = 0;
  const repo = {
    stale: async () => {
      asked += 1;
      return [
        { table: "instances" as const, allowed: false },
        { table: "sessions" as const, allowed: false },
      ];
    },
    analyze: async () => {
      throw new Error("not asked: the role may not");
    },
  };
  const job = new PlannerStatistics(repo, logger);
  assert.deepEqual(await job.run(), []);
  assert.deepEqual(await job.run(), []);
  assert.equal(asked, 1);
  assert.equal(lines.length, 1);
  assert.match(lines[0], /cannot ANALYZE/);
});

test("a table this role does not own is stale but not allowed (PostgreSQL would skip its ANALYZE)", async () => {
  const role = `rs_stats_${Date.now()}`;
  await sql`CREATE ROLE ${sql.id(role)}`.execute(store.db);
  try {
    await store.db.connection().execute(async (c) => {
      await sql`INSERT INTO rate_limits (key, count) SELECT 'k' || n, 1 FROM generate_series(1, 200) n`.execute(
        c,
      );
      await sql`SELECT pg_stat_force_next_flush()`.execute(c);
    });
    const repo = new PlannerStatsRepository(store.db);
    await waitFor(
      "the inserts in the table statistics",
      async () => (await repo.stale(["rate_limits"])).length > 0,
    );
    assert.deepEqual(await repo.stale(["rate_limits"]), [{ table: "rate_limits", allowed: true }]);
    await store.db.connection().execute(async (c) => {
      await sql`SET ROLE ${sql.id(role)}`.execute(c);
      try {
        assert.deepEqual(await new PlannerStatsRepository(c).stale(["rate_limits"]), [
          { table: "rate_limits", allowed: false },
        ]);
      } finally {
        await sql`RESET ROLE`.execute(c);
      }
    });
  } finally {
    await sql`DROP ROLE ${sql.id(role)}`.execute(store.db);
  }
});
