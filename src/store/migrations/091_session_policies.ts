// Session policies (issue 16): per pool, the idle, disconnected and maximum times after which
// an open session is closed, and what becomes of a desktop after its session ends (keep,
// rebuild, replace); per session, the last activity and disconnection the clients and the web
// console gateway report, and why a session was closed when a policy closed it.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("pools")
    .addColumn("session_idle_minutes", "integer")
    .addColumn("session_disconnected_minutes", "integer")
    .addColumn("session_max_minutes", "integer")
    .addColumn("session_end_action", "text", (c) => c.notNull().defaultTo("keep"))
    .execute();
  await db.schema
    .alterTable("sessions")
    .addColumn("active_at", "timestamptz")
    .addColumn("disconnected_at", "timestamptz")
    .addColumn("closed_reason", "text")
    .execute();
  // The policy job reads the open sessions of pools that have a policy, every minute.
  await sql`CREATE INDEX sessions_open_by_project ON sessions (project_id) WHERE closed_at IS NULL`.execute(
    db,
  );
  await sql`CREATE INDEX sessions_closed_reason ON sessions (project_id, closed_reason) WHERE closed_reason IS NOT NULL`.execute(
    db,
  );
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`DROP INDEX sessions_closed_reason`.execute(db);
  await sql`DROP INDEX sessions_open_by_project`.execute(db);
  await db.schema
    .alterTable("sessions")
    .dropColumn("active_at")
    .dropColumn("disconnected_at")
    .dropColumn("closed_reason")
    .execute();
  await db.schema
    .alterTable("pools")
    .dropColumn("session_idle_minutes")
    .dropColumn("session_disconnected_minutes")
    .dropColumn("session_max_minutes")
    .dropColumn("session_end_action")
    .execute();
}
