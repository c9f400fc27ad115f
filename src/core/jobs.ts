// The background work as an operator sees it (GET /v1/jobs, `rs-server jobs list`, the
// dashboard's Tasks screen): each periodic job of the shared scheduler with its period, its
// next run, and how its last runs went. The state says what needs a look:
//   running  a process runs it now (its lease holds)
//   late     due for longer than two periods (at least a minute) and nobody took it: no
//            process with workers is running, or they are all stuck
//   failing  its last run threw (`failures` runs in a row; `last_error` says why)
//   ok       otherwise (a job never run yet but not late is ok: it is about to)
import type { PeriodicJobRow } from "../store/tasks.ts";

export type JobState = "running" | "late" | "failing" | "ok";

export interface JobStatus extends PeriodicJobRow {
  state: JobState;
}

export interface JobReads {
  list(): Promise<PeriodicJobRow[]>;
}

/** How long past its due time a job may wait for a worker before it is late. */
export const lateAfterMs = (periodSeconds: number) => Math.max(60, 2 * periodSeconds) * 1000;

export function jobState(job: PeriodicJobRow, now: Date): JobState {
  const t = now.getTime();
  if (job.running_until && job.running_until.getTime() > t) return "running";
  if (t - job.next_run_at.getTime() > lateAfterMs(job.period_seconds)) return "late";
  if (job.failures > 0) return "failing";
  return "ok";
}

export class JobService {
  constructor(
    private readonly reads: JobReads,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async list(): Promise<JobStatus[]> {
    const now = this.now();
    return (await this.reads.list()).map((job) => ({ ...job, state: jobState(job, now) }));
  }
}
