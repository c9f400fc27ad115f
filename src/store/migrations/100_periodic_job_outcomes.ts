// What an operator asks of the background work (GET /v1/jobs, rs_job_* metrics): when did the
// reconciler last succeed, and has it failed since? periodic_jobs kept only the last run's
// end and error, so a job failing every run looked the same as one that failed once.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE periodic_jobs
    ADD COLUMN last_succeeded_at timestamptz,
    ADD COLUMN failures integer NOT NULL DEFAULT 0`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`ALTER TABLE periodic_jobs DROP COLUMN last_succeeded_at, DROP COLUMN failures`.execute(db);
}
