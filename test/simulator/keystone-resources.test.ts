// The simulated Keystone's resources: projects with tags, domains, users, groups, grants,
// effective role assignments, policy, and persistence across a restart.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { startSimulator } from "../../src/simulator/server.ts";
import { freePort } from "../../src/store/embedded.ts";
import { adminToken, identity, passwordAuth, useSimulator } from "../helpers/simulator.ts";

const sim = useSimulator();
let n = 0;
const name = (p: string) => `${p}-${Date.now()}-${n++}`;

async function demoToken() {
  const s = sim();
  const res = await identity(s, "POST", "/auth/tokens", {
    body: passwordAuth({ id: s.demo.userId }, s.demo.password, { project: { id: s.demo.projectId } }),
  });
  return res.headers.get("x-subject-token")!;
}

describe("projects", () => {
  test("create, read, filter by tags and name, update tags, delete", async () => {
    const s = sim();
    const token = await adminToken(s);
    const pname = name("pool");
    const created = await identity(s, "POST", "/projects", {
      token,
      body: { project: { name: pname, domain_id: s.demo.userDomainId, description: "d", tags: ["trs"] } },
    });
    assert.equal(created.status, 201);
    const p = created.body.project;
    assert.equal(p.parent_id, s.demo.userDomainId, "a top-level project's parent is its domain");
    assert.deepEqual(p.tags, ["trs"]);
    assert.equal(p.is_domain, false);
    assert.equal(p.links.self, `${s.authUrl}/projects/${p.id}`);

    const byTag = await identity(s, "GET", `/projects?tags=trs&domain_id=${s.demo.userDomainId}`, { token });
    assert.deepEqual(
      byTag.body.projects.map((x: any) => x.id),
      [p.id],
    );
    const notTagged = await identity(s, "GET", "/projects?not-tags=trs", { token });
    assert.ok(!notTagged.body.projects.some((x: any) => x.id === p.id));
    const byName = await identity(s, "GET", `/projects?name=${pname}`, { token });
    assert.equal(byName.body.projects.length, 1);

    assert.equal((await identity(s, "PUT", `/projects/${p.id}/tags/extra`, { token })).status, 201);
    assert.deepEqual((await identity(s, "GET", `/projects/${p.id}/tags`, { token })).body.tags, [
      "trs",
      "extra",
    ]);
    assert.equal((await identity(s, "GET", `/projects/${p.id}/tags/extra`, { token })).status, 204);
    assert.equal((await identity(s, "GET", `/projects/${p.id}/tags/nope`, { token })).status, 404);
    const bad = await identity(s, "PUT", `/projects/${p.id}/tags`, { token, body: { tags: ["a,b"] } });
    assert.equal(bad.status, 400);

    const patched = await identity(s, "PATCH", `/projects/${p.id}`, {
      token,
      body: { project: { tags: ["trs"], enabled: false } },
    });
    assert.deepEqual(patched.body.project.tags, ["trs"]);
    assert.equal(patched.body.project.enabled, false);
    const disabled = await identity(s, "GET", `/projects?enabled=false&name=${pname}`, { token });
    assert.equal(disabled.body.projects.length, 1);

    assert.equal((await identity(s, "DELETE", `/projects/${p.id}`, { token })).status, 204);
    const gone = await identity(s, "GET", `/projects/${p.id}`, { token });
    assert.equal(gone.status, 404);
    assert.equal(gone.body.error.message, `Could not find project: ${p.id}.`);
  });

  test("two projects with one name in one domain conflict (409)", async () => {
    const s = sim();
    const token = await adminToken(s);
    const body = { project: { name: name("dup"), domain_id: "default" } };
    assert.equal((await identity(s, "POST", "/projects", { token, body })).status, 201);
    const again = await identity(s, "POST", "/projects", { token, body });
    assert.equal(again.status, 409);
    assert.match(again.body.error.message, /same name in the same domain/);
  });
});

describe("domains and users", () => {
  test("domains list by name; an enabled domain cannot be deleted", async () => {
    const s = sim();
    const token = await adminToken(s);
    const dname = name("dom");
    const d = (await identity(s, "POST", "/domains", { token, body: { domain: { name: dname } } })).body
      .domain;
    const listed = await identity(s, "GET", `/domains?name=${dname}`, { token });
    assert.deepEqual(
      listed.body.domains.map((x: any) => x.id),
      [d.id],
    );
    assert.equal((await identity(s, "DELETE", `/domains/${d.id}`, { token })).status, 403);
    await identity(s, "PATCH", `/domains/${d.id}`, { token, body: { domain: { enabled: false } } });
    assert.equal((await identity(s, "DELETE", `/domains/${d.id}`, { token })).status, 204);
  });

  test("users filter by name and domain; duplicates conflict; options are validated", async () => {
    const s = sim();
    const token = await adminToken(s);
    const uname = name("u");
    const body = { user: { name: uname, domain_id: s.demo.userDomainId, email: "u@example.org" } };
    const u = (await identity(s, "POST", "/users", { token, body })).body.user;
    assert.equal(u.email, "u@example.org");
    assert.deepEqual(u.options, {});
    const found = await identity(s, "GET", `/users?name=${uname}&domain_id=${s.demo.userDomainId}`, {
      token,
    });
    assert.deepEqual(
      found.body.users.map((x: any) => x.id),
      [u.id],
    );
    assert.equal((await identity(s, "POST", "/users", { token, body })).status, 409);
    const badOption = await identity(s, "PATCH", `/users/${u.id}`, {
      token,
      body: { user: { options: { no_such_option: true } } },
    });
    assert.equal(badOption.status, 400);
  });
});

describe("groups and role assignments", () => {
  test("effective assignments expand group membership and implied roles, with names", async () => {
    const s = sim();
    const token = await adminToken(s);
    const project = (
      await identity(s, "POST", "/projects", {
        token,
        body: { project: { name: name("p"), domain_id: "default" } },
      })
    ).body.project;
    const user = (
      await identity(s, "POST", "/users", {
        token,
        body: { user: { name: name("gu"), domain_id: "default" } },
      })
    ).body.user;
    const group = (
      await identity(s, "POST", "/groups", {
        token,
        body: { group: { name: name("g"), domain_id: "default" } },
      })
    ).body.group;
    const member = (await identity(s, "GET", "/roles?name=member", { token })).body.roles[0];

    assert.equal((await identity(s, "PUT", `/groups/${group.id}/users/${user.id}`, { token })).status, 204);
    const head = await fetch(`${s.authUrl}/groups/${group.id}/users/${user.id}`, {
      method: "HEAD",
      headers: { "X-Auth-Token": token },
    });
    assert.equal(head.status, 204);
    const groupsOf = await identity(s, "GET", `/users/${user.id}/groups`, { token });
    assert.deepEqual(
      groupsOf.body.groups.map((g: any) => g.id),
      [group.id],
    );
    const grant = `/projects/${project.id}/groups/${group.id}/roles/${member.id}`;
    assert.equal((await identity(s, "PUT", grant, { token })).status, 204);
    assert.equal((await identity(s, "HEAD", grant, { token })).status, 204);

    const direct = await identity(s, "GET", `/role_assignments?scope.project.id=${project.id}`, { token });
    assert.equal(direct.body.role_assignments.length, 1);
    assert.deepEqual(direct.body.role_assignments[0].group, { id: group.id });

    const eff = await identity(
      s,
      "GET",
      `/role_assignments?scope.project.id=${project.id}&effective&include_names`,
      {
        token,
      },
    );
    const rows = eff.body.role_assignments;
    assert.deepEqual(rows.map((r: any) => r.role.name).sort(), ["member", "reader"]);
    for (const r of rows) {
      assert.equal(r.user.id, user.id);
      assert.equal(r.user.name, user.name);
      assert.equal(r.user.domain.name, "Default");
      assert.equal(r.scope.project.name, project.name);
      assert.equal(r.links.membership, `${s.authUrl}/groups/${group.id}/users/${user.id}`);
      assert.equal(r.group, undefined);
    }
    const projects = await identity(s, "GET", `/users/${user.id}/projects`, { token });
    assert.deepEqual(
      projects.body.projects.map((p: any) => p.id),
      [project.id],
    );

    const combined = await identity(s, "GET", `/role_assignments?effective&group.id=${group.id}`, { token });
    assert.equal(combined.status, 400);

    assert.equal(
      (await identity(s, "DELETE", `/groups/${group.id}/users/${user.id}`, { token })).status,
      204,
    );
    const after = await identity(s, "GET", `/role_assignments?scope.project.id=${project.id}&effective`, {
      token,
    });
    assert.equal(after.body.role_assignments.length, 0);
  });
});

describe("policy", () => {
  test("a member gets 403 on admin calls but may read itself and its own project", async () => {
    const s = sim();
    const token = await demoToken();
    for (const path of ["/projects", "/users", "/role_assignments", "/domains"]) {
      const res = await identity(s, "GET", path, { token });
      assert.equal(res.status, 403, path);
      assert.equal(res.body.error.title, "Forbidden");
    }
    const create = await identity(s, "POST", "/projects", { token, body: { project: { name: name("x") } } });
    assert.equal(create.status, 403);
    assert.match(create.body.error.message, /identity:create_project/);
    assert.equal((await identity(s, "GET", `/users/${s.demo.userId}`, { token })).status, 200);
    assert.equal((await identity(s, "GET", `/users/${s.admin.userId}`, { token })).status, 403);
    assert.equal((await identity(s, "GET", `/projects/${s.demo.projectId}`, { token })).status, 200);
    assert.equal((await identity(s, "GET", `/users/${s.demo.userId}/projects`, { token })).status, 200);
  });
});

describe("persistence", () => {
  const dir = mkdtempSync(join(tmpdir(), "rs-sim-"));
  after(() => rmSync(dir, { recursive: true, force: true }));

  test("a restart on the same data directory keeps ids, passwords and created resources", async () => {
    const first = await startSimulator({ port: 0, dataDir: dir });
    const token = await adminToken(first);
    const pname = name("kept");
    await identity(first, "POST", "/projects", {
      token,
      body: { project: { name: pname, domain_id: "default" } },
    });
    await first.stop();
    assert.equal(statSync(join(dir, "simulator.json")).mode & 0o777, 0o600);

    // On another port: this process's fetch still holds keep-alive connections to the first
    // one's (the saved port, which port 0 would take again: test/simulator/persist-port.test.ts).
    const second = await startSimulator({ port: await freePort(), dataDir: dir });
    try {
      assert.equal(second.admin.password, first.admin.password);
      assert.equal(second.demo.userId, first.demo.userId);
      assert.deepEqual(second.seed, first.seed);
      const again = await adminToken(second);
      const found = await identity(second, "GET", `/projects?name=${pname}`, { token: again });
      assert.equal(found.body.projects.length, 1);
      const old = await identity(second, "GET", "/auth/tokens", {
        token: again,
        headers: { "X-Subject-Token": token },
      });
      assert.equal(old.status, 200, "tokens survive a restart, as Fernet tokens do");
    } finally {
      await second.stop();
    }
  });
});
