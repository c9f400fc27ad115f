// The portal's files as the broker serves them: types, caching, security headers, the
// redirect to the slash form, nothing outside the portal's own files (traversal attempts
// answer 404 or 400), hidden from the OpenAPI document, and the API beside it unchanged.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { broker, call } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

/** A GET with the path sent byte for byte (fetch would normalise the dot segments away). */
function rawGet(base: string, path: string): Promise<{ status: number; body: string }> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: "GET" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk) => {
        body += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("portal assets", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ admin: { enabled: false } });
  });
  after(async () => {
    await s?.stop();
  });

  it("redirects /portal to /portal/ and serves the page there", async () => {
    const bare = await fetch(`${s.brokerUrl}/portal`, { redirect: "manual" });
    assert.equal(bare.status, 302);
    assert.equal(new URL(bare.headers.get("location")!, `${s.brokerUrl}/portal`).pathname, "/portal/");
    const page = await fetch(`${s.brokerUrl}/portal/`);
    assert.equal(page.status, 200);
    assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
    const html = await page.text();
    assert.match(html, /<form id="signin">/);
    assert.match(html, /<script type="module" src="app.js">/);
    assert.doesNotMatch(html, /https?:\/\//, "the page loads nothing from another origin");
    assert.match(page.headers.get("content-security-policy")!, /default-src 'none'; script-src 'self'/);
    assert.equal(page.headers.get("x-content-type-options"), "nosniff");
    const followed = await fetch(`${s.brokerUrl}/portal`);
    assert.equal(followed.url, `${s.brokerUrl}/portal/`);
    assert.equal(await followed.text(), html);
  });

  it("serves each file with its type, an ETag and no-cache, and answers 304 to a matching ETag", async () => {
    const types: Record<string, string> = {
      "index.html": "text/html; charset=utf-8",
      "portal.css": "text/css; charset=utf-8",
      "app.js": "text/javascript; charset=utf-8",
      "broker-client.js": "text/javascript; charset=utf-8",
      "progress-view.js": "text/javascript; charset=utf-8",
      "strings.js": "text/javascript; charset=utf-8",
    };
    for (const [file, type] of Object.entries(types)) {
      const res = await fetch(`${s.brokerUrl}/portal/${file}`);
      assert.equal(res.status, 200, file);
      assert.equal(res.headers.get("content-type"), type, file);
      assert.equal(res.headers.get("cache-control"), "no-cache", file);
      const etag = res.headers.get("etag");
      assert.match(etag ?? "", /^"[\w-]{22}"$/, file);
      assert.ok((await res.arrayBuffer()).byteLength > 0, file);
      const again = await fetch(`${s.brokerUrl}/portal/${file}`, { headers: { "If-None-Match": etag! } });
      assert.equal(again.status, 304, file);
      assert.equal((await again.arrayBuffer()).byteLength, 0, file);
    }
  });

  it("answers the broker's connection types in config.json, never cached", async () => {
    const res = await fetch(`${s.brokerUrl}/portal/config.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type")!, /^application\/json/);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const body = await res.json();
    assert.deepEqual(body.connTypes, s.config.connTypes);
  });

  it("answers nothing outside the portal's files: traversal is 404 or 400", async () => {
    const attempts = [
      "/portal/../package.json",
      "/portal/..%2fpackage.json",
      "/portal/..%2F..%2Fpackage.json",
      "/portal/%2e%2e/%2e%2e/package.json",
      "/portal/%2e%2e%2f%2e%2e%2fpackage.json",
      "/portal/..\\..\\package.json",
      "/portal/....//package.json",
      "/portal//etc/passwd",
      "/portal/%2fetc%2fpasswd",
      "/portal/app.js%00.html",
      "/portal/%zz",
      "/portal/broker-client.d.ts",
      "/portal/missing.js",
      "/portal/./app.js/../../src/main.ts",
      "/portal/app.js/x",
    ];
    for (const path of attempts) {
      const res = await rawGet(s.brokerUrl, path);
      assert.ok([400, 404].includes(res.status), `${path}: ${res.status}`);
      assert.doesNotMatch(res.body, /"name": "rs-server"|import |root:/, path);
    }
  });

  it("stays out of the OpenAPI document", async () => {
    const doc = await call(s.brokerUrl, "GET", "/docs/json");
    assert.equal(doc.status, 200);
    const paths = Object.keys(doc.body.paths);
    assert.ok(paths.some((p) => p.startsWith("/v1/request-vm")));
    assert.deepEqual(
      paths.filter((p) => p.includes("portal")),
      [],
    );
  });

  it("leaves the API as it was: /v1 routes, the broker's 404 and health", async () => {
    const bad = await broker(s, "/v1/request-vm/", {});
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 9);
    const unknown = await call(s.brokerUrl, "GET", "/v1/portal/");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 1);
    const health = await call(s.brokerUrl, "GET", "/health");
    assert.ok([200, 503].includes(health.status));
    assert.ok(health.body.checks);
  });
});

describe("portal switched off", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ admin: { enabled: false }, broker: { portal: false } });
  });
  after(async () => {
    await s?.stop();
  });

  it("broker.portal false: no portal, the API as before", async () => {
    assert.equal((await fetch(`${s.brokerUrl}/portal/`)).status, 404);
    assert.equal((await fetch(`${s.brokerUrl}/portal/app.js`)).status, 404);
    const res = await broker(s, "/v1/get-vm/", { request: "x" });
    assert.equal(res.status, 400);
  });
});
