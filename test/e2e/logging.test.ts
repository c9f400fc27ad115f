// What the logs say: readable lines on a terminal and JSON otherwise (switchable), health checks
// and metrics scrapes below info, each broker error once with user, domain, client address and
// code, each completed allocation and each admin change once with who did it.
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { loadConfig } from "../../src/config/load.ts";
import { createLogger, logFormat, prettyLine } from "../../src/logging.ts";
import { broker, call, finished, makePool, makeUser, requestVm } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("log format", () => {
  it("auto is pretty on a terminal and JSON otherwise; log.format and RS_SERVER_LOG_FORMAT override it", () => {
    const auto = loadConfig({ env: {} });
    assert.equal(logFormat(auto, { isTTY: true }), "pretty");
    assert.equal(logFormat(auto, { isTTY: false }), "json");
    assert.equal(logFormat(loadConfig({ env: { RS_SERVER_LOG_FORMAT: "json" } }), { isTTY: true }), "json");
    assert.equal(logFormat(loadConfig({ env: {}, overrides: { log: { format: "pretty" } } }), {}), "pretty");
    assert.throws(() => loadConfig({ env: { RS_SERVER_LOG_FORMAT: "xml" } }));
  });

  it("a pretty line has the time, the level, the message and the fields; JSON stays JSON", () => {
    const line = prettyLine(
      JSON.stringify({
        level: 40,
        time: Date.UTC(2026, 0, 2, 3, 4, 5, 6),
        pid: 1,
        hostname: "h",
        msg: "broker error",
        code: 6,
        user: "a b",
      }),
    );
    assert.equal(line, '03:04:05.006 WARN  broker error  code=6 user="a b"\n');
    const pretty = new PassThrough();
    let text = "";
    pretty.on("data", (c) => {
      text += c;
    });
    createLogger({ log: { level: "info", format: "pretty" } }, pretty).info({ x: 1 }, "hello");
    assert.match(text, /^\d\d:\d\d:\d\d\.\d{3} INFO {2}hello {2}x=1\n$/);
    const json = new PassThrough();
    let raw = "";
    json.on("data", (c) => {
      raw += c;
    });
    createLogger({ log: { level: "info", format: "json" } }, json).info({ x: 1 }, "hello");
    assert.equal(JSON.parse(raw).msg, "hello");
  });
});

describe("what the APIs log", () => {
  let s: Stack;
  const lines: Record<string, any>[] = [];
  before(async () => {
    const sink = new PassThrough();
    sink.on("data", (chunk: Buffer) => {
      for (const l of String(chunk).split("\n")) if (l) lines.push(JSON.parse(l));
    });
    s = await startStack({}, { logger: pino({ level: "info" }, sink) });
  });
  after(async () => {
    await s?.stop();
  });
  const logged = (msg: string) => lines.filter((l) => l.msg === msg);

  it("health checks and metrics scrapes are not logged at info, other requests are", async () => {
    const before = lines.length;
    for (const path of ["/health", "/metrics"]) {
      const res = await fetch(`${s.adminUrl}${path}`);
      await res.arrayBuffer();
    }
    await (await fetch(`${s.brokerUrl}/health`)).arrayBuffer();
    await (await fetch(`${s.adminUrl}/v1/info`)).arrayBuffer();
    await new Promise((r) => setTimeout(r, 100));
    const urls = lines.slice(before).flatMap((l) => (l.req?.url ? [l.req.url] : []));
    assert.deepEqual(urls, ["/v1/info"]);
  });

  it("a broker error is logged once with user, domain, client address and code", async () => {
    const res = await broker(s, "/v1/request-vm/", {
      user: "nobody-here",
      password: "x",
      user_domain_name: "Default",
    });
    assert.equal(res.status, 400);
    const entries = logged("broker error").filter((l) => l.user === "nobody-here");
    assert.equal(entries.length, 1, JSON.stringify(entries));
    assert.deepEqual(
      { user: entries[0].user, domain: entries[0].domain, client: entries[0].client, code: entries[0].code },
      { user: "nobody-here", domain: "Default", client: "127.0.0.1", code: res.body.error.code },
    );
    // get-vm names no user in its body: the token's user is logged.
    const bad = await broker(
      s,
      "/v1/get-vm/",
      { request: "req-00000000-0000-0000-0000-000000000000" },
      { "X-Auth-Token": s.memberToken },
    );
    assert.equal(bad.status, 400);
    const byToken = logged("broker error").filter(
      (l) => l.code === bad.body.error.code && l.route === "/v1/get-vm",
    );
    assert.equal(byToken.length, 1, JSON.stringify(byToken));
    assert.equal(byToken[0].user, "demo");
  });

  it("a completed allocation is logged once, and an admin change once with who made it", async () => {
    const pool = await makePool(s);
    const u = await makeUser(s, [pool.id]);
    const { requestId, token } = await requestVm(s, u);
    const res = await finished(s, token, requestId);
    assert.equal(res.body.status, "completed", JSON.stringify(res.body));
    const done = logged("allocation completed").filter((l) => l.request_id === requestId);
    assert.equal(done.length, 1);
    assert.equal(done[0].user_name, u.name);
    assert.equal(done[0].instance_id, res.body.server.id);

    const change = await call(s.adminUrl, "DELETE", `/v1/servers/${res.body.server.id}/users/${u.id}`, {
      headers: { "X-Auth-Token": s.adminToken },
    });
    assert.ok(change.status < 300, JSON.stringify(change.body));
    const changes = logged("admin change").filter(
      (l) => l.url === `/v1/servers/${res.body.server.id}/users/${u.id}`,
    );
    assert.equal(changes.length, 1);
    assert.equal(changes[0].method, "DELETE");
    assert.equal(changes[0].user_name, "admin");
    assert.equal(changes[0].user_id, s.sim.admin.userId);
    // A read is not a change.
    await call(s.adminUrl, "GET", "/v1/projects", { headers: { "X-Auth-Token": s.adminToken } });
    assert.equal(logged("admin change").filter((l) => l.method === "GET").length, 0);
  });
});
