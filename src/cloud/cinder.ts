// Typed client for the Block Storage API (Cinder v3): users' persistent volumes, their types
// and quotas. Waiting for a status is the core's job (it polls with its own deadline).
import {
  httpForProject,
  type IgnoreNotFound,
  ignoringNotFound,
  listPages,
  type Query,
  type ScopedHttp,
  type ServiceHttp,
} from "./http.ts";
import { type QuotaUsageSet, toQuotaUsageSet } from "./nova.ts";

/** 3.60 (Ussuri) is within every supported cloud's range (Zed: 3.70); sent only to Cinder. */
export const CINDER_MICROVERSION = "3.60";

export const CINDER_HEADERS: Record<string, string> = {
  "OpenStack-API-Version": `volume ${CINDER_MICROVERSION}`,
};

export interface CinderAttachment {
  serverId: string;
  attachmentId: string;
  device: string | null;
}

export interface CinderVolume {
  id: string;
  name: string;
  /** creating, available, attaching, in-use, detaching, deleting, error, ... */
  status: string;
  size: number;
  volumeType: string | null;
  /** Shown to admins only (os-vol-tenant-attr:tenant_id). */
  projectId: string | null;
  availabilityZone: string | null;
  attachments: CinderAttachment[];
  metadata: Record<string, string>;
  bootable: boolean;
  created: string;
  updated: string | null;
  raw: Record<string, any>;
}

export interface CreateVolumeInput {
  size: number;
  /** Type name or id. */
  volumeType?: string;
  name?: string;
  description?: string;
  metadata?: Record<string, string>;
  availabilityZone?: string;
  /** Create in this project (through a token scoped to it); default the session's project. */
  projectId?: string;
}

export interface ListVolumesFilters {
  /** One project's volumes (an admin query: implies all_tenants). */
  projectId?: string;
  allTenants?: boolean;
  name?: string;
  status?: string;
  metadata?: Record<string, string>;
  pageSize?: number;
}

export interface VolumeType {
  id: string;
  name: string;
  description: string | null;
  isPublic: boolean;
  raw: Record<string, any>;
}

function toVolume(raw: Record<string, any>): CinderVolume {
  return {
    id: raw.id,
    name: raw.name ?? "",
    status: raw.status,
    size: raw.size,
    volumeType: raw.volume_type ?? null,
    projectId: raw["os-vol-tenant-attr:tenant_id"] ?? null,
    availabilityZone: raw.availability_zone ?? null,
    attachments: ((raw.attachments ?? []) as any[]).map((a) => ({
      serverId: a.server_id,
      attachmentId: a.attachment_id ?? a.id,
      device: a.device ?? null,
    })),
    metadata: raw.metadata ?? {},
    // Cinder writes bootable as the string "true"/"false".
    bootable: raw.bootable === true || raw.bootable === "true",
    created: raw.created_at,
    updated: raw.updated_at ?? null,
    raw,
  };
}

function toVolumeType(raw: Record<string, any>): VolumeType {
  return {
    id: raw.id,
    name: raw.name,
    description: raw.description ?? null,
    isPublic: raw["os-volume-type-access:is_public"] ?? raw.is_public ?? true,
    raw,
  };
}

export class CinderClient {
  constructor(
    private readonly http: ServiceHttp,
    private readonly scoped?: ScopedHttp,
  ) {}

  private forProject(projectId: string | undefined): Promise<ServiceHttp> {
    return httpForProject(this.http, this.scoped, projectId);
  }

  /** Starts the creation (status creating); quota refusals come back as quota_exceeded (413). */
  async createVolume(input: CreateVolumeInput): Promise<CinderVolume> {
    const http = await this.forProject(input.projectId);
    const volume: Record<string, unknown> = { size: input.size };
    if (input.volumeType) volume.volume_type = input.volumeType;
    if (input.name !== undefined) volume.name = input.name;
    if (input.description !== undefined) volume.description = input.description;
    if (input.metadata) volume.metadata = input.metadata;
    if (input.availabilityZone) volume.availability_zone = input.availabilityZone;
    const res = await http.post<{ volume: Record<string, any> }>("/volumes", { volume });
    return toVolume(res.volume);
  }

  async getVolume(id: string): Promise<CinderVolume> {
    const res = await this.http.get<{ volume: Record<string, any> }>(`/volumes/${encodeURIComponent(id)}`);
    return toVolume(res.volume);
  }

  async listVolumes(f: ListVolumesFilters = {}): Promise<CinderVolume[]> {
    const query: Query = {
      all_tenants: f.allTenants || f.projectId ? "1" : undefined,
      project_id: f.projectId,
      name: f.name,
      status: f.status,
      // Cinder parses this filter as a Python literal; JSON of string pairs is one.
      metadata: f.metadata ? JSON.stringify(f.metadata) : undefined,
      limit: f.pageSize,
    };
    return (await listPages(this.http, "/volumes/detail", "volumes", query)).map(toVolume);
  }

  /** Starts the deletion (202); refused with 400 while the volume is attached. */
  deleteVolume(id: string, opts: IgnoreNotFound = {}): Promise<boolean> {
    return ignoringNotFound(this.http.delete(`/volumes/${encodeURIComponent(id)}`), opts);
  }

  async listVolumeTypes(): Promise<VolumeType[]> {
    const res = await this.http.get<{ volume_types: Record<string, any>[] }>("/types");
    return res.volume_types.map(toVolumeType);
  }

  async getVolumeType(id: string): Promise<VolumeType> {
    const res = await this.http.get<{ volume_type: Record<string, any> }>(`/types/${encodeURIComponent(id)}`);
    return toVolumeType(res.volume_type);
  }

  /** Limits and usage per resource (volumes, gigabytes, per-type keys, ...). */
  async getQuotaUsage(projectId: string): Promise<QuotaUsageSet> {
    const res = await this.http.get<{ quota_set: Record<string, any> }>(
      `/os-quota-sets/${encodeURIComponent(projectId)}`,
      { query: { usage: "true" } },
    );
    return toQuotaUsageSet(res.quota_set, "in_use");
  }

  /** Admin: sets a project's volume quotas (volumes, gigabytes, ...). */
  async setQuotas(projectId: string, quotas: Record<string, number>): Promise<void> {
    await this.http.put(`/os-quota-sets/${encodeURIComponent(projectId)}`, { quota_set: quotas });
  }

  /** Admin: back to the defaults. */
  async resetQuotas(projectId: string): Promise<void> {
    await this.http.delete(`/os-quota-sets/${encodeURIComponent(projectId)}`);
  }
}
