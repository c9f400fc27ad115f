// The planner's statistics of the tables the broker's hot statements read, kept fresh between
// autovacuum's passes. Autovacuum analyzes a table once enough of it changed, but looks only
// once a minute (autovacuum_naptime): a reserve of a thousand desktops built and come ACTIVE
// within that minute leaves PostgreSQL planning the claims for the small pool it last saw, and
// the prepared claim keeps that plan (a scan of the pool and a sort: issue 13's storm at 3,000
// users, 6.8 ms of PostgreSQL per allocation against 1.7 with fresh statistics). API:
//   stale(tables = HOT_TABLES) → those changed past autovacuum's own analyze threshold since
//                                their last ANALYZE, each with whether this role may analyze it
//   analyze(table)
// PostgreSQL does not refuse an ANALYZE by a role that does not own the table: it warns and
// skips it, so whether the role may is read from the table's owner beforehand.
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

export type Table = keyof Database & string;

/** The tables the claim, get-vm and the session counters read on every allocation. */
export const HOT_TABLES: readonly Table[] = [
  "instances",
  "instance_users",
  "instance_groups",
  "user_floating_ips",
  "user_builds",
  "requests",
  "sessions",
];

export interface StaleTable {
  table: Table;
  /** This role owns the table, or is a member of its owner: its ANALYZE is not skipped. */
  allowed: boolean;
}

export class PlannerStatsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async stale(tables: readonly Table[] = HOT_TABLES): Promise<StaleTable[]> {
    const { rows } = await sql<{ table: Table; allowed: boolean }>`
      SELECT s.relname AS table, pg_has_role(c.relowner, 'USAGE') AS allowed
        FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid
       WHERE s.schemaname = current_schema() AND s.relname = ANY(${[...tables]}::text[])
         -- autovacuum's own test, with autovacuum_analyze_threshold and _scale_factor's defaults
         AND s.n_mod_since_analyze > 50 + 0.1 * s.n_live_tup
       ORDER BY s.relname`.execute(this.db);
    return rows;
  }

  /** ANALYZE of one table (ShareUpdateExclusive: reads and writes go on meanwhile). */
  async analyze(table: Table): Promise<void> {
    await sql`ANALYZE ${sql.table(table)}`.execute(this.db);
  }
}
