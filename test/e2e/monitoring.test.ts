// What an unauthenticated caller learns from the monitoring endpoints: /health's status for
// anyone (load balancers), its details and /metrics only for monitoring.allowedFrom (loopback by
// default); and every API answer says no-store and nosniff.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { addressMatcher } from "../../src/http/addresses.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("addressMatcher", () => {
  test("CIDRs and single addresses of both families; IPv4-mapped IPv6 is its IPv4 address", () => {
    const allowed = addressMatcher(["127.0.0.0/8", "::1/128", "10.1.2.3", "2001:db8::/32"]);
    for (const a of ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "10.1.2.3", "2001:db8::42"])
      assert.ok(allowed(a), a);
    for (const a of ["10.1.2.4", "192.0.2.1", "::2", "::ffff:192.0.2.1", "2001:db9::1", "", "not-an-ip"])
      assert.ok(!allowed(a), a);
    assert.throws(() => addressMatcher(["10.0.0.0/8", "nonsense"]), /not an address or CIDR: nonsense/);
  });
});

describe("monitoring endpoints and API headers", () => {
  let s: Stack;
  const PROXIED = { port: 0, trustedProxies: ["127.0.0.1"] };
  const outside = { "X-Forwarded-For": "203.0.113.5" };
  before(async () => {
    s = await startStack({ admin: PROXIED, broker: PROXIED });
  });
  after(() => s?.stop());

  test("/health: status for anyone, details only for the allowed addresses", async () => {
    for (const base of [s.adminUrl, s.brokerUrl]) {
      const inside = await fetch(`${base}/health`);
      const detail = (await inside.json()) as Record<string, unknown>;
      assert.equal(inside.status, 200);
      assert.deepEqual(Object.keys(detail).sort(), ["checks", "status", "version"]);
      const far = await fetch(`${base}/health`, { headers: outside });
      assert.equal(far.status, 200);
      assert.deepEqual(await far.json(), { status: "ok" });
    }
  });

  test("/metrics only for the allowed addresses, a 403 envelope otherwise", async () => {
    const inside = await fetch(`${s.adminUrl}/metrics`);
    assert.equal(inside.status, 200);
    assert.match(await inside.text(), /^# HELP /m);
    const far = await fetch(`${s.adminUrl}/metrics`, { headers: outside });
    assert.equal(far.status, 403);
    const body = (await far.json()) as { error: { code: number; message: string } };
    assert.equal(body.error.code, 403);
    assert.match(body.error.message, /monitoring\.allowedFrom/);
  });

  test("API answers, errors included, are no-store and nosniff", async () => {
    const answers = [
      await fetch(`${s.adminUrl}/v1/projects/`, { headers: { "X-Auth-Token": s.adminToken } }),
      await fetch(`${s.adminUrl}/v1/projects/`),
      await fetch(`${s.brokerUrl}/v1/request-vm/`, {
        method: "POST",
        body: "{",
        headers: { "Content-Type": "application/json" },
      }),
      await fetch(`${s.brokerUrl}/nowhere`),
      await fetch(`${s.adminUrl}/health`),
    ];
    for (const res of answers) {
      await res.arrayBuffer();
      assert.equal(res.headers.get("cache-control"), "no-store", res.url);
      assert.equal(res.headers.get("x-content-type-options"), "nosniff", res.url);
    }
    // A file that may be revalidated says so itself.
    const asset = await fetch(`${s.brokerUrl}/portal/app.js`);
    await asset.arrayBuffer();
    assert.equal(asset.headers.get("cache-control"), "no-cache");
  });
});
