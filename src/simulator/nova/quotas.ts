// /limits, /os-quota-sets and /os-quota-class-sets/default (the simulator's configurable
// per-project defaults, as Nova's default quota class is).
import type { FastifyInstance } from "fastify";
import { badRequest, policyDenied } from "./errors.ts";
import { call, first, type NovaCall, type NovaEnv, type Query, truthy } from "./scope.ts";
import type { NovaQuota } from "./state.ts";

/** Quota keys by microversion: network ones gone at 2.36, injected files at 2.57. */
function keysFor(minor: number): string[] {
  const keys = [
    "cores",
    "instances",
    "ram",
    "metadata_items",
    "key_pairs",
    "server_groups",
    "server_group_members",
  ];
  if (minor < 57) keys.push("injected_files", "injected_file_content_bytes", "injected_file_path_bytes");
  if (minor < 36) keys.push("fixed_ips", "floating_ips", "security_groups", "security_group_rules");
  return keys;
}

/** Network quotas Nova proxied before 2.36; it answers these fixed values. */
const LEGACY = { fixed_ips: -1, floating_ips: 10, security_groups: 10, security_group_rules: 20 } as Record<
  string,
  number
>;

export function quotaRoutes(app: FastifyInstance, env: NovaEnv): void {
  const { state, ctx } = env;

  const limitOf = (q: NovaQuota, key: string) => (key in q ? q[key as keyof NovaQuota] : (LEGACY[key] ?? -1));
  const inUse = (projectId: string, key: string) => {
    const u = state.usage(projectId);
    return key === "instances" ? u.instances : key === "cores" ? u.cores : key === "ram" ? u.ram : 0;
  };

  const quotaSet = (c: NovaCall, projectId: string, detail: boolean) => {
    const q = state.quotaOf(projectId);
    const out: Record<string, unknown> = { id: projectId };
    for (const k of keysFor(c.minor)) {
      out[k] = detail ? { in_use: inUse(projectId, k), limit: limitOf(q, k), reserved: 0 } : limitOf(q, k);
    }
    return out;
  };

  const readable = (c: NovaCall, projectId: string) => {
    if (!c.admin && projectId !== c.projectId) policyRefused("os_compute_api:os-quota-sets:show");
    if (!ctx.identity.projectExists(projectId))
      throw badRequest(`Project ID ${projectId} is not a valid project.`);
  };

  app.get("/v2.1/limits", async (req) => {
    const c = call(req);
    const q = req.query as Query;
    const target = c.admin ? (first(q.tenant_id) ?? c.projectId) : c.projectId;
    const quota = state.quotaOf(target);
    const used = state.usage(target);
    const absolute: Record<string, number> = {
      maxServerMeta: quota.metadata_items,
      maxTotalKeypairs: quota.key_pairs,
      maxTotalInstances: quota.instances,
      maxTotalCores: quota.cores,
      maxTotalRAMSize: quota.ram,
      maxServerGroups: quota.server_groups,
      maxServerGroupMembers: quota.server_group_members,
      totalCoresUsed: used.cores,
      totalInstancesUsed: used.instances,
      totalRAMUsed: used.ram,
      totalServerGroupsUsed: 0,
    };
    if (c.minor < 57) {
      absolute.maxPersonality = quota.injected_files;
      absolute.maxPersonalitySize = quota.injected_file_content_bytes;
    }
    if (c.minor < 39) absolute.maxImageMeta = 128;
    if (c.minor < 36) {
      absolute.maxSecurityGroups = LEGACY.security_groups!;
      absolute.maxSecurityGroupRules = LEGACY.security_group_rules!;
      absolute.maxTotalFloatingIps = LEGACY.floating_ips!;
      absolute.totalSecurityGroupsUsed = 0;
      absolute.totalFloatingIpsUsed = 0;
    }
    return { limits: c.minor < 39 ? { rate: [], absolute } : { absolute } };
  });

  app.get<{ Params: { id: string } }>("/v2.1/os-quota-sets/:id", async (req) => {
    const c = call(req);
    readable(c, req.params.id);
    return { quota_set: quotaSet(c, req.params.id, false) };
  });

  app.get<{ Params: { id: string } }>("/v2.1/os-quota-sets/:id/detail", async (req) => {
    const c = call(req);
    readable(c, req.params.id);
    return { quota_set: quotaSet(c, req.params.id, true) };
  });

  app.get<{ Params: { id: string } }>("/v2.1/os-quota-sets/:id/defaults", async (req) => {
    const c = call(req);
    const out: Record<string, unknown> = { id: req.params.id };
    for (const k of keysFor(c.minor)) out[k] = limitOf(state.defaultQuota, k);
    return { quota_set: out };
  });

  const parseUpdate = (c: NovaCall, body: unknown): Partial<NovaQuota> & { force?: boolean } => {
    const set = (body as { quota_set?: Record<string, unknown> } | undefined)?.quota_set;
    if (!set || typeof set !== "object") {
      throw badRequest(
        "Invalid input for field/attribute quota_set. Value: None. None is not of type 'object'",
      );
    }
    const allowed = new Set(keysFor(c.minor));
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(set)) {
      if (k === "force") {
        out.force = truthy(String(v));
        continue;
      }
      if (!allowed.has(k)) {
        throw badRequest(
          `Invalid input for field/attribute quota_set. Value: ${JSON.stringify(set)}. Additional properties are not allowed ('${k}' was unexpected)`,
        );
      }
      const n = typeof v === "string" && /^-?\d+$/.test(v) ? Number(v) : v;
      if (typeof n !== "number" || !Number.isInteger(n) || n < -1) {
        throw badRequest(
          `Invalid input for field/attribute ${k}. Value: ${v}. ${JSON.stringify(v)} is not valid under any of the given schemas`,
        );
      }
      if (k in state.defaultQuota) out[k] = n;
    }
    return out as Partial<NovaQuota> & { force?: boolean };
  };

  app.put<{ Params: { id: string } }>("/v2.1/os-quota-sets/:id", async (req) => {
    const c = call(req);
    if (!c.admin) policyRefused("os_compute_api:os-quota-sets:update");
    if (!ctx.identity.projectExists(req.params.id))
      throw badRequest(`Project ID ${req.params.id} is not a valid project.`);
    const { force, ...update } = parseUpdate(c, req.body);
    if (!force) {
      for (const [k, limit] of Object.entries(update)) {
        const used = inUse(req.params.id, k);
        if (limit !== -1 && limit < used) {
          throw badRequest(
            `Quota limit ${limit} for ${k} must be greater than or equal to already used and reserved ${used}.`,
          );
        }
      }
    }
    state.quotas[req.params.id] = { ...state.quotas[req.params.id], ...update };
    const { id: _id, ...rest } = quotaSet(c, req.params.id, false);
    return { quota_set: rest };
  });

  app.delete<{ Params: { id: string } }>("/v2.1/os-quota-sets/:id", async (req, reply) => {
    if (!call(req).admin) policyRefused("os_compute_api:os-quota-sets:delete");
    delete state.quotas[req.params.id];
    return reply.code(202).send();
  });

  app.get<{ Params: { id: string } }>("/v2.1/os-quota-class-sets/:id", async (req) => {
    const c = call(req);
    const out: Record<string, unknown> = { id: req.params.id };
    for (const k of keysFor(c.minor)) out[k] = limitOf(state.defaultQuota, k);
    return { quota_class_set: out };
  });

  app.put<{ Params: { id: string } }>("/v2.1/os-quota-class-sets/:id", async (req) => {
    const c = call(req);
    if (!c.admin) policyRefused("os_compute_api:os-quota-class-sets:update");
    const body = req.body as { quota_class_set?: unknown } | undefined;
    const { force: _force, ...update } = parseUpdate(c, { quota_set: body?.quota_class_set });
    // Only the "default" class matters: it is what every project without its own limits gets.
    if (req.params.id === "default") state.defaultQuota = { ...state.defaultQuota, ...update };
    const out: Record<string, unknown> = {};
    for (const k of keysFor(c.minor)) out[k] = limitOf(state.defaultQuota, k);
    return { quota_class_set: out };
  });
}

function policyRefused(rule: string): never {
  throw policyDenied(rule);
}
