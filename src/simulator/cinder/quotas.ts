// /v3/{project_id}/types, /os-quota-sets and /limits.
import type { FastifyInstance } from "fastify";
import { type CinderEnv, call } from "./scope.ts";
import { CinderFault, type CinderQuota } from "./state.ts";
import { typeView } from "./views.ts";

export function typeRoutes(app: FastifyInstance, env: CinderEnv): void {
  const { state } = env;
  app.get("/v3/:project_id/types", async (req) => ({
    volume_types: [...state.types.values()].map((t) => typeView(t, call(req).admin)),
  }));
  app.get<{ Params: { id: string } }>("/v3/:project_id/types/:id", async (req) => {
    const t = req.params.id === "default" ? state.defaultType() : state.types.get(req.params.id);
    if (!t) throw new CinderFault(404, `Volume type ${req.params.id} could not be found.`);
    return { volume_type: typeView(t, call(req).admin) };
  });
}

export function quotaRoutes(app: FastifyInstance, env: CinderEnv): void {
  const { state, ctx } = env;

  const quotaSet = (projectId: string, usage: boolean) => {
    const q = state.quotaOf(projectId);
    const used = state.usage(projectId);
    const inUse: Record<string, number> = { volumes: used.volumes, gigabytes: used.gigabytes };
    const out: Record<string, unknown> = { id: projectId };
    const put = (key: string, limit: number, inUseKey?: string) => {
      out[key] = usage ? { limit, in_use: inUse[inUseKey ?? key] ?? 0, reserved: 0, allocated: 0 } : limit;
    };
    for (const [k, v] of Object.entries(q)) put(k, v);
    // Cinder reports per-type quotas beside the totals.
    for (const t of state.types.values()) {
      put(`volumes_${t.name}`, -1, "volumes");
      put(`gigabytes_${t.name}`, -1, "gigabytes");
      put(`snapshots_${t.name}`, -1, "snapshots");
    }
    return out;
  };

  const readable = (req: Parameters<typeof call>[0], projectId: string) => {
    const c = call(req);
    if (!c.admin && projectId !== c.projectId) {
      throw new CinderFault(403, "Policy doesn't allow volume_extension:quotas:show to be performed.");
    }
  };

  app.get<{ Params: { id: string } }>("/v3/:project_id/os-quota-sets/:id", async (req) => {
    readable(req, req.params.id);
    const usage = ["true", "True", "1"].includes(String((req.query as { usage?: string }).usage));
    return { quota_set: quotaSet(req.params.id, usage) };
  });

  app.get<{ Params: { id: string } }>("/v3/:project_id/os-quota-sets/:id/defaults", async (req) => {
    readable(req, req.params.id);
    return { quota_set: { id: req.params.id, ...state.defaultQuota } };
  });

  app.put<{ Params: { id: string } }>("/v3/:project_id/os-quota-sets/:id", async (req) => {
    if (!call(req).admin) {
      throw new CinderFault(403, "Policy doesn't allow volume_extension:quotas:update to be performed.");
    }
    if (!ctx.identity.projectExists(req.params.id)) {
      throw new CinderFault(
        400,
        `Invalid input received: Project ID ${req.params.id} is not a valid project.`,
      );
    }
    const body = (req.body as { quota_set?: Record<string, unknown> } | undefined)?.quota_set;
    if (!body) throw new CinderFault(400, "Missing required element 'quota_set' in request body.");
    const current = state.quotas[req.params.id] ?? {};
    for (const [k, v] of Object.entries(body)) {
      if (!(k in state.defaultQuota)) continue;
      const n = Number(v);
      if (!Number.isInteger(n) || n < -1) {
        throw new CinderFault(
          400,
          `Invalid input received: Quota limit ${v} for ${k} must be -1 or greater.`,
        );
      }
      current[k as keyof CinderQuota] = n;
    }
    state.quotas[req.params.id] = current;
    const { id: _id, ...rest } = quotaSet(req.params.id, false);
    return { quota_set: rest };
  });

  // Cinder answers 200 with no body and the project falls back to the default quotas.
  app.delete<{ Params: { id: string } }>("/v3/:project_id/os-quota-sets/:id", async (req, reply) => {
    if (!call(req).admin) {
      throw new CinderFault(403, "Policy doesn't allow volume_extension:quotas:delete to be performed.");
    }
    delete state.quotas[req.params.id];
    return reply.code(200).send();
  });

  app.get("/v3/:project_id/limits", async (req) => {
    const c = call(req);
    const q = state.quotaOf(c.projectId);
    const used = state.usage(c.projectId);
    return {
      limits: {
        rate: [],
        absolute: {
          totalSnapshotsUsed: 0,
          maxTotalBackups: q.backups,
          maxTotalVolumeGigabytes: q.gigabytes,
          maxTotalSnapshots: q.snapshots,
          maxTotalBackupGigabytes: q.backup_gigabytes,
          totalBackupGigabytesUsed: 0,
          maxTotalVolumes: q.volumes,
          totalVolumesUsed: used.volumes,
          totalBackupsUsed: 0,
          totalGigabytesUsed: used.gigabytes,
        },
      },
    };
  });
}
