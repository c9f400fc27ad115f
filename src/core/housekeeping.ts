// Session housekeeping: an open session older than sessions.maxAgeHours, or of an instance
// that is gone, is closed and its client-IP rules are removed in Neutron (they open the
// desktop's ports to one address; left behind, they keep that door open). It also folds the
// session counters of past days (one row per database connection, migration 097) into one.
import type { Logger } from "pino";
import type { ReconcileRepository } from "../store/reconcile.ts";
import type { SessionRepository } from "../store/sessions.ts";
import type { Metrics } from "./metrics.ts";
import type { UserResources } from "./user-resources.ts";

/** Sessions closed per pass; the rest wait for the next one. */
const BATCH = 500;

export interface HousekeepingDeps {
  repo: Pick<ReconcileRepository, "staleSessions">;
  counters: Pick<SessionRepository, "foldCountSlots">;
  resources: Pick<UserResources, "closeSession">;
  metrics: Metrics;
  logger: Logger;
  maxAgeHours: number;
}

export class Housekeeping {
  private readonly log: Logger;

  constructor(private readonly d: HousekeepingDeps) {
    this.log = d.logger.child({ component: "housekeeping" });
  }

  /** Answers how many sessions it closed. */
  async run(): Promise<number> {
    let closed = 0;
    for (const s of await this.d.repo.staleSessions(this.d.maxAgeHours, BATCH)) {
      if (await this.d.resources.closeSession(s.id)) {
        closed += 1;
        this.d.metrics.reconcilerAction(s.reason === "age" ? "session_expired" : "session_orphaned");
        this.log.info({ session: s.id, reason: s.reason }, "stale session closed");
      }
    }
    await this.d.counters.foldCountSlots();
    return closed;
  }
}
