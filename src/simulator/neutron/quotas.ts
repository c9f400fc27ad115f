// /v2.0/quotas: per-project limits (and usage through /details), settable by admins.
import type { FastifyInstance } from "fastify";
import { type Caller, caller, type NeutronEnv } from "./scope.ts";
import { NeutronError, type NeutronQuota, type QuotaResource } from "./state.ts";

export function quotaRoutes(app: FastifyInstance, env: NeutronEnv): void {
  const { state } = env;

  const readable = (c: Caller, projectId: string) => {
    if (!c.admin && projectId !== c.projectId) {
      throw new NeutronError(
        403,
        "HTTPForbidden",
        "Non-admin is not authorised to access quotas for another project",
      );
    }
  };
  const requireAdmin = (c: Caller) => {
    if (!c.admin) throw new NeutronError(403, "HTTPForbidden", "Only admin can view or configure quota");
  };

  app.get("/v2.0/quotas", async (req) => {
    requireAdmin(caller(req));
    return {
      quotas: Object.keys(state.quotas).map((p) => ({ ...state.quotaOf(p), project_id: p, tenant_id: p })),
    };
  });

  app.get<{ Params: { id: string } }>("/v2.0/quotas/:id", async (req) => {
    readable(caller(req), req.params.id);
    return { quota: state.quotaOf(req.params.id) };
  });

  app.get<{ Params: { id: string } }>("/v2.0/quotas/:id/default", async (req) => {
    readable(caller(req), req.params.id);
    return { quota: { ...state.defaultQuota } };
  });

  app.get<{ Params: { id: string } }>("/v2.0/quotas/:id/details", async (req) => {
    readable(caller(req), req.params.id);
    const q = state.quotaOf(req.params.id);
    const out: Record<string, { limit: number; used: number; reserved: number }> = {};
    for (const [k, limit] of Object.entries(q)) {
      out[k] = { limit, used: state.used(req.params.id, k as QuotaResource), reserved: 0 };
    }
    return { quota: out };
  });

  app.put<{ Params: { id: string } }>("/v2.0/quotas/:id", async (req) => {
    requireAdmin(caller(req));
    const body = (req.body as { quota?: Record<string, unknown> } | undefined)?.quota;
    if (!body || typeof body !== "object") {
      throw new NeutronError(400, "HTTPBadRequest", "Unable to find 'quota' in request body");
    }
    const current = state.quotas[req.params.id] ?? {};
    for (const [k, v] of Object.entries(body)) {
      if (!(k in state.defaultQuota)) {
        throw new NeutronError(400, "HTTPBadRequest", `Unrecognized attribute(s) '${k}'`);
      }
      const n = Number(v);
      if (!Number.isInteger(n) || n < -1) {
        throw new NeutronError(
          400,
          "HTTPBadRequest",
          `Invalid input for ${k}. Reason: '${v}' should be an integer -1 or greater.`,
        );
      }
      current[k as keyof NeutronQuota] = n;
    }
    state.quotas[req.params.id] = current;
    return { quota: state.quotaOf(req.params.id) };
  });

  app.delete<{ Params: { id: string } }>("/v2.0/quotas/:id", async (req, reply) => {
    requireAdmin(caller(req));
    delete state.quotas[req.params.id];
    return reply.code(204).send();
  });
}
