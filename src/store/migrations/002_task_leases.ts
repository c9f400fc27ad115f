// Task leases and periodic jobs. A task row is claimed by whoever runs it first (the warm
// in-process path or a pg-boss worker) with a conditional UPDATE that sets a lease; a lease
// that expires means the runner died, so the recovery job may run the task again. Periodic
// jobs are claimed per period with the same kind of UPDATE, so each period runs once across
// all processes.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("tasks")
    .addColumn("attempt", "integer", (c) => c.notNull().defaultTo(0))
    .addColumn("worker", "text")
    .addColumn("lease_until", "timestamptz")
    .addColumn("run_after", "timestamptz")
    .execute();

  await db.schema
    .createTable("periodic_jobs")
    .addColumn("name", "text", (c) => c.primaryKey())
    .addColumn("period_seconds", "double precision", (c) => c.notNull())
    .addColumn("next_run_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("running_until", "timestamptz")
    .addColumn("run_id", "uuid")
    .addColumn("last_worker", "text")
    .addColumn("last_started_at", "timestamptz")
    .addColumn("last_finished_at", "timestamptz")
    .addColumn("last_error", "text")
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable("periodic_jobs").ifExists().execute();
  await db.schema
    .alterTable("tasks")
    .dropColumn("attempt")
    .dropColumn("worker")
    .dropColumn("lease_until")
    .dropColumn("run_after")
    .execute();
}
