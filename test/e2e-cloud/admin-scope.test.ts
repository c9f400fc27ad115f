// Scoped admin (issue 12, finding 5; docs/security.md#scopes), with real Keystone tokens of
// every kind against every class of admin route: on the built-in simulator by default, and on
// real Keystone in the openstack stage (RS_CONTRACT_CLOUD, see ./stack.ts).
//   system admin          admin role on the system (scope {"system": {"all": true}})
//   admin-project admin   admin role on a token of the admin project (rs-server's own project)
//   other-project admin   admin role on a project that is not a pool: no rs-server admin at all
//   pool-project admin    admin role on a pool's own project: reads that pool and creates its
//                         instances (the reference's POST /servers), changes nothing else
//   domain admin          admin role on a domain-scoped token: the pools of its domain only
//   member                no admin role
// and a revoked token: its reads may ride the token cache, its changes are refused at once.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { KsRole } from "../../src/cloud/keystone.ts";
import { discover } from "../contract/cloud-under-test.ts";
import { call, type Reply } from "../helpers/broker-stack.ts";
import { passwordToken } from "../helpers/stack.ts";
import { type E2eStack, startE2eStack, uniqueName } from "./stack.ts";

interface Account {
  id: string;
  name: string;
  password: string;
  domainName: string;
}

type Scope = { system: { all: true } } | { project: { id: string } } | { domain: { id: string } };

describe("scoped admin against the cloud's Keystone", () => {
  let s: E2eStack;
  let roles: { admin: KsRole; member: KsRole };
  let template: Record<string, unknown>;
  let domain: { id: string; name: string };
  let otherProjectId: string;
  const userIds: string[] = [];
  const poolIds = new Set<string>();
  /** Tokens by kind. */
  const t: Record<"system" | "adminProject" | "otherProject" | "domain" | "member" | "poolProject", string> =
    {} as never;
  /** A pool of the domain admin's domain, and one of Default. */
  let ownPool: string;
  let otherPool: string;

  function tokenFor(a: Account, scope: Scope): Promise<string> {
    return passwordToken(
      s.admin.session.authUrl,
      { name: a.name, domain: { name: a.domainName }, password: a.password },
      scope,
    );
  }

  async function account(domainId: string, domainName: string, prefix: string): Promise<Account> {
    const name = uniqueName(prefix);
    const password = `Pw-${randomBytes(9).toString("hex")}`;
    const options = { ignore_change_password_upon_first_use: true, ignore_lockout_failure_attempts: true };
    const user = await s.admin.keystone.createUser({ name, domainId, password, options });
    userIds.push(user.id);
    return { id: user.id, name, password, domainName };
  }

  const as = (token: string, method: string, path: string, body?: unknown): Promise<Reply> =>
    call(s.adminUrl, method, path, { body, headers: { "X-Auth-Token": token } });

  function expect(reply: Reply, status: number, what: string) {
    assert.equal(reply.status, status, `${what}: ${JSON.stringify(reply.body)}`);
    if (status >= 400) {
      assert.deepEqual(Object.keys(reply.body), ["error"], what);
      assert.equal(reply.body.error.code, status, what);
    }
  }

  async function newPool(token: string, extra: Record<string, unknown> = {}): Promise<Reply> {
    const res = await as(token, "POST", "/v1/projects", {
      project: { name: uniqueName("scope"), ...template, ...extra },
    });
    if (res.status === 200) poolIds.add(res.body.project.id);
    return res;
  }

  before(async () => {
    s = await startE2eStack();
    const ks = s.admin.keystone;
    const found = await discover(s.admin);
    template = { flavor_id: found.flavor.id, image_id: found.image.id, network_id: found.network.id };
    const admin = await ks.findRole("admin");
    const member = await ks.findRole("member");
    assert.ok(admin && member, "the cloud has the admin and member roles");
    roles = { admin, member };

    const created = await ks.createDomain({ name: uniqueName("dom") });
    domain = { id: created.id, name: created.name };
    otherProjectId = (await ks.createProject({ name: uniqueName("other"), domainId: "default" })).id;

    const sys = await account("default", "Default", "sys");
    await ks.grantSystemRole({ userId: sys.id }, admin.id);
    t.system = await tokenFor(sys, { system: { all: true } });
    t.adminProject = await s.adminToken();
    const padmin = await account("default", "Default", "padmin");
    await ks.grantProjectRole(otherProjectId, { userId: padmin.id }, admin.id);
    t.otherProject = await tokenFor(padmin, { project: { id: otherProjectId } });
    const dadmin = await account(domain.id, domain.name, "dadmin");
    await ks.grantDomainRole(domain.id, { userId: dadmin.id }, admin.id);
    t.domain = await tokenFor(dadmin, { domain: { id: domain.id } });
    const mem = await account("default", "Default", "member");
    await ks.grantProjectRole(otherProjectId, { userId: mem.id }, member.id);
    t.member = await tokenFor(mem, { project: { id: otherProjectId } });

    const own = await newPool(t.adminProject, { domain_id: domain.id });
    expect(own, 200, "the cloud admin creates a pool in the new domain");
    ownPool = own.body.project.id;
    const other = await newPool(t.adminProject);
    expect(other, 200, "the cloud admin creates a pool in Default");
    otherPool = other.body.project.id;
    const powner = await account("default", "Default", "powner");
    await ks.grantProjectRole(ownPool, { userId: powner.id }, admin.id);
    t.poolProject = await tokenFor(powner, { project: { id: ownPool } });
  });

  after(async () => {
    if (!s) return;
    const token = await s.adminToken();
    for (const id of poolIds) await as(token, "DELETE", `/v1/projects/${id}?force=true`).catch(() => {});
    const ks = s.admin.keystone;
    for (const id of userIds) await ks.deleteUser(id).catch(() => {});
    if (otherProjectId) await ks.deleteProject(otherProjectId).catch(() => {});
    // Deleting the domain deletes its users and projects with it.
    if (domain) await ks.deleteDomain(domain.id).catch(() => {});
    await s.stop();
  });

  it("the tokens carry the scopes they were asked for", async () => {
    const ks = s.admin.keystone;
    const sys = await ks.validateToken(t.system);
    assert.equal(sys?.system, true);
    assert.equal(sys?.projectId, undefined);
    assert.ok(sys?.roles.some((r) => r.name === "admin"));
    const dom = await ks.validateToken(t.domain);
    assert.equal(dom?.domainId, domain.id);
    assert.equal(dom?.system, false);
    assert.ok(dom?.roles.some((r) => r.name === "admin"));
  });

  it("cloud-wide routes: system and admin-project admins only", async () => {
    for (const path of [
      "/v1/servers",
      "/v1/tasks",
      "/v1/info",
      "/v1/sessions",
      "/v1/users",
      "/v1/activity",
    ]) {
      expect(await as(t.system, "GET", path), 200, `system admin ${path}`);
      expect(await as(t.adminProject, "GET", path), 200, `admin-project admin ${path}`);
      expect(await as(t.otherProject, "GET", path), 403, `other-project admin ${path}`);
      expect(await as(t.domain, "GET", path), 403, `domain admin ${path}`);
      expect(await as(t.poolProject, "GET", path), 403, `pool-project admin ${path}`);
      expect(await as(t.member, "GET", path), 403, `member ${path}`);
    }
    // A change too: an instance in the domain admin's own pool is still cloud-wide business.
    const body = { server: { project_id: ownPool } };
    expect(await as(t.domain, "POST", "/v1/servers", body), 403, "domain admin POST /v1/servers");
    expect(await as(t.otherProject, "POST", "/v1/servers", body), 403, "project admin POST /v1/servers");
  });

  it("a pool's project admin reads its pool and creates its instances (the reference's way), nothing more", async () => {
    const list = await as(t.poolProject, "GET", "/v1/projects");
    expect(list, 200, "pool-project admin lists pools");
    assert.deepEqual(
      list.body.projects.map((p: { id: string }) => p.id),
      [ownPool],
    );
    expect(await as(t.poolProject, "GET", `/v1/projects/${ownPool}`), 200, "reads its pool");
    expect(await as(t.poolProject, "GET", `/v1/projects/${ownPool}/access`), 200, "reads its pool's access");
    expect(await as(t.poolProject, "GET", `/v1/projects/${otherPool}`), 404, "another pool is unknown");
    // The reference's POST /servers: no project_id, the token's scope names the pool.
    const made = await as(t.poolProject, "POST", "/v1/servers", { server: { name: uniqueName("ref") } });
    expect(made, 200, "creates an instance of its pool");
    const shown = await as(t.system, "GET", `/v1/servers/${made.body.servers[0].id}`);
    assert.equal(shown.body.server.project_id, ownPool);
    const elsewhere = { server: { project_id: otherPool } };
    expect(await as(t.poolProject, "POST", "/v1/servers", elsewhere), 404, "not in another pool");
    const change = { project: { description: "changed by the pool's project admin" } };
    expect(await as(t.poolProject, "PUT", `/v1/projects/${ownPool}`, change), 403, "changes its pool");
    expect(await as(t.poolProject, "DELETE", `/v1/projects/${ownPool}`), 403, "deletes its pool");
    const someone = userIds[0];
    expect(
      await as(t.poolProject, "PUT", `/v1/projects/${ownPool}/access/users/${someone}`),
      403,
      "grants access",
    );
    expect(await newPool(t.poolProject), 403, "creates a pool");
  });

  it("pool reads: cloud admins see every pool, a domain admin its domain's only", async () => {
    for (const token of [t.system, t.adminProject]) {
      const list = await as(token, "GET", "/v1/projects");
      expect(list, 200, "cloud admin lists pools");
      const ids = list.body.projects.map((p: { id: string }) => p.id);
      assert.ok(ids.includes(ownPool) && ids.includes(otherPool));
      expect(await as(token, "GET", `/v1/projects/${otherPool}`), 200, "cloud admin reads a pool");
    }
    const list = await as(t.domain, "GET", "/v1/projects");
    expect(list, 200, "domain admin lists pools");
    const domains = new Set(list.body.projects.map((p: { domain_id: string }) => p.domain_id));
    assert.deepEqual([...domains], [domain.id], "only pools of the domain admin's domain");
    assert.ok(list.body.projects.some((p: { id: string }) => p.id === ownPool));
    // Filtering by another domain's name finds nothing rather than that domain's pools.
    const filtered = await as(t.domain, "GET", "/v1/projects?domain=Default");
    expect(filtered, 200, "domain admin filters by another domain");
    assert.deepEqual(filtered.body.projects, []);

    for (const path of ["", "/statistics", "/access"]) {
      expect(
        await as(t.domain, "GET", `/v1/projects/${ownPool}${path}`),
        200,
        `domain admin own pool${path}`,
      );
      // Another domain's pool is answered as an unknown one.
      const other = await as(t.domain, "GET", `/v1/projects/${otherPool}${path}`);
      expect(other, 404, `domain admin other pool${path}`);
      const unknown = await as(t.domain, "GET", `/v1/projects/0123456789abcdef0123456789abcdef${path}`);
      assert.equal(
        other.body.error.message.replace(otherPool, "X"),
        unknown.body.error.message.replace(/[0-9a-f]{32}/, "X"),
      );
      expect(await as(t.otherProject, "GET", `/v1/projects/${ownPool}${path}`), 403, `project admin${path}`);
      expect(await as(t.member, "GET", `/v1/projects/${ownPool}${path}`), 403, `member${path}`);
    }
    for (const token of [t.otherProject, t.member])
      expect(await as(token, "GET", "/v1/projects"), 403, "no admin lists pools");
  });

  it("pool changes: a domain admin changes and deletes its domain's pools, never another's", async () => {
    const rename = { project: { description: "changed by the domain admin" } };
    expect(
      await as(t.domain, "PUT", `/v1/projects/${ownPool}`, rename),
      200,
      "domain admin updates own pool",
    );
    expect(
      await as(t.domain, "PUT", `/v1/projects/${otherPool}`, rename),
      404,
      "domain admin updates another",
    );
    expect(await as(t.otherProject, "PUT", `/v1/projects/${ownPool}`, rename), 403, "project admin updates");
    expect(await as(t.member, "PUT", `/v1/projects/${ownPool}`, rename), 403, "member updates");
    const move = { project: { domain_id: "default" } };
    expect(
      await as(t.domain, "PUT", `/v1/projects/${ownPool}`, move),
      403,
      "domain admin moves its pool out",
    );
    expect(await as(t.domain, "DELETE", `/v1/projects/${otherPool}`), 404, "domain admin deletes another");
    expect(await as(t.otherProject, "DELETE", `/v1/projects/${otherPool}`), 403, "project admin deletes");
    expect(await as(t.member, "DELETE", `/v1/projects/${otherPool}`), 403, "member deletes");
    // The pool of Default is untouched.
    const still = await as(t.system, "GET", `/v1/projects/${otherPool}`);
    expect(still, 200, "the other domain's pool is still there");
    assert.notEqual(still.body.project.description, "changed by the domain admin");

    // Creating: into its own domain (the default for a domain admin), never into another.
    const made = await newPool(t.domain);
    expect(made, 200, "domain admin creates a pool");
    const shown = await as(t.system, "GET", `/v1/projects/${made.body.project.id}`);
    assert.equal(shown.body.project.domain_id, domain.id);
    expect(await newPool(t.domain, { domain_id: "default" }), 403, "domain admin creates in Default");
    expect(await newPool(t.otherProject), 403, "project admin creates");
    expect(await newPool(t.member), 403, "member creates");
    expect(
      await as(t.domain, "DELETE", `/v1/projects/${made.body.project.id}`),
      204,
      "domain admin deletes own",
    );
    poolIds.delete(made.body.project.id);

    // Access grants: users of its own domain on its own pools only.
    const local = await account(domain.id, domain.name, "local");
    const outsider = await account("default", "Default", "outsider");
    expect(await as(t.domain, "PUT", `/v1/projects/${ownPool}/access/users/${local.id}`), 204, "grant local");
    expect(
      await as(t.domain, "PUT", `/v1/projects/${ownPool}/access/users/${outsider.id}`),
      403,
      "grant outsider",
    );
    expect(
      await as(t.domain, "PUT", `/v1/projects/${otherPool}/access/users/${local.id}`),
      404,
      "grant on other",
    );
    expect(
      await as(t.domain, "DELETE", `/v1/projects/${ownPool}/access/users/${local.id}`),
      204,
      "revoke local",
    );
    expect(
      await as(t.system, "PUT", `/v1/projects/${otherPool}/access/users/${local.id}`),
      204,
      "system grants",
    );
  });

  it("the dashboard's sign-in takes cloud admins' tokens only", async () => {
    const signIn = (token: string) => call(s.adminUrl, "POST", "/v1/auth/tokens", { body: { token } });
    expect(await signIn(t.system), 201, "system admin signs in");
    expect(await signIn(t.adminProject), 201, "admin-project admin signs in");
    expect(await signIn(t.domain), 403, "domain admin");
    expect(await signIn(t.otherProject), 403, "other-project admin");
    expect(await signIn(t.member), 403, "member");
    expect(await signIn(t.poolProject), 403, "pool-project admin");
  });

  it("a revoked token changes nothing, at once; its reads last at most the cache time", async () => {
    const sys = await account("default", "Default", "revoked");
    await s.admin.keystone.grantSystemRole({ userId: sys.id }, roles.admin.id);
    const token = await tokenFor(sys, { system: { all: true } });
    expect(await as(token, "GET", `/v1/projects/${otherPool}`), 200, "before revocation");
    await s.admin.keystone.revokeToken(token);
    const change = { project: { description: "changed with a revoked token" } };
    expect(await as(token, "PUT", `/v1/projects/${otherPool}`, change), 401, "a change with a revoked token");
    expect(await as(token, "DELETE", `/v1/projects/${otherPool}`), 401, "a delete with a revoked token");
    const still = await as(t.system, "GET", `/v1/projects/${otherPool}`);
    expect(still, 200, "the pool is still there");
    assert.notEqual(still.body.project.description, "changed with a revoked token");
    // The change's validation replaced the cached one: reads are refused from now on too.
    expect(await as(token, "GET", `/v1/projects/${otherPool}`), 401, "a read after the refused change");
  });
});
