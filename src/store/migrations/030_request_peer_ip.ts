// The address a broker request came from (through trusted proxies only), kept beside the
// client's own ip_address: sessions record where a client connected from even when it did
// not say, while firewall rules still open only for an address the client gave.
import type { Kysely } from "kysely";

export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("requests").addColumn("peer_ip", "text").execute();
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("requests").dropColumn("peer_ip").execute();
}
