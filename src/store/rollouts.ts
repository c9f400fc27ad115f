// Golden-image roll-outs (core/rollout.ts): one row per roll-out with its state, its events
// and a task row of the same id (GET /v1/tasks/{id}) that carries its progress as `result`.
// API: begin(...) / active(poolId) / latest(poolIds) / running() / get(id)
//      setState(id, state, event) / event(id, event) / finish(id, state, progress)
//      progress(rollout) / oldInstances(rollout) / warnSessions(instanceIds, notice)
import { type Kysely, type RawBuilder, type Selectable, sql, type Transaction } from "kysely";
import type { Database, RolloutEvent, RolloutsTable } from "./schema.ts";

export type Rollout = Selectable<RolloutsTable>;
export const ROLLOUT_TASK = "rollout";
/** The states in which a roll-out still has work to do (one per pool at most). */
export const ACTIVE_STATES = ["running", "paused"] as const;

export interface RolloutProgress {
  /** Live instances built from another image than the roll-out's. */
  old: number;
  /** Live instances built from the roll-out's image. */
  new: number;
  /** Of the old ones: with a user or a group. */
  oldAssigned: number;
}

export interface OldInstance {
  id: string;
  status: string;
  assigned: boolean;
  /** An open session or an unfinished broker request uses it. */
  busy: boolean;
}

export interface BeginInput {
  id: string;
  poolId: string;
  toImageId: string;
  batchSize: number;
  deadline: Date | null;
  warnBeforeSeconds: number;
  actor: string | null;
  /** The pool's image before the change; default the pool's image when the roll-out begins. */
  fromImageId?: string;
  /** The state the roll-out ends in when another one takes its place. */
  endPrevious?: "superseded" | "rolled_back";
}

type Trx = Transaction<Database>;

const event = (kind: string, message: string): RolloutEvent => ({
  at: new Date().toISOString(),
  kind,
  message,
});

export class RolloutRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Begins a roll-out: the pool's image becomes `toImageId` and a roll-out row and its task
   * are written, in one transaction; a roll-out of the pool still in progress ends
   * (superseded or rolled back, its task REVOKED). Undefined when the pool does not exist.
   */
  async begin(input: BeginInput): Promise<Rollout | undefined> {
    return this.db.transaction().execute(async (trx) => {
      const pool = await trx
        .selectFrom("pools")
        .select(["id", "image_id"])
        .where("id", "=", input.poolId)
        .forUpdate()
        .executeTakeFirst();
      if (!pool) return undefined;
      const from = input.fromImageId ?? pool.image_id;
      const previous = await trx
        .selectFrom("rollouts")
        .select("id")
        .where("pool_id", "=", input.poolId)
        .where("state", "in", [...ACTIVE_STATES])
        .executeTakeFirst();
      if (previous) {
        const ended = input.endPrevious ?? "superseded";
        await this.end(
          trx,
          previous.id,
          ended,
          "REVOKED",
          event(ended, `followed by a roll-out to ${input.toImageId}`),
        );
      }
      await trx
        .updateTable("pools")
        .set({ image_id: input.toImageId, updated_at: sql`now()` })
        .where("id", "=", input.poolId)
        .execute();
      const row = await trx
        .insertInto("rollouts")
        .values({
          id: input.id,
          pool_id: input.poolId,
          from_image_id: from,
          to_image_id: input.toImageId,
          batch_size: input.batchSize,
          deadline: input.deadline,
          warn_before_seconds: input.warnBeforeSeconds,
          created_by: input.actor,
          events: JSON.stringify([event("started", `from image ${from} to image ${input.toImageId}`)]),
        })
        .returningAll()
        .executeTakeFirstOrThrow();
      await trx
        .insertInto("tasks")
        .values({
          id: input.id,
          name: ROLLOUT_TASK,
          status: "STARTED",
          args: JSON.stringify({
            project_id: input.poolId,
            from_image_id: from,
            to_image_id: input.toImageId,
          }),
          started_at: sql`now()`,
        })
        .execute();
      return row;
    });
  }

  async get(id: string): Promise<Rollout | undefined> {
    return this.db.selectFrom("rollouts").selectAll().where("id", "=", id).executeTakeFirst();
  }

  async active(poolId: string): Promise<Rollout | undefined> {
    return this.db
      .selectFrom("rollouts")
      .selectAll()
      .where("pool_id", "=", poolId)
      .where("state", "in", [...ACTIVE_STATES])
      .executeTakeFirst();
  }

  /** The newest roll-out of each pool named (absent: none ever). */
  async latest(poolIds: string[]): Promise<Map<string, Rollout>> {
    if (poolIds.length === 0) return new Map();
    const rows = await this.db
      .selectFrom("rollouts")
      .selectAll()
      .distinctOn("pool_id")
      .where("pool_id", "in", poolIds)
      .orderBy("pool_id")
      .orderBy("created_at", "desc")
      .orderBy("id")
      .execute();
    return new Map(rows.map((r) => [r.pool_id, r]));
  }

  async running(): Promise<Rollout[]> {
    return this.db
      .selectFrom("rollouts")
      .selectAll()
      .where("state", "=", "running")
      .orderBy("created_at")
      .execute();
  }

  /** Pause or resume: only from the other of the two (false otherwise). */
  async setState(id: string, from: string, to: string, e: RolloutEvent): Promise<boolean> {
    const res = await this.db
      .updateTable("rollouts")
      .set({ state: to, events: sql`events || ${JSON.stringify([e])}::jsonb`, updated_at: sql`now()` })
      .where("id", "=", id)
      .where("state", "=", from)
      .executeTakeFirst();
    return Number(res.numUpdatedRows) > 0;
  }

  async event(
    id: string,
    e: RolloutEvent,
    patch: { replacedMore?: number; warnedAt?: Date } = {},
  ): Promise<void> {
    await this.db
      .updateTable("rollouts")
      .set({
        events: sql`events || ${JSON.stringify([e])}::jsonb`,
        updated_at: sql`now()`,
        ...(patch.replacedMore ? { replaced: sql`replaced + ${patch.replacedMore}` } : {}),
        ...(patch.warnedAt ? { warned_at: patch.warnedAt } : {}),
      })
      .where("id", "=", id)
      .execute();
  }

  /** The task's result: the progress so far, as JSON text. */
  async saveProgress(id: string, result: Record<string, unknown>): Promise<void> {
    await this.db
      .updateTable("tasks")
      .set({ result: JSON.stringify(result) })
      .where("id", "=", id)
      .where("status", "=", "STARTED")
      .execute();
  }

  /** Ends a roll-out still in progress (false when it had ended already). */
  async finish(
    id: string,
    state: string,
    taskStatus: "SUCCESS" | "REVOKED",
    e: RolloutEvent,
    result?: unknown,
  ) {
    return this.db.transaction().execute((trx) => this.end(trx, id, state, taskStatus, e, result));
  }

  private async end(
    trx: Trx,
    id: string,
    state: string,
    taskStatus: "SUCCESS" | "REVOKED",
    e: RolloutEvent,
    result?: unknown,
  ): Promise<boolean> {
    const res = await trx
      .updateTable("rollouts")
      .set({
        state,
        events: sql`events || ${JSON.stringify([e])}::jsonb`,
        updated_at: sql`now()`,
        finished_at: sql`now()`,
      })
      .where("id", "=", id)
      .where("state", "in", [...ACTIVE_STATES])
      .executeTakeFirst();
    if (Number(res.numUpdatedRows) === 0) return false;
    await trx
      .updateTable("tasks")
      .set({
        status: taskStatus,
        finished_at: sql`now()`,
        ...(result !== undefined ? { result: JSON.stringify(result) } : {}),
      })
      .where("id", "=", id)
      .execute();
    return true;
  }

  /** progress() of several roll-outs (of different pools) in one query. */
  async progressOf(
    rollouts: Pick<Rollout, "pool_id" | "to_image_id">[],
  ): Promise<Map<string, RolloutProgress>> {
    if (rollouts.length === 0) return new Map();
    const r = await sql<{ pool_id: string; old: string; new: string; old_assigned: string }>`
      SELECT x.pool_id,
             count(i.id) FILTER (WHERE ${isOld(sql.ref("x.to_image_id"))}) AS old,
             count(i.id) FILTER (WHERE i.id IS NOT NULL AND NOT ${isOld(sql.ref("x.to_image_id"))}) AS new,
             count(i.id) FILTER (WHERE ${isOld(sql.ref("x.to_image_id"))} AND ${assigned}) AS old_assigned
        FROM unnest(${rollouts.map((x) => x.pool_id)}::text[], ${rollouts.map((x) => x.to_image_id)}::text[])
             AS x(pool_id, to_image_id)
        LEFT JOIN instances i ON i.pool_id = x.pool_id AND i.deleted_at IS NULL
       GROUP BY x.pool_id`.execute(this.db);
    return new Map(
      r.rows.map((p) => [
        p.pool_id,
        { old: Number(p.old), new: Number(p.new), oldAssigned: Number(p.old_assigned) },
      ]),
    );
  }

  /** Old and new instances of the roll-out's pool (an instance of unknown image counts as new). */
  async progress(r: Pick<Rollout, "pool_id" | "to_image_id">): Promise<RolloutProgress> {
    const row = await sql<{ old: string; new: string; old_assigned: string }>`
      SELECT count(*) FILTER (WHERE ${isOld(r.to_image_id)}) AS old,
             count(*) FILTER (WHERE NOT ${isOld(r.to_image_id)}) AS new,
             count(*) FILTER (WHERE ${isOld(r.to_image_id)} AND ${assigned}) AS old_assigned
        FROM instances i
       WHERE i.pool_id = ${r.pool_id} AND i.deleted_at IS NULL`.execute(this.db);
    const p = row.rows[0];
    return { old: Number(p.old), new: Number(p.new), oldAssigned: Number(p.old_assigned) };
  }

  /** The pool's instances still built from another image: free ones first, then idle ones. */
  async oldInstances(r: Pick<Rollout, "pool_id" | "to_image_id">): Promise<OldInstance[]> {
    const rows = await sql<{ id: string; status: string; assigned: boolean; busy: boolean }>`
      SELECT i.id, i.status, ${assigned} AS assigned,
             (EXISTS (SELECT 1 FROM sessions s WHERE s.instance_id = i.id AND s.closed_at IS NULL)
              OR EXISTS (SELECT 1 FROM requests q WHERE q.instance_id = i.id AND q.completed_at IS NULL)) AS busy
        FROM instances i
       WHERE i.pool_id = ${r.pool_id} AND i.deleted_at IS NULL AND ${isOld(r.to_image_id)}
       ORDER BY 3, 4, i.created_at, i.id`.execute(this.db);
    return rows.rows;
  }

  /** New-image instances of the pool still building: the roll-out's builds in flight. */
  async newBuilding(r: Pick<Rollout, "pool_id" | "to_image_id">): Promise<number> {
    const row = await sql<{ n: string }>`
      SELECT count(*) AS n FROM instances i
       WHERE i.pool_id = ${r.pool_id} AND i.deleted_at IS NULL AND i.status = 'BUILD'
         AND NOT ${isOld(r.to_image_id)}`.execute(this.db);
    return Number(row.rows[0].n);
  }

  /** Open sessions on these instances. */
  async openSessions(instanceIds: string[]): Promise<{ id: string; instance_id: string }[]> {
    if (instanceIds.length === 0) return [];
    return this.db
      .selectFrom("sessions")
      .select(["id", "instance_id"])
      .where("instance_id", "in", instanceIds)
      .where("closed_at", "is", null)
      .execute();
  }

  /** Leaves a notice on these sessions (the roll-out's warning to their users). */
  async noticeSessions(sessionIds: string[], notice: string): Promise<void> {
    if (sessionIds.length === 0) return;
    await this.db.updateTable("sessions").set({ notice }).where("id", "in", sessionIds).execute();
  }
}

const isOld = (imageId: string | RawBuilder<unknown>) =>
  sql<boolean>`(i.image_id IS NOT NULL AND i.image_id <> ${imageId})`;
const assigned = sql<boolean>`(EXISTS (SELECT 1 FROM instance_users u WHERE u.instance_id = i.id)
  OR EXISTS (SELECT 1 FROM instance_groups g WHERE g.instance_id = i.id))`;
