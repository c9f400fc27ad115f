// /v3/projects: CRUD with tags, Keystone's list filters, and the tag sub-resources.
import type { FastifyInstance } from "fastify";
import { type Keystone, queryTrue, requireObject } from "./core.ts";
import { badRequest, conflict, KsError, notFound } from "./errors.ts";
import { authorize } from "./policy.ts";
import { renderProject } from "./render.ts";
import { newId, type ProjectRec } from "./state.ts";
import { matchesTagFilters, validTag, validTags } from "./tags.ts";

type Params = { id: string };
type TagParams = { id: string; tag: string };

const CORE_FIELDS = new Set([
  "id",
  "name",
  "domain_id",
  "description",
  "enabled",
  "parent_id",
  "is_domain",
  "tags",
  "options",
  "links",
]);

function extraOf(body: Record<string, unknown>) {
  return Object.fromEntries(Object.entries(body).filter(([k]) => !CORE_FIELDS.has(k)));
}

function duplicate(name: string) {
  return conflict(
    "project",
    `it is not permitted to have two projects with the same name in the same domain : ${name}`,
  );
}

export function registerProjectRoutes(app: FastifyInstance, ks: Keystone) {
  app.post("/v3/projects", async (req, reply) => {
    const caller = authorize(ks, req, "create_project");
    const body = requireObject(req.body, "project");
    if (typeof body.name !== "string" || !body.name) throw badRequest("'name' is a required property");
    if (body.is_domain === true) throw badRequest("Projects acting as domains are not supported here.");
    const parent = typeof body.parent_id === "string" ? ks.state.projects[body.parent_id] : undefined;
    const domainId: string =
      typeof body.domain_id === "string"
        ? body.domain_id
        : (parent?.domainId ?? caller.project?.domainId ?? caller.domain?.id ?? "default");
    if (!ks.state.domains[domainId]) throw notFound("domain", domainId);
    if (typeof body.parent_id === "string" && body.parent_id !== domainId && !parent) {
      throw notFound("project", body.parent_id);
    }
    if (parent && parent.domainId !== domainId)
      throw badRequest("Cannot create project, the parent is in a different domain.");
    if (ks.projectByName(domainId, body.name)) throw duplicate(body.name);
    const p: ProjectRec = {
      id: newId(),
      name: body.name,
      domainId,
      description: typeof body.description === "string" ? body.description : "",
      enabled: body.enabled !== false,
      parentId: parent?.id ?? domainId,
      tags: body.tags === undefined ? [] : validTags(body.tags),
      extra: extraOf(body),
    };
    ks.state.projects[p.id] = p;
    ks.touch();
    return reply.code(201).send({ project: renderProject(ks, p) });
  });

  app.get<{ Querystring: Record<string, string> }>("/v3/projects", async (req) => {
    authorize(ks, req, "list_projects");
    const q = req.query;
    const enabled = queryTrue(q.enabled);
    const projects = Object.values(ks.state.projects).filter(
      (p) =>
        (!q.name || p.name === q.name) &&
        (!q.domain_id || p.domainId === q.domain_id) &&
        (!q.parent_id || p.parentId === q.parent_id) &&
        (enabled === undefined || p.enabled === enabled) &&
        matchesTagFilters(p.tags, q),
    );
    return { projects: projects.map((p) => renderProject(ks, p)), links: ks.listLinks("/projects") };
  });

  app.get<{ Params: Params }>("/v3/projects/:id", async (req) => {
    authorize(ks, req, "get_project", (ctx) => ctx.project?.id === req.params.id);
    return { project: renderProject(ks, ks.project(req.params.id)) };
  });

  app.patch<{ Params: Params }>("/v3/projects/:id", async (req) => {
    authorize(ks, req, "update_project");
    const p = ks.project(req.params.id);
    const body = requireObject(req.body, "project");
    if (body.domain_id !== undefined && body.domain_id !== p.domainId) {
      throw badRequest("Update of `domain_id` is not allowed.");
    }
    if (body.parent_id !== undefined && body.parent_id !== p.parentId) {
      throw badRequest("Update of `parent_id` is not allowed.");
    }
    if (typeof body.name === "string" && body.name !== p.name) {
      if (ks.projectByName(p.domainId, body.name)) throw duplicate(body.name);
      p.name = body.name;
    }
    if (typeof body.description === "string") p.description = body.description;
    if (typeof body.enabled === "boolean") p.enabled = body.enabled;
    if (body.tags !== undefined) p.tags = validTags(body.tags);
    p.extra = { ...p.extra, ...extraOf(body) };
    ks.touch();
    return { project: renderProject(ks, p) };
  });

  app.delete<{ Params: Params }>("/v3/projects/:id", async (req, reply) => {
    authorize(ks, req, "delete_project");
    const p = ks.project(req.params.id);
    if (Object.values(ks.state.projects).some((c) => c.parentId === p.id)) {
      throw new KsError(403, `Cannot delete the project ${p.id} since it is not a leaf in the hierarchy.`);
    }
    delete ks.state.projects[p.id];
    ks.state.grants = ks.state.grants.filter((g) => !(g.target === "project" && g.targetId === p.id));
    for (const [id, t] of Object.entries(ks.state.tokens))
      if (t.projectId === p.id) delete ks.state.tokens[id];
    ks.touch();
    return reply.code(204).send();
  });

  app.get<{ Params: Params }>("/v3/projects/:id/tags", async (req) => {
    authorize(ks, req, "list_project_tags", (ctx) => ctx.project?.id === req.params.id);
    return { tags: ks.project(req.params.id).tags };
  });

  app.put<{ Params: Params }>("/v3/projects/:id/tags", async (req) => {
    authorize(ks, req, "update_project_tags");
    const p = ks.project(req.params.id);
    const body = req.body as { tags?: unknown } | undefined;
    p.tags = validTags(body?.tags);
    ks.touch();
    return { tags: p.tags };
  });

  app.delete<{ Params: Params }>("/v3/projects/:id/tags", async (req, reply) => {
    authorize(ks, req, "delete_project_tags");
    ks.project(req.params.id).tags = [];
    ks.touch();
    return reply.code(204).send();
  });

  const checkTag = async (req: { params: TagParams }, reply: { code(n: number): { send(): unknown } }) => {
    const p = ks.project(req.params.id);
    if (!p.tags.includes(req.params.tag)) throw notFound("project tag", req.params.tag);
    return reply.code(204).send();
  };
  // HEAD before GET: Fastify would otherwise generate its own HEAD route from the GET.
  app.head<{ Params: TagParams }>("/v3/projects/:id/tags/:tag", async (req, reply) => {
    authorize(ks, req, "get_project_tag", (ctx) => ctx.project?.id === req.params.id);
    return checkTag(req, reply);
  });
  app.get<{ Params: TagParams }>("/v3/projects/:id/tags/:tag", async (req, reply) => {
    authorize(ks, req, "get_project_tag", (ctx) => ctx.project?.id === req.params.id);
    return checkTag(req, reply);
  });

  app.put<{ Params: TagParams }>("/v3/projects/:id/tags/:tag", async (req, reply) => {
    authorize(ks, req, "create_project_tag");
    const p = ks.project(req.params.id);
    const tag = validTag(req.params.tag);
    if (!p.tags.includes(tag)) p.tags = validTags([...p.tags, tag]);
    ks.touch();
    return reply
      .code(201)
      .header("Location", ks.link(`/projects/${p.id}/tags/${encodeURIComponent(tag)}`))
      .send();
  });

  app.delete<{ Params: TagParams }>("/v3/projects/:id/tags/:tag", async (req, reply) => {
    authorize(ks, req, "delete_project_tag");
    const p = ks.project(req.params.id);
    if (!p.tags.includes(req.params.tag)) throw notFound("project tag", req.params.tag);
    p.tags = p.tags.filter((t) => t !== req.params.tag);
    ks.touch();
    return reply.code(204).send();
  });
}
