// AdminScopes (core/scope.ts): what each kind of token may administer under each choice of
// auth.scope, with no HTTP and no Keystone (the admin project is rs-server's own, "p-admin").
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { loadConfig } from "../../../src/config/load.ts";
import type { Caller, TokenScope } from "../../../src/core/identity.ts";
import { AdminScopes } from "../../../src/core/scope.ts";

const project = (projectId: string, projectName = projectId, domainName = "Default"): TokenScope => ({
  kind: "project",
  projectId,
  projectName,
  domainId: domainName.toLowerCase(),
  domainName,
});

const KINDS: Record<string, TokenScope> = {
  system: { kind: "system" },
  adminProject: project("p-admin", "admin"),
  otherProject: project("p-other", "other"),
  poolProject: project("p-pool", "pool"),
  domain: { kind: "domain", domainId: "d1" },
  unscoped: { kind: "unscoped" },
};

function caller(scope: TokenScope, roles = ["admin", "member"]): Caller {
  return {
    userId: "u",
    userName: "u",
    domainId: "default",
    scope,
    roles,
    expiresAt: new Date(Date.now() + 3600_000),
  };
}

function scopes(scope: Record<string, unknown> = {}, adminRoles?: string[]) {
  const config = loadConfig({
    env: {},
    overrides: { auth: { scope, ...(adminRoles ? { adminRoles } : {}) } },
  });
  // p-pool is a pool's project; p-other is not.
  return new AdminScopes(
    config.auth,
    async () => "p-admin",
    async (id) => id === "p-pool",
  );
}

async function reaches(s: AdminScopes, roles?: string[]) {
  const out: Record<string, string> = {};
  for (const [name, scope] of Object.entries(KINDS)) {
    const r = await s.reachOf(caller(scope, roles));
    out[name] =
      r.kind === "domain" ? `domain:${r.domainId}` : r.kind === "project" ? `project:${r.projectId}` : r.kind;
  }
  return out;
}

describe("AdminScopes", () => {
  test("defaults: system and the admin project are cloud admins, a domain admin its domain, others nothing", async () => {
    assert.deepEqual(await reaches(scopes()), {
      system: "cloud",
      adminProject: "cloud",
      otherProject: "none",
      poolProject: "project:p-pool",
      domain: "domain:d1",
      unscoped: "none",
    });
  });

  test("no admin role, no reach, whatever the scope", async () => {
    const all = await reaches(scopes(), ["member", "reader"]);
    assert.ok(
      Object.values(all).every((r) => r === "none"),
      JSON.stringify(all),
    );
  });

  test("the admin roles are the configured ones", async () => {
    const s = scopes({}, ["cloud-operator"]);
    assert.equal((await s.reachOf(caller(KINDS.system, ["admin"]))).kind, "none");
    assert.equal((await s.reachOf(caller(KINDS.system, ["cloud-operator"]))).kind, "cloud");
  });

  test("cloudAdmin: only the listed scopes make cloud admins", async () => {
    assert.deepEqual(await reaches(scopes({ cloudAdmin: ["system"] })), {
      system: "cloud",
      adminProject: "none",
      otherProject: "none",
      poolProject: "project:p-pool",
      domain: "domain:d1",
      unscoped: "none",
    });
    const withDomain = await reaches(scopes({ cloudAdmin: ["system", "domain"] }));
    assert.equal(withDomain.domain, "cloud");
    const nobody = await reaches(scopes({ cloudAdmin: [] }));
    assert.equal(nobody.system, "none");
  });

  test("domainAdmin false: a domain-scoped admin gets nothing", async () => {
    assert.equal((await reaches(scopes({ domainAdmin: false }))).domain, "none");
  });

  test("poolProjectAdmin false: the admin of a pool's project gets nothing", async () => {
    assert.equal((await reaches(scopes({ poolProjectAdmin: false }))).poolProject, "none");
  });

  test("adminProject by name and domain, instead of rs-server's own project", async () => {
    const s = scopes({ adminProject: "other", adminProjectDomain: "Default" });
    const r = await reaches(s);
    assert.equal(r.otherProject, "cloud");
    assert.equal(r.adminProject, "none");
    // The domain by id works too; another domain's project of that name does not.
    const byId = scopes({ adminProject: "other", adminProjectDomain: "default" });
    assert.equal((await byId.reachOf(caller(project("p-other", "other")))).kind, "cloud");
    assert.equal((await byId.reachOf(caller(project("p-x", "other", "Elsewhere")))).kind, "none");
  });

  test("enforce false: any admin role is a cloud admin (the behaviour before scopes)", async () => {
    const all = await reaches(scopes({ enforce: false }));
    assert.ok(
      Object.values(all).every((r) => r === "cloud"),
      JSON.stringify(all),
    );
  });

  test("the admin project is unknown when the service session fails: no cloud admin through it", async () => {
    const config = loadConfig({ env: {} });
    const s = new AdminScopes(config.auth, () => Promise.reject(new Error("Keystone down")));
    assert.equal((await s.reachOf(caller(KINDS.adminProject))).kind, "none");
    assert.equal((await s.reachOf(caller(KINDS.system))).kind, "cloud");
  });

  test("checkPool hides another domain's pool as unknown; checkDomain refuses another domain", () => {
    const s = scopes();
    const reach = { kind: "domain", domainId: "d1" } as const;
    assert.doesNotThrow(() => s.checkPool(reach, { id: "a", domain_id: "d1" }, "a"));
    assert.throws(() => s.checkPool(reach, { id: "b", domain_id: "d2" }, "b"), /TRS project b not found/);
    assert.throws(() => s.checkPool(reach, undefined, "c"), /TRS project c not found/);
    assert.doesNotThrow(() => s.checkPool({ kind: "cloud" }, { id: "b", domain_id: "d2" }, "b"));
    assert.doesNotThrow(() => s.checkDomain(reach, "d1"));
    assert.throws(() => s.checkDomain(reach, "d2"), /its own domain/);
    assert.doesNotThrow(() => s.checkDomain({ kind: "cloud" }, "d2"));
    const own = { kind: "project", projectId: "a" } as const;
    assert.doesNotThrow(() => s.checkPool(own, { id: "a", domain_id: "d2" }, "a"));
    assert.throws(() => s.checkPool(own, { id: "b", domain_id: "d1" }, "b"), /TRS project b not found/);
    assert.throws(() => s.checkDomain(own, undefined), /changing the pool needs a domain or cloud admin/);
    assert.throws(() => s.checkPoolChange(own, false), /changing the pool/);
    assert.doesNotThrow(() => s.checkPoolChange(own, true));
    assert.doesNotThrow(() => s.checkPoolChange(reach, false));
  });
});
