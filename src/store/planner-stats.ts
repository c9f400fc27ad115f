// The planner's statistics of the tables the broker's hot statements read, kept fresh between
// autovacuum's passes. Autovacuum analyzes a table once enough of it changed, but looks only
// once a minute (autovacuum_naptime): a reserve of a thousand desktops built and come ACTIVE
// within that minute leaves PostgreSQL planning the claims for the small pool it last saw, and
// the prepared claim keeps that plan (a scan of the pool and a sort: issue 13's storm at 3,000
// users, 6.8 ms of PostgreSQL per allocation against 1.7 with fresh statistics). API:
//   stale(tables) → those changed past autovacuum's own analyze threshold since their last ANALYZE
//   analyze(table)
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

export class PlannerStatsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async stale(tables: readonly string[]): Promise<string[]> {
    const { rows } = await sql<{ relname: string }>`
      SELECT relname FROM pg_stat_user_tables
       WHERE schemaname = current_schema() AND relname = ANY(${[...tables]}::text[])
         -- autovacuum's own test, with autovacuum_analyze_threshold and _scale_factor's defaults
         AND n_mod_since_analyze > 50 + 0.1 * n_live_tup
       ORDER BY relname`.execute(this.db);
    return rows.map((r) => r.relname);
  }

  /** ANALYZE of one table (ShareUpdateExclusive: reads and writes go on meanwhile). */
  async analyze(table: keyof Database & string): Promise<void> {
    await sql`ANALYZE ${sql.table(table)}`.execute(this.db);
  }
}
