// Counters of failed attempts per key in fixed windows, in PostgreSQL so that every process
// counts together (an attacker spreading tries over broker nodes gains nothing). One statement
// per change: concurrent failures of one key add up, never overwrite each other.
import { type Kysely, sql } from "kysely";
import type { ThrottleCount } from "../shared/types.ts";
import { prepared } from "./db.ts";
import type { Database } from "./schema.ts";

/** How often a process removes windows that ended (rows of keys that stopped failing). */
const PRUNE_EVERY_MS = 60_000;

/** The ThrottleStore of core/throttle.ts. */
export class RateLimitRepository {
  private prunedAt = 0;

  constructor(private readonly db: Kysely<Database>) {}

  async counts(keys: string[], windowSeconds: number): Promise<ThrottleCount[]> {
    if (keys.length === 0) return [];
    // Before every broker login: a prepared statement (one text whatever the number of keys).
    const query = this.db
      .selectFrom("rate_limits")
      .select([
        "key",
        "count",
        sql<number>`ceil(extract(epoch from window_start + make_interval(secs => ${windowSeconds}) - now()))::int`.as(
          "retry_after",
        ),
      ])
      .where(sql<boolean>`key = ANY(${keys}::text[])`)
      .where(sql<boolean>`window_start > now() - make_interval(secs => ${windowSeconds})`);
    const { rows } = await this.db.executeQuery(prepared("rs_rate_limit_counts", query));
    return rows.map((r) => ({ key: r.key, count: r.count, retryAfterSeconds: Math.max(1, r.retry_after) }));
  }

  async add(keys: string[], windowSeconds: number): Promise<void> {
    if (keys.length === 0) return;
    const expired = sql<boolean>`rate_limits.window_start <= now() - make_interval(secs => ${windowSeconds})`;
    await this.db
      .insertInto("rate_limits")
      .values(keys.map((key) => ({ key, count: 1 })))
      .onConflict((oc) =>
        oc.column("key").doUpdateSet({
          count: sql<number>`CASE WHEN ${expired} THEN 1 ELSE rate_limits.count + 1 END`,
          window_start: sql<Date>`CASE WHEN ${expired} THEN now() ELSE rate_limits.window_start END`,
        }),
      )
      .execute();
    if (Date.now() - this.prunedAt > PRUNE_EVERY_MS) {
      this.prunedAt = Date.now();
      await this.db
        .deleteFrom("rate_limits")
        .where(sql<boolean>`window_start <= now() - make_interval(secs => ${windowSeconds})`)
        .execute();
    }
  }
}
