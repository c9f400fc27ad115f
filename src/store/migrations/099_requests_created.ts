// The history retention job (core/retention.ts) deletes finished broker requests by age, a few
// thousand at a time: without an index on created_at each batch would scan the table, which
// only ever grew before (one row per request-vm).
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`CREATE INDEX requests_created ON requests (created_at)`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX requests_created`.execute(db);
}
