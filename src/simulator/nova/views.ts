// Nova's server and flavor representations, microversion by microversion, built the way
// nova.api.openstack.compute.views does: extended attributes, addresses from the server's
// Neutron ports (floating IPs included), flavor embedded from 2.47.
import { createHash } from "node:crypto";
import type { NovaCall, NovaEnv } from "./scope.ts";
import type { FlavorRecord, ServerRecord } from "./state.ts";

type View = Record<string, unknown>;

/** Nova's status from vm_state and task_state (nova.api.openstack.common._STATE_MAP). */
export function statusOf(s: ServerRecord): string {
  switch (s.vm_state) {
    case "building":
      return "BUILD";
    case "active":
      if (
        s.task_state === "rebooting" ||
        s.task_state === "reboot_pending" ||
        s.task_state === "reboot_started"
      ) {
        return "REBOOT";
      }
      if (s.task_state === "rebooting_hard") return "HARD_REBOOT";
      if (s.task_state?.startsWith("rebuild")) return "REBUILD";
      return "ACTIVE";
    case "stopped":
      return s.task_state?.startsWith("rebuild") ? "REBUILD" : "SHUTOFF";
    case "error":
      return s.task_state?.startsWith("rebuild") ? "REBUILD" : "ERROR";
    case "deleted":
      return "DELETED";
  }
}

const PROGRESS_STATUSES = new Set(["ACTIVE", "BUILD", "REBUILD", "RESIZE", "VERIFY_RESIZE", "MIGRATING"]);

export function serverLinks(env: NovaEnv, id: string) {
  return [
    { rel: "self", href: `${env.root()}/v2.1/servers/${id}` },
    { rel: "bookmark", href: `${env.root()}/servers/${id}` },
  ];
}

export function serverSummary(env: NovaEnv, s: ServerRecord): View {
  return { id: s.id, name: s.name, links: serverLinks(env, s.id) };
}

function progressOf(s: ServerRecord): number {
  if (s.vm_state === "active") return 0;
  const p = s.pending;
  if (p?.kind !== "build") return 0;
  const span = p.due_at - p.started_at;
  if (p.outcome === "stuck" || span <= 0) return 0;
  return Math.min(99, Math.floor(((Date.now() - p.started_at) / span) * 100));
}

export function addressesOf(env: NovaEnv, serverId: string): { addresses: View; groups: string[] } {
  const addresses: Record<string, View[]> = {};
  const groups = new Set<string>();
  for (const port of env.neutron.portsOfDevice(serverId)) {
    const net = env.neutron.networks.get(port.network_id);
    const label = net?.name || port.network_id;
    const list = addresses[label] ?? [];
    for (const ip of port.fixed_ips) {
      list.push({
        version: 4,
        addr: ip.ip_address,
        "OS-EXT-IPS:type": "fixed",
        "OS-EXT-IPS-MAC:mac_addr": port.mac_address,
      });
    }
    const fip = env.neutron.floatingIpOfPort(port.id);
    if (fip) {
      list.push({
        version: 4,
        addr: fip.floating_ip_address,
        "OS-EXT-IPS:type": "floating",
        "OS-EXT-IPS-MAC:mac_addr": port.mac_address,
      });
    }
    addresses[label] = list;
    for (const g of port.security_groups) {
      const name = env.neutron.securityGroups.get(g)?.name;
      if (name) groups.add(name);
    }
  }
  return { addresses, groups: [...groups] };
}

export function serverView(env: NovaEnv, s: ServerRecord, c: NovaCall, opts: { show?: boolean } = {}): View {
  const v = c.minor;
  const status = statusOf(s);
  const { addresses, groups } = addressesOf(env, s.id);
  const flavor =
    v >= 47
      ? { ...s.flavor, extra_specs: { ...s.flavor.extra_specs } }
      : { id: s.flavor_id, links: [{ rel: "bookmark", href: `${env.root()}/flavors/${s.flavor_id}` }] };
  const view: View = {
    id: s.id,
    name: s.name,
    status,
    tenant_id: s.project_id,
    user_id: s.user_id,
    metadata: { ...s.metadata },
    hostId: s.host
      ? createHash("sha224")
          .update(s.project_id + s.host)
          .digest("hex")
      : "",
    image: s.image_id
      ? { id: s.image_id, links: [{ rel: "bookmark", href: `${env.root()}/images/${s.image_id}` }] }
      : "",
    flavor,
    created: s.created,
    updated: s.updated,
    addresses,
    accessIPv4: s.access_ipv4,
    accessIPv6: s.access_ipv6,
    links: serverLinks(env, s.id),
    "OS-DCF:diskConfig": "MANUAL",
    key_name: s.key_name,
    config_drive: s.config_drive,
    "OS-EXT-AZ:availability_zone": s.availability_zone,
    "OS-EXT-STS:task_state": s.task_state,
    "OS-EXT-STS:vm_state": s.vm_state,
    "OS-EXT-STS:power_state": s.power_state,
    "OS-SRV-USG:launched_at": s.launched_at,
    "OS-SRV-USG:terminated_at": s.terminated_at,
    "os-extended-volumes:volumes_attached": s.volumes.map((a) =>
      v >= 3 ? { id: a.volume_id, delete_on_termination: a.delete_on_termination } : { id: a.volume_id },
    ),
  };
  if (PROGRESS_STATUSES.has(status)) view.progress = progressOf(s);
  if (groups.length) view.security_groups = groups.map((name) => ({ name }));
  if (s.fault && (status === "ERROR" || status === "DELETED")) {
    view.fault = {
      code: s.fault.code,
      created: s.fault.created,
      message: s.fault.message,
      ...(c.admin || s.fault.code !== 500 ? { details: s.fault.details } : {}),
    };
  }
  if (c.admin) {
    view["OS-EXT-SRV-ATTR:host"] = s.host;
    view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = s.host;
    view["OS-EXT-SRV-ATTR:instance_name"] = s.instance_name;
    if (v >= 3) {
      view["OS-EXT-SRV-ATTR:reservation_id"] = s.reservation_id;
      view["OS-EXT-SRV-ATTR:launch_index"] = s.launch_index;
      view["OS-EXT-SRV-ATTR:hostname"] = s.hostname;
      view["OS-EXT-SRV-ATTR:kernel_id"] = "";
      view["OS-EXT-SRV-ATTR:ramdisk_id"] = "";
      view["OS-EXT-SRV-ATTR:root_device_name"] = "/dev/vda";
      view["OS-EXT-SRV-ATTR:user_data"] = s.user_data;
    }
    if (v >= 16) view.host_status = s.host ? "UP" : "";
  } else if (v >= 90) {
    view["OS-EXT-SRV-ATTR:hostname"] = s.hostname;
  }
  if (v >= 9) view.locked = s.locked;
  if (v >= 19) view.description = s.description;
  if (v >= 26) view.tags = [...s.tags];
  if (v >= 63) view.trusted_image_certificates = null;
  if (v >= 71 && opts.show) view.server_groups = [];
  if (v >= 73) view.locked_reason = s.locked_reason;
  return view;
}

export function flavorLinks(env: NovaEnv, id: string) {
  return [
    { rel: "self", href: `${env.root()}/v2.1/flavors/${id}` },
    { rel: "bookmark", href: `${env.root()}/flavors/${id}` },
  ];
}

export function flavorSummary(env: NovaEnv, f: FlavorRecord, c: NovaCall): View {
  const view: View = { id: f.id, name: f.name, links: flavorLinks(env, f.id) };
  if (c.minor >= 55) view.description = f.description;
  return view;
}

export function flavorView(env: NovaEnv, f: FlavorRecord, c: NovaCall): View {
  const view: View = {
    id: f.id,
    name: f.name,
    ram: f.ram,
    disk: f.disk,
    swap: c.minor >= 75 ? f.swap : f.swap === 0 ? "" : f.swap,
    "OS-FLV-EXT-DATA:ephemeral": f.ephemeral,
    "OS-FLV-DISABLED:disabled": f.disabled,
    vcpus: f.vcpus,
    "os-flavor-access:is_public": f.is_public,
    rxtx_factor: f.rxtx_factor,
    links: flavorLinks(env, f.id),
  };
  if (c.minor >= 55) view.description = f.description;
  if (c.minor >= 61) view.extra_specs = { ...f.extra_specs };
  return view;
}
