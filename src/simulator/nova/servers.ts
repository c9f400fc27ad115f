// /servers: create, list (summary and detail, with Nova's filters, paging and
// servers_links), show, update and delete.
import type { FastifyInstance, FastifyRequest } from "fastify";
import { createServers } from "./create.ts";
import { badRequest, invalidInput, NovaFault, policyDenied, serverNotFound } from "./errors.ts";
import { actionDelay, begin, novaTime } from "./lifecycle.ts";
import { call, first, type NovaCall, type NovaEnv, type Query } from "./scope.ts";
import type { ServerRecord } from "./state.ts";
import { serverLinks, serverSummary, serverView, statusOf } from "./views.ts";

/** Nova's [api] max_limit: no page is longer, whatever `limit` asks. */
export const MAX_LIMIT = 1000;

export function visibleServer(env: NovaEnv, req: FastifyRequest, id: string): ServerRecord {
  const c = call(req);
  const s = env.state.servers.get(id);
  if (!s || (!c.admin && s.project_id !== c.projectId)) throw serverNotFound(id);
  return s;
}

function allTenants(q: Query): boolean {
  if (!("all_tenants" in q)) return false;
  const v = String(first(q.all_tenants) ?? "").toLowerCase();
  if (["", "1", "true", "t", "yes", "y", "on"].includes(v)) return true;
  if (["0", "false", "f", "no", "n", "off"].includes(v)) return false;
  throw badRequest(
    `Invalid input received: Unrecognized value '${v}', acceptable values are: '0', '1', 'f', 'false', 'n', 'no', 'off', 'on', 't', 'true', 'y', 'yes'`,
  );
}

function tagFilter(q: Query, key: string): string[] | undefined {
  const v = first(q[key]);
  return v === undefined ? undefined : v.split(",").filter(Boolean);
}

function listServers(env: NovaEnv, req: FastifyRequest, detail: boolean) {
  const c = call(req);
  const q = req.query as Query;
  const everyone = allTenants(q);
  if (everyone && !c.admin) {
    throw policyDenied(`os_compute_api:servers:${detail ? "detail" : "index"}:get_all_tenants`);
  }
  const projectFilter = everyone ? (first(q.project_id) ?? first(q.tenant_id)) : c.projectId;
  let rows: ServerRecord[] = projectFilter
    ? [...env.state.ofProject(projectFilter)]
    : [...env.state.servers.values()];

  const since = first(q["changes-since"]);
  let sinceMs: number | undefined;
  if (since !== undefined) {
    sinceMs = Date.parse(since);
    if (Number.isNaN(sinceMs)) throw invalidInput("changes-since", since, `'${since}' is not a 'date-time'`);
    // Deleted servers are part of a changes-since answer, as Nova returns soft-deleted rows.
    rows = rows.concat(
      env.state.deleted.filter((s) => (projectFilter ? s.project_id === projectFilter : true)),
    );
  }
  const name = first(q.name);
  let nameRe: RegExp | undefined;
  if (name !== undefined) {
    try {
      nameRe = new RegExp(name);
    } catch {
      nameRe = /(?!)/;
    }
  }
  const status = first(q.status)?.toUpperCase();
  const image = first(q.image);
  const flavor = first(q.flavor);
  const ip = first(q.ip);
  const ipRe = ip === undefined ? undefined : new RegExp(ip.replace(/\./g, "\\."));
  const reservation = first(q.reservation_id);
  const uuid = c.admin ? first(q.uuid) : undefined;
  const locked = first(q.locked);
  const tags = tagFilter(q, "tags");
  const tagsAny = tagFilter(q, "tags-any");
  const notTags = tagFilter(q, "not-tags");
  const notTagsAny = tagFilter(q, "not-tags-any");

  const keep = (s: ServerRecord) => {
    if (sinceMs !== undefined && Date.parse(s.updated) < sinceMs - (sinceMs % 1000)) return false;
    if (nameRe && !nameRe.test(s.name)) return false;
    if (status !== undefined && statusOf(s) !== status) return false;
    if (image !== undefined && s.image_id !== image) return false;
    if (flavor !== undefined && s.flavor_id !== flavor) return false;
    if (reservation !== undefined && s.reservation_id !== reservation) return false;
    if (uuid !== undefined && s.id !== uuid) return false;
    if (locked !== undefined && String(s.locked) !== locked.toLowerCase()) return false;
    if (tags && !tags.every((t) => s.tags.includes(t))) return false;
    if (tagsAny && !tagsAny.some((t) => s.tags.includes(t))) return false;
    if (notTags && tags === undefined && notTags.every((t) => s.tags.includes(t))) return false;
    if (notTagsAny?.some((t) => s.tags.includes(t))) return false;
    if (ipRe) {
      const ips = env.neutron.portsOfDevice(s.id).flatMap((p) => p.fixed_ips.map((f) => f.ip_address));
      if (!ips.some((x) => ipRe.test(x))) return false;
    }
    return true;
  };
  rows = rows.filter(keep);

  // Default order: newest first (created_at desc, then id desc in Nova; seq is creation order).
  const sortKey = first(q.sort_key) ?? "created_at";
  const dir = (first(q.sort_dir) ?? "desc") === "asc" ? 1 : -1;
  const keyOf = (s: ServerRecord): string | number =>
    sortKey === "display_name" ? s.name : sortKey === "updated_at" ? s.updated : s.seq;
  rows.sort((a, b) => {
    const x = keyOf(a);
    const y = keyOf(b);
    return (x < y ? -1 : x > y ? 1 : a.seq - b.seq) * dir;
  });

  const limitRaw = first(q.limit);
  const limit = limitRaw === undefined ? MAX_LIMIT : Number(limitRaw);
  if (!Number.isInteger(limit) || limit < 0) throw badRequest("limit param must be an integer");
  const pageSize = Math.min(limit, MAX_LIMIT);
  const marker = first(q.marker);
  let start = 0;
  if (marker !== undefined) {
    const at = rows.findIndex((s) => s.id === marker);
    if (at < 0) throw badRequest(`marker [${marker}] not found`);
    start = at + 1;
  }
  const page = rows.slice(start, start + pageSize);
  const body: Record<string, unknown> = {
    servers: page.map((s) => (detail ? serverView(env, s, c) : serverSummary(env, s))),
  };
  if (pageSize > 0 && page.length === pageSize) {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(q)) {
      if (k === "marker" || v === undefined) continue;
      for (const x of Array.isArray(v) ? v : [v]) params.append(k, x);
    }
    params.set("limit", String(pageSize));
    params.set("marker", page[page.length - 1]!.id);
    body.servers_links = [
      { rel: "next", href: `${env.root()}/v2.1/servers${detail ? "/detail" : ""}?${params}` },
    ];
  }
  return body;
}

function checkLocked(c: NovaCall, s: ServerRecord): void {
  if (s.locked && !c.admin) throw new NovaFault(409, `Instance ${s.id} is locked`);
}

export function serverRoutes(app: FastifyInstance, env: NovaEnv): void {
  app.get("/v2.1/servers", async (req) => listServers(env, req, false));
  app.get("/v2.1/servers/detail", async (req) => listServers(env, req, true));

  app.post("/v2.1/servers", async (req, reply) => {
    const c = call(req);
    const result = createServers(env, c, req.body);
    if (result.returnReservationId) return reply.code(202).send({ reservation_id: result.reservationId });
    const s = result.servers[0]!;
    reply.header("location", serverLinks(env, s.id)[0]!.href);
    return reply.code(202).send({
      server: {
        id: s.id,
        links: serverLinks(env, s.id),
        "OS-DCF:diskConfig": "MANUAL",
        security_groups: s.security_groups.map((name) => ({ name })),
        adminPass: result.adminPass,
      },
    });
  });

  app.get<{ Params: { id: string } }>("/v2.1/servers/:id", async (req) => {
    const s = visibleServer(env, req, req.params.id);
    return { server: serverView(env, s, call(req), { show: true }) };
  });

  app.put<{ Params: { id: string } }>("/v2.1/servers/:id", async (req) => {
    const c = call(req);
    const s = visibleServer(env, req, req.params.id);
    const body = (req.body as { server?: Record<string, unknown> } | undefined)?.server;
    if (!body || typeof body !== "object") {
      throw badRequest("Invalid input for field/attribute server. Value: None. None is not of type 'object'");
    }
    const allowed = new Set(["name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"]);
    if (c.minor >= 19) allowed.add("description");
    if (c.minor >= 90) allowed.add("hostname");
    const extra = Object.keys(body).filter((k) => !allowed.has(k));
    if (extra.length) {
      throw badRequest(
        `Invalid input for field/attribute server. Value: ${JSON.stringify(body)}. Additional properties are not allowed (${extra.map((k) => `'${k}'`).join(", ")} was unexpected)`,
      );
    }
    if (body.name !== undefined) {
      if (typeof body.name !== "string" || body.name.length < 1 || body.name.length > 255) {
        throw invalidInput("name", body.name, "is not valid");
      }
      s.name = body.name;
    }
    if (body.description !== undefined) s.description = body.description as string | null;
    if (typeof body.accessIPv4 === "string") s.access_ipv4 = body.accessIPv4;
    if (typeof body.accessIPv6 === "string") s.access_ipv6 = body.accessIPv6;
    if (typeof body.hostname === "string") s.hostname = body.hostname;
    s.updated = novaTime();
    return { server: serverView(env, s, c, { show: true }) };
  });

  app.delete<{ Params: { id: string } }>("/v2.1/servers/:id", async (req, reply) => {
    const c = call(req);
    const s = visibleServer(env, req, req.params.id);
    checkLocked(c, s);
    if (s.pending?.kind !== "delete") {
      s.task_state = "deleting";
      s.updated = novaTime();
      begin(env, s, "delete", actionDelay(env));
    }
    return reply.code(204).send();
  });
}
