// A periodic job of the worker processes: ANALYZE of the broker's hot tables when they changed
// enough since their last statistics (store/planner-stats.ts says why autovacuum's once a
// minute is not enough on a pool's first day). Cheap when nothing changed: one read of
// pg_stat_user_tables. A database role that may not ANALYZE (not the tables' owner) is told
// once in the log, and the job leaves it to autovacuum from then on.
import type { Logger } from "pino";
import type { PlannerStatsRepository } from "../store/planner-stats.ts";

export const PLANNER_STATS_JOB = "planner.statistics";
export const PLANNER_STATS_SECONDS = 10;

export class PlannerStatistics {
  private readonly log: Logger;
  private allowed = true;

  constructor(
    private readonly repo: Pick<PlannerStatsRepository, "stale" | "analyze">,
    logger: Logger,
  ) {
    this.log = logger.child({ component: "planner-stats" });
  }

  /** Answers the tables it analyzed. */
  async run(): Promise<string[]> {
    if (!this.allowed) return [];
    const done: string[] = [];
    for (const { table, allowed } of await this.repo.stale()) {
      if (!allowed) {
        this.allowed = false;
        this.log.warn(
          { table },
          "cannot ANALYZE the broker's tables (the database role does not own them): autovacuum keeps their statistics",
        );
        return done;
      }
      await this.repo.analyze(table);
      done.push(table);
    }
    if (done.length) this.log.debug({ tables: done }, "planner statistics refreshed");
    return done;
  }
}
