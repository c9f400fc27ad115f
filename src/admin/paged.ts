// Paging of the admin lists whose size the cloud bounds (pools, an instance's users and groups,
// a user's instances, floating IPs, volume assignments): the list is read as before, and
// `limit`/`marker`/`sort_key`/`sort_dir` cut one page of it (docs/admin-api.md#paging-sorting-and-time-ranges--extension).
// Without limit and marker (and admin.maxPageSize 0) the answer is the list as it always was,
// in its order. The big lists (sessions, instances, tasks) page in the database instead.
import { Type as T } from "@sinclair/typebox";
import type { FastifyReply, FastifyRequest } from "fastify";
import { PAGING_PARAMS, pageLinks, pageOf, parsePaging } from "../http/paging.ts";

type Key = string | number | boolean | null | undefined;

export interface InMemoryList<T> {
  /** Sort keys and how to read each; the first is the default. */
  sorts: Record<string, (item: T) => Key>;
  idOf: (item: T) => string | number;
  defaultDir?: "asc" | "desc";
}

/** Only the paging parameters of a query (routes without filters ignore the rest, as before). */
export function pagingParams(query: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  const q = (query ?? {}) as Record<string, unknown>;
  for (const name of PAGING_PARAMS) {
    const v = q[name];
    if (v === undefined) continue;
    out[name] = String(Array.isArray(v) ? v[v.length - 1] : v);
  }
  return out;
}

/**
 * The page of `items` the request asks for, with the Link header set and the `links` to
 * answer as `<key>_links` (undefined: answer none).
 */
export function pageInMemory<T>(
  req: FastifyRequest,
  reply: FastifyReply,
  maxPage: number,
  items: readonly T[],
  list: InMemoryList<T>,
  plain: Record<string, string | undefined> = pagingParams(req.query),
): { items: T[]; links?: { rel: string; href: string }[] } {
  const sortKeys = Object.keys(list.sorts);
  const paging = parsePaging(plain, { sortKeys, defaultDir: list.defaultDir ?? "asc", maxPage });
  if (
    paging.limit === undefined &&
    paging.marker === undefined &&
    plain.sort_key === undefined &&
    plain.sort_dir === undefined
  )
    return { items: [...items] };
  const page = pageOf(items, paging, list.idOf, (item, key) => list.sorts[key](item));
  return { items: page.items, links: pageLinks(req, reply, paging, page.next) };
}

/**
 * The paging parameters of a list's query string (docs/admin-api.md#paging-sorting-and-time-ranges--extension),
 * to spread into its querystring schema.
 */
export function pagingQuery(
  what: string,
  idName: string,
  sortKeys: readonly string[],
  defaultDir: "asc" | "desc",
) {
  return {
    limit: T.Optional(T.String({ description: `At most this many ${what} (capped by admin.maxPageSize).` })),
    marker: T.Optional(T.String({ description: `The ${idName} of the last item of the previous page.` })),
    sort_key: T.Optional(
      T.String({ description: `Sort key: ${sortKeys.join(", ")} (default ${sortKeys[0]}).` }),
    ),
    sort_dir: T.Optional(T.String({ description: `asc or desc (default ${defaultDir}).` })),
  };
}

/** `<key>_links`: the next page, for callers that asked for pages. */
export const PageLinks = T.Optional(
  T.Array(T.Object({ rel: T.String(), href: T.String() }), {
    description:
      'The next page (rel "next", also in the Link header); present when the caller gave limit or marker, or admin.maxPageSize cut the list.',
  }),
);
