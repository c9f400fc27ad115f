// Failed builds made visible: each instance whose build failed (ERROR before it ever booted)
// is counted once (build_failed_at), and its pool keeps how many of its builds failed and the
// last one's Nova fault, for the pool's `reserve` view.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("instances").addColumn("build_failed_at", "timestamptz").execute();
  await db.schema
    .alterTable("pools")
    .addColumn("build_failures", "integer", (c) => c.notNull().defaultTo(sql`0`))
    .addColumn("last_build_failure", "text")
    .addColumn("last_build_failure_at", "timestamptz")
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("pools")
    .dropColumn("build_failures")
    .dropColumn("last_build_failure")
    .dropColumn("last_build_failure_at")
    .execute();
  await db.schema.alterTable("instances").dropColumn("build_failed_at").execute();
}
