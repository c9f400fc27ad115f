// Typed client for the Networking API (Neutron 2.0): what the core reads of networks and
// ports, and the user resources it manages there (floating IPs, client security rules).
import {
  CloudError,
  type IgnoreNotFound,
  ignoringNotFound,
  isCloudError,
  listPages,
  type Query,
  type ServiceHttp,
} from "./http.ts";
import { type QuotaUsageSet, toQuotaUsageSet } from "./nova.ts";

export interface NeutronNetwork {
  id: string;
  name: string;
  status: string;
  projectId: string;
  /** router:external: floating IPs come from such networks. */
  external: boolean;
  shared: boolean;
  subnetIds: string[];
  raw: Record<string, any>;
}

export interface NeutronSubnet {
  id: string;
  name: string;
  networkId: string;
  projectId: string;
  cidr: string;
  ipVersion: number;
  gatewayIp: string | null;
  raw: Record<string, any>;
}

export interface FixedIp {
  subnetId: string;
  ipAddress: string;
}

export interface NeutronPort {
  id: string;
  name: string;
  networkId: string;
  projectId: string;
  deviceId: string;
  deviceOwner: string;
  macAddress: string;
  status: string;
  fixedIps: FixedIp[];
  securityGroupIds: string[];
  raw: Record<string, any>;
}

export interface FloatingIp {
  id: string;
  floatingIpAddress: string;
  floatingNetworkId: string;
  projectId: string;
  portId: string | null;
  fixedIpAddress: string | null;
  /** ACTIVE, DOWN or ERROR. */
  status: string;
  description: string;
  raw: Record<string, any>;
}

export interface SecurityGroupRule {
  id: string;
  securityGroupId: string;
  direction: "ingress" | "egress";
  ethertype: "IPv4" | "IPv6";
  protocol: string | null;
  portRangeMin: number | null;
  portRangeMax: number | null;
  remoteIpPrefix: string | null;
  remoteGroupId: string | null;
  description: string;
  raw: Record<string, any>;
}

export interface SecurityGroup {
  id: string;
  name: string;
  description: string;
  projectId: string;
  rules: SecurityGroupRule[];
  raw: Record<string, any>;
}

export interface CreateSecurityGroupRuleInput {
  securityGroupId: string;
  direction?: "ingress" | "egress";
  ethertype?: "IPv4" | "IPv6";
  protocol?: string;
  portRangeMin?: number;
  portRangeMax?: number;
  remoteIpPrefix?: string;
  description?: string;
}

/**
 * Neutron refuses an identical rule with 409 SecurityGroupRuleExists and names the rule that
 * already does the job: the caller who only wants the rule in place can take that id.
 */
export class SecurityGroupRuleExistsError extends CloudError {
  constructor(
    message: string,
    readonly existingRuleId: string | undefined,
    status?: number,
    headers?: Headers,
  ) {
    super("conflict", message, "network", status, headers);
    this.name = "SecurityGroupRuleExistsError";
  }
}

const RULE_EXISTS_RE = /already exists.*?Rule id is ([0-9a-f-]{36})/is;

function toNetwork(raw: Record<string, any>): NeutronNetwork {
  return {
    id: raw.id,
    name: raw.name,
    status: raw.status,
    projectId: raw.project_id ?? raw.tenant_id,
    external: !!raw["router:external"],
    shared: !!raw.shared,
    subnetIds: raw.subnets ?? [],
    raw,
  };
}

function toSubnet(raw: Record<string, any>): NeutronSubnet {
  return {
    id: raw.id,
    name: raw.name,
    networkId: raw.network_id,
    projectId: raw.project_id ?? raw.tenant_id,
    cidr: raw.cidr,
    ipVersion: raw.ip_version,
    gatewayIp: raw.gateway_ip ?? null,
    raw,
  };
}

function toPort(raw: Record<string, any>): NeutronPort {
  return {
    id: raw.id,
    name: raw.name,
    networkId: raw.network_id,
    projectId: raw.project_id ?? raw.tenant_id,
    deviceId: raw.device_id,
    deviceOwner: raw.device_owner,
    macAddress: raw.mac_address,
    status: raw.status,
    fixedIps: ((raw.fixed_ips ?? []) as any[]).map((f) => ({
      subnetId: f.subnet_id,
      ipAddress: f.ip_address,
    })),
    securityGroupIds: raw.security_groups ?? [],
    raw,
  };
}

function toFloatingIp(raw: Record<string, any>): FloatingIp {
  return {
    id: raw.id,
    floatingIpAddress: raw.floating_ip_address,
    floatingNetworkId: raw.floating_network_id,
    projectId: raw.project_id ?? raw.tenant_id,
    portId: raw.port_id ?? null,
    fixedIpAddress: raw.fixed_ip_address ?? null,
    status: raw.status,
    description: raw.description ?? "",
    raw,
  };
}

function toRule(raw: Record<string, any>): SecurityGroupRule {
  return {
    id: raw.id,
    securityGroupId: raw.security_group_id,
    direction: raw.direction,
    ethertype: raw.ethertype,
    protocol: raw.protocol ?? null,
    portRangeMin: raw.port_range_min ?? null,
    portRangeMax: raw.port_range_max ?? null,
    remoteIpPrefix: raw.remote_ip_prefix ?? null,
    remoteGroupId: raw.remote_group_id ?? null,
    description: raw.description ?? "",
    raw,
  };
}

function toSecurityGroup(raw: Record<string, any>): SecurityGroup {
  return {
    id: raw.id,
    name: raw.name,
    description: raw.description ?? "",
    projectId: raw.project_id ?? raw.tenant_id,
    rules: ((raw.security_group_rules ?? []) as Record<string, any>[]).map(toRule),
    raw,
  };
}

export class NeutronClient {
  constructor(private readonly http: ServiceHttp) {}

  /** Lists a collection with every page followed (Neutron pages only when asked or configured to). */
  private list(collection: string, filters: Query): Promise<Record<string, any>[]> {
    // The URL says security-groups, the body says security_groups.
    return listPages(this.http, `/v2.0/${collection}`, collection.replaceAll("-", "_"), filters);
  }

  private async one(collection: string, key: string, id: string): Promise<Record<string, any>> {
    const res = await this.http.get<Record<string, any>>(`/v2.0/${collection}/${encodeURIComponent(id)}`);
    return res[key];
  }

  private remove(collection: string, id: string, opts: IgnoreNotFound): Promise<boolean> {
    return ignoringNotFound(this.http.delete(`/v2.0/${collection}/${encodeURIComponent(id)}`), opts);
  }

  async getNetwork(id: string): Promise<NeutronNetwork> {
    return toNetwork(await this.one("networks", "network", id));
  }

  async listNetworks(
    f: {
      name?: string;
      external?: boolean;
      shared?: boolean;
      projectId?: string;
      ids?: string[];
      pageSize?: number;
    } = {},
  ): Promise<NeutronNetwork[]> {
    const rows = await this.list("networks", {
      limit: f.pageSize,
      name: f.name,
      "router:external": f.external,
      shared: f.shared,
      project_id: f.projectId,
      id: f.ids,
    });
    return rows.map(toNetwork);
  }

  async getSubnet(id: string): Promise<NeutronSubnet> {
    return toSubnet(await this.one("subnets", "subnet", id));
  }

  async listSubnets(
    f: { networkId?: string; projectId?: string; name?: string } = {},
  ): Promise<NeutronSubnet[]> {
    const rows = await this.list("subnets", {
      network_id: f.networkId,
      project_id: f.projectId,
      name: f.name,
    });
    return rows.map(toSubnet);
  }

  async getPort(id: string): Promise<NeutronPort> {
    return toPort(await this.one("ports", "port", id));
  }

  /** Ports of a server (deviceId), of a network, or both. */
  async listPorts(
    f: { deviceId?: string; networkId?: string; deviceOwner?: string; projectId?: string } = {},
  ): Promise<NeutronPort[]> {
    const rows = await this.list("ports", {
      device_id: f.deviceId,
      network_id: f.networkId,
      device_owner: f.deviceOwner,
      project_id: f.projectId,
    });
    return rows.map(toPort);
  }

  async listFloatingIps(
    f: {
      projectId?: string;
      portId?: string;
      floatingNetworkId?: string;
      floatingIpAddress?: string;
      status?: string;
      ids?: string[];
      pageSize?: number;
    } = {},
  ): Promise<FloatingIp[]> {
    const rows = await this.list("floatingips", {
      limit: f.pageSize,
      project_id: f.projectId,
      port_id: f.portId,
      floating_network_id: f.floatingNetworkId,
      floating_ip_address: f.floatingIpAddress,
      status: f.status,
      id: f.ids,
    });
    return rows.map(toFloatingIp);
  }

  async getFloatingIp(id: string): Promise<FloatingIp> {
    return toFloatingIp(await this.one("floatingips", "floatingip", id));
  }

  /** Allocates a floating IP from an external network, for another project when admin. */
  async createFloatingIp(input: {
    floatingNetworkId: string;
    projectId?: string;
    portId?: string;
    fixedIpAddress?: string;
    description?: string;
  }): Promise<FloatingIp> {
    const floatingip: Record<string, unknown> = { floating_network_id: input.floatingNetworkId };
    if (input.projectId) floatingip.project_id = input.projectId;
    if (input.portId) floatingip.port_id = input.portId;
    if (input.fixedIpAddress) floatingip.fixed_ip_address = input.fixedIpAddress;
    if (input.description !== undefined) floatingip.description = input.description;
    const res = await this.http.post<{ floatingip: Record<string, any> }>("/v2.0/floatingips", {
      floatingip,
    });
    return toFloatingIp(res.floatingip);
  }

  /**
   * Points a floating IP at a port (moving it from wherever it was). A port with several
   * fixed IPs needs the one to use.
   */
  async associateFloatingIp(id: string, portId: string, fixedIpAddress?: string): Promise<FloatingIp> {
    const floatingip: Record<string, unknown> = { port_id: portId };
    if (fixedIpAddress) floatingip.fixed_ip_address = fixedIpAddress;
    return this.updateFloatingIp(id, floatingip);
  }

  disassociateFloatingIp(id: string): Promise<FloatingIp> {
    return this.updateFloatingIp(id, { port_id: null });
  }

  private async updateFloatingIp(id: string, floatingip: Record<string, unknown>): Promise<FloatingIp> {
    const res = await this.http.put<{ floatingip: Record<string, any> }>(
      `/v2.0/floatingips/${encodeURIComponent(id)}`,
      { floatingip },
    );
    return toFloatingIp(res.floatingip);
  }

  deleteFloatingIp(id: string, opts: IgnoreNotFound = {}): Promise<boolean> {
    return this.remove("floatingips", id, opts);
  }

  async listSecurityGroups(
    f: { projectId?: string; name?: string; ids?: string[]; pageSize?: number } = {},
  ): Promise<SecurityGroup[]> {
    const rows = await this.list("security-groups", {
      limit: f.pageSize,
      project_id: f.projectId,
      name: f.name,
      id: f.ids,
    });
    return rows.map(toSecurityGroup);
  }

  /**
   * Id, name and project of the security groups (every project's for an admin), without their
   * rules: `fields` keeps the answer small where a listing of whole groups would carry every rule.
   */
  async listSecurityGroupNames(
    f: { projectId?: string; pageSize?: number } = {},
  ): Promise<{ id: string; name: string; projectId: string }[]> {
    const rows = await this.list("security-groups", {
      limit: f.pageSize,
      project_id: f.projectId,
      fields: ["id", "name", "project_id"],
    });
    return rows.map((r) => ({
      id: String(r.id),
      name: String(r.name ?? ""),
      projectId: String(r.project_id ?? r.tenant_id ?? ""),
    }));
  }

  async getSecurityGroup(id: string): Promise<SecurityGroup> {
    return toSecurityGroup(await this.one("security-groups", "security_group", id));
  }

  /** Creates a group (with Neutron's default egress rules), for another project when admin. */
  async createSecurityGroup(input: {
    name: string;
    description?: string;
    projectId?: string;
  }): Promise<SecurityGroup> {
    const security_group: Record<string, unknown> = { name: input.name };
    if (input.description !== undefined) security_group.description = input.description;
    if (input.projectId) security_group.project_id = input.projectId;
    const res = await this.http.post<{ security_group: Record<string, any> }>("/v2.0/security-groups", {
      security_group,
    });
    return toSecurityGroup(res.security_group);
  }

  deleteSecurityGroup(id: string, opts: IgnoreNotFound = {}): Promise<boolean> {
    return this.remove("security-groups", id, opts);
  }

  /** Throws SecurityGroupRuleExistsError (kind conflict) when an identical rule exists. */
  async createSecurityGroupRule(input: CreateSecurityGroupRuleInput): Promise<SecurityGroupRule> {
    const rule: Record<string, unknown> = {
      security_group_id: input.securityGroupId,
      direction: input.direction ?? "ingress",
      ethertype: input.ethertype ?? (input.remoteIpPrefix?.includes(":") ? "IPv6" : "IPv4"),
    };
    if (input.protocol !== undefined) rule.protocol = input.protocol;
    if (input.portRangeMin !== undefined) rule.port_range_min = input.portRangeMin;
    if (input.portRangeMax !== undefined) rule.port_range_max = input.portRangeMax;
    if (input.remoteIpPrefix !== undefined) rule.remote_ip_prefix = input.remoteIpPrefix;
    if (input.description !== undefined) rule.description = input.description;
    try {
      const res = await this.http.post<{ security_group_rule: Record<string, any> }>(
        "/v2.0/security-group-rules",
        {
          security_group_rule: rule,
        },
      );
      return toRule(res.security_group_rule);
    } catch (err) {
      if (isCloudError(err, "conflict") && /already exists/i.test(err.message)) {
        throw new SecurityGroupRuleExistsError(
          err.message,
          RULE_EXISTS_RE.exec(err.message)?.[1],
          err.status,
          err.headers,
        );
      }
      throw err;
    }
  }

  /** The rule in place, created or found: `created` says which. */
  async ensureSecurityGroupRule(
    input: CreateSecurityGroupRuleInput,
  ): Promise<{ id: string | undefined; created: boolean }> {
    try {
      return { id: (await this.createSecurityGroupRule(input)).id, created: true };
    } catch (err) {
      if (err instanceof SecurityGroupRuleExistsError) return { id: err.existingRuleId, created: false };
      throw err;
    }
  }

  async listSecurityGroupRules(
    f: { securityGroupId?: string; projectId?: string } = {},
  ): Promise<SecurityGroupRule[]> {
    const rows = await this.list("security-group-rules", {
      security_group_id: f.securityGroupId,
      project_id: f.projectId,
    });
    return rows.map(toRule);
  }

  deleteSecurityGroupRule(id: string, opts: IgnoreNotFound = {}): Promise<boolean> {
    return this.remove("security-group-rules", id, opts);
  }

  /** Limits and usage per resource (floatingip, port, security_group, ...). */
  async getQuotaUsage(projectId: string): Promise<QuotaUsageSet> {
    const res = await this.http.get<{ quota: Record<string, any> }>(
      `/v2.0/quotas/${encodeURIComponent(projectId)}/details`,
    );
    return toQuotaUsageSet(res.quota, "used");
  }

  /** Admin: sets a project's network quotas (floatingip, port, security_group, ...). */
  async setQuotas(projectId: string, quotas: Record<string, number>): Promise<void> {
    await this.http.put(`/v2.0/quotas/${encodeURIComponent(projectId)}`, { quota: quotas });
  }

  /** Admin: back to the defaults. */
  async resetQuotas(projectId: string): Promise<void> {
    await this.http.delete(`/v2.0/quotas/${encodeURIComponent(projectId)}`);
  }
}
