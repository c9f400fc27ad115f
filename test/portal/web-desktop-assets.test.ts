// What the portal's web desktop needs from the broker: noVNC's modules served by the broker
// itself under the portal's headers (only the package's own files, no path reaching the file
// system), the console-ticket route documented in the OpenAPI document, and the files a
// desktop client opens directly for the other connection types.
import assert from "node:assert/strict";
import { request } from "node:http";
import { after, before, describe, it } from "node:test";
import { connectionFiles } from "../../src/broker/portal/broker-client.js";
import { type Stack, startStack } from "../helpers/stack.ts";

function rawGet(base: string, path: string): Promise<number> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request({ host: url.hostname, port: url.port, path, method: "GET" }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("web desktop assets", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ admin: { enabled: false } });
  });
  after(async () => {
    await s?.stop();
  });

  it("serves noVNC's modules and its vendored pako from the broker, with the portal's headers", async () => {
    for (const path of ["core/rfb.js", "core/input/keyboard.js", "vendor/pako/lib/zlib/inflate.js"]) {
      const res = await fetch(`${s.brokerUrl}/portal/novnc/${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(res.headers.get("content-type"), "text/javascript; charset=utf-8");
      assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self'/);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff");
      const etag = res.headers.get("etag")!;
      assert.ok(etag);
      await res.arrayBuffer();
      const again = await fetch(`${s.brokerUrl}/portal/novnc/${path}`, {
        headers: { "If-None-Match": etag },
      });
      assert.equal(again.status, 304);
    }
    const rfb = await (await fetch(`${s.brokerUrl}/portal/novnc/core/rfb.js`)).text();
    assert.match(rfb, /export default class RFB/);
    const desktop = await fetch(`${s.brokerUrl}/portal/desktop.js`);
    assert.match(await desktop.text(), /from "\.\/novnc\/core\/rfb\.js"/);
  });

  it("answers nothing outside the package's modules", async () => {
    for (const path of [
      "/portal/novnc/package.json",
      "/portal/novnc/README.md",
      "/portal/novnc/vendor/pako/README.md",
      "/portal/novnc/core/../package.json",
      "/portal/novnc/core/%2e%2e/%2e%2e/%2e%2e/package.json",
      "/portal/novnc/../../package.json",
      "/portal/novnc/",
    ]) {
      const status = await rawGet(s.brokerUrl, path);
      assert.ok(status === 404 || status === 400, `${path}: ${status}`);
    }
  });

  it("documents the console-ticket route in the OpenAPI document, not the gateway's files", async () => {
    const doc = await (await fetch(`${s.brokerUrl}/docs/json`)).json();
    const paths = Object.keys(doc.paths);
    assert.ok(
      paths.some((p) => p.startsWith("/v1/console-ticket")),
      paths.join(", "),
    );
    assert.ok(!paths.some((p) => p.includes("novnc")));
  });
});

describe("connection files", () => {
  it("rdp: an .rdp file with the address, the port when not 3389, and the user", () => {
    const [file] = connectionFiles("rdp", "10.0.0.5", { user: "alice", name: "srv-1" });
    assert.equal(file.name, "srv-1.rdp");
    assert.equal(file.type, "application/x-rdp");
    const lines = file.content.split("\r\n");
    assert.ok(lines.includes("full address:s:10.0.0.5"));
    assert.ok(lines.includes("username:s:alice"));
    const [other] = connectionFiles("rdp", "10.0.0.5", { ports: { rdp: ["3390"] } });
    assert.ok(other.content.includes("full address:s:10.0.0.5:3390\r\n"));
    assert.equal(connectionFiles(undefined, "10.0.0.5").length, 1, "no type: rdp, as the hints");
  });

  it("spice: a virt-viewer .vv file with host and port", () => {
    const [file] = connectionFiles("spice", "10.0.0.5", { ports: { spice: ["5901-5999"] }, name: "a/b" });
    assert.equal(file.name, "a-b.vv");
    const lines = file.content.trim().split("\n");
    assert.equal(lines[0], "[virt-viewer]");
    assert.ok(lines.includes("type=spice"));
    assert.ok(lines.includes("host=10.0.0.5"));
    assert.ok(lines.includes("port=5901"));
  });

  it("vnc, ssh and web have links or commands instead, and no address gives nothing", () => {
    for (const type of ["vnc", "ssh", "web", "rsclient"])
      assert.deepEqual(connectionFiles(type, "10.0.0.5"), []);
    assert.deepEqual(connectionFiles("rdp", ""), []);
  });
});
