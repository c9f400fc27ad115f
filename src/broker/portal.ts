// The user web portal at /portal/: static files of ./portal/ (HTML, CSS, browser ES modules)
// read once at start-up, so that only those names can ever be answered (no path reaches the
// file system) and each carries its ETag; plus config.json, the connection types the broker
// accepts. Hidden from the OpenAPI document: these are pages, not API operations.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { BrokerRoutes } from "./app.ts";
import { novncRoute } from "./portal-novnc.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
  ".ico": "image/x-icon",
  ".png": "image/png",
};

// Everything the pages load comes from here; the token is sent by fetch to our own origin.
const SECURITY_HEADERS = {
  "Content-Security-Policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  "X-Content-Type-Options": "nosniff",
  "X-Frame-Options": "DENY",
  "Referrer-Policy": "no-referrer",
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
  reply.headers({ ...SECURITY_HEADERS, "Cache-Control": "no-cache", ETag: asset.etag });
  if (req.headers["if-none-match"] === asset.etag) return reply.code(304).send();
  return reply.type(asset.type).send(asset.body);
}

export const portalRoute: BrokerRoutes = (app, { config }) => {
  const assets = loadPortalAssets();
  const index = assets.get("index.html");
  if (!index) throw new Error("the portal's index.html is missing");
  const hidden = { schema: { hide: true } };

  // ignoreTrailingSlash makes /portal and /portal/ one route: the page's relative URLs need
  // the slash, so the bare form is redirected (relatively, to keep a proxy's path prefix).
  app.get("/portal", hidden, (req, reply) => {
    const path = req.url.split("?")[0];
    if (!path.endsWith("/")) return reply.redirect("portal/", 302);
    return sendAsset(req, reply, index);
  });

  app.get("/portal/config.json", hidden, (_req, reply) => {
    reply.headers({ ...SECURITY_HEADERS, "Cache-Control": "no-store" });
    return { connTypes: config.connTypes };
  });

  novncRoute(app);

  app.get<{ Params: { file: string } }>("/portal/:file", hidden, (req, reply) => {
    const asset = assets.get(req.params.file);
    if (!asset) return reply.callNotFound();
    return sendAsset(req, reply, asset);
  });
};
