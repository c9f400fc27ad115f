// Typed client for the Compute API (Nova 2.1) at one pinned microversion, covering what the
// core does with servers: batched creation, tags, quotas, volumes and security groups.
import {
  CloudError,
  httpForProject,
  type IgnoreNotFound,
  ignoringNotFound,
  listPages,
  type Query,
  type ScopedHttp,
  type ServiceHttp,
} from "./http.ts";

/**
 * 2.79 (Train) is the floor that gives tags in the create body (2.52), tag filters, the
 * embedded flavor (2.47) and delete_on_termination on attachments, and every cloud from
 * Train to today (Zed ships 2.93) accepts it.
 */
export const NOVA_MICROVERSION = "2.79";

/** Nova reads the new header and, on older deployments, the legacy one: send both, only to Nova. */
export const NOVA_HEADERS: Record<string, string> = {
  "OpenStack-API-Version": `compute ${NOVA_MICROVERSION}`,
  "X-OpenStack-Nova-API-Version": NOVA_MICROVERSION,
};

export interface ServerAddress {
  addr: string;
  version: number;
  type: "fixed" | "floating" | string;
  mac?: string;
}

export interface ServerFault {
  code: number;
  message: string;
  details?: string;
  created?: string;
}

export interface NovaServer {
  id: string;
  name: string;
  /** BUILD, ACTIVE, ERROR, SHUTOFF, ... and DELETED in changes-since listings. */
  status: string;
  vmState: string | null;
  taskState: string | null;
  progress: number | null;
  /** Keyed by network name, as Nova shows them. */
  addresses: Record<string, ServerAddress[]>;
  tags: string[];
  projectId: string;
  userId: string;
  fault?: ServerFault;
  /** When the server first booted (OS-SRV-USG); null for a server whose build never finished. */
  launchedAt: string | null;
  created: string;
  updated: string;
  metadata: Record<string, string>;
  /** Security group names. */
  securityGroups: string[];
  availabilityZone: string | null;
  /** The embedded flavor's original name (2.47+ has no flavor id in the server). */
  flavorName: string | null;
  imageId: string | null;
  /** Nova's own object, untouched, for `os_server`. */
  raw: Record<string, any>;
}

export interface CreateServersInput {
  name: string;
  flavorId: string;
  imageId: string;
  networkIds: string[];
  availabilityZone?: string;
  /** Already base64, as Nova wants it. */
  userData?: string;
  tags?: string[];
  metadata?: Record<string, string>;
  /** Names or ids (Nova resolves both through Neutron). */
  securityGroups?: string[];
  description?: string;
  minCount?: number;
  maxCount?: number;
  /** Create in this project (through a token scoped to it); default the session's project. */
  projectId?: string;
}

export interface CreateServersResult {
  reservationId: string;
  ids: string[];
  /** The servers as Nova named them (a batch: `<name>-1..N`), in the order of `ids`. */
  servers: { id: string; name: string }[];
}

export interface ListServersFilters {
  /** Servers carrying all of these tags. */
  tags?: string[];
  /** Servers carrying any of these tags. */
  tagsAny?: string[];
  /** One project's servers (an admin query: implies all_tenants). */
  projectId?: string;
  /** Every project's servers. */
  allTenants?: boolean;
  /** Servers changed since then, deleted ones included (status DELETED). */
  changesSince?: string | Date;
  reservationId?: string;
  /** A regular expression, as Nova treats it. */
  name?: string;
  status?: string;
  /** Page size; every page is followed anyway. */
  pageSize?: number;
}

export interface NovaFlavor {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
  ephemeral: number;
  swap: number;
  isPublic: boolean;
  raw: Record<string, any>;
}

export interface QuotaUsage {
  /** -1 means unlimited. */
  limit: number;
  inUse: number;
  reserved: number;
}

export type QuotaUsageSet = Record<string, QuotaUsage>;

/**
 * The limits and usage of a detailed quota set ({"cores": {"limit", "in_use", "reserved"}, ...},
 * Neutron's usage key being `used`); keys without a limit (the id) are left out.
 */
export function toQuotaUsageSet(raw: Record<string, any>, inUseKey: "in_use" | "used"): QuotaUsageSet {
  const out: QuotaUsageSet = {};
  for (const [k, v] of Object.entries(raw)) {
    if (v && typeof v === "object" && typeof v.limit === "number") {
      out[k] = { limit: v.limit, inUse: v[inUseKey] ?? 0, reserved: v.reserved ?? 0 };
    }
  }
  return out;
}

export interface Headroom {
  /** How many more servers of the flavor fit, or null when nothing limits them. */
  servers: number | null;
  /** The resource that limits `servers` (null when unlimited). */
  limitedBy: "instances" | "cores" | "ram" | null;
  instances: number | null;
  cores: number | null;
  ram: number | null;
}

export interface VolumeAttachment {
  id: string;
  serverId: string;
  volumeId: string;
  device: string | null;
  deleteOnTermination?: boolean;
  raw: Record<string, any>;
}

export interface AvailabilityZone {
  name: string;
  available: boolean;
}

export function toServer(raw: Record<string, any>): NovaServer {
  const addresses: Record<string, ServerAddress[]> = {};
  for (const [net, list] of Object.entries((raw.addresses ?? {}) as Record<string, any[]>)) {
    addresses[net] = list.map((a) => ({
      addr: a.addr,
      version: a.version,
      type: a["OS-EXT-IPS:type"] ?? "fixed",
      mac: a["OS-EXT-IPS-MAC:mac_addr"],
    }));
  }
  return {
    id: raw.id,
    name: raw.name,
    status: raw.status,
    vmState: raw["OS-EXT-STS:vm_state"] ?? null,
    taskState: raw["OS-EXT-STS:task_state"] ?? null,
    progress: typeof raw.progress === "number" ? raw.progress : null,
    addresses,
    tags: raw.tags ?? [],
    projectId: raw.tenant_id,
    userId: raw.user_id,
    fault: raw.fault,
    launchedAt: raw["OS-SRV-USG:launched_at"] ?? null,
    created: raw.created,
    updated: raw.updated,
    metadata: raw.metadata ?? {},
    securityGroups: ((raw.security_groups ?? []) as { name: string }[]).map((g) => g.name),
    availabilityZone: raw["OS-EXT-AZ:availability_zone"] ?? null,
    flavorName: raw.flavor?.original_name ?? null,
    // A server booted from a volume has "" as its image.
    imageId: raw.image && typeof raw.image === "object" ? raw.image.id : null,
    raw,
  };
}

/** Every address of a server, fixed and floating, optionally on one network (by name). */
export function serverAddresses(server: NovaServer, type?: "fixed" | "floating", network?: string): string[] {
  const out: string[] = [];
  for (const [net, list] of Object.entries(server.addresses)) {
    if (network !== undefined && net !== network) continue;
    for (const a of list) if (type === undefined || a.type === type) out.push(a.addr);
  }
  return out;
}

export function toFlavor(raw: Record<string, any>): NovaFlavor {
  return {
    id: raw.id,
    name: raw.name,
    vcpus: raw.vcpus,
    ram: raw.ram,
    disk: raw.disk,
    ephemeral: raw["OS-FLV-EXT-DATA:ephemeral"] ?? 0,
    // Nova answers "" for a flavor without swap.
    swap: typeof raw.swap === "number" ? raw.swap : 0,
    isPublic: raw["os-flavor-access:is_public"] ?? true,
    raw,
  };
}

function toAttachment(raw: Record<string, any>): VolumeAttachment {
  return {
    id: raw.id,
    serverId: raw.serverId,
    volumeId: raw.volumeId,
    device: raw.device ?? null,
    deleteOnTermination: raw.delete_on_termination,
    raw,
  };
}

/** Room left under one quota: null when unlimited. */
function left(q: QuotaUsage | undefined): number | null {
  if (!q || q.limit < 0) return null;
  return Math.max(0, q.limit - q.inUse - q.reserved);
}

/** How many more servers of a flavor a project's Nova quota admits, and what limits it. */
export function headroomFor(usage: QuotaUsageSet, flavor: Pick<NovaFlavor, "vcpus" | "ram">): Headroom {
  const instances = left(usage.instances);
  const cores = left(usage.cores);
  const ram = left(usage.ram);
  const candidates: [Headroom["limitedBy"], number | null][] = [
    ["instances", instances],
    ["cores", cores === null || flavor.vcpus <= 0 ? null : Math.floor(cores / flavor.vcpus)],
    ["ram", ram === null || flavor.ram <= 0 ? null : Math.floor(ram / flavor.ram)],
  ];
  let servers: number | null = null;
  let limitedBy: Headroom["limitedBy"] = null;
  for (const [name, n] of candidates) {
    if (n !== null && (servers === null || n < servers)) {
      servers = n;
      limitedBy = name;
    }
  }
  return { servers, limitedBy, instances, cores, ram };
}

/** A console Nova serves itself (its noVNC or SPICE HTML5 proxy): the URL to hand the user. */
export interface RemoteConsole {
  protocol: "vnc" | "spice";
  type: "novnc" | "spice-html5";
  url: string;
}

export class NovaClient {
  constructor(
    private readonly http: ServiceHttp,
    private readonly scoped?: ScopedHttp,
  ) {}

  private forProject(projectId: string | undefined): Promise<ServiceHttp> {
    return httpForProject(this.http, this.scoped, projectId);
  }

  /**
   * Creates min..max servers in one request. Nova answers only a reservation id for a batch,
   * so the ids come from listing that reservation (build requests are listed before 202).
   */
  async createServers(input: CreateServersInput): Promise<CreateServersResult> {
    const http = await this.forProject(input.projectId);
    const server: Record<string, unknown> = {
      name: input.name,
      flavorRef: input.flavorId,
      imageRef: input.imageId,
      networks: input.networkIds.map((uuid) => ({ uuid })),
      min_count: input.minCount ?? 1,
      max_count: input.maxCount ?? input.minCount ?? 1,
      return_reservation_id: true,
    };
    if (input.availabilityZone) server.availability_zone = input.availabilityZone;
    if (input.userData) server.user_data = input.userData;
    if (input.tags?.length) server.tags = input.tags;
    if (input.metadata) server.metadata = input.metadata;
    if (input.description !== undefined) server.description = input.description;
    if (input.securityGroups?.length) server.security_groups = input.securityGroups.map((name) => ({ name }));
    const res = await http.post<{ reservation_id: string }>("/servers", { server });
    const reservationId = res?.reservation_id;
    if (!reservationId) throw new CloudError("unavailable", "Nova answered no reservation_id", "compute");
    const servers = await this.listWith(http, { reservationId });
    return {
      reservationId,
      ids: servers.map((s) => s.id),
      servers: servers.map((s) => ({ id: s.id, name: s.name })),
    };
  }

  async getServer(id: string): Promise<NovaServer> {
    const res = await this.http.get<{ server: Record<string, any> }>(`/servers/${encodeURIComponent(id)}`);
    return toServer(res.server);
  }

  /** Detail listing with every page followed. */
  listServers(filters: ListServersFilters = {}): Promise<NovaServer[]> {
    return this.listWith(this.http, filters);
  }

  private async listWith(http: ServiceHttp, f: ListServersFilters): Promise<NovaServer[]> {
    const changesSince = f.changesSince instanceof Date ? f.changesSince.toISOString() : f.changesSince;
    const query: Query = {
      tags: f.tags?.length ? f.tags.join(",") : undefined,
      "tags-any": f.tagsAny?.length ? f.tagsAny.join(",") : undefined,
      all_tenants: f.allTenants || f.projectId ? "1" : undefined,
      project_id: f.projectId,
      "changes-since": changesSince,
      reservation_id: f.reservationId,
      name: f.name,
      status: f.status,
      limit: f.pageSize,
    };
    return (await listPages(http, "/servers/detail", "servers", query)).map(toServer);
  }

  /** Renames a server or changes its description (batched creation names them name-1..N). */
  async updateServer(id: string, changes: { name?: string; description?: string }): Promise<NovaServer> {
    const res = await this.http.put<{ server: Record<string, any> }>(`/servers/${encodeURIComponent(id)}`, {
      server: changes,
    });
    return toServer(res.server);
  }

  /** Answers false when the server was already gone and `ignoreNotFound` was asked. */
  deleteServer(id: string, opts: IgnoreNotFound = {}): Promise<boolean> {
    return ignoringNotFound(this.http.delete(`/servers/${encodeURIComponent(id)}`), opts);
  }

  // Tags can be changed only on ACTIVE, PAUSED, SUSPENDED or STOPPED servers (409 otherwise):
  // tag at creation time.
  async listTags(serverId: string): Promise<string[]> {
    const res = await this.http.get<{ tags: string[] }>(`/servers/${encodeURIComponent(serverId)}/tags`);
    return res.tags;
  }

  async addTag(serverId: string, tag: string): Promise<void> {
    await this.http.put(`/servers/${encodeURIComponent(serverId)}/tags/${encodeURIComponent(tag)}`);
  }

  async replaceTags(serverId: string, tags: string[]): Promise<string[]> {
    const res = await this.http.put<{ tags: string[] }>(`/servers/${encodeURIComponent(serverId)}/tags`, {
      tags,
    });
    return res.tags;
  }

  deleteTag(serverId: string, tag: string, opts: IgnoreNotFound = {}): Promise<boolean> {
    return ignoringNotFound(
      this.http.delete(`/servers/${encodeURIComponent(serverId)}/tags/${encodeURIComponent(tag)}`),
      opts,
    );
  }

  async getFlavor(id: string): Promise<NovaFlavor> {
    const res = await this.http.get<{ flavor: Record<string, any> }>(`/flavors/${encodeURIComponent(id)}`);
    return toFlavor(res.flavor);
  }

  async listFlavors(): Promise<NovaFlavor[]> {
    return (await listPages(this.http, "/flavors/detail", "flavors", {})).map(toFlavor);
  }

  /** The `absolute` limits (maxTotalInstances, totalInstancesUsed, ...) of a project, default our own. */
  async getAbsoluteLimits(projectId?: string): Promise<Record<string, number>> {
    const res = await this.http.get<{ limits: { absolute: Record<string, number> } }>("/limits", {
      query: { tenant_id: projectId },
    });
    return res.limits.absolute;
  }

  async getQuotaUsage(projectId: string): Promise<QuotaUsageSet> {
    const res = await this.http.get<{ quota_set: Record<string, any> }>(
      `/os-quota-sets/${encodeURIComponent(projectId)}/detail`,
    );
    return toQuotaUsageSet(res.quota_set, "in_use");
  }

  /** Admin: sets a project's compute quotas (instances, cores, ram, ...). */
  async setQuotas(projectId: string, quotas: Record<string, number>): Promise<void> {
    await this.http.put(`/os-quota-sets/${encodeURIComponent(projectId)}`, { quota_set: quotas });
  }

  /** Admin: back to the defaults. */
  async resetQuotas(projectId: string): Promise<void> {
    await this.http.delete(`/os-quota-sets/${encodeURIComponent(projectId)}`);
  }

  async headroom(projectId: string, flavor: Pick<NovaFlavor, "vcpus" | "ram">): Promise<Headroom> {
    return headroomFor(await this.getQuotaUsage(projectId), flavor);
  }

  async attachVolume(
    serverId: string,
    volumeId: string,
    opts: { device?: string; deleteOnTermination?: boolean } = {},
  ): Promise<VolumeAttachment> {
    const volumeAttachment: Record<string, unknown> = { volumeId };
    if (opts.device) volumeAttachment.device = opts.device;
    if (opts.deleteOnTermination !== undefined)
      volumeAttachment.delete_on_termination = opts.deleteOnTermination;
    const res = await this.http.post<{ volumeAttachment: Record<string, any> }>(
      `/servers/${encodeURIComponent(serverId)}/os-volume_attachments`,
      { volumeAttachment },
    );
    return toAttachment(res.volumeAttachment);
  }

  async listVolumeAttachments(serverId: string): Promise<VolumeAttachment[]> {
    const res = await this.http.get<{ volumeAttachments: Record<string, any>[] }>(
      `/servers/${encodeURIComponent(serverId)}/os-volume_attachments`,
    );
    return res.volumeAttachments.map(toAttachment);
  }

  /** Starts the detach (202); the volume goes detaching → available on Cinder's side. */
  detachVolume(serverId: string, volumeId: string, opts: IgnoreNotFound = {}): Promise<boolean> {
    return ignoringNotFound(
      this.http.delete(
        `/servers/${encodeURIComponent(serverId)}/os-volume_attachments/${encodeURIComponent(volumeId)}`,
      ),
      opts,
    );
  }

  /**
   * Re-images the server from an image (202; status REBUILD, then ACTIVE): a fresh disk,
   * the same id, ports and attached volumes.
   */
  async rebuildServer(serverId: string, imageId: string): Promise<void> {
    await this.action(serverId, { rebuild: { imageRef: imageId } });
  }

  /** Pass the group's id: Nova resolves a name only within the token's own project. */
  async addSecurityGroup(serverId: string, group: string): Promise<void> {
    await this.action(serverId, { addSecurityGroup: { name: group } });
  }

  async removeSecurityGroup(serverId: string, group: string): Promise<void> {
    await this.action(serverId, { removeSecurityGroup: { name: group } });
  }

  private async action(serverId: string, body: Record<string, unknown>): Promise<void> {
    await this.http.post(`/servers/${encodeURIComponent(serverId)}/action`, body);
  }

  /**
   * A console served by Nova's own proxy (POST /servers/{id}/remote-consoles, microversion
   * 2.6+): vnc gives its noVNC page, spice its SPICE HTML5 page, each with a token of Nova's.
   */
  async createRemoteConsole(serverId: string, protocol: "vnc" | "spice"): Promise<RemoteConsole> {
    const type = protocol === "vnc" ? "novnc" : "spice-html5";
    const res = await this.http.post<{ remote_console: { protocol: string; type: string; url: string } }>(
      `/servers/${encodeURIComponent(serverId)}/remote-consoles`,
      { remote_console: { protocol, type } },
    );
    const rc = res?.remote_console;
    if (!rc?.url) throw new CloudError("unavailable", "Nova answered no remote console URL", "compute");
    return { protocol, type, url: rc.url };
  }

  async listAvailabilityZones(): Promise<AvailabilityZone[]> {
    const res = await this.http.get<{
      availabilityZoneInfo: { zoneName: string; zoneState: { available: boolean } }[];
    }>("/os-availability-zone");
    return res.availabilityZoneInfo.map((z) => ({ name: z.zoneName, available: !!z.zoneState?.available }));
  }
}
