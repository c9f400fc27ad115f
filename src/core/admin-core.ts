// The admin core: pools, instances, assignments, user resources (floating IPs, volume
// assignments), sessions, statistics and auto-allocation, built on the shared records.
// The broker core receives it (createBrokerCore(deps, adminCore)) and calls its services and
// repositories; see the comment at the top of each file for what each offers.
import { AssignmentRepository } from "../store/assignments.ts";
import { BuildFailureRepository } from "../store/build-failures.ts";
import { FloatingIpRepository } from "../store/floating-ips.ts";
import { InstanceRepository } from "../store/instances.ts";
import { PoolRepository } from "../store/pools.ts";
import { ReserveRepository } from "../store/reserve.ts";
import { SessionRepository } from "../store/sessions.ts";
import { VolumeAssignmentRepository } from "../store/volume-assignments.ts";
import { AssignmentService } from "./assignments.ts";
import { AutoAllocateService } from "./auto-allocate.ts";
import { BuildFailureService } from "./build-failures.ts";
import type { CoreDeps } from "./deps.ts";
import type { Directory } from "./directory.ts";
import { DirectorySearchService } from "./directory-search.ts";
import { FloatingIpService } from "./floating-ips.ts";
import { InstanceService } from "./instances.ts";
import { KeystoneDirectory } from "./keystone-directory.ts";
import { PoolAccessService } from "./pool-access.ts";
import { PoolService } from "./pools.ts";
import { triggerReserve } from "./reserve.ts";
import { SessionService } from "./sessions.ts";
import { StatisticsService } from "./statistics.ts";
import { UserResources } from "./user-resources.ts";
import { VolumeAssignmentService } from "./volume-assignments.ts";

export interface AdminRepositories {
  pools: PoolRepository;
  instances: InstanceRepository;
  assignments: AssignmentRepository;
  sessions: SessionRepository;
  floatingIps: FloatingIpRepository;
  volumeAssignments: VolumeAssignmentRepository;
}

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
  /** The Keystone role that lets users use a pool through the broker. */
  poolAccess: PoolAccessService;
  /** Users and groups by name. */
  directorySearch: DirectorySearchService;
  /** Failed builds, logged and counted once each. */
  buildFailures: BuildFailureService;
  /** The records themselves, for the broker, the reserve and the reconciler. */
  repos: AdminRepositories;
}

export function createAdminCore(deps: CoreDeps, options: { directory?: Directory } = {}): AdminCore {
  const { config, db, cloud, logger } = deps;
  const repos: AdminRepositories = {
    pools: new PoolRepository(db),
    instances: new InstanceRepository(db),
    assignments: new AssignmentRepository(db),
    sessions: new SessionRepository(db),
    floatingIps: new FloatingIpRepository(db),
    volumeAssignments: new VolumeAssignmentRepository(db),
  };
  const directory =
    options.directory ?? new KeystoneDirectory(cloud.keystone, cloud.session, config.openstack.serviceRole);
  const pools = new PoolService({
    config,
    pools: repos.pools,
    instances: repos.instances,
    reserve: new ReserveRepository(db),
    assignments: repos.assignments,
    volumeAssignments: repos.volumeAssignments,
    directory,
    cloud,
    logger,
    onChanged: () => void triggerReserve(deps.scheduler).catch(() => {}),
  });
  const resources = UserResources.of(deps);
  const assignments = new AssignmentService({
    assignments: repos.assignments,
    instances: repos.instances,
    pools: repos.pools,
    directory,
    sessions: { openOn: (id) => repos.sessions.openOf(id), end: (id) => resources.closeSession(id) },
  });
  const buildFailures = new BuildFailureService(new BuildFailureRepository(db), logger);
  const instances = new InstanceService({
    buildFailures,
    instances: repos.instances,
    pools: repos.pools,
    sessions: repos.sessions,
    poolService: pools,
    assignments,
    cloud,
  });
  const autoAllocate = new AutoAllocateService({
    tasks: deps.tasks,
    poolService: pools,
    instanceService: instances,
    assignments: repos.assignments,
    directory,
    cloud,
  });
  autoAllocate.register();
  return {
    pools,
    instances,
    assignments,
    sessions: new SessionService({
      config,
      sessions: repos.sessions,
      instanceService: instances,
      assignments,
      resources,
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
    autoAllocate,
    directory,
    poolAccess: new PoolAccessService({
      keystone: cloud.keystone,
      pools: repos.pools,
      role: config.pools.accessRole,
      logger,
    }),
    directorySearch: new DirectorySearchService(cloud.keystone),
    buildFailures,
    repos,
  };
}
