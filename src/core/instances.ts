// TRS instances: Nova servers of a pool, tagged `trs`, created from the pool's template and
// recorded by us. API (admin routes, broker, reserve):
//   create(input, actor) → { ids, reservationId }   (batched Nova requests of MAX_BATCH)
//   update(id, { users, groups }, actor) / list(query) / show(id, withOs) / remove(id, actor)
//   syncFromNova(servers) → copies Nova's view of known servers into our records
//   require(id) → the instance or a 404
import type { Cloud } from "../cloud/cloud.ts";
import type { NovaServer } from "../cloud/nova.ts";
import { serverAddresses } from "../cloud/nova.ts";
import type { PageQuery } from "../shared/paging.ts";
import type { Filter } from "../shared/types.ts";
import {
  INSTANCE_SORT_KEYS,
  type Instance,
  type InstanceRepository,
  type InstanceWithAssignees,
} from "../store/instances.ts";
import type { Pool, PoolRepository } from "../store/pools.ts";
import type { SessionRepository } from "../store/sessions.ts";
import type { AssignmentService } from "./assignments.ts";
import { type BuildFailureService, failedBuilds } from "./build-failures.ts";
import { conflict, invalid, notFound } from "./errors.ts";
import { forEachLimited } from "./limited.ts";
import { batchName, explicitNames, MAX_INSTANCE_NAME, namesForBatch, namesFromPattern } from "./naming.ts";
import { type PoolService, TRS_TAG } from "./pools.ts";
import type { Readiness } from "./readiness.ts";

/**
 * Nova caps a request only by the quota; a request of ours asks Nova for at most this many
 * servers at once so that one call stays reasonable (a larger count is several requests).
 */
export const MAX_BATCH = 100;
/** Renames of a batch in flight at once. */
const RENAME_CONCURRENCY = 8;

/** The servers one Nova request made: their ids in name order and the name each is to carry. */
interface Batch {
  reservationId: string;
  ids: string[];
  names: Map<string, string>;
  /** Servers whose Nova name is not theirs. */
  renames: string[];
}

export interface InstanceCreateInput {
  /** The pool; default the caller's project scope. */
  projectId?: string;
  name?: string;
  count?: number;
  description?: string;
  users?: string[];
  groups?: string[];
}

export interface InstanceListQuery {
  /** Modifier filters on project_id and assigned (values normalised to "true"/"false"). */
  filters: Filter[];
  user?: string;
  group?: string;
  withOsObject?: boolean;
  /** One page (sort keys INSTANCE_SORTS) after page.marker, an instance id (else invalid). */
  page?: PageQuery;
  /** Only instances (not) draining. */
  draining?: boolean;
}

/** The keys GET /servers/ sorts by. */
export const INSTANCE_SORTS: readonly string[] = INSTANCE_SORT_KEYS;

export interface InstanceView {
  instance: InstanceWithAssignees;
  /** Present when asked for: Nova's server, or null when Nova no longer has it. */
  osServer?: Record<string, unknown> | null;
}

export interface InstanceServiceDeps {
  instances: InstanceRepository;
  pools: PoolRepository;
  sessions: SessionRepository;
  poolService: PoolService;
  assignments: AssignmentService;
  cloud: Pick<Cloud, "nova">;
  /** Told of the servers whose build failed, as their status is copied from Nova. */
  buildFailures?: Pick<BuildFailureService, "notice">;
  /** Told of the servers now ACTIVE, which may become ready (core/readiness.ts). */
  readiness?: Pick<Readiness, "activated">;
}

function statusOf(server: NovaServer) {
  return {
    id: server.id,
    status: server.status,
    vmState: server.vmState,
    taskState: server.taskState,
    progress: server.progress,
    fixedIp: serverAddresses(server, "fixed")[0] ?? null,
    fault: server.fault?.message ?? null,
    // The image it runs now (a session policy's rebuild changes it): roll-outs count on it.
    imageId: server.imageId || null,
  };
}

export class InstanceService {
  constructor(private readonly d: InstanceServiceDeps) {}

  async require(id: string): Promise<Instance> {
    const instance = await this.d.instances.get(id);
    if (!instance) throw notFound(`TRS instance ${id} not found`);
    return instance;
  }

  /** Names for a batch: the explicit name, or fresh counters of the pool's pattern. */
  private async namesFor(pool: Pool, name: string | undefined, count: number): Promise<string[]> {
    if (name !== undefined) {
      if (name.trim() === "") throw invalid("name must not be empty");
      const names = explicitNames(name, count);
      if (names.some((n) => n.length > MAX_INSTANCE_NAME)) {
        throw invalid(`Instance names are at most ${MAX_INSTANCE_NAME} characters`);
      }
      return names;
    }
    const first = await this.d.pools.allocateNames(pool.id, count);
    if (first === undefined) throw notFound(`TRS project ${pool.id} not found`);
    const names = namesFromPattern(pool.instance_name_pattern, first, count);
    if (names.some((n) => n.length > MAX_INSTANCE_NAME)) {
      throw invalid(
        `The pattern of project ${pool.id} makes names longer than ${MAX_INSTANCE_NAME} characters`,
      );
    }
    return names;
  }

  async create(
    input: InstanceCreateInput,
    actor: string | null,
  ): Promise<{ ids: string[]; reservationId: string }> {
    const count = input.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw invalid("count must be a positive integer");
    if (!input.projectId) throw invalid("project_id is required when the token is not scoped to a project");
    const pool = await this.d.poolService.requireReferenced(input.projectId);
    if (!pool.network_id) {
      throw invalid(`TRS project ${pool.id} has no network_id: set one with PUT /v1/projects/${pool.id}`);
    }
    const users = [...new Set(input.users ?? [])];
    const groups = [...new Set(input.groups ?? [])];
    const limit = this.d.poolService.limitOf(pool);
    if (limit !== null && users.length > limit) {
      throw conflict(`An instance of TRS project ${pool.id} may hold at most ${limit} user(s)`);
    }
    await this.d.assignments.checkSubjects(users, groups);
    if (count > MAX_BATCH) await this.checkQuota(pool, count);
    const names = await this.namesFor(pool, input.name, count);
    const batches: Batch[] = [];
    try {
      for (let i = 0; i < names.length; i += MAX_BATCH) {
        batches.push(await this.createBatch(pool, names.slice(i, i + MAX_BATCH), input.description));
      }
    } catch (err) {
      // All or nothing: a later batch refused (the quota taken meanwhile, Nova down) takes
      // back the servers of the earlier ones.
      const made = batches.flatMap((b) => b.ids);
      await forEachLimited(made, RENAME_CONCURRENCY, (id) =>
        this.d.cloud.nova.deleteServer(id, { ignoreNotFound: true }).then(
          () => undefined,
          () => undefined,
        ),
      );
      throw err;
    }
    const ids = batches.flatMap((b) => b.ids);
    await this.d.instances.insertMany(
      batches.flatMap((b) =>
        b.ids.map((id) => ({
          id,
          pool_id: pool.id,
          name: b.names.get(id)!,
          description: input.description ?? null,
          reservation_id: b.reservationId,
          image_id: pool.image_id,
        })),
      ),
    );
    // Nova names a batch after one template: rename the servers whose Nova name is not the one
    // we recorded (none when the names are `<name>-1..N`); a failed rename leaves Nova's name,
    // our record keeps ours.
    const renames = batches.flatMap((b) => b.renames.map((id) => ({ id, name: b.names.get(id)! })));
    await forEachLimited(renames, RENAME_CONCURRENCY, async (s) => {
      await this.d.cloud.nova.updateServer(s.id, { name: s.name }).catch(() => undefined);
    });
    for (const id of ids) {
      if (users.length > 0) await this.d.assignments.assignUsersChecked(id, users, actor);
      if (groups.length > 0) await this.d.assignments.assignGroupsChecked(id, groups, actor);
    }
    return { ids, reservationId: batches[0]!.reservationId };
  }

  /**
   * Before several requests: the whole count must fit in the project's Nova quota, as it
   * must for one request, so that none is made when the last would be refused.
   */
  private async checkQuota(pool: Pool, count: number): Promise<void> {
    const { nova } = this.d.cloud;
    const room = await nova.headroom(pool.id, await nova.getFlavor(pool.flavor_id));
    if (room.servers !== null && room.servers < count) {
      throw invalid(
        `Quota exceeded for ${room.limitedBy}: Requested ${count} instance(s), but the quota of project ${pool.id} leaves room for ${room.servers}`,
      );
    }
  }

  /** One Nova request for these names; the ids in the order of the names. */
  private async createBatch(pool: Pool, names: string[], description: string | undefined): Promise<Batch> {
    const count = names.length;
    const created = await this.d.cloud.nova.createServers({
      projectId: pool.id,
      name: count === 1 ? names[0] : batchName(names),
      flavorId: pool.flavor_id,
      imageId: pool.image_id,
      networkIds: [pool.network_id!],
      availabilityZone: pool.availability_zone ?? undefined,
      userData: pool.instance_init_script ?? undefined,
      tags: [TRS_TAG],
      metadata: { trs_project_id: pool.id },
      description,
      minCount: count,
      maxCount: count,
    });
    const wanted =
      count === 1
        ? new Map([[created.ids[0]!, names[0]!]])
        : namesForBatch(batchName(names), created.servers, names);
    // In the order of their names: the first server of the answer is the first name.
    const position = new Map(names.map((n, i) => [n, i]));
    const ids = [...created.ids].sort(
      (a, b) => (position.get(wanted.get(a)!) ?? 0) - (position.get(wanted.get(b)!) ?? 0),
    );
    for (const id of ids) if (!wanted.has(id)) wanted.set(id, names[0]!);
    return {
      reservationId: created.reservationId,
      ids,
      names: wanted,
      renames: created.servers.filter((s) => wanted.get(s.id) !== s.name).map((s) => s.id),
    };
  }

  async update(
    id: string,
    input: { users?: string[]; groups?: string[] },
    actor: string | null,
  ): Promise<InstanceWithAssignees> {
    await this.require(id);
    await this.d.assignments.replace(id, input.users, input.groups, actor);
    return this.view(id);
  }

  async view(id: string): Promise<InstanceWithAssignees> {
    const [view] = await this.d.instances.withAssignees([await this.require(id)]);
    return view;
  }

  /** Copies Nova's state of the servers we know into our records. */
  async syncFromNova(servers: NovaServer[]): Promise<void> {
    await this.d.instances.applyStatus(servers.map(statusOf));
    await this.d.readiness?.activated(servers.filter((s) => s.status === "ACTIVE").map((s) => s.id));
    const failed = failedBuilds(servers);
    if (failed.length > 0) await this.d.buildFailures?.notice(failed);
  }

  async list(q: InstanceListQuery): Promise<InstanceView[]> {
    if (q.page?.marker !== undefined && !(await this.d.instances.exists(q.page.marker)))
      throw invalid(`marker ${q.page.marker} is not an instance`);
    let rows = await this.d.instances.list({
      filters: q.filters,
      user: q.user,
      group: q.group,
      draining: q.draining,
      page: q.page,
    });
    const query = { filters: q.filters, user: q.user, group: q.group, draining: q.draining };
    if (!q.withOsObject)
      return (await this.d.instances.withAssignees(rows)).map((instance) => ({ instance }));
    const servers = await this.fetchServers(rows);
    await this.syncFromNova([...servers.values()]);
    // Read again: the statuses just copied from Nova are the ones to show beside os_server.
    // In the order of the first read (a page's).
    const order = new Map(rows.map((r, i) => [r.id, i]));
    rows = (await this.d.instances.list({ ...query, ids: rows.map((r) => r.id) })).sort(
      (a, b) => (order.get(a.id) ?? 0) - (order.get(b.id) ?? 0),
    );
    const views = await this.d.instances.withAssignees(rows);
    return views.map((instance) => ({ instance, osServer: servers.get(instance.id)?.raw ?? null }));
  }

  /** Nova's servers for these records in one listing (one project's, or every TRS one). */
  private async fetchServers(rows: Instance[]): Promise<Map<string, NovaServer>> {
    if (rows.length === 0) return new Map();
    const pools = new Set(rows.map((r) => r.pool_id));
    const servers =
      pools.size === 1
        ? await this.d.cloud.nova.listServers({ projectId: [...pools][0] })
        : await this.d.cloud.nova.listServers({ tags: [TRS_TAG], allTenants: true });
    return new Map(servers.map((s) => [s.id, s]));
  }

  async show(id: string, withOsObject: boolean): Promise<InstanceView> {
    const instance = await this.view(id);
    if (!withOsObject) return { instance };
    let server: NovaServer | undefined;
    try {
      server = await this.d.cloud.nova.getServer(id);
    } catch (err) {
      if ((err as { kind?: string }).kind !== "not_found") throw err;
    }
    if (server) await this.syncFromNova([server]);
    return { instance: server ? await this.view(id) : instance, osServer: server?.raw ?? null };
  }

  /** Deletes the server in Nova and ends its assignments and open sessions (history kept). */
  async remove(id: string, actor: string | null): Promise<void> {
    await this.require(id);
    await this.d.cloud.nova.deleteServer(id, { ignoreNotFound: true });
    await this.d.assignments.endAll(id, actor, "instance deleted");
    const now = new Date();
    for (const session of await this.d.sessions.openOf(id)) await this.d.sessions.close(session.id, now);
    await this.d.instances.markDeleted(id);
  }
}
