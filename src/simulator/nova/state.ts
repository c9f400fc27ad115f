// Nova's simulated world: servers indexed by project (so listing one project's thousands of
// servers never scans the others), flavors, quotas with incrementally kept usage, and
// tombstones of deleted servers for `changes-since` queries.
import { dict } from "../dict.ts";

export interface FlavorRecord {
  id: string;
  name: string;
  vcpus: number;
  ram: number;
  disk: number;
  ephemeral: number;
  swap: number;
  rxtx_factor: number;
  is_public: boolean;
  disabled: boolean;
  description: string | null;
  extra_specs: Record<string, string>;
}

export interface ServerFault {
  code: number;
  message: string;
  details: string;
  created: string;
}

export interface VolumeAttachment {
  volume_id: string;
  device: string;
  attachment_id: string;
  bdm_uuid: string;
  delete_on_termination: boolean;
  tag: string | null;
}

export type PendingKind = "build" | "delete" | "stop" | "start" | "reboot" | "rebuild";

export interface ServerRecord {
  id: string;
  seq: number;
  name: string;
  project_id: string;
  user_id: string;
  flavor_id: string;
  /** The flavor as it was at boot, embedded in the server view from 2.47. */
  flavor: {
    vcpus: number;
    ram: number;
    disk: number;
    ephemeral: number;
    swap: number;
    original_name: string;
    extra_specs: Record<string, string>;
  };
  image_id: string;
  availability_zone: string;
  vm_state: "building" | "active" | "stopped" | "error" | "deleted";
  task_state: string | null;
  power_state: number;
  created: string;
  updated: string;
  launched_at: string | null;
  terminated_at: string | null;
  metadata: Record<string, string>;
  tags: string[];
  /** Security group names asked for at boot, answered in the create response. */
  security_groups: string[];
  user_data: string | null;
  key_name: string | null;
  reservation_id: string;
  launch_index: number;
  hostname: string;
  description: string | null;
  locked: boolean;
  locked_reason: string | null;
  access_ipv4: string;
  access_ipv6: string;
  config_drive: string;
  host: string | null;
  instance_name: string;
  fault: ServerFault | null;
  volumes: VolumeAttachment[];
  /** Ports Nova created for the server (deleted with it); ports passed in are only unbound. */
  created_ports: string[];
  pending: {
    kind: PendingKind;
    due_at: number;
    started_at: number;
    outcome?: "active" | "error" | "stuck";
  } | null;
}

export interface NovaQuota {
  instances: number;
  cores: number;
  ram: number;
  metadata_items: number;
  key_pairs: number;
  server_groups: number;
  server_group_members: number;
  injected_files: number;
  injected_file_content_bytes: number;
  injected_file_path_bytes: number;
}

/**
 * The simulator's default compute quotas. Nova ships instances 10, cores 20, ram 51200; the
 * simulator allows 100 instances, 400 cores and 800 GB of RAM (the fake hypervisor's size
 * in openstack-lite) so that a pool of desktops fits without quota changes. Change them per
 * project with PUT /os-quota-sets/{project} or for all with PUT /os-quota-class-sets/default.
 */
export const DEFAULT_NOVA_QUOTA: NovaQuota = {
  instances: 100,
  cores: 400,
  ram: 819_200,
  metadata_items: 128,
  key_pairs: 100,
  server_groups: 10,
  server_group_members: 10,
  injected_files: 5,
  injected_file_content_bytes: 10_240,
  injected_file_path_bytes: 255,
};

export interface NovaData {
  servers: ServerRecord[];
  deleted: ServerRecord[];
  flavors: FlavorRecord[];
  quotas: Record<string, Partial<NovaQuota>>;
  default_quota: NovaQuota;
  seq: number;
}

export interface Usage {
  instances: number;
  cores: number;
  ram: number;
}

/** How many deleted servers stay visible to `changes-since` (Nova keeps soft-deleted rows). */
const TOMBSTONES = 1000;

export class NovaState {
  readonly servers = new Map<string, ServerRecord>();
  readonly flavors = new Map<string, FlavorRecord>();
  deleted: ServerRecord[] = [];
  quotas: Record<string, Partial<NovaQuota>> = dict();
  defaultQuota: NovaQuota = { ...DEFAULT_NOVA_QUOTA };
  seq = 0;
  private readonly byProject = new Map<string, Map<string, ServerRecord>>();
  private readonly usageByProject = new Map<string, Usage>();

  toJSON(): NovaData {
    return {
      servers: [...this.servers.values()],
      deleted: this.deleted,
      flavors: [...this.flavors.values()],
      quotas: this.quotas,
      default_quota: this.defaultQuota,
      seq: this.seq,
    };
  }

  load(data: NovaData): ServerRecord[] {
    this.servers.clear();
    this.flavors.clear();
    this.byProject.clear();
    this.usageByProject.clear();
    for (const f of data.flavors ?? []) this.flavors.set(f.id, structuredClone(f));
    this.deleted = structuredClone(data.deleted ?? []);
    this.quotas = dict(structuredClone(data.quotas ?? {}));
    this.defaultQuota = { ...DEFAULT_NOVA_QUOTA, ...data.default_quota };
    this.seq = data.seq ?? 0;
    const servers = structuredClone(data.servers ?? []).sort((a, b) => a.seq - b.seq);
    for (const s of servers) this.add(s);
    return servers;
  }

  add(s: ServerRecord): void {
    this.servers.set(s.id, s);
    let m = this.byProject.get(s.project_id);
    if (!m) {
      m = new Map();
      this.byProject.set(s.project_id, m);
    }
    m.set(s.id, s);
    const u = this.usage(s.project_id);
    u.instances++;
    u.cores += s.flavor.vcpus;
    u.ram += s.flavor.ram;
  }

  /** Removes a server for good, keeping a tombstone for `changes-since`. */
  remove(s: ServerRecord, when: string): void {
    if (!this.servers.delete(s.id)) return;
    this.byProject.get(s.project_id)?.delete(s.id);
    const u = this.usage(s.project_id);
    u.instances--;
    u.cores -= s.flavor.vcpus;
    u.ram -= s.flavor.ram;
    s.vm_state = "deleted";
    s.task_state = null;
    s.power_state = 0;
    s.terminated_at = when;
    s.updated = when;
    s.pending = null;
    this.deleted.push(s);
    if (this.deleted.length > TOMBSTONES) this.deleted.splice(0, this.deleted.length - TOMBSTONES);
  }

  usage(projectId: string): Usage {
    let u = this.usageByProject.get(projectId);
    if (!u) {
      u = { instances: 0, cores: 0, ram: 0 };
      this.usageByProject.set(projectId, u);
    }
    return u;
  }

  ofProject(projectId: string): Iterable<ServerRecord> {
    return this.byProject.get(projectId)?.values() ?? [];
  }

  countOfProject(projectId: string): number {
    return this.byProject.get(projectId)?.size ?? 0;
  }

  quotaOf(projectId: string): NovaQuota {
    return { ...this.defaultQuota, ...this.quotas[projectId] };
  }

  findFlavor(ref: string): FlavorRecord | undefined {
    // flavorRef may be an id or a link whose last segment is the id.
    const id = ref.includes("/") ? ref.replace(/\/+$/, "").split("/").pop()! : ref;
    return this.flavors.get(id);
  }
}
