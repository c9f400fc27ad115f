// src/cloud/keystone.ts against the simulator where the contract suite cannot reach on an
// arbitrary cloud: expired passwords, complexity rules and an unreachable Keystone.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { KeystoneClient } from "../../src/cloud/keystone.ts";
import { CloudSession } from "../../src/cloud/session.ts";
import { type SimulatorHandle, startSimulator } from "../../src/simulator/server.ts";
import { useSimulator } from "../helpers/simulator.ts";

const sim = useSimulator({
  keystone: { passwordRegex: "^.{10,}$", passwordRegexDescription: "at least 10 characters" },
});

function client(s: SimulatorHandle) {
  return new KeystoneClient(
    new CloudSession({ ...s.admin, interface: "public", timeoutMs: 5000, retries: 0 }),
  );
}

let n = 0;
const uname = () => `cl-${Date.now()}-${n++}`;

describe("KeystoneClient outcomes", () => {
  test("an expired password is reported with the user id", async () => {
    const s = sim();
    const ks = client(s);
    s.keystoneSettings.changePasswordUponFirstUse = true;
    let userId: string;
    try {
      userId = (
        await ks.createUser({ name: uname(), domainId: s.demo.userDomainId, password: "Long-enough-1" })
      ).id;
    } finally {
      s.keystoneSettings.changePasswordUponFirstUse = false;
    }
    const res = await ks.authenticatePassword({ user: { userId }, password: "Long-enough-1" });
    assert.deepEqual(res, { kind: "password_expired", userId });
    assert.deepEqual(await ks.changePassword(userId, "Long-enough-1", "Long-enough-2"), { kind: "ok" });
    assert.equal((await ks.authenticatePassword({ user: { userId }, password: "Long-enough-2" })).kind, "ok");
  });

  test("a password that breaks the complexity rule is a policy violation with Keystone's reason", async () => {
    const s = sim();
    const ks = client(s);
    const user = await ks.createUser({
      name: uname(),
      domainId: s.demo.userDomainId,
      password: "Long-enough-1",
    });
    const res = await ks.changePassword(user.id, "Long-enough-1", "short");
    assert.equal(res.kind, "policy_violation");
    if (res.kind === "policy_violation") assert.match(res.message, /at least 10 characters/);
  });

  test("password and passcode in one call authenticate a user with MFA rules", async () => {
    const { authenticator } = await import("otplib");
    const s = sim();
    const ks = client(s);
    const user = await ks.createUser({
      name: uname(),
      domainId: s.demo.userDomainId,
      password: "Long-enough-1",
      options: { multi_factor_auth_rules: [["password", "totp"]] },
    });
    const secret = authenticator.generateSecret(20);
    await ks.createTotpCredential(user.id, secret);
    const res = await ks.authenticatePassword({
      user: { userId: user.id },
      password: "Long-enough-1",
      passcode: authenticator.generate(secret),
    });
    assert.equal(res.kind, "ok");
  });

  test("a Keystone that does not answer is 'unavailable', not a credential failure", async () => {
    const down = await startSimulator({ port: 0 });
    const ks = client(down);
    await down.stop();
    const res = await ks.authenticatePassword({
      user: { username: "demo", userDomainName: "demo" },
      password: "x",
    });
    assert.equal(res.kind, "unavailable");
    const change = await ks.changePassword(down.demo.userId, "x", "y");
    assert.equal(change.kind, "unavailable");
  });
});
