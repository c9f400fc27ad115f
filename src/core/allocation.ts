// The allocation task: gives the user of a broker request a running desktop, in the order of
// spec §6 — find one (assigned, group, reserve, shared) or create one, wait for ACTIVE,
// bring the user's floating IP and volume to it, resolve its address, open the client's
// ports, record the session — and leaves every step in the request for get-vm to show.
//
// It runs in the process that accepted request-vm (the warm path) and, when that process
// dies, again in a task worker: every step is idempotent for a re-run (a claim made before
// is found as "assigned", a floating IP already there is left alone, ...).
import { randomUUID } from "node:crypto";
import { isIP } from "node:net";
import type { Logger } from "pino";
import { isCloudError } from "../cloud/http.ts";
import type { NeutronPort } from "../cloud/neutron.ts";
import { type NovaClient, type NovaServer, serverAddresses } from "../cloud/nova.ts";
import type { HolderRepository, InstanceRow } from "../store/holders.ts";
import type { InstanceRepository } from "../store/instances.ts";
import type { Pool, PoolRepository } from "../store/pools.ts";
import type { RequestRow, RequestsRepository } from "../store/requests.ts";
import type { NewSession, UserResourcesRepository } from "../store/user-resources.ts";
import { StepRecorder } from "./allocation-steps.ts";
import { BrokerCode, BrokerError, isBrokerError } from "./broker-error.ts";
import { type BuildFailureService, failedBuilds } from "./build-failures.ts";
import type { ClaimService, ClaimSource } from "./claims.ts";
import { nameFromPattern } from "./naming.ts";
import { TRS_TAG } from "./pools.ts";
import type { UserResources } from "./user-resources.ts";

export const ALLOCATION_TASK = "broker.allocate";

export interface AllocationDeps {
  requests: RequestsRepository;
  pools: PoolRepository;
  /** Which instance the user gets (the claim protocol, in the preference order). */
  claims: ClaimService;
  /** Records the instance the allocation creates together with its holder. */
  holders: Pick<HolderRepository, "insertHeld">;
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

/** An instance that turned out unusable after it was claimed: give it back and look again. */
class Unusable extends Error {}

/** How many claimed instances may turn out broken before the request fails. */
const MAX_CANDIDATES = 3;
const ACTOR = "rs-server broker";

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      clearTimeout(t);
      reject(signal?.reason);
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });

function describe(source: ClaimSource): string {
  switch (source) {
    case "assigned":
      return "assigned to the user";
    case "group":
      return "assigned to one of the user's groups";
    case "free":
      return "taken from the reserve";
    case "shared":
      return "shared with other users (least loaded)";
  }
}

const secondsSince = (t: Date | string) => (Date.now() - new Date(t).getTime()) / 1000;

export class Allocation {
  constructor(private readonly d: AllocationDeps) {}

  async run(requestId: string, signal?: AbortSignal): Promise<AllocationResult> {
    const request = await this.d.requests.unfinished(requestId);
    if (!request) return { request_id: requestId, status: "finished_before" };
    // Saved with the steps as soon as it is known, so that get-vm shows the build going on.
    let instanceId: string | null = request.instance_id;
    // The instance this run claimed or created for the user, if any: given back when another
    // run of the task ended the request some other way.
    let ownClaim: string | undefined;
    const steps = new StepRecorder(
      (s) => this.d.requests.saveProgress(requestId, s, instanceId),
      request.steps,
    );
    try {
      const pool = await this.d.pools.get(request.project_id);
      if (!pool)
        throw new BrokerError(BrokerCode.NoInstances, {
          project_name: request.project_name ?? request.project_id,
        });
      const { instance, server, port } = await this.instanceFor(request, pool, steps, signal, (id, ours) => {
        instanceId = id;
        ownClaim = ours ? id : undefined;
      });
      // A run whose lease went elsewhere stops between steps: the other run goes on.
      signal?.throwIfAborted();
      const { ip, session } = await this.prepare(request, pool, instance, server, port, steps);
      const step = steps.instant("session", `session ${session.id}`);
      let completed: boolean;
      try {
        signal?.throwIfAborted();
        completed = await this.d.requests.complete(requestId, steps.steps, instance.id, ip, session);
      } catch (err) {
        // Not recorded (lease lost, or the write failed): the rules it opened go.
        step.outcome = "failed";
        await this.d.resources.removeRules(session.ruleIds);
        throw err;
      }
      if (!completed) {
        // Another run of the task (this one's lease lapsed) ended the request first: its
        // outcome stands; undo what this run did so nothing is left held or open.
        await this.d.resources.removeRules(session.ruleIds);
        await this.giveBack(requestId, request.user_id, ownClaim);
        return { request_id: requestId, status: "finished_before" };
      }
      this.d.onFinished?.(secondsSince(request.created_at), "completed");
      this.d.logger.info(
        {
          request_id: requestId,
          user_id: request.user_id,
          user_name: request.user_name,
          pool: pool.name,
          instance_id: instance.id,
          ip,
        },
        "allocation completed",
      );
      return { request_id: requestId, status: "completed", instance_id: instance.id };
    } catch (err) {
      // Revoked, or the lease went to another runner: that one (if any) records the outcome.
      if (signal?.aborted) {
        await this.giveBack(requestId, request.user_id, ownClaim).catch((e) =>
          this.d.logger.warn({ err: e, request_id: requestId }, "cannot give back a claimed instance"),
        );
        throw err;
      }
      const failure = isBrokerError(err)
        ? err
        : new BrokerError(BrokerCode.AllocationFailed, {}, (err as Error)?.message);
      if (!isBrokerError(err))
        this.d.logger.error({ err, request_id: requestId }, "allocation failed unexpectedly");
      await this.d.requests.fail(requestId, steps.steps, failure.code, failure.data, instanceId);
      this.d.onFinished?.(secondsSince(request.created_at), failure.code);
      return { request_id: requestId, status: "failed", error_code: failure.code };
    }
  }

  /**
   * Gives back the instance this run claimed or created when the request ended without it (a
   * run whose lease lapsed while it waited for a connection may claim after another run had
   * already failed the request), or when its task was revoked. While the request is still
   * open another run is on it and finds the hold as the user's own instance, so it stays.
   */
  private async giveBack(requestId: string, userId: string, instanceId: string | undefined): Promise<void> {
    if (!instanceId) return;
    const row = await this.d.requests.get(requestId);
    if (!row) return;
    const open = row.status !== "completed" && row.status !== "failed";
    // An open request is another run's, unless its task was revoked: then no run will come.
    if (open && !(row.task_id && (await this.d.taskRevoked?.(row.task_id)))) return;
    if (row.status === "completed" && row.instance_id === instanceId) return;
    await this.d.claims.release(
      instanceId,
      userId,
      ACTOR,
      open ? `broker request ${requestId} was revoked` : `broker request ${requestId} ended in another run`,
    );
    this.d.logger.info(
      { request_id: requestId, instance_id: instanceId },
      "gave back an instance its request did not get",
    );
  }

  /** Steps 1-5 of spec §6, then the wait for ACTIVE; a broken claimed instance is replaced. */
  private async instanceFor(
    request: RequestRow,
    pool: Pool,
    steps: StepRecorder,
    signal: AbortSignal | undefined,
    chosen: (instanceId: string, claimedByThisRun: boolean) => void,
  ) {
    const exclude: string[] = [];
    let groups: Promise<string[]> | undefined;
    for (let attempt = 0; ; attempt++) {
      const found = await steps.run("find_instance", async (step) => {
        const claimed = await this.d.claims.claim({
          poolId: pool.id,
          operationMode: pool.operation_mode,
          userId: request.user_id,
          groupIds: () => {
            groups ??= this.d.groupsOfUser(request.user_id);
            return groups;
          },
          actor: ACTOR,
          reason: `broker request ${request.id}`,
          exclude,
        });
        step.detail(
          claimed
            ? `instance ${claimed.instance.id} (${claimed.instance.name}), ${describe(claimed.source)}`
            : "no assigned, group, free or shareable instance: a new one is needed",
        );
        return claimed;
      });
      let instance: InstanceRow;
      let ours: boolean;
      if (found) {
        instance = found.instance;
        ours = found.claimedNow;
        if (found.claimedNow) this.d.onInstanceTaken?.(pool.id);
      } else {
        signal?.throwIfAborted();
        instance = await steps.run("create_instance", (step) => this.create(request, pool, step.detail), {
          slow: true,
          initial: `creating an instance in project ${pool.name}`,
        });
        ours = true;
        this.d.onInstanceTaken?.(pool.id);
      }
      chosen(instance.id, ours);
      // An instance already ACTIVE has its ports: look them up while Nova confirms it.
      const port =
        instance.status === "ACTIVE"
          ? this.d.resources.instancePort(instance.id, pool.network_id)
          : undefined;
      port?.catch(() => {});
      try {
        const server = await steps.run(
          "wait_active",
          (step) => this.waitActive(instance, steps, step.detail, signal),
          {
            slow: instance.status !== "ACTIVE",
            initial: `waiting for instance ${instance.id} to become ACTIVE (${instance.status})`,
          },
        );
        return {
          instance,
          server,
          port: await (port ?? this.d.resources.instancePort(instance.id, pool.network_id)),
        };
      } catch (err) {
        if (!(err instanceof Unusable)) throw err;
        // A reserve instance that broke is given back and another one tried; one made for
        // this request, or one an admin assigned, is the request's failure (17).
        const canRetry = ours && found !== undefined && attempt + 1 < MAX_CANDIDATES;
        if (ours) await this.d.claims.release(instance.id, request.user_id, ACTOR, err.message);
        if (!canRetry)
          throw new BrokerError(BrokerCode.InstanceInvalidState, {
            instance_id: instance.id,
            instance_status: err.message,
          });
        exclude.push(instance.id);
      }
    }
  }

  private async create(request: RequestRow, pool: Pool, detail: (t: string) => void): Promise<InstanceRow> {
    const projectName = pool.name;
    const counter = await this.d.pools.allocateNames(pool.id, 1);
    if (counter === undefined) throw new BrokerError(BrokerCode.NoInstances, { project_name: projectName });
    const name = nameFromPattern(pool.instance_name_pattern, counter);
    let id: string;
    let reservationId: string;
    try {
      const created = await this.d.nova.createServers({
        name,
        flavorId: pool.flavor_id,
        imageId: pool.image_id,
        networkIds: pool.network_id ? [pool.network_id] : [],
        availabilityZone: pool.availability_zone ?? undefined,
        userData: pool.instance_init_script ?? undefined,
        tags: [TRS_TAG],
        description: `Created by rs-server for user ${request.user_name ?? request.user_id}`,
        projectId: pool.id,
      });
      if (created.ids.length === 0) throw new Error("Nova created no server");
      id = created.ids[0];
      reservationId = created.reservationId;
    } catch (err) {
      detail(`Nova refused the instance: ${(err as Error).message}`);
      if (isCloudError(err, "quota_exceeded")) {
        throw new BrokerError(
          BrokerCode.QuotaExceeded,
          { project_name: projectName },
          (err as Error).message,
        );
      }
      throw new BrokerError(
        BrokerCode.InstanceCreationFailed,
        { project_name: projectName },
        (err as Error).message,
      );
    }
    // Recorded with its holder at once, so that the reserve keeper never counts it as free.
    // If this process dies before this line, the reconciler adopts the trs-tagged server.
    await this.d.holders.insertHeld(
      { id, poolId: pool.id, name, status: "BUILD", reservationId },
      request.user_id,
      pool.operation_mode !== "2",
      ACTOR,
      `created for broker request ${request.id}`,
    );
    detail(`instance ${id} (${name}) created in project ${projectName}`);
    const row = await this.d.instances.get(id);
    if (!row) throw new Error(`instance ${id} vanished right after its creation`);
    return row;
  }

  private async waitActive(
    instance: InstanceRow,
    steps: StepRecorder,
    detail: (t: string) => void,
    signal?: AbortSignal,
  ): Promise<NovaServer> {
    const deadline = Date.now() + this.d.buildTimeoutMs;
    let known = `${instance.status}|${instance.vm_state}|${instance.task_state}|${instance.progress}`;
    for (;;) {
      let server: NovaServer;
      try {
        server = await this.d.nova.getServer(instance.id);
      } catch (err) {
        if (!isCloudError(err, "not_found")) throw err;
        await this.d.instances.markDeleted(instance.id);
        throw new Unusable("DELETED");
      }
      // Our record follows Nova, written only when Nova says something new (a warm instance
      // costs no write).
      const now = `${server.status}|${server.vmState}|${server.taskState}|${server.progress ?? 0}`;
      if (now !== known) {
        await this.d.instances.applyStatus([
          {
            id: instance.id,
            status: server.status,
            vmState: server.vmState,
            taskState: server.taskState,
            progress: server.progress,
            fault: server.fault?.message ?? null,
          },
        ]);
        known = now;
      }
      if (server.status === "ACTIVE") {
        detail(`instance ${instance.id} is ACTIVE`);
        return server;
      }
      if (failedBuilds([server]).length > 0) await this.d.buildFailures?.notice([instance.id]);
      if (server.status === "ERROR" || server.status === "DELETED" || server.status === "SOFT_DELETED") {
        detail(
          `instance ${instance.id} went ${server.status}${server.fault ? `: ${server.fault.message}` : ""}`,
        );
        throw new Unusable(server.status);
      }
      if (Date.now() >= deadline) {
        detail(`instance ${instance.id} still ${server.status} after ${this.d.buildTimeoutMs / 1000} s`);
        throw new BrokerError(BrokerCode.InstanceInvalidState, {
          instance_id: instance.id,
          instance_status: server.status,
        });
      }
      await steps.note(
        `waiting for instance ${instance.id}: ${server.status}` +
          (server.taskState ? ` (${server.taskState})` : "") +
          (server.progress ? `, ${server.progress}%` : ""),
      );
      await sleep(this.d.pollIntervalMs, signal);
    }
  }

  /** Floating IP, volume, address, previous sessions, client rules; the session to record. */
  private async prepare(
    request: RequestRow,
    pool: Pool,
    instance: InstanceRow,
    server: NovaServer,
    port: NeutronPort | undefined,
    steps: StepRecorder,
  ): Promise<{ ip: string; session: NewSession }> {
    const floating = await steps.run("floating_ip", async (step) => {
      if (!port) {
        step.detail("the instance has no port on the pool's network");
        return undefined;
      }
      try {
        const fip = await this.d.resources.floatingIp(request.user_id, port);
        step.detail(
          !fip
            ? "the user has no floating IP"
            : fip.movedFromPort
              ? `floating IP ${fip.address} moved from port ${fip.movedFromPort} to port ${port.id}`
              : `floating IP ${fip.address} on port ${port.id}`,
        );
        return fip;
      } catch (err) {
        throw new BrokerError(
          BrokerCode.NoInstanceIp,
          { instance_id: instance.id },
          `floating IP: ${(err as Error).message}`,
        );
      }
    });

    if (pool.user_volume_enabled) {
      await steps.run(
        "volume",
        async (step) => {
          const v = await this.d.resources.volume(pool, request.user_id, request.user_name, instance.id);
          step.detail(
            `volume ${v.volumeId}${v.created ? " created" : ""}${v.movedFrom ? ` moved from instance ${v.movedFrom}` : ""} attached`,
          );
        },
        { slow: true },
      );
    } else steps.skip("volume", "the pool has no user volumes");

    const ip = await steps.run("resolve_ip", async (step) => {
      const address = floating?.address ?? fixedIp(port) ?? serverAddresses(server, "fixed")[0];
      if (!address) {
        step.detail(`instance ${instance.id} has no address on the pool's network`);
        throw new BrokerError(BrokerCode.NoInstanceIp, { instance_id: instance.id });
      }
      step.detail(floating ? `floating IP ${address}` : `fixed IP ${address}`);
      return address;
    });
    const portIp = fixedIp(port);
    if (portIp && portIp !== instance.fixed_ip) {
      await this.d.instances.applyStatus([
        {
          id: instance.id,
          status: server.status,
          vmState: server.vmState,
          taskState: server.taskState,
          progress: server.progress,
          fixedIp: portIp,
        },
      ]);
    }

    const previous = await this.d.sessionRecords.openSessionIds(request.user_id, instance.id);
    if (previous.length) {
      // The user reconnects: the earlier session ends and its rules go before new ones open
      // (Neutron would otherwise answer the identical rule with the old rule's id).
      await steps.run("previous_sessions", async (step) => {
        for (const id of previous) await this.d.resources.closeSession(id);
        step.detail(`closed ${previous.length} earlier session(s) of the user on this instance`);
      });
    }

    const sessionId = randomUUID();
    let ruleIds: string[] = [];
    if (request.client_ip && request.conn_type && port) {
      ruleIds = await steps.run("client_rules", async (step) => {
        const ids = await this.d.resources.openClientRules(
          pool,
          instance.id,
          port,
          request.conn_type!,
          request.client_ip!,
          sessionId,
        );
        step.detail(
          ids.length
            ? `${request.conn_type} ports opened for ${request.client_ip} (${ids.length} rule(s))`
            : `${request.conn_type} opens no ports`,
        );
        return ids;
      });
    } else
      steps.skip("client_rules", request.client_ip ? "no connection type given" : "no client address given");

    const session: NewSession = {
      id: sessionId,
      instanceId: instance.id,
      instanceName: instance.name,
      projectId: pool.id,
      userId: request.user_id,
      userName: request.user_name,
      connectionType: request.conn_type,
      // The client's own address when it gave one, else where its request came from.
      clientIp: request.client_ip ?? request.peer_ip,
      clientOs: request.client_os,
      clientInfo: request.client_info,
      requestId: request.id,
      ruleIds,
    };
    return { ip, session };
  }
}

function fixedIp(port: { fixedIps: { ipAddress: string }[] } | undefined): string | undefined {
  return port?.fixedIps.find((f) => isIP(f.ipAddress) === 4)?.ipAddress ?? port?.fixedIps[0]?.ipAddress;
}
