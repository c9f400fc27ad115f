// Neutron's simulated world. Records keep Neutron's own field names so that views are mostly
// projections; the in-memory indexes (ports by device, addresses in use, floating IPs by port)
// are rebuilt on restore and never serialised.
import { randomBytes, randomUUID } from "node:crypto";
import { dict } from "../dict.ts";
import { type AllocationPool, cidrContains, defaultPools, ipToInt, nextFreeIp, parseCidr } from "./ipam.ts";

/** The standard-attr extension's fields, which Neutron keeps for every resource. */
export interface StandardAttrs {
  created_at: string;
  updated_at: string;
  revision_number: number;
  tags: string[];
}

interface Stamped extends StandardAttrs {
  id: string;
  project_id: string;
  description: string;
}

export interface NetworkRecord extends Stamped {
  name: string;
  admin_state_up: boolean;
  shared: boolean;
  "router:external": boolean;
  is_default: boolean;
  mtu: number;
  "provider:network_type": string;
  "provider:physical_network": string | null;
  "provider:segmentation_id": number | null;
}

export interface SubnetRecord extends Stamped {
  name: string;
  network_id: string;
  cidr: string;
  gateway_ip: string | null;
  allocation_pools: AllocationPool[];
  enable_dhcp: boolean;
  dns_nameservers: string[];
  host_routes: { destination: string; nexthop: string }[];
  /** Where the next address search starts (see ipam.ts). */
  ip_cursor: number;
}

export interface FixedIp {
  subnet_id: string;
  ip_address: string;
}

export interface PortRecord extends Stamped {
  name: string;
  network_id: string;
  mac_address: string;
  admin_state_up: boolean;
  status: string;
  device_id: string;
  device_owner: string;
  fixed_ips: FixedIp[];
  security_groups: string[];
  port_security_enabled: boolean;
  "binding:host_id": string;
  "binding:vnic_type": string;
}

export interface FloatingIpRecord extends Stamped {
  floating_network_id: string;
  floating_ip_address: string;
  fixed_ip_address: string | null;
  port_id: string | null;
  router_id: string | null;
  status: string;
}

export interface RouterRecord extends Stamped {
  name: string;
  admin_state_up: boolean;
  status: string;
  external_gateway_info: { network_id: string; enable_snat: boolean; external_fixed_ips: FixedIp[] } | null;
}

export interface SecurityGroupRecord extends Stamped {
  name: string;
  stateful: boolean;
}

export interface SecurityGroupRuleRecord extends Stamped {
  security_group_id: string;
  direction: "ingress" | "egress";
  ethertype: "IPv4" | "IPv6";
  protocol: string | null;
  port_range_min: number | null;
  port_range_max: number | null;
  remote_ip_prefix: string | null;
  remote_group_id: string | null;
}

export interface NeutronQuota {
  network: number;
  subnet: number;
  port: number;
  router: number;
  floatingip: number;
  security_group: number;
  security_group_rule: number;
  rbac_policy: number;
  subnetpool: number;
}

/**
 * The simulator's default Neutron quotas. Neutron ships port 500 and floatingip 50; ports are
 * raised here because every simulated desktop holds one, and trying rs-server with a few
 * hundred desktops should not need quota surgery first.
 */
export const DEFAULT_NEUTRON_QUOTA: NeutronQuota = {
  network: 100,
  subnet: 100,
  port: 5000,
  router: 10,
  floatingip: 100,
  security_group: 100,
  security_group_rule: 1000,
  rbac_policy: 10,
  subnetpool: -1,
};

export interface NeutronData {
  networks: NetworkRecord[];
  subnets: SubnetRecord[];
  ports: PortRecord[];
  floatingips: FloatingIpRecord[];
  routers: RouterRecord[];
  security_groups: SecurityGroupRecord[];
  security_group_rules: SecurityGroupRuleRecord[];
  quotas: Record<string, Partial<NeutronQuota>>;
  default_quota: NeutronQuota;
}

export type QuotaResource = keyof NeutronQuota;

export class NeutronError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

const now = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

export function stamp(projectId: string, description = ""): Stamped {
  const t = now();
  return {
    id: randomUUID(),
    project_id: projectId,
    created_at: t,
    updated_at: t,
    revision_number: 0,
    description,
    tags: [],
  };
}

export function touch(record: Stamped): void {
  record.updated_at = now();
  record.revision_number++;
}

export class NeutronState {
  readonly networks = new Map<string, NetworkRecord>();
  readonly subnets = new Map<string, SubnetRecord>();
  readonly ports = new Map<string, PortRecord>();
  readonly floatingips = new Map<string, FloatingIpRecord>();
  readonly routers = new Map<string, RouterRecord>();
  readonly securityGroups = new Map<string, SecurityGroupRecord>();
  readonly rules = new Map<string, SecurityGroupRuleRecord>();
  quotas: Record<string, Partial<NeutronQuota>> = dict();
  defaultQuota: NeutronQuota = { ...DEFAULT_NEUTRON_QUOTA };

  private readonly portsByDevice = new Map<string, Set<string>>();
  private readonly usedIps = new Map<string, Set<string>>();
  private readonly fipByPort = new Map<string, string>();
  private readonly rulesByGroup = new Map<string, Set<string>>();
  private readonly subnetsByNetwork = new Map<string, string[]>();
  private readonly countByProject = new Map<string, Map<QuotaResource, number>>();

  // --- serialisation -------------------------------------------------------------------------

  toJSON(): NeutronData {
    return {
      networks: [...this.networks.values()],
      subnets: [...this.subnets.values()],
      ports: [...this.ports.values()],
      floatingips: [...this.floatingips.values()],
      routers: [...this.routers.values()],
      security_groups: [...this.securityGroups.values()],
      security_group_rules: [...this.rules.values()],
      quotas: this.quotas,
      default_quota: this.defaultQuota,
    };
  }

  load(data: NeutronData): void {
    for (const m of [
      this.networks,
      this.subnets,
      this.ports,
      this.floatingips,
      this.routers,
      this.securityGroups,
      this.rules,
      this.portsByDevice,
      this.usedIps,
      this.fipByPort,
      this.rulesByGroup,
      this.subnetsByNetwork,
      this.countByProject,
    ]) {
      m.clear();
    }
    this.quotas = dict(structuredClone(data.quotas ?? {}));
    this.defaultQuota = { ...DEFAULT_NEUTRON_QUOTA, ...data.default_quota };
    for (const n of data.networks) this.addNetwork(structuredClone(n));
    for (const s of data.subnets) this.addSubnet(structuredClone(s));
    for (const g of data.security_groups) this.addSecurityGroup(structuredClone(g));
    for (const r of data.security_group_rules) this.addRule(structuredClone(r));
    for (const r of data.routers) this.addRouter(structuredClone(r));
    for (const p of data.ports) this.addPort(structuredClone(p));
    for (const f of data.floatingips) this.addFloatingIp(structuredClone(f));
  }

  // --- counting and quotas -----------------------------------------------------------------

  private count(projectId: string, resource: QuotaResource, delta: number): void {
    let byRes = this.countByProject.get(projectId);
    if (!byRes) {
      byRes = new Map();
      this.countByProject.set(projectId, byRes);
    }
    byRes.set(resource, (byRes.get(resource) ?? 0) + delta);
  }

  used(projectId: string, resource: QuotaResource): number {
    return this.countByProject.get(projectId)?.get(resource) ?? 0;
  }

  quotaOf(projectId: string): NeutronQuota {
    return { ...this.defaultQuota, ...this.quotas[projectId] };
  }

  /** Throws Neutron's OverQuota (409) when adding `n` of the resource would pass the limit. */
  checkQuota(projectId: string, resource: QuotaResource, n = 1): void {
    const limit = this.quotaOf(projectId)[resource];
    if (limit >= 0 && this.used(projectId, resource) + n > limit) {
      throw new NeutronError(409, "OverQuota", `Quota exceeded for resources: ['${resource}'].`);
    }
  }

  // --- networks and subnets ----------------------------------------------------------------

  addNetwork(n: NetworkRecord): NetworkRecord {
    this.networks.set(n.id, n);
    if (!this.subnetsByNetwork.has(n.id)) this.subnetsByNetwork.set(n.id, []);
    this.count(n.project_id, "network", 1);
    return n;
  }

  removeNetwork(id: string): void {
    const n = this.networks.get(id);
    if (!n) return;
    for (const s of this.subnetIdsOf(id)) this.removeSubnet(s);
    this.networks.delete(id);
    this.subnetsByNetwork.delete(id);
    this.count(n.project_id, "network", -1);
  }

  subnetIdsOf(networkId: string): string[] {
    return [...(this.subnetsByNetwork.get(networkId) ?? [])];
  }

  addSubnet(s: SubnetRecord): SubnetRecord {
    if (!s.allocation_pools?.length) {
      const parsed = parseCidr(s.cidr);
      if (parsed) s.allocation_pools = defaultPools(parsed, s.gateway_ip);
    }
    this.subnets.set(s.id, s);
    const list = this.subnetsByNetwork.get(s.network_id) ?? [];
    list.push(s.id);
    this.subnetsByNetwork.set(s.network_id, list);
    if (!this.usedIps.has(s.id)) this.usedIps.set(s.id, new Set());
    this.count(s.project_id, "subnet", 1);
    return s;
  }

  removeSubnet(id: string): void {
    const s = this.subnets.get(id);
    if (!s) return;
    this.subnets.delete(id);
    this.usedIps.delete(id);
    const list = this.subnetsByNetwork.get(s.network_id);
    if (list)
      this.subnetsByNetwork.set(
        s.network_id,
        list.filter((x) => x !== id),
      );
    this.count(s.project_id, "subnet", -1);
  }

  /** Ports holding an address on the subnet, so that a subnet in use cannot be deleted. */
  subnetInUse(subnetId: string): boolean {
    return (this.usedIps.get(subnetId)?.size ?? 0) > 0;
  }

  /**
   * Takes an address on the subnet: the requested one if free, else the next free one.
   * Throws Neutron's IpAddressAlreadyAllocated / IpAddressGenerationFailure as Neutron does.
   */
  allocateIp(subnetId: string, wanted?: string): string {
    const s = this.subnets.get(subnetId);
    if (!s) throw new NeutronError(404, "SubnetNotFound", `Subnet ${subnetId} could not be found.`);
    const used = this.usedIps.get(subnetId)!;
    if (wanted) {
      if (used.has(wanted)) {
        throw new NeutronError(
          409,
          "IpAddressAlreadyAllocated",
          `IP address ${wanted} already allocated in subnet ${subnetId}`,
        );
      }
      used.add(wanted);
      return wanted;
    }
    const next = nextFreeIp(s.allocation_pools, used, s.ip_cursor);
    if (!next) {
      throw new NeutronError(
        409,
        "IpAddressGenerationFailure",
        `No more IP addresses available on network ${s.network_id}.`,
      );
    }
    used.add(next.ip);
    s.ip_cursor = next.cursor;
    return next.ip;
  }

  releaseIp(subnetId: string, ip: string): void {
    this.usedIps.get(subnetId)?.delete(ip);
  }

  /** First IPv4 subnet of the network with a free address, for ports that name none. */
  allocateOnNetwork(networkId: string): FixedIp {
    const ids = this.subnetIdsOf(networkId);
    if (ids.length === 0) {
      throw new NeutronError(
        400,
        "BadRequest",
        `Bad port request: Network ${networkId} does not contain any IPv4 subnet.`,
      );
    }
    let last: unknown;
    for (const subnetId of ids) {
      try {
        return { subnet_id: subnetId, ip_address: this.allocateIp(subnetId) };
      } catch (e) {
        last = e;
      }
    }
    throw last;
  }

  // --- ports ---------------------------------------------------------------------------------

  addPort(p: PortRecord): PortRecord {
    this.ports.set(p.id, p);
    for (const ip of p.fixed_ips) this.usedIps.get(ip.subnet_id)?.add(ip.ip_address);
    this.indexDevice(p.id, p.device_id);
    this.count(p.project_id, "port", 1);
    return p;
  }

  private indexDevice(portId: string, deviceId: string): void {
    if (!deviceId) return;
    let set = this.portsByDevice.get(deviceId);
    if (!set) {
      set = new Set();
      this.portsByDevice.set(deviceId, set);
    }
    set.add(portId);
  }

  setDevice(port: PortRecord, deviceId: string, deviceOwner: string): void {
    if (port.device_id) this.portsByDevice.get(port.device_id)?.delete(port.id);
    port.device_id = deviceId;
    port.device_owner = deviceOwner;
    port["binding:host_id"] = deviceId ? port["binding:host_id"] || "sim-compute-1" : "";
    this.indexDevice(port.id, deviceId);
    touch(port);
  }

  portsOfDevice(deviceId: string): PortRecord[] {
    const ids = this.portsByDevice.get(deviceId);
    if (!ids) return [];
    const out: PortRecord[] = [];
    for (const id of ids) {
      const p = this.ports.get(id);
      if (p) out.push(p);
    }
    return out;
  }

  removePort(id: string): void {
    const p = this.ports.get(id);
    if (!p) return;
    const fipId = this.fipByPort.get(id);
    if (fipId) {
      const fip = this.floatingips.get(fipId);
      if (fip) this.associate(fip, null, null);
    }
    for (const ip of p.fixed_ips) this.releaseIp(ip.subnet_id, ip.ip_address);
    if (p.device_id) this.portsByDevice.get(p.device_id)?.delete(id);
    this.ports.delete(id);
    this.count(p.project_id, "port", -1);
  }

  newMac(): string {
    const b = randomBytes(3);
    return `fa:16:3e:${[...b].map((x) => x.toString(16).padStart(2, "0")).join(":")}`;
  }

  // --- floating IPs --------------------------------------------------------------------------

  addFloatingIp(f: FloatingIpRecord): FloatingIpRecord {
    this.floatingips.set(f.id, f);
    const subnetId = this.subnetHolding(f.floating_network_id, f.floating_ip_address);
    if (subnetId) this.usedIps.get(subnetId)!.add(f.floating_ip_address);
    if (f.port_id) this.fipByPort.set(f.port_id, f.id);
    this.count(f.project_id, "floatingip", 1);
    return f;
  }

  removeFloatingIp(id: string): void {
    const f = this.floatingips.get(id);
    if (!f) return;
    if (f.port_id) this.fipByPort.delete(f.port_id);
    const subnetId = this.subnetHolding(f.floating_network_id, f.floating_ip_address);
    if (subnetId) this.releaseIp(subnetId, f.floating_ip_address);
    this.floatingips.delete(id);
    this.count(f.project_id, "floatingip", -1);
  }

  subnetHolding(networkId: string, ip: string): string | undefined {
    const n = ipToInt(ip);
    return this.subnetIdsOf(networkId).find((id) => {
      const parsed = parseCidr(this.subnets.get(id)!.cidr);
      return parsed !== undefined && cidrContains(parsed, n);
    });
  }

  floatingIpOfPort(portId: string): FloatingIpRecord | undefined {
    const id = this.fipByPort.get(portId);
    return id ? this.floatingips.get(id) : undefined;
  }

  associate(fip: FloatingIpRecord, port: PortRecord | null, fixedIp: string | null): void {
    if (fip.port_id) this.fipByPort.delete(fip.port_id);
    fip.port_id = port?.id ?? null;
    fip.fixed_ip_address = port ? fixedIp : null;
    fip.router_id = port ? (this.routerFor(fip.floating_network_id, port)?.id ?? null) : null;
    fip.status = port ? "ACTIVE" : "DOWN";
    if (port) this.fipByPort.set(port.id, fip.id);
    touch(fip);
  }

  /** The router joining the external network to one of the port's subnets, as L3 requires. */
  routerFor(externalNetworkId: string, port: PortRecord): RouterRecord | undefined {
    const portSubnets = new Set(port.fixed_ips.map((f) => f.subnet_id));
    for (const r of this.routers.values()) {
      if (r.external_gateway_info?.network_id !== externalNetworkId) continue;
      for (const iface of this.portsOfDevice(r.id)) {
        if (iface.device_owner !== "network:router_interface") continue;
        if (iface.fixed_ips.some((f) => portSubnets.has(f.subnet_id))) return r;
      }
    }
    return undefined;
  }

  // --- routers -------------------------------------------------------------------------------

  addRouter(r: RouterRecord): RouterRecord {
    this.routers.set(r.id, r);
    this.count(r.project_id, "router", 1);
    return r;
  }

  removeRouter(id: string): void {
    const r = this.routers.get(id);
    if (!r) return;
    for (const p of this.portsOfDevice(id)) this.removePort(p.id);
    this.routers.delete(id);
    this.count(r.project_id, "router", -1);
  }

  // --- security groups -----------------------------------------------------------------------

  addSecurityGroup(g: SecurityGroupRecord): SecurityGroupRecord {
    this.securityGroups.set(g.id, g);
    if (!this.rulesByGroup.has(g.id)) this.rulesByGroup.set(g.id, new Set());
    this.count(g.project_id, "security_group", 1);
    return g;
  }

  removeSecurityGroup(id: string): void {
    const g = this.securityGroups.get(id);
    if (!g) return;
    for (const r of this.rulesOf(id)) this.removeRule(r.id);
    this.securityGroups.delete(id);
    this.rulesByGroup.delete(id);
    this.count(g.project_id, "security_group", -1);
  }

  addRule(r: SecurityGroupRuleRecord): SecurityGroupRuleRecord {
    this.rules.set(r.id, r);
    let set = this.rulesByGroup.get(r.security_group_id);
    if (!set) {
      set = new Set();
      this.rulesByGroup.set(r.security_group_id, set);
    }
    set.add(r.id);
    this.count(r.project_id, "security_group_rule", 1);
    return r;
  }

  removeRule(id: string): void {
    const r = this.rules.get(id);
    if (!r) return;
    this.rules.delete(id);
    this.rulesByGroup.get(r.security_group_id)?.delete(id);
    this.count(r.project_id, "security_group_rule", -1);
  }

  rulesOf(groupId: string): SecurityGroupRuleRecord[] {
    const ids = this.rulesByGroup.get(groupId);
    return ids ? [...ids].map((id) => this.rules.get(id)!).filter(Boolean) : [];
  }

  groupInUse(groupId: string): boolean {
    for (const p of this.ports.values()) if (p.security_groups.includes(groupId)) return true;
    return false;
  }

  /**
   * The project's "default" security group, created on first use with Neutron's four default
   * rules (all egress; ingress only from members of the group), as Neutron does.
   */
  ensureDefaultGroup(projectId: string): SecurityGroupRecord {
    for (const g of this.securityGroups.values()) {
      if (g.project_id === projectId && g.name === "default") return g;
    }
    const g = this.addSecurityGroup({
      ...stamp(projectId, "Default security group"),
      name: "default",
      stateful: true,
    });
    for (const ethertype of ["IPv4", "IPv6"] as const) {
      for (const direction of ["ingress", "egress"] as const) {
        this.addOpenRule(g, direction, ethertype, direction === "ingress" ? g.id : null);
      }
    }
    return g;
  }

  /** A rule of the group's own project that lets any protocol and port through one way. */
  addOpenRule(
    g: SecurityGroupRecord,
    direction: "ingress" | "egress",
    ethertype: "IPv4" | "IPv6",
    remoteGroupId: string | null = null,
  ): SecurityGroupRuleRecord {
    return this.addRule({
      ...stamp(g.project_id),
      security_group_id: g.id,
      direction,
      ethertype,
      protocol: null,
      port_range_min: null,
      port_range_max: null,
      remote_ip_prefix: null,
      remote_group_id: remoteGroupId,
    });
  }

  /** Resolves a security group reference (id, or name within the project) as Nova does. */
  findGroup(projectId: string, nameOrId: string): SecurityGroupRecord | undefined {
    const byId = this.securityGroups.get(nameOrId);
    if (byId && byId.project_id === projectId) return byId;
    if (nameOrId === "default") return this.ensureDefaultGroup(projectId);
    for (const g of this.securityGroups.values()) {
      if (g.project_id === projectId && g.name === nameOrId) return g;
    }
    return undefined;
  }

  /** Whether the network may hold ports of the project (own, shared, or admin). */
  networkUsableBy(n: NetworkRecord, projectId: string, admin: boolean): boolean {
    return admin || n.shared || n.project_id === projectId;
  }

  networkVisibleTo(n: NetworkRecord, projectId: string | undefined, admin: boolean): boolean {
    return admin || n.shared || n["router:external"] || n.project_id === projectId;
  }
}
