// /v3/{project_id}/volumes: create (quota-checked, creating → available), list, detail, show,
// update, delete (refused unless available or error, as Cinder does).
import type { FastifyInstance } from "fastify";
import { type CinderEnv, call, viewOptions } from "./scope.ts";
import { CinderFault, isoMicro, type VolumeRecord } from "./state.ts";
import { volumeSummary, volumeView } from "./views.ts";

type Query = Record<string, string | string[] | undefined>;
const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

const DELETABLE = new Set(["available", "error", "error_restoring", "error_extending", "error_managing"]);
const MAX_LIMIT = 1000;

export const volumeNotFound = (id: string) => new CinderFault(404, `Volume ${id} could not be found.`);

function truthy(v: string | undefined): boolean {
  return v !== undefined && ["1", "true", "yes", "on"].includes(v.toLowerCase());
}

export function volumeRoutes(app: FastifyInstance, env: CinderEnv): void {
  const { state } = env;

  const visible = (req: Parameters<typeof call>[0], id: string): VolumeRecord => {
    const c = call(req);
    const v = state.volumes.get(id);
    if (!v || (!c.admin && v.project_id !== c.projectId)) throw volumeNotFound(id);
    return v;
  };

  const list = (detail: boolean) => async (req: Parameters<typeof call>[0]) => {
    const c = call(req);
    const q = req.query as Query;
    const allTenants = c.admin && truthy(first(q.all_tenants));
    const projectFilter = allTenants ? first(q.project_id) : undefined;
    let rows = allTenants
      ? projectFilter
        ? state.ofProject(projectFilter)
        : [...state.volumes.values()]
      : state.ofProject(c.projectId);
    const name = first(q.name);
    const status = first(q.status);
    const bootable = first(q.bootable);
    const az = first(q.availability_zone);
    let metadata: Record<string, string> | undefined;
    const rawMeta = first(q.metadata);
    if (rawMeta) {
      try {
        metadata = JSON.parse(rawMeta.replace(/'/g, '"'));
      } catch {
        throw new CinderFault(400, `Invalid input received: Invalid filter metadata: ${rawMeta}`);
      }
    }
    rows = rows.filter(
      (v) =>
        (name === undefined || v.name === name) &&
        (status === undefined || v.status === status) &&
        (bootable === undefined || v.bootable === truthy(bootable)) &&
        (az === undefined || v.availability_zone === az) &&
        (!metadata || Object.entries(metadata).every(([k, val]) => v.metadata[k] === String(val))),
    );
    // Cinder's default order: created_at descending, then id.
    const [sortKey, sortDir] = (
      first(q.sort) ?? `${first(q.sort_key) ?? "created_at"}:${first(q.sort_dir) ?? "desc"}`
    )
      .split(",")[0]!
      .split(":");
    const dir = sortDir === "asc" ? 1 : -1;
    const key = (sortKey ?? "created_at") as keyof VolumeRecord;
    rows.sort((a, b) => {
      const av = String(a[key] ?? "");
      const bv = String(b[key] ?? "");
      return (av < bv ? -1 : av > bv ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * dir;
    });
    const limitRaw = first(q.limit);
    const limit = limitRaw === undefined ? MAX_LIMIT : Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 0) {
      throw new CinderFault(400, "Invalid input received: limit param must be an integer");
    }
    const marker = first(q.marker);
    let start = 0;
    if (marker) {
      const at = rows.findIndex((v) => v.id === marker);
      if (at < 0) throw new CinderFault(404, `Marker ${marker} could not be found.`);
      start = at + 1;
    }
    const size = Math.min(limit, MAX_LIMIT);
    const page = rows.slice(start, start + size);
    const o = viewOptions(env, c);
    const body: Record<string, unknown> = {
      volumes: page.map((v) => (detail ? volumeView(state, v, o) : volumeSummary(v, o))),
    };
    if (page.length === size && start + size < rows.length) {
      const params = new URLSearchParams();
      for (const [k, v] of Object.entries(q))
        if (k !== "marker" && v !== undefined) params.set(k, String(first(v)));
      params.set("limit", String(size));
      params.set("marker", page[page.length - 1]!.id);
      body.volumes_links = [{ href: `${o.base}/volumes${detail ? "/detail" : ""}?${params}`, rel: "next" }];
    }
    if (c.minor >= 45 && truthy(first(q.with_count))) body.count = rows.length;
    return body;
  };

  app.get("/v3/:project_id/volumes", list(false));
  app.get("/v3/:project_id/volumes/detail", list(true));

  app.get<{ Params: { id: string } }>("/v3/:project_id/volumes/:id", async (req) => {
    const v = visible(req, req.params.id);
    return { volume: volumeView(state, v, viewOptions(env, call(req))) };
  });

  app.post("/v3/:project_id/volumes", async (req, reply) => {
    const c = call(req);
    const body = (req.body as { volume?: Record<string, unknown> } | undefined)?.volume;
    if (!body || typeof body !== "object") {
      throw new CinderFault(400, "Missing required element 'volume' in request body.");
    }
    const size = Number(body.size);
    if (!Number.isInteger(size) || size < 1) {
      throw new CinderFault(
        400,
        `Invalid input for field/attribute size. Value: ${body.size}. ${JSON.stringify(body.size ?? null)} is not valid under any of the given schemas`,
      );
    }
    const typeRef = body.volume_type as string | undefined;
    const type = typeRef ? state.typeByNameOrId(typeRef) : state.defaultType();
    if (!type) throw new CinderFault(404, `Volume type with name ${typeRef} could not be found.`);
    const metadata = (body.metadata ?? {}) as Record<string, unknown>;
    if (typeof metadata !== "object" || Array.isArray(metadata)) {
      throw new CinderFault(400, "Invalid input for field/attribute metadata.");
    }
    state.checkQuota(c.projectId, size);
    const v = state.create({
      name: (body.name as string) ?? null,
      description: (body.description as string) ?? null,
      size,
      project_id: c.projectId,
      user_id: c.userId,
      availability_zone: (body.availability_zone as string) ?? "nova",
      volume_type_id: type.id,
      metadata: Object.fromEntries(Object.entries(metadata).map(([k, val]) => [k, String(val)])),
      bootable: false,
    });
    return reply.code(202).send({ volume: volumeView(state, v, viewOptions(env, c)) });
  });

  app.put<{ Params: { id: string } }>("/v3/:project_id/volumes/:id", async (req) => {
    const v = visible(req, req.params.id);
    const body = (req.body as { volume?: Record<string, unknown> } | undefined)?.volume;
    if (!body) throw new CinderFault(400, "Missing required element 'volume' in request body.");
    if (typeof body.name === "string" || body.name === null) v.name = body.name as string | null;
    if (typeof body.description === "string" || body.description === null) {
      v.description = body.description as string | null;
    }
    if (body.metadata && typeof body.metadata === "object") {
      v.metadata = Object.fromEntries(Object.entries(body.metadata).map(([k, val]) => [k, String(val)]));
    }
    v.updated_at = isoMicro();
    return { volume: volumeView(state, v, viewOptions(env, call(req))) };
  });

  app.delete<{ Params: { id: string } }>("/v3/:project_id/volumes/:id", async (req, reply) => {
    const v = visible(req, req.params.id);
    if (!DELETABLE.has(v.status) || v.attachments.length > 0) {
      throw new CinderFault(
        400,
        "Invalid volume: Volume status must be available or error or error_restoring or error_extending or error_managing and must not be migrating, attached, belong to a group, have snapshots, awaiting a transfer, or be disassociated from snapshots after volume transfer.",
      );
    }
    state.remove(v);
    return reply.code(202).send();
  });
}
