// The free-instance index and the counters of issue 13's storm work (migrations 096, 097): the
// holder count follows every way an assignment changes, the claim does not trust it blindly, a
// switch of the pool's mode waits for a claim in progress, and the session counters' slots of
// past days fold into one without changing a count.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import type { Store } from "../../src/store/db.ts";
import { HolderRepository } from "../../src/store/holders.ts";
import { lockPoolMode } from "../../src/store/pool-lock.ts";
import { PoolRepository } from "../../src/store/pools.ts";
import { SessionRepository } from "../../src/store/sessions.ts";
import { createTestStore, insertTestPool } from "../helpers/db.ts";

let store: Store;
before(async () => {
  store = await createTestStore();
  await insertTestPool(store.db, "p1", "img");
  for (const n of [1, 2, 3, 4])
    await store.db
      .insertInto("instances")
      .values({
        id: `i${n}`,
        pool_id: "p1",
        name: `x-${n}`,
        status: "ACTIVE",
        fixed_ip: `10.0.0.${n}`,
        ready_at: new Date(0),
        created_at: new Date(Date.UTC(2026, 0, n)),
      })
      .execute();
});
after(() => store.close());

const counts = async () => {
  const rows = await store.db.selectFrom("instances").select(["id", "holder_count"]).orderBy("id").execute();
  return Object.fromEntries(rows.map((r) => [r.id, r.holder_count]));
};
const by = { actor: "test", reason: null };

test("the holder count follows users and groups added, moved, removed and truncated", async () => {
  const db = store.db;
  await db
    .insertInto("instance_users")
    .values({ instance_id: "i1", user_id: "u1", exclusive: true })
    .execute();
  await db.insertInto("instance_groups").values({ instance_id: "i1", group_id: "g1" }).execute();
  await db.insertInto("instance_groups").values({ instance_id: "i2", group_id: "g2" }).execute();
  assert.deepEqual(await counts(), { i1: 2, i2: 1, i3: 0, i4: 0 });
  await db.updateTable("instance_groups").set({ instance_id: "i3" }).where("group_id", "=", "g2").execute();
  assert.deepEqual(await counts(), { i1: 2, i2: 0, i3: 1, i4: 0 });
  await db.deleteFrom("instance_users").where("user_id", "=", "u1").execute();
  assert.deepEqual(await counts(), { i1: 1, i2: 0, i3: 1, i4: 0 });
  // A rolled-back assignment leaves the count as it was.
  await assert.rejects(
    db.transaction().execute(async (trx) => {
      await trx
        .insertInto("instance_users")
        .values({ instance_id: "i4", user_id: "u9", exclusive: true })
        .execute();
      throw new Error("rolled back");
    }),
    /rolled back/,
  );
  assert.deepEqual(await counts(), { i1: 1, i2: 0, i3: 1, i4: 0 });
  await sql`TRUNCATE instance_groups`.execute(db);
  assert.deepEqual(await counts(), { i1: 0, i2: 0, i3: 0, i4: 0 });
});

test("the claim reads the oldest free instance from the index, and re-checks what the count says", async () => {
  const holders = new HolderRepository(store.db);
  assert.equal(await holders.claimFree("p1", "u1", by), "i1");
  assert.deepEqual(await counts(), { i1: 1, i2: 0, i3: 0, i4: 0 });
  // A count gone wrong (written by hand here) must not hand out a held instance: i2 is held
  // but says 0, and the claim passes it by for i3.
  await store.db
    .insertInto("instance_users")
    .values({ instance_id: "i2", user_id: "u7", exclusive: true })
    .execute();
  await sql`UPDATE instances SET holder_count = 0 WHERE id = 'i2'`.execute(store.db);
  assert.equal(await holders.claimFree("p1", "u2", by), "i3");
  assert.deepEqual(
    (
      await store.db.selectFrom("instance_users").select("user_id").where("instance_id", "=", "i2").execute()
    ).map((r) => r.user_id),
    ["u7"],
  );
  // Where the table is tiny PostgreSQL may scan it; the index must be what it takes otherwise.
  const forced = await store.db.connection().execute(async (c) => {
    await sql`SET enable_seqscan = off`.execute(c);
    const plan = await sql<{ "QUERY PLAN": string }>`
      EXPLAIN SELECT * FROM instances i WHERE i.pool_id = 'p1' AND i.status IN ('ACTIVE')
        AND i.deleted_at IS NULL AND NOT i.draining AND i.holder_count = 0
        ORDER BY i.created_at, i.id LIMIT 1`.execute(c);
    await sql`RESET enable_seqscan`.execute(c);
    return plan;
  });
  assert.match(forced.rows.map((r) => r["QUERY PLAN"]).join("\n"), /instances_free/);
});

test("a switch of the pool's mode waits for a claim in progress", async () => {
  const pools = new PoolRepository(store.db);
  let release!: () => void;
  const held = new Promise<void>((r) => {
    release = r;
  });
  let locked!: () => void;
  const lockTaken = new Promise<void>((r) => {
    locked = r;
  });
  const claim = store.db.transaction().execute(async (trx) => {
    await lockPoolMode(trx, "p1");
    locked();
    await held;
  });
  await lockTaken;
  let switched = false;
  const sw = pools.switchMode("p1", "2", {}).then(() => {
    switched = true;
  });
  // The switch is queued behind the claim's shared lock: PostgreSQL shows it waiting.
  for (let i = 0; i < 100; i++) {
    const { rows } = await sql<{ n: number }>`
      SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`.execute(store.db);
    if (rows[0].n > 0) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.equal(switched, false);
  release();
  await claim;
  await sw;
  assert.equal(switched, true);
  const pool = await store.db
    .selectFrom("pools")
    .select("operation_mode")
    .where("id", "=", "p1")
    .executeTakeFirst();
  assert.equal(pool?.operation_mode, "2");
});

test("the session counters' slots of past days fold into one, and the counts stay", async () => {
  const sessions = new SessionRepository(store.db);
  const day = new Date(Date.UTC(2026, 0, 5, 12));
  const row = () => ({
    id: randomUUID(),
    instance_id: "i1",
    project_id: "p1",
    user_id: "u1",
    connection_type: "rdp",
    created_at: day,
  });
  // Each connection counts in a slot of its own (its pid).
  await store.db.connection().execute((c) => c.insertInto("sessions").values(row()).execute());
  await store.db.transaction().execute(async (trx) => {
    await trx.insertInto("sessions").values(row()).execute();
    await trx
      .insertInto("sessions")
      .values({ ...row(), created_at: new Date() })
      .execute();
  });
  const before = await sessions.count({ projectId: "p1" });
  assert.equal(before, 3);
  const slots = await store.db
    .selectFrom("session_counts")
    .selectAll()
    .where("day", "<", new Date().toISOString().slice(0, 10))
    .execute();
  assert.ok(slots.length >= 1);
  assert.ok(slots.every((s) => s.slot !== 0));
  assert.equal(await sessions.foldCountSlots(), slots.length);
  const folded = await store.db
    .selectFrom("session_counts")
    .selectAll()
    .where("day", "<", new Date().toISOString().slice(0, 10))
    .execute();
  assert.deepEqual(
    folded.map((s) => [s.slot, Number(s.n)]),
    [[0, 2]],
  );
  assert.equal(await sessions.count({ projectId: "p1" }), 3);
  assert.equal(await sessions.foldCountSlots(), 0);
});

test("a claim that may wait for readiness takes ready ones first, then building ones, then those in their grace", async () => {
  await store.db
    .insertInto("pools")
    .values({
      id: "p2",
      name: "p2",
      domain_id: "default",
      flavor_id: "f",
      image_id: "img",
      instance_name_pattern: "y",
      operation_mode: "1",
    })
    .execute();
  const at = (n: number) => new Date(Date.UTC(2026, 1, n));
  const rows = [
    { id: "grace", status: "ACTIVE", ready_at: new Date(Date.now() + 60_000), created_at: at(1) },
    { id: "building", status: "BUILD", ready_at: null, created_at: at(2) },
    { id: "ready", status: "ACTIVE", ready_at: new Date(0), created_at: at(3) },
  ];
  for (const r of rows)
    await store.db
      .insertInto("instances")
      .values({ ...r, pool_id: "p2", name: `y-${r.id}`, fixed_ip: "10.0.1.1" })
      .execute();
  const holders = new HolderRepository(store.db);
  const claim = async (userId: string) =>
    (
      await holders.claim({
        kind: "free",
        poolId: "p2",
        userId,
        statuses: ["ACTIVE", "BUILD"],
        actor: "test",
        reason: null,
        waitReady: true,
      })
    )?.id;
  assert.deepEqual([await claim("ua"), await claim("ub"), await claim("uc")], ["ready", "building", "grace"]);
});
