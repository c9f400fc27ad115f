// Lookups the broker makes on every poll, claim and session: a user's requests, unfinished
// requests (recovery), and a user's open sessions on an instance.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.createIndex("requests_user").on("requests").columns(["user_id", "created_at"]).execute();
  await db.schema
    .createIndex("requests_unfinished")
    .on("requests")
    .column("created_at")
    .where(sql.ref("completed_at"), "is", null)
    .execute();
  await db.schema
    .createIndex("sessions_open")
    .on("sessions")
    .columns(["user_id", "instance_id"])
    .where(sql.ref("closed_at"), "is", null)
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex("sessions_open").ifExists().execute();
  await db.schema.dropIndex("requests_unfinished").ifExists().execute();
  await db.schema.dropIndex("requests_user").ifExists().execute();
}
