// The TRS broker's core: request-vm, get-vm, get-projects and change-password as plain
// calls, and the allocation task they start. Routes shape JSON around these; everything that
// can go wrong comes out as a BrokerError with its numbered code.

import { randomUUID } from "node:crypto";
import type { NovaServer } from "../cloud/nova.ts";
import type { RequestStep } from "../shared/types.ts";
import type { Pool } from "../store/pools.ts";
import type { RequestRow } from "../store/requests.ts";
import { ALLOCATION_TASK, Allocation, type AllocationResult } from "./allocation.ts";
import {
  BrokerAuth,
  type BrokerIdentity,
  type PasswordCredentials,
  type PasswordWarning,
} from "./broker-auth.ts";
import {
  BrokerCode,
  BrokerError,
  type BrokerErrorCode,
  type BrokerErrorData,
  keystoneUnavailable,
  orKeystoneUnavailable,
} from "./broker-error.ts";
import { BuildFailureService } from "./build-failures.ts";
import { ClaimService } from "./claims.ts";
import type { CoreDeps } from "./deps.ts";
import { observeAllocation } from "./metrics.ts";
import { userResourcesOf } from "./user-resources.ts";
import { webGuardViolation } from "./web-guard.ts";

export interface RequestVmInput {
  /** Either token, or user + password (+ user_domain_name, otp). */
  token?: string;
  user?: string;
  password?: string;
  userDomainName?: string;
  otp?: string;
  authTenant?: string;
  projectDomainName?: string;
  ipAddress?: string;
  connType?: string;
  os?: string;
  client?: string;
  /** The address the HTTP request came from (Web Guard, when ip_address is not given). */
  peerIp?: string;
}

export interface RequestVmResult {
  requestId: string;
  token: string;
  warning?: PasswordWarning;
}

export interface ServerView {
  status: string | null;
  vm_state: string | null;
  ip: string | null;
  progress: number | null;
  task_state: string | null;
  id: string | null;
}

export type GetVmResult =
  | {
      kind: "state";
      status: "pending" | "in_progress" | "completed";
      message: string | null;
      server: ServerView;
      steps: RequestStep[];
    }
  | { kind: "failed"; code: BrokerErrorCode; data: BrokerErrorData; steps: RequestStep[] };

export interface ChangePasswordInput {
  user: string;
  userDomainName: string;
  password: string;
  newPassword: string;
}

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
  /** Runs one allocation in this process (the task handler; tests and benchmarks). */
  allocate(requestId: string, signal?: AbortSignal): Promise<AllocationResult>;
}

const TERMINAL_TASK = new Set(["FAILURE", "REVOKED"]);

function serverView(server: NovaServer | undefined, ip: string | null, id: string | null): ServerView {
  return {
    status: server?.status ?? null,
    vm_state: server?.vmState ?? null,
    ip,
    progress: server?.progress ?? (server ? 0 : null),
    task_state: server?.taskState ?? null,
    id: server?.id ?? id,
  };
}

export function createBrokerCore(deps: CoreDeps): BrokerCore {
  const { config, repos, cloud, logger } = deps;
  const keystone = cloud.keystone;
  const { requests, pools, holders, instances, userResources: userRepo } = repos;
  const auth = new BrokerAuth(keystone, config.passwords.expiryWarningSeconds);
  const log = logger.child({ component: "broker" });
  const resources = userResourcesOf(deps, log);
  const allocation = new Allocation({
    requests,
    pools,
    claims: new ClaimService(holders),
    holders,
    instances,
    sessionRecords: userRepo,
    resources,
    nova: cloud.nova,
    groupsOfUser: async (userId) => (await keystone.listUserGroups(userId)).map((g) => g.id),
    buildTimeoutMs: config.allocation.buildTimeoutSeconds * 1000,
    pollIntervalMs: config.allocation.pollIntervalMs,
    logger: log,
    buildFailures: new BuildFailureService(repos.buildFailures, logger),
    onInstanceTaken: () => deps.requestReserve(),
    onFinished: (seconds, outcome) => observeAllocation(seconds, outcome),
    taskRevoked: async (taskId) => (await deps.tasks.get(taskId))?.status === "REVOKED",
  });

  async function sweepSessionRules(): Promise<number> {
    const closed = await userRepo.closedWithRules(200);
    for (const s of closed) await resources.sweepRules(s.id, s.ruleIds);
    return closed.length;
  }

  /** Keystone calls of the service account outside authentication: an outage is 21. */
  const directory = orKeystoneUnavailable;

  async function trsPoolsOf(identity: BrokerIdentity, projectDomainName?: string): Promise<Pool[]> {
    const projects = await directory(() => keystone.listUserProjects(identity.userId));
    let enabled = projects.filter((p) => p.enabled);
    if (projectDomainName) {
      const domain = await directory(() => keystone.findDomainByName(projectDomainName));
      if (!domain) throw new BrokerError(BrokerCode.DomainNotFound, { domain_name: projectDomainName });
      enabled = enabled.filter((p) => p.domainId === domain.id);
    }
    return pools.list({ ids: enabled.map((p) => p.id) });
  }

  async function chooseProject(identity: BrokerIdentity, input: RequestVmInput): Promise<Pool> {
    if (input.authTenant) {
      const domainName = input.projectDomainName ?? identity.domainName;
      const domain = await directory(() => keystone.findDomainByName(domainName));
      if (!domain) throw new BrokerError(BrokerCode.DomainNotFound, { domain_name: domainName });
      const project = await directory(() => keystone.findProject(input.authTenant!, domain.id));
      const pool = project && (await pools.get(project.id));
      if (!project || !pool)
        throw new BrokerError(BrokerCode.NotTrsProject, { project_name: input.authTenant });
      const mine = await trsPoolsOf(identity);
      if (!project.enabled || !mine.some((p) => p.id === pool.id)) {
        throw new BrokerError(
          BrokerCode.NoTrsProject,
          {},
          `the user has no role on TRS project ${pool.name}`,
        );
      }
      return pool;
    }
    const mine = await trsPoolsOf(identity, input.projectDomainName);
    if (mine.length === 0)
      throw new BrokerError(BrokerCode.NoTrsProject, {}, "the user has a role on no TRS project");
    if (mine.length === 1) return mine[0];
    // Several pools: the one where the user already has a desktop, else the first by name.
    for (const pool of mine) {
      if ((await holders.heldBy(pool.id, identity.userId)).length) return pool;
    }
    return [...mine].sort((a, b) => a.name.localeCompare(b.name))[0];
  }

  async function startAllocation(
    identity: BrokerIdentity,
    pool: Pool,
    input: RequestVmInput,
  ): Promise<string> {
    const requestId = `req-${randomUUID()}`;
    await requests.insert({
      id: requestId,
      userId: identity.userId,
      userName: identity.userName,
      domainId: identity.domainId,
      projectId: pool.id,
      projectName: pool.name,
      connType: input.connType ?? null,
      clientIp: input.ipAddress ?? null,
      peerIp: input.peerIp ?? null,
      clientOs: input.os ?? null,
      clientInfo: input.client ?? null,
      taskId: null,
    });
    try {
      // The warm path: the allocation starts here and now; the task row is its durable
      // trace and pg-boss runs it again elsewhere if this process dies.
      const taskId = await deps.tasks.runNow(ALLOCATION_TASK, { request_id: requestId });
      await requests.setTask(requestId, taskId);
    } catch (err) {
      log.error({ err, request_id: requestId }, "cannot start the allocation task");
      await requests.fail(requestId, [], BrokerCode.TaskNotStarted, {});
      throw new BrokerError(BrokerCode.TaskNotStarted, {}, (err as Error).message);
    }
    return requestId;
  }

  async function authenticate(input: RequestVmInput): Promise<BrokerIdentity> {
    if (input.token) return auth.withToken(input.token);
    return auth.withPassword({
      user: input.user!,
      password: input.password!,
      userDomainName: input.userDomainName ?? "Default",
      otp: input.otp,
    });
  }

  function guard(input: RequestVmInput, domainName: string) {
    if (!config.webGuard.enabled) return;
    const why = webGuardViolation(config.webGuard.rules, {
      domainName,
      // The address the request really came from (through trusted proxies only): the body's
      // ip_address is the client's own word, for its firewall rules, not proof of its network.
      clientIp: input.peerIp,
      connType: input.connType,
      client: input.client,
    });
    if (why) throw new BrokerError(BrokerCode.WebGuardRefused, {}, why);
  }

  async function liveServer(row: RequestRow): Promise<NovaServer | undefined> {
    if (!row.instance_id) return undefined;
    try {
      return await cloud.nova.getServer(row.instance_id);
    } catch (err) {
      log.warn({ err, instance_id: row.instance_id }, "get-vm: cannot read the instance from Nova");
      return undefined;
    }
  }

  /**
   * While the allocation runs, the server block comes from our record of the instance, which
   * the allocation mirrors from Nova at every poll: clients polling get-vm cost Nova nothing.
   */
  async function buildingServer(row: RequestRow): Promise<ServerView> {
    const instance = row.instance_id ? await instances.get(row.instance_id) : undefined;
    return {
      status: instance?.status ?? null,
      vm_state: instance?.vm_state ?? null,
      ip: null,
      progress: instance ? instance.progress : null,
      task_state: instance?.task_state ?? null,
      id: row.instance_id,
    };
  }

  const broker: BrokerCore = {
    async requestVm(input) {
      if (!(await deps.license.allowsService())) {
        throw new BrokerError(
          BrokerCode.LicenseInvalid,
          { cloud_url: cloud.session.authUrl },
          "the license is missing, invalid or expired",
        );
      }
      // The user's domain is known before authentication only for a password; a token's
      // domain is checked against the rules once Keystone has told it.
      if (!input.token) guard(input, input.userDomainName ?? "Default");
      const identity = await authenticate(input);
      if (input.token) guard(input, identity.domainName);
      const pool = await chooseProject(identity, input);
      const requestId = await startAllocation(identity, pool, input);
      return { requestId, token: identity.token, warning: auth.warning(identity) };
    },

    async getVm(userId, requestId) {
      let row = await requests.get(requestId);
      if (!row) throw new BrokerError(BrokerCode.RequestNotFound, {}, `no request ${requestId}`);
      if (row.user_id !== userId)
        throw new BrokerError(
          BrokerCode.RequestOfAnotherUser,
          {},
          `request ${requestId} belongs to another user`,
        );
      const finished = (r: { status: string }) => r.status === "failed" || r.status === "completed";
      if (!finished(row) && row.task_id) {
        const task = await deps.tasks.get(row.task_id);
        if (task && TERMINAL_TASK.has(task.status)) {
          // The task records the request's outcome before Celery's state, so a request that
          // ended between the two reads shows its own outcome on a second read; only a task
          // that died without recording one is the task's failure (3).
          row = (await requests.get(requestId)) ?? row;
          if (!finished(row))
            return {
              kind: "failed",
              code: BrokerCode.TaskFailed,
              data: {},
              steps: row.steps as unknown as RequestStep[],
            };
        }
      }
      const steps = row.steps as unknown as RequestStep[];
      if (row.status === "failed") {
        return {
          kind: "failed",
          code: (row.error_code ?? BrokerCode.AllocationFailed) as BrokerErrorCode,
          data: (row.error_data ?? {}) as BrokerErrorData,
          steps,
        };
      }
      if (row.status === "completed") {
        const server = await liveServer(row);
        return {
          kind: "state",
          status: "completed",
          message: null,
          server: serverView(server, row.ip, row.instance_id),
          steps,
        };
      }
      const current = steps.at(-1);
      const message =
        row.status === "pending"
          ? "The request is queued."
          : current?.outcome === "running"
            ? (current.detail ?? `Step ${current.name} is running.`)
            : "The request is being processed.";
      return {
        kind: "state",
        status: row.status === "pending" ? "pending" : "in_progress",
        message,
        server: await buildingServer(row),
        steps,
      };
    },

    async getProjects(c) {
      const identity = await auth.withPassword(c);
      return (await trsPoolsOf(identity)).map((p) => p.name).sort();
    },

    async changePassword(input) {
      if (config.kerberos.scriptPath) {
        const outcome = await deps.passwordScript.change(config.kerberos.scriptPath, input);
        if (outcome.kind === "unavailable")
          throw new BrokerError(BrokerCode.KerberosScriptUnavailable, {}, outcome.detail);
        if (outcome.kind === "failed")
          throw new BrokerError(BrokerCode.KerberosScriptFailed, {}, outcome.detail);
        return `Password successfully changed for user '${input.user}'`;
      }
      const domain = await directory(() => keystone.findDomainByName(input.userDomainName));
      if (!domain) throw new BrokerError(BrokerCode.DomainNotFound, { domain_name: input.userDomainName });
      const user = await directory(() => keystone.findUser(input.user, domain.id));
      if (!user)
        throw new BrokerError(BrokerCode.UserNotFound, {
          user_name: input.user,
          domain_name: input.userDomainName,
        });
      const outcome = await keystone.changePassword(user.id, input.password, input.newPassword);
      // Keystone revokes the user's tokens to the second: a token issued in the same second as
      // the change is refused later. Answer once that second is over, so that the client's
      // next request-vm gets a token that stays valid.
      if (outcome.kind === "ok") await new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));
      switch (outcome.kind) {
        case "ok":
          return `Password successfully changed for user '${input.user}'`;
        case "policy_violation":
          throw new BrokerError(BrokerCode.InvalidRequest, { reason: outcome.message }, outcome.message);
        case "unavailable":
          throw keystoneUnavailable(outcome.message);
        default:
          throw new BrokerError(
            BrokerCode.AuthenticationFailed,
            {},
            `Keystone refused the password change (${outcome.kind})`,
          );
      }
    },

    closeSession: (sessionId, at) => resources.closeSession(sessionId, at),
    sweepSessionRules,
    allocate: (requestId, signal) => allocation.run(requestId, signal),
  };
  return broker;
}
