// The user web portal: static files of ./portal/ (HTML, CSS, browser ES modules) read once at
// start-up, so that only those names can ever be answered (no path reaches the file system)
// and each carries its ETag; plus config.json, the connection types the broker accepts, and
// noVNC for the web desktop (portal-novnc.ts). Registered in a scope of its own under a
// prefix: /portal on the broker, /trs on the portal server (:8888, config `portal`). Hidden
// from the OpenAPI document: pages, not operations.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { App } from "../http/app.ts";
import { PAGE_SECURITY_HEADERS } from "../http/page-headers.ts";
import type { BrokerDeps, BrokerRoutes } from "./app.ts";
import { novncRoute } from "./portal-novnc.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".png": "image/png",
};

export interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

/** The portal's files by name; any other extension (the tests' .d.ts ends in .ts) is not served. */
export function loadPortalAssets(dir: URL = new URL("./portal/", import.meta.url)): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const ext = /\.[a-z]+$/.exec(entry.name)?.[0] ?? "";
    if (!entry.isFile() || !TYPES[ext]) continue;
    const body = readFileSync(new URL(entry.name, dir));
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    assets.set(entry.name, { body, type: TYPES[ext], etag });
  }
  return assets;
}

export function sendAsset(req: FastifyRequest, reply: FastifyReply, asset: Asset) {
  // Names are not fingerprinted: browsers keep a copy but ask again (a 304 is cheap), so an
  // upgraded broker's portal is picked up at the next load.
  reply.headers({ ...PAGE_SECURITY_HEADERS, "Cache-Control": "no-cache", ETag: asset.etag });
  if (req.headers["if-none-match"] === asset.etag) return reply.code(304).send();
  return reply.type(asset.type).send(asset.body);
}

/** The portal's pages, in a scope registered with a prefix (its index is the prefix + "/"). */
export const portalPages: BrokerRoutes = (scope, { config }) => {
  const assets = loadPortalAssets();
  const index = assets.get("index.html");
  if (!index) throw new Error("the portal's index.html is missing");
  const hidden = { schema: { hide: true } };

  // ignoreTrailingSlash makes /portal and /portal/ one route: the page's relative URLs need
  // the slash, so the bare form is redirected (relatively, to keep a proxy's path prefix).
  scope.get("/", hidden, (req, reply) => {
    const path = req.url.split("?")[0]!;
    if (!path.endsWith("/")) return reply.redirect(`${path.slice(path.lastIndexOf("/") + 1)}/`, 302);
    return sendAsset(req, reply, index);
  });

  scope.get("/config.json", hidden, (_req, reply) => {
    reply.headers({ ...PAGE_SECURITY_HEADERS, "Cache-Control": "no-store" });
    return { connTypes: config.connTypes };
  });

  scope.get<{ Params: { file: string } }>("/:file", hidden, (req, reply) => {
    const asset = assets.get(req.params.file);
    if (!asset) return reply.callNotFound();
    return sendAsset(req, reply, asset);
  });
};

/**
 * Everything served in the portal's scope, wherever the portal is (/portal/ on the broker,
 * /trs/ on the portal server): a module that belongs beside the portal's pages (another page,
 * the files a page loads) is added here and is served under both prefixes.
 */
export const PORTAL_SCOPE: BrokerRoutes[] = [portalPages, (scope) => novncRoute(scope)];

/** Registers the portal's scope under `prefix`, and `/` redirecting to it. */
export async function registerPortal(app: App, deps: BrokerDeps, prefix: string): Promise<void> {
  await app.register(
    async (scope) => {
      for (const routes of PORTAL_SCOPE) routes(scope as App, deps);
    },
    { prefix },
  );
  // The root is where people type: send them to the portal (relatively: a proxy's prefix stays).
  app.get("/", { schema: { hide: true } }, (_req, reply) => reply.redirect(`${prefix.slice(1)}/`, 302));
}
