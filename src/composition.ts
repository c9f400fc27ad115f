// The composition root: the one place that builds rs-server's parts and says what runs
// when. Read it top to bottom: repositories on the database, the cloud's adapters, the core
// (a library with no side effects), then the task handlers and periodic jobs that run parts
// of the core. runtime.ts calls these in order; nothing else constructs a repository.
import type { Logger } from "pino";
import { KerberosScript } from "./adapters/kerberos-script.ts";
import { KeystoneDirectory } from "./cloud/keystone-directory.ts";
import { KeystoneSignIn } from "./cloud/keystone-signin.ts";
import type { Config } from "./config/schema.ts";
import type { AdminCore } from "./core/admin-core.ts";
import { ALLOCATION_TASK } from "./core/allocation/index.ts";
import { AUTO_ALLOCATE_TASK, type AutoAllocateArgs } from "./core/auto-allocate.ts";
import {
  type Background,
  createBackground,
  HOUSEKEEPING_JOB,
  HOUSEKEEPING_SECONDS,
} from "./core/background.ts";
import { BUILD_WATCH_JOB } from "./core/build-watch.ts";
import type { CoreCloud, CoreDeps, CoreRepositories } from "./core/deps.ts";
import { type Core, createCore } from "./core/index.ts";
import type { License } from "./core/license.ts";
import { PLANNER_STATS_JOB, PLANNER_STATS_SECONDS } from "./core/planner-stats.ts";
import { RECONCILE_JOB } from "./core/reconciler.ts";
import { RESERVE_JOB } from "./core/reserve.ts";
import { RETENTION_JOB, RETENTION_SECONDS } from "./core/retention.ts";
import { ROLLOUT_JOB } from "./core/rollout.ts";
import { SESSION_POLICY_JOB, SESSION_POLICY_SECONDS } from "./core/session-policy.ts";
import { ActivityRepository } from "./store/activity.ts";
import { AuditRepository } from "./store/audit.ts";
import { BuildFailureRepository } from "./store/build-failures.ts";
import { ConsoleTicketRepository } from "./store/console-tickets.ts";
import type { Store } from "./store/db.ts";
import { DrainRepository } from "./store/drain.ts";
import { FloatingIpRepository } from "./store/floating-ips.ts";
import { HolderRepository } from "./store/holders.ts";
import { InstanceRepository } from "./store/instances.ts";
import { MetricsRepository } from "./store/metrics.ts";
import { PlannerStatsRepository } from "./store/planner-stats.ts";
import { PoolRepository } from "./store/pools.ts";
import { RateLimitRepository } from "./store/rate-limits.ts";
import { ReconcileRepository } from "./store/reconcile.ts";
import { RequestsRepository } from "./store/requests.ts";
import { ReserveRepository } from "./store/reserve.ts";
import { RetentionRepository } from "./store/retention.ts";
import { RolloutRepository } from "./store/rollouts.ts";
import { SessionPolicyRepository } from "./store/session-policy.ts";
import { SessionRepository } from "./store/sessions.ts";
import { PeriodicJobRepository } from "./store/tasks.ts";
import { UserResourcesRepository } from "./store/user-resources.ts";
import { VolumeAssignmentRepository } from "./store/volume-assignments.ts";
import type { TaskEngine } from "./tasks/engine.ts";
import type { Scheduler } from "./tasks/scheduler.ts";

/** How often closed sessions' client rules are swept (closed through the admin API or by age). */
const RULE_SWEEP_SECONDS = 15;
export const RULE_SWEEP_JOB = "broker.session-rules";
/** Expired console tickets are not urgent: they can no longer be redeemed. */
const TICKET_PURGE_SECONDS = 600;
export const TICKET_PURGE_JOB = "console.ticket-purge";

export interface Repositories extends CoreRepositories {
  metrics: MetricsRepository;
  /** Failed authentications counted for the rate limits (core/throttle.ts, at the APIs' edge). */
  rateLimits: RateLimitRepository;
}

/** 1. One repository per aggregate, all on the same database. */
export function createRepositories(db: Store["db"]): Repositories {
  const reserve = new ReserveRepository(db);
  return {
    pools: new PoolRepository(db),
    instances: new InstanceRepository(db),
    holders: new HolderRepository(db),
    sessions: new SessionRepository(db),
    floatingIps: new FloatingIpRepository(db),
    volumeAssignments: new VolumeAssignmentRepository(db),
    userResources: new UserResourcesRepository(db),
    requests: new RequestsRepository(db),
    reserve,
    reconcile: new ReconcileRepository(db),
    buildFailures: new BuildFailureRepository(db),
    consoleTickets: new ConsoleTicketRepository(db),
    activity: new ActivityRepository(db),
    audit: new AuditRepository(db),
    sessionPolicy: new SessionPolicyRepository(db),
    drain: new DrainRepository(db),
    rollouts: new RolloutRepository(db),
    plannerStats: new PlannerStatsRepository(db),
    retention: new RetentionRepository(db),
    metrics: new MetricsRepository(db, reserve),
    rateLimits: new RateLimitRepository(db),
    periodicJobs: new PeriodicJobRepository(db),
  };
}

export interface CoreParts {
  config: Config;
  repos: Repositories;
  cloud: CoreCloud;
  tasks: TaskEngine;
  scheduler: Scheduler;
  license: License;
  logger: Logger;
}

/** What the core was built from, plus the engine and scheduler the work runs on (tests use it). */
export type RuntimeDeps = CoreDeps & { tasks: TaskEngine; scheduler: Scheduler; repos: Repositories };

const RESERVE_TRIGGER_MS = 1000;

/** `fn` at once, then at most once per `ms`: calls in between make one more call at the end of the wait. */
export function atMostEvery(ms: number, fn: () => void): () => void {
  let waiting = false;
  let again = false;
  const call = () => {
    fn();
    waiting = true;
    setTimeout(() => {
      waiting = false;
      if (again) {
        again = false;
        call();
      }
    }, ms).unref();
  };
  return () => {
    if (waiting) again = true;
    else call();
  };
}

/** 2. The adapters the core's ports need, then the core itself: no side effect. */
export function composeCore(parts: CoreParts): { core: Core; deps: RuntimeDeps } {
  const { config, cloud, scheduler, logger } = parts;
  const deps: RuntimeDeps = {
    ...parts,
    directory: new KeystoneDirectory(cloud.keystone, cloud.session, config.openstack.serviceRole),
    operatorKeystone: new KeystoneSignIn(cloud.keystone),
    passwordScript: new KerberosScript(),
    // A trigger that fails only delays the refill to the keeper's next period. A login storm
    // takes an instance per request: one trigger a second is as good as one per request.
    requestReserve: atMostEvery(
      RESERVE_TRIGGER_MS,
      () => void scheduler.trigger(RESERVE_JOB).catch(() => {}),
    ),
  };
  logger.debug("core composed");
  return { core: createCore(deps), deps };
}

/**
 * 3. The task handlers: what runs when a task is queued (here, or in any process with
 * workers). request-vm queues ALLOCATION_TASK; POST auto_allocate_users queues the other.
 */
export function registerTasks(core: Core, tasks: TaskEngine): void {
  tasks.register(ALLOCATION_TASK, async (args: { request_id: string }, ctx) => {
    const result = await core.broker.allocate(args.request_id, ctx.signal);
    // The request holds the broker code; the task shows Celery's FAILURE for the same outcome.
    if (result.status === "failed")
      throw new Error(`allocation failed with broker error ${result.error_code}`);
    return result;
  });
  tasks.register<AutoAllocateArgs>(AUTO_ALLOCATE_TASK, (args) => core.autoAllocate.run(args));
}

/** 4. The periodic jobs every process schedules (once per period across all processes). */
export function scheduleBrokerWork(core: Core, scheduler: Scheduler): void {
  scheduler.every(RULE_SWEEP_JOB, RULE_SWEEP_SECONDS, async () => {
    await core.broker.sweepSessionRules();
  });
  scheduler.every(TICKET_PURGE_JOB, TICKET_PURGE_SECONDS, () => core.console.purgeExpired());
}

/** 5. The background work of a worker process, as periodic jobs of the shared scheduler. */
export function scheduleBackground(scheduler: Scheduler, config: Config, parts: Background): void {
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
  scheduler.every(SESSION_POLICY_JOB, SESSION_POLICY_SECONDS, async (ctx) => {
    await parts.sessionPolicy.run(ctx.signal);
  });
  scheduler.every(ROLLOUT_JOB, config.rollout.intervalSeconds, (ctx) => parts.rollouts.step(ctx.signal));
  scheduler.every(PLANNER_STATS_JOB, PLANNER_STATS_SECONDS, async () => {
    await parts.plannerStats.run();
  });
  scheduler.every(RETENTION_JOB, RETENTION_SECONDS, async (ctx) => {
    await parts.retention.run(ctx.signal);
  });
}

export function startBackgroundWork(deps: RuntimeDeps, core: AdminCore): Background {
  const background = createBackground(deps, core);
  scheduleBackground(deps.scheduler, deps.config, background);
  return background;
}
