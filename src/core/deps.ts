// What the core is built from, handed in by the composition root (src/composition.ts): the
// configuration, the repositories, the cloud clients, the task queue and a few callbacks.
// Nothing here opens a connection or registers anything: building the core has no effect.
import type { Logger } from "pino";
import type { Cloud } from "../cloud/cloud.ts";
import type { KeystoneClient } from "../cloud/keystone.ts";
import type { Config } from "../config/schema.ts";
import type { AuditRepository } from "../store/audit.ts";
import type { BuildFailureRepository } from "../store/build-failures.ts";
import type { ConsoleTicketRepository } from "../store/console-tickets.ts";
import type { DrainRepository } from "../store/drain.ts";
import type { FloatingIpRepository } from "../store/floating-ips.ts";
import type { HolderRepository } from "../store/holders.ts";
import type { InstanceRepository } from "../store/instances.ts";
import type { PlannerStatsRepository } from "../store/planner-stats.ts";
import type { PoolRepository } from "../store/pools.ts";
import type { ReconcileRepository } from "../store/reconcile.ts";
import type { RequestsRepository } from "../store/requests.ts";
import type { ReserveRepository } from "../store/reserve.ts";
import type { RetentionRepository } from "../store/retention.ts";
import type { RolloutRepository } from "../store/rollouts.ts";
import type { SessionPolicyRepository } from "../store/session-policy.ts";
import type { SessionRepository } from "../store/sessions.ts";
import type { PeriodicJobRepository } from "../store/tasks.ts";
import type { UserResourcesRepository } from "../store/user-resources.ts";
import type { VolumeAssignmentRepository } from "../store/volume-assignments.ts";
import type { TaskService } from "../tasks/engine.ts";
import type { ActivityReads } from "./activity.ts";
import type { OperatorKeystone } from "./dashboard-signin.ts";
import type { Directory } from "./directory.ts";
import type { License } from "./license.ts";
import type { PasswordScript } from "./password-script.ts";

/** Every repository the core reads and writes, one per aggregate. */
export interface CoreRepositories {
  pools: PoolRepository;
  instances: InstanceRepository;
  /** Users and groups holding instances, the claim protocol and the assignment history. */
  holders: HolderRepository;
  sessions: SessionRepository;
  floatingIps: FloatingIpRepository;
  volumeAssignments: VolumeAssignmentRepository;
  userResources: UserResourcesRepository;
  requests: RequestsRepository;
  reserve: ReserveRepository;
  reconcile: ReconcileRepository;
  buildFailures: BuildFailureRepository;
  consoleTickets: ConsoleTicketRepository;
  /** Read-only counts over requests, sessions and tasks, for the dashboard. */
  activity: ActivityReads;
  /** Session policies: sessions they close, desktops taken back after a session. */
  sessionPolicy: SessionPolicyRepository;
  /** The admin API's audit trail (append-only). */
  audit: AuditRepository;
  /** The draining flags of pools and instances (core/drain.ts). */
  drain: DrainRepository;
  /** Golden-image roll-outs and their tasks (core/rollout.ts). */
  rollouts: RolloutRepository;
  /** The planner's statistics of the hot tables (core/planner-stats.ts). */
  plannerStats: PlannerStatsRepository;
  /** Finished tasks and requests past their retention (core/retention.ts). */
  retention: RetentionRepository;
  /** The scheduler's periodic jobs: their schedule and outcomes (core/jobs.ts). */
  periodicJobs: PeriodicJobRepository;
}

export type CoreCloud = Cloud<KeystoneClient> & { keystone: KeystoneClient };

export interface CoreDeps {
  config: Config;
  repos: CoreRepositories;
  cloud: CoreCloud;
  /** Keystone as the admin use cases need it (src/cloud/keystone-directory.ts). */
  directory: Directory;
  /** Keystone as the dashboard's sign-in needs it (src/cloud/keystone-signin.ts). */
  operatorKeystone: OperatorKeystone;
  /** Queues and reads tasks; the handlers are registered by the composition root. */
  tasks: TaskService;
  /** Asks the reserve keeper to run soon (after an allocation or a pool change). */
  requestReserve(): void;
  license: License;
  /** Runs the operator's password-change script (when kerberos.scriptPath names one). */
  passwordScript: PasswordScript;
  logger: Logger;
}
