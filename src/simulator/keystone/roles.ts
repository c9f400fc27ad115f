// /v3/roles, role grants on projects, domains and the system for users and groups, and
// GET /v3/role_assignments (with effective and include_names).
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { type AssignmentRow, hasGrant, listAssignments } from "./assignments.ts";
import { type Keystone, requireObject } from "./core.ts";
import { badRequest, conflict, KsError } from "./errors.ts";
import { authorize } from "./policy.ts";
import { renderRole } from "./render.ts";
import { type GrantRec, newId } from "./state.ts";

type GrantParams = { target: string; actor: string; actorId: string; targetId: string; roleId: string };

const TARGETS = { projects: "project", domains: "domain" } as const;
const ACTORS = { users: "user", groups: "group" } as const;

/** Reads the grant a URL names, after checking that its target, actor and role exist. */
function grantOf(ks: Keystone, p: GrantParams): GrantRec | undefined {
  const target = TARGETS[p.target as keyof typeof TARGETS];
  const actor = ACTORS[p.actor as keyof typeof ACTORS];
  if (!target || !actor) return undefined;
  if (target === "project") ks.project(p.targetId);
  else ks.domain(p.targetId);
  if (actor === "user") ks.user(p.actorId);
  else ks.group(p.actorId);
  if (p.roleId) ks.role(p.roleId);
  return { actor, actorId: p.actorId, target, targetId: p.targetId, roleId: p.roleId };
}

function assignmentNotFound(g: GrantRec) {
  return new KsError(
    404,
    `Could not find role assignment with role: ${g.roleId}, user or group: ${g.actorId}, project, domain, or system: ${g.targetId}.`,
  );
}

function renderAssignment(ks: Keystone, row: AssignmentRow, names: boolean) {
  const g = row.grant;
  const withDomain = (domainId: string) => {
    const d = ks.state.domains[domainId];
    return { id: domainId, name: d?.name };
  };
  const out: Record<string, unknown> = {};
  const role = ks.state.roles[row.roleId];
  out.role = names ? { id: row.roleId, name: role?.name } : { id: row.roleId };
  if (g.target === "system") {
    out.scope = { system: { all: true } };
  } else if (g.target === "project") {
    const p = ks.state.projects[g.targetId];
    out.scope = {
      project: names && p ? { id: p.id, name: p.name, domain: withDomain(p.domainId) } : { id: g.targetId },
    };
  } else {
    const d = ks.state.domains[g.targetId];
    out.scope = { domain: names && d ? { id: d.id, name: d.name } : { id: g.targetId } };
  }
  if (row.userId) {
    const u = ks.state.users[row.userId];
    out.user = names && u ? { id: u.id, name: u.name, domain: withDomain(u.domainId) } : { id: row.userId };
  } else {
    const gr = ks.state.groups[g.actorId];
    out.group =
      names && gr ? { id: gr.id, name: gr.name, domain: withDomain(gr.domainId) } : { id: g.actorId };
  }
  const targetPath = g.target === "system" ? "/system" : `/${g.target}s/${g.targetId}`;
  const links: Record<string, string> = {
    assignment: ks.link(`${targetPath}/${g.actor}s/${g.actorId}/roles/${g.roleId}`),
  };
  if (g.actor === "group" && row.userId)
    links.membership = ks.link(`/groups/${g.actorId}/users/${row.userId}`);
  if (row.priorRoleId) links.prior_role = ks.link(`/roles/${row.priorRoleId}`);
  out.links = links;
  return out;
}

export function registerRoleRoutes(app: FastifyInstance, ks: Keystone) {
  app.get<{ Querystring: Record<string, string> }>("/v3/roles", async (req) => {
    authorize(ks, req, "list_roles");
    const roles = Object.values(ks.state.roles).filter((r) => !req.query.name || r.name === req.query.name);
    return { roles: roles.map((r) => renderRole(ks, r)), links: ks.listLinks("/roles") };
  });

  app.post("/v3/roles", async (req, reply) => {
    authorize(ks, req, "create_role");
    const body = requireObject(req.body, "role");
    if (typeof body.name !== "string" || !body.name) throw badRequest("'name' is a required property");
    if (Object.values(ks.state.roles).some((r) => r.name.toLowerCase() === body.name.toLowerCase())) {
      throw conflict("role", `Duplicate entry found with name ${body.name}`);
    }
    const role = {
      id: newId(),
      name: body.name,
      description: typeof body.description === "string" ? body.description : "",
    };
    ks.state.roles[role.id] = role;
    ks.touch();
    return reply.code(201).send({ role: renderRole(ks, role) });
  });

  app.get<{ Params: { id: string } }>("/v3/roles/:id", async (req) => {
    authorize(ks, req, "get_role");
    return { role: renderRole(ks, ks.role(req.params.id)) };
  });

  app.delete<{ Params: { id: string } }>("/v3/roles/:id", async (req, reply) => {
    authorize(ks, req, "delete_role");
    const role = ks.role(req.params.id);
    delete ks.state.roles[role.id];
    delete ks.state.implied[role.id];
    for (const [prior, implied] of Object.entries(ks.state.implied)) {
      ks.state.implied[prior] = implied.filter((r) => r !== role.id);
    }
    ks.state.grants = ks.state.grants.filter((g) => g.roleId !== role.id);
    ks.touch();
    return reply.code(204).send();
  });

  // One set of routes per target and actor kind: static segments keep the router unambiguous.
  for (const target of Object.keys(TARGETS)) {
    for (const actor of Object.keys(ACTORS)) {
      registerGrantRoutes(app, ks, target, actor);
    }
  }
  for (const actor of Object.keys(ACTORS)) registerSystemGrantRoutes(app, ks, actor);

  app.get<{ Querystring: Record<string, string> }>("/v3/role_assignments", async (req) => {
    authorize(ks, req, "list_role_assignments");
    const q = req.query;
    const effective = Object.hasOwn(q, "effective") && q.effective !== "false";
    const names =
      Object.hasOwn(q, "include_names") && !["false", "0"].includes(q.include_names?.toLowerCase());
    if (effective && q["group.id"]) {
      throw badRequest("Combining effective and group filter will always result in an empty list.");
    }
    const rows = listAssignments(ks, {
      userId: q["user.id"],
      groupId: q["group.id"],
      projectId: q["scope.project.id"],
      domainId: q["scope.domain.id"],
      system: q["scope.system"] === "all",
      roleId: q["role.id"],
      effective,
    });
    return {
      role_assignments: rows.map((r) => renderAssignment(ks, r, names)),
      links: ks.listLinks("/role_assignments"),
    };
  });
}

type GrantUrl = { targetId: string; actorId: string; roleId: string };

function registerGrantRoutes(app: FastifyInstance, ks: Keystone, target: string, actor: string) {
  const base = `/v3/${target}/:targetId/${actor}/:actorId/roles`;
  const grantFrom = (p: GrantUrl) => grantOf(ks, { target, actor, ...p })!;

  app.put<{ Params: GrantUrl }>(`${base}/:roleId`, async (req, reply) => {
    authorize(ks, req, "create_grant");
    const grant = grantFrom(req.params);
    if (!hasGrant(ks, grant)) ks.state.grants.push(grant);
    ks.touch();
    return reply.code(204).send();
  });

  const check = async (req: FastifyRequest<{ Params: GrantUrl }>, reply: FastifyReply) => {
    authorize(ks, req, "check_grant");
    const grant = grantFrom(req.params);
    if (!hasGrant(ks, grant)) throw assignmentNotFound(grant);
    return reply.code(204).send();
  };
  // HEAD before GET: Fastify would otherwise generate its own HEAD route from the GET.
  app.head<{ Params: GrantUrl }>(`${base}/:roleId`, check);
  app.get<{ Params: GrantUrl }>(`${base}/:roleId`, check);

  app.delete<{ Params: GrantUrl }>(`${base}/:roleId`, async (req, reply) => {
    authorize(ks, req, "revoke_grant");
    const grant = grantFrom(req.params);
    if (!hasGrant(ks, grant)) throw assignmentNotFound(grant);
    ks.state.grants = ks.state.grants.filter((g) => !sameGrant(g, grant));
    ks.touch();
    return reply.code(204).send();
  });

  app.get<{ Params: Omit<GrantUrl, "roleId"> }>(base, async (req) => {
    const grant = grantFrom({ ...req.params, roleId: "" });
    authorize(ks, req, "list_grants", (ctx) => grant.actor === "user" && ctx.user.id === grant.actorId);
    const roleIds = ks.state.grants
      .filter((g) => sameGrant(g, { ...grant, roleId: g.roleId }))
      .map((g) => g.roleId);
    return {
      roles: roleIds.map((id) => renderRole(ks, ks.state.roles[id])),
      links: ks.listLinks(`/${target}/${req.params.targetId}/${actor}/${req.params.actorId}/roles`),
    };
  });
}

type SystemGrantUrl = { actorId: string; roleId: string };

/** /v3/system/{users,groups}/{id}/roles[/{role_id}]: grants on the system (Keystone's system scope). */
function registerSystemGrantRoutes(app: FastifyInstance, ks: Keystone, actor: string) {
  const base = `/v3/system/${actor}/:actorId/roles`;
  const kind = ACTORS[actor as keyof typeof ACTORS];
  const grantFrom = (p: SystemGrantUrl): GrantRec => {
    if (kind === "user") ks.user(p.actorId);
    else ks.group(p.actorId);
    if (p.roleId) ks.role(p.roleId);
    return { actor: kind, actorId: p.actorId, target: "system", targetId: "all", roleId: p.roleId };
  };

  app.put<{ Params: SystemGrantUrl }>(`${base}/:roleId`, async (req, reply) => {
    authorize(ks, req, `create_system_grant_for_${kind}`);
    const grant = grantFrom(req.params);
    if (!hasGrant(ks, grant)) ks.state.grants.push(grant);
    ks.touch();
    return reply.code(204).send();
  });

  const check = async (req: FastifyRequest<{ Params: SystemGrantUrl }>, reply: FastifyReply) => {
    authorize(ks, req, `check_system_grant_for_${kind}`);
    const grant = grantFrom(req.params);
    if (!hasGrant(ks, grant)) throw assignmentNotFound(grant);
    return reply.code(204).send();
  };
  app.head<{ Params: SystemGrantUrl }>(`${base}/:roleId`, check);
  app.get<{ Params: SystemGrantUrl }>(`${base}/:roleId`, check);

  app.delete<{ Params: SystemGrantUrl }>(`${base}/:roleId`, async (req, reply) => {
    authorize(ks, req, `revoke_system_grant_for_${kind}`);
    const grant = grantFrom(req.params);
    if (!hasGrant(ks, grant)) throw assignmentNotFound(grant);
    ks.state.grants = ks.state.grants.filter((g) => !sameGrant(g, grant));
    ks.touch();
    return reply.code(204).send();
  });

  app.get<{ Params: { actorId: string } }>(base, async (req) => {
    const grant = grantFrom({ actorId: req.params.actorId, roleId: "" });
    authorize(
      ks,
      req,
      `list_system_grants_for_${kind}`,
      (ctx) => kind === "user" && ctx.user.id === grant.actorId,
    );
    const roleIds = ks.state.grants
      .filter((g) => sameGrant(g, { ...grant, roleId: g.roleId }))
      .map((g) => g.roleId);
    return {
      roles: roleIds.map((id) => renderRole(ks, ks.state.roles[id])),
      links: ks.listLinks(`/system/${actor}/${req.params.actorId}/roles`),
    };
  });
}

function sameGrant(a: GrantRec, b: GrantRec) {
  return (
    a.actor === b.actor &&
    a.actorId === b.actorId &&
    a.target === b.target &&
    a.targetId === b.targetId &&
    a.roleId === b.roleId
  );
}
