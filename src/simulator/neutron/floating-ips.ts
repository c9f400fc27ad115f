// /v2.0/floatingips: allocation from an external network, association with a port through a
// router that joins the two (Neutron refuses otherwise), and the quota.
import type { FastifyInstance } from "fastify";
import { badRequest, policyDenied } from "./errors.ts";
import { listOwned, showResponse } from "./query.ts";
import {
  type Caller,
  caller,
  findOwned,
  type NeutronEnv,
  notFound,
  ownedBy,
  resourceBody,
  targetProject,
} from "./scope.ts";
import { type FloatingIpRecord, NeutronError, type NeutronState, stamp } from "./state.ts";
import { floatingIpView } from "./views.ts";

function associate(
  state: NeutronState,
  c: Caller,
  fip: FloatingIpRecord,
  portId: unknown,
  fixedIp: unknown,
): void {
  if (portId === null || portId === undefined) {
    state.associate(fip, null, null);
    return;
  }
  const port = state.ports.get(String(portId));
  if (!port || !ownedBy(c, port)) throw notFound("PortNotFound", String(portId));
  const ipv4 = port.fixed_ips;
  if (ipv4.length === 0) {
    throw badRequest("floatingip", `Port ${port.id} does not have any IPv4 addresses`);
  }
  const fixed = typeof fixedIp === "string" ? fixedIp : ipv4[0]!.ip_address;
  const held = ipv4.find((f) => f.ip_address === fixed);
  if (!held) {
    throw badRequest("floatingip", `Port ${port.id} does not have fixed ip ${fixed}`);
  }
  const existing = state.floatingIpOfPort(port.id);
  if (existing && existing.id !== fip.id) {
    throw new NeutronError(
      409,
      "FloatingIPPortAlreadyAssociated",
      `Cannot associate floating IP ${fip.floating_ip_address} (${fip.id}) with port ${port.id} using fixed IP ${fixed}, as that fixed IP already has a floating IP on external network ${fip.floating_network_id}.`,
    );
  }
  if (!state.routerFor(fip.floating_network_id, port)) {
    throw new NeutronError(
      404,
      "ExternalGatewayForFloatingIPNotFound",
      `External network ${fip.floating_network_id} is not reachable from subnet ${held.subnet_id}.  Therefore, cannot associate Port ${port.id} with a Floating IP.`,
    );
  }
  state.associate(fip, port, fixed);
}

export function floatingIpRoutes(app: FastifyInstance, env: NeutronEnv): void {
  const { state } = env;

  const visible = (req: Parameters<typeof caller>[0], id: string) =>
    findOwned(state.floatingips, req, "FloatingIPNotFound", id);

  app.get("/v2.0/floatingips", async (req) =>
    listOwned(env, req, "/floatingips", state.floatingips.values(), (f) => floatingIpView(state, f)),
  );

  app.get<{ Params: { id: string } }>("/v2.0/floatingips/:id", async (req) => {
    const view = floatingIpView(state, visible(req, req.params.id));
    return showResponse("floatingip", view, req.query);
  });

  app.post("/v2.0/floatingips", async (req, reply) => {
    const c = caller(req);
    const body = resourceBody(req.body, "floatingip");
    const netId = body.floating_network_id;
    if (typeof netId !== "string") {
      throw new NeutronError(
        400,
        "HTTPBadRequest",
        "Failed to parse request. Required attribute 'floating_network_id' not specified",
      );
    }
    const net = state.networks.get(netId);
    if (!net) throw notFound("NetworkNotFound", netId);
    if (!net["router:external"]) {
      throw badRequest("floatingip", `Network ${netId} is not a valid external network`);
    }
    if (body.floating_ip_address !== undefined && !c.admin) {
      throw policyDenied("create_floatingip and rule:create_floatingip:floating_ip_address");
    }
    const projectId = targetProject(c, body);
    state.checkQuota(projectId, "floatingip");
    let address: string;
    if (typeof body.floating_ip_address === "string") {
      const subnetId = state.subnetHolding(netId, body.floating_ip_address);
      if (!subnetId) {
        throw badRequest(
          "floatingip",
          `Invalid input for operation: IP address ${body.floating_ip_address} is not a valid IP for the specified subnet`,
        );
      }
      address = state.allocateIp(subnetId, body.floating_ip_address);
    } else {
      address = state.allocateOnNetwork(netId).ip_address;
    }
    const fip = state.addFloatingIp({
      ...stamp(projectId, (body.description as string) ?? ""),
      floating_network_id: netId,
      floating_ip_address: address,
      fixed_ip_address: null,
      port_id: null,
      router_id: null,
      status: "DOWN",
    });
    try {
      if (body.port_id) associate(state, c, fip, body.port_id, body.fixed_ip_address);
    } catch (e) {
      state.removeFloatingIp(fip.id);
      throw e;
    }
    return reply.code(201).send({ floatingip: floatingIpView(state, fip) });
  });

  app.put<{ Params: { id: string } }>("/v2.0/floatingips/:id", async (req) => {
    const c = caller(req);
    const fip = visible(req, req.params.id);
    const body = resourceBody(req.body, "floatingip");
    if ("port_id" in body) associate(state, c, fip, body.port_id, body.fixed_ip_address);
    if (typeof body.description === "string") fip.description = body.description;
    return { floatingip: floatingIpView(state, fip) };
  });

  app.delete<{ Params: { id: string } }>("/v2.0/floatingips/:id", async (req, reply) => {
    state.removeFloatingIp(visible(req, req.params.id).id);
    return reply.code(204).send();
  });
}
