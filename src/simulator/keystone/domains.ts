// /v3/domains: CRUD, listing by name, and the cascade Keystone performs on delete.
import type { FastifyInstance } from "fastify";
import { type Keystone, queryTrue, requireObject } from "./core.ts";
import { badRequest, conflict, KsError } from "./errors.ts";
import { authorize } from "./policy.ts";
import { renderDomain } from "./render.ts";
import { newId } from "./state.ts";
import { validTags } from "./tags.ts";
import { deleteUserCascade } from "./users.ts";

type Params = { id: string };

export function registerDomainRoutes(app: FastifyInstance, ks: Keystone) {
  app.post("/v3/domains", async (req, reply) => {
    authorize(ks, req, "create_domain");
    const body = requireObject(req.body, "domain");
    if (typeof body.name !== "string" || !body.name) throw badRequest("'name' is a required property");
    if (ks.domainByName(body.name)) throw conflict("domain", `Duplicate entry found with name ${body.name}`);
    const d = {
      id: typeof body.explicit_domain_id === "string" ? body.explicit_domain_id : newId(),
      name: body.name,
      description: typeof body.description === "string" ? body.description : "",
      enabled: body.enabled !== false,
      tags: body.tags === undefined ? [] : validTags(body.tags),
    };
    ks.state.domains[d.id] = d;
    ks.touch();
    return reply.code(201).send({ domain: renderDomain(ks, d) });
  });

  app.get<{ Querystring: Record<string, string> }>("/v3/domains", async (req) => {
    authorize(ks, req, "list_domains");
    const enabled = queryTrue(req.query.enabled);
    const domains = Object.values(ks.state.domains).filter(
      (d) =>
        (!req.query.name || d === ks.domainByName(req.query.name)) &&
        (enabled === undefined || d.enabled === enabled),
    );
    return { domains: domains.map((d) => renderDomain(ks, d)), links: ks.listLinks("/domains") };
  });

  app.get<{ Params: Params }>("/v3/domains/:id", async (req) => {
    authorize(
      ks,
      req,
      "get_domain",
      (ctx) => ctx.domain?.id === req.params.id || ctx.project?.domainId === req.params.id,
    );
    return { domain: renderDomain(ks, ks.domain(req.params.id)) };
  });

  app.patch<{ Params: Params }>("/v3/domains/:id", async (req) => {
    authorize(ks, req, "update_domain");
    const d = ks.domain(req.params.id);
    const body = requireObject(req.body, "domain");
    if (typeof body.name === "string" && body.name !== d.name) {
      if (ks.domainByName(body.name))
        throw conflict("domain", `Duplicate entry found with name ${body.name}`);
      d.name = body.name;
    }
    if (typeof body.description === "string") d.description = body.description;
    if (typeof body.enabled === "boolean") d.enabled = body.enabled;
    if (body.tags !== undefined) d.tags = validTags(body.tags);
    ks.touch();
    return { domain: renderDomain(ks, d) };
  });

  app.delete<{ Params: Params }>("/v3/domains/:id", async (req, reply) => {
    authorize(ks, req, "delete_domain");
    const d = ks.domain(req.params.id);
    if (d.enabled) throw new KsError(403, "Cannot delete a domain that is enabled, please disable it first.");
    const s = ks.state;
    for (const p of Object.values(s.projects)) if (p.domainId === d.id) delete s.projects[p.id];
    for (const u of Object.values(s.users)) if (u.domainId === d.id) deleteUserCascade(ks, u.id);
    for (const g of Object.values(s.groups)) {
      if (g.domainId !== d.id) continue;
      delete s.groups[g.id];
      delete s.members[g.id];
    }
    s.grants = s.grants.filter(
      (g) =>
        !(g.target === "domain" && g.targetId === d.id) &&
        !(g.target === "project" && !s.projects[g.targetId]) &&
        !(g.actor === "group" && !s.groups[g.actorId]),
    );
    delete s.domains[d.id];
    ks.touch();
    return reply.code(204).send();
  });
}
