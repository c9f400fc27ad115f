// Cinder's simulated world: volumes indexed by project, the default volume type, quotas, and
// the asynchronous status transitions (creating, attaching, detaching, deleting) that the
// cloud's single timeline drives.
import { randomUUID } from "node:crypto";
import { dict } from "../dict.ts";

export interface AttachmentRecord {
  attachment_id: string;
  server_id: string;
  device: string;
  attached_at: string;
  host_name: string | null;
}

export interface VolumeRecord {
  id: string;
  name: string | null;
  description: string | null;
  size: number;
  status: string;
  project_id: string;
  user_id: string;
  availability_zone: string;
  volume_type_id: string;
  metadata: Record<string, string>;
  bootable: boolean;
  created_at: string;
  updated_at: string | null;
  attachments: AttachmentRecord[];
  /** The status reached when `due_at` passes; undefined when no transition is pending. */
  next_status?: string;
  due_at?: number;
}

export interface VolumeTypeRecord {
  id: string;
  name: string;
  description: string | null;
  is_public: boolean;
  extra_specs: Record<string, string>;
}

export interface CinderQuota {
  volumes: number;
  gigabytes: number;
  snapshots: number;
  backups: number;
  backup_gigabytes: number;
  groups: number;
  per_volume_gigabytes: number;
}

/** Cinder's shipped defaults, except volumes (10 upstream) raised for trying desktops with volumes. */
export const DEFAULT_CINDER_QUOTA: CinderQuota = {
  volumes: 100,
  gigabytes: 5000,
  snapshots: 100,
  backups: 10,
  backup_gigabytes: 1000,
  groups: 10,
  per_volume_gigabytes: -1,
};

export interface CinderData {
  volumes: VolumeRecord[];
  types: VolumeTypeRecord[];
  quotas: Record<string, Partial<CinderQuota>>;
  default_quota: CinderQuota;
}

export class CinderFault extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfter?: string,
  ) {
    super(message);
  }
}

export const isoMicro = (d = new Date()) => d.toISOString().replace("Z", "000");

export type Schedule = (dueAt: number, run: () => void) => void;

export class CinderState {
  readonly volumes = new Map<string, VolumeRecord>();
  readonly types = new Map<string, VolumeTypeRecord>();
  quotas: Record<string, Partial<CinderQuota>> = dict();
  defaultQuota: CinderQuota = { ...DEFAULT_CINDER_QUOTA };
  private readonly byProject = new Map<string, Set<string>>();

  constructor(
    private readonly schedule: Schedule,
    private readonly delayMs: () => number,
  ) {}

  toJSON(): CinderData {
    return {
      volumes: [...this.volumes.values()],
      types: [...this.types.values()],
      quotas: this.quotas,
      default_quota: this.defaultQuota,
    };
  }

  load(data: CinderData): void {
    this.volumes.clear();
    this.types.clear();
    this.byProject.clear();
    this.quotas = dict(structuredClone(data.quotas ?? {}));
    this.defaultQuota = { ...DEFAULT_CINDER_QUOTA, ...data.default_quota };
    for (const t of data.types ?? []) this.types.set(t.id, structuredClone(t));
    for (const v of data.volumes ?? []) {
      const copy = structuredClone(v);
      this.index(copy);
      if (copy.next_status !== undefined && copy.due_at !== undefined) this.arm(copy);
    }
  }

  private index(v: VolumeRecord): void {
    this.volumes.set(v.id, v);
    let set = this.byProject.get(v.project_id);
    if (!set) {
      set = new Set();
      this.byProject.set(v.project_id, set);
    }
    set.add(v.id);
  }

  ofProject(projectId: string): VolumeRecord[] {
    const ids = this.byProject.get(projectId);
    return ids ? [...ids].map((id) => this.volumes.get(id)!) : [];
  }

  defaultType(): VolumeTypeRecord | undefined {
    for (const t of this.types.values()) if (t.name === "__DEFAULT__") return t;
    return this.types.values().next().value;
  }

  typeByNameOrId(ref: string): VolumeTypeRecord | undefined {
    const byId = this.types.get(ref);
    if (byId) return byId;
    for (const t of this.types.values()) if (t.name === ref) return t;
    return undefined;
  }

  quotaOf(projectId: string): CinderQuota {
    return { ...this.defaultQuota, ...this.quotas[projectId] };
  }

  usage(projectId: string): { volumes: number; gigabytes: number } {
    let volumes = 0;
    let gigabytes = 0;
    for (const v of this.ofProject(projectId)) {
      volumes++;
      gigabytes += v.size;
    }
    return { volumes, gigabytes };
  }

  /** Cinder's quota check for a new volume: 413 with the QuotaError subclass's message. */
  checkQuota(projectId: string, size: number): void {
    const q = this.quotaOf(projectId);
    const used = this.usage(projectId);
    if (q.per_volume_gigabytes >= 0 && size > q.per_volume_gigabytes) {
      throw new CinderFault(
        413,
        `VolumeSizeExceedsLimit: Requested volume size ${size}G is larger than maximum allowed limit ${q.per_volume_gigabytes}G.`,
        "0",
      );
    }
    if (q.gigabytes >= 0 && used.gigabytes + size > q.gigabytes) {
      throw new CinderFault(
        413,
        `VolumeSizeExceedsAvailableQuota: Requested volume or snapshot exceeds allowed gigabytes quota. Requested ${size}G, quota is ${q.gigabytes}G and ${used.gigabytes}G has been consumed.`,
        "0",
      );
    }
    if (q.volumes >= 0 && used.volumes + 1 > q.volumes) {
      throw new CinderFault(
        413,
        `VolumeLimitExceeded: Maximum number of volumes allowed (${q.volumes}) exceeded for quota 'volumes'.`,
        "0",
      );
    }
  }

  create(
    input: Omit<VolumeRecord, "id" | "status" | "created_at" | "updated_at" | "attachments">,
  ): VolumeRecord {
    const v: VolumeRecord = {
      ...input,
      id: randomUUID(),
      status: "creating",
      created_at: isoMicro(),
      updated_at: null,
      attachments: [],
    };
    this.index(v);
    this.transition(v, "available");
    return v;
  }

  /** Moves the volume to `status` after the configured delay, through the shared timeline. */
  transition(v: VolumeRecord, status: string): void {
    v.next_status = status;
    v.due_at = Date.now() + this.delayMs();
    this.arm(v);
  }

  private arm(v: VolumeRecord): void {
    const due = v.due_at!;
    this.schedule(due, () => {
      const cur = this.volumes.get(v.id);
      if (cur !== v || v.due_at !== due || v.next_status === undefined) return;
      const next = v.next_status;
      v.next_status = undefined;
      v.due_at = undefined;
      if (next === "deleted") {
        this.volumes.delete(v.id);
        this.byProject.get(v.project_id)?.delete(v.id);
        return;
      }
      v.status = next;
      v.updated_at = isoMicro();
    });
  }

  /** Reserves the volume for a server (Nova's attach): available → attaching → in-use. */
  attach(v: VolumeRecord, serverId: string, device: string): void {
    if (v.status !== "available") {
      throw new CinderFault(
        400,
        `Invalid volume: Volume ${v.id} status must be available or downloading to reserve, but the current status is ${v.status}.`,
      );
    }
    v.status = "attaching";
    v.updated_at = isoMicro();
    v.attachments = [
      { attachment_id: randomUUID(), server_id: serverId, device, attached_at: isoMicro(), host_name: null },
    ];
    this.transition(v, "in-use");
  }

  /** Nova's detach: in-use → detaching → available, the attachment gone. */
  detach(v: VolumeRecord): void {
    v.status = "detaching";
    v.updated_at = isoMicro();
    v.attachments = [];
    this.transition(v, "available");
  }

  remove(v: VolumeRecord): void {
    v.status = "deleting";
    v.updated_at = isoMicro();
    this.transition(v, "deleted");
  }
}
