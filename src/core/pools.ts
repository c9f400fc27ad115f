// TRS projects (pools): a Keystone project tagged `trs` plus the desktop template and pool
// settings we keep. API (admin routes, broker, reserve):
//   create(input) → pool / update(id, input) → pool / list(query) / show(id, withOs)
//   view(pool) → the pool with its reserve status (list and show give it too)
//   remove(id, { force }, actor) / settings() / require(id) → the pool or a 404
//   limitOf(pool) → most users an instance of the pool may hold (null: no limit)
import type { Logger } from "pino";
import type { Cloud } from "../cloud/cloud.ts";
import { isCloudError } from "../cloud/http.ts";
import type { Config } from "../config/schema.ts";
import { OperationMode } from "../shared/types.ts";
import type { HolderRepository } from "../store/holders.ts";
import type { InstanceRepository } from "../store/instances.ts";
import { MultiUserInstanceError, type Pool, type PoolPatch, type PoolRepository } from "../store/pools.ts";
import type { ReserveRepository } from "../store/reserve.ts";
import type { VolumeAssignmentRepository } from "../store/volume-assignments.ts";
import type { Directory, DirectoryProject, DirectoryProjectPatch } from "./directory.ts";
import { conflict, invalid, notFound, unavailable } from "./errors.ts";
import { patternProblem } from "./naming.ts";
import { nextChange, parseSchedule, scheduleOf, targetInEffect } from "./reserve-schedule.ts";
import type { RolloutStatus } from "./rollout.ts";
import { type SessionPolicyInput, sessionPolicyPatch } from "./session-policy.ts";

export const TRS_TAG = "trs";
export const OPERATION_MODES = ["1", "2"] as const;
/** Nova refuses user_data above 65535 bytes of base64. */
const MAX_USER_DATA = 65535;

export interface PoolSettingsInput {
  flavor_id?: string;
  image_id?: string;
  network_id?: string | null;
  availability_zone?: string | null;
  operation_mode?: string;
  max_users_per_instance?: number | null;
  instance_init_script?: string | null;
  min_reserve_vm?: number;
  instance_name_pattern?: string;
  user_volume_enabled?: boolean;
  volume_size?: number | null;
  volume_type_id?: string | null;
  /** The web desktop: the VNC port (null: console.defaultPort) and gateway or Nova's console. */
  console_port?: number | null;
  console_kind?: "gateway" | "nova-novnc" | "nova-spice";
  /** Idle/disconnected/maximum times and the post-session action (core/session-policy.ts). */
  session_policy?: SessionPolicyInput;
  /** Extension (issue 16): the reserve's windows (core/reserve-schedule.ts); null removes them. */
  reserve_schedule?: unknown;
}

export interface PoolCreateInput extends PoolSettingsInput {
  name: string;
  flavor_id: string;
  image_id: string;
  domain_id?: string;
  parent_id?: string;
  is_domain?: boolean;
  description?: string;
  enabled?: boolean;
  tags?: string[];
}

export interface PoolUpdateInput extends PoolSettingsInput {
  name?: string;
  domain_id?: string;
  description?: string;
  enabled?: boolean;
  tags?: string[];
}

export interface PoolListQuery {
  name?: string;
  enabled?: boolean;
  /** A domain name. */
  domain?: string;
  /** Only pools of this domain id (a domain admin's lists). */
  domainId?: string;
  /** Only this pool (a pool's project admin's lists). */
  id?: string;
  /** A user id holding a role on the project (effective). */
  user?: string;
  operationMode?: string;
  withOsObject?: boolean;
  /** Only pools that are (true) or are not (false) draining. */
  draining?: boolean;
}

/**
 * Why a pool's reserve is (not) filling, from our records alone (no cloud call): the keeper's
 * state and message, and the free instances it counts.
 */
export interface ReserveStatus {
  /** ok, quota, throttled, backoff or blocked (see the reserve keeper). */
  state: string;
  message: string | null;
  /** Failed build attempts since the reserve was last full of ACTIVE instances. */
  failures: number;
  backoffUntil: Date | null;
  /** The target in effect: the schedule's window's (filled ahead by the lead), else min_reserve_vm. */
  target: number;
  /** The next change of the target in effect (null: no schedule, or none within nine days). */
  nextChange: { at: Date; target: number } | null;
  /** Free ACTIVE instances that are ready to be handed out (readiness). */
  ready: number;
  /** Free instances ready to serve (ACTIVE, no user, no group). */
  free: number;
  /** Free instances still in BUILD. */
  building: number;
  /** Builds of the pool's instances that failed, ever. */
  failedBuilds: number;
  /** Nova's fault message of the last failed build, and when it was seen. */
  lastFailure: string | null;
  lastFailureAt: Date | null;
}

export interface PoolView {
  pool: Pool;
  /** Present when asked for: the Keystone project, or null when Keystone no longer has it. */
  osProject?: Record<string, unknown> | null;
  reserve?: ReserveStatus;
  /** The pool's roll-out in progress, else its last one (core/rollout.ts). */
  rollout?: RolloutStatus;
}

export interface PoolServiceDeps {
  config: Config;
  pools: PoolRepository;
  instances: InstanceRepository;
  reserve: Pick<ReserveRepository, "freeCountsOf" | "readyCountsOf">;
  holders: HolderRepository;
  volumeAssignments: VolumeAssignmentRepository;
  directory: Directory;
  cloud: Pick<Cloud, "nova" | "glance" | "neutron">;
  logger: Logger;
  /** Told after a pool is created or its settings change, so its reserve is looked at soon. */
  onChanged?: (poolId: string) => void;
  /** A new image_id begins a roll-out to it (core/rollout.ts) rather than a mere change. */
  changeImage?: (poolId: string, imageId: string) => Promise<unknown>;
  /** The roll-outs shown in the pools' views. */
  rolloutsOf?: (poolIds: string[]) => Promise<Map<string, RolloutStatus>>;
}

export function isBase64(s: string): boolean {
  return s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

export class PoolService {
  constructor(private readonly d: PoolServiceDeps) {}

  settings() {
    return {
      instance_name_pattern: this.d.config.pools.instanceNamePattern,
      default_availability_zone: this.d.config.pools.defaultAvailabilityZone,
    };
  }

  /** The pool, or undefined. */
  find(id: string): Promise<Pool | undefined> {
    return this.d.pools.get(id);
  }

  async require(id: string): Promise<Pool> {
    const pool = await this.d.pools.get(id);
    if (!pool) throw notFound(`TRS project ${id} not found`);
    return pool;
  }

  /** A project id given in a body: 404 when Keystone does not know it, 400 when it is not TRS. */
  async requireReferenced(id: string): Promise<Pool> {
    const pool = await this.d.pools.get(id);
    if (pool) return pool;
    const project = await this.d.directory.getProject(id);
    if (project) throw invalid(`Project ${id} is not a TRS project`);
    throw notFound(`Project ${id} not found`);
  }

  limitOf(pool: Pool): number | null {
    return pool.operation_mode === OperationMode.Standard ? 1 : (pool.max_users_per_instance ?? null);
  }

  /** Checks the settings' own rules and that their flavor, image and network exist. */
  private async checkSettings(s: PoolSettingsInput): Promise<void> {
    if (
      s.operation_mode !== undefined &&
      !(OPERATION_MODES as readonly string[]).includes(s.operation_mode)
    ) {
      throw invalid(`operation_mode must be "1" (Standard) or "2" (Simultaneous), not "${s.operation_mode}"`);
    }
    if (s.instance_init_script != null) {
      if (!isBase64(s.instance_init_script)) throw invalid("instance_init_script must be base64");
      if (s.instance_init_script.length > MAX_USER_DATA) {
        throw invalid(`instance_init_script is longer than ${MAX_USER_DATA} characters of base64`);
      }
    }
    if (s.instance_name_pattern !== undefined) {
      const problem = patternProblem(s.instance_name_pattern);
      if (problem) throw invalid(problem);
    }
    sessionPolicyPatch(s.session_policy);
    if (s.min_reserve_vm !== undefined && s.min_reserve_vm < 0)
      throw invalid("min_reserve_vm must be 0 or more");
    if (s.reserve_schedule != null) parseSchedule(s.reserve_schedule);
    if (s.volume_size != null && s.volume_size < 1) throw invalid("volume_size must be 1 GB or more");
    if (s.max_users_per_instance != null && s.max_users_per_instance < 1) {
      throw invalid("max_users_per_instance must be 1 or more");
    }
    const { nova, glance, neutron } = this.d.cloud;
    const exists = async (what: string, id: string, get: () => Promise<unknown>) => {
      try {
        await get();
      } catch (err) {
        if (isCloudError(err, "not_found")) throw invalid(`${what} ${id} not found`);
        throw err;
      }
    };
    await Promise.all([
      s.flavor_id !== undefined
        ? exists("Flavor", s.flavor_id, () => nova.getFlavor(s.flavor_id!))
        : undefined,
      s.image_id !== undefined ? exists("Image", s.image_id, () => glance.getImage(s.image_id!)) : undefined,
      s.network_id != null
        ? exists("Network", s.network_id, () => neutron.getNetwork(s.network_id!))
        : undefined,
    ]);
  }

  private settingsPatch(s: PoolSettingsInput): PoolPatch {
    const patch: PoolPatch = {};
    const keys = [
      "flavor_id",
      "image_id",
      "network_id",
      "availability_zone",
      "max_users_per_instance",
      "instance_init_script",
      "min_reserve_vm",
      "instance_name_pattern",
      "user_volume_enabled",
      "volume_size",
      "volume_type_id",
      "console_port",
      "console_kind",
    ] as const;
    for (const key of keys) {
      if (s[key] !== undefined) (patch as Record<string, unknown>)[key] = s[key];
    }
    Object.assign(patch, sessionPolicyPatch(s.session_policy));
    if (s.reserve_schedule !== undefined) {
      const schedule = s.reserve_schedule === null ? null : parseSchedule(s.reserve_schedule);
      patch.reserve_schedule = schedule && schedule.windows.length > 0 ? JSON.stringify(schedule) : null;
    }
    return patch;
  }

  async create(input: PoolCreateInput): Promise<Pool> {
    if (input.name.trim() === "") throw invalid("name must not be empty");
    await this.checkSettings(input);
    const tags = [...new Set([TRS_TAG, ...(input.tags ?? [])])];
    const project = await this.d.directory
      .createProject({
        name: input.name,
        domainId: input.domain_id ?? (input.parent_id ? undefined : this.d.config.auth.defaultDomain),
        parentId: input.parent_id,
        isDomain: input.is_domain,
        description: input.description,
        enabled: input.enabled,
        tags,
      })
      .catch((err) => {
        // The ids in the body name things that must exist: their absence is bad input.
        if (isCloudError(err, "not_found")) throw invalid(`Parent or domain not found: ${err.message}`);
        throw err;
      });
    try {
      if (!(await this.d.directory.grantServiceAccess(project.id)))
        throw unavailable(
          `Keystone has no role named ${this.d.config.openstack.serviceRole} to give rs-server's service account on the project (set openstack.serviceRole)`,
        );
      const pool = await this.d.pools.insert({
        id: project.id,
        name: project.name,
        domain_id: project.domainId,
        ...this.settingsPatch(input),
        flavor_id: input.flavor_id,
        image_id: input.image_id,
        network_id: input.network_id ?? null,
        availability_zone: input.availability_zone ?? this.d.config.pools.defaultAvailabilityZone,
        operation_mode: input.operation_mode ?? OperationMode.Standard,
        instance_name_pattern: input.instance_name_pattern ?? this.d.config.pools.instanceNamePattern,
        min_reserve_vm: input.min_reserve_vm ?? 0,
      });
      this.d.onChanged?.(pool.id);
      return pool;
    } catch (err) {
      // Leave no half-made pool behind: the Keystone project goes with the failure.
      await this.d.directory.deleteProject(project.id).catch((e) => {
        this.d.logger.warn(
          { err: e, projectId: project.id },
          "could not remove the project of a failed pool",
        );
      });
      throw err;
    }
  }

  async update(id: string, input: PoolUpdateInput): Promise<Pool> {
    const pool = await this.require(id);
    await this.checkSettings(input);
    if (input.name !== undefined && input.name.trim() === "") throw invalid("name must not be empty");
    const switching = input.operation_mode !== undefined && input.operation_mode !== pool.operation_mode;
    if (switching && input.operation_mode === OperationMode.Standard) await this.refuseCrowded(id);
    const ks: DirectoryProjectPatch = {};
    if (input.name !== undefined) ks.name = input.name;
    if (input.domain_id !== undefined) ks.domainId = input.domain_id;
    if (input.description !== undefined) ks.description = input.description;
    if (input.enabled !== undefined) ks.enabled = input.enabled;
    if (input.tags !== undefined) ks.tags = [...new Set([TRS_TAG, ...input.tags])];
    const patch = this.settingsPatch(input);
    const newImage =
      input.image_id !== undefined && input.image_id !== pool.image_id && this.d.changeImage
        ? input.image_id
        : undefined;
    if (newImage !== undefined) delete patch.image_id;
    if (Object.keys(ks).length > 0) {
      const project = await this.d.directory.updateProject(id, ks);
      patch.name = project.name;
      patch.domain_id = project.domainId;
    }
    try {
      const updated = switching
        ? await this.d.pools.switchMode(id, input.operation_mode!, patch)
        : await this.d.pools.update(id, patch);
      if (!updated) throw notFound(`TRS project ${id} not found`);
      if (newImage !== undefined) await this.d.changeImage!(id, newImage);
      this.d.onChanged?.(id);
      return newImage !== undefined ? await this.require(id) : updated;
    } catch (err) {
      if (err instanceof MultiUserInstanceError) throw this.crowdedError(err.instanceId);
      throw err;
    }
  }

  private crowdedError(instanceId: string) {
    return conflict(`Cannot switch to Standard mode: instance ${instanceId} has more than one user`);
  }

  private async refuseCrowded(poolId: string) {
    const counts = await this.d.instances.poolCounts(poolId);
    if (counts.simultaneous > 0) {
      const [crowded] = (
        await this.d.instances.withAssignees(await this.d.instances.list({ poolId }))
      ).filter((i) => i.users.length > 1);
      throw this.crowdedError(crowded?.id ?? "?");
    }
  }

  async list(q: PoolListQuery): Promise<PoolView[]> {
    const { directory } = this.d;
    const [domainIds, userProjects] = await Promise.all([
      q.domain !== undefined ? directory.domainIdsNamed(q.domain) : undefined,
      q.user !== undefined ? directory.projectIdsOfUser(q.user) : undefined,
    ]);
    const ids = q.id === undefined ? userProjects : (userProjects ?? [q.id]).filter((id) => id === q.id);
    const within =
      q.domainId === undefined ? domainIds : (domainIds ?? [q.domainId]).filter((id) => id === q.domainId);
    let pools = await this.d.pools.list({
      name: q.name,
      operationMode: q.operationMode,
      domainIds: within,
      ids,
    });
    let projects: Map<string, DirectoryProject> | undefined;
    if (q.enabled !== undefined || q.withOsObject) {
      // One Keystone call for the whole list, never one per pool.
      projects = new Map((await directory.listProjectsTagged([TRS_TAG])).map((p) => [p.id, p]));
    }
    if (q.draining !== undefined) pools = pools.filter((p) => p.draining === q.draining);
    if (q.enabled !== undefined && projects) {
      const known = projects;
      pools = pools.filter((p) => known.get(p.id)?.enabled === q.enabled);
    }
    const reserves = await this.reserveOf(pools);
    const rollouts = await this.rolloutsOf(pools);
    return pools.map((pool) => ({
      pool,
      ...(q.withOsObject ? { osProject: projects?.get(pool.id)?.raw ?? null } : {}),
      reserve: reserves.get(pool.id),
      rollout: rollouts.get(pool.id),
    }));
  }

  async show(id: string, withOsObject: boolean): Promise<PoolView> {
    const view = await this.view(await this.require(id));
    if (!withOsObject) return view;
    const project = await this.d.directory.getProject(id);
    return { ...view, osProject: project?.raw ?? null };
  }

  /** The pool with its reserve status. */
  async view(pool: Pool): Promise<PoolView> {
    return {
      pool,
      reserve: (await this.reserveOf([pool])).get(pool.id),
      rollout: (await this.rolloutsOf([pool])).get(pool.id),
    };
  }

  private async rolloutsOf(pools: Pool[]): Promise<Map<string, RolloutStatus>> {
    return this.d.rolloutsOf ? this.d.rolloutsOf(pools.map((p) => p.id)) : new Map();
  }

  /** The reserve status of these pools: one query for all of them, whatever their number. */
  private async reserveOf(pools: Pool[]): Promise<Map<string, ReserveStatus>> {
    const ids = pools.map((p) => p.id);
    const [counts, ready] = await Promise.all([
      this.d.reserve.freeCountsOf(ids),
      this.d.reserve.readyCountsOf(ids),
    ]);
    const now = new Date();
    const leadMs = this.d.config.reserve.leadSeconds * 1000;
    return new Map(
      pools.map((p) => {
        const c = counts.get(p.id);
        const schedule = scheduleOf(p.reserve_schedule);
        return [
          p.id,
          {
            state: p.reserve_state,
            message: p.reserve_message,
            failures: p.reserve_failures,
            backoffUntil: p.reserve_backoff_until,
            target: targetInEffect(schedule, p.min_reserve_vm, now, leadMs).target,
            nextChange: nextChange(schedule, p.min_reserve_vm, now, leadMs),
            ready: ready.get(p.id) ?? 0,
            free: c?.active ?? 0,
            building: c?.building ?? 0,
            failedBuilds: p.build_failures,
            lastFailure: p.last_build_failure,
            lastFailureAt: p.last_build_failure_at,
          },
        ];
      }),
    );
  }

  /**
   * Deletes the pool and its Keystone project. With instances it is refused unless forced; a
   * forced delete removes them from Nova first and ends their assignments (history kept).
   */
  async remove(id: string, opts: { force: boolean; actor: string | null }): Promise<void> {
    await this.require(id);
    const instances = await this.d.instances.list({ poolId: id });
    if (instances.length > 0 && !opts.force) {
      throw conflict(`TRS project ${id} has ${instances.length} instance(s); delete them or pass force=true`);
    }
    for (const instance of instances) {
      await this.d.cloud.nova.deleteServer(instance.id, { ignoreNotFound: true });
      await this.d.holders.endAll(instance.id, { actor: opts.actor, reason: "project deleted" });
      await this.d.instances.markDeleted(instance.id);
    }
    await this.d.directory.deleteProject(id);
    await this.d.volumeAssignments.removeProject(id);
    await this.d.pools.remove(id);
  }
}
