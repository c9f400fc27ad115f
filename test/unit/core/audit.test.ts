// What the audit trail keeps of a request body (core/audit.ts): every key's name as a dotted
// path, values only of plain keys, never of anything named like a secret or a script, however
// deep; strings cut, NUL replaced (PostgreSQL cannot hold it), lists of plain values kept.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { changedKeys, isSecretKey } from "../../../src/core/audit.ts";

describe("audit: changed keys and safe values", () => {
  it("names every key and keeps plain values", () => {
    const { keys, values } = changedKeys({
      project: { name: "lab", min_reserve_vm: 3, user_volume_enabled: true, network_id: null },
      users: ["u1", "u2"],
    });
    assert.deepEqual(keys, [
      "project.name",
      "project.min_reserve_vm",
      "project.user_volume_enabled",
      "project.network_id",
      "users",
    ]);
    assert.deepEqual(values, {
      "project.name": "lab",
      "project.min_reserve_vm": 3,
      "project.user_volume_enabled": true,
      "project.network_id": null,
      users: ["u1", "u2"],
    });
  });

  it("never keeps a secret's value, at any depth, under any spelling", () => {
    const body = {
      password: "p1",
      user: { Password: "p2", otp: "123456", name: "bob" },
      token: "t",
      auth: { identity: { methods: ["password"], password: { user: { password: "p3" } } } },
      project: { instance_init_script: "c2VjcmV0", api_key: "k", client_secret: "s" },
    };
    const { keys, values } = changedKeys(body);
    for (const k of ["password", "user.Password", "user.otp", "token", "project.instance_init_script"])
      assert.ok(keys.includes(k), k);
    assert.deepEqual(values, { "user.name": "bob" });
    for (const secret of ["p1", "p2", "p3", "123456", "c2VjcmV0", '"k"', '"s"'])
      assert.ok(!JSON.stringify(values).includes(secret), secret);
  });

  it("cuts long strings, replaces NUL, keeps objects in lists by name only, and an empty object as a key", () => {
    const { keys, values } = changedKeys({
      description: "x".repeat(1000),
      bad: "a\u0000b",
      servers: [{ id: "1" }],
      session: {},
    });
    assert.equal((values.description as string).length, 257);
    assert.equal(values.bad, "a\uFFFDb");
    assert.ok(keys.includes("servers") && !("servers" in values));
    assert.ok(keys.includes("session"));
  });

  it("tells secret keys by their words, not by substrings", () => {
    for (const k of [
      "password",
      "adminPass",
      "api_key",
      "instance_init_script",
      "X-Auth-Token",
      "otp",
      "keys",
    ])
      assert.equal(isSecretKey(k), true, k);
    for (const k of [
      "description",
      "keystone_domain",
      "passenger",
      "user_name",
      "min_reserve_vm",
      "scripted_at",
    ])
      assert.equal(isSecretKey(k), false, k);
  });

  it("a body that is not an object has no keys", () => {
    assert.deepEqual(changedKeys(undefined), { keys: [], values: {} });
    assert.deepEqual(changedKeys("text"), { keys: [], values: {} });
  });
});
