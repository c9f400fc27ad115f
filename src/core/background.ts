// The background work of a worker process: the reserve keeper, the reconciler, session
// housekeeping, session policies, the build watcher, planner statistics and history retention. This only builds them; the composition root
// (src/composition.ts) schedules each as a periodic job of the shared scheduler.
import type { AdminCore } from "./admin-core.ts";
import { BuildWatcher } from "./build-watch.ts";
import type { CoreDeps } from "./deps.ts";
import { Housekeeping } from "./housekeeping.ts";
import { metrics } from "./metrics.ts";
import { PlannerStatistics } from "./planner-stats.ts";
import { Readiness } from "./readiness.ts";
import { Reconciler } from "./reconciler.ts";
import { ReserveKeeper } from "./reserve.ts";
import { HistoryRetention } from "./retention.ts";
import type { RolloutService } from "./rollout.ts";
import { SessionPolicyJob } from "./session-policy.ts";
import { userResourcesOf } from "./user-resources.ts";

export const HOUSEKEEPING_JOB = "sessions.housekeeping";
/** Stale sessions are not urgent: a few minutes' delay costs nothing. */
export const HOUSEKEEPING_SECONDS = 300;

export interface Background {
  keeper: ReserveKeeper;
  /** The steps of golden-image roll-outs (core/rollout.ts). */
  rollouts: RolloutService;
  reconciler: Reconciler;
  housekeeping: Housekeeping;
  buildWatcher: BuildWatcher;
  /** Session policies: closes sessions past their pool's times, recycles non-persistent desktops. */
  sessionPolicy: SessionPolicyJob;
  /** ANALYZE of the hot tables between autovacuum's passes. */
  plannerStats: PlannerStatistics;
  /** Deletes finished tasks and requests past their retention. */
  retention: HistoryRetention;
}

export interface BackgroundOptions {
  /**
   * The clock of the keeper and the reconciler: tests move it past a timeout, or through a
   * simulated day of reserve schedules (test/background/reserve-schedule.test.ts).
   */
  now?: () => Date;
  /** See ReconcilerDeps.adoptAfterSeconds. */
  adoptAfterSeconds?: number;
}

export function createBackground(
  deps: CoreDeps,
  adminCore: AdminCore,
  options: BackgroundOptions = {},
): Background {
  const { config, repos, cloud, logger } = deps;
  const keeper = new ReserveKeeper({
    reserve: repos.reserve,
    pools: repos.pools,
    instances: adminCore.instances,
    nova: cloud.nova,
    metrics,
    logger,
    intervalSeconds: config.reserve.intervalSeconds,
    maxConcurrentBuilds: config.reserve.maxConcurrentBuilds,
    leadSeconds: config.reserve.leadSeconds,
    releasePerRun: config.reserve.releasePerRun,
    circuitFailures: config.reserve.circuitFailures,
    readiness: new Readiness(repos.reserve, config.reserve.readiness, logger),
    now: options.now,
  });
  const resources = userResourcesOf(deps);
  const reconciler = new Reconciler({
    repo: repos.reconcile,
    instances: adminCore.instances,
    instanceRecords: repos.instances,
    assignments: adminCore.assignments,
    resources,
    nova: cloud.nova,
    neutron: cloud.neutron,
    metrics,
    logger,
    buildTimeoutSeconds: config.allocation.buildTimeoutSeconds,
    pendingRequestSeconds: config.reconcile.pendingRequestSeconds,
    onStuckBuilds: (poolId, count, cause) => keeper.buildsFailed(poolId, count, cause),
    onReplaced: async () => deps.requestReserve(),
    now: options.now,
    adoptAfterSeconds: options.adoptAfterSeconds,
  });
  const housekeeping = new Housekeeping({
    repo: repos.reconcile,
    counters: repos.sessions,
    resources,
    metrics,
    logger,
    maxAgeHours: config.sessions.maxAgeHours,
  });
  const buildWatcher = new BuildWatcher({
    building: () => repos.reserve.buildsInFlight(),
    instances: adminCore.instances,
    nova: cloud.nova,
    logger,
  });
  const sessionPolicy = new SessionPolicyJob({
    repo: repos.sessionPolicy,
    resources,
    instances: adminCore.instances,
    nova: cloud.nova,
    neutron: cloud.neutron,
    requestReserve: () => deps.requestReserve(),
    logger,
    pollIntervalMs: config.allocation.pollIntervalMs,
    detachTimeoutMs: config.allocation.buildTimeoutSeconds * 1000,
    now: options.now,
  });
  // The same service as the admin core's, on the background's clock (tests move it).
  const rollouts = options.now ? adminCore.rolloutsWith(options.now) : adminCore.rollouts;
  const plannerStats = new PlannerStatistics(repos.plannerStats, logger);
  const retention = new HistoryRetention(repos.retention, config.retention, logger);
  return { keeper, reconciler, housekeeping, buildWatcher, sessionPolicy, rollouts, plannerStats, retention };
}
