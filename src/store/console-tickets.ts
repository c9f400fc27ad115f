// Console tickets: the broker's permission for one WebSocket connection to one desktop.
// API (the console core): insert(row) / redeem(hash) → the ticket, once / purgeExpired(before)
// A ticket is redeemed by one UPDATE that sets used_at only where it is unused and unexpired:
// two broker processes given the same ticket at once cannot both win it.
import { type Kysely, type Selectable, sql } from "kysely";
import type { ConsoleTicketsTable, Database } from "./schema.ts";

export type ConsoleTicket = Selectable<ConsoleTicketsTable>;

export interface NewConsoleTicket {
  hash: string;
  userId: string;
  userName: string | null;
  requestId: string;
  instanceId: string;
  host: string;
  port: number;
  clientOs: string | null;
  clientInfo: string | null;
  ttlSeconds: number;
}

/** Why a ticket cannot be redeemed (for the log; the client is only told "refused"). */
export type RedeemOutcome = { kind: "ok"; ticket: ConsoleTicket } | { kind: "unknown" | "used" | "expired" };

export class ConsoleTicketRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(t: NewConsoleTicket): Promise<Date> {
    const row = await this.db
      .insertInto("console_tickets")
      .values({
        hash: t.hash,
        user_id: t.userId,
        user_name: t.userName,
        request_id: t.requestId,
        instance_id: t.instanceId,
        host: t.host,
        port: t.port,
        client_os: t.clientOs,
        client_info: t.clientInfo,
        // The database's clock for both ends, so processes with skewed clocks agree.
        expires_at: sql`now() + make_interval(secs => ${t.ttlSeconds})`,
      })
      .returning("expires_at")
      .executeTakeFirstOrThrow();
    return row.expires_at;
  }

  async redeem(hash: string): Promise<RedeemOutcome> {
    const won = await this.db
      .updateTable("console_tickets")
      .set({ used_at: sql`now()` })
      .where("hash", "=", hash)
      .where("used_at", "is", null)
      .where("expires_at", ">", sql<Date>`now()`)
      .returningAll()
      .executeTakeFirst();
    if (won) return { kind: "ok", ticket: won };
    const seen = await this.db
      .selectFrom("console_tickets")
      .select(["used_at"])
      .where("hash", "=", hash)
      .executeTakeFirst();
    if (!seen) return { kind: "unknown" };
    return { kind: seen.used_at ? "used" : "expired" };
  }

  /** Removes tickets that expired before `before` (used or not: they can never be redeemed). */
  async purgeExpired(before: Date): Promise<number> {
    const res = await this.db
      .deleteFrom("console_tickets")
      .where("expires_at", "<", before)
      .executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
