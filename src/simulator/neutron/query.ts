// Neutron's list semantics shared by every collection: any attribute is a filter (repeat a key
// for OR), unknown attributes are refused as Neutron's filter validation does, `fields`
// projects, and `limit`/`marker` page with a `<collection>_links` next link.
import type { FastifyRequest } from "fastify";
import { type Caller, caller, type NeutronEnv, ownedBy, type Query } from "./scope.ts";
import { NeutronError } from "./state.ts";

type View = Record<string, unknown>;

const CONTROL = new Set(["fields", "limit", "marker", "sort_key", "sort_dir", "page_reverse"]);
const TAG_FILTERS = new Set(["tags", "tags-any", "not-tags", "not-tags-any"]);

const asList = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : Array.isArray(v) ? v : [v];

function matchesValue(actual: unknown, wanted: string): boolean {
  if (typeof actual === "boolean") {
    const w = wanted.toLowerCase();
    return actual ? w === "true" || w === "1" : w === "false" || w === "0";
  }
  if (actual === null || actual === undefined) return wanted === "" || wanted === "None";
  if (Array.isArray(actual)) return actual.map(String).includes(wanted);
  return String(actual) === wanted;
}

function matchesFixedIps(actual: unknown, wanted: string[]): boolean {
  const ips = (actual as { subnet_id: string; ip_address: string }[]) ?? [];
  return wanted.every((w) => {
    const [key, value] = w.split("=", 2);
    if (!value) return false;
    return ips.some((ip) => (key === "ip_address" ? ip.ip_address === value : ip.subnet_id === value));
  });
}

function matchesTags(tags: string[], filter: string, values: string[]): boolean {
  const wanted = values.flatMap((v) => v.split(","));
  const has = (t: string) => tags.includes(t);
  if (filter === "tags") return wanted.every(has);
  if (filter === "tags-any") return wanted.some(has);
  if (filter === "not-tags") return !wanted.every(has);
  return !wanted.some(has);
}

export interface ListOptions {
  collection: string;
  /** Absolute URL of the collection, for the next link. */
  url: string;
}

export function listResponse(views: View[], query: Query, opts: ListOptions): Record<string, unknown> {
  const filters = Object.entries(query).filter(([k]) => !CONTROL.has(k));
  const sample = views[0];
  for (const [key] of filters) {
    if (TAG_FILTERS.has(key) || key === "fixed_ips") continue;
    if (sample && !(key in sample)) {
      throw new NeutronError(400, "HTTPBadRequest", `[${key}] is invalid attribute for filtering`);
    }
  }
  let rows = views.filter((v) =>
    filters.every(([key, raw]) => {
      const values = asList(raw);
      if (TAG_FILTERS.has(key)) return matchesTags((v.tags as string[]) ?? [], key, values);
      if (key === "fixed_ips") return matchesFixedIps(v.fixed_ips, values);
      return values.some((w) => matchesValue(v[key], w));
    }),
  );
  const sortKey = asList(query.sort_key)[0];
  if (sortKey) {
    const dir = asList(query.sort_dir)[0] === "desc" ? -1 : 1;
    rows = [...rows].sort((a, b) => String(a[sortKey]).localeCompare(String(b[sortKey])) * dir);
  }
  const body: Record<string, unknown> = {};
  const limitRaw = asList(query.limit)[0];
  if (limitRaw !== undefined) {
    const limit = Number(limitRaw);
    if (!Number.isInteger(limit) || limit < 0) {
      throw new NeutronError(
        400,
        "HTTPBadRequest",
        `Limit must be an integer 0 or greater and not '${limitRaw}'`,
      );
    }
    const marker = asList(query.marker)[0];
    if (!sortKey) rows = [...rows].sort((a, b) => String(a.id).localeCompare(String(b.id)));
    let start = 0;
    if (marker) {
      const at = rows.findIndex((r) => r.id === marker);
      start = at + 1;
    }
    const page = limit > 0 ? rows.slice(start, start + limit) : rows.slice(start);
    if (limit > 0 && start + limit < rows.length) {
      const last = page[page.length - 1]?.id;
      body[`${opts.collection}_links`] = [
        { rel: "next", href: `${opts.url}?limit=${limit}&marker=${encodeURIComponent(String(last))}` },
      ];
    }
    rows = page;
  }
  const fields = asList(query.fields).flatMap((f) => f.split(","));
  body[opts.collection] = fields.length ? rows.map((r) => project(r, fields)) : rows;
  return body;
}

/**
 * The list response of `/v2.0<path>` over the records the caller may see (its own, or all for
 * an admin); the body's collection is the path's name with underscores, as Neutron names it.
 */
export function listOwned<T extends { project_id: string }>(
  env: NeutronEnv,
  req: FastifyRequest,
  path: string,
  records: Iterable<T>,
  view: (r: T, c: Caller) => View,
): Record<string, unknown> {
  const c = caller(req);
  const views = [...records].filter((r) => ownedBy(c, r)).map((r) => view(r, c));
  return listResponse(views, req.query as Query, {
    collection: path.slice(1).replaceAll("-", "_"),
    url: env.url(path),
  });
}

export function project(view: View, fields: string[]): View {
  const out: View = {};
  for (const f of fields) if (f in view) out[f] = view[f];
  return out;
}

export function fieldsOf(query: Query): string[] {
  return asList(query.fields).flatMap((f) => f.split(","));
}

/** A show response: `{<key>: view}`, cut to the query's `fields` when it names any. */
export function showResponse(key: string, view: View, query: unknown): Record<string, View> {
  const fields = fieldsOf(query as Query);
  return { [key]: fields.length ? project(view, fields) : view };
}
