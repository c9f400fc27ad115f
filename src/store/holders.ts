// The holders of instances: users and groups assigned to them, the claims that make a user a
// holder, and the history of every change (who, what, when, by whom). This file is the only
// writer of instance_users, instance_groups and assignment_history, so that no assign or
// unassign is ever left out of the history. API (the admin core, the broker, the reconciler):
//   assignUsers(instanceId, userIds, { actor, reason, limit })  → user ids actually added
//   assignGroups(instanceId, groupIds, { actor, reason })       → group ids actually added
//   unassignUser / unassignGroup(instanceId, id, { actor })     → whether a row was removed
//   replace(instanceId, users, groups, { actor, limit })        → PUT /servers/{id} semantics
//   endAll(instanceId, { actor, reason })                       → instance gone: everything ends
//   claim({ kind, poolId, userId, statuses, ... })              → the claim protocol (below)
//   claimFree(poolId, userId, { actor, reason })                → claim of a free ACTIVE instance
//   insertHeld(instance, userId, ...) / release(...)            → the broker's own new instance
//   takeBuildTurn / endBuildTurn(poolId, userId, requestId)     → one build per user (098)
//   claimAndComplete(warm claim)                                → the broker's warm path
//   usersOf / groupsOf / heldBy / serversOfUser / history
// `limit` is the most users the instance may hold after the change (null: no limit); the
// Standard one-holder rule is also guarded by the partial unique index instance_users_one_holder.
//
// The claim protocol: making a user the holder of an instance, race-free across any number
// of processes sharing the database and without a pool-wide lock. The candidate is picked
// with `FOR UPDATE OF i SKIP LOCKED`, so concurrent claimers walk past each other's rows
// instead of queueing on them; once the row lock is held, a fresh statement (READ COMMITTED
// takes a new snapshot per statement) re-reads its holders, which sees every claim committed
// before ours since every claimer holds that same lock until it commits. The unique partial
// index instance_users_one_holder stays the last guard for Standard pools: if anything else
// (an admin assignment) slipped in, the insert fails and the caller tries again. A free
// instance is read from the partial index instances_free (holder_count 0, kept by triggers:
// migration 096); the pool's mode is read under its shared mode lock (pool-lock.ts).
import { type Kysely, type RawBuilder, type Selectable, sql, type Transaction } from "kysely";
import { OperationMode } from "../shared/types.ts";
import { lockPoolMode, POOL_MODE_LOCK } from "./pool-lock.ts";
import { type CompletedRequest, insertCompleted } from "./requests.ts";
import type { Database, InstancesTable } from "./schema.ts";
import { isUniqueViolation } from "./unique.ts";

export type InstanceRow = Selectable<InstancesTable>;

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
  actor: string | null;
  reason: string | null;
  /** Instances the caller found unusable: never answered as the one the user holds. */
  exclude?: string[];
  /** The broker request claiming: no claim while another request of the user builds (takeBuildTurn). */
  requestId?: string;
  /**
   * Free kind: also a free ACTIVE instance not yet ready whose ready time is known (the boot
   * grace), after every ready or building one; the caller waits for its ready time.
   */
  waitReady?: boolean;
}

/** What a claim answers: the instance, and whether the user already held it (no new holder). */
export type ClaimedRow = InstanceRow & { alreadyHeld?: true };

/** The class of the per-user claim lock (pg's two-key advisory locks; the second key is hashed). */
const USER_CLAIM_LOCK = 0x7273_0003;
/**
 * Whether another live request of the user has the user's build turn in the pool (migration
 * 098): its instance will be the user's, so no claim gives them another meanwhile.
 */
const buildingFor = (poolId: string, userId: string, requestId: string | null) =>
  sql<boolean>`EXISTS (SELECT 1 FROM user_builds b JOIN requests r ON r.id = b.request_id
    WHERE b.pool_id = ${poolId} AND b.user_id = ${userId} AND b.expires_at > now()
      AND b.request_id IS DISTINCT FROM ${requestId}::text AND r.status IN ('pending', 'in_progress'))`;

/**
 * Whether a live instance of the pool has a group: driven from instance_groups (few rows, or
 * none), each row's pool read by its key. A join lets the planner scan the pool's instances.
 */
const poolHasGroups = (poolId: string) =>
  sql<boolean>`EXISTS (SELECT 1 FROM instance_groups g
    WHERE (SELECT i.pool_id FROM instances i WHERE i.id = g.instance_id AND i.deleted_at IS NULL) = ${poolId})`;

interface Claim extends ClaimOptions {
  /** Standard pool: the user becomes the only holder (enforced by the unique partial index). */
  exclusive: boolean;
  /** Most users per instance (Simultaneous); null: unlimited. */
  maxUsers: number | null;
  /** The pool's image: an instance built from another one is never a new holder's (roll-out). */
  imageId: string;
}

/** What the warm path records with its claim (HolderRepository.claimAndComplete). */
export interface WarmClaim {
  poolId: string;
  userId: string;
  /**
   * The user's groups; undefined when not asked of Keystone yet: then only a free ACTIVE
   * instance is claimed, in one statement, and only when the pool has no group instance (else
   * the answer is "groups": ask Keystone, and call again with them).
   */
  groupIds?: string[];
  /** The kinds to try, in order, with the statuses each accepts. */
  order: { kind: ClaimKind; statuses: string[] }[];
  actor: string | null;
  reason: string | null;
  /** The completed request to record with the claimed instance; undefined gives the claim up. */
  finish(instance: InstanceRow, kind: ClaimKind): CompletedRequest | undefined;
}

/** Thrown inside the warm path's transaction to roll it back. */
const NOT_WARM = new Error("not a warm allocation");
const NEEDS_GROUPS = new Error("the warm claim needs the user's groups");

/** What the warm path's claim answers: the instance claimed, "groups" (call again with the user's groups), or undefined (take the ordinary path). */
export type WarmOutcome = { instance: InstanceRow; kind: ClaimKind } | "groups" | undefined;

const isOneHolderViolation = (err: unknown) => isUniqueViolation(err, "instance_users_one_holder");

/** The number of tries a claim makes past rows that turned out taken. */
const MAX_STALE = 5;

export class HolderRepository {
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
    return { exclusive: row.operation_mode === OperationMode.Standard };
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
   * Assigns a free ACTIVE instance of the pool (no user, no group) to the user by the claim
   * protocol: answers its id, or undefined when none is free.
   */
  async claimFree(poolId: string, userId: string, by: ChangeBy): Promise<string | undefined> {
    for (let attempt = 0; attempt < MAX_STALE; attempt++) {
      try {
        const claimed = await this.claim({
          kind: "free",
          poolId,
          userId,
          statuses: ["ACTIVE"],
          actor: by.actor,
          reason: by.reason ?? null,
        });
        return claimed?.id;
      } catch (err) {
        // An admin assignment took it between our look and our insert: look again.
        if (!isOneHolderViolation(err)) throw err;
      }
    }
    return undefined;
  }

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
    const row = await this.db.selectNoFrom(poolHasGroups(poolId).as("yes")).executeTakeFirstOrThrow();
    return Boolean(row.yes);
  }

  /**
   * Claims one instance for the user; undefined when none is left. Throws a unique violation
   * only if a holder appeared outside the claim protocol (the caller retries).
   */
  async claim(options: ClaimOptions): Promise<ClaimedRow | undefined> {
    if (options.kind === "group" && !options.groupIds?.length) return undefined;
    return this.db.transaction().execute(async (trx): Promise<ClaimedRow | undefined> => {
      await this.lockUser(trx, options.poolId, options.userId);
      const held = await this.heldIn(trx, options.poolId, options.userId, options.exclude);
      if (held) return { ...held, alreadyHeld: true };
      if (options.requestId) {
        const { rows } = await sql<{ yes: boolean }>`SELECT ${buildingFor(
          options.poolId,
          options.userId,
          options.requestId,
        )} AS yes`.execute(trx);
        if (rows[0]?.yes) return undefined;
      }
      return this.claimCandidate(trx, options);
    });
  }

  /**
   * The broker's warm path (docs/broker-api.md#the-warm-path): in ONE transaction, the claim of
   * an ACTIVE instance (the kinds in `order`, as claim() does them) and the completed request
   * with its session that `finish` makes of it. Undefined, with nothing written, when the user
   * already holds an instance of the pool, when nothing of those kinds is free, when `finish`
   * declines the instance, or when the user has an open session on it: the caller then takes
   * the ordinary path (the allocation task), which handles all of those.
   */
  async claimAndComplete(w: WarmClaim): Promise<WarmOutcome> {
    try {
      return await this.db.connection().execute(async (conn) => {
        // BEGIN and the user's claim lock in one round trip: a simple-protocol query of two
        // statements, so its two values are inlined (sql.lit quotes them).
        await sql`BEGIN; SELECT pg_advisory_xact_lock(${sql.lit(USER_CLAIM_LOCK)}, hashtext(${sql.lit(
          `${w.poolId}/${w.userId}`,
        )})), pg_advisory_xact_lock_shared(${sql.lit(POOL_MODE_LOCK)}, hashtext(${sql.lit(w.poolId)}))`.execute(
          conn,
        );
        try {
          const claimed = await this.warmClaim(conn, w);
          const { rows } = await sql<{ command?: string }>`COMMIT`.execute(conn);
          if (rows[0]?.command === "ROLLBACK")
            throw new Error("the warm claim's transaction was rolled back");
          return claimed;
        } catch (err) {
          await sql`ROLLBACK`.execute(conn).catch(() => {});
          throw err;
        }
      });
    } catch (err) {
      // Rolled back: the ordinary path looks again (an admin assignment that slipped in too).
      if (err === NEEDS_GROUPS) return "groups";
      if (err === NOT_WARM || isOneHolderViolation(err)) return undefined;
      throw err;
    }
  }

  /** The warm path's claim and record, under the user's lock (see claimAndComplete). */
  private async warmClaim(trx: Kysely<Database>, w: WarmClaim) {
    if (w.groupIds === undefined) {
      const row = await this.warmFree(trx, w);
      if (row.warm_group_instances && !row.warm_floating_ip) throw NEEDS_GROUPS;
      if (row.id === null) throw NOT_WARM;
      const { warm_floating_ip: _f, warm_group_instances: _g, ...instance } = row;
      const done = w.finish(instance as InstanceRow, "free");
      if (!done || !(await insertCompleted(trx, done))) throw NOT_WARM;
      return { instance: instance as InstanceRow, kind: "free" as const };
    }
    const groupIds = w.groupIds;
    // The pool (its mode under the shared mode lock taken with BEGIN) and whether the user
    // already holds an instance of it, in one statement: after the locks, so it sees a claim
    // committed meanwhile.
    const pool = await trx
      .selectFrom("pools as p")
      .select((eb) => [
        "p.operation_mode",
        "p.max_users_per_instance",
        "p.draining",
        "p.image_id",
        eb
          .exists(
            eb
              .selectFrom("instances as i")
              .innerJoin("instance_users as u", "u.instance_id", "i.id")
              .select("i.id")
              .where("i.pool_id", "=", w.poolId)
              .where("u.user_id", "=", w.userId)
              .where("i.deleted_at", "is", null)
              .where("i.status", "in", ["ACTIVE", "BUILD"]),
          )
          .as("held"),
        buildingFor(w.poolId, w.userId, null).as("building"),
      ])
      .where("p.id", "=", w.poolId)
      .executeTakeFirst();
    if (!pool || pool.held || pool.building) throw NOT_WARM;
    for (const step of w.order) {
      if (step.kind === "group" && !groupIds.length) continue;
      const claimed = await this.claimCandidate(
        trx,
        {
          kind: step.kind,
          poolId: w.poolId,
          userId: w.userId,
          groupIds,
          statuses: step.statuses,
          actor: w.actor,
          reason: w.reason,
        },
        pool,
      );
      if (!claimed) continue;
      const done = w.finish(claimed, step.kind);
      if (!done || !(await insertCompleted(trx, done))) throw NOT_WARM;
      return { instance: claimed, kind: step.kind };
    }
    throw NOT_WARM;
  }

  /**
   * The warm path's claim of a free ACTIVE instance in ONE statement, under the user's lock:
   * the pool (there, not draining), the user holding none of its instances, no floating IP of
   * the user's (the task attaches it) and no group instance in the pool (the user's groups
   * come first: NEEDS_GROUPS); then the oldest free, ready instance of the pool's image from
   * the free index, locked SKIP LOCKED, made the user's and recorded in the history. The holder
   * count lives on the instance row, so the row lock re-reads it at its latest (a holder
   * committed since the statement's snapshot makes PostgreSQL pass the row by); the holders
   * are also checked as the snapshot sees them. Always one row: the instance's columns (null
   * when none was claimed) and why not.
   */
  private async warmFree(trx: Kysely<Database>, w: WarmClaim) {
    const { rows } = await sql<
      { [K in keyof InstanceRow]: InstanceRow[K] | null } & {
        warm_floating_ip: boolean;
        warm_group_instances: boolean;
      }
    >`/* prepared rs_warm_claim */
      WITH facts AS (
        SELECT EXISTS (SELECT 1 FROM user_floating_ips WHERE user_id = ${w.userId}) AS warm_floating_ip,
               ${poolHasGroups(w.poolId)} AS warm_group_instances
      ), p AS (
        SELECT p.operation_mode, p.image_id FROM pools p, facts
         WHERE p.id = ${w.poolId} AND NOT p.draining
           AND NOT facts.warm_floating_ip AND NOT facts.warm_group_instances
           AND NOT ${buildingFor(w.poolId, w.userId, null)}
           AND NOT EXISTS (SELECT 1 FROM instances hi JOIN instance_users hu ON hu.instance_id = hi.id
                            WHERE hi.pool_id = ${w.poolId} AND hu.user_id = ${w.userId}
                              AND hi.deleted_at IS NULL AND hi.status IN ('ACTIVE', 'BUILD'))
      ), c AS (
        SELECT i.* FROM instances i, p
         WHERE i.pool_id = ${w.poolId} AND i.status = 'ACTIVE' AND i.deleted_at IS NULL
           AND NOT i.draining AND i.holder_count = 0 AND i.ready_at <= now()
           AND (i.image_id IS NULL OR i.image_id = p.image_id)
         ORDER BY i.created_at, i.id
         LIMIT 1
         FOR UPDATE OF i SKIP LOCKED
      ), taken AS (
        INSERT INTO instance_users (instance_id, user_id, exclusive, assigned_by)
        SELECT c.id, ${w.userId}, p.operation_mode <> ${OperationMode.Simultaneous}, ${w.actor}::text FROM c, p
         WHERE NOT EXISTS (SELECT 1 FROM instance_users u WHERE u.instance_id = c.id)
           AND NOT EXISTS (SELECT 1 FROM instance_groups g WHERE g.instance_id = c.id)
        RETURNING instance_id
      ), recorded AS (
        INSERT INTO assignment_history (instance_id, subject_type, subject_id, action, actor, reason)
        SELECT instance_id, 'user', ${w.userId}, 'assign', ${w.actor}::text, ${w.reason}::text FROM taken
      )
      SELECT claimed.*, facts.warm_floating_ip, facts.warm_group_instances
        FROM facts LEFT JOIN (SELECT c.* FROM c JOIN taken ON taken.instance_id = c.id) claimed ON true`.execute(
      trx,
    );
    return rows[0];
  }

  /**
   * One claim at a time per user and pool, in every process: a user's concurrent requests
   * (a double click, a client retrying) would each claim a free instance. The second waits
   * here for the first to commit, then finds the instance the first claimed and gets it too.
   */
  private async lockUser(trx: Trx, poolId: string, userId: string): Promise<void> {
    await sql`SELECT pg_advisory_xact_lock(${USER_CLAIM_LOCK}, hashtext(${`${poolId}/${userId}`}))`.execute(
      trx,
    );
  }

  /** The usable instance of the pool the user already holds (a fresh statement: after the lock). */
  private heldIn(trx: Trx, poolId: string, userId: string, exclude?: string[]) {
    return trx
      .selectFrom("instances as i")
      .innerJoin("instance_users as u", "u.instance_id", "i.id")
      .selectAll("i")
      .where("i.pool_id", "=", poolId)
      .where("u.user_id", "=", userId)
      .where("i.deleted_at", "is", null)
      .where("i.status", "in", ["ACTIVE", "BUILD"])
      .$if(!!exclude?.length, (q) => q.where("i.id", "not in", exclude!))
      .orderBy("u.assigned_at")
      .limit(1)
      .executeTakeFirst();
  }

  /** The claim proper, under the user's lock: a candidate, re-checked, made the user's. */
  private async claimCandidate(
    trx: Kysely<Database>,
    options: ClaimOptions,
    poolRead?: {
      operation_mode: string;
      max_users_per_instance: number | null;
      draining: boolean;
      image_id: string;
    },
  ): Promise<InstanceRow | undefined> {
    // The mode lock shared: a switch of the pool's mode waits for us, and we read the mode it
    // leaves (a fresh statement after the lock); claims never block each other on it.
    if (!poolRead) await lockPoolMode(trx, options.poolId);
    const pool =
      poolRead ??
      (await trx
        .selectFrom("pools")
        .select(["operation_mode", "max_users_per_instance", "draining", "image_id"])
        .where("id", "=", options.poolId)
        .executeTakeFirst());
    // A draining pool gives no new holder (its holders keep theirs): core/drain.ts.
    if (!pool || pool.draining) return undefined;
    const exclusive = pool.operation_mode !== OperationMode.Simultaneous;
    if (options.kind === "shared" && exclusive) return undefined;
    const o: Claim = {
      ...options,
      exclusive,
      maxUsers: exclusive ? 1 : pool.max_users_per_instance,
      imageId: pool.image_id,
    };
    const skipped: string[] = [];
    for (let i = 0; i < MAX_STALE; i++) {
      const candidate = await this.candidate(trx, o, skipped);
      if (!candidate) return undefined;
      if (!(await this.takeIfClaimable(trx, o, candidate.id))) {
        skipped.push(candidate.id);
        continue;
      }
      return candidate;
    }
    return undefined;
  }

  private candidate(trx: Kysely<Database>, o: Claim, skipped: string[]) {
    let q = trx
      .selectFrom("instances as i")
      .selectAll("i")
      .where("i.pool_id", "=", o.poolId)
      .where("i.deleted_at", "is", null)
      .where("i.status", "in", o.statuses);
    if (skipped.length) q = q.where("i.id", "not in", skipped);
    // Drain and roll-out (core/drain.ts, core/rollout.ts): no draining instance, none built
    // from an image other than the pool's (an unknown image counts as the pool's).
    q = q
      .where(sql<boolean>`NOT i.draining`)
      .where((eb) => eb.or([eb("i.image_id", "is", null), eb("i.image_id", "=", o.imageId)]));
    const users = sql<number>`(SELECT count(*) FROM instance_users cu WHERE cu.instance_id = i.id)`;
    if (o.kind === "free") {
      // Nobody holds it: read from the partial index of instances whose holder count is 0
      // (migration 096), so a claim costs the same in a pool of ten or ten thousand. The count
      // is a hint: takeIfClaimable re-checks the holders under the row lock. Readiness
      // (core/readiness.ts): a free ACTIVE instance is handed out once ready, not merely
      // ACTIVE (one in BUILD is waited for, as a user's own new build is).
      q = q
        .where(sql<boolean>`i.holder_count = 0`)
        .where(
          o.waitReady
            ? sql<boolean>`(i.status <> 'ACTIVE' OR i.ready_at IS NOT NULL)`
            : sql<boolean>`(i.status <> 'ACTIVE' OR i.ready_at <= now())`,
        );
    } else {
      q = q.where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom("instance_users as mine")
              .select("mine.instance_id")
              .whereRef("mine.instance_id", "=", "i.id")
              .where("mine.user_id", "=", o.userId),
          ),
        ),
      );
    }
    if (o.kind === "group") {
      q = q.where(({ exists, selectFrom }) =>
        exists(
          selectFrom("instance_groups as g")
            .select("g.instance_id")
            .whereRef("g.instance_id", "=", "i.id")
            .where("g.group_id", "in", o.groupIds!),
        ),
      );
      // "Nobody holds it" as NOT EXISTS, not a count compared to 0: an anti-join.
      if (o.exclusive)
        q = q.where(sql<boolean>`NOT EXISTS (SELECT 1 FROM instance_users cu WHERE cu.instance_id = i.id)`);
    } else if (o.kind === "shared") {
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
    return (
      q
        // Not yet ready after every ready one and every one building.
        .$if(!!o.waitReady, (sq) => sq.orderBy(sql`(i.status = 'ACTIVE' AND i.ready_at > now())`))
        // One status: the index's own order (pool, status, created_at, id) serves the sort.
        .$if(o.statuses.length > 1, (sq) =>
          sq.orderBy(sql`array_position(${sql.val(o.statuses)}::text[], i.status)`),
        )
        .$if(!o.exclusive && o.kind !== "free", (sq) => sq.orderBy(users))
        .orderBy("i.created_at")
        .orderBy("i.id")
        .limit(1)
        .forUpdate("i")
        .skipLocked()
        .executeTakeFirst()
    );
  }

  /**
   * Re-reads the holders with a fresh snapshot, now that the row lock is ours, and when the
   * instance is still claimable makes the user its holder and records it in the history: one
   * statement (its CTEs share the snapshot taken after the lock). Answers whether it did.
   */
  private async takeIfClaimable(trx: Kysely<Database>, o: Claim, instanceId: string): Promise<boolean> {
    let claimable: RawBuilder<unknown>;
    if (o.kind === "free") claimable = sql`users = 0 AND groups = 0`;
    else if (o.exclusive) claimable = sql`users = 0`;
    else
      claimable = sql`${o.kind === "shared" ? sql`users > 0` : sql`true`} AND ${
        o.maxUsers == null ? sql`true` : sql`users < ${o.maxUsers}`
      }`;
    const { rows } = await sql<{ taken: number }>`
      WITH counts AS (
        SELECT (SELECT count(*) FROM instance_users WHERE instance_id = ${instanceId}) AS users,
          (SELECT count(*) FROM instance_users WHERE instance_id = ${instanceId} AND exclusive) AS exclusive_users,
          (SELECT count(*) FROM instance_groups WHERE instance_id = ${instanceId}) AS groups
      ), taken AS (
        INSERT INTO instance_users (instance_id, user_id, exclusive, assigned_by)
        SELECT ${instanceId}, ${o.userId}, ${o.exclusive}::boolean, ${o.actor}::text FROM counts
        WHERE exclusive_users = 0 AND ${claimable}
        RETURNING instance_id
      ), recorded AS (
        INSERT INTO assignment_history (instance_id, subject_type, subject_id, action, actor, reason)
        SELECT instance_id, 'user', ${o.userId}, 'assign', ${o.actor}::text, ${o.reason ?? null}::text FROM taken
      )
      SELECT count(*)::int AS taken FROM taken`.execute(trx);
    return Number(rows[0]?.taken) === 1;
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
      /** The image it is built from (the pool's). */
      imageId?: string | null;
    },
    userId: string,
    exclusive: boolean,
    actor: string,
    reason: string,
  ): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      // Under the user's claim lock: a claim or a build turn of another request of the user
      // reads "held?" and then "building?" as two statements, and this transaction (which
      // makes the first true and the second false) must not land between them.
      await this.lockUser(trx, instance.poolId, userId);
      await trx
        .insertInto("instances")
        .values({
          id: instance.id,
          pool_id: instance.poolId,
          name: instance.name,
          description: instance.description ?? null,
          status: instance.status,
          reservation_id: instance.reservationId,
          image_id: instance.imageId ?? null,
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
      await this.record(trx, instance.id, "user", [userId], "assign", { actor, reason });
      // The user's build turn ends with its instance recorded (takeBuildTurn).
      await trx
        .deleteFrom("user_builds")
        .where("pool_id", "=", instance.poolId)
        .where("user_id", "=", userId)
        .execute();
    });
  }

  /**
   * The user's turn to have an instance built in the pool, under the claim lock: "held" when
   * the user holds one already (look again), "wait" while another live request of the user's
   * has the turn (its instance will be the user's), else "ours" (recorded, until insertHeld
   * records the instance or endBuildTurn gives the turn up). A turn whose request is no longer
   * pending or in progress, or taken more than `staleSeconds` ago, is taken over.
   */
  async takeBuildTurn(
    poolId: string,
    userId: string,
    requestId: string,
    staleSeconds: number,
  ): Promise<"ours" | "held" | "wait"> {
    return this.db.transaction().execute(async (trx) => {
      await this.lockUser(trx, poolId, userId);
      if (await this.heldIn(trx, poolId, userId)) return "held";
      const { rows } = await sql<{
        yes: boolean;
      }>`SELECT ${buildingFor(poolId, userId, requestId)} AS yes`.execute(trx);
      if (rows[0]?.yes) return "wait";
      const expires = sql<Date>`now() + make_interval(secs => ${staleSeconds})`;
      await trx
        .insertInto("user_builds")
        .values({ pool_id: poolId, user_id: userId, request_id: requestId, expires_at: expires })
        .onConflict((oc) =>
          oc
            .columns(["pool_id", "user_id"])
            .doUpdateSet({ request_id: requestId, started_at: sql`now()`, expires_at: expires }),
        )
        .execute();
      return "ours";
    });
  }

  /** Gives the user's build turn up (the build failed): another request of theirs may build. */
  async endBuildTurn(poolId: string, userId: string, requestId: string): Promise<void> {
    await this.db
      .deleteFrom("user_builds")
      .where("pool_id", "=", poolId)
      .where("user_id", "=", userId)
      .where("request_id", "=", requestId)
      .execute();
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
      await this.record(trx, instanceId, "user", [userId], "unassign", { actor, reason });
    });
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

  /**
   * A roll-out's replacement (core/rollout.ts): the users and groups of `fromId` become those of
   * `toId` and `fromId` leaves every list (marked deleted), in one transaction, history kept.
   * Refused (false) when `fromId` is gone, has an open session or an unfinished broker request:
   * its holder is using it or about to.
   */
  async moveAll(fromId: string, toId: string, by: ChangeBy): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const from = await trx
        .selectFrom("instances")
        .select("id")
        .where("id", "=", fromId)
        .where("deleted_at", "is", null)
        .forUpdate()
        .executeTakeFirst();
      if (!from) return false;
      const to = await trx
        .selectFrom("instances")
        .select("id")
        .where("id", "=", toId)
        .where("deleted_at", "is", null)
        .forUpdate()
        .executeTakeFirst();
      if (!to) return false;
      const busy = await trx
        .selectNoFrom((eb) => [
          eb
            .or([
              eb.exists(
                eb
                  .selectFrom("sessions")
                  .select("id")
                  .where("instance_id", "=", fromId)
                  .where("closed_at", "is", null),
              ),
              eb.exists(
                eb
                  .selectFrom("requests")
                  .select("id")
                  .where("instance_id", "=", fromId)
                  .where("completed_at", "is", null),
              ),
              // A request of one of its users under way (not yet saying which instance it took)
              // may be about to take it.
              eb.exists(
                eb
                  .selectFrom("requests as q")
                  .innerJoin("instances as qi", "qi.pool_id", "q.project_id")
                  .innerJoin("instance_users as qu", (j) =>
                    j.onRef("qu.instance_id", "=", "qi.id").onRef("qu.user_id", "=", "q.user_id"),
                  )
                  .select("q.id")
                  .where("qi.id", "=", fromId)
                  .where("q.completed_at", "is", null),
              ),
            ])
            .as("busy"),
        ])
        .executeTakeFirstOrThrow();
      if (busy.busy) return false;
      const users = await trx
        .deleteFrom("instance_users")
        .where("instance_id", "=", fromId)
        .returning(["user_id", "exclusive"])
        .execute();
      const groups = await trx
        .deleteFrom("instance_groups")
        .where("instance_id", "=", fromId)
        .returning("group_id")
        .execute();
      const userIds = users.map((u) => u.user_id);
      const groupIds = groups.map((g) => g.group_id);
      await this.record(trx, fromId, "user", userIds, "unassign", by);
      await this.record(trx, fromId, "group", groupIds, "unassign", by);
      if (users.length > 0)
        await trx
          .insertInto("instance_users")
          .values(
            users.map((u) => ({
              instance_id: toId,
              user_id: u.user_id,
              exclusive: u.exclusive,
              assigned_by: by.actor,
            })),
          )
          .onConflict((oc) => oc.columns(["instance_id", "user_id"]).doNothing())
          .execute();
      if (groups.length > 0)
        await trx
          .insertInto("instance_groups")
          .values(groupIds.map((group_id) => ({ instance_id: toId, group_id, assigned_by: by.actor })))
          .onConflict((oc) => oc.columns(["instance_id", "group_id"]).doNothing())
          .execute();
      await this.record(trx, toId, "user", userIds, "assign", by);
      await this.record(trx, toId, "group", groupIds, "assign", by);
      await trx
        .updateTable("instances")
        .set({ deleted_at: sql`now()`, status: "DELETED", updated_at: sql`now()` })
        .where("id", "=", fromId)
        .execute();
      return true;
    });
  }

  /**
   * A roll-out's removal of a free instance: marked deleted only if it still has no user and
   * no group (false otherwise), under its row lock, so that no claim or assignment can take it
   * meanwhile.
   */
  async retireFree(instanceId: string): Promise<boolean> {
    return this.db.transaction().execute(async (trx) => {
      const row = await trx
        .selectFrom("instances")
        .select("id")
        .where("id", "=", instanceId)
        .where("deleted_at", "is", null)
        .forUpdate()
        .executeTakeFirst();
      if (!row) return false;
      const held = await this.usersOf(instanceId, trx);
      const groups = await this.groupsOf(instanceId, trx);
      if (held.length > 0 || groups.length > 0) return false;
      await trx
        .updateTable("instances")
        .set({ deleted_at: sql`now()`, status: "DELETED", updated_at: sql`now()` })
        .where("id", "=", instanceId)
        .execute();
      return true;
    });
  }
}
