// /v2.0/routers: enough of L3 to join a tenant subnet to the external network so that
// floating IPs can be associated (gateway, add/remove_router_interface).
import type { FastifyInstance } from "fastify";
import { policyDenied } from "./errors.ts";
import { createPort } from "./ports.ts";
import { listOwned, showResponse } from "./query.ts";
import {
  caller,
  findOwned,
  type NeutronEnv,
  notFound,
  ownedBy,
  resourceBody,
  targetProject,
} from "./scope.ts";
import {
  NeutronError,
  type NeutronState,
  type PortRecord,
  type RouterRecord,
  stamp,
  touch,
} from "./state.ts";
import { routerView } from "./views.ts";

export function setGateway(state: NeutronState, r: RouterRecord, networkId: string | null): void {
  for (const p of state.portsOfDevice(r.id)) {
    if (p.device_owner === "network:router_gateway") state.removePort(p.id);
  }
  r.external_gateway_info = null;
  if (!networkId) return;
  const n = state.networks.get(networkId);
  if (!n) throw notFound("NetworkNotFound", networkId);
  if (!n["router:external"]) {
    throw new NeutronError(
      400,
      "BadRequest",
      `Bad router request: Network ${networkId} is not an external network.`,
    );
  }
  // The gateway port belongs to no tenant in Neutron; its address comes from the external pool.
  const port = createPort(state, {
    projectId: "",
    admin: true,
    networkId,
    deviceId: r.id,
    deviceOwner: "network:router_gateway",
  });
  r.external_gateway_info = { network_id: networkId, enable_snat: true, external_fixed_ips: port.fixed_ips };
}

/** What add/remove_router_interface answer: the router, the subnet and the interface port. */
function interfaceInfo(r: RouterRecord, subnetId: string, port: PortRecord) {
  return {
    id: r.id,
    tenant_id: r.project_id,
    project_id: r.project_id,
    subnet_id: subnetId,
    subnet_ids: [subnetId],
    port_id: port.id,
    network_id: port.network_id,
    tags: [],
  };
}

export function addInterface(state: NeutronState, r: RouterRecord, subnetId: string, admin: boolean) {
  const s = state.subnets.get(subnetId);
  if (!s) throw notFound("SubnetNotFound", subnetId);
  for (const p of state.portsOfDevice(r.id)) {
    if (p.fixed_ips.some((f) => f.subnet_id === subnetId)) {
      throw new NeutronError(
        400,
        "BadRequest",
        `Bad router request: Router already has a port on subnet ${subnetId}.`,
      );
    }
  }
  const port = createPort(state, {
    projectId: r.project_id,
    admin,
    networkId: s.network_id,
    fixedIps: s.gateway_ip ? [{ subnet_id: s.id, ip_address: s.gateway_ip }] : [{ subnet_id: s.id }],
    deviceId: r.id,
    deviceOwner: "network:router_interface",
  });
  touch(r);
  return interfaceInfo(r, s.id, port);
}

export function routerRoutes(app: FastifyInstance, env: NeutronEnv): void {
  const { state } = env;

  const visible = (req: Parameters<typeof caller>[0], id: string) =>
    findOwned(state.routers, req, "RouterNotFound", id);

  app.get("/v2.0/routers", async (req) =>
    listOwned(env, req, "/routers", state.routers.values(), routerView),
  );

  app.get<{ Params: { id: string } }>("/v2.0/routers/:id", async (req) => {
    const view = routerView(visible(req, req.params.id));
    return showResponse("router", view, req.query);
  });

  app.post("/v2.0/routers", async (req, reply) => {
    const c = caller(req);
    const body = resourceBody(req.body, "router");
    const projectId = targetProject(c, body);
    state.checkQuota(projectId, "router");
    const r = state.addRouter({
      ...stamp(projectId, (body.description as string) ?? ""),
      name: (body.name as string) ?? "",
      admin_state_up: body.admin_state_up !== false,
      status: "ACTIVE",
      external_gateway_info: null,
    });
    const gw = body.external_gateway_info as { network_id?: string } | undefined;
    try {
      if (gw?.network_id) setGateway(state, r, gw.network_id);
    } catch (e) {
      state.removeRouter(r.id);
      throw e;
    }
    return reply.code(201).send({ router: routerView(r) });
  });

  app.put<{ Params: { id: string } }>("/v2.0/routers/:id", async (req) => {
    const r = visible(req, req.params.id);
    const body = resourceBody(req.body, "router");
    if (typeof body.name === "string") r.name = body.name;
    if ("external_gateway_info" in body) {
      const gw = body.external_gateway_info as { network_id?: string } | null;
      setGateway(state, r, gw?.network_id ?? null);
    }
    touch(r);
    return { router: routerView(r) };
  });

  app.put<{ Params: { id: string } }>("/v2.0/routers/:id/add_router_interface", async (req) => {
    const c = caller(req);
    const r = visible(req, req.params.id);
    const body = (req.body ?? {}) as { subnet_id?: string };
    if (!body.subnet_id) {
      throw new NeutronError(
        400,
        "BadRequest",
        "Bad router request: Either subnet_id or port_id must be specified.",
      );
    }
    return addInterface(state, r, body.subnet_id, c.admin);
  });

  app.put<{ Params: { id: string } }>("/v2.0/routers/:id/remove_router_interface", async (req) => {
    const r = visible(req, req.params.id);
    const body = (req.body ?? {}) as { subnet_id?: string };
    const port = state
      .portsOfDevice(r.id)
      .find(
        (p) =>
          p.device_owner === "network:router_interface" &&
          p.fixed_ips.some((f) => f.subnet_id === body.subnet_id),
      );
    if (!port) {
      throw new NeutronError(
        404,
        "RouterInterfaceNotFoundForSubnet",
        `Router ${r.id} has no interface on subnet ${body.subnet_id}`,
      );
    }
    state.removePort(port.id);
    touch(r);
    // The port holds an address on that subnet, so subnet_id is its id.
    return interfaceInfo(r, body.subnet_id as string, port);
  });

  app.delete<{ Params: { id: string } }>("/v2.0/routers/:id", async (req, reply) => {
    const c = caller(req);
    const r = visible(req, req.params.id);
    if (!ownedBy(c, r)) throw policyDenied("delete_router");
    if (state.portsOfDevice(r.id).some((p) => p.device_owner === "network:router_interface")) {
      throw new NeutronError(409, "RouterInUse", `Router ${r.id} still has ports`);
    }
    state.removeRouter(r.id);
    return reply.code(204).send();
  });
}
