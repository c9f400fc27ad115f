// Pool records: a TRS project's desktop template and settings, keyed by its Keystone project id.
// API (used by the admin core, the broker and the reserve):
//   get(id) / list(filter) / insert(row) / update(id, patch) / remove(id)
//   allocateNames(id, n)            → first counter value of n fresh, project-unique counters
//   switchMode(id, mode, patch)     → changes operation_mode and keeps instance_users.exclusive
//                                     consistent in one transaction (throws MultiUserInstanceError)
import type { Insertable, Kysely, Selectable, Transaction, Updateable } from "kysely";
import { sql } from "kysely";
import { OperationMode } from "../shared/types.ts";
import { prepared } from "./db.ts";
import { lockPoolMode } from "./pool-lock.ts";
import type { Database, PoolsTable } from "./schema.ts";

export type Pool = Selectable<PoolsTable>;
export type NewPool = Insertable<PoolsTable>;
export type PoolPatch = Omit<Updateable<PoolsTable>, "id" | "created_at" | "name_counter">;

export interface PoolFilter {
  ids?: string[];
  name?: string;
  operationMode?: string;
  domainIds?: string[];
}

/** Raised by switchMode when an instance of the pool has more than one user. */
export class MultiUserInstanceError extends Error {
  constructor(readonly instanceId: string) {
    super(`instance ${instanceId} has more than one user`);
    this.name = "MultiUserInstanceError";
  }
}

type Db = Kysely<Database> | Transaction<Database>;

export class PoolRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(id: string, db: Db = this.db): Promise<Pool | undefined> {
    return db.selectFrom("pools").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async list(filter: PoolFilter = {}): Promise<Pool[]> {
    let q = this.db.selectFrom("pools").selectAll();
    if (filter.ids) {
      if (filter.ids.length === 0) return [];
      q = q.where("id", "in", filter.ids);
    }
    if (filter.domainIds) {
      if (filter.domainIds.length === 0) return [];
      q = q.where("domain_id", "in", filter.domainIds);
    }
    if (filter.name !== undefined) q = q.where("name", "=", filter.name);
    if (filter.operationMode !== undefined) q = q.where("operation_mode", "=", filter.operationMode);
    return q.orderBy("created_at").orderBy("id").execute();
  }

  /** The pools among these project ids (the broker's read of a user's pools, prepared). */
  async byIds(ids: string[]): Promise<Pool[]> {
    if (ids.length === 0) return [];
    const query = this.db
      .selectFrom("pools")
      .selectAll()
      .where(sql<boolean>`id = ANY(${ids}::text[])`)
      .orderBy("created_at")
      .orderBy("id");
    return (await this.db.executeQuery(prepared("rs_pools_by_ids", query))).rows;
  }

  async insert(row: NewPool): Promise<Pool> {
    return this.db.insertInto("pools").values(row).returningAll().executeTakeFirstOrThrow();
  }

  async update(id: string, patch: PoolPatch, db: Db = this.db): Promise<Pool | undefined> {
    if (Object.keys(patch).length === 0) return this.get(id, db);
    return db
      .updateTable("pools")
      .set({ ...patch, updated_at: sql`now()` })
      .where("id", "=", id)
      .returningAll()
      .executeTakeFirst();
  }

  /**
   * Applies a patch that changes operation_mode. Locks the pool row (admin assignments take it
   * FOR SHARE) and the pool's mode lock (claims take it shared) so that no assignment slips in
   * between the check and the flag update.
   */
  async switchMode(id: string, mode: string, patch: PoolPatch): Promise<Pool | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const pool = await trx
        .selectFrom("pools")
        .select("id")
        .where("id", "=", id)
        .forUpdate()
        .executeTakeFirst();
      if (!pool) return undefined;
      await lockPoolMode(trx, id, true);
      if (mode === OperationMode.Standard) {
        const crowded = await trx
          .selectFrom("instance_users as iu")
          .innerJoin("instances as i", "i.id", "iu.instance_id")
          .select("iu.instance_id")
          .where("i.pool_id", "=", id)
          .groupBy("iu.instance_id")
          .having(sql`count(*)`, ">", 1)
          .executeTakeFirst();
        if (crowded) throw new MultiUserInstanceError(crowded.instance_id);
      }
      await trx
        .updateTable("instance_users")
        .set({ exclusive: mode === OperationMode.Standard })
        .where("instance_id", "in", trx.selectFrom("instances").select("id").where("pool_id", "=", id))
        .execute();
      return this.update(id, { ...patch, operation_mode: mode }, trx);
    });
  }

  async remove(id: string): Promise<boolean> {
    const res = await this.db.deleteFrom("pools").where("id", "=", id).executeTakeFirst();
    return Number(res.numDeletedRows) > 0;
  }

  /**
   * Reserves n consecutive name counters atomically (safe across processes): returns the first.
   * Undefined when the pool does not exist.
   */
  async allocateNames(id: string, n: number): Promise<number | undefined> {
    const row = await this.db
      .updateTable("pools")
      .set({ name_counter: sql`name_counter + ${n}` })
      .where("id", "=", id)
      .returning("name_counter")
      .executeTakeFirst();
    return row ? Number(row.name_counter) - n + 1 : undefined;
  }
}
