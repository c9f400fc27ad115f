// What happened over time, for the dashboard's charts and task list: broker allocations and
// sessions counted per time bucket, and the recent tasks with the allocation steps that show
// a running one's progress. Read-only queries over the broker's requests, sessions and tasks.
import { type Kysely, sql } from "kysely";
import type { RequestStep } from "../shared/types.ts";
import type { Database } from "./schema.ts";

export interface ActivityBucket {
  at: Date;
  allocations: number;
  failures: number;
  sessionsOpened: number;
}

export interface TaskActivity {
  id: string;
  name: string;
  status: string;
  args: Record<string, unknown>;
  traceback: string | null;
  retries: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  /** The pool the task works on: its pool_id argument, or its broker request's project. */
  poolId: string | null;
  /** For a broker allocation: the request's status and its steps so far. */
  request: { id: string; status: string; errorCode: number | null; steps: RequestStep[] } | null;
}

export class ActivityRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /**
   * Counts per bucket of `stepSeconds` from `since` on: completed and failed broker requests
   * (by their completion time) and sessions opened. Buckets with nothing are left out.
   */
  async buckets(since: Date, stepSeconds: number, poolId?: string): Promise<ActivityBucket[]> {
    const bucket = (column: string) =>
      sql<Date>`to_timestamp(floor(extract(epoch from ${sql.ref(column)}) / ${stepSeconds}) * ${stepSeconds})`;
    let requests = this.db
      .selectFrom("requests")
      .select([
        bucket("completed_at").as("at"),
        sql<number>`count(*) filter (where status = 'completed')::int`.as("ok"),
        sql<number>`count(*) filter (where status = 'failed')::int`.as("failed"),
      ])
      .where("completed_at", ">=", since)
      .groupBy(sql`1`);
    let sessions = this.db
      .selectFrom("sessions")
      .select([bucket("created_at").as("at"), sql<number>`count(*)::int`.as("opened")])
      .where("created_at", ">=", since)
      .groupBy(sql`1`);
    if (poolId) {
      requests = requests.where("project_id", "=", poolId);
      sessions = sessions.where("project_id", "=", poolId);
    }
    const [done, opened] = await Promise.all([requests.execute(), sessions.execute()]);
    const byTime = new Map<number, ActivityBucket>();
    const at = (d: Date) => {
      const t = new Date(d).getTime();
      let b = byTime.get(t);
      if (!b) {
        b = { at: new Date(t), allocations: 0, failures: 0, sessionsOpened: 0 };
        byTime.set(t, b);
      }
      return b;
    };
    for (const r of done) {
      const b = at(r.at);
      b.allocations += r.ok;
      b.failures += r.failed;
    }
    for (const r of opened) at(r.at).sessionsOpened += r.opened;
    return [...byTime.values()].sort((a, b) => a.at.getTime() - b.at.getTime());
  }

  /** Sessions not closed, per instance, of every pool or of one. */
  async openSessions(poolId?: string): Promise<Map<string, number>> {
    let q = this.db
      .selectFrom("sessions")
      .select(["instance_id", sql<number>`count(*)::int`.as("n")])
      .where("closed_at", "is", null)
      .groupBy("instance_id");
    if (poolId) q = q.where("project_id", "=", poolId);
    return new Map((await q.execute()).map((r) => [r.instance_id, r.n]));
  }

  /** The most recent tasks, newest first, optionally only those of one pool. */
  async tasks(limit: number, poolId?: string): Promise<TaskActivity[]> {
    let q = this.db
      .selectFrom("tasks")
      .leftJoin("requests", "requests.task_id", "tasks.id")
      .select([
        "tasks.id",
        "tasks.name",
        "tasks.status",
        "tasks.args",
        "tasks.traceback",
        "tasks.retries",
        "tasks.created_at",
        "tasks.started_at",
        "tasks.finished_at",
        "requests.id as request_id",
        "requests.status as request_status",
        "requests.error_code",
        "requests.steps",
        sql<
          string | null
        >`coalesce(tasks.args->>'pool_id', tasks.args->>'project_id', requests.project_id)`.as("pool_id"),
      ])
      .orderBy("tasks.created_at", "desc")
      .orderBy("tasks.id")
      .limit(limit);
    if (poolId)
      q = q.where(
        sql<boolean>`coalesce(tasks.args->>'pool_id', tasks.args->>'project_id', requests.project_id) = ${poolId}`,
      );
    const rows = await q.execute();
    return rows.map((r) => ({
      id: r.id,
      name: r.name,
      status: r.status,
      args: (r.args ?? {}) as Record<string, unknown>,
      traceback: r.traceback,
      retries: r.retries,
      createdAt: r.created_at,
      startedAt: r.started_at,
      finishedAt: r.finished_at,
      poolId: r.pool_id,
      request: r.request_id
        ? {
            id: r.request_id,
            status: r.request_status ?? "pending",
            errorCode: r.error_code ?? null,
            steps: (r.steps ?? []) as RequestStep[],
          }
        : null,
    }));
  }
}
