// Pooled connections that PostgreSQL cuts (a restart, pg_terminate_backend) are reported and
// replaced; the process never dies of them, not even for a connection held by a transaction.
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

const terminate = (applicationName: string) =>
  sql<{ n: number }>`
    SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
    WHERE datname = current_database() AND application_name = ${applicationName}`
    .execute(store.db)
    .then((r) => r.rows[0].n);

test("a pool reports each terminated connection, idle or held, and serves queries on new ones", async () => {
  const errors: Error[] = [];
  const db = connect(store.url, 3, (err) => errors.push(err), "rs-test cut-off");
  try {
    const one = () => sql<{ one: number }>`SELECT 1 AS one`.execute(db).then((r) => r.rows[0]);
    await Promise.all([one(), one(), one()]);
    // A connection held between two statements has no query to fail: its error is an event.
    const held = db.connection().execute(async (conn) => {
      await sql`SELECT 1`.execute(conn);
      const n = await terminate("rs-test cut-off");
      assert.ok(n >= 3, `terminated ${n}`);
      const until = Date.now() + 10_000;
      while (errors.length < 3 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
      await assert.rejects(sql`SELECT 1`.execute(conn));
    });
    await held;
    // The held one reports its connection's end too, once it is used.
    assert.ok(errors.length >= 3, errors.join("\n"));
    assert.ok(
      errors.every((e) => /terminat/.test(e.message)),
      errors.join("\n"),
    );
    assert.deepEqual(await one(), { one: 1 });
  } finally {
    await db.destroy();
  }
});
