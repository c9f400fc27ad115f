// Reserve records: how many free instances a pool has, how many builds are in flight, the
// per-pool lock that keeps two keepers (in any processes) from creating one deficit twice,
// and the pool's reserve status. API (used by the reserve keeper and the admin pool views):
//   withPoolLock(poolId, fn) → fn's result, or undefined when another keeper holds the pool
//   whilePoolLocked(poolId, fn) → fn's result, once the pool's lock is free
//   freeCounts(poolId) / freeCountsOf(poolIds) → free instances ACTIVE and in BUILD
//   buildsInFlight() / failedFree(poolId) / setState(poolId, state)
//   readyAfterGrace(seconds, ids?) / notReady(limit) / markReady(ids) → readiness (core/readiness.ts)
//   liveCount(poolId) / takeSurplus(poolId, n) → the surplus a schedule releases
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
  /** Failed builds since the reserve last held ACTIVE instances (the build circuit). */
  failedBuilds: number;
}

// Advisory lock classes (the first key of pg's two-key form); the second key is the pool.
const POOL_LOCK = 0x7273_0001;
const BUILDS_LOCK = 0x7273_0002;

/**
 * The condition that instance `i` is free (no user, no group, not draining) and in one of
 * these states; only BUILD and ACTIVE ones will serve a user. The holder count is kept by
 * triggers in the same transaction as each assignment (migration 096), and it matches the
 * partial index of free instances, so counting a pool's reserve reads only its free ones.
 */
export const freeInstance = (status: string[]) => sql<boolean>`
  i.deleted_at IS NULL AND i.status = ANY(${status}::text[]) AND NOT i.draining AND i.holder_count = 0`;

/** An ACTIVE instance not yet ready, with the address its port is checked at. */
export interface NotReady {
  id: string;
  pool_id: string;
  fixed_ip: string | null;
}

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
        reserve_failed_builds: s.failedBuilds,
      })
      .where("id", "=", poolId)
      .execute();
  }

  /**
   * ACTIVE instances not yet ready become ready `seconds` after they became ACTIVE (a time
   * that may be ahead: the claim compares it with now()). Only those of `ids` when given.
   */
  async readyAfterGrace(seconds: number, ids?: string[]): Promise<number> {
    if (ids && ids.length === 0) return 0;
    const r = await sql`
      UPDATE instances SET ready_at = active_at + make_interval(secs => ${seconds})
       WHERE status = 'ACTIVE' AND ready_at IS NULL AND deleted_at IS NULL AND active_at IS NOT NULL
         ${ids ? sql`AND id = ANY(${ids}::text[])` : sql``}`.execute(this.db);
    return Number(r.numAffectedRows ?? 0);
  }

  /** ACTIVE instances not yet ready (oldest first), with their address. */
  async notReady(limit: number, ids?: string[]): Promise<NotReady[]> {
    if (ids && ids.length === 0) return [];
    const r = await sql<NotReady>`
      SELECT i.id, i.pool_id, i.fixed_ip FROM instances i
       WHERE i.status = 'ACTIVE' AND i.ready_at IS NULL AND i.deleted_at IS NULL
         ${ids ? sql`AND i.id = ANY(${ids}::text[])` : sql``}
       ORDER BY i.active_at, i.id LIMIT ${limit}`.execute(this.db);
    return r.rows;
  }

  async markReady(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await sql`UPDATE instances SET ready_at = now()
               WHERE id = ANY(${ids}::text[]) AND status = 'ACTIVE' AND ready_at IS NULL`.execute(this.db);
  }

  /** Free instances that are ready to be handed out now, per pool. */
  async readyCountsOf(poolIds: string[]): Promise<Map<string, number>> {
    if (poolIds.length === 0) return new Map();
    const r = await sql<{ pool_id: string; n: string }>`
      SELECT i.pool_id, count(*) AS n FROM instances i
       WHERE i.pool_id = ANY(${poolIds}::text[]) AND ${freeInstance(["ACTIVE"])}
         AND i.ready_at <= now()
       GROUP BY i.pool_id`.execute(this.db);
    return new Map(r.rows.map((row) => [row.pool_id, Number(row.n)]));
  }

  /** The pool's instances not deleted, whatever their state or holder. */
  async liveCount(poolId: string): Promise<number> {
    const r = await sql<{ n: string }>`
      SELECT count(*) AS n FROM instances WHERE pool_id = ${poolId} AND deleted_at IS NULL`.execute(this.db);
    return Number(r.rows[0].n);
  }

  /**
   * Takes up to n free instances of the pool out of service, for release: no user, no group,
   * no open session, in BUILD or ACTIVE (those still building first, then the newest). In one
   * transaction the rows are locked (a row a claim holds is skipped), checked again with a
   * fresh snapshot and set to DELETING, so a claim (which locks the row and wants ACTIVE)
   * never takes one, and an instance a user holds is never set DELETING, not even for a moment
   * (a user's second request would take it for unusable and claim another desktop). Answers
   * the ids taken.
   */
  async takeSurplus(poolId: string, n: number): Promise<string[]> {
    if (n <= 0) return [];
    return this.db.transaction().execute(async (trx) => {
      // First the row locks (a row a claim holds is skipped)...
      const locked = await sql<{ id: string }>`
        SELECT i.id FROM instances i
         WHERE i.pool_id = ${poolId} AND ${freeInstance(["BUILD", "ACTIVE"])}
           AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.instance_id = i.id AND s.closed_at IS NULL)
         ORDER BY i.status = 'BUILD' DESC, i.created_at DESC, i.id
         LIMIT ${n}
         FOR UPDATE OF i SKIP LOCKED`.execute(trx);
      if (locked.rows.length === 0) return [];
      // ...then the check again, in a statement of its own: its snapshot is taken after the
      // locks are ours, so it sees a claim that committed between the first statement's
      // snapshot and its lock (a row re-check would not: its subqueries keep the old snapshot).
      // No claim can start on these rows until we commit.
      const taken = await sql<{ id: string }>`
        UPDATE instances i SET status = 'DELETING', updated_at = now()
         WHERE i.id = ANY(${locked.rows.map((r) => r.id)}::text[]) AND ${freeInstance(["BUILD", "ACTIVE"])}
           AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.instance_id = i.id AND s.closed_at IS NULL)
        RETURNING i.id`.execute(trx);
      return taken.rows.map((r) => r.id);
    });
  }
}
