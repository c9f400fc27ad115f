// Reserve records: how many free instances a pool has, how many builds are in flight, the
// per-pool lock that keeps two keepers (in any processes) from creating one deficit twice,
// and the pool's reserve status. API (used by the reserve keeper and the admin pool views):
//   withPoolLock(poolId, fn) → fn's result, or undefined when another keeper holds the pool
//   whilePoolLocked(poolId, fn) → fn's result, once the pool's lock is free
//   freeCounts(poolId) / freeCountsOf(poolIds) → free instances ACTIVE and in BUILD
//   buildsInFlight() / failedFree(poolId) / setState(poolId, state)
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/** A pool's free instances: ready (ACTIVE) and still building (BUILD). */
export interface FreeCounts {
  active: number;
  building: number;
}

export interface ReserveState {
  state: string;
  failures: number;
  backoffUntil: Date | null;
  message: string | null;
}

// Advisory lock classes (the first key of pg's two-key form); the second key is the pool.
const POOL_LOCK = 0x7273_0001;
const BUILDS_LOCK = 0x7273_0002;

/**
 * The condition that instance `i` is free (no user, no group) and in one of these states;
 * only BUILD and ACTIVE ones will serve a user.
 */
export const freeInstance = (status: string[]) => sql<boolean>`
  i.deleted_at IS NULL AND i.status = ANY(${status}::text[])
  AND NOT EXISTS (SELECT 1 FROM instance_users u WHERE u.instance_id = i.id)
  AND NOT EXISTS (SELECT 1 FROM instance_groups g WHERE g.instance_id = i.id)`;

export class ReserveRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Runs fn while holding the pool's lock and the global build budget lock, both released
   * when the transaction ends. The pool lock is tried (a busy pool is being refilled by
   * another keeper: skip it); the budget lock is waited for, so the cap of concurrent builds
   * holds across pools. fn writes through the ordinary connections: its inserts commit before
   * the locks go, so the next holder counts them.
   */
  async withPoolLock<T>(poolId: string, fn: () => Promise<T>): Promise<T | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const got = await sql<{ ok: boolean }>`
        SELECT pg_try_advisory_xact_lock(${POOL_LOCK}, hashtext(${poolId})) AS ok`.execute(trx);
      if (!got.rows[0]?.ok) return undefined;
      await sql`SELECT pg_advisory_xact_lock(${BUILDS_LOCK}, 0)`.execute(trx);
      return fn();
    });
  }

  /**
   * Runs fn while holding the pool's lock, waiting for it: for a change of the pool's reserve
   * state that must not be lost under a keeper's refill (which would write over it).
   */
  async whilePoolLocked<T>(poolId: string, fn: () => Promise<T>): Promise<T> {
    return this.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(${POOL_LOCK}, hashtext(${poolId}))`.execute(trx);
      return fn();
    });
  }

  async freeCounts(poolId: string): Promise<FreeCounts> {
    return (await this.freeCountsOf([poolId])).get(poolId) ?? { active: 0, building: 0 };
  }

  /** Free instances of every pool named, in one query; a pool without any is absent. */
  async freeCountsOf(poolIds: string[]): Promise<Map<string, FreeCounts>> {
    if (poolIds.length === 0) return new Map();
    const r = await sql<{ pool_id: string; active: string; building: string }>`
      SELECT i.pool_id,
             count(*) FILTER (WHERE i.status = 'ACTIVE') AS active,
             count(*) FILTER (WHERE i.status = 'BUILD') AS building
        FROM instances i
       WHERE i.pool_id = ANY(${poolIds}::text[]) AND ${freeInstance(["BUILD", "ACTIVE"])}
       GROUP BY i.pool_id`.execute(this.db);
    return new Map(
      r.rows.map((row) => [row.pool_id, { active: Number(row.active), building: Number(row.building) }]),
    );
  }

  /** Instances in BUILD across every pool (the global cap counts them all). */
  async buildsInFlight(): Promise<number> {
    const r = await sql<{ n: string }>`
      SELECT count(*) AS n FROM instances WHERE deleted_at IS NULL AND status = 'BUILD'`.execute(this.db);
    return Number(r.rows[0].n);
  }

  /** Free instances of the pool whose build failed, with Nova's fault. */
  async failedFree(poolId: string): Promise<{ id: string; fault: string | null }[]> {
    const r = await sql<{ id: string; fault: string | null }>`
      SELECT i.id, i.fault FROM instances i
       WHERE i.pool_id = ${poolId} AND ${freeInstance(["ERROR"])}
       ORDER BY i.created_at`.execute(this.db);
    return r.rows;
  }

  async setState(poolId: string, s: ReserveState): Promise<void> {
    await this.db
      .updateTable("pools")
      .set({
        reserve_state: s.state,
        reserve_failures: s.failures,
        reserve_backoff_until: s.backoffUntil,
        reserve_message: s.message,
      })
      .where("id", "=", poolId)
      .execute();
  }
}
