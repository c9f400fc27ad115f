// The admin dashboard at /dashboard/ on the admin port: the page's own files (./dashboard/:
// HTML, CSS, browser ES modules written with // @ts-check, no build step) and four vendor
// modules from node_modules (Preact, its hooks, htm, uPlot), all read once at start-up so that
// only those names can ever be answered and each carries its ETag. Browsers resolve no bare
// import specifier without an import map (an inline script, which the CSP forbids), so the
// bare names ("preact", "htm", ...) are rewritten here to the vendor files' relative URLs,
// as a bundler's resolver would, and an unknown one stops the start-up.
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { App } from "../http/app.ts";
import { PAGE_SECURITY_HEADERS } from "../http/page-headers.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
};

/** Bare specifier → [package, file in the package, name served under vendor/]. */
const VENDOR: Record<string, [string, string, string]> = {
  preact: ["preact", "dist/preact.mjs", "preact.js"],
  "preact/hooks": ["preact", "hooks/dist/hooks.mjs", "preact-hooks.js"],
  htm: ["htm", "dist/htm.mjs", "htm.js"],
  uplot: ["uplot", "dist/uPlot.esm.js", "uplot.js"],
};
const VENDOR_CSS: [string, string, string][] = [["uplot", "dist/uPlot.min.css", "uplot.css"]];

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function asset(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"` };
}

/** Rewrites `from "preact"` / `import "x"` to the vendor file's URL relative to `prefix`. */
export function resolveImports(source: string, prefix: string, file: string): string {
  return source.replace(
    // Only import/export statements: at the start of a line, or the `} from "x"` line that
    // ends a wrapped import (page text such as id="f-from" type="date" must not match).
    /^(\s*(?:import|export)\b[^'"\n]*?\bfrom\s*|\s*import\s*|\s*\}\s*from\s*)(["'])([^"'\n]+)\2/gm,
    (whole, keyword: string, quote: string, spec: string) => {
      if (spec.startsWith("./") || spec.startsWith("../")) return whole;
      const vendor = VENDOR[spec];
      if (!vendor) throw new Error(`dashboard: ${file} imports "${spec}", which is not a vendor module`);
      return `${keyword}${quote}${prefix}${vendor[2]}${quote}`;
    },
  );
}

export function loadDashboardAssets(dir: URL = new URL("./dashboard/", import.meta.url)) {
  const own = new Map<string, Asset>();
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const ext = /\.[a-z]+$/.exec(entry.name)?.[0] ?? "";
    if (!entry.isFile() || !TYPES[ext]) continue;
    let body = readFileSync(new URL(entry.name, dir));
    if (ext === ".js") body = Buffer.from(resolveImports(body.toString("utf8"), "./vendor/", entry.name));
    own.set(entry.name, asset(body, TYPES[ext]));
  }
  const require = createRequire(import.meta.url);
  // The package's folder on Node's own search path (not every package exports its package.json).
  const root = (pkg: string) => {
    const found = (require.resolve.paths(pkg) ?? [])
      .map((d) => join(d, pkg))
      .find((d) => existsSync(join(d, "package.json")));
    if (!found) throw new Error(`dashboard: the package ${pkg} is not installed (npm ci)`);
    return found;
  };
  const vendor = new Map<string, Asset>();
  for (const [pkg, path, name] of Object.values(VENDOR)) {
    const source = readFileSync(join(root(pkg), path), "utf8");
    vendor.set(name, asset(Buffer.from(resolveImports(source, "./", name)), TYPES[".js"]));
  }
  for (const [pkg, path, name] of VENDOR_CSS)
    vendor.set(name, asset(readFileSync(join(root(pkg), path)), TYPES[".css"]));
  return { own, vendor };
}

function send(req: FastifyRequest, reply: FastifyReply, a: Asset) {
  // Not fingerprinted: the browser keeps a copy but asks again (a cheap 304), so an upgraded
  // server's dashboard is picked up at the next load.
  reply.headers({ ...PAGE_SECURITY_HEADERS, "Cache-Control": "no-cache", ETag: a.etag });
  if (req.headers["if-none-match"] === a.etag) return reply.code(304).send();
  return reply.type(a.type).send(a.body);
}

export function dashboardAssetRoutes(app: App) {
  const { own, vendor } = loadDashboardAssets();
  const index = own.get("index.html");
  if (!index) throw new Error("the dashboard's index.html is missing");
  const hidden = { schema: { hide: true } };

  // The admin port's root has nothing else to show: send a browser to the dashboard.
  app.get("/", hidden, (_req, reply) => reply.redirect("dashboard/", 302));
  // ignoreTrailingSlash makes /dashboard and /dashboard/ one route; relative URLs need the slash.
  app.get("/dashboard", hidden, (req, reply) => {
    if (!req.url.split("?")[0].endsWith("/")) return reply.redirect("dashboard/", 302);
    return send(req, reply, index);
  });
  app.get<{ Params: { file: string } }>("/dashboard/:file", hidden, (req, reply) => {
    const a = own.get(req.params.file);
    if (!a) return reply.callNotFound();
    return send(req, reply, a);
  });
  app.get<{ Params: { file: string } }>("/dashboard/vendor/:file", hidden, (req, reply) => {
    const a = vendor.get(req.params.file);
    if (!a) return reply.callNotFound();
    return send(req, reply, a);
  });
}
