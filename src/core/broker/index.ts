// The TRS broker's core: request-vm, get-vm, get-projects and change-password as plain
// calls (one module each), and the allocation they start. Routes shape JSON around these;
// everything that can go wrong comes out as a BrokerError with its named code.
import { Allocation, type AllocationResult } from "../allocation/index.ts";
import type { PasswordCredentials } from "../broker-auth.ts";
import { BuildFailureService } from "../build-failures.ts";
import { ClaimService } from "../claims.ts";
import type { CoreDeps } from "../deps.ts";
import { Slots } from "../limited.ts";
import { observeAllocation } from "../metrics.ts";
import { userResourcesOf } from "../user-resources.ts";
import { type ChangePasswordInput, changePassword } from "./change-password.ts";
import { brokerContext } from "./context.ts";
import { getProjects } from "./get-projects.ts";
import { type GetVmResult, getVm } from "./get-vm.ts";
import { type RequestVmInput, type RequestVmResult, requestVm } from "./request-vm.ts";

export type { ChangePasswordInput } from "./change-password.ts";
export type { GetVmResult, ServerView } from "./get-vm.ts";
export type { RequestVmInput, RequestVmResult } from "./request-vm.ts";

export interface BrokerCore {
  requestVm(input: RequestVmInput): Promise<RequestVmResult>;
  /** The request as its owner sees it; 10 unknown, 11 someone else's. */
  getVm(userId: string, requestId: string): Promise<GetVmResult>;
  getProjects(c: PasswordCredentials): Promise<string[]>;
  changePassword(input: ChangePasswordInput): Promise<string>;
  /** Ends a session and removes the client rules it opened (admin API, clients). */
  closeSession(sessionId: string, at?: Date): Promise<boolean>;
  /** Removes the client rules of sessions closed elsewhere (admin API, age); answers how many. */
  sweepSessionRules(): Promise<number>;
  /** Forgets what is kept of a user's projects and groups (everyone's without a user). */
  forgetUser(userId?: string): void;
  /** Runs one allocation in this process (the task handler; tests and benchmarks). */
  allocate(requestId: string, signal?: AbortSignal): Promise<AllocationResult>;
}

export function createBrokerCore(deps: CoreDeps): BrokerCore {
  const { config, repos, cloud } = deps;
  const ctx = brokerContext(deps);
  const scriptSlots = new Slots(() => config.kerberos.maxConcurrent);
  const resources = userResourcesOf(deps, ctx.log);
  const allocation = new Allocation({
    requests: repos.requests,
    pools: repos.pools,
    claims: new ClaimService(repos.holders),
    holders: repos.holders,
    instances: repos.instances,
    sessionRecords: repos.userResources,
    resources,
    nova: cloud.nova,
    groupsOfUser: (userId) => ctx.users.groups(userId),
    buildTimeoutMs: config.allocation.buildTimeoutSeconds * 1000,
    pollIntervalMs: config.allocation.pollIntervalMs,
    logger: ctx.log,
    buildFailures: new BuildFailureService(repos.buildFailures, deps.logger),
    onInstanceTaken: () => deps.requestReserve(),
    onFinished: (seconds, outcome) => observeAllocation(seconds, outcome),
    taskRevoked: async (taskId) => (await deps.tasks.get(taskId))?.status === "REVOKED",
  });
  return {
    requestVm: (input) => requestVm(ctx, input),
    getVm: (userId, requestId) => getVm(ctx, userId, requestId),
    getProjects: (c) => getProjects(ctx, c),
    changePassword: (input) => changePassword(ctx, input, scriptSlots),
    closeSession: (sessionId, at) => resources.closeSession(sessionId, at),
    async sweepSessionRules() {
      const closed = await repos.userResources.closedWithRules(200);
      for (const s of closed) await resources.sweepRules(s.id, s.ruleIds);
      return closed.length;
    },
    forgetUser: (userId) => ctx.users.forget(userId),
    allocate: (requestId, signal) => allocation.run(requestId, signal),
  };
}
