// The dashboard's files as the admin API's server serves them: the redirects, types, ETags,
// security headers, the vendor modules with their bare imports resolved (a browser cannot
// load a bare specifier), nothing outside the known files, and both language catalogues
// complete for every key the sources use.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { en } from "../../src/admin/dashboard/strings-en.js";
import { ru } from "../../src/admin/dashboard/strings-ru.js";
import { resolveImports } from "../../src/admin/dashboard.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const DIR = new URL("../../src/admin/dashboard/", import.meta.url);
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

describe("dashboard assets", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ broker: { enabled: false } });
  });
  after(async () => {
    await s?.stop();
  });

  it("redirects / and /dashboard to /dashboard/, which serves the page with the strict CSP", async () => {
    for (const path of ["/", "/dashboard"]) {
      const res = await fetch(`${s.adminUrl}${path}`, { redirect: "manual" });
      assert.equal(res.status, 302, path);
      assert.equal(new URL(res.headers.get("location")!, `${s.adminUrl}${path}`).pathname, "/dashboard/");
    }
    const page = await fetch(`${s.adminUrl}/dashboard/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    assert.equal(page.headers.get("content-security-policy"), CSP);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    assert.equal(page.headers.get("x-frame-options"), "DENY");
    assert.equal(page.headers.get("referrer-policy"), "no-referrer");
    const html = await page.text();
    assert.match(html, /<script type="module" src="main.js"><\/script>/);
    assert.doesNotMatch(
      html,
      /<script>|<script type="importmap"|\sstyle=|\son[a-z]+=/i,
      "no inline script or style",
    );
    assert.doesNotMatch(html, /https?:\/\//, "nothing from another origin");
  });

  it("serves every own file and vendor module with its type, ETag and no-cache; 304 on a match", async () => {
    const own = readdirSync(DIR).filter((f) => /\.(js|css|html)$/.test(f));
    const vendor = ["preact.js", "preact-hooks.js", "htm.js", "uplot.js", "uplot.css"].map(
      (f) => `vendor/${f}`,
    );
    for (const file of [...own, ...vendor]) {
      const res = await fetch(`${s.adminUrl}/dashboard/${file}`);
      assert.equal(res.status, 200, file);
      const type = file.endsWith(".js")
        ? "text/javascript"
        : file.endsWith(".css")
          ? "text/css"
          : "text/html";
      assert.equal(res.headers.get("content-type"), `${type}; charset=utf-8`, file);
      assert.equal(res.headers.get("cache-control"), "no-cache");
      assert.equal(res.headers.get("content-security-policy"), CSP);
      const body = await res.text();
      if (file.endsWith(".js")) {
        // Every import names a relative URL the browser can load.
        for (const m of body.matchAll(/(?:^|[;\s}])(?:import|export)\b[^'"\n]*?\bfrom\s*(["'])([^"']+)\1/gm))
          assert.match(m[2], /^\.\.?\//, `${file} imports ${m[2]}`);
        assert.doesNotMatch(body, /from\s*["'](preact|htm|uplot)/, file);
      }
      const etag = res.headers.get("etag")!;
      const again = await fetch(`${s.adminUrl}/dashboard/${file}`, { headers: { "If-None-Match": etag } });
      assert.equal(again.status, 304, file);
    }
    const hooks = await (await fetch(`${s.adminUrl}/dashboard/vendor/preact-hooks.js`)).text();
    assert.match(hooks, /from"\.\/preact\.js"/);
    const main = await (await fetch(`${s.adminUrl}/dashboard/main.js`)).text();
    assert.match(main, /from "\.\/vendor\/preact\.js"/);
  });

  it("answers 404 for anything else: other extensions, other folders, traversal", async () => {
    for (const path of [
      "/dashboard/tsconfig.json",
      "/dashboard/nope.js",
      "/dashboard/vendor/preact.mjs",
      "/dashboard/vendor/..%2F..%2Fpackage.json",
      "/dashboard/..%2Fdashboard.ts",
      "/dashboard/node_modules/preact/package.json",
    ]) {
      const res = await fetch(`${s.adminUrl}${path}`);
      assert.equal(res.status, 404, path);
    }
  });

  it("is hidden from the OpenAPI document, where the sign-in and activity routes are listed", async () => {
    const doc = await (await fetch(`${s.adminUrl}/docs/json`)).json();
    const paths = Object.keys(doc.paths);
    assert.ok(!paths.some((p) => p.startsWith("/dashboard") || p === "/"));
    for (const p of ["/v1/auth/tokens", "/v1/activity", "/v1/activity/tasks"])
      assert.ok(paths.includes(p), p);
  });
});

describe("dashboard sources", () => {
  it("rewrites bare imports to vendor URLs and refuses one it does not know", () => {
    assert.equal(
      resolveImports('import { h } from "preact";\nimport x from "./x.js";', "./vendor/", "a.js"),
      'import { h } from "./vendor/preact.js";\nimport x from "./x.js";',
    );
    assert.equal(
      resolveImports('import {\n  a,\n} from "preact/hooks";', "./vendor/", "a.js"),
      'import {\n  a,\n} from "./vendor/preact-hooks.js";',
    );
    assert.equal(
      resolveImports('const s = html`<input id="f-from" type="x" />`;', "./", "a.js"),
      'const s = html`<input id="f-from" type="x" />`;',
    );
    assert.throws(() => resolveImports('import x from "lodash";', "./", "a.js"), /imports "lodash"/);
  });

  it("has every key the sources use in both catalogues, and the same keys in each", () => {
    assert.deepEqual(Object.keys(ru).sort(), Object.keys(en).sort());
    const used = new Set<string>();
    for (const f of readdirSync(DIR).filter((x) => x.endsWith(".js"))) {
      const src = readFileSync(new URL(f, DIR), "utf8");
      for (const m of src.matchAll(/\bt\("([a-zA-Z0-9_.]+)"/g)) used.add(m[1]);
    }
    // Keys built at run time: every value they can take.
    for (const k of ["overview", "pools", "sessions", "tasks", "users"]) used.add(`nav.${k}`);
    for (const k of ["1", "2"]) used.add(`mode.${k}`);
    for (const k of ["ok", "failed", "running", "skipped"]) used.add(`step.${k}`);
    for (const k of ["created", "active", "error"]) {
      used.add(`stats.${k}_servers`);
      used.add(`stats.${k}_trs_servers`);
    }
    for (const k of ["free", "occupied", "simultaneous"]) used.add(`stats.${k}_trs_servers`);
    const missing = [...used].filter((k) => !(k in en));
    assert.deepEqual(missing, []);
    for (const [k, v] of Object.entries(ru)) assert.ok(v.trim(), k);
  });
});
