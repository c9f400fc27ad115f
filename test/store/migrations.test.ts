import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { migrate, type Store } from "../../src/store/db.ts";
import { createTestStore, insertTestPool } from "../helpers/db.ts";

let store: Store;
before(async () => {
  store = await createTestStore();
});
after(() => store.close());

test("migrations create the domain tables and are idempotent", async () => {
  await migrate(store.db);
  const { rows } = await sql<{ table_name: string }>`
    SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'`.execute(store.db);
  const names = rows.map((r) => r.table_name);
  for (const t of ["pools", "instances", "instance_users", "sessions", "requests", "tasks"]) {
    assert.ok(names.includes(t), `${t} missing`);
  }
});

test("a Standard instance can never hold two users", async () => {
  await insertTestPool(store.db, "p1", "i");
  await store.db.insertInto("instances").values({ id: "i1", pool_id: "p1", name: "x-1" }).execute();
  await store.db
    .insertInto("instance_users")
    .values({ instance_id: "i1", user_id: "u1", exclusive: true })
    .execute();
  await assert.rejects(
    store.db
      .insertInto("instance_users")
      .values({ instance_id: "i1", user_id: "u2", exclusive: true })
      .execute(),
    /instance_users_one_holder/,
  );
});
