// /v3/credentials: the TOTP secrets (type "totp", blob = base32 secret) the totp auth method
// checks passcodes against. Users manage their own; admins manage everyone's.
import type { FastifyInstance } from "fastify";
import { type Keystone, requireObject } from "./core.ts";
import { badRequest, notFound } from "./errors.ts";
import { authorize, isAdmin } from "./policy.ts";
import { renderCredential } from "./render.ts";
import { type CredentialRec, newId } from "./state.ts";

type Params = { id: string };

export function registerCredentialRoutes(app: FastifyInstance, ks: Keystone) {
  app.post("/v3/credentials", async (req, reply) => {
    const body = requireObject(req.body, "credential");
    authorize(ks, req, "create_credential", (ctx) => ctx.user.id === body.user_id);
    if (typeof body.type !== "string" || !body.type) throw badRequest("'type' is a required property");
    if (typeof body.blob !== "string" || !body.blob) throw badRequest("'blob' is a required property");
    if (typeof body.user_id !== "string") throw badRequest("'user_id' is a required property");
    ks.user(body.user_id);
    const c: CredentialRec = {
      id: newId(),
      userId: body.user_id,
      projectId: typeof body.project_id === "string" ? body.project_id : null,
      type: body.type,
      blob: body.blob,
    };
    ks.state.credentials[c.id] = c;
    ks.touch();
    return reply.code(201).send({ credential: renderCredential(ks, c) });
  });

  app.get<{ Querystring: Record<string, string> }>("/v3/credentials", async (req) => {
    const caller = authorize(ks, req, "list_credentials", () => true);
    const q = req.query;
    const list = Object.values(ks.state.credentials).filter(
      (c) =>
        (isAdmin(caller) || c.userId === caller.user.id) &&
        (!q.user_id || c.userId === q.user_id) &&
        (!q.type || c.type === q.type),
    );
    return { credentials: list.map((c) => renderCredential(ks, c)), links: ks.listLinks("/credentials") };
  });

  const owned = (req: { params: Params }, userId: string) => {
    const c = ks.state.credentials[req.params.id];
    if (!c || (userId !== "*" && c.userId !== userId)) throw notFound("credential", req.params.id);
    return c;
  };

  app.get<{ Params: Params }>("/v3/credentials/:id", async (req) => {
    const caller = authorize(ks, req, "get_credential", () => true);
    return { credential: renderCredential(ks, owned(req, isAdmin(caller) ? "*" : caller.user.id)) };
  });

  app.delete<{ Params: Params }>("/v3/credentials/:id", async (req, reply) => {
    const caller = authorize(ks, req, "delete_credential", () => true);
    const c = owned(req, isAdmin(caller) ? "*" : caller.user.id);
    delete ks.state.credentials[c.id];
    ks.touch();
    return reply.code(204).send();
  });
}
