// Glance v2 mounted under /image: version discovery (300 at the root, 200 at /versions, as
// glance-api answers) and the read side of /v2/images that rs-server uses.
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { SimContext } from "../context.ts";
import { injectedFailure, isAdmin, requestToken, servicePath, unauthorized } from "../context.ts";
import type { GlanceState, ImageRecord } from "./state.ts";
import { imageView } from "./views.ts";

const STATUS_TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  503: "Service Unavailable",
};
const EXPLANATIONS: Record<number, string> = {
  400: "The server could not comply with the request since it is either malformed or otherwise incorrect.",
  403: "Access was denied to this resource.",
  404: "The resource could not be found.",
  503: "The server is currently unavailable. Please try again at a later time.",
};

/**
 * Glance answers errors with webob's generic pages: JSON when the client accepts it, else the
 * plain-text page (`404 Not Found\n\nThe resource could not be found.\n\n<detail>`).
 */
export function glanceError(
  req: FastifyRequest,
  reply: FastifyReply,
  status: number,
  detail: string,
): FastifyReply {
  const title = STATUS_TITLES[status] ?? "Error";
  const explanation = EXPLANATIONS[status] ?? "";
  const accept = String(req.headers.accept ?? "");
  reply.code(status);
  if (accept.includes("application/json")) {
    return reply.send({
      message: `${explanation}<br /><br />\n${detail}\n\n`,
      code: `${status} ${title}`,
      title,
    });
  }
  return reply
    .type("text/plain; charset=UTF-8")
    .send(`${status} ${title}\n\n${explanation}\n\n${detail}\n\n   `);
}

const VERSIONS = [
  "2.16",
  "2.15",
  "2.14",
  "2.13",
  "2.12",
  "2.11",
  "2.10",
  "2.9",
  "2.8",
  "2.7",
  "2.6",
  "2.5",
  "2.4",
  "2.3",
  "2.2",
  "2.1",
  "2.0",
];

type Query = Record<string, string | string[] | undefined>;
const first = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);
const all = (v: string | string[] | undefined) => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

class BadRequest extends Error {}

function filterImages(images: ImageRecord[], q: Query, projectId: string | undefined): ImageRecord[] {
  const visibility = first(q.visibility);
  if (visibility && !["public", "private", "shared", "community", "all"].includes(visibility)) {
    throw new BadRequest(`Invalid visibility value: ${visibility}`);
  }
  const tags = all(q.tag);
  const hidden = first(q.os_hidden);
  return images.filter((i) => {
    if (visibility === undefined && i.visibility === "community" && i.owner !== projectId) return false;
    if (visibility && visibility !== "all" && i.visibility !== visibility) return false;
    if (hidden === undefined ? i.os_hidden : String(i.os_hidden) !== hidden.toLowerCase()) return false;
    for (const key of [
      "name",
      "status",
      "owner",
      "disk_format",
      "container_format",
      "checksum",
      "id",
    ] as const) {
      const want = first(q[key]);
      if (want !== undefined && String(i[key]) !== want) return false;
    }
    const min = first(q.size_min);
    const max = first(q.size_max);
    if (min !== undefined && (i.size ?? 0) < Number(min)) return false;
    if (max !== undefined && (i.size ?? 0) > Number(max)) return false;
    return tags.every((t) => i.tags.includes(t));
  });
}

export async function registerGlance(
  app: FastifyInstance,
  ctx: SimContext,
  state: GlanceState,
  prefix: string,
): Promise<void> {
  await app.register(
    async (glance) => {
      const root = () => `${ctx.baseUrl()}${prefix}`;
      const versions = () => ({
        versions: VERSIONS.map((v, i) => ({
          id: `v${v}`,
          status: i === 0 ? "CURRENT" : "SUPPORTED",
          links: [{ rel: "self", href: `${root()}/v2/` }],
        })),
      });

      glance.addHook("onRequest", async (req, reply) => {
        if (await injectedFailure(ctx.faults)) {
          return glanceError(req, reply, 503, "");
        }
        const path = servicePath(req.url, prefix);
        if (path === "" || path === "/versions") return;
        const token = requestToken(ctx, req);
        if (!token) return unauthorized(reply);
        callers.set(req, { projectId: token.projectId, admin: isAdmin(token) });
      });
      glance.setNotFoundHandler((req, reply) => glanceError(req, reply, 404, ""));

      glance.get("/", async (_req, reply) => reply.code(300).send(versions()));
      glance.get("/versions", async () => versions());

      glance.get("/v2/images", async (req, reply) => {
        const c = callers.get(req)!;
        const q = req.query as Query;
        let rows: ImageRecord[];
        try {
          rows = filterImages(
            [...state.images.values()].filter((i) => state.visibleTo(i, c.projectId, c.admin)),
            q,
            c.projectId,
          );
        } catch (e) {
          if (e instanceof BadRequest) return glanceError(req, reply, 400, e.message);
          throw e;
        }
        const sortKey = first(q.sort_key) ?? "created_at";
        const dir = first(q.sort_dir) === "asc" ? 1 : -1;
        rows.sort((a, b) => {
          const av = String((a as unknown as Record<string, unknown>)[sortKey] ?? "");
          const bv = String((b as unknown as Record<string, unknown>)[sortKey] ?? "");
          return (av < bv ? -1 : av > bv ? 1 : a.id < b.id ? -1 : 1) * dir;
        });
        const limitRaw = first(q.limit);
        const limit = limitRaw === undefined ? 25 : Number(limitRaw);
        if (!Number.isInteger(limit) || limit < 0)
          return glanceError(req, reply, 400, "limit param must be positive");
        const pageSize = Math.min(limit, 1000);
        const marker = first(q.marker);
        let start = 0;
        if (marker) {
          const at = rows.findIndex((i) => i.id === marker);
          if (at < 0) return glanceError(req, reply, 400, `The marker ${marker} could not be found.`);
          start = at + 1;
        }
        const page = rows.slice(start, start + pageSize);
        const body: Record<string, unknown> = {
          images: page.map(imageView),
          first: "/v2/images",
          schema: "/v2/schemas/images",
        };
        if (start + pageSize < rows.length && page.length > 0) {
          const params = new URLSearchParams();
          for (const [k, v] of Object.entries(q)) {
            if (k !== "marker") for (const x of all(v)) params.append(k, x);
          }
          params.set("marker", page[page.length - 1]!.id);
          body.next = `/v2/images?${params.toString()}`;
        }
        return body;
      });

      glance.get<{ Params: { id: string } }>("/v2/images/:id", async (req, reply) => {
        const c = callers.get(req)!;
        const image = state.images.get(req.params.id);
        if (!image || !state.visibleTo(image, c.projectId, c.admin)) {
          return glanceError(req, reply, 404, `No image found with ID ${req.params.id}`);
        }
        return imageView(image);
      });
    },
    { prefix },
  );
}

const callers = new WeakMap<FastifyRequest, { projectId: string | undefined; admin: boolean }>();
