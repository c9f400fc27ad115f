// What the history retention job (core/retention.ts) deletes: finished tasks and finished
// broker requests older than their retention. Both tables get one row per allocation and were
// never emptied. A batch is one statement, at most `limit` rows of the oldest, read by the
// tables' created_at indexes (tasks_created, requests_created of migration 099), so a first run
// over years of rows never holds a long lock. API:
//   pruneTasks(days, limit)    → SUCCESS, FAILURE and REVOKED tasks created more than `days` ago
//   pruneRequests(days, limit) → completed and failed requests created more than `days` ago
// Each answers how many rows it deleted. Work still in progress is never deleted, however old:
// the reconciler fails a request left pending, and the engine fails a task whose runs were lost.
import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

export const FINISHED_TASK_STATUSES = ["SUCCESS", "FAILURE", "REVOKED"] as const;
export const FINISHED_REQUEST_STATUSES = ["completed", "failed"] as const;

export class RetentionRepository {
  constructor(private readonly db: Kysely<Database>) {}

  pruneTasks(days: number, limit: number): Promise<number> {
    return this.prune("tasks", FINISHED_TASK_STATUSES, days, limit);
  }

  pruneRequests(days: number, limit: number): Promise<number> {
    return this.prune("requests", FINISHED_REQUEST_STATUSES, days, limit);
  }

  /** One batch: the oldest finished rows past the retention, by the table's created_at index. */
  private async prune(
    table: "tasks" | "requests",
    finished: readonly string[],
    days: number,
    limit: number,
  ): Promise<number> {
    const { numAffectedRows } = await sql`
      DELETE FROM ${sql.table(table)} WHERE id IN (
        SELECT id FROM ${sql.table(table)}
         WHERE created_at < now() - make_interval(days => ${days})
           AND status IN (${sql.join([...finished])})
         ORDER BY created_at
         LIMIT ${limit})`.execute(this.db);
    return Number(numAffectedRows ?? 0);
  }
}
