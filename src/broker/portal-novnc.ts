// noVNC for the portal's web desktop, served by the broker itself at /portal/novnc/<path> (and
// by the portal server at /trs/novnc/<path>):
// the ES modules of the pinned @novnc/novnc package (core/ and its vendored pako), read once
// at start-up like the portal's own files, so that only those paths are ever answered and
// nothing is loaded from another origin. Same headers as the portal (CSP, nosniff, ETag).
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import type { App } from "../http/app.ts";
import { type Asset, sendAsset } from "./portal.ts";

/** The package's root: its one export is core/rfb.js. */
function novncRoot(): string {
  return dirname(dirname(createRequire(import.meta.url).resolve("@novnc/novnc")));
}

function walk(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.isFile() && entry.name.endsWith(".js")) out.push(path);
  }
  return out;
}

/** The modules by their path below the package ("core/rfb.js", "vendor/pako/lib/zlib/inflate.js"). */
export function loadNovncAssets(root = novncRoot()): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const top of ["core", "vendor"]) {
    for (const file of walk(join(root, top))) {
      const body = readFileSync(file);
      const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
      assets.set(relative(root, file).split(sep).join("/"), {
        body,
        type: "text/javascript; charset=utf-8",
        etag,
      });
    }
  }
  return assets;
}

export function novncRoute(app: App) {
  const assets = loadNovncAssets();
  if (!assets.has("core/rfb.js")) throw new Error("@novnc/novnc's core/rfb.js is missing");
  // In the portal's scope: /portal/novnc/* on the broker, /trs/novnc/* on the portal server.
  app.get<{ Params: { "*": string } }>("/novnc/*", { schema: { hide: true } }, (req, reply) => {
    const asset = assets.get(req.params["*"]);
    if (!asset) return reply.callNotFound();
    return sendAsset(req, reply, asset);
  });
}
