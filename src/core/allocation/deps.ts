// What the allocation works with, and what it answers: shared by the runner (./index.ts)
// and its steps (one module each).
import type { Logger } from "pino";
import type { NovaClient } from "../../cloud/nova.ts";
import type { HolderRepository } from "../../store/holders.ts";
import type { InstanceRepository } from "../../store/instances.ts";
import type { PoolRepository } from "../../store/pools.ts";
import type { RequestsRepository } from "../../store/requests.ts";
import type { UserResourcesRepository } from "../../store/user-resources.ts";
import type { BuildFailureService } from "../build-failures.ts";
import type { ClaimService } from "../claims.ts";
import type { UserResources } from "../user-resources.ts";

export const ALLOCATION_TASK = "broker.allocate";

export interface AllocationDeps {
  requests: RequestsRepository;
  pools: PoolRepository;
  /** Which instance the user gets (the claim protocol, in the preference order). */
  claims: ClaimService;
  /** Records the instance the allocation creates together with its holder. */
  holders: Pick<HolderRepository, "insertHeld" | "takeBuildTurn" | "endBuildTurn">;
  /** Our record of instances: read, mirrored from Nova, marked deleted. */
  instances: Pick<InstanceRepository, "get" | "markDeleted" | "applyStatus">;
  /** The user's sessions and client rules. */
  sessionRecords: Pick<UserResourcesRepository, "openSessionIds">;
  resources: UserResources;
  nova: NovaClient;
  groupsOfUser: (userId: string) => Promise<string[]>;
  buildTimeoutMs: number;
  pollIntervalMs: number;
  logger: Logger;
  /** Told of an instance whose build failed while an allocation waited for it. */
  buildFailures?: Pick<BuildFailureService, "notice">;
  /** Told after each allocation that took an instance, so the reserve refills. */
  onInstanceTaken?: (poolId: string) => void;
  /** Told when a request ends: seconds since request-vm, and "completed" or the error code. */
  onFinished?: (seconds: number, outcome: number | "completed") => void;
  /** Whether the task was revoked (nobody will finish its request: get-vm answers 3). */
  taskRevoked?: (taskId: string) => Promise<boolean>;
}

export interface AllocationResult {
  request_id: string;
  status: "completed" | "failed" | "finished_before";
  instance_id?: string;
  error_code?: number;
}

/** The actor of every holder change the broker makes (assignment history). */
export const ACTOR = "rs-server broker";

/** An instance that turned out unusable after it was claimed: give it back and look again. */
export class Unusable extends Error {}
