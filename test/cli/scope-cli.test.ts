// The CLI asks Keystone for the scope the OpenStack tools would (docs/cli.md): the system with
// OS_SYSTEM_SCOPE=all, a domain with OS_DOMAIN_NAME and no project; the admin API then allows
// what that scope allows (docs/security.md#scopes).
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { loginFromCloud, loginFromEnv } from "../../src/cli/admin/credentials.ts";
import { keystone, useAdminStack } from "../admin/api.ts";
import type { Stack } from "../helpers/stack.ts";
import { adminEnv, cleanEnv, failed, ok, runCli } from "./run.ts";

let stack: Stack;
useAdminStack((started) => {
  stack = started.stack;
});

const scratch = mkdtempSync(join(tmpdir(), "rs-scope-cli-"));
after(() => rmSync(scratch, { recursive: true, force: true }));

const base = { OS_AUTH_URL: "http://127.0.0.1:1/v3", OS_USERNAME: "u", OS_PASSWORD: "p" };

test("the environment's scope: system, project, then domain; none of them is an error", () => {
  assert.deepEqual(loginFromEnv({ ...base, OS_SYSTEM_SCOPE: "all", OS_PROJECT_NAME: "x" })?.scope, {
    system: "all",
  });
  assert.deepEqual(loginFromEnv({ ...base, OS_PROJECT_NAME: "x", OS_DOMAIN_NAME: "d" })?.scope, {
    projectName: "x",
    projectDomainName: "d",
  });
  assert.deepEqual(loginFromEnv({ ...base, OS_DOMAIN_NAME: "d" })?.scope, { domainName: "d" });
  assert.deepEqual(loginFromEnv({ ...base, OS_DOMAIN_ID: "abc" })?.scope, { domainId: "abc" });
  assert.throws(() => loginFromEnv(base), /OS_PROJECT_NAME \(or OS_SYSTEM_SCOPE=all, or OS_DOMAIN_NAME\)/);
});

test("a clouds.yaml cloud's scope: system_scope, or a domain with no project", () => {
  const file = join(scratch, "clouds.yaml");
  const auth = "auth_url: http://127.0.0.1:1/v3, username: u, password: p";
  writeFileSync(
    file,
    `clouds:\n  sys: {auth: {${auth}, system_scope: all}}\n  dom: {auth: {${auth}, domain_name: demo}}\n  proj: {auth: {${auth}, project_name: admin, domain_name: demo}}\n`,
  );
  const scopeOf = (cloud: string) => loginFromCloud(cloud, { cloudsFile: file }).scope;
  assert.deepEqual(scopeOf("sys"), { system: "all" });
  assert.deepEqual(scopeOf("dom"), { domainName: "demo" });
  assert.deepEqual(scopeOf("proj"), { projectName: "admin", projectDomainName: "demo" });
});

test("a system-scoped CLI is a cloud admin; a domain-scoped one is refused cloud-wide commands", async () => {
  const ks = keystone(stack);
  const admin = await ks.findRole("admin");
  assert.ok(admin);
  const password = `Pw-${randomBytes(8).toString("hex")}`;
  const name = `clidadmin-${randomBytes(3).toString("hex")}`;
  const domainId = stack.sim.seed.demoDomainId;
  const user = await ks.createUser({ name, domainId, password });
  await ks.grantDomainRole(domainId, { userId: user.id }, admin.id);

  const { OS_PROJECT_NAME: _p, OS_PROJECT_DOMAIN_NAME: _d, ...noProject } = adminEnv(stack);
  const system = await runCli(["info", "-f", "value", "-c", "version"], {
    ...noProject,
    OS_SYSTEM_SCOPE: "all",
  });
  assert.match(ok(system), /^\d+\.\d+\.\d+/);

  const domainEnv = {
    ...cleanEnv(),
    RS_SERVER_URL: stack.adminUrl,
    OS_AUTH_URL: stack.sim.authUrl,
    OS_USERNAME: name,
    OS_PASSWORD: password,
    OS_USER_DOMAIN_NAME: "demo",
    OS_DOMAIN_NAME: "demo",
  };
  failed(await runCli(["info"], domainEnv), 1, /cloud admin/);
  ok(await runCli(["pools", "list"], domainEnv));
});
