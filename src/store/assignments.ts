// Assignments of users and groups to instances, and their history (who, what, when, by whom).
// Every change goes through this file so that no assign or unassign is ever left out of the
// history. API (used by the admin core, the broker and the reconciler):
//   assignUsers(instanceId, userIds, { actor, reason, limit })  → user ids actually added
//   assignGroups(instanceId, groupIds, { actor, reason })       → group ids actually added
//   unassignUser / unassignGroup(instanceId, id, { actor })     → whether a row was removed
//   replace(instanceId, users, groups, { actor, limit })        → PUT /servers/{id} semantics
//   endAll(instanceId, { actor, reason })                       → instance gone: everything ends
//   claimFree(poolId, userId, { actor, reason })                → a free ACTIVE instance, assigned
//   usersOf / groupsOf / serversOfUser / history
// `limit` is the most users the instance may hold after the change (null: no limit); the
// Standard one-holder rule is also guarded by the partial unique index instance_users_one_holder.
import type { Kysely, Transaction } from "kysely";
import type { Database } from "./schema.ts";

export interface ChangeBy {
  /** The user id of whoever made the change (null: the system). */
  actor: string | null;
  reason?: string | null;
}

export interface AssignUsersOptions extends ChangeBy {
  limit?: number | null;
}

/** The instance would hold more users than allowed (Standard: one). */
export class InstanceFullError extends Error {
  constructor(
    readonly instanceId: string,
    readonly limit: number,
  ) {
    super(`instance ${instanceId} may hold at most ${limit} user${limit === 1 ? "" : "s"}`);
    this.name = "InstanceFullError";
  }
}

/** The instance does not exist (or is deleted). */
export class InstanceGoneError extends Error {
  constructor(readonly instanceId: string) {
    super(`instance ${instanceId} not found`);
    this.name = "InstanceGoneError";
  }
}

export interface UserServer {
  instance_id: string;
  project_id: string;
  project_name: string;
}

export interface HistoryEntry {
  instance_id: string;
  subject_type: "user" | "group";
  subject_id: string;
  action: "assign" | "unassign";
  actor: string | null;
  reason: string | null;
  at: Date;
}

type Trx = Transaction<Database>;

function isOneHolderViolation(err: unknown): boolean {
  const e = err as { code?: string; constraint?: string };
  return e?.code === "23505" && e.constraint === "instance_users_one_holder";
}

export class AssignmentRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Locks the instance row (serialising changes to one instance, never the pool) and the pool
   * row FOR SHARE (a mode switch waits for us); answers whether the pool is Standard.
   */
  private async lockInstance(trx: Trx, instanceId: string): Promise<{ exclusive: boolean }> {
    const row = await trx
      .selectFrom("instances as i")
      .innerJoin("pools as p", "p.id", "i.pool_id")
      .select(["i.id", "p.operation_mode"])
      .where("i.id", "=", instanceId)
      .where("i.deleted_at", "is", null)
      .forUpdate("i")
      .forShare("p")
      .executeTakeFirst();
    if (!row) throw new InstanceGoneError(instanceId);
    return { exclusive: row.operation_mode === "1" };
  }

  private async record(
    trx: Trx,
    instanceId: string,
    type: "user" | "group",
    ids: string[],
    action: "assign" | "unassign",
    by: ChangeBy,
  ) {
    if (ids.length === 0) return;
    await trx
      .insertInto("assignment_history")
      .values(
        ids.map((id) => ({
          instance_id: instanceId,
          subject_type: type,
          subject_id: id,
          action,
          actor: by.actor,
          reason: by.reason ?? null,
        })),
      )
      .execute();
  }

  private async addUsers(trx: Trx, instanceId: string, userIds: string[], opts: AssignUsersOptions) {
    const { exclusive } = await this.lockInstance(trx, instanceId);
    const existing = new Set(await this.usersOf(instanceId, trx));
    const fresh = [...new Set(userIds)].filter((u) => !existing.has(u));
    if (fresh.length === 0) return [];
    const limit = exclusive ? Math.min(1, opts.limit ?? 1) : (opts.limit ?? null);
    if (limit !== null && existing.size + fresh.length > limit)
      throw new InstanceFullError(instanceId, limit);
    await trx
      .insertInto("instance_users")
      .values(
        fresh.map((user_id) => ({ instance_id: instanceId, user_id, exclusive, assigned_by: opts.actor })),
      )
      .execute();
    await this.record(trx, instanceId, "user", fresh, "assign", opts);
    return fresh;
  }

  private async addGroups(trx: Trx, instanceId: string, groupIds: string[], by: ChangeBy) {
    await this.lockInstance(trx, instanceId);
    const existing = new Set(await this.groupsOf(instanceId, trx));
    const fresh = [...new Set(groupIds)].filter((g) => !existing.has(g));
    if (fresh.length === 0) return [];
    await trx
      .insertInto("instance_groups")
      .values(fresh.map((group_id) => ({ instance_id: instanceId, group_id, assigned_by: by.actor })))
      .execute();
    await this.record(trx, instanceId, "group", fresh, "assign", by);
    return fresh;
  }

  private async transaction<T>(instanceId: string, work: (trx: Trx) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction().execute(work);
    } catch (err) {
      if (isOneHolderViolation(err)) throw new InstanceFullError(instanceId, 1);
      throw err;
    }
  }

  assignUsers(instanceId: string, userIds: string[], opts: AssignUsersOptions): Promise<string[]> {
    return this.transaction(instanceId, (trx) => this.addUsers(trx, instanceId, userIds, opts));
  }

  assignGroups(instanceId: string, groupIds: string[], by: ChangeBy): Promise<string[]> {
    return this.transaction(instanceId, (trx) => this.addGroups(trx, instanceId, groupIds, by));
  }

  /** Assigns one user to several instances, all or nothing. */
  assignUserToMany(
    userId: string,
    instanceIds: string[],
    opts: AssignUsersOptions & { limits?: Map<string, number | null> },
  ) {
    return this.transaction(instanceIds[0] ?? "", async (trx) => {
      for (const id of [...new Set(instanceIds)]) {
        await this.addUsers(trx, id, [userId], { ...opts, limit: opts.limits?.get(id) ?? opts.limit });
      }
    });
  }

  /** Assigns one group to several instances, all or nothing. */
  assignGroupToMany(groupId: string, instanceIds: string[], by: ChangeBy) {
    return this.transaction(instanceIds[0] ?? "", async (trx) => {
      for (const id of [...new Set(instanceIds)]) await this.addGroups(trx, id, [groupId], by);
    });
  }

  async unassignUser(instanceId: string, userId: string, by: ChangeBy): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const res = await trx
        .deleteFrom("instance_users")
        .where("instance_id", "=", instanceId)
        .where("user_id", "=", userId)
        .executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) return false;
      await this.record(trx, instanceId, "user", [userId], "unassign", by);
      return true;
    });
  }

  async unassignGroup(instanceId: string, groupId: string, by: ChangeBy): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const res = await trx
        .deleteFrom("instance_groups")
        .where("instance_id", "=", instanceId)
        .where("group_id", "=", groupId)
        .executeTakeFirst();
      if (Number(res.numDeletedRows) === 0) return false;
      await this.record(trx, instanceId, "group", [groupId], "unassign", by);
      return true;
    });
  }

  /** Makes the instance's users and groups exactly these sets (undefined: leave that set alone). */
  replace(
    instanceId: string,
    users: string[] | undefined,
    groups: string[] | undefined,
    opts: AssignUsersOptions,
  ): Promise<void> {
    return this.transaction(instanceId, async (trx) => {
      await this.lockInstance(trx, instanceId);
      if (users !== undefined) {
        const wanted = new Set(users);
        const gone = (await this.usersOf(instanceId, trx)).filter((u) => !wanted.has(u));
        if (gone.length > 0) {
          await trx
            .deleteFrom("instance_users")
            .where("instance_id", "=", instanceId)
            .where("user_id", "in", gone)
            .execute();
          await this.record(trx, instanceId, "user", gone, "unassign", opts);
        }
        await this.addUsers(trx, instanceId, [...wanted], opts);
      }
      if (groups !== undefined) {
        const wanted = new Set(groups);
        const gone = (await this.groupsOf(instanceId, trx)).filter((g) => !wanted.has(g));
        if (gone.length > 0) {
          await trx
            .deleteFrom("instance_groups")
            .where("instance_id", "=", instanceId)
            .where("group_id", "in", gone)
            .execute();
          await this.record(trx, instanceId, "group", gone, "unassign", opts);
        }
        await this.addGroups(trx, instanceId, [...wanted], opts);
      }
    });
  }

  /** Ends every assignment of an instance (deleted, or gone from Nova), keeping the history. */
  async endAll(instanceId: string, by: ChangeBy): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      const users = await trx
        .deleteFrom("instance_users")
        .where("instance_id", "=", instanceId)
        .returning("user_id")
        .execute();
      const groups = await trx
        .deleteFrom("instance_groups")
        .where("instance_id", "=", instanceId)
        .returning("group_id")
        .execute();
      await this.record(
        trx,
        instanceId,
        "user",
        users.map((u) => u.user_id),
        "unassign",
        by,
      );
      await this.record(
        trx,
        instanceId,
        "group",
        groups.map((g) => g.group_id),
        "unassign",
        by,
      );
    });
  }

  /**
   * Assigns a free ACTIVE instance of the pool (no user, no group) to the user, skipping rows
   * other processes hold: answers its id, or undefined when none is free.
   */
  async claimFree(poolId: string, userId: string, by: ChangeBy): Promise<string | undefined> {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        return await this.db.transaction().execute(async (trx) => {
          const free = await trx
            .selectFrom("instances as i")
            .select("i.id")
            .where("i.pool_id", "=", poolId)
            .where("i.status", "=", "ACTIVE")
            .where("i.deleted_at", "is", null)
            .where((eb) =>
              eb.and([
                eb.not(
                  eb.exists(
                    eb
                      .selectFrom("instance_users as u")
                      .select("u.instance_id")
                      .whereRef("u.instance_id", "=", "i.id"),
                  ),
                ),
                eb.not(
                  eb.exists(
                    eb
                      .selectFrom("instance_groups as g")
                      .select("g.instance_id")
                      .whereRef("g.instance_id", "=", "i.id"),
                  ),
                ),
              ]),
            )
            .orderBy("i.created_at")
            .orderBy("i.id")
            .limit(1)
            .forUpdate()
            .skipLocked()
            .executeTakeFirst();
          if (!free) return undefined;
          await this.addUsers(trx, free.id, [userId], { ...by, limit: 1 });
          return free.id;
        });
      } catch (err) {
        // Another process took it between our look and our lock: look again.
        if (!(err instanceof InstanceFullError) && !isOneHolderViolation(err)) throw err;
      }
    }
    return undefined;
  }

  async usersOf(instanceId: string, db: Kysely<Database> | Trx = this.db): Promise<string[]> {
    const rows = await db
      .selectFrom("instance_users")
      .select("user_id")
      .where("instance_id", "=", instanceId)
      .orderBy("assigned_at")
      .orderBy("user_id")
      .execute();
    return rows.map((r) => r.user_id);
  }

  async groupsOf(instanceId: string, db: Kysely<Database> | Trx = this.db): Promise<string[]> {
    const rows = await db
      .selectFrom("instance_groups")
      .select("group_id")
      .where("instance_id", "=", instanceId)
      .orderBy("assigned_at")
      .orderBy("group_id")
      .execute();
    return rows.map((r) => r.group_id);
  }

  /** Instances assigned directly to the user, with their pool. */
  async serversOfUser(userId: string): Promise<UserServer[]> {
    return this.db
      .selectFrom("instance_users as u")
      .innerJoin("instances as i", "i.id", "u.instance_id")
      .innerJoin("pools as p", "p.id", "i.pool_id")
      .select(["i.id as instance_id", "p.id as project_id", "p.name as project_name"])
      .where("u.user_id", "=", userId)
      .where("i.deleted_at", "is", null)
      .orderBy("u.assigned_at")
      .orderBy("i.id")
      .execute();
  }

  /** Users of the pool that hold at least one of its instances directly. */
  async usersWithInstance(poolId: string): Promise<string[]> {
    const rows = await this.db
      .selectFrom("instance_users as u")
      .innerJoin("instances as i", "i.id", "u.instance_id")
      .select("u.user_id")
      .distinct()
      .where("i.pool_id", "=", poolId)
      .where("i.deleted_at", "is", null)
      .execute();
    return rows.map((r) => r.user_id);
  }

  /** Whether the user holds the instance directly or through one of the given groups. */
  async isAssigned(instanceId: string, userId: string, groupIds: string[]): Promise<boolean> {
    const row = await this.db
      .selectNoFrom((eb) => [
        eb
          .or([
            eb.exists(
              eb
                .selectFrom("instance_users")
                .select("instance_id")
                .where("instance_id", "=", instanceId)
                .where("user_id", "=", userId),
            ),
            ...(groupIds.length > 0
              ? [
                  eb.exists(
                    eb
                      .selectFrom("instance_groups")
                      .select("instance_id")
                      .where("instance_id", "=", instanceId)
                      .where("group_id", "in", groupIds),
                  ),
                ]
              : []),
          ])
          .as("assigned"),
      ])
      .executeTakeFirstOrThrow();
    return Boolean(row.assigned);
  }

  async history(instanceId: string): Promise<HistoryEntry[]> {
    return this.db
      .selectFrom("assignment_history")
      .select(["instance_id", "subject_type", "subject_id", "action", "actor", "reason", "at"])
      .where("instance_id", "=", instanceId)
      .orderBy("id")
      .execute();
  }
}
