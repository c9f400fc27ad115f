// Brute force and floods: failed broker authentications are counted per client address and per
// user name in PostgreSQL, so two broker processes count together; over a limit the caller gets
// HTTP 429, code 28, Retry-After, and Keystone is not asked. Invalid admin tokens likewise per
// address. Unknown users and domains answer 6 like a wrong password unless the operator asks
// for the reference's 16 and 15.
import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { after, before, describe, it } from "node:test";
import {
  broker,
  call,
  login,
  makePool,
  makeUser,
  type Reply,
  startBrokerProcess,
  stopBrokerProcess,
  type TestUser,
  uniq,
} from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

const LIMITS = {
  enabled: true,
  windowSeconds: 600,
  loginFailuresPerAddress: 6,
  loginFailuresPerUser: 3,
  invalidTokensPerAddress: 4,
};
// Both processes believe the test's X-Forwarded-For, so each test plays its own client address.
const PROXIED = { port: 0, trustedProxies: ["127.0.0.1"] };

function assertThrottled(res: Reply) {
  assert.equal(res.status, 429, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 28, JSON.stringify(res.body));
  const wait = Number(res.headers.get("retry-after"));
  assert.ok(wait > 0 && wait <= LIMITS.windowSeconds, `Retry-After ${wait}`);
  assert.equal(res.body.error.data.retry_after, wait);
  assert.match(res.body.error.message, /Try again in \d+ seconds/);
}

describe("rate limits on authentication, shared by two processes", () => {
  let s: Stack;
  let other: { child: ChildProcess; url: string } | undefined;
  let pool: { id: string; name: string };
  let alice: TestUser;
  const from = (address: string) => ({ "X-Forwarded-For": address });
  // Alternates between this process and the other one.
  let turn = 0;
  const anyBroker = (path: string, body: unknown, headers: Record<string, string>) =>
    call(turn++ % 2 === 0 ? s.brokerUrl : other!.url, "POST", path, { body, headers });

  before(async () => {
    s = await startStack({ admin: PROXIED, broker: PROXIED, rateLimit: LIMITS });
    other = await startBrokerProcess(s, { broker: PROXIED, rateLimit: LIMITS });
    pool = await makePool(s);
    alice = await makeUser(s, [pool.id]);
  });
  after(async () => {
    await stopBrokerProcess(other);
    await s?.stop();
  });

  it("a user name with too many failures is refused, even with the right password, before Keystone is asked", async () => {
    for (let i = 0; i < LIMITS.loginFailuresPerUser; i++) {
      const res = await anyBroker(
        "/v1/request-vm/",
        { ...login(alice), password: "wrong" },
        from(`192.0.2.${i + 1}`),
      );
      assert.equal(res.body.error.code, 6, JSON.stringify(res.body));
    }
    const authentications = async () =>
      (
        (await (
          await fetch(`${s.sim.url}/sim/stats`, { headers: { "X-Auth-Token": s.adminToken } })
        ).json()) as { routes: Record<string, number> }
      ).routes["POST /identity/v3/auth/tokens"];
    const before = await authentications();
    assertThrottled(await anyBroker("/v1/request-vm/", login(alice), from("192.0.2.50")));
    assertThrottled(await anyBroker("/v1/get-projects/", login(alice), from("192.0.2.51")));
    assertThrottled(
      await anyBroker(
        "/v1/change-password/",
        { ...login(alice), new_password: "Another-1" },
        from("192.0.2.52"),
      ),
    );
    assert.equal(await authentications(), before, "Keystone was not asked");
    // The name is matched without case, in its domain.
    assertThrottled(
      await anyBroker(
        "/v1/request-vm/",
        { ...login(alice), user: alice.name.toUpperCase() },
        from("192.0.2.53"),
      ),
    );
  });

  it("an address with too many failures is refused whatever name it tries next", async () => {
    const address = from("198.51.100.7");
    for (let i = 0; i < LIMITS.loginFailuresPerAddress; i++) {
      const res = await anyBroker("/v1/request-vm/", { user: uniq("nobody"), password: "x" }, address);
      assert.equal(res.body.error.code, 6, JSON.stringify(res.body));
    }
    const bob = await makeUser(s, [pool.id]);
    assertThrottled(await anyBroker("/v1/request-vm/", login(bob), address));
    assertThrottled(await anyBroker("/v1/get-projects/", login(bob), address));
    // Another address is not affected, and a right password is never counted.
    for (let i = 0; i < LIMITS.loginFailuresPerAddress + 1; i++) {
      const res = await anyBroker("/v1/get-projects/", login(bob), from("198.51.100.8"));
      assert.equal(res.status, 200, JSON.stringify(res.body));
    }
  });

  it("invalid admin tokens from one address are refused with 429 before validation", async () => {
    const admin = (token: string, address: string) =>
      call(s.runtime.adminUrl!, "GET", "/v1/projects/", {
        headers: { "X-Auth-Token": token, ...from(address) },
      });
    for (let i = 0; i < LIMITS.invalidTokensPerAddress; i++)
      assert.equal((await admin(`garbage-${i}`, "203.0.113.9")).status, 401);
    const refused = await admin(s.adminToken, "203.0.113.9");
    assert.equal(refused.status, 429, JSON.stringify(refused.body));
    assert.deepEqual(Object.keys(refused.body.error).sort(), ["code", "message", "title"]);
    assert.equal(refused.body.error.code, 429);
    assert.ok(Number(refused.headers.get("retry-after")) > 0);
    assert.equal((await admin(s.adminToken, "203.0.113.10")).status, 200);
  });

  it("a flood of invalid-token writes fills the audit trail only up to the limit, not one row per 429", async () => {
    const address = "203.0.113.77";
    const write = () =>
      call(s.runtime.adminUrl!, "POST", "/v1/projects/", {
        body: { project: { name: "flood" } },
        headers: { "X-Auth-Token": "garbage-flood", ...from(address) },
      });
    const statuses: number[] = [];
    for (let i = 0; i < LIMITS.invalidTokensPerAddress + 6; i++) statuses.push((await write()).status);
    assert.ok(statuses.includes(429), `statuses ${statuses}`);
    const res = await call(s.runtime.adminUrl!, "GET", `/v1/audit?client_ip=${address}&limit=100`, {
      headers: { "X-Auth-Token": s.adminToken },
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const recorded = res.body.events.map((e: { status: number }) => e.status);
    assert.deepEqual(
      recorded,
      statuses.filter((st) => st !== 429),
    );
  });

  it("unknown users and domains answer 6 like a wrong password, unless the reference's codes are switched on", async () => {
    const address = from("192.0.2.200");
    const unknownUser = await broker(
      s,
      "/v1/request-vm/",
      { ...login(alice), user: uniq("nobody") },
      address,
    );
    const unknownDomain = await broker(
      s,
      "/v1/request-vm/",
      { ...login(alice), user_domain_name: "nowhere" },
      address,
    );
    const wrong = await broker(
      s,
      "/v1/get-projects/",
      { ...login(alice), password: "wrong", user: uniq("x") },
      address,
    );
    for (const res of [unknownUser, unknownDomain, wrong]) {
      assert.equal(res.status, 400);
      assert.deepEqual(res.body.error, wrong.body.error);
      assert.equal(res.body.error.code, 6);
    }
    s.config.broker.revealUnknownAccounts = true;
    try {
      const revealed = await broker(
        s,
        "/v1/request-vm/",
        { ...login(alice), user: "nobody" },
        from("192.0.2.201"),
      );
      assert.equal(revealed.body.error.code, 16);
    } finally {
      s.config.broker.revealUnknownAccounts = false;
    }
  });
});
