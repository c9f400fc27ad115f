// A token that is no Keystone token (characters a header cannot carry, or outside visible ASCII)
// is refused like any invalid token — broker code 24, admin 401 with its envelope — without
// asking Keystone, and the raw token never reaches the log (issue 12.7: it was code 21,
// "Keystone unavailable", with fetch's complaint about it logged).
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import pino from "pino";
import { broker, call } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("tokens with characters no header carries", () => {
  let s: Stack;
  let log = "";
  before(async () => {
    const sink = new PassThrough();
    sink.on("data", (c: Buffer) => {
      log += String(c);
    });
    s = await startStack({}, { logger: pino({ level: "debug" }, sink) });
  });
  after(async () => {
    await s?.stop();
  });

  const validations = async () =>
    (
      (await (
        await fetch(`${s.sim.url}/sim/stats`, { headers: { "X-Auth-Token": s.adminToken } })
      ).json()) as { routes: Record<string, number> }
    ).routes["GET /identity/v3/auth/tokens"] ?? 0;

  const hostile = ["gAAAA-secret-tok€n", "gAAAA-secret-tok\u{1F600}", "gAAAA-secret-tokén", "gAAAA secret"];

  it("request-vm with such a token: 24, not 21, and Keystone is not asked", async () => {
    const before = await validations();
    for (const token of hostile) {
      const res = await broker(s, "/v1/request-vm/", { token });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 24, `${token}: ${JSON.stringify(res.body)}`);
    }
    assert.equal(await validations(), before);
  });

  it("get-vm and the admin API with such a header: 24 and 401 with their envelopes", async () => {
    const latin1 = "gAAAA-secret-tok\u00e9n";
    const vm = await broker(
      s,
      "/v1/get-vm/",
      { request: "req-00000000-0000-0000-0000-000000000000" },
      { "X-Auth-Token": latin1 },
    );
    assert.equal(vm.body.error.code, 24, JSON.stringify(vm.body));
    const admin = await call(s.adminUrl, "GET", "/v1/projects/", { headers: { "X-Auth-Token": latin1 } });
    assert.equal(admin.status, 401, JSON.stringify(admin.body));
    assert.equal(admin.body.error.code, 401);
  });

  it("the log never holds the raw token", async () => {
    await new Promise((r) => setTimeout(r, 100));
    assert.doesNotMatch(log, /secret/);
    assert.doesNotMatch(log, /ByteString/);
  });
});
