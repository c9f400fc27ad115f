// Named prepared statements for the hot statements (store/db.ts PREPARED): a statement marked
// `/* prepared NAME */` is prepared once per connection and answers as before; with
// database.preparedStatements off nothing is prepared (poolers that lose them).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { sql } from "kysely";
import { connect, type Store } from "../../src/store/db.ts";
import { createTestStore } from "../helpers/db.ts";

let store: Store;
before(async () => {
  store = await createTestStore();
});
after(() => store.close());

async function run(prepared: boolean) {
  const db = connect(store.url, 1, () => {}, "prepared-test", prepared);
  try {
    const answers: number[] = [];
    for (const n of [1, 2, 3])
      answers.push(
        (await sql<{ n: number }>`/* prepared rs_test_double */ SELECT ${n}::int * 2 AS n`.execute(db))
          .rows[0].n,
      );
    const { rows } = await sql<{ name: string }>`SELECT name FROM pg_prepared_statements`.execute(db);
    return { answers, names: rows.map((r) => r.name) };
  } finally {
    await db.destroy();
  }
}

test("a marked statement is prepared once per connection and answers as before", async () => {
  const { answers, names } = await run(true);
  assert.deepEqual(answers, [2, 4, 6]);
  assert.deepEqual(names, ["rs_test_double"]);
});

test("with prepared statements off, nothing is prepared", async () => {
  const { answers, names } = await run(false);
  assert.deepEqual(answers, [2, 4, 6]);
  assert.deepEqual(names, []);
});

test("a prepared SELECT * whose table gained a column is prepared afresh after one refusal", async () => {
  const db = connect(store.url, 1, () => {}, "prepared-test", true);
  try {
    await sql`CREATE TABLE prepared_widen (a int)`.execute(db);
    await sql`INSERT INTO prepared_widen VALUES (1)`.execute(db);
    const read = () =>
      sql<
        Record<string, number>
      >`/* prepared rs_test_widen */ SELECT * FROM prepared_widen WHERE a = ${1}`.execute(db);
    assert.deepEqual((await read()).rows, [{ a: 1 }]);
    // Another process's migration, in a rolling upgrade.
    await sql`ALTER TABLE prepared_widen ADD COLUMN b int DEFAULT 2`.execute(db);
    await assert.rejects(read(), /cached plan must not change result type/);
    assert.deepEqual((await read()).rows, [{ a: 1, b: 2 }]);
    assert.deepEqual((await read()).rows, [{ a: 1, b: 2 }]);
  } finally {
    await sql`DROP TABLE IF EXISTS prepared_widen`.execute(db);
    await db.destroy();
  }
});
