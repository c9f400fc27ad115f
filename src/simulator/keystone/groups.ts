// /v3/groups: CRUD and membership.
import type { FastifyInstance } from "fastify";
import { type Keystone, matchesFilters, requireObject } from "./core.ts";
import { badRequest, conflict, KsError } from "./errors.ts";
import { authorize } from "./policy.ts";
import { renderGroup, renderUser } from "./render.ts";
import { type GroupRec, newId } from "./state.ts";

type Params = { id: string };
type MemberParams = { id: string; userId: string };

const duplicate = (name: string, domainId: string) =>
  conflict("group", `Duplicate entry found with name ${name} at domain ID ${domainId}`);

function findGroupByName(ks: Keystone, domainId: string, name: string) {
  return Object.values(ks.state.groups).find((g) => g.domainId === domainId && g.name === name);
}

export function registerGroupRoutes(app: FastifyInstance, ks: Keystone) {
  app.post("/v3/groups", async (req, reply) => {
    const caller = authorize(ks, req, "create_group");
    const body = requireObject(req.body, "group");
    if (typeof body.name !== "string" || !body.name) throw badRequest("'name' is a required property");
    const domainId =
      typeof body.domain_id === "string" ? body.domain_id : (caller.project?.domainId ?? "default");
    ks.domain(domainId);
    if (findGroupByName(ks, domainId, body.name)) throw duplicate(body.name, domainId);
    const g: GroupRec = {
      id: newId(),
      name: body.name,
      domainId,
      description: typeof body.description === "string" ? body.description : "",
    };
    ks.state.groups[g.id] = g;
    ks.state.members[g.id] = [];
    ks.touch();
    return reply.code(201).send({ group: renderGroup(ks, g) });
  });

  app.get<{ Querystring: Record<string, string> }>("/v3/groups", async (req) => {
    authorize(ks, req, "list_groups");
    const q = req.query;
    const groups = Object.values(ks.state.groups).filter(
      (g) => matchesFilters(q, "name", g.name) && (!q.domain_id || g.domainId === q.domain_id),
    );
    return { groups: groups.map((g) => renderGroup(ks, g)), links: ks.listLinks("/groups") };
  });

  app.get<{ Params: Params }>("/v3/groups/:id", async (req) => {
    authorize(ks, req, "get_group");
    return { group: renderGroup(ks, ks.group(req.params.id)) };
  });

  app.patch<{ Params: Params }>("/v3/groups/:id", async (req) => {
    authorize(ks, req, "update_group");
    const g = ks.group(req.params.id);
    const body = requireObject(req.body, "group");
    if (typeof body.name === "string" && body.name !== g.name) {
      if (findGroupByName(ks, g.domainId, body.name)) throw duplicate(body.name, g.domainId);
      g.name = body.name;
    }
    if (typeof body.description === "string") g.description = body.description;
    ks.touch();
    return { group: renderGroup(ks, g) };
  });

  app.delete<{ Params: Params }>("/v3/groups/:id", async (req, reply) => {
    authorize(ks, req, "delete_group");
    const g = ks.group(req.params.id);
    delete ks.state.groups[g.id];
    delete ks.state.members[g.id];
    ks.state.grants = ks.state.grants.filter((x) => !(x.actor === "group" && x.actorId === g.id));
    ks.touch();
    return reply.code(204).send();
  });

  app.get<{ Params: Params }>("/v3/groups/:id/users", async (req) => {
    authorize(ks, req, "list_users_in_group");
    ks.group(req.params.id);
    const users = (ks.state.members[req.params.id] ?? []).map((u) => ks.state.users[u]).filter(Boolean);
    return {
      users: users.map((u) => renderUser(ks, u)),
      links: ks.listLinks(`/groups/${req.params.id}/users`),
    };
  });

  app.put<{ Params: MemberParams }>("/v3/groups/:id/users/:userId", async (req, reply) => {
    authorize(ks, req, "add_user_to_group");
    const g = ks.group(req.params.id);
    const u = ks.user(req.params.userId);
    const members = ks.state.members[g.id] ?? [];
    if (!members.includes(u.id)) ks.state.members[g.id] = [...members, u.id];
    ks.touch();
    return reply.code(204).send();
  });

  const check = async (req: { params: MemberParams }, reply: { code(n: number): { send(): unknown } }) => {
    const g = ks.group(req.params.id);
    const u = ks.user(req.params.userId);
    if (!(ks.state.members[g.id] ?? []).includes(u.id)) {
      throw new KsError(404, `Could not find user: ${u.id}.`);
    }
    return reply.code(204).send();
  };
  app.head<{ Params: MemberParams }>("/v3/groups/:id/users/:userId", async (req, reply) => {
    authorize(ks, req, "check_user_in_group", (ctx) => ctx.user.id === req.params.userId);
    return check(req, reply);
  });
  app.get<{ Params: MemberParams }>("/v3/groups/:id/users/:userId", async (req, reply) => {
    authorize(ks, req, "check_user_in_group", (ctx) => ctx.user.id === req.params.userId);
    return check(req, reply);
  });

  app.delete<{ Params: MemberParams }>("/v3/groups/:id/users/:userId", async (req, reply) => {
    authorize(ks, req, "remove_user_from_group");
    const g = ks.group(req.params.id);
    const u = ks.user(req.params.userId);
    const members = ks.state.members[g.id] ?? [];
    if (!members.includes(u.id)) throw new KsError(404, `Could not find user: ${u.id}.`);
    ks.state.members[g.id] = members.filter((m) => m !== u.id);
    ks.touch();
    return reply.code(204).send();
  });
}
