// Every error code request-vm, get-vm, get-projects and change-password can answer before
// an allocation runs, driven through the broker API against the simulator: body (9), license
// (2), Web Guard (26), Keystone (6, 7, 15, 16, 21, 24, 27 and the 19 warning), project choice
// (5, 8), request ownership (10, 11), Kerberos (22, 23), the unforeseen (1) and the Russian
// messages.
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { authenticator } from "otplib";
import {
  broker,
  finished,
  login,
  makePool,
  makeUser,
  type Reply,
  requestVm,
  type TestUser,
  uniq,
} from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

function assertCode(res: Reply, code: number, data?: Record<string, unknown>) {
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body.error.code, code, JSON.stringify(res.body));
  assert.equal(typeof res.body.error.message, "string");
  assert.ok(res.body.error.message.length > 0);
  assert.equal(typeof res.body.error.data, "object");
  if (data)
    for (const [k, v] of Object.entries(data))
      assert.equal(res.body.error.data[k], v, JSON.stringify(res.body));
}

describe("broker errors before allocation", () => {
  let s: Stack;
  let pool: { id: string; name: string };
  let alice: TestUser;
  let bob: TestUser;
  const dir = mkdtempSync(join(tmpdir(), "rs-broker-"));

  before(async () => {
    s = await startStack({ admin: { enabled: false } });
    // The reference's codes 15 and 16 are behind a switch (off by default: see rate-limit.test.ts).
    s.config.broker.revealUnknownAccounts = true;
    pool = await makePool(s);
    alice = await makeUser(s, [pool.id]);
    bob = await makeUser(s, [pool.id]);
  });
  after(async () => {
    await s?.stop().catch(() => {});
  });

  it("9: a body that is not what the reference describes", async () => {
    assertCode(await broker(s, "/v1/request-vm/", { user: alice.name }), 9);
    assertCode(await broker(s, "/v1/request-vm/", { ...login(alice), conn_type: "telnet" }), 9);
    assertCode(await broker(s, "/v1/request-vm/", { ...login(alice), ip_address: "not-an-ip" }), 9);
    assertCode(await broker(s, "/v1/request-vm/", { ...login(alice), user: 42 }), 9);
    const raw = await fetch(`${s.brokerUrl}/v1/request-vm/`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{not json",
    });
    assertCode({ status: raw.status, headers: raw.headers, body: await raw.json() }, 9);
    assertCode(await broker(s, "/v1/get-vm/", {}, { "X-Auth-Token": "x" }), 9);
    assertCode(await broker(s, "/v1/change-password/", { user: alice.name }), 9);
  });

  it("2: an invalid license refuses request-vm while enforced", async () => {
    const file = join(dir, "license.json");
    writeFileSync(file, JSON.stringify({ license: { expire_at: 1 }, signature: "forged" }));
    s.config.license.file = file;
    try {
      assertCode(await broker(s, "/v1/request-vm/", login(alice)), 2, { cloud_url: s.sim.authUrl });
    } finally {
      s.config.license.file = "";
    }
    await requestVm(s, alice);
  });

  it("26: Web Guard rules on connection type, network and client version", async () => {
    s.config.webGuard.enabled = true;
    // The test's requests come from loopback.
    s.config.webGuard.rules = [
      {
        domain: "Default",
        allowedConnTypes: ["rdp"],
        allowedNetworks: ["127.0.0.0/8"],
        minClientVersion: "2.0",
      },
    ];
    try {
      const ok = { conn_type: "rdp", ip_address: "10.1.2.3", client: "RS client 2.4.1" };
      assertCode(await broker(s, "/v1/request-vm/", login(alice, { ...ok, conn_type: "vnc" })), 26);
      assertCode(await broker(s, "/v1/request-vm/", login(alice, { ...ok, client: "RS client 1.9" })), 26);
      await requestVm(s, alice, ok);
      // The network is the connection's: naming an allowed address in ip_address (the client's
      // own word, for its firewall rules) does not let a request from elsewhere in.
      s.config.webGuard.rules[0].allowedNetworks = ["10.0.0.0/8"];
      assertCode(await broker(s, "/v1/request-vm/", login(alice, ok)), 26);
      // And an X-Forwarded-For is believed only from a configured proxy (none here).
      assertCode(await broker(s, "/v1/request-vm/", login(alice, ok), { "X-Forwarded-For": "10.1.2.3" }), 26);
    } finally {
      s.config.webGuard.enabled = false;
      s.config.webGuard.rules = [];
    }
  });

  it("6, 15, 16: wrong password, unknown domain, unknown user", async () => {
    assertCode(await broker(s, "/v1/request-vm/", { ...login(alice), password: "wrong" }), 6);
    assertCode(await broker(s, "/v1/request-vm/", { ...login(alice), user_domain_name: "nowhere" }), 15, {
      domain_name: "nowhere",
    });
    assertCode(await broker(s, "/v1/request-vm/", { ...login(alice), user: "nobody" }), 16, {
      user_name: "nobody",
      domain_name: "Default",
    });
    assertCode(await broker(s, "/v1/get-projects/", { ...login(alice), password: "wrong" }), 6);
  });

  it("7: an expired password; 19: a password about to expire warns without blocking", async () => {
    s.sim.keystoneSettings.changePasswordUponFirstUse = true;
    let expired: TestUser;
    try {
      expired = await makeUser(s, [pool.id]);
    } finally {
      s.sim.keystoneSettings.changePasswordUponFirstUse = false;
    }
    assertCode(await broker(s, "/v1/request-vm/", login(expired)), 7);

    s.sim.keystoneSettings.passwordExpiresDays = 2;
    let soon: TestUser;
    try {
      soon = await makeUser(s, [pool.id]);
    } finally {
      s.sim.keystoneSettings.passwordExpiresDays = 0;
    }
    const { body } = await requestVm(s, soon);
    assert.equal(body.warning.code, 19);
    const seconds = body.warning.data.seconds;
    assert.ok(seconds > 86400 && seconds <= 2 * 86400, String(seconds));
    assert.equal(body.warning.message, `Password expires in ${seconds} seconds and needs to be changed.`);
    const plain = await requestVm(s, alice);
    assert.equal(plain.body.warning, undefined);
  });

  it("27: OTP required by Keystone's MFA rules; the receipt is completed with a valid TOTP", async () => {
    const ks = s.runtime.deps.cloud.keystone;
    // 160 bits: Keystone refuses TOTP keys under 128 bits (otplib's default is 80).
    const secret = authenticator.generateSecret(20);
    const name = uniq("mfa");
    const password = "Mfa-pass-1";
    const user = await ks.createUser({
      name,
      domainId: "default",
      password,
      options: { multi_factor_auth_rules: [["password", "totp"]] },
    });
    await ks.createTotpCredential(user.id, secret);
    const member = await ks.findRole("member");
    await ks.grantProjectRole(pool.id, { userId: user.id }, member!.id);
    const creds = { user: name, password, user_domain_name: "Default" };
    assertCode(await broker(s, "/v1/request-vm/", creds), 27);
    assertCode(await broker(s, "/v1/request-vm/", { ...creds, otp: "000000" }), 6);
    const ok = await broker(s, "/v1/request-vm/", { ...creds, otp: authenticator.generate(secret) });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.ok(ok.headers.get("x-auth-token"));
    assertCode(await broker(s, "/v1/get-projects/", creds), 27);
  });

  it("24: request-vm and get-vm with a token Keystone does not accept", async () => {
    assertCode(await broker(s, "/v1/request-vm/", { token: "forged-token" }), 24);
    assertCode(await broker(s, "/v1/get-vm/", { request: "req-x" }, { Authorization: "Bearer forged" }), 24);
    assertCode(await broker(s, "/v1/get-vm/", { request: "req-x" }), 24);
  });

  it("request-vm by token hands the same token back", async () => {
    const { token } = await requestVm(s, alice);
    const res = await broker(s, "/v1/request-vm/", { token });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.headers.get("x-auth-token"), token);
  });

  it("8: auth_tenant names a project that is not TRS; 5: the user has no TRS project", async () => {
    assertCode(await broker(s, "/v1/request-vm/", login(alice, { auth_tenant: "admin" })), 8, {
      project_name: "admin",
    });
    assertCode(await broker(s, "/v1/request-vm/", login(alice, { auth_tenant: "no-such-project" })), 8);
    const lonely = await makeUser(s, []);
    assertCode(await broker(s, "/v1/request-vm/", login(lonely)), 5);
    assertCode(await broker(s, "/v1/request-vm/", login(lonely, { auth_tenant: pool.name })), 5);
    const named = await requestVm(s, alice, { auth_tenant: pool.name, project_domain_name: "Default" });
    assert.match(named.requestId, /^req-/);
  });

  it("get-projects lists the names of the user's TRS projects only", async () => {
    const second = await makePool(s);
    const carol = await makeUser(s, [pool.id, second.id, s.sim.seed.adminProjectId]);
    const res = await broker(s, "/v1/get-projects/", login(carol));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.projects, [pool.name, second.name].sort());
  });

  it("10: unknown request; 11: another user's request", async () => {
    const mine = await requestVm(s, alice);
    const theirs = await requestVm(s, bob);
    const auth = { "X-Auth-Token": mine.token };
    assertCode(
      await broker(s, "/v1/get-vm/", { request: "req-00000000-0000-0000-0000-000000000000" }, auth),
      10,
    );
    assertCode(await broker(s, "/v1/get-vm/", { request: theirs.requestId }, auth), 11);
    const own = await finished(s, mine.token, mine.requestId);
    assert.equal(own.body.status, "completed");
  });

  it("messages in Russian when Accept-Language prefers it, placeholders filled", async () => {
    const res = await broker(
      s,
      "/v1/request-vm/",
      { ...login(alice), user_domain_name: "nowhere" },
      { "Accept-Language": "ru-RU,ru;q=0.9,en;q=0.5" },
    );
    assertCode(res, 15);
    assert.equal(res.body.error.message, "Домен nowhere не найден.");
    const en = await broker(
      s,
      "/v1/request-vm/",
      { ...login(alice), user_domain_name: "nowhere" },
      {
        "Accept-Language": "en;q=0.9,ru;q=0.1",
      },
    );
    assert.equal(en.body.error.message, "Domain nowhere not found.");
  });

  it("1: an unforeseen failure answers code 1 without its message or stack", async () => {
    const original = s.runtime.core.broker.getProjects;
    s.runtime.core.broker.getProjects = async () => {
      throw new Error("secret internal detail");
    };
    try {
      const res = await broker(s, "/v1/get-projects/", login(alice));
      assertCode(res, 1);
      assert.doesNotMatch(JSON.stringify(res.body), /secret internal detail|at /);
    } finally {
      s.runtime.core.broker.getProjects = original;
    }
  });

  it("change-password through Keystone, then the new password works", async () => {
    const dave = await makeUser(s, [pool.id]);
    const res = await broker(s, "/v1/change-password/", {
      user: dave.name,
      user_domain_name: "Default",
      password: dave.password,
      new_password: "New-pass-123",
    });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.message, `Password successfully changed for user '${dave.name}'`);
    assertCode(await broker(s, "/v1/request-vm/", login(dave)), 6);
    await requestVm(s, { ...dave, password: "New-pass-123" });
    assertCode(
      await broker(s, "/v1/change-password/", {
        user: dave.name,
        password: "wrong",
        new_password: "x-Y-z-123",
      }),
      6,
    );
  });

  it("change-password through the Kerberos script: secrets on stdin only; 22 missing; 23 failing", async () => {
    const seen = join(dir, "seen.txt");
    const script = join(dir, "kpasswd.sh");
    writeFileSync(script, `#!/bin/sh\n{ echo "argc=$#"; cat; } > ${seen}\nenv > ${seen}.env\nexit 0\n`);
    chmodSync(script, 0o755);
    const failing = join(dir, "fail.sh");
    writeFileSync(failing, "#!/bin/sh\ncat >/dev/null\nexit 1\n");
    chmodSync(failing, 0o755);
    const notExecutable = join(dir, "plain.sh");
    writeFileSync(notExecutable, "#!/bin/sh\nexit 0\n");
    // The script runs only once Keystone accepted the current password (kerberos-script.test.ts).
    const krb = await makeUser(s, [], "krb-user");
    const body = {
      user: "krb-user",
      user_domain_name: "Default",
      password: krb.password,
      new_password: "new-secret",
    };
    try {
      s.config.kerberos.scriptPath = script;
      const ok = await broker(s, "/v1/change-password/", body);
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.equal(ok.body.message, "Password successfully changed for user 'krb-user'");
      const lines = readFileSync(seen, "utf8").trim().split("\n");
      assert.equal(lines[0], "argc=0");
      assert.deepEqual(lines.slice(1), ["krb-user", "Default", krb.password, "new-secret"]);
      const env = readFileSync(`${seen}.env`, "utf8");
      assert.doesNotMatch(env, /secret|pw-|RS_TEST_DATABASE_URL|postgres/);

      s.config.kerberos.scriptPath = join(dir, "missing.sh");
      assertCode(await broker(s, "/v1/change-password/", body), 22);
      s.config.kerberos.scriptPath = notExecutable;
      assertCode(await broker(s, "/v1/change-password/", body), 22);
      s.config.kerberos.scriptPath = failing;
      assertCode(await broker(s, "/v1/change-password/", body), 23);
    } finally {
      s.config.kerberos.scriptPath = "";
    }
  });

  it("21: Keystone unreachable (last: stops the simulator)", async () => {
    await s.sim.stop();
    assertCode(await broker(s, "/v1/request-vm/", login(alice)), 21);
    assertCode(await broker(s, "/v1/get-projects/", login(alice)), 21);
  });
});
