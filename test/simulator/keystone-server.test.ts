// The simulator server around Keystone: fault injection on the other services only, the
// /sim/faults control, and clouds.yaml for the seeded accounts.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { parse } from "yaml";
import { writeCloudsYaml } from "../../src/simulator/server.ts";
import { adminToken, useSimulator } from "../helpers/simulator.ts";
import { issueToken } from "../helpers/stack.ts";

const sim = useSimulator();

describe("simulator server", () => {
  test("the simulator's controls take an admin token", async () => {
    const s = sim();
    const member = await issueToken(s.authUrl, { ...s.demo, projectId: s.demo.projectId });
    for (const [method, path] of [
      ["GET", "/sim/faults"],
      ["PUT", "/sim/faults"],
      ["GET", "/sim/stats"],
      ["DELETE", "/sim/stats"],
    ]) {
      const body = method === "PUT" ? JSON.stringify({ errorRate: 1 }) : undefined;
      const headers = { "Content-Type": "application/json" };
      const none = await fetch(`${s.url}${path}`, { method, headers, body });
      assert.equal(none.status, 401, `${method} ${path}`);
      const forged = await fetch(`${s.url}${path}`, {
        method,
        headers: { ...headers, "X-Auth-Token": "forged" },
        body,
      });
      assert.equal(forged.status, 401, `${method} ${path}`);
      const asMember = await fetch(`${s.url}${path}`, {
        method,
        headers: { ...headers, "X-Auth-Token": member },
        body,
      });
      assert.equal(asMember.status, 403, `${method} ${path}`);
    }
    assert.equal(s.ctx.faults.errorRate, 0, "nothing changed");
  });

  test("keystoneDown: Keystone answers 503 until it is back; the controls still take the admin token", async () => {
    const s = sim();
    const token = await adminToken(s);
    const set = (keystoneDown: boolean) =>
      fetch(`${s.url}/sim/faults`, {
        method: "PUT",
        headers: { "Content-Type": "application/json", "X-Auth-Token": token },
        body: JSON.stringify({ keystoneDown }),
      });
    assert.equal((await set(true)).status, 200);
    assert.equal(
      (await fetch(`${s.url}/identity/v3/auth/projects`, { headers: { "X-Auth-Token": token } })).status,
      503,
    );
    assert.equal((await set(false)).status, 200);
    assert.equal(
      (await fetch(`${s.url}/identity/v3/auth/projects`, { headers: { "X-Auth-Token": token } })).status,
      200,
    );
  });

  test("PUT /sim/faults merges, validates and is read back by GET", async () => {
    const s = sim();
    const token = await adminToken(s);
    const put = await fetch(`${s.url}/sim/faults`, {
      method: "PUT",
      headers: { "Content-Type": "application/json", "X-Auth-Token": token },
      body: JSON.stringify({ errorBuilds: true }),
    });
    assert.equal(put.status, 200);
    assert.deepEqual(
      await (await fetch(`${s.url}/sim/faults`, { headers: { "X-Auth-Token": token } })).json(),
      {
        errorRate: 0,
        latencyMs: 0,
        errorBuilds: true,
        stuckBuild: false,
        keystoneDown: false,
      },
    );
    assert.equal(s.ctx.faults.errorBuilds, true, "the in-process context sees the change");
    const bad = await fetch(`${s.url}/sim/faults`, {
      method: "PUT",
      headers: { "Content-Type": "application/json", "X-Auth-Token": token },
      body: JSON.stringify({ errorRate: 2 }),
    });
    assert.equal(bad.status, 400);
    const unknown = await fetch(`${s.url}/sim/faults`, {
      method: "PUT",
      headers: { "Content-Type": "application/json", "X-Auth-Token": token },
      body: JSON.stringify({ nonsense: 1 }),
    });
    assert.equal(unknown.status, 400);
    Object.assign(s.ctx.faults, { errorBuilds: false });
  });

  test("an error rate of 1 makes other services answer 503 while Keystone keeps answering", async () => {
    const s = sim();
    const token = await adminToken(s);
    s.ctx.faults.errorRate = 1;
    try {
      const compute = await fetch(`${s.url}/compute/v2.1/servers`, { headers: { "X-Auth-Token": token } });
      assert.equal(compute.status, 503);
      assert.equal((await compute.json()).title, "Service Unavailable");
      const ks = await fetch(`${s.authUrl}/projects`, { headers: { "X-Auth-Token": token } });
      assert.equal(ks.status, 200);
    } finally {
      s.ctx.faults.errorRate = 0;
    }
  });

  test("writeCloudsYaml writes rs-admin and rs-demo in clouds.yaml form, readable by the owner only", () => {
    const s = sim();
    const dir = mkdtempSync(join(tmpdir(), "rs-clouds-"));
    try {
      const path = join(dir, "clouds.yaml");
      writeCloudsYaml(s, path);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const doc = parse(readFileSync(path, "utf8"));
      assert.deepEqual(doc.clouds["rs-demo"], {
        auth: {
          auth_url: s.authUrl,
          username: "demo",
          password: s.demo.password,
          user_domain_name: "demo",
          project_name: "demo",
          project_domain_name: "demo",
        },
        region_name: "RegionOne",
        interface: "public",
        identity_api_version: 3,
      });
      assert.equal(doc.clouds["rs-admin"].auth.username, "admin");
      assert.equal(doc.clouds["rs-admin"].auth.user_domain_name, "Default");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
