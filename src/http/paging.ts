// Paging, sorting and time ranges of the admin lists (docs/admin-api.md#paging-sorting-and-time-ranges--extension):
// `limit`, `marker` (the id of the last item of the previous page), `sort_key`, `sort_dir`,
// and `created_at__gt=<ISO 8601>`-style ranges. A page that has a next one carries a
// `Link: </v1/...&marker=<id>>; rel="next"` header; callers that asked for a page also get
// `<key>_links` in the body, as OpenStack APIs answer.
import type { FastifyReply, FastifyRequest } from "fastify";
import { type PageQuery, type SortDir, TIME_OPS, type TimeFilter, type TimeOp } from "../shared/paging.ts";
import type { Filter } from "../shared/types.ts";
import { badRequest } from "./errors.ts";

/** The query parameters every paged list knows besides its filters. */
export const PAGING_PARAMS = ["limit", "marker", "sort_key", "sort_dir"] as const;

export interface PagingSpec {
  /** The sort keys the list accepts; the first is the default. */
  sortKeys: readonly string[];
  defaultDir: SortDir;
  /** config admin.maxPageSize (0: none). */
  maxPage: number;
}

export interface Paging extends PageQuery {
  /** The caller gave limit or marker (it reads pages, and gets `<key>_links`). */
  asked: boolean;
}

const INTEGER = /^[0-9]{1,9}$/;

/** Reads limit/marker/sort_key/sort_dir from the plain parameters (400 on bad values). */
export function parsePaging(plain: Record<string, string | undefined>, spec: PagingSpec): Paging {
  let limit: number | undefined;
  if (plain.limit !== undefined) {
    if (!INTEGER.test(plain.limit) || Number(plain.limit) < 1)
      throw badRequest("limit must be a positive integer");
    limit = Number(plain.limit);
  }
  if (spec.maxPage > 0) limit = Math.min(limit ?? spec.maxPage, spec.maxPage);
  const marker = plain.marker;
  if (marker !== undefined && (marker === "" || marker.length > 255))
    throw badRequest("marker must be the id of an item of the list");
  const sortKey = plain.sort_key ?? spec.sortKeys[0];
  if (!spec.sortKeys.includes(sortKey))
    throw badRequest(`Unknown sort_key ${sortKey}: one of ${spec.sortKeys.join(", ")}`);
  const dir = plain.sort_dir ?? spec.defaultDir;
  if (dir !== "asc" && dir !== "desc") throw badRequest("sort_dir must be asc or desc");
  return { limit, marker, sortKey, sortDir: dir, asked: plain.limit !== undefined || marker !== undefined };
}

/**
 * Takes the time-range filters (`field__gt` etc. on the given fields) out of the parsed
 * filters. Only gt/gte/lt/lte apply; the value is ISO 8601, UTC when it has no offset.
 */
export function takeTimeFilters(
  filters: Filter[],
  fields: readonly string[],
): { rest: Filter[]; times: TimeFilter[] } {
  const rest: Filter[] = [];
  const times: TimeFilter[] = [];
  for (const f of filters) {
    if (!fields.includes(f.field)) {
      rest.push(f);
      continue;
    }
    if (!(TIME_OPS as readonly string[]).includes(f.op))
      throw badRequest(`${f.field} takes the modifiers __gt, __gte, __lt, __lte`);
    times.push({ field: f.field, op: f.op as TimeOp, at: parseTime(f.values[0] ?? "", f.field) });
  }
  return { rest, times };
}

const ISO = /^(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d)(?:\.(\d{1,6}))?)?)?(Z|z|[+-]\d\d:?\d\d)?$/;

/** An ISO 8601 date or time, as a string PostgreSQL reads with its offset (UTC when none). */
export function parseTime(value: string, name: string): string {
  const m = ISO.exec(value);
  const fail = () => badRequest(`${name} must be an ISO 8601 time, e.g. 2018-10-31T12:59:43`);
  if (!m) throw fail();
  const [, y, mo, d, h = "00", mi = "00", s = "00", frac, offset] = m;
  const probe = new Date(`${y}-${mo}-${d}T${h}:${mi}:${s}Z`);
  // Date rolls 2018-02-30 over to March: the parts must survive the round trip.
  if (
    Number.isNaN(probe.getTime()) ||
    probe.getUTCFullYear() !== Number(y) ||
    probe.getUTCMonth() + 1 !== Number(mo) ||
    probe.getUTCDate() !== Number(d) ||
    probe.getUTCHours() !== Number(h) ||
    probe.getUTCMinutes() !== Number(mi) ||
    probe.getUTCSeconds() !== Number(s)
  )
    throw fail();
  const off = !offset || offset.toUpperCase() === "Z" ? "+00:00" : offset;
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${frac ? `.${frac}` : ""}${off}`;
}

/** The path and query of the next page: this request's, its marker replaced. */
export function nextHref(req: FastifyRequest, marker: string): string {
  const url = new URL(req.url, "http://rs-server.invalid");
  url.searchParams.set("marker", marker);
  return `${url.pathname}${url.search}`;
}

/**
 * Sets the `Link: <...>; rel="next"` header when a next page exists and answers the
 * `<key>_links` body entry for callers that asked for pages (none when they did not).
 */
export function pageLinks(
  req: FastifyRequest,
  reply: FastifyReply,
  paging: Paging,
  next: string | undefined,
): { rel: string; href: string }[] | undefined {
  if (next === undefined) return paging.asked ? [] : undefined;
  const href = nextHref(req, next);
  reply.header("Link", `<${href}>; rel="next"`);
  return paging.asked || paging.limit !== undefined ? [{ rel: "next", href }] : undefined;
}

type Key = string | number | boolean | null | undefined;

/**
 * One page of a list held in memory (the lists whose size is bounded by the cloud's: pools,
 * instances, assignments...): sorted by the key then the id in one direction (nulls last
 * ascending, first descending, as PostgreSQL orders), after the marker, `limit + 1` read to
 * know whether a next page exists. An unknown marker is a 400.
 */
export function pageOf<T>(
  items: readonly T[],
  paging: PageQuery,
  idOf: (item: T) => string | number,
  keyOf: (item: T, key: string) => Key,
): { items: T[]; next?: string } {
  const dir = paging.sortDir === "asc" ? 1 : -1;
  const cmp = (a: Key, b: Key): number => {
    const an = a === null || a === undefined;
    const bn = b === null || b === undefined;
    if (an || bn) return an === bn ? 0 : an ? 1 : -1;
    if (typeof a === "number" && typeof b === "number") return a - b;
    const as = String(a);
    const bs = String(b);
    return as < bs ? -1 : as > bs ? 1 : 0;
  };
  const sorted = items
    .map((item) => ({ item, key: keyOf(item, paging.sortKey), id: idOf(item) }))
    .sort((x, y) => dir * (cmp(x.key, y.key) || cmp(x.id, y.id)));
  let start = 0;
  if (paging.marker !== undefined) {
    const at = sorted.findIndex((e) => String(e.id) === paging.marker);
    if (at === -1) throw badRequest(`marker ${paging.marker} is not an item of the list`);
    start = at + 1;
  }
  const end = paging.limit === undefined ? sorted.length : start + paging.limit;
  const page = sorted.slice(start, end).map((e) => e.item);
  const next = end < sorted.length && page.length > 0 ? String(idOf(page[page.length - 1])) : undefined;
  return { items: page, next };
}
