// /v2.0/security-groups and /v2.0/security-group-rules, with Neutron's validation and its
// duplicate detection (409 SecurityGroupRuleExists naming the existing rule).
import type { FastifyInstance } from "fastify";
import { parseCidr } from "./ipam.ts";
import { listOwned, showResponse } from "./query.ts";
import {
  caller,
  findOwned,
  type NeutronEnv,
  notFound,
  type Query,
  resourceBody,
  targetProject,
} from "./scope.ts";
import { NeutronError, type SecurityGroupRuleRecord, stamp, touch } from "./state.ts";
import { ruleView, securityGroupView } from "./views.ts";

const PROTOCOL_NUMBERS: Record<string, string> = {
  icmp: "1",
  tcp: "6",
  udp: "17",
  sctp: "132",
  ipv6_icmp: "58",
};
const PORTED = new Set(["tcp", "udp", "sctp", "dccp", "udplite", "6", "17", "132", "33", "136"]);

/** Canonical protocol for duplicate checks: Neutron treats "tcp" and "6" as the same rule. */
const canonicalProtocol = (p: string | null) => (p === null ? null : (PROTOCOL_NUMBERS[p] ?? p));

function parsePort(v: unknown, field: string): number | null {
  if (v === null || v === undefined) return null;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new NeutronError(
      400,
      "HTTPBadRequest",
      `Invalid input for ${field}. Reason: '${v}' is not a valid port number.`,
    );
  }
  return n;
}

function normaliseRule(body: Record<string, unknown>) {
  const direction = body.direction;
  if (direction !== "ingress" && direction !== "egress") {
    throw new NeutronError(
      400,
      "HTTPBadRequest",
      `Invalid input for direction. Reason: '${direction}' is not in ['ingress', 'egress'].`,
    );
  }
  const ethertype = (body.ethertype ?? "IPv4") as string;
  if (ethertype !== "IPv4" && ethertype !== "IPv6") {
    throw new NeutronError(
      400,
      "SecurityGroupRuleInvalidEtherType",
      `Security group rule for ethertype '${ethertype}' not supported. Allowed values are ['IPv4', 'IPv6'].`,
    );
  }
  const protocol =
    body.protocol === undefined || body.protocol === null || body.protocol === "any"
      ? null
      : String(body.protocol).toLowerCase();
  if (
    protocol !== null &&
    !(protocol in PROTOCOL_NUMBERS) &&
    !/^\d+$/.test(protocol) &&
    !PORTED.has(protocol)
  ) {
    throw new NeutronError(
      400,
      "SecurityGroupRuleInvalidProtocol",
      `Security group rule protocol ${protocol} not supported. Only protocol values [None, 'tcp', 'udp', 'icmp', 'ipv6-icmp', ...] and integer representations [0 to 255] are supported.`,
    );
  }
  const min = parsePort(body.port_range_min, "port_range_min");
  const max = parsePort(body.port_range_max, "port_range_max");
  if ((min !== null || max !== null) && protocol === null) {
    throw new NeutronError(
      400,
      "SecurityGroupProtocolRequiredWithPorts",
      "Must also specify protocol if port range is given.",
    );
  }
  if (protocol !== null && PORTED.has(protocol) && min !== null && max !== null && min > max) {
    throw new NeutronError(
      400,
      "SecurityGroupInvalidPortRange",
      "For TCP/UDP protocols, port_range_min must be <= port_range_max",
    );
  }
  const prefix =
    body.remote_ip_prefix === undefined || body.remote_ip_prefix === null
      ? null
      : String(body.remote_ip_prefix);
  if (prefix !== null) {
    const bare = prefix.includes("/") ? prefix : `${prefix}/32`;
    if (!parseCidr(bare) && !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(prefix)) {
      throw new NeutronError(
        400,
        "HTTPBadRequest",
        `Invalid input for remote_ip_prefix. Reason: '${prefix}' is not a valid IP subnet.`,
      );
    }
  }
  const remoteGroup = (body.remote_group_id as string | null | undefined) ?? null;
  if (prefix !== null && remoteGroup !== null) {
    throw new NeutronError(
      400,
      "SecurityGroupRemoteGroupAndRemoteIpPrefix",
      "Only remote_ip_prefix or remote_group_id may be provided.",
    );
  }
  return {
    direction: direction as "ingress" | "egress",
    ethertype: ethertype as "IPv4" | "IPv6",
    protocol,
    port_range_min: min,
    // Neutron fills the max from the min when only the min is given for a ported protocol.
    port_range_max: max ?? (min !== null && protocol !== null && PORTED.has(protocol) ? min : null),
    remote_ip_prefix: prefix === null ? null : prefix.includes("/") ? prefix : `${prefix}/32`,
    remote_group_id: remoteGroup,
  };
}

function sameRule(a: SecurityGroupRuleRecord, b: ReturnType<typeof normaliseRule>): boolean {
  return (
    a.direction === b.direction &&
    a.ethertype === b.ethertype &&
    canonicalProtocol(a.protocol) === canonicalProtocol(b.protocol) &&
    a.port_range_min === b.port_range_min &&
    a.port_range_max === b.port_range_max &&
    a.remote_ip_prefix === b.remote_ip_prefix &&
    a.remote_group_id === b.remote_group_id
  );
}

export function securityGroupRoutes(app: FastifyInstance, env: NeutronEnv): void {
  const { state } = env;

  const visibleGroup = (req: Parameters<typeof caller>[0], id: string) =>
    findOwned(state.securityGroups, req, "SecurityGroupNotFound", id);

  app.get("/v2.0/security-groups", async (req) => {
    const c = caller(req);
    if (c.projectId) state.ensureDefaultGroup(c.projectId);
    return listOwned(env, req, "/security-groups", state.securityGroups.values(), (g) =>
      securityGroupView(state, g),
    );
  });

  app.get<{ Params: { id: string } }>("/v2.0/security-groups/:id", async (req) => {
    const view = securityGroupView(state, visibleGroup(req, req.params.id));
    return showResponse("security_group", view, req.query);
  });

  app.post("/v2.0/security-groups", async (req, reply) => {
    const c = caller(req);
    const body = resourceBody(req.body, "security_group");
    const projectId = targetProject(c, body);
    if (body.name === "default") {
      throw new NeutronError(
        409,
        "SecurityGroupDefaultAlreadyExists",
        "Default security group already exists.",
      );
    }
    state.ensureDefaultGroup(projectId);
    state.checkQuota(projectId, "security_group");
    const g = state.addSecurityGroup({
      ...stamp(projectId, (body.description as string) ?? ""),
      name: (body.name as string) ?? "",
      stateful: body.stateful !== false,
    });
    // Neutron gives every new group the two egress rules.
    for (const ethertype of ["IPv4", "IPv6"] as const) state.addOpenRule(g, "egress", ethertype);
    return reply.code(201).send({ security_group: securityGroupView(state, g) });
  });

  app.put<{ Params: { id: string } }>("/v2.0/security-groups/:id", async (req) => {
    const g = visibleGroup(req, req.params.id);
    const body = resourceBody(req.body, "security_group");
    if (typeof body.name === "string") {
      if (g.name === "default" && body.name !== "default") {
        throw new NeutronError(
          409,
          "SecurityGroupCannotUpdateDefault",
          "Updating default security group not allowed.",
        );
      }
      g.name = body.name;
    }
    if (typeof body.description === "string") g.description = body.description;
    touch(g);
    return { security_group: securityGroupView(state, g) };
  });

  app.delete<{ Params: { id: string } }>("/v2.0/security-groups/:id", async (req, reply) => {
    const c = caller(req);
    const g = visibleGroup(req, req.params.id);
    if (g.name === "default" && !c.admin) {
      throw new NeutronError(
        409,
        "SecurityGroupCannotRemoveDefault",
        "Removing default security group not allowed.",
      );
    }
    if (state.groupInUse(g.id)) {
      throw new NeutronError(409, "SecurityGroupInUse", `Security Group ${g.id} in use.`);
    }
    state.removeSecurityGroup(g.id);
    return reply.code(204).send();
  });

  // --- rules ---------------------------------------------------------------------------------

  app.get("/v2.0/security-group-rules", async (req) => {
    const q = req.query as Query;
    const groupIds =
      q.security_group_id === undefined ? undefined : ([] as string[]).concat(q.security_group_id);
    const source = groupIds ? groupIds.flatMap((g) => state.rulesOf(g)) : state.rules.values();
    return listOwned(env, req, "/security-group-rules", source, ruleView);
  });

  app.get<{ Params: { id: string } }>("/v2.0/security-group-rules/:id", async (req) => {
    const r = findOwned(state.rules, req, "SecurityGroupRuleNotFound", req.params.id);
    const view = ruleView(r);
    return showResponse("security_group_rule", view, req.query);
  });

  app.post("/v2.0/security-group-rules", async (req, reply) => {
    const c = caller(req);
    const body = resourceBody(req.body, "security_group_rule");
    const groupId = body.security_group_id;
    if (typeof groupId !== "string") {
      throw new NeutronError(
        400,
        "HTTPBadRequest",
        "Failed to parse request. Required attribute 'security_group_id' not specified",
      );
    }
    const g = visibleGroup(req, groupId);
    const rule = normaliseRule(body);
    if (rule.remote_group_id && !state.securityGroups.has(rule.remote_group_id)) {
      throw notFound("SecurityGroupNotFound", rule.remote_group_id);
    }
    const dup = state.rulesOf(g.id).find((r) => sameRule(r, rule));
    if (dup) {
      throw new NeutronError(
        409,
        "SecurityGroupRuleExists",
        `Security group rule already exists. Rule id is ${dup.id}.`,
      );
    }
    const projectId = c.admin ? g.project_id : targetProject(c, body);
    state.checkQuota(projectId, "security_group_rule");
    const r = state.addRule({
      ...stamp(projectId, (body.description as string) ?? ""),
      security_group_id: g.id,
      ...rule,
    });
    touch(g);
    return reply.code(201).send({ security_group_rule: ruleView(r) });
  });

  app.delete<{ Params: { id: string } }>("/v2.0/security-group-rules/:id", async (req, reply) => {
    const r = findOwned(state.rules, req, "SecurityGroupRuleNotFound", req.params.id);
    state.removeRule(r.id);
    const g = state.securityGroups.get(r.security_group_id);
    if (g) touch(g);
    return reply.code(204).send();
  });
}
