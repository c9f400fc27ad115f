// Task rows and periodic-job rows. The row is the truth about a task; pg-boss only delivers
// "look at task X" wake-ups. Every state change is a conditional UPDATE, so a row is run by
// one holder at a time and a late or lost holder can never overwrite a newer outcome.
import { type ColumnType, type Generated, type Kysely, type Selectable, sql, type Transaction } from "kysely";
import { isTaskId } from "../shared/tasks.ts";
import { keysetAfter } from "./filters.ts";
import type { Database, TaskStatus } from "./schema.ts";

type NullableTimestamp = ColumnType<Date | null, Date | string | null | undefined, Date | string | null>;

/** Columns migration 002 adds to `tasks` (kept here until schema.ts lists them). */
export interface TaskLeaseColumns {
  attempt: Generated<number>;
  worker: string | null;
  lease_until: NullableTimestamp;
  run_after: NullableTimestamp;
}

export interface PeriodicJobsTable {
  name: string;
  period_seconds: number;
  next_run_at: ColumnType<Date, Date | string | undefined, Date | string>;
  running_until: NullableTimestamp;
  run_id: string | null;
  last_worker: string | null;
  last_started_at: NullableTimestamp;
  last_finished_at: NullableTimestamp;
  last_error: string | null;
  /** The end of the last run that did not throw (migration 100). */
  last_succeeded_at: NullableTimestamp;
  /** Runs that threw since the last one that did not (migration 100). */
  failures: Generated<number>;
}

/** A periodic job as GET /v1/jobs shows it. */
export interface PeriodicJobRow {
  name: string;
  period_seconds: number;
  next_run_at: Date;
  running_until: Date | null;
  last_worker: string | null;
  last_started_at: Date | null;
  last_finished_at: Date | null;
  last_succeeded_at: Date | null;
  last_error: string | null;
  failures: number;
}

export type TaskDatabase = Database & { tasks: TaskLeaseColumns; periodic_jobs: PeriodicJobsTable };
export type TaskDb = Kysely<TaskDatabase> | Transaction<TaskDatabase>;

export interface TaskRow {
  id: string;
  name: string;
  status: TaskStatus;
  args: Record<string, unknown>;
  result: string | null;
  traceback: string | null;
  retries: number;
  attempt: number;
  worker: string | null;
  lease_until: Date | null;
  run_after: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

const seconds = (n: number) => sql<Date>`now() + ${n} * interval '1 second'`;

/** Who holds a claim: the runner and its attempt number. */
export interface Holder {
  worker: string;
  attempt: number;
}

export class TaskRepository {
  constructor(private readonly db: Kysely<TaskDatabase>) {}

  static of(db: Kysely<Database>): TaskRepository {
    return new TaskRepository(db.withTables<{ tasks: TaskLeaseColumns; periodic_jobs: PeriodicJobsTable }>());
  }

  get kysely(): Kysely<TaskDatabase> {
    return this.db;
  }

  async insert(
    trx: TaskDb,
    task: { id: string; name: string; args: Record<string, unknown> },
  ): Promise<void> {
    await trx
      .insertInto("tasks")
      .values({ id: task.id, name: task.name, args: JSON.stringify(task.args), status: "PENDING" })
      .execute();
  }

  /** Inserts a task already claimed by `worker`: the warm path runs it right away. */
  async insertClaimed(
    trx: TaskDb,
    task: { id: string; name: string; args: Record<string, unknown> },
    worker: string,
    leaseSeconds: number,
  ): Promise<TaskRow> {
    return (await trx
      .insertInto("tasks")
      .values({
        id: task.id,
        name: task.name,
        args: JSON.stringify(task.args),
        status: "STARTED",
        attempt: 1,
        worker,
        lease_until: seconds(leaseSeconds),
        started_at: sql`now()`,
      })
      .returningAll()
      .executeTakeFirstOrThrow()) as TaskRow;
  }

  /**
   * Claims a task that is due (PENDING, RETRY past its delay) or whose holder's lease
   * expired. Row locking makes concurrent claimers see the winner's update: one wins.
   */
  async claim(trx: TaskDb, id: string, worker: string, leaseSeconds: number): Promise<TaskRow | undefined> {
    if (!isTaskId(id)) return undefined;
    return (await trx
      .updateTable("tasks")
      .set({
        status: "STARTED",
        attempt: sql`attempt + 1`,
        worker,
        lease_until: seconds(leaseSeconds),
        run_after: null,
        started_at: sql`now()`,
      })
      .where("id", "=", id)
      .where((eb) =>
        eb.or([
          eb.and([
            eb("status", "in", ["PENDING", "RETRY"]),
            eb.or([eb("run_after", "is", null), eb("run_after", "<=", sql<Date>`now()`)]),
          ]),
          eb.and([eb("status", "=", "STARTED"), eb("lease_until", "<", sql<Date>`now()`)]),
        ]),
      )
      .returningAll()
      .executeTakeFirst()) as TaskRow | undefined;
  }

  /** Extends the holder's lease; false when the holder lost the task (revoked or taken over). */
  async renewLease(id: string, holder: Holder, leaseSeconds: number): Promise<boolean> {
    const r = await this.db
      .updateTable("tasks")
      .set({ lease_until: seconds(leaseSeconds) })
      .where("id", "=", id)
      .where("status", "=", "STARTED")
      .where("worker", "=", holder.worker)
      .where("attempt", "=", holder.attempt)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /** Ends the holder's lease now, so that the task's recovery job runs it again. */
  async release(id: string, holder: Holder): Promise<void> {
    await this.db
      .updateTable("tasks")
      .set({ lease_until: sql`now()` })
      .where("id", "=", id)
      .where("status", "=", "STARTED")
      .where("worker", "=", holder.worker)
      .where("attempt", "=", holder.attempt)
      .execute();
  }

  /** Records the final outcome, only if `holder` still holds the task. */
  async finish(
    id: string,
    holder: Holder,
    outcome: { status: "SUCCESS" | "FAILURE"; result: string | null; traceback: string | null },
  ): Promise<boolean> {
    const r = await this.db
      .updateTable("tasks")
      .set({ ...outcome, lease_until: null, finished_at: sql`now()` })
      .where("id", "=", id)
      .where("status", "=", "STARTED")
      .where("worker", "=", holder.worker)
      .where("attempt", "=", holder.attempt)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /** Puts a failed attempt back as RETRY, due after `delaySeconds`. */
  async retry(
    trx: TaskDb,
    id: string,
    holder: Holder,
    traceback: string,
    delaySeconds: number,
  ): Promise<boolean> {
    const r = await trx
      .updateTable("tasks")
      .set({
        status: "RETRY",
        retries: sql`retries + 1`,
        traceback,
        lease_until: null,
        worker: null,
        run_after: seconds(delaySeconds),
      })
      .where("id", "=", id)
      .where("status", "=", "STARTED")
      .where("worker", "=", holder.worker)
      .where("attempt", "=", holder.attempt)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /** REVOKED unless already finished; true when this call revoked it. */
  async revoke(id: string): Promise<boolean> {
    if (!isTaskId(id)) return false;
    const r = await this.db
      .updateTable("tasks")
      .set({ status: "REVOKED", lease_until: null, finished_at: sql`now()` })
      .where("id", "=", id)
      .where("status", "in", ["PENDING", "RETRY", "STARTED"])
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async get(id: string): Promise<TaskRow | undefined> {
    if (!isTaskId(id)) return undefined;
    return (await this.db.selectFrom("tasks").selectAll().where("id", "=", id).executeTakeFirst()) as
      | TaskRow
      | undefined;
  }

  /** Newest first. */
  /** Newest first; after the task `marker` (by keyset on created_at, id) when given. */
  async list(limit: number, marker?: string): Promise<TaskRow[]> {
    let q = this.db.selectFrom("tasks").selectAll();
    if (marker !== undefined)
      q = q.where(() => keysetAfter("tasks", "tasks", ["created_at", "id"], "id", marker, "desc"));
    return (await q.orderBy("created_at", "desc").orderBy("id", "desc").limit(limit).execute()) as TaskRow[];
  }
}

export interface PeriodicClaim {
  name: string;
  run_id: string;
}

export class PeriodicJobRepository {
  private readonly db: Kysely<TaskDatabase>;

  constructor(db: Kysely<Database>) {
    this.db = db.withTables<{ tasks: TaskLeaseColumns; periodic_jobs: PeriodicJobsTable }>();
  }

  /** Creates the job due now, or updates its period keeping its schedule (never later than one new period). */
  async upsert(name: string, periodSeconds: number): Promise<void> {
    await this.db
      .insertInto("periodic_jobs")
      .values({ name, period_seconds: periodSeconds })
      .onConflict((oc) =>
        oc.column("name").doUpdateSet({
          period_seconds: periodSeconds,
          next_run_at: sql`LEAST(periodic_jobs.next_run_at, ${seconds(periodSeconds)})`,
        }),
      )
      .execute();
  }

  async remove(name: string): Promise<void> {
    await this.db.deleteFrom("periodic_jobs").where("name", "=", name).execute();
  }

  /**
   * Claims up to `limit` of `names` that are due and not running anywhere. The claim moves
   * next_run_at one period ahead, so another process that looks at the same row afterwards
   * finds it not due: each period is claimed once. SKIP LOCKED spreads due jobs across
   * processes instead of making them queue behind each other's row locks.
   */
  async claimDue(
    names: string[],
    worker: string,
    leaseSeconds: number,
    limit: number,
  ): Promise<PeriodicClaim[]> {
    if (names.length === 0) return [];
    const { rows } = await sql<PeriodicClaim>`
      UPDATE periodic_jobs p
         SET next_run_at = now() + p.period_seconds * interval '1 second',
             running_until = ${seconds(leaseSeconds)},
             run_id = gen_random_uuid(),
             last_worker = ${worker},
             last_started_at = now()
       WHERE p.name IN (
               SELECT name FROM periodic_jobs
                WHERE name = ANY(${names}::text[])
                  AND next_run_at <= now()
                  AND (running_until IS NULL OR running_until <= now())
                ORDER BY next_run_at
                LIMIT ${limit}
                  FOR UPDATE SKIP LOCKED)
         AND p.next_run_at <= now()
         AND (p.running_until IS NULL OR p.running_until <= now())
      RETURNING p.name, p.run_id`.execute(this.db);
    return rows;
  }

  async renew(claim: PeriodicClaim, leaseSeconds: number): Promise<boolean> {
    const r = await this.db
      .updateTable("periodic_jobs")
      .set({ running_until: seconds(leaseSeconds) })
      .where("name", "=", claim.name)
      .where("run_id", "=", claim.run_id)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async finish(claim: PeriodicClaim, error: string | null): Promise<void> {
    await this.db
      .updateTable("periodic_jobs")
      .set({
        running_until: null,
        last_finished_at: sql`now()`,
        last_error: error,
        ...(error === null
          ? { last_succeeded_at: sql`now()`, failures: 0 }
          : { failures: sql`failures + 1` }),
      })
      .where("name", "=", claim.name)
      .where("run_id", "=", claim.run_id)
      .execute();
  }

  /** Every job's schedule and its last runs' outcome, by name. */
  async list(): Promise<PeriodicJobRow[]> {
    return (await this.db
      .selectFrom("periodic_jobs")
      .select([
        "name",
        "period_seconds",
        "next_run_at",
        "running_until",
        "last_worker",
        "last_started_at",
        "last_finished_at",
        "last_succeeded_at",
        "last_error",
        "failures",
      ])
      .orderBy("name")
      .execute()) as PeriodicJobRow[];
  }

  /** The runs whose lease still holds, with the worker that holds each. */
  async heldRuns(): Promise<(PeriodicClaim & { worker: string })[]> {
    const { rows } = await sql<PeriodicClaim & { worker: string }>`
      SELECT name, run_id, last_worker AS worker FROM periodic_jobs
       WHERE running_until > now() AND run_id IS NOT NULL AND last_worker IS NOT NULL`.execute(this.db);
    return rows;
  }

  /** Ends the lease of that run (its process is gone): the job may be claimed at once. */
  async abandon(claim: PeriodicClaim): Promise<boolean> {
    const r = await this.db
      .updateTable("periodic_jobs")
      .set({ running_until: null })
      .where("name", "=", claim.name)
      .where("run_id", "=", claim.run_id)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  /** Makes the job due now; false when no process ever registered it. */
  async trigger(name: string): Promise<boolean> {
    const r = await this.db
      .updateTable("periodic_jobs")
      .set({ next_run_at: sql`LEAST(next_run_at, now())` })
      .where("name", "=", name)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async get(name: string): Promise<Selectable<PeriodicJobsTable> | undefined> {
    return await this.db.selectFrom("periodic_jobs").selectAll().where("name", "=", name).executeTakeFirst();
  }
}
