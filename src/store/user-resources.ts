// What the allocation reads and writes of a user's resources: the floating IP the admin gave
// them, their volume in a pool (its volume assignment) and the sessions it opens and closes.
import { type Kysely, type Selectable, sql } from "kysely";
import type { Database, SessionsTable } from "./schema.ts";

export type SessionRow = Selectable<SessionsTable>;

export interface NewSession {
  id: string;
  instanceId: string;
  instanceName: string | null;
  projectId: string;
  userId: string;
  userName: string | null;
  connectionType: string | null;
  clientIp: string | null;
  clientOs: string | null;
  clientInfo: string | null;
  requestId: string;
  ruleIds: string[];
}

export function sessionRow(s: NewSession) {
  return {
    id: s.id,
    instance_id: s.instanceId,
    instance_name: s.instanceName,
    project_id: s.projectId,
    user_id: s.userId,
    user_name: s.userName,
    connection_type: s.connectionType,
    client_ip: s.clientIp,
    client_os: s.clientOs,
    client_info: s.clientInfo,
    request_id: s.requestId,
    rule_ids: JSON.stringify(s.ruleIds),
  };
}

export class UserResourcesRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async floatingIpOf(userId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom("user_floating_ips")
      .select("floating_ip_id")
      .where("user_id", "=", userId)
      .executeTakeFirst();
    return row?.floating_ip_id;
  }

  async volumeOf(userId: string, projectId: string): Promise<string | undefined> {
    const row = await this.db
      .selectFrom("volume_assignments")
      .select("volume_id")
      .where("user_id", "=", userId)
      .where("project_id", "=", projectId)
      .executeTakeFirst();
    return row?.volume_id;
  }

  /**
   * Records the user's volume in a project; when another process recorded one first (the
   * user asked twice at once), answers that one instead and `won` is false.
   */
  async recordVolume(
    userId: string,
    projectId: string,
    volumeId: string,
  ): Promise<{ volumeId: string; won: boolean }> {
    const inserted = await this.db
      .insertInto("volume_assignments")
      .values({ user_id: userId, project_id: projectId, volume_id: volumeId })
      .onConflict((oc) => oc.columns(["user_id", "project_id"]).doNothing())
      .returning("volume_id")
      .executeTakeFirst();
    if (inserted) return { volumeId: inserted.volume_id, won: true };
    return { volumeId: (await this.volumeOf(userId, projectId))!, won: false };
  }

  async openSessionIds(userId: string, instanceId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("sessions")
      .select("id")
      .where("user_id", "=", userId)
      .where("instance_id", "=", instanceId)
      .where("closed_at", "is", null)
      .execute();
    return rows.map((r) => r.id);
  }

  /** Closes a session once; answers the ids of its rules, or undefined if it was not open. */
  async closeSession(id: string, at?: Date): Promise<string[] | undefined> {
    const row = await this.db
      .updateTable("sessions")
      .set({ closed_at: at ?? sql`now()` })
      .where("id", "=", id)
      .where("closed_at", "is", null)
      .returning("rule_ids")
      .executeTakeFirst();
    return row ? (row.rule_ids as unknown as string[]) : undefined;
  }

  /** Of these rules, the ones an open session still relies on (two sessions from one address). */
  async rulesInUse(ruleIds: string[]): Promise<Set<string>> {
    if (ruleIds.length === 0) return new Set();
    const rows = await sql<{ id: string }>`
      SELECT DISTINCT r.id FROM sessions s, jsonb_array_elements_text(s.rule_ids) AS r(id)
       WHERE s.closed_at IS NULL AND r.id = ANY(${ruleIds}::text[])`.execute(this.db);
    return new Set(rows.rows.map((r) => r.id));
  }

  /** Closed sessions whose client rules are still to be removed. */
  async closedWithRules(limit: number): Promise<{ id: string; ruleIds: string[] }[]> {
    const rows = await this.db
      .selectFrom("sessions")
      .select(["id", "rule_ids"])
      .where("closed_at", "is not", null)
      .where(sql<boolean>`jsonb_array_length(rule_ids) > 0`)
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: r.id, ruleIds: r.rule_ids as unknown as string[] }));
  }

  /** The session's rules are gone from Neutron. */
  async clearRules(id: string): Promise<void> {
    await this.db.updateTable("sessions").set({ rule_ids: "[]" }).where("id", "=", id).execute();
  }
}
