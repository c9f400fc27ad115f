// Drain records (core/drain.ts): the draining flag of pools and instances, and the numbers
// /metrics reads. API: setPool(id, draining, reason) / setInstance(id, draining) / counts().
import { type Kysely, type Selectable, sql } from "kysely";
import type { Database, InstancesTable, PoolsTable } from "./schema.ts";

export interface DrainCounts {
  poolId: string;
  draining: boolean;
  /** Live instances of the pool set draining one by one. */
  drainingInstances: number;
}

export class DrainRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async setPool(
    poolId: string,
    draining: boolean,
    reason: string | null,
  ): Promise<Selectable<PoolsTable> | undefined> {
    return this.db
      .updateTable("pools")
      .set({ draining, drain_reason: draining ? reason : null, updated_at: sql`now()` })
      .where("id", "=", poolId)
      .returningAll()
      .executeTakeFirst();
  }

  async setInstance(instanceId: string, draining: boolean): Promise<Selectable<InstancesTable> | undefined> {
    return this.db
      .updateTable("instances")
      .set({ draining, updated_at: sql`now()` })
      .where("id", "=", instanceId)
      .where("deleted_at", "is", null)
      .returningAll()
      .executeTakeFirst();
  }

  /** Every pool's drain state, in one query. */
  async counts(): Promise<DrainCounts[]> {
    const r = await sql<{ id: string; draining: boolean; n: string }>`
      SELECT p.id, p.draining,
             (SELECT count(*) FROM instances i
               WHERE i.pool_id = p.id AND i.deleted_at IS NULL AND i.draining) AS n
        FROM pools p ORDER BY p.id`.execute(this.db);
    return r.rows.map((row) => ({
      poolId: row.id,
      draining: row.draining,
      drainingInstances: Number(row.n),
    }));
  }
}
