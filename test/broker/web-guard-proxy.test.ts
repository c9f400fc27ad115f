// Behind a reverse proxy the operator lists (broker.trustedProxies), Web Guard's networks see the
// client address the proxy forwards; a request straight from elsewhere is judged by its peer.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { broker, login, makeInstances, makePool, makeUser, type TestUser } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("Web Guard behind a trusted proxy", () => {
  let s: Stack;
  let alice: TestUser;
  before(async () => {
    s = await startStack({
      admin: { enabled: false },
      broker: { trustedProxies: ["127.0.0.1"] },
      webGuard: { enabled: true, rules: [{ allowedNetworks: ["10.0.0.0/8"] }] },
    });
    const pool = await makePool(s);
    await makeInstances(s, pool.id, 1);
    alice = await makeUser(s, [pool.id]);
  });
  after(async () => {
    await s?.stop();
  });

  it("the forwarded client address decides, from the listed proxy", async () => {
    const inside = await broker(s, "/v1/request-vm/", login(alice), { "X-Forwarded-For": "10.20.30.40" });
    assert.equal(inside.status, 200, JSON.stringify(inside.body));
    assert.ok(inside.body.request_id);
    const outside = await broker(s, "/v1/request-vm/", login(alice), { "X-Forwarded-For": "192.168.7.7" });
    assert.equal(outside.status, 400);
    assert.equal(outside.body.error.code, 26);
  });

  it("without a forwarded address the proxy itself is the client (loopback: refused)", async () => {
    const res = await broker(s, "/v1/request-vm/", login(alice, { ip_address: "10.1.1.1" }));
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 26);
  });
});
