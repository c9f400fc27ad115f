// The admin core: pools, instances, assignments, user resources (floating IPs, volume
// assignments), sessions, statistics and auto-allocation, built from the repositories and
// clients the composition root hands in. Building it has no side effect.
import type { Actor } from "../cloud/keystone.ts";
import { AssignmentService } from "./assignments.ts";
import { AutoAllocateService } from "./auto-allocate.ts";
import { BuildFailureService } from "./build-failures.ts";
import type { CoreDeps, CoreRepositories } from "./deps.ts";
import type { Directory } from "./directory.ts";
import { DirectorySearchService } from "./directory-search.ts";
import { DrainService } from "./drain.ts";
import { FloatingIpService } from "./floating-ips.ts";
import { InstanceService } from "./instances.ts";
import { JobService } from "./jobs.ts";
import { PoolAccessService } from "./pool-access.ts";
import { PoolService } from "./pools.ts";
import { Readiness } from "./readiness.ts";
import { RolloutService } from "./rollout.ts";
import { SessionService } from "./sessions.ts";
import { StatisticsService } from "./statistics.ts";
import type { UserResources } from "./user-resources.ts";
import { VolumeAssignmentService } from "./volume-assignments.ts";

export interface AdminCore {
  pools: PoolService;
  instances: InstanceService;
  assignments: AssignmentService;
  sessions: SessionService;
  floatingIps: FloatingIpService;
  volumeAssignments: VolumeAssignmentService;
  statistics: StatisticsService;
  autoAllocate: AutoAllocateService;
  directory: Directory;
  /** Who holds the access role on a pool's project; grant and revoke it. */
  poolAccess: PoolAccessService;
  /** Users and groups of Keystone by name, for the admin's pickers. */
  directorySearch: DirectorySearchService;
  /** Builds that failed before they ever booted (logged once, counted on the pool). */
  buildFailures: BuildFailureService;
  /** Drain and undrain of pools and instances (issue 16). */
  drain: DrainService;
  /** Golden-image roll-outs: start, pause, resume, rollback, progress, the periodic step. */
  rollouts: RolloutService;
  /** The roll-out service on another clock (the background's, which tests move). */
  rolloutsWith(now: () => Date): RolloutService;
  /** The periodic jobs of the background work and how their last runs went. */
  jobs: JobService;
  /** The records themselves, for the background work and tests. */
  repos: CoreRepositories;
}

export function createAdminCore(
  deps: CoreDeps,
  resources: UserResources,
  onAccessChanged?: (actor: Actor) => void,
): AdminCore {
  const { config, repos, cloud, directory, logger } = deps;
  const pools: PoolService = new PoolService({
    config,
    pools: repos.pools,
    instances: repos.instances,
    reserve: repos.reserve,
    holders: repos.holders,
    volumeAssignments: repos.volumeAssignments,
    directory,
    cloud,
    logger,
    onChanged: () => deps.requestReserve(),
    changeImage: (poolId: string, imageId: string): Promise<unknown> =>
      rollouts.start(poolId, { imageId }, null),
    rolloutsOf: (poolIds) => rollouts.statusOfPools(poolIds),
  });
  const assignments = new AssignmentService({
    holders: repos.holders,
    instances: repos.instances,
    pools: repos.pools,
    directory,
    sessions: { openOn: (id) => repos.sessions.openOf(id), end: (id) => resources.closeSession(id) },
  });
  const buildFailures = new BuildFailureService(repos.buildFailures, logger);
  const instances = new InstanceService({
    buildFailures,
    readiness: new Readiness(repos.reserve, config.reserve.readiness, logger),
    instances: repos.instances,
    pools: repos.pools,
    sessions: repos.sessions,
    poolService: pools,
    assignments,
    cloud,
  });
  const rolloutsWith = (now?: () => Date): RolloutService =>
    new RolloutService({
      rollouts: repos.rollouts,
      pools: repos.pools,
      holders: repos.holders,
      instances,
      nova: cloud.nova,
      imageExists: (id) =>
        cloud.glance.getImage(id).then(
          () => true,
          (err) => {
            if ((err as { kind?: string }).kind === "not_found") return false;
            throw err;
          },
        ),
      closeSession: (id) => resources.closeSession(id),
      batchSize: config.rollout.batchSize,
      warnBeforeSeconds: config.rollout.warnBeforeSeconds,
      logger,
      now,
    });
  const rollouts: RolloutService = rolloutsWith();
  return {
    pools,
    drain: new DrainService({ drain: repos.drain, logger, onChanged: () => deps.requestReserve() }),
    rollouts,
    rolloutsWith,
    instances,
    assignments,
    sessions: new SessionService({
      config,
      sessions: repos.sessions,
      instanceService: instances,
      assignments,
      resources,
      reports: repos.sessionPolicy,
    }),
    floatingIps: new FloatingIpService({ floatingIps: repos.floatingIps, directory, cloud }),
    volumeAssignments: new VolumeAssignmentService({
      volumeAssignments: repos.volumeAssignments,
      poolService: pools,
      directory,
      cloud,
    }),
    statistics: new StatisticsService({
      poolService: pools,
      instanceService: instances,
      instances: repos.instances,
      cloud,
    }),
    autoAllocate: new AutoAllocateService({
      tasks: deps.tasks,
      poolService: pools,
      instanceService: instances,
      holders: repos.holders,
      directory,
      cloud,
    }),
    directory,
    poolAccess: new PoolAccessService({
      keystone: cloud.keystone,
      pools: repos.pools,
      role: config.pools.accessRole,
      logger,
      onChanged: onAccessChanged,
    }),
    directorySearch: new DirectorySearchService(cloud.keystone),
    buildFailures,
    jobs: new JobService(repos.periodicJobs),
    repos,
  };
}
