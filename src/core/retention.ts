// A periodic job of the worker processes: finished tasks and finished broker requests past
// their retention (`retention.tasksDays`, `retention.requestsDays`; 0 keeps them) are deleted,
// in batches of `retention.batch` rows, until none is left or the run's time is up (the next
// run goes on). Without it both tables grow by a row per allocation for ever: GET /v1/tasks
// and get-vm only ever need the recent ones. Sessions, the assignment history and the audit
// trail are the operator's records and are kept (docs/operations.md#data).
import type { Logger } from "pino";
import type { RetentionRepository } from "../store/retention.ts";

export const RETENTION_JOB = "history.retention";
export const RETENTION_SECONDS = 600;

export interface RetentionSettings {
  tasksDays: number;
  requestsDays: number;
  batch: number;
  /** How long one run may go on deleting before it leaves the rest to the next run. */
  budgetMs?: number;
}

export interface RetentionReport {
  tasks: number;
  requests: number;
}

export class HistoryRetention {
  private readonly log: Logger;

  constructor(
    private readonly repo: Pick<RetentionRepository, "pruneTasks" | "pruneRequests">,
    private readonly settings: RetentionSettings,
    logger: Logger,
  ) {
    this.log = logger.child({ component: "retention" });
  }

  async run(signal?: AbortSignal): Promise<RetentionReport> {
    const { tasksDays, requestsDays, batch, budgetMs = 30_000 } = this.settings;
    const deadline = Date.now() + budgetMs;
    const drain = async (days: number, prune: (days: number, limit: number) => Promise<number>) => {
      let total = 0;
      if (days <= 0) return total;
      for (;;) {
        const n = await prune(days, batch);
        total += n;
        if (n < batch || Date.now() >= deadline || signal?.aborted) return total;
      }
    };
    const report = {
      tasks: await drain(tasksDays, (d, l) => this.repo.pruneTasks(d, l)),
      requests: await drain(requestsDays, (d, l) => this.repo.pruneRequests(d, l)),
    };
    if (report.tasks || report.requests)
      this.log.info({ ...report, tasks_days: tasksDays, requests_days: requestsDays }, "old history deleted");
    return report;
  }
}
