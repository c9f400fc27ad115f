// Wire shapes of the simulated Keystone's token API: issue, scopes, rescoping, validation,
// revocation, discovery and the error envelope.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { adminToken, identity, passwordAuth, useSimulator } from "../helpers/simulator.ts";

const sim = useSimulator();

const KS_TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/;

async function demoLogin(scope?: unknown) {
  const s = sim();
  return identity(s, "POST", "/auth/tokens", {
    body: passwordAuth({ name: s.demo.username, domain: s.demo.userDomainName }, s.demo.password, scope),
  });
}

describe("POST /v3/auth/tokens", () => {
  test("a project-scoped password token has Keystone's shape and a catalog with the project in volumev3", async () => {
    const s = sim();
    const res = await demoLogin({ project: { name: "demo", domain: { name: "demo" } } });
    assert.equal(res.status, 201);
    assert.ok(res.headers.get("x-subject-token"));
    const t = res.body.token;
    assert.deepEqual(t.methods, ["password"]);
    assert.deepEqual(t.user, {
      domain: { id: s.demo.userDomainId, name: "demo" },
      id: s.demo.userId,
      name: "demo",
      password_expires_at: null,
    });
    assert.deepEqual(t.project, {
      domain: { id: s.demo.projectDomainId, name: "demo" },
      id: s.demo.projectId,
      name: "demo",
    });
    assert.match(t.expires_at, KS_TIME);
    assert.match(t.issued_at, KS_TIME);
    assert.equal(t.audit_ids.length, 1);
    assert.deepEqual(
      t.roles.map((r: any) => r.name).sort(),
      ["member", "reader"],
      "member is granted, reader is implied",
    );
    const volume = t.catalog.find((e: any) => e.type === "volumev3");
    const pub = volume.endpoints.find((e: any) => e.interface === "public");
    assert.equal(pub.url, `${s.url}/volume/v3/${s.demo.projectId}`);
    assert.equal(pub.region_id, "RegionOne");
    const types = t.catalog.map((e: any) => e.type).sort();
    assert.deepEqual(types, ["compute", "identity", "image", "network", "volumev3"]);
  });

  test("the user can be named by id and the project by id", async () => {
    const s = sim();
    const res = await identity(s, "POST", "/auth/tokens", {
      body: passwordAuth({ id: s.demo.userId }, s.demo.password, { project: { id: s.demo.projectId } }),
    });
    assert.equal(res.status, 201);
    assert.equal(res.body.token.project.id, s.demo.projectId);
  });

  test("an explicitly unscoped token has neither roles nor catalog", async () => {
    const res = await demoLogin("unscoped");
    assert.equal(res.status, 201);
    assert.equal(res.body.token.project, undefined);
    assert.equal(res.body.token.roles, undefined);
    assert.equal(res.body.token.catalog, undefined);
  });

  test("without a scope the user's default project is used", async () => {
    const res = await demoLogin();
    assert.equal(res.body.token.project.id, sim().demo.projectId);
  });

  test("a domain-scoped token leaves out endpoints that need a project id", async () => {
    const s = sim();
    const res = await identity(s, "POST", "/auth/tokens", {
      body: passwordAuth({ name: "admin", domain: "Default" }, s.admin.password, {
        domain: { id: "default" },
      }),
    });
    assert.equal(res.status, 201);
    assert.deepEqual(res.body.token.domain, { id: "default", name: "Default" });
    assert.ok(!res.body.token.catalog.some((e: any) => e.type === "volumev3"));
  });

  test("?nocatalog leaves the catalog out", async () => {
    const s = sim();
    const res = await fetch(`${s.authUrl}/auth/tokens?nocatalog`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(passwordAuth({ id: s.demo.userId }, s.demo.password)),
    });
    assert.equal(res.status, 201);
    assert.equal((await res.json()).token.catalog, undefined);
  });

  test("a wrong password, an unknown user and an unknown domain all answer the same generic 401", async () => {
    const s = sim();
    const answers = await Promise.all([
      identity(s, "POST", "/auth/tokens", { body: passwordAuth({ name: "demo", domain: "demo" }, "wrong") }),
      identity(s, "POST", "/auth/tokens", { body: passwordAuth({ name: "nobody", domain: "demo" }, "x") }),
      identity(s, "POST", "/auth/tokens", { body: passwordAuth({ name: "demo", domain: "nowhere" }, "x") }),
    ]);
    for (const res of answers) {
      assert.equal(res.status, 401);
      assert.deepEqual(res.body, {
        error: {
          code: 401,
          title: "Unauthorized",
          message: "The request you have made requires authentication.",
        },
      });
      assert.match(res.headers.get("www-authenticate") ?? "", /^Keystone uri="/);
    }
  });

  test("scoping to a project without a role on it is refused", async () => {
    const s = sim();
    const res = await demoLogin({ project: { id: s.admin.projectId } });
    assert.equal(res.status, 401);
  });

  test("a malformed body answers 400 in the error envelope", async () => {
    const res = await identity(sim(), "POST", "/auth/tokens", { body: { auth: {} } });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 400);
    assert.equal(res.body.error.title, "Bad Request");
  });

  test("token auth rescopes: methods carry the original ones, expiry never grows, audit chain kept", async () => {
    const s = sim();
    const first = await demoLogin("unscoped");
    const token = first.headers.get("x-subject-token")!;
    const res = await identity(s, "POST", "/auth/tokens", {
      body: {
        auth: {
          identity: { methods: ["token"], token: { id: token } },
          scope: { project: { id: s.demo.projectId } },
        },
      },
    });
    assert.equal(res.status, 201);
    assert.deepEqual([...res.body.token.methods].sort(), ["password", "token"]);
    assert.ok(Date.parse(res.body.token.expires_at) <= Date.parse(first.body.token.expires_at));
    assert.equal(res.body.token.audit_ids[1], first.body.token.audit_ids[0]);
  });
});

describe("GET, HEAD and DELETE /v3/auth/tokens", () => {
  test("an admin validates any token; the answer carries X-Subject-Token and the token body", async () => {
    const s = sim();
    const admin = await adminToken(s);
    const user = (await demoLogin()).headers.get("x-subject-token")!;
    const res = await identity(s, "GET", "/auth/tokens", {
      token: admin,
      headers: { "X-Subject-Token": user },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-subject-token"), user);
    assert.equal(res.body.token.user.id, s.demo.userId);
    const head = await fetch(`${s.authUrl}/auth/tokens`, {
      method: "HEAD",
      headers: { "X-Auth-Token": admin, "X-Subject-Token": user },
    });
    assert.equal(head.status, 200);
  });

  test("a user validates their own token but gets 403 for another user's", async () => {
    const s = sim();
    const user = (await demoLogin()).headers.get("x-subject-token")!;
    const self = await identity(s, "GET", "/auth/tokens", {
      token: user,
      headers: { "X-Subject-Token": user },
    });
    assert.equal(self.status, 200);
    const admin = await adminToken(s);
    const other = await identity(s, "GET", "/auth/tokens", {
      token: user,
      headers: { "X-Subject-Token": admin },
    });
    assert.equal(other.status, 403);
    assert.match(other.body.error.message, /identity:validate_token/);
  });

  test("an unknown subject token is 404, a missing caller token 401", async () => {
    const s = sim();
    const admin = await adminToken(s);
    const res = await identity(s, "GET", "/auth/tokens", {
      token: admin,
      headers: { "X-Subject-Token": "gAAAAnope" },
    });
    assert.equal(res.status, 404);
    assert.equal(res.body.error.message, "Failed to validate token");
    const anon = await identity(s, "GET", "/auth/tokens", { headers: { "X-Subject-Token": admin } });
    assert.equal(anon.status, 401);
  });

  test("DELETE revokes the token and the tokens rescoped from it", async () => {
    const s = sim();
    const admin = await adminToken(s);
    const parent = (await demoLogin("unscoped")).headers.get("x-subject-token")!;
    const child = (
      await identity(s, "POST", "/auth/tokens", {
        body: {
          auth: {
            identity: { methods: ["token"], token: { id: parent } },
            scope: { project: { id: s.demo.projectId } },
          },
        },
      })
    ).headers.get("x-subject-token")!;
    const del = await identity(s, "DELETE", "/auth/tokens", {
      token: admin,
      headers: { "X-Subject-Token": parent },
    });
    assert.equal(del.status, 204);
    for (const t of [parent, child]) {
      const res = await identity(s, "GET", "/auth/tokens", {
        token: admin,
        headers: { "X-Subject-Token": t },
      });
      assert.equal(res.status, 404);
    }
    assert.equal(s.ctx.identity.validate(child), undefined, "other services refuse it too");
  });

  test("a token stops validating once its user loses the last role on its project", async () => {
    const s = sim();
    const admin = await adminToken(s);
    const roles = (await identity(s, "GET", "/roles?name=reader", { token: admin })).body.roles;
    const { user } = (
      await identity(s, "POST", "/users", {
        token: admin,
        body: {
          user: { name: `short-${Date.now()}`, domain_id: s.demo.userDomainId, password: "Secret-123" },
        },
      })
    ).body;
    const grant = `/projects/${s.demo.projectId}/users/${user.id}/roles/${roles[0].id}`;
    assert.equal((await identity(s, "PUT", grant, { token: admin })).status, 204);
    const token = (
      await identity(s, "POST", "/auth/tokens", {
        body: passwordAuth({ id: user.id }, "Secret-123", { project: { id: s.demo.projectId } }),
      })
    ).headers.get("x-subject-token")!;
    assert.ok(s.ctx.identity.validate(token));
    assert.equal((await identity(s, "DELETE", grant, { token: admin })).status, 204);
    assert.equal(s.ctx.identity.validate(token), undefined);
  });
});

describe("/v3/auth listings and discovery", () => {
  test("GET /v3/auth/projects lists the projects the token's user has a role on", async () => {
    const s = sim();
    const token = (await demoLogin("unscoped")).headers.get("x-subject-token")!;
    const res = await identity(s, "GET", "/auth/projects", { token });
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.projects.map((p: any) => p.name),
      ["demo"],
    );
    assert.equal(res.body.links.next, null);
  });

  test("GET /v3/auth/catalog needs a scoped token", async () => {
    const s = sim();
    const scoped = (await demoLogin()).headers.get("x-subject-token")!;
    const ok = await identity(s, "GET", "/auth/catalog", { token: scoped });
    assert.equal(ok.status, 200);
    assert.ok(ok.body.catalog.some((e: any) => e.type === "compute"));
    const unscoped = (await demoLogin("unscoped")).headers.get("x-subject-token")!;
    assert.equal((await identity(s, "GET", "/auth/catalog", { token: unscoped })).status, 403);
  });

  test("GET /identity/ answers 300 with the v3 version; /identity/v3 the version document", async () => {
    const s = sim();
    const root = await fetch(`${s.url}/identity/`);
    assert.equal(root.status, 300);
    const doc = await root.json();
    assert.equal(doc.versions.values[0].id, "v3.14");
    assert.equal(doc.versions.values[0].links[0].href, `${s.url}/identity/v3/`);
    const v3 = await (await fetch(`${s.url}/identity/v3`)).json();
    assert.equal(v3.version.status, "stable");
    assert.equal(v3.version["media-types"][0].type, "application/vnd.openstack.identity-v3+json");
  });

  test("an unknown identity path answers 404 in Keystone's envelope", async () => {
    const res = await identity(sim(), "GET", "/no-such-thing");
    assert.equal(res.status, 404);
    assert.deepEqual(res.body, {
      error: { code: 404, title: "Not Found", message: "The resource could not be found." },
    });
  });
});

describe("system scope", () => {
  const adminLogin = (scope: unknown) => {
    const s = sim();
    return identity(s, "POST", "/auth/tokens", {
      body: passwordAuth({ name: s.admin.username, domain: s.admin.userDomainName }, s.admin.password, scope),
    });
  };

  test("the seeded admin gets a system-scoped token: system {all: true}, roles, a catalog, no project", async () => {
    const res = await adminLogin({ system: { all: true } });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    const t = res.body.token;
    assert.deepEqual(t.system, { all: true });
    assert.equal(t.project, undefined);
    assert.equal(t.domain, undefined);
    assert.ok(t.roles.some((r: { name: string }) => r.name === "admin"));
    assert.ok(Array.isArray(t.catalog));
    const token = res.headers.get("x-subject-token")!;
    const seen = await identity(sim(), "GET", "/auth/tokens?nocatalog", {
      token,
      headers: { "X-Subject-Token": token },
    });
    assert.equal(seen.status, 200);
    assert.deepEqual(seen.body.token.system, { all: true });
    assert.equal(seen.body.token.catalog, undefined);
    const systems = await identity(sim(), "GET", "/auth/system", { token });
    assert.deepEqual(systems.body.system, [{ all: true }]);
  });

  test("a user without a system role is refused a system scope (401); a malformed one is 400", async () => {
    const s = sim();
    const demo = await identity(s, "POST", "/auth/tokens", {
      body: passwordAuth({ name: s.demo.username, domain: s.demo.userDomainName }, s.demo.password, {
        system: { all: true },
      }),
    });
    assert.equal(demo.status, 401);
    assert.equal((await adminLogin({ system: { all: false } })).status, 400);
    assert.equal((await adminLogin({ system: "all" })).status, 400);
  });

  test("system grants: PUT, HEAD, list, role_assignments with scope.system, DELETE; the token follows them", async () => {
    const s = sim();
    const admin = await adminToken(s);
    const roles = await identity(s, "GET", "/roles?name=admin", { token: admin });
    const roleId = roles.body.roles[0].id;
    const path = `/system/users/${s.demo.userId}/roles`;
    assert.equal((await identity(s, "HEAD", `${path}/${roleId}`, { token: admin })).status, 404);
    assert.equal((await identity(s, "PUT", `${path}/${roleId}`, { token: admin })).status, 204);
    assert.equal((await identity(s, "HEAD", `${path}/${roleId}`, { token: admin })).status, 204);
    const listed = await identity(s, "GET", path, { token: admin });
    assert.deepEqual(
      listed.body.roles.map((r: { id: string }) => r.id),
      [roleId],
    );
    const rows = await identity(s, "GET", `/role_assignments?scope.system=all&user.id=${s.demo.userId}`, {
      token: admin,
    });
    assert.deepEqual(
      rows.body.role_assignments.map((r: { scope: unknown; role: { id: string } }) => ({
        scope: r.scope,
        role: r.role.id,
      })),
      [{ scope: { system: { all: true } }, role: roleId }],
    );
    const login = () =>
      identity(s, "POST", "/auth/tokens", {
        body: passwordAuth({ name: s.demo.username, domain: s.demo.userDomainName }, s.demo.password, {
          system: { all: true },
        }),
      });
    const granted = await login();
    assert.equal(granted.status, 201);
    const token = granted.headers.get("x-subject-token")!;
    assert.equal((await identity(s, "DELETE", `${path}/${roleId}`, { token: admin })).status, 204);
    assert.equal((await login()).status, 401);
    // Roles are read at validation: the system token of a user who lost the role is no more.
    const seen = await identity(s, "GET", "/auth/tokens", {
      token: admin,
      headers: { "X-Subject-Token": token },
    });
    assert.equal(seen.status, 404);
  });
});
