// /servers/{id}/tags (2.26+): list, replace, add, check, delete. Nova only lets tags change
// on a server in a settled state, so a building server answers 409 (hence tags at create).
import type { FastifyInstance, FastifyRequest } from "fastify";
import { validateTags } from "./create.ts";
import { badRequest, invalidInput, invalidState, notFound } from "./errors.ts";
import { novaTime } from "./lifecycle.ts";
import { call, type NovaEnv } from "./scope.ts";
import { visibleServer } from "./servers.ts";
import type { ServerRecord } from "./state.ts";

const MAX_TAGS = 50;
const TAGGABLE = new Set(["active", "stopped"]);

function found(env: NovaEnv, req: FastifyRequest, id: string): ServerRecord {
  // The tags API does not exist before 2.26: Nova answers as for an unknown URL.
  if (call(req).minor < 26) throw notFound("The resource could not be found.");
  return visibleServer(env, req, id);
}

function updatable(s: ServerRecord): void {
  if (!TAGGABLE.has(s.vm_state) || s.task_state === "deleting") {
    throw invalidState("update tags", s.id, s.vm_state);
  }
}

export function tagRoutes(app: FastifyInstance, env: NovaEnv): void {
  app.get<{ Params: { id: string } }>("/v2.1/servers/:id/tags", async (req) => ({
    tags: [...found(env, req, req.params.id).tags],
  }));

  app.put<{ Params: { id: string } }>("/v2.1/servers/:id/tags", async (req) => {
    const s = found(env, req, req.params.id);
    const body = (req.body ?? {}) as { tags?: unknown };
    if (body.tags === undefined)
      throw badRequest("Invalid input for field/attribute tags. 'tags' is a required property");
    const tags = validateTags(body.tags);
    updatable(s);
    s.tags = [...tags];
    s.updated = novaTime();
    return { tags: [...s.tags] };
  });

  app.delete<{ Params: { id: string } }>("/v2.1/servers/:id/tags", async (req, reply) => {
    const s = found(env, req, req.params.id);
    updatable(s);
    s.tags = [];
    s.updated = novaTime();
    return reply.code(204).send();
  });

  app.get<{ Params: { id: string; tag: string } }>("/v2.1/servers/:id/tags/:tag", async (req, reply) => {
    const s = found(env, req, req.params.id);
    if (!s.tags.includes(req.params.tag)) {
      throw notFound(`Tag ${req.params.tag} does not exist on instance ${s.id}`);
    }
    return reply.code(204).send();
  });

  app.put<{ Params: { id: string; tag: string } }>("/v2.1/servers/:id/tags/:tag", async (req, reply) => {
    const s = found(env, req, req.params.id);
    const tag = req.params.tag;
    if (tag.length < 1 || tag.length > 60 || tag.includes(",") || tag.includes("/")) {
      throw invalidInput("tag", tag, `'${tag}' does not match "^[^,/]*$"`);
    }
    updatable(s);
    const location = `${env.root()}/v2.1/servers/${s.id}/tags/${encodeURIComponent(tag)}`;
    if (s.tags.includes(tag)) return reply.code(204).header("location", location).send();
    if (s.tags.length >= MAX_TAGS) {
      throw badRequest(`The number of tags exceeded the per-server limit ${MAX_TAGS}`);
    }
    s.tags.push(tag);
    s.updated = novaTime();
    return reply.code(201).header("location", location).send();
  });

  app.delete<{ Params: { id: string; tag: string } }>("/v2.1/servers/:id/tags/:tag", async (req, reply) => {
    const s = found(env, req, req.params.id);
    updatable(s);
    if (!s.tags.includes(req.params.tag)) {
      throw notFound(`Tag ${req.params.tag} does not exist on instance ${s.id}`);
    }
    s.tags = s.tags.filter((t) => t !== req.params.tag);
    s.updated = novaTime();
    return reply.code(204).send();
  });
}
