// What the reconciler and session housekeeping read: our live instance records (to compare
// with Nova's listing), which server ids we ever recorded, the pools, and sessions that should
// be closed. API:
//   liveInstances() / recordedIds(ids) / deletedIds(ids) / poolIds() / openSessionsOf(instanceId)
//   deletedWithHolders(limit) / failUnstartedRequests(recordedBefore, code, limit)
//   staleSessions(maxAgeHours, limit) → open sessions too old or of an instance that is gone
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

export interface LiveInstance {
  id: string;
  pool_id: string;
  status: string;
  fixed_ip: string | null;
  created_at: Date;
}

export class ReconcileRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async liveInstances(): Promise<LiveInstance[]> {
    return this.db
      .selectFrom("instances")
      .select(["id", "pool_id", "status", "fixed_ip", "created_at"])
      .where("deleted_at", "is", null)
      .execute();
  }

  /** Of these server ids, those we have a record of, deleted or not. */
  async recordedIds(ids: string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const rows = await this.db.selectFrom("instances").select("id").where("id", "in", ids).execute();
    return new Set(rows.map((r) => r.id));
  }

  /**
   * Of these ids, those of instances we recorded and marked deleted (never an unknown or a
   * live one), each with its pool.
   */
  async deletedIds(ids: string[]): Promise<Map<string, string>> {
    if (ids.length === 0) return new Map();
    const rows = await sql<{ id: string; pool_id: string }>`
      SELECT id, pool_id FROM instances
       WHERE id = ANY(${ids}::text[]) AND deleted_at IS NOT NULL`.execute(this.db);
    return new Map(rows.rows.map((r) => [r.id, r.pool_id]));
  }

  async poolIds(): Promise<Set<string>> {
    const rows = await this.db.selectFrom("pools").select("id").execute();
    return new Set(rows.map((r) => r.id));
  }

  /** Instances marked deleted that still have users or groups (a deletion seen mid-allocation, a crash). */
  async deletedWithHolders(limit: number): Promise<string[]> {
    const rows = await sql<{ id: string }>`
      SELECT i.id FROM instances i
       WHERE i.deleted_at IS NOT NULL
         AND (EXISTS (SELECT 1 FROM instance_users u WHERE u.instance_id = i.id)
              OR EXISTS (SELECT 1 FROM instance_groups g WHERE g.instance_id = i.id)
              OR EXISTS (SELECT 1 FROM sessions s WHERE s.instance_id = i.id AND s.closed_at IS NULL))
       ORDER BY i.deleted_at
       LIMIT ${limit}`.execute(this.db);
    return rows.rows.map((r) => r.id);
  }

  /**
   * Ends, as failed with `code`, the requests still pending since before `recordedBefore` whose
   * task was never created (the process died between recording the request and queueing it).
   */
  async failUnstartedRequests(recordedBefore: Date, code: number, limit: number): Promise<string[]> {
    const rows = await sql<{ id: string }>`
      UPDATE requests r
         SET status = 'failed', error_code = ${code}, error_data = '{}'::jsonb,
             updated_at = now(), completed_at = now()
       WHERE r.id IN (
         SELECT q.id FROM requests q
          WHERE q.status = 'pending' AND q.completed_at IS NULL AND q.created_at < ${recordedBefore}
            AND (q.task_id IS NULL OR NOT EXISTS (SELECT 1 FROM tasks t WHERE t.id = q.task_id))
          ORDER BY q.created_at
          LIMIT ${limit}
          FOR UPDATE SKIP LOCKED)
         AND r.completed_at IS NULL
      RETURNING r.id`.execute(this.db);
    return rows.rows.map((r) => r.id);
  }

  async openSessionsOf(instanceId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("sessions")
      .select("id")
      .where("instance_id", "=", instanceId)
      .where("closed_at", "is", null)
      .execute();
    return rows.map((r) => r.id);
  }

  async staleSessions(
    maxAgeHours: number,
    limit: number,
  ): Promise<{ id: string; reason: "age" | "instance" }[]> {
    const rows = await sql<{ id: string; old: boolean }>`
      SELECT s.id, s.created_at < now() - make_interval(hours => ${maxAgeHours}) AS old
        FROM sessions s
        LEFT JOIN instances i ON i.id = s.instance_id
       WHERE s.closed_at IS NULL
         AND (s.created_at < now() - make_interval(hours => ${maxAgeHours})
              OR i.id IS NULL OR i.deleted_at IS NOT NULL)
       ORDER BY s.created_at
       LIMIT ${limit}`.execute(this.db);
    return rows.rows.map((r) => ({ id: r.id, reason: r.old ? "age" : "instance" }));
  }
}
