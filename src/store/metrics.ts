// The numbers /metrics reads at scrape time, in a few queries whatever the number of pools:
// free instances vs target per pool, builds in flight, open sessions, tasks by state, drain,
// roll-outs, and the periodic jobs' last success and failures in a row.
import { type Kysely, sql } from "kysely";
import type { MetricsSnapshot } from "../shared/types.ts";
import { freeInstance, type ReserveRepository } from "./reserve.ts";
import type { Database } from "./schema.ts";

export class MetricsRepository {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly reserve: Pick<ReserveRepository, "buildsInFlight">,
  ) {}

  async snapshot(): Promise<MetricsSnapshot> {
    const [pools, builds, sessions, tasks, closedByPolicy, drain, rollouts, jobs] = await Promise.all([
      sql<{
        id: string;
        name: string | null;
        target: number;
        free: string;
        building: string;
        backoff: boolean;
        state: string;
        schedule: unknown;
        in_use: string;
      }>`
        SELECT p.id, p.name, p.min_reserve_vm AS target, p.reserve_state = 'backoff' AS backoff,
               p.reserve_state AS state, p.reserve_schedule AS schedule, f.free, f.building, h.in_use
          FROM pools p
          CROSS JOIN LATERAL (
            SELECT count(*) AS free, count(*) FILTER (WHERE i.status = 'BUILD') AS building
              FROM instances i WHERE i.pool_id = p.id AND ${freeInstance(["BUILD", "ACTIVE"])}) f
          CROSS JOIN LATERAL (
            SELECT count(*) AS in_use FROM instances i
             WHERE i.pool_id = p.id AND i.deleted_at IS NULL
               AND (EXISTS (SELECT 1 FROM instance_users u WHERE u.instance_id = i.id)
                 OR EXISTS (SELECT 1 FROM instance_groups g WHERE g.instance_id = i.id))) h`.execute(this.db),
      this.reserve.buildsInFlight(),
      sql<{ n: string }>`SELECT count(*) AS n FROM sessions WHERE closed_at IS NULL`.execute(this.db),
      sql<{ status: string; n: string }>`
        SELECT status, count(*) AS n FROM tasks WHERE status IN ('PENDING', 'STARTED')
         GROUP BY status`.execute(this.db),
      sql<{ pool: string; reason: string; n: string }>`
        SELECT project_id AS pool, closed_reason AS reason, count(*) AS n FROM sessions
         WHERE closed_reason IS NOT NULL AND project_id IS NOT NULL
         GROUP BY project_id, closed_reason`.execute(this.db),
      sql<{ id: string; draining: boolean; n: string }>`
        SELECT p.id, p.draining,
               (SELECT count(*) FROM instances i
                 WHERE i.pool_id = p.id AND i.deleted_at IS NULL AND i.draining) AS n
          FROM pools p`.execute(this.db),
      sql<{ id: string; state: string; old: string; new: string }>`
        SELECT r.pool_id AS id, r.state,
               count(i.id) FILTER (WHERE i.image_id IS NOT NULL AND i.image_id <> r.to_image_id) AS old,
               count(i.id) FILTER (WHERE i.image_id IS NULL OR i.image_id = r.to_image_id) AS new
          FROM rollouts r
          LEFT JOIN instances i ON i.pool_id = r.pool_id AND i.deleted_at IS NULL
         WHERE r.state IN ('running', 'paused')
         GROUP BY r.pool_id, r.state`.execute(this.db),
      sql<{ name: string; succeeded: number | null; failures: number }>`
        SELECT name, extract(epoch FROM last_succeeded_at)::float8 AS succeeded, failures
          FROM periodic_jobs`.execute(this.db),
    ]);
    return {
      pools: pools.rows.map((p) => ({
        id: p.id,
        name: p.name,
        target: Number(p.target),
        free: Number(p.free),
        backoff: p.backoff,
        building: Number(p.building),
        inUse: Number(p.in_use),
        state: p.state,
        schedule: p.schedule,
      })),
      buildsInFlight: builds,
      sessionsOpen: Number(sessions.rows[0].n),
      tasks: Object.fromEntries(tasks.rows.map((t) => [t.status, Number(t.n)])),
      closedByPolicy: closedByPolicy.rows.map((r) => ({
        pool: r.pool,
        reason: r.reason,
        count: Number(r.n),
      })),
      drain: drain.rows.map((d) => ({ id: d.id, draining: d.draining, drainingInstances: Number(d.n) })),
      rollouts: rollouts.rows.map((r) => ({
        id: r.id,
        state: r.state,
        old: Number(r.old),
        new: Number(r.new),
      })),
      jobs: jobs.rows.map((j) => ({ name: j.name, lastSucceeded: j.succeeded, failures: j.failures })),
    };
  }
}
