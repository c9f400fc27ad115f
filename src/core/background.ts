// The background work of a worker process: the reserve keeper, the reconciler and session
// housekeeping, each a periodic job of the shared scheduler (once per period across every
// process that runs workers). runtime.ts calls startBackground when workers are enabled.
import { ReconcileRepository } from "../store/reconcile.ts";
import { ReserveRepository } from "../store/reserve.ts";
import type { AdminCore } from "./admin-core.ts";
import { BUILD_WATCH_JOB, BuildWatcher } from "./build-watch.ts";
import type { CoreDeps } from "./deps.ts";
import { Housekeeping } from "./housekeeping.ts";
import { metrics } from "./metrics.ts";
import { RECONCILE_JOB, Reconciler } from "./reconciler.ts";
import { RESERVE_JOB, ReserveKeeper, triggerReserve } from "./reserve.ts";
import { UserResources } from "./user-resources.ts";

export const HOUSEKEEPING_JOB = "sessions.housekeeping";
/** Stale sessions are not urgent: a few minutes' delay costs nothing. */
const HOUSEKEEPING_SECONDS = 300;

export interface Background {
  keeper: ReserveKeeper;
  reconciler: Reconciler;
  housekeeping: Housekeeping;
  buildWatcher: BuildWatcher;
  stop(): Promise<void>;
}

export interface BackgroundOptions {
  /** The clock of the keeper and the reconciler (tests move it past a timeout). */
  now?: () => Date;
  /** See ReconcilerDeps.adoptAfterSeconds. */
  adoptAfterSeconds?: number;
}

export function createBackground(
  deps: CoreDeps,
  adminCore: AdminCore,
  options: BackgroundOptions = {},
): Omit<Background, "stop"> {
  const { config, db, cloud, logger } = deps;
  const reserveRepo = new ReserveRepository(db);
  const keeper = new ReserveKeeper({
    reserve: reserveRepo,
    pools: adminCore.repos.pools,
    instances: adminCore.instances,
    nova: cloud.nova,
    metrics,
    logger,
    intervalSeconds: config.reserve.intervalSeconds,
    maxConcurrentBuilds: config.reserve.maxConcurrentBuilds,
    now: options.now,
  });
  const resources = UserResources.of(deps);
  const reconcileRepo = new ReconcileRepository(db);
  const reconciler = new Reconciler({
    repo: reconcileRepo,
    instances: adminCore.instances,
    instanceRecords: adminCore.repos.instances,
    assignments: adminCore.assignments,
    resources,
    nova: cloud.nova,
    metrics,
    logger,
    buildTimeoutSeconds: config.allocation.buildTimeoutSeconds,
    onStuckBuilds: (poolId, count, cause) => keeper.buildsFailed(poolId, count, cause),
    onReplaced: () => triggerReserve(deps.scheduler),
    now: options.now,
    adoptAfterSeconds: options.adoptAfterSeconds,
  });
  const housekeeping = new Housekeeping({
    repo: reconcileRepo,
    resources,
    metrics,
    logger,
    maxAgeHours: config.sessions.maxAgeHours,
  });
  const buildWatcher = new BuildWatcher({
    building: () => reserveRepo.buildsInFlight(),
    instances: adminCore.instances,
    nova: cloud.nova,
    logger,
  });
  return { keeper, reconciler, housekeeping, buildWatcher };
}

export function startBackground(deps: CoreDeps, adminCore: AdminCore): Background {
  const parts = createBackground(deps, adminCore);
  const { scheduler, config } = deps;
  scheduler.every(RESERVE_JOB, config.reserve.intervalSeconds, (ctx) => parts.keeper.run(ctx.signal));
  scheduler.every(RECONCILE_JOB, config.reconcile.intervalSeconds, async (ctx) => {
    await parts.reconciler.run(ctx.signal);
  });
  scheduler.every(BUILD_WATCH_JOB, config.reconcile.buildWatchSeconds, async () => {
    await parts.buildWatcher.run();
  });
  scheduler.every(HOUSEKEEPING_JOB, HOUSEKEEPING_SECONDS, async () => {
    await parts.housekeeping.run();
  });
  return {
    ...parts,
    // Nothing of its own to release: the scheduler's stop (runtime.ts) waits for the runs in
    // progress, and the jobs' rows stay, since other processes may still run them.
    async stop() {},
  };
}
