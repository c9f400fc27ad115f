// POST /v1/auth/tokens, the dashboard's sign-in, against the simulator's Keystone: an admin
// gets a token the admin API accepts; a member, a wrong password and a bad token are refused
// with the envelope; a user under Keystone's MFA rules is asked for the one-time code and
// gets in with it; bad bodies are 400s.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { authenticator } from "otplib";
import { call, uniq } from "../helpers/broker-stack.ts";
import { type Stack, startStack } from "../helpers/stack.ts";

describe("dashboard sign-in (POST /v1/auth/tokens)", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ broker: { enabled: false } });
  });
  after(async () => {
    await s?.stop();
  });
  const signIn = (body: unknown) => call(s.adminUrl, "POST", "/v1/auth/tokens", { body });

  it("gives an admin a token the admin API accepts, with its expiry, user and roles", async () => {
    const res = await signIn({
      user: s.sim.admin.username,
      password: s.sim.admin.password,
      domain: "Default",
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.headers.get("cache-control"), "no-store");
    const t = res.body.token;
    assert.equal(t.user.name, s.sim.admin.username);
    assert.ok(t.roles.includes("admin"));
    assert.match(t.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    assert.ok(new Date(`${t.expires_at}Z`).getTime() > Date.now());
    assert.ok(t.project?.id);
    const info = await call(s.adminUrl, "GET", "/v1/projects/", { headers: { "X-Auth-Token": t.id } });
    assert.equal(info.status, 200);
  });

  it("refuses the demo user (member role only) with 403 and says why", async () => {
    const res = await signIn({
      user: s.sim.demo.username,
      password: s.sim.demo.password,
      domain: s.sim.demo.userDomainName,
    });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 403);
    assert.match(res.body.error.message, /has none of the admin roles \(admin\)/);
    assert.equal(res.body.token, undefined);
  });

  it("answers 401 for a wrong password, an unknown user and an unknown domain alike", async () => {
    for (const body of [
      { user: s.sim.admin.username, password: "wrong", domain: "Default" },
      { user: uniq("nobody"), password: "x", domain: "Default" },
      { user: s.sim.admin.username, password: s.sim.admin.password, domain: uniq("nodomain") },
    ]) {
      const res = await signIn(body);
      assert.equal(res.status, 401, JSON.stringify(res.body));
      assert.deepEqual(res.body, {
        error: {
          code: 401,
          title: "Unauthorized",
          message: "Invalid user name, password, domain or one-time code.",
        },
      });
    }
  });

  it("takes a pasted token: an admin's is accepted, a member's refused, garbage is 401", async () => {
    const ok = await signIn({ token: s.adminToken });
    assert.equal(ok.status, 201);
    assert.equal(ok.body.token.id, s.adminToken);
    const member = await signIn({ token: s.memberToken });
    assert.equal(member.status, 403);
    const bad = await signIn({ token: "not-a-token" });
    assert.equal(bad.status, 401);
    assert.match(bad.body.error.message, /does not accept the token/);
  });

  it("asks for the one-time code when Keystone's MFA rules want one, and signs in with it", async () => {
    const ks = s.runtime.deps.cloud.keystone;
    const secret = authenticator.generateSecret(20);
    const name = uniq("mfa-admin");
    const password = "Mfa-pass-1";
    const user = await ks.createUser({
      name,
      domainId: "default",
      password,
      options: { multi_factor_auth_rules: [["password", "totp"]] },
    });
    await ks.createTotpCredential(user.id, secret);
    const admin = await ks.findRole("admin");
    const project = s.sim.admin.projectName;
    const projectId = (await ks.listProjects({ name: project }))[0].id;
    await ks.grantProjectRole(projectId, { userId: user.id }, admin!.id);
    const creds = { user: name, password, domain: "Default", project };

    const asked = await signIn(creds);
    assert.equal(asked.status, 401);
    assert.equal(asked.body.error.otp_required, true);
    const wrong = await signIn({ ...creds, otp: "000000" });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.otp_required, undefined);
    const ok = await signIn({ ...creds, otp: authenticator.generate(secret) });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.token.user.id, user.id);
    assert.equal(ok.body.token.project.name, project);
    // Without the project: the user has no default one, so the token has no role at all.
    const unscoped = await signIn({ ...creds, project: undefined, otp: authenticator.generate(secret) });
    assert.equal(unscoped.status, 403);
    assert.match(unscoped.body.error.message, /\(the token has no project scope\)\.$/);
  });

  it("answers 400 for a body that is neither credentials nor a token, and changes nothing", async () => {
    for (const body of [
      {},
      { user: "admin" },
      { token: s.adminToken, user: "admin", password: "x" },
      { user: "admin", password: "x", extra: 1 },
      { user: "admin", password: "x", otp: "12ab" },
    ]) {
      const res = await signIn(body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error.code, 400);
    }
  });
});

describe("dashboard sign-in rate limit", () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      broker: { enabled: false },
      rateLimit: {
        enabled: true,
        loginFailuresPerUser: 2,
        loginFailuresPerAddress: 100,
        invalidTokensPerAddress: 2,
      },
    });
  });
  after(async () => {
    await s?.stop();
  });
  const signIn = (body: unknown) => call(s.adminUrl, "POST", "/v1/auth/tokens", { body });

  it("refuses a user name with 429 and Retry-After after too many failures, before Keystone is asked", async () => {
    const wrong = { user: s.sim.admin.username, password: "wrong", domain: "Default" };
    assert.equal((await signIn(wrong)).status, 401);
    assert.equal((await signIn(wrong)).status, 401);
    const limited = await signIn({ ...wrong, password: s.sim.admin.password });
    assert.equal(limited.status, 429, JSON.stringify(limited.body));
    assert.ok(Number(limited.headers.get("retry-after")) > 0);
    assert.equal(limited.body.error.code, 429);
    assert.match(limited.body.error.message, /^Too many failed sign-ins; try again in \d+ seconds\.$/);
    // Another user from the same address is not held back.
    const demo = await signIn({ user: s.sim.demo.username, password: s.sim.demo.password, domain: "demo" });
    assert.equal(demo.status, 403);
  });

  it("limits bad pasted tokens per address", async () => {
    assert.equal((await signIn({ token: "bad-1" })).status, 401);
    assert.equal((await signIn({ token: "bad-2" })).status, 401);
    assert.equal((await signIn({ token: s.adminToken })).status, 429);
  });
});
