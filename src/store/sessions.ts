// Session records: who connected to which instance, from where, with what client, and when
// it opened and closed. API (used by the admin core and the broker):
//   insert(row) → the session / insertBounded(row, limit, since) / get(id) / list(filter) / count(filter)
//   close(id, at) → the closed session (undefined when unknown) / openOf(instanceId)
import type { Insertable, Kysely, Selectable } from "kysely";
import { sql } from "kysely";
import type { Filter } from "../shared/types.ts";
import { filterCondition } from "./filters.ts";
import type { Database, SessionsTable } from "./schema.ts";

export type Session = Selectable<SessionsTable>;
export type NewSession = Insertable<SessionsTable>;

export interface SessionFilter {
  /** Modifier filters on user_id, user_name, instance_id. */
  filters?: Filter[];
  instanceName?: string;
  projectId?: string;
  connectionType?: string;
  /** Only the latest session of each instance. */
  last?: boolean;
}

const MODIFIABLE = new Set(["user_id", "user_name", "instance_id"]);

export class SessionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: NewSession): Promise<Session> {
    return this.db.insertInto("sessions").values(row).returningAll().executeTakeFirstOrThrow();
  }

  /**
   * Inserts the session unless its user already recorded `limit` on its instance since `since`
   * (answers undefined then). One user's concurrent inserts on one instance take turns (an
   * advisory lock in the transaction), so the bound holds under any race.
   */
  async insertBounded(row: NewSession, limit: number, since: Date): Promise<Session | undefined> {
    return this.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext(${`session:${row.user_id}:${row.instance_id}`}))`.execute(
        trx,
      );
      const recent = await trx
        .selectFrom("sessions")
        .select((eb) => eb.fn.countAll<number>().as("n"))
        .where("user_id", "=", row.user_id)
        .where("instance_id", "=", row.instance_id)
        .where("created_at", ">=", since)
        .executeTakeFirstOrThrow();
      if (Number(recent.n) >= limit) return undefined;
      return trx.insertInto("sessions").values(row).returningAll().executeTakeFirstOrThrow();
    });
  }

  async get(id: string): Promise<Session | undefined> {
    return this.db.selectFrom("sessions").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /** The sessions matching the filters (the alias names the table in the query). */
  private matching(filter: SessionFilter, alias: "s" | "l") {
    let q = this.db.selectFrom(`sessions as ${alias}`);
    const col = (name: string) => sql.ref(`${alias}.${name}`);
    for (const f of filter.filters ?? []) {
      if (!MODIFIABLE.has(f.field)) continue;
      q = q.where((eb) => filterCondition(eb, col(f.field), f));
    }
    if (filter.instanceName !== undefined) q = q.where(col("instance_name"), "=", filter.instanceName);
    if (filter.projectId !== undefined) q = q.where(col("project_id"), "=", filter.projectId);
    if (filter.connectionType !== undefined) q = q.where(col("connection_type"), "=", filter.connectionType);
    return q;
  }

  private base(filter: SessionFilter) {
    if (!filter.last) return this.matching(filter, "s");
    // The latest session of each instance among those matching the filters.
    return this.db
      .selectFrom("sessions as s")
      .where("s.id", "in", () =>
        this.matching(filter, "l")
          .select(sql<string>`l.id`.as("id"))
          .distinctOn(sql.ref("l.instance_id"))
          .orderBy(sql.ref("l.instance_id"))
          .orderBy(sql.ref("l.created_at"), "desc")
          .orderBy(sql.ref("l.id"), "desc"),
      );
  }

  async list(filter: SessionFilter = {}): Promise<Session[]> {
    return this.base(filter).selectAll("s").orderBy("s.created_at", "desc").orderBy("s.id").execute();
  }

  async count(filter: SessionFilter = {}): Promise<number> {
    const row = await this.base(filter)
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async close(id: string, at: Date): Promise<Session | undefined> {
    return this.db
      .updateTable("sessions")
      .set({ closed_at: at })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
  }

  /** Open sessions of an instance (the instance is going away, or its user changes). */
  async openOf(instanceId: string): Promise<Session[]> {
    return this.db
      .selectFrom("sessions")
      .selectAll()
      .where("instance_id", "=", instanceId)
      .where("closed_at", "is", null)
      .execute();
  }
}
