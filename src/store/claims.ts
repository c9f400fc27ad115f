// Claims: making a user the holder of an instance, race-free across any number of processes
// sharing the database and without a pool-wide lock.
//
// How: the candidate is picked with `FOR UPDATE OF i SKIP LOCKED`, so concurrent claimers
// walk past each other's rows instead of queueing on them; once the row lock is held, a
// fresh statement (READ COMMITTED takes a new snapshot per statement) re-reads its holders,
// which sees every claim committed before ours since every claimer holds that same lock
// until it commits. The unique partial index instance_users_one_holder stays the last guard
// for Standard pools: if anything else (an admin assignment) slipped in, the insert fails
// and the caller tries again.
import { type Kysely, type Selectable, sql, type Transaction } from "kysely";
import type { Database, InstancesTable } from "./schema.ts";

export type InstanceRow = Selectable<InstancesTable>;

export type ClaimKind =
  /** A reserve instance: no user, no group. */
  | "free"
  /** An instance assigned to one of the user's groups. */
  | "group"
  /** Simultaneous pools: an instance already used by others, under the per-instance limit. */
  | "shared";

export interface ClaimOptions {
  kind: ClaimKind;
  poolId: string;
  userId: string;
  groupIds?: string[];
  /** Instance statuses acceptable, best first. */
  statuses: string[];
  actor: string;
  reason: string;
}

interface Claim extends ClaimOptions {
  /** Standard pool: the user becomes the only holder (enforced by the unique partial index). */
  exclusive: boolean;
  /** Most users per instance (Simultaneous); null: unlimited. */
  maxUsers: number | null;
}

const UNIQUE_VIOLATION = "23505";

export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string })?.code === UNIQUE_VIOLATION;
}

/** The number of tries a claim makes past rows that turned out taken. */
const MAX_STALE = 5;

export class ClaimsRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** Instances of the pool the user holds directly, best status first. */
  async heldBy(poolId: string, userId: string): Promise<InstanceRow[]> {
    return this.db
      .selectFrom("instances as i")
      .innerJoin("instance_users as u", "u.instance_id", "i.id")
      .selectAll("i")
      .where("u.user_id", "=", userId)
      .where("i.pool_id", "=", poolId)
      .where("i.deleted_at", "is", null)
      .orderBy(sql`i.status = 'ACTIVE'`, "desc")
      .orderBy("u.assigned_at")
      .execute();
  }

  async poolHasGroupInstances(poolId: string): Promise<boolean> {
    const row = await this.db
      .selectFrom("instance_groups as g")
      .innerJoin("instances as i", "i.id", "g.instance_id")
      .select("g.instance_id")
      .where("i.pool_id", "=", poolId)
      .where("i.deleted_at", "is", null)
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  }

  async get(id: string): Promise<InstanceRow | undefined> {
    return this.db.selectFrom("instances").selectAll().where("id", "=", id).executeTakeFirst();
  }

  /**
   * Claims one instance for the user; undefined when none is left. Throws a unique violation
   * only if a holder appeared outside the claim protocol (the caller retries).
   */
  async claim(options: ClaimOptions): Promise<InstanceRow | undefined> {
    if (options.kind === "group" && !options.groupIds?.length) return undefined;
    return this.db.transaction().execute(async (trx) => {
      // FOR SHARE: a switch of the pool's mode (which takes it FOR UPDATE) waits for us, and
      // we read the mode it leaves; claims never block each other on it.
      const pool = await trx
        .selectFrom("pools")
        .select(["operation_mode", "max_users_per_instance"])
        .where("id", "=", options.poolId)
        .forShare()
        .executeTakeFirst();
      if (!pool) return undefined;
      const exclusive = pool.operation_mode !== "2";
      if (options.kind === "shared" && exclusive) return undefined;
      const o: Claim = { ...options, exclusive, maxUsers: exclusive ? 1 : pool.max_users_per_instance };
      const skipped: string[] = [];
      for (let i = 0; i < MAX_STALE; i++) {
        const candidate = await this.candidate(trx, o, skipped);
        if (!candidate) return undefined;
        if (!(await this.stillClaimable(trx, o, candidate.id))) {
          skipped.push(candidate.id);
          continue;
        }
        await trx
          .insertInto("instance_users")
          .values({
            instance_id: candidate.id,
            user_id: o.userId,
            exclusive: o.exclusive,
            assigned_by: o.actor,
          })
          .execute();
        await trx
          .insertInto("assignment_history")
          .values({
            instance_id: candidate.id,
            subject_type: "user",
            subject_id: o.userId,
            action: "assign",
            actor: o.actor,
            reason: o.reason,
          })
          .execute();
        return candidate;
      }
      return undefined;
    });
  }

  private candidate(trx: Transaction<Database>, o: Claim, skipped: string[]) {
    let q = trx
      .selectFrom("instances as i")
      .selectAll("i")
      .where("i.pool_id", "=", o.poolId)
      .where("i.deleted_at", "is", null)
      .where("i.status", "in", o.statuses)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("instance_users as mine")
              .select("mine.instance_id")
              .whereRef("mine.instance_id", "=", "i.id")
              .where("mine.user_id", "=", o.userId),
          ),
        ),
      );
    if (skipped.length) q = q.where("i.id", "not in", skipped);
    const users = sql<number>`(SELECT count(*) FROM instance_users cu WHERE cu.instance_id = i.id)`;
    const groups = sql<number>`(SELECT count(*) FROM instance_groups cg WHERE cg.instance_id = i.id)`;
    if (o.kind === "free") {
      q = q.where(users, "=", 0).where(groups, "=", 0);
    } else if (o.kind === "group") {
      q = q.where(({ exists, selectFrom }) =>
        exists(
          selectFrom("instance_groups as g")
            .select("g.instance_id")
            .whereRef("g.instance_id", "=", "i.id")
            .where("g.group_id", "in", o.groupIds!),
        ),
      );
      if (o.exclusive) q = q.where(users, "=", 0);
    } else {
      // Shared: used by others already, and not reserved for groups the user is not in.
      q = q.where(users, ">", 0);
      q = q.where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("instance_groups as og")
              .select("og.instance_id")
              .whereRef("og.instance_id", "=", "i.id")
              .$if(!!o.groupIds?.length, (sq) => sq.where("og.group_id", "not in", o.groupIds!)),
          ),
        ),
      );
    }
    if (!o.exclusive && o.maxUsers != null) q = q.where(users, "<", o.maxUsers);
    return q
      .orderBy(sql`array_position(${sql.val(o.statuses)}::text[], i.status)`)
      .$if(!o.exclusive, (sq) => sq.orderBy(users))
      .orderBy("i.created_at")
      .orderBy("i.id")
      .limit(1)
      .forUpdate("i")
      .skipLocked()
      .executeTakeFirst();
  }

  /** Re-reads the holders with a fresh snapshot, now that the row lock is ours. */
  private async stillClaimable(trx: Transaction<Database>, o: Claim, instanceId: string) {
    const row = await trx
      .selectNoFrom([
        sql<number>`(SELECT count(*) FROM instance_users WHERE instance_id = ${instanceId})`.as("users"),
        sql<number>`(SELECT count(*) FROM instance_users WHERE instance_id = ${instanceId} AND exclusive)`.as(
          "exclusive_users",
        ),
        sql<number>`(SELECT count(*) FROM instance_groups WHERE instance_id = ${instanceId})`.as("groups"),
      ])
      .executeTakeFirstOrThrow();
    const users = Number(row.users);
    if (Number(row.exclusive_users) > 0) return false;
    if (o.kind === "free") return users === 0 && Number(row.groups) === 0;
    if (o.exclusive) return users === 0;
    if (o.kind === "shared" && users === 0) return false;
    return o.maxUsers == null || users < o.maxUsers;
  }

  /**
   * Records an instance the broker has just created for a user together with its holder, in
   * one transaction, so that the reserve keeper never sees it as free.
   */
  async insertHeld(
    instance: {
      id: string;
      poolId: string;
      name: string;
      status: string;
      reservationId: string | null;
      description?: string | null;
    },
    userId: string,
    exclusive: boolean,
    actor: string,
    reason: string,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      await trx
        .insertInto("instances")
        .values({
          id: instance.id,
          pool_id: instance.poolId,
          name: instance.name,
          description: instance.description ?? null,
          status: instance.status,
          reservation_id: instance.reservationId,
          vm_state: null,
          task_state: null,
          fixed_ip: null,
          fault: null,
        })
        .onConflict((oc) => oc.column("id").doNothing())
        .execute();
      await trx
        .insertInto("instance_users")
        .values({ instance_id: instance.id, user_id: userId, exclusive, assigned_by: actor })
        .onConflict((oc) => oc.columns(["instance_id", "user_id"]).doNothing())
        .execute();
      await trx
        .insertInto("assignment_history")
        .values({
          instance_id: instance.id,
          subject_type: "user",
          subject_id: userId,
          action: "assign",
          actor,
          reason,
        })
        .execute();
    });
  }

  /** Gives an instance back (its build failed): the user no longer holds it. */
  async release(instanceId: string, userId: string, actor: string, reason: string): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const gone = await trx
        .deleteFrom("instance_users")
        .where("instance_id", "=", instanceId)
        .where("user_id", "=", userId)
        .executeTakeFirst();
      if (Number(gone.numDeletedRows) === 0) return;
      await trx
        .insertInto("assignment_history")
        .values({
          instance_id: instanceId,
          subject_type: "user",
          subject_id: userId,
          action: "unassign",
          actor,
          reason,
        })
        .execute();
    });
  }

  /** Mirrors what Nova said of an instance into our row. */
  async updateState(
    instanceId: string,
    s: {
      status: string;
      vmState: string | null;
      taskState: string | null;
      progress: number | null;
      fixedIp?: string | null;
      fault?: string | null;
    },
  ): Promise<void> {
    await this.db
      .updateTable("instances")
      .set({
        status: s.status,
        vm_state: s.vmState,
        task_state: s.taskState,
        progress: s.progress ?? 0,
        ...(s.fixedIp !== undefined ? { fixed_ip: s.fixedIp } : {}),
        ...(s.fault !== undefined ? { fault: s.fault } : {}),
        updated_at: sql`now()`,
      })
      .where("id", "=", instanceId)
      .execute();
  }

  async markDeleted(instanceId: string): Promise<void> {
    await this.db
      .updateTable("instances")
      .set({ status: "DELETED", deleted_at: sql`now()`, updated_at: sql`now()` })
      .where("id", "=", instanceId)
      .where("deleted_at", "is", null)
      .execute();
  }
}
