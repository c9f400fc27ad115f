// Instance records: our copy of each TRS instance (a Nova server of a pool) with its status,
// so that lists, filters and statistics never need one cloud call per instance.
// API (used by the admin core, the broker, the reserve and the reconciler):
//   insertMany(rows) / get(id) / list(filter) / withAssignees(rows) / exists(id)
//   list(filter with page)  → one keyset page (sort keys INSTANCE_SORT_KEYS)
//   applyStatus(updates)   → copies Nova's status/vm_state/task_state/progress/ip/fault
//   markDeleted(id)        → the record stays (history) but leaves every list
//   poolCounts(poolId)     → the TRS counts of the statistics (docs/admin-api.md)
import type { Insertable, Kysely, Selectable } from "kysely";
import { sql } from "kysely";
import type { PageQuery } from "../shared/paging.ts";
import type { Filter } from "../shared/types.ts";
import { filterCondition, keysetAfter } from "./filters.ts";
import type { Database, InstancesTable } from "./schema.ts";
import { RECYCLING } from "./session-policy.ts";

export type Instance = Selectable<InstancesTable>;
export type NewInstance = Insertable<InstancesTable>;

export interface InstanceWithAssignees extends Instance {
  users: string[];
  groups: string[];
}

export interface InstanceFilter {
  ids?: string[];
  poolId?: string;
  /** Modifier filters on `project_id` (the pool) and `assigned` (values "true"/"false"). */
  filters?: Filter[];
  user?: string;
  group?: string;
  status?: string;
  /** One page (sort keys: INSTANCE_SORT_KEYS) after page.marker, an instance id. */
  page?: PageQuery;
  draining?: boolean;
}

/** API sort key → the columns the list orders by (the id last: a total order). */
const INSTANCE_SORTS: Record<string, readonly string[]> = {
  created_at: ["created_at", "name", "id"],
  name: ["name", "id"],
  id: ["id"],
  status: ["status", "id"],
  project_id: ["pool_id", "id"],
  updated_at: ["updated_at", "id"],
};
export const INSTANCE_SORT_KEYS = Object.keys(INSTANCE_SORTS);

export interface StatusUpdate {
  id: string;
  status: string;
  vmState: string | null;
  taskState: string | null;
  progress: number | null;
  fixedIp?: string | null;
  fault?: string | null;
  /** Nova's image.id: a rebuild changes it (null or absent: left as recorded). */
  imageId?: string | null;
}

export interface PoolCounts {
  created: number;
  active: number;
  error: number;
  free: number;
  occupied: number;
  simultaneous: number;
}

export class InstanceRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insertMany(rows: NewInstance[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db
      .insertInto("instances")
      .values(rows)
      .onConflict((oc) => oc.column("id").doNothing())
      .execute();
  }

  async get(id: string): Promise<Instance | undefined> {
    return this.db
      .selectFrom("instances")
      .selectAll()
      .where("id", "=", id)
      .where("deleted_at", "is", null)
      .executeTakeFirst();
  }

  async list(filter: InstanceFilter = {}): Promise<Instance[]> {
    let q = this.db.selectFrom("instances as i").selectAll("i").where("i.deleted_at", "is", null);
    if (filter.ids) {
      if (filter.ids.length === 0) return [];
      q = q.where("i.id", "in", filter.ids);
    }
    if (filter.poolId !== undefined) q = q.where("i.pool_id", "=", filter.poolId);
    if (filter.status !== undefined) q = q.where("i.status", "=", filter.status);
    if (filter.draining !== undefined) q = q.where("i.draining", "=", filter.draining);
    if (filter.user !== undefined) {
      const user = filter.user;
      q = q.where((eb) =>
        eb.exists(
          eb
            .selectFrom("instance_users as u")
            .select("u.instance_id")
            .whereRef("u.instance_id", "=", "i.id")
            .where("u.user_id", "=", user),
        ),
      );
    }
    if (filter.group !== undefined) {
      const group = filter.group;
      q = q.where((eb) =>
        eb.exists(
          eb
            .selectFrom("instance_groups as g")
            .select("g.instance_id")
            .whereRef("g.instance_id", "=", "i.id")
            .where("g.group_id", "=", group),
        ),
      );
    }
    for (const f of filter.filters ?? []) {
      const column =
        f.field === "assigned"
          ? sql`(EXISTS (SELECT 1 FROM instance_users u WHERE u.instance_id = i.id) OR EXISTS (SELECT 1 FROM instance_groups g WHERE g.instance_id = i.id))`
          : sql.ref("i.pool_id");
      q = q.where((eb) => filterCondition(eb, column, f));
    }
    const page = filter.page;
    if (!page) return q.orderBy("i.created_at").orderBy("i.name").orderBy("i.id").execute();
    const columns = INSTANCE_SORTS[page.sortKey] ?? INSTANCE_SORTS.created_at;
    if (page.marker !== undefined)
      q = q.where(() => keysetAfter("instances", "i", columns, "id", page.marker!, page.sortDir));
    for (const c of columns) q = q.orderBy(sql.ref(`i.${c}`), page.sortDir);
    if (page.limit !== undefined) q = q.limit(page.limit);
    return q.execute();
  }

  /** Whether an instance row (deleted or not) has this id: a marker must. */
  async exists(id: string): Promise<boolean> {
    return (
      (await this.db.selectFrom("instances").select("id").where("id", "=", id).executeTakeFirst()) !==
      undefined
    );
  }

  /** Adds the users and groups of each instance (two queries, whatever the number of rows). */
  async withAssignees(rows: Instance[]): Promise<InstanceWithAssignees[]> {
    if (rows.length === 0) return [];
    const ids = rows.map((r) => r.id);
    const [users, groups] = await Promise.all([
      this.db
        .selectFrom("instance_users")
        .select(["instance_id", "user_id"])
        .where("instance_id", "in", ids)
        .orderBy("assigned_at")
        .orderBy("user_id")
        .execute(),
      this.db
        .selectFrom("instance_groups")
        .select(["instance_id", "group_id"])
        .where("instance_id", "in", ids)
        .orderBy("assigned_at")
        .orderBy("group_id")
        .execute(),
    ]);
    const byInstance = new Map(
      rows.map((r) => [r.id, { ...r, users: [] as string[], groups: [] as string[] }]),
    );
    for (const u of users) byInstance.get(u.instance_id)?.users.push(u.user_id);
    for (const g of groups) byInstance.get(g.instance_id)?.groups.push(g.group_id);
    return [...byInstance.values()];
  }

  async applyStatus(updates: StatusUpdate[]): Promise<void> {
    for (const u of updates) {
      await this.db
        .updateTable("instances")
        .set({
          status: u.status,
          vm_state: u.vmState,
          task_state: u.taskState,
          progress: u.progress ?? 0,
          ...(u.fixedIp !== undefined ? { fixed_ip: u.fixedIp } : {}),
          ...(u.fault !== undefined ? { fault: u.fault } : {}),
          ...(u.imageId ? { image_id: u.imageId } : {}),
          updated_at: sql`now()`,
        })
        .where("id", "=", u.id)
        .where("deleted_at", "is", null)
        // Taken back by a session policy: Nova still says ACTIVE until the rebuild call, and
        // copying that would make the old desktop claimable (store/session-policy.ts).
        .where("status", "!=", RECYCLING)
        // Taken out of service by the reserve (surplus being released): Nova's ACTIVE must
        // not make it claimable again before it is deleted.
        .where("status", "<>", "DELETING")
        .where((eb) =>
          eb.or([
            eb("status", "is distinct from", u.status),
            eb("vm_state", "is distinct from", u.vmState),
            eb("task_state", "is distinct from", u.taskState),
            eb("progress", "is distinct from", u.progress ?? 0),
            ...(u.fixedIp !== undefined ? [eb("fixed_ip", "is distinct from", u.fixedIp)] : []),
            ...(u.imageId ? [eb("image_id", "is distinct from", u.imageId)] : []),
          ]),
        )
        .execute();
    }
  }

  async markDeleted(id: string): Promise<void> {
    await this.db
      .updateTable("instances")
      .set({ deleted_at: sql`now()`, status: "DELETED", updated_at: sql`now()` })
      .where("id", "=", id)
      .where("deleted_at", "is", null)
      .execute();
  }

  async countLive(poolId: string): Promise<number> {
    const row = await this.db
      .selectFrom("instances")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("pool_id", "=", poolId)
      .where("deleted_at", "is", null)
      .executeTakeFirstOrThrow();
    return Number(row.n);
  }

  async poolCounts(poolId: string): Promise<PoolCounts> {
    const row = await sql<Record<keyof PoolCounts, string | number>>`
      SELECT count(*) AS created,
             count(*) FILTER (WHERE i.status = 'ACTIVE') AS active,
             count(*) FILTER (WHERE i.status = 'ERROR') AS error,
             count(*) FILTER (WHERE coalesce(u.n, 0) = 0) AS free,
             count(*) FILTER (WHERE coalesce(u.n, 0) >= 1) AS occupied,
             count(*) FILTER (WHERE coalesce(u.n, 0) > 1) AS simultaneous
        FROM instances i
        LEFT JOIN (SELECT instance_id, count(*) AS n FROM instance_users GROUP BY instance_id) u
          ON u.instance_id = i.id
       WHERE i.pool_id = ${poolId} AND i.deleted_at IS NULL`.execute(this.db);
    const r = row.rows[0];
    return {
      created: Number(r.created),
      active: Number(r.active),
      error: Number(r.error),
      free: Number(r.free),
      occupied: Number(r.occupied),
      simultaneous: Number(r.simultaneous),
    };
  }
}
