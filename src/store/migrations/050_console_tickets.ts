// The web desktop: console tickets, and the pool's console settings.
// A ticket is stored by its SHA-256 only (the ticket itself lives in the user's page for a few
// seconds), bound to the user, the request, the instance and the address and port the gateway
// may reach; any broker process redeems it, once (used_at), before it expires.
// console_port: the port of the desktop's VNC server (null: the broker's default, 5900);
// console_kind: "gateway" (the broker bridges to that port) or a Nova remote console
// ("nova-novnc", "nova-spice") for images without a VNC server of their own.
import { type Kysely, sql } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable("console_tickets")
    .addColumn("hash", "text", (c) => c.primaryKey())
    .addColumn("user_id", "text", (c) => c.notNull())
    .addColumn("user_name", "text")
    .addColumn("request_id", "text", (c) => c.notNull())
    .addColumn("instance_id", "text", (c) => c.notNull())
    .addColumn("host", "text", (c) => c.notNull())
    .addColumn("port", "integer", (c) => c.notNull())
    .addColumn("client_os", "text")
    .addColumn("client_info", "text")
    .addColumn("created_at", "timestamptz", (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn("expires_at", "timestamptz", (c) => c.notNull())
    .addColumn("used_at", "timestamptz")
    .execute();
  await db.schema.createIndex("console_tickets_expires").on("console_tickets").column("expires_at").execute();
  await db.schema
    .alterTable("pools")
    .addColumn("console_port", "integer")
    .addColumn("console_kind", "text", (c) => c.notNull().defaultTo("gateway"))
    .execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("pools").dropColumn("console_kind").dropColumn("console_port").execute();
  await db.schema.dropTable("console_tickets").ifExists().execute();
}
