// Neutron's resource representations, as neutron-server with the ML2 plugin and the usual
// extensions (binding, port-security, standard-attr, fip-port-details, l3) renders them.
import type {
  FloatingIpRecord,
  NetworkRecord,
  NeutronState,
  PortRecord,
  RouterRecord,
  SecurityGroupRecord,
  SecurityGroupRuleRecord,
  StandardAttrs,
  SubnetRecord,
} from "./state.ts";

type View = Record<string, unknown>;

const tenant = (r: { project_id: string }) => ({ tenant_id: r.project_id, project_id: r.project_id });

/** The standard-attr extension's fields, which every resource ends with. */
const standardAttrs = (r: StandardAttrs) => ({
  tags: r.tags,
  created_at: r.created_at,
  updated_at: r.updated_at,
  revision_number: r.revision_number,
});

export function networkView(s: NeutronState, n: NetworkRecord, admin: boolean): View {
  const v: View = {
    id: n.id,
    name: n.name,
    ...tenant(n),
    admin_state_up: n.admin_state_up,
    mtu: n.mtu,
    status: "ACTIVE",
    subnets: s.subnetIdsOf(n.id),
    shared: n.shared,
    availability_zone_hints: [],
    availability_zones: ["nova"],
    ipv4_address_scope: null,
    ipv6_address_scope: null,
    "router:external": n["router:external"],
    description: n.description,
    port_security_enabled: true,
    ...standardAttrs(n),
  };
  if (n["router:external"]) v.is_default = n.is_default;
  if (admin) {
    v["provider:network_type"] = n["provider:network_type"];
    v["provider:physical_network"] = n["provider:physical_network"];
    v["provider:segmentation_id"] = n["provider:segmentation_id"];
  }
  return v;
}

export function subnetView(s: SubnetRecord): View {
  return {
    id: s.id,
    name: s.name,
    ...tenant(s),
    network_id: s.network_id,
    ip_version: 4,
    subnetpool_id: null,
    enable_dhcp: s.enable_dhcp,
    ipv6_ra_mode: null,
    ipv6_address_mode: null,
    gateway_ip: s.gateway_ip,
    cidr: s.cidr,
    allocation_pools: s.allocation_pools,
    host_routes: s.host_routes,
    dns_nameservers: s.dns_nameservers,
    description: s.description,
    service_types: [],
    segment_id: null,
    ...standardAttrs(s),
  };
}

export function portView(p: PortRecord, admin: boolean): View {
  const v: View = {
    id: p.id,
    name: p.name,
    network_id: p.network_id,
    ...tenant(p),
    mac_address: p.mac_address,
    admin_state_up: p.admin_state_up,
    status: p.status,
    device_id: p.device_id,
    device_owner: p.device_owner,
    fixed_ips: p.fixed_ips.map((f) => ({ ...f })),
    allowed_address_pairs: [],
    extra_dhcp_opts: [],
    security_groups: [...p.security_groups],
    description: p.description,
    "binding:vnic_type": p["binding:vnic_type"],
    port_security_enabled: p.port_security_enabled,
    dns_name: "",
    dns_assignment: [],
    qos_policy_id: null,
    qos_network_policy_id: null,
    propagate_uplink_status: false,
    ip_allocation: "immediate",
    ...standardAttrs(p),
  };
  if (admin) {
    v["binding:host_id"] = p["binding:host_id"];
    v["binding:profile"] = {};
    v["binding:vif_type"] = p["binding:host_id"] ? "ovs" : "unbound";
    v["binding:vif_details"] = p["binding:host_id"] ? { port_filter: true, connectivity: "l2" } : {};
  }
  return v;
}

export function floatingIpView(s: NeutronState, f: FloatingIpRecord): View {
  const port = f.port_id ? s.ports.get(f.port_id) : undefined;
  return {
    id: f.id,
    ...tenant(f),
    floating_network_id: f.floating_network_id,
    floating_ip_address: f.floating_ip_address,
    fixed_ip_address: f.fixed_ip_address,
    port_id: f.port_id,
    router_id: f.router_id,
    status: f.status,
    description: f.description,
    dns_domain: "",
    dns_name: "",
    qos_policy_id: null,
    port_details: port
      ? {
          name: port.name,
          network_id: port.network_id,
          mac_address: port.mac_address,
          admin_state_up: port.admin_state_up,
          status: port.status,
          device_id: port.device_id,
          device_owner: port.device_owner,
        }
      : null,
    port_forwardings: [],
    ...standardAttrs(f),
  };
}

export function routerView(r: RouterRecord): View {
  return {
    id: r.id,
    name: r.name,
    ...tenant(r),
    admin_state_up: r.admin_state_up,
    status: r.status,
    external_gateway_info: r.external_gateway_info,
    description: r.description,
    availability_zone_hints: [],
    availability_zones: ["nova"],
    distributed: false,
    ha: false,
    flavor_id: null,
    routes: [],
    ...standardAttrs(r),
  };
}

export function ruleView(r: SecurityGroupRuleRecord): View {
  return {
    id: r.id,
    ...tenant(r),
    security_group_id: r.security_group_id,
    direction: r.direction,
    ethertype: r.ethertype,
    protocol: r.protocol,
    port_range_min: r.port_range_min,
    port_range_max: r.port_range_max,
    remote_ip_prefix: r.remote_ip_prefix,
    remote_group_id: r.remote_group_id,
    remote_address_group_id: null,
    description: r.description,
    ...standardAttrs(r),
  };
}

export function securityGroupView(s: NeutronState, g: SecurityGroupRecord): View {
  return {
    id: g.id,
    name: g.name,
    ...tenant(g),
    description: g.description,
    stateful: g.stateful,
    shared: false,
    security_group_rules: s.rulesOf(g.id).map(ruleView),
    ...standardAttrs(g),
  };
}
