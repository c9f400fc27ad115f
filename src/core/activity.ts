// What happened over time, for the dashboard's charts and task list: broker allocations and
// sessions counted per time bucket (every bucket present, empty ones with zeros) and the
// recent tasks with their allocation steps. The counting is the store's (src/store/activity.ts);
// choosing the window and filling the gaps is a rule of its own, here.
import type { ActivityBucket, TaskActivity } from "../store/activity.ts";
import { invalid } from "./errors.ts";

/** Bucket lengths to choose from: the smallest that gives at most MAX_BUCKETS buckets. */
const STEPS = [60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 86400];
const MAX_BUCKETS = 72;

export function stepFor(hours: number): number {
  return STEPS.find((s) => (hours * 3600) / s <= MAX_BUCKETS) ?? 86400;
}

/** The reads the activity needs (src/store/activity.ts's ActivityRepository). */
export interface ActivityReads {
  /** Counts per bucket from `since` on; buckets with nothing may be left out. */
  buckets(since: Date, stepSeconds: number, poolId?: string): Promise<ActivityBucket[]>;
  /** Sessions not closed, per instance. */
  openSessions(poolId?: string): Promise<Map<string, number>>;
  /** The most recent tasks, newest first. */
  tasks(limit: number, poolId?: string): Promise<TaskActivity[]>;
}

export interface ActivityWindow {
  /** Start of the first bucket. */
  since: Date;
  stepSeconds: number;
  /** Sessions open now, in total and per instance. */
  openSessions: number;
  openByInstance: Map<string, number>;
  /** From `since` to now, one per step, none missing. */
  buckets: ActivityBucket[];
}

export class ActivityService {
  constructor(
    private readonly reads: ActivityReads,
    private readonly now: () => number = Date.now,
  ) {}

  /** Counts over the last `hours` (1-720), of every pool or of one. */
  async window(hours: number, poolId?: string): Promise<ActivityWindow> {
    if (!Number.isInteger(hours) || hours < 1 || hours > 720)
      throw invalid("hours must be between 1 and 720.");
    const step = stepFor(hours);
    const now = this.now();
    const first = Math.floor((now - hours * 3600_000) / (step * 1000)) * step * 1000;
    const [found, open] = await Promise.all([
      this.reads.buckets(new Date(first), step, poolId),
      this.reads.openSessions(poolId),
    ]);
    const byTime = new Map(found.map((b) => [b.at.getTime(), b]));
    const buckets: ActivityBucket[] = [];
    for (let t = first; t <= now; t += step * 1000)
      buckets.push(byTime.get(t) ?? { at: new Date(t), allocations: 0, failures: 0, sessionsOpened: 0 });
    let total = 0;
    for (const n of open.values()) total += n;
    return { since: new Date(first), stepSeconds: step, openSessions: total, openByInstance: open, buckets };
  }

  /** The most recent tasks (1-200), newest first, of every pool or of one. */
  async recentTasks(limit: number, poolId?: string): Promise<TaskActivity[]> {
    if (!Number.isInteger(limit) || limit < 1 || limit > 200)
      throw invalid("limit must be between 1 and 200.");
    return this.reads.tasks(limit, poolId);
  }
}
