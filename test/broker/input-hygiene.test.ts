// Control characters in any field of a broker request (a NUL, which PostgreSQL text cannot hold;
// a newline, which rewrote the Kerberos script's line-based input) and an IPv6 zone id in
// ip_address are code 9, never code 1 and never stored.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { controlCharacterAt } from "../../src/broker/input-hygiene.ts";
import {
  broker,
  login,
  makePool,
  makeUser,
  type Reply,
  requestVm,
  type TestUser,
} from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

function assertCode9(res: Reply, field: RegExp) {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.error.code, 9, JSON.stringify(res.body));
  assert.match(String(res.body.error.data.reason), field);
}

describe("control characters", () => {
  it("are found in strings and keys at any depth, with their path", () => {
    assert.equal(controlCharacterAt({ user: "a", os: "Linux" }), undefined);
    assert.equal(controlCharacterAt({ user: "a\nb" }), "user");
    assert.equal(controlCharacterAt({ x: [{ y: "\u0000" }] }), "x.0.y");
    assert.equal(controlCharacterAt({ "k\u007f": 1 }), "k\u007f");
    let deep: unknown = "\t";
    for (let i = 0; i < 50_000; i++) deep = [deep];
    assert.equal(typeof controlCharacterAt(deep), "string");
  });
});

describe("broker requests with control characters or a zone id", () => {
  let s: Stack;
  let alice: TestUser;
  before(async () => {
    s = await startStack({ admin: { enabled: false } });
    const pool = await makePool(s);
    alice = await makeUser(s, [pool.id]);
  });
  after(() => s?.stop());

  it("request-vm, get-projects, change-password: 9 for a control character in any field", async () => {
    assertCode9(await broker(s, "/v1/request-vm/", login(alice, { os: "Linux\u0000" })), /^os /);
    assertCode9(await broker(s, "/v1/request-vm/", login(alice, { client: "RS\nclient" })), /^client /);
    assertCode9(
      await broker(s, "/v1/request-vm/", { ...login(alice), user: `${alice.name}\nroot` }),
      /^user /,
    );
    assertCode9(await broker(s, "/v1/get-projects/", { ...login(alice), password: "pw\r\n" }), /^password /);
    assertCode9(
      await broker(s, "/v1/change-password/", {
        ...login(alice),
        user: `${alice.name}\nx`,
        new_password: "N3w-pass",
      }),
      /^user /,
    );
    const requests = await s.runtime.store.db.selectFrom("requests").select("id").execute();
    assert.deepEqual(requests, [], "nothing was recorded");
  });

  it("get-vm: 9 for a NUL in the request id", async () => {
    const { token } = await requestVm(s, alice);
    assertCode9(
      await broker(s, "/v1/get-vm/", { request: "req-\u0000" }, { "X-Auth-Token": token }),
      /^request /,
    );
  });

  it("request-vm: an IPv6 address with a zone id is not a client address (9)", async () => {
    const res = await broker(
      s,
      "/v1/request-vm/",
      login(alice, { ip_address: "fe80::1%eth0", conn_type: "rdp" }),
    );
    assertCode9(res, /ip_address/);
  });
});
