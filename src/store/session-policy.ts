// What the session-policy job reads and writes (core/session-policy.ts): the open sessions a
// pool's policy says must close now, and the desktops of non-persistent pools whose session
// has ended, taken back from their users in one transaction. API:
//   due(now, limit)                → open sessions past their pool's idle/disconnected/max time
//   setClosedReason(id, reason)    → marks why a session closed
//   report(id, patch)              → a client's activity or disconnection
//   endedDesktops(now, graceSeconds, limit) → desktops of rebuild/replace pools to take back
//   takeBack(instanceId, action)   → unassigns the users (history kept) and marks the instance
//   userVolumes(ids)               → which volumes are users' data volumes
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

export type PolicyReason = "idle" | "disconnected" | "max_length";
export type EndAction = "keep" | "rebuild" | "replace";

export interface DueSession {
  id: string;
  instance_id: string;
  project_id: string;
  user_id: string;
  reason: PolicyReason;
}

export interface EndedDesktop {
  id: string;
  pool_id: string;
  image_id: string;
  action: "rebuild" | "replace";
}

/** The instance record's status while it is taken back: never claimable (claims want ACTIVE). */
export const RECYCLING = "RECYCLING";

export class SessionPolicyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Open sessions that their pool's policy closes at `now`, the first reason that applies:
   * max_length (opened more than session_max_minutes ago), disconnected (reported
   * disconnected more than session_disconnected_minutes ago), idle (no activity — opening,
   * a client's report or the web console's traffic — for session_idle_minutes).
   */
  async due(now: Date, limit: number): Promise<DueSession[]> {
    const older = (column: string, minutes: string) =>
      sql`${sql.ref(column)} <= ${now}::timestamptz - make_interval(mins => ${sql.ref(minutes)})`;
    const max = older("s.created_at", "p.session_max_minutes");
    const gone = sql`s.disconnected_at IS NOT NULL AND ${older("s.disconnected_at", "p.session_disconnected_minutes")}`;
    const idle = sql`coalesce(s.active_at, s.created_at) <= ${now}::timestamptz - make_interval(mins => p.session_idle_minutes)`;
    const rows = await sql<DueSession>`
      SELECT s.id, s.instance_id, s.project_id, s.user_id,
             CASE WHEN ${max} THEN 'max_length' WHEN ${gone} THEN 'disconnected' ELSE 'idle' END AS reason
        FROM sessions s
        JOIN pools p ON p.id = s.project_id
       WHERE s.closed_at IS NULL
         AND (p.session_max_minutes IS NOT NULL OR p.session_disconnected_minutes IS NOT NULL
              OR p.session_idle_minutes IS NOT NULL)
         AND ((p.session_max_minutes IS NOT NULL AND ${max})
              OR (p.session_disconnected_minutes IS NOT NULL AND ${gone})
              OR (p.session_idle_minutes IS NOT NULL AND ${idle}))
       ORDER BY s.created_at
       LIMIT ${limit}`.execute(this.db);
    return rows.rows;
  }

  async setClosedReason(id: string, reason: PolicyReason): Promise<void> {
    await this.db.updateTable("sessions").set({ closed_reason: reason }).where("id", "=", id).execute();
  }

  /**
   * A report on an open session: activity moves active_at forward (never back), a
   * disconnection sets disconnected_at, null clears it (reconnected). Answers whether the
   * session is open (a closed one takes no report).
   */
  async report(
    id: string,
    patch: { activeAt?: Date; disconnectedAt?: Date | null },
  ): Promise<"open" | "closed" | "unknown"> {
    const set: Record<string, unknown> = {};
    if (patch.activeAt)
      set.active_at = sql`greatest(coalesce(active_at, created_at), ${patch.activeAt}::timestamptz)`;
    if (patch.disconnectedAt !== undefined) set.disconnected_at = patch.disconnectedAt;
    if (Object.keys(set).length === 0) set.active_at = sql`active_at`;
    const row = await this.db
      .updateTable("sessions")
      .set(set)
      .where("id", "=", id)
      .where("closed_at", "is", null)
      .returning("id")
      .executeTakeFirst();
    if (row) return "open";
    const exists = await this.db.selectFrom("sessions").select("id").where("id", "=", id).executeTakeFirst();
    return exists ? "closed" : "unknown";
  }

  /**
   * Desktops of pools whose post-session action is rebuild or replace, whose users' session
   * has ended: held by users only (a group's desktop is the operator's arrangement, never
   * taken back), no session open, the last one closed after the latest assignment and more
   * than `graceSeconds` ago (a user reconnecting at once keeps the desktop), no broker request
   * still working on it, and ACTIVE in our records.
   */
  async endedDesktops(now: Date, graceSeconds: number, limit: number): Promise<EndedDesktop[]> {
    const rows = await sql<EndedDesktop>`
      SELECT i.id, i.pool_id, p.image_id, p.session_end_action AS action
        FROM instances i
        JOIN pools p ON p.id = i.pool_id
       WHERE p.session_end_action IN ('rebuild', 'replace')
         AND i.deleted_at IS NULL AND i.status = 'ACTIVE'
         AND EXISTS (SELECT 1 FROM instance_users u WHERE u.instance_id = i.id)
         AND NOT EXISTS (SELECT 1 FROM instance_groups g WHERE g.instance_id = i.id)
         AND NOT EXISTS (SELECT 1 FROM sessions s WHERE s.instance_id = i.id AND s.closed_at IS NULL)
         AND NOT EXISTS (SELECT 1 FROM requests r
                          WHERE r.instance_id = i.id AND r.status IN ('pending', 'in_progress'))
         AND (SELECT max(s.closed_at) FROM sessions s WHERE s.instance_id = i.id)
             >= (SELECT max(u.assigned_at) FROM instance_users u WHERE u.instance_id = i.id)
         AND (SELECT max(s.closed_at) FROM sessions s WHERE s.instance_id = i.id)
             <= ${now}::timestamptz - make_interval(secs => ${graceSeconds})
       ORDER BY i.id
       LIMIT ${limit}`.execute(this.db);
    return rows.rows;
  }

  /**
   * Takes a desktop back from its users, if it still qualifies once its row is locked (the
   * lock every assignment change takes): its users are unassigned (the history says why) and
   * its record leaves the claimable states. Answers the users, or undefined when it no longer
   * qualifies (a user reconnected, a group was assigned, it went away).
   */
  async takeBack(instanceId: string, action: "rebuild" | "replace"): Promise<string[] | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const locked = await trx
        .selectFrom("instances")
        .select("id")
        .where("id", "=", instanceId)
        .where("deleted_at", "is", null)
        .where("status", "=", "ACTIVE")
        .forUpdate()
        .executeTakeFirst();
      if (!locked) return undefined;
      const busy = await sql<{ busy: boolean }>`
        SELECT EXISTS (SELECT 1 FROM sessions WHERE instance_id = ${instanceId} AND closed_at IS NULL)
            OR EXISTS (SELECT 1 FROM instance_groups WHERE instance_id = ${instanceId})
            OR EXISTS (SELECT 1 FROM requests
                        WHERE instance_id = ${instanceId} AND status IN ('pending', 'in_progress')) AS busy`.execute(
        trx,
      );
      if (busy.rows[0].busy) return undefined;
      const users = await trx
        .deleteFrom("instance_users")
        .where("instance_id", "=", instanceId)
        .returning("user_id")
        .execute();
      if (users.length === 0) return undefined;
      await trx
        .insertInto("assignment_history")
        .values(
          users.map((u) => ({
            instance_id: instanceId,
            subject_type: "user" as const,
            subject_id: u.user_id,
            action: "unassign" as const,
            actor: "session-policy",
            reason: `session ended: desktop ${action === "rebuild" ? "rebuilt" : "replaced"}`,
          })),
        )
        .execute();
      await trx
        .updateTable("instances")
        .set({ status: RECYCLING, updated_at: sql`now()` })
        .where("id", "=", instanceId)
        .execute();
      return users.map((u) => u.user_id);
    });
  }

  /** Marks the record as Nova has it after the rebuild call (REBUILD): the sync takes it from there. */
  async setStatus(instanceId: string, status: string): Promise<void> {
    await this.db
      .updateTable("instances")
      .set({ status, updated_at: sql`now()` })
      .where("id", "=", instanceId)
      .execute();
  }

  /** Instances the job left RECYCLING (a crash between taking back and the Nova call). */
  async stranded(limit: number): Promise<EndedDesktop[]> {
    const rows = await sql<EndedDesktop>`
      SELECT i.id, i.pool_id, p.image_id,
             CASE WHEN p.session_end_action = 'rebuild' THEN 'rebuild' ELSE 'replace' END AS action
        FROM instances i JOIN pools p ON p.id = i.pool_id
       WHERE i.deleted_at IS NULL AND i.status = ${RECYCLING}
       ORDER BY i.id LIMIT ${limit}`.execute(this.db);
    return rows.rows;
  }

  /** Of these volume ids, those that are users' data volumes (volume assignments). */
  async userVolumes(volumeIds: string[]): Promise<Set<string>> {
    if (volumeIds.length === 0) return new Set();
    const rows = await this.db
      .selectFrom("volume_assignments")
      .select("volume_id")
      .where("volume_id", "in", volumeIds)
      .execute();
    return new Set(rows.map((r) => r.volume_id));
  }
}
