// /v2.0/networks and /v2.0/subnets.
import type { FastifyInstance } from "fastify";
import { policyDenied } from "./errors.ts";
import { intToIp, parseCidr } from "./ipam.ts";
import { listResponse, showResponse } from "./query.ts";
import {
  caller,
  type NeutronEnv,
  notFound,
  ownedBy,
  type Query,
  resourceBody,
  targetProject,
} from "./scope.ts";
import { NeutronError, stamp, touch } from "./state.ts";
import { networkView, subnetView } from "./views.ts";

export function networkRoutes(app: FastifyInstance, env: NeutronEnv): void {
  const { state } = env;

  const visibleNetwork = (req: Parameters<typeof caller>[0], id: string) => {
    const c = caller(req);
    const n = state.networks.get(id);
    if (!n || !state.networkVisibleTo(n, c.projectId, c.admin)) throw notFound("NetworkNotFound", id);
    return n;
  };

  app.get("/v2.0/networks", async (req) => {
    const c = caller(req);
    const views = [...state.networks.values()]
      .filter((n) => state.networkVisibleTo(n, c.projectId, c.admin))
      .map((n) => networkView(state, n, c.admin));
    return listResponse(views, req.query as Query, { collection: "networks", url: env.url("/networks") });
  });

  app.get<{ Params: { id: string } }>("/v2.0/networks/:id", async (req) => {
    const view = networkView(state, visibleNetwork(req, req.params.id), caller(req).admin);
    return showResponse("network", view, req.query);
  });

  app.post("/v2.0/networks", async (req, reply) => {
    const c = caller(req);
    const body = resourceBody(req.body, "network");
    const projectId = targetProject(c, body);
    const shared = body.shared === true;
    const external = body["router:external"] === true;
    if ((shared || external || body["provider:network_type"]) && !c.admin) {
      throw policyDenied(external ? "create_network:router:external" : "create_network:shared");
    }
    state.checkQuota(projectId, "network");
    const type = (body["provider:network_type"] as string) ?? (external ? "flat" : "vxlan");
    const n = state.addNetwork({
      ...stamp(projectId, (body.description as string) ?? ""),
      name: (body.name as string) ?? "",
      admin_state_up: body.admin_state_up !== false,
      shared,
      "router:external": external,
      is_default: body.is_default === true,
      mtu: type === "vxlan" ? 1450 : 1500,
      "provider:network_type": type,
      "provider:physical_network":
        (body["provider:physical_network"] as string) ?? (type === "flat" ? "public" : null),
      "provider:segmentation_id": type === "vxlan" ? 1000 + state.networks.size : null,
    });
    return reply.code(201).send({ network: networkView(state, n, c.admin) });
  });

  app.put<{ Params: { id: string } }>("/v2.0/networks/:id", async (req) => {
    const c = caller(req);
    const n = visibleNetwork(req, req.params.id);
    if (!ownedBy(c, n)) throw policyDenied("update_network");
    const body = resourceBody(req.body, "network");
    if (typeof body.name === "string") n.name = body.name;
    if (typeof body.description === "string") n.description = body.description;
    if (typeof body.admin_state_up === "boolean") n.admin_state_up = body.admin_state_up;
    if (typeof body.shared === "boolean") {
      if (!c.admin) throw policyDenied("update_network:shared");
      n.shared = body.shared;
    }
    touch(n);
    return { network: networkView(state, n, c.admin) };
  });

  app.delete<{ Params: { id: string } }>("/v2.0/networks/:id", async (req, reply) => {
    const c = caller(req);
    const n = visibleNetwork(req, req.params.id);
    if (!ownedBy(c, n)) throw policyDenied("delete_network");
    for (const p of state.ports.values()) {
      if (p.network_id === n.id && !p.device_owner.startsWith("network:dhcp")) {
        throw new NeutronError(
          409,
          "NetworkInUse",
          `Unable to complete operation on network ${n.id}. There are one or more ports still in use on the network.`,
        );
      }
    }
    state.removeNetwork(n.id);
    return reply.code(204).send();
  });

  // --- subnets -------------------------------------------------------------------------------

  const visibleSubnet = (req: Parameters<typeof caller>[0], id: string) => {
    const c = caller(req);
    const s = state.subnets.get(id);
    const n = s ? state.networks.get(s.network_id) : undefined;
    if (!s || !n || !(c.admin || s.project_id === c.projectId || n.shared || n["router:external"])) {
      throw notFound("SubnetNotFound", id);
    }
    return s;
  };

  app.get("/v2.0/subnets", async (req) => {
    const c = caller(req);
    const views = [...state.subnets.values()]
      .filter((s) => {
        const n = state.networks.get(s.network_id);
        return n && (c.admin || s.project_id === c.projectId || n.shared || n["router:external"]);
      })
      .map(subnetView);
    return listResponse(views, req.query as Query, { collection: "subnets", url: env.url("/subnets") });
  });

  app.get<{ Params: { id: string } }>("/v2.0/subnets/:id", async (req) => {
    const view = subnetView(visibleSubnet(req, req.params.id));
    return showResponse("subnet", view, req.query);
  });

  app.post("/v2.0/subnets", async (req, reply) => {
    const c = caller(req);
    const body = resourceBody(req.body, "subnet");
    const networkId = body.network_id as string;
    const n = networkId ? state.networks.get(networkId) : undefined;
    if (!n || !state.networkVisibleTo(n, c.projectId, c.admin)) {
      throw notFound("NetworkNotFound", String(networkId));
    }
    if (!ownedBy(c, n)) throw policyDenied("create_subnet");
    if (body.ip_version !== undefined && Number(body.ip_version) !== 4) {
      throw new NeutronError(
        400,
        "InvalidInput",
        "Invalid input for operation: the simulator supports IPv4 only.",
      );
    }
    const cidr = parseCidr(String(body.cidr ?? ""));
    if (!cidr) {
      throw new NeutronError(
        400,
        "HTTPBadRequest",
        `Invalid input for cidr. Reason: '${body.cidr}' is not a valid IP subnet.`,
      );
    }
    const projectId = targetProject(c, body);
    state.checkQuota(projectId, "subnet");
    const gateway =
      body.gateway_ip === null
        ? null
        : typeof body.gateway_ip === "string"
          ? body.gateway_ip
          : intToIp(cidr.network + 1);
    const s = state.addSubnet({
      ...stamp(projectId, (body.description as string) ?? ""),
      name: (body.name as string) ?? "",
      network_id: n.id,
      cidr: body.cidr as string,
      gateway_ip: gateway,
      allocation_pools: Array.isArray(body.allocation_pools) ? (body.allocation_pools as never) : [],
      enable_dhcp: body.enable_dhcp !== false,
      dns_nameservers: Array.isArray(body.dns_nameservers) ? (body.dns_nameservers as string[]) : [],
      host_routes: [],
      ip_cursor: 0,
    });
    touch(n);
    return reply.code(201).send({ subnet: subnetView(s) });
  });

  app.delete<{ Params: { id: string } }>("/v2.0/subnets/:id", async (req, reply) => {
    const c = caller(req);
    const s = visibleSubnet(req, req.params.id);
    if (!ownedBy(c, s)) throw policyDenied("delete_subnet");
    if (state.subnetInUse(s.id)) {
      throw new NeutronError(
        409,
        "SubnetInUse",
        `Unable to complete operation on subnet ${s.id}: One or more ports have an IP allocation from this subnet.`,
      );
    }
    state.removeSubnet(s.id);
    return reply.code(204).send();
  });
}
