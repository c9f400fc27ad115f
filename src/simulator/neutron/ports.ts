// /v2.0/ports, and the port factory Nova's simulator uses to plug servers in.
import type { FastifyInstance } from "fastify";
import { badRequest, policyDenied } from "./errors.ts";
import { listOwned, showResponse } from "./query.ts";
import {
  caller,
  findOwned,
  type NeutronEnv,
  notFound,
  ownedBy,
  type Query,
  resourceBody,
  targetProject,
} from "./scope.ts";
import { type FixedIp, NeutronError, type NeutronState, type PortRecord, stamp, touch } from "./state.ts";
import { portView } from "./views.ts";

export interface NewPort {
  projectId: string;
  networkId: string;
  admin: boolean;
  name?: string;
  description?: string;
  fixedIps?: { subnet_id?: string; ip_address?: string }[];
  /** Security group ids; undefined means the project's default group. */
  securityGroups?: string[];
  deviceId?: string;
  deviceOwner?: string;
  macAddress?: string;
}

/** Creates a port with Neutron's checks: network access, quota, addresses, default group. */
export function createPort(state: NeutronState, spec: NewPort): PortRecord {
  const n = state.networks.get(spec.networkId);
  if (!n || !state.networkVisibleTo(n, spec.projectId, spec.admin)) {
    throw notFound("NetworkNotFound", spec.networkId);
  }
  if (!state.networkUsableBy(n, spec.projectId, spec.admin)) {
    throw new NeutronError(
      403,
      "PolicyNotAuthorized",
      "(rule:create_port and rule:create_port:fixed_ips) is disallowed by policy",
    );
  }
  state.checkQuota(spec.projectId, "port");
  const owner = spec.deviceOwner ?? "";
  const groups = owner.startsWith("network:")
    ? []
    : (spec.securityGroups ?? [state.ensureDefaultGroup(spec.projectId).id]);
  for (const g of groups) {
    if (!state.securityGroups.has(g)) throw notFound("SecurityGroupNotFound", g);
  }
  const fixed: FixedIp[] = [];
  try {
    if (spec.fixedIps?.length) {
      for (const want of spec.fixedIps) {
        const subnetId =
          want.subnet_id ?? (want.ip_address ? state.subnetHolding(n.id, want.ip_address) : undefined);
        const subnet = subnetId ? state.subnets.get(subnetId) : undefined;
        if (!subnet || subnet.network_id !== n.id) {
          throw badRequest(
            "port",
            `Invalid input for operation: IP address ${want.ip_address ?? ""} is not a valid IP for the specified subnet`,
          );
        }
        fixed.push({ subnet_id: subnet.id, ip_address: state.allocateIp(subnet.id, want.ip_address) });
      }
    } else if (state.subnetIdsOf(n.id).length > 0) {
      fixed.push(state.allocateOnNetwork(n.id));
    }
  } catch (e) {
    for (const f of fixed) state.releaseIp(f.subnet_id, f.ip_address);
    throw e;
  }
  const port = state.addPort({
    ...stamp(spec.projectId, spec.description ?? ""),
    name: spec.name ?? "",
    network_id: n.id,
    mac_address: spec.macAddress ?? state.newMac(),
    admin_state_up: true,
    status: spec.deviceId ? "ACTIVE" : "DOWN",
    device_id: "",
    device_owner: "",
    fixed_ips: fixed,
    security_groups: groups,
    port_security_enabled: true,
    "binding:host_id": "",
    "binding:vnic_type": "normal",
  });
  if (spec.deviceId) state.setDevice(port, spec.deviceId, owner);
  else port.device_owner = owner;
  return port;
}

export function portRoutes(app: FastifyInstance, env: NeutronEnv): void {
  const { state } = env;

  const visiblePort = (req: Parameters<typeof caller>[0], id: string) =>
    findOwned(state.ports, req, "PortNotFound", id);

  app.get("/v2.0/ports", async (req) => {
    const q = req.query as Query;
    // device_id is the hot filter (Nova asks for a server's ports): use the index.
    const deviceIds = q.device_id === undefined ? undefined : ([] as string[]).concat(q.device_id);
    const source = deviceIds ? deviceIds.flatMap((d) => state.portsOfDevice(d)) : state.ports.values();
    return listOwned(env, req, "/ports", source, (p, c) => portView(p, c.admin));
  });

  app.get<{ Params: { id: string } }>("/v2.0/ports/:id", async (req) => {
    const view = portView(visiblePort(req, req.params.id), caller(req).admin);
    return showResponse("port", view, req.query);
  });

  app.post("/v2.0/ports", async (req, reply) => {
    const c = caller(req);
    const body = resourceBody(req.body, "port");
    if (typeof body.network_id !== "string") {
      throw new NeutronError(
        400,
        "HTTPBadRequest",
        "Failed to parse request. Required attribute 'network_id' not specified",
      );
    }
    const projectId = targetProject(c, body);
    const port = createPort(state, {
      projectId,
      admin: c.admin,
      networkId: body.network_id,
      name: body.name as string | undefined,
      description: body.description as string | undefined,
      fixedIps: body.fixed_ips as NewPort["fixedIps"],
      securityGroups: body.security_groups as string[] | undefined,
      deviceId: body.device_id as string | undefined,
      deviceOwner: body.device_owner as string | undefined,
      macAddress: body.mac_address as string | undefined,
    });
    return reply.code(201).send({ port: portView(port, c.admin) });
  });

  app.put<{ Params: { id: string } }>("/v2.0/ports/:id", async (req) => {
    const c = caller(req);
    const p = visiblePort(req, req.params.id);
    const body = resourceBody(req.body, "port");
    if (typeof body.name === "string") p.name = body.name;
    if (typeof body.description === "string") p.description = body.description;
    if (typeof body.admin_state_up === "boolean") p.admin_state_up = body.admin_state_up;
    if (Array.isArray(body.security_groups)) {
      for (const g of body.security_groups as string[]) {
        const group = state.securityGroups.get(g);
        if (!group || !ownedBy(c, group)) throw notFound("SecurityGroupNotFound", g);
      }
      p.security_groups = [...new Set(body.security_groups as string[])];
    }
    if (typeof body.device_id === "string" || typeof body.device_owner === "string") {
      if (!c.admin && body.device_owner !== undefined && String(body.device_owner).startsWith("network:")) {
        throw policyDenied("update_port:device_owner");
      }
      state.setDevice(
        p,
        (body.device_id as string) ?? p.device_id,
        (body.device_owner as string) ?? p.device_owner,
      );
    }
    touch(p);
    return { port: portView(p, c.admin) };
  });

  app.delete<{ Params: { id: string } }>("/v2.0/ports/:id", async (req, reply) => {
    const c = caller(req);
    const p = visiblePort(req, req.params.id);
    if (!c.admin && p.device_owner === "network:router_interface") {
      throw new NeutronError(
        409,
        "PortInUse",
        `Port ${p.id} cannot be deleted directly via the port API: has device owner network:router_interface.`,
      );
    }
    state.removePort(p.id);
    return reply.code(204).send();
  });
}
