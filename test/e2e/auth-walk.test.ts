// Every route of the admin API, read from its own OpenAPI document, refuses a request without
// a token (401) and one with a member's token (403) — so a new route cannot forget either —
// and one with another project's admin token (403); a domain admin's token reaches the pool
// routes named here and no other (a new route is cloud-wide until said otherwise).
// The exceptions are named here: routes any user may call (the core authorizes the caller),
// and the few public ones, which must not declare a token. The broker API takes its users'
// credentials in the body: no route of it may declare the admin token.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, test } from "node:test";
import { api, makePool } from "../admin/api.ts";
import { passwordToken, type Stack, startStack } from "../helpers/stack.ts";

let stack: Stack;
before(async () => {
  stack = await startStack();
});
after(() => stack?.stop());

/** Routes that take any valid user token; the core decides what the user may do. */
const USER_ROUTES = new Set(["POST /v1/sessions", "PUT /v1/sessions/{session_id}"]);
/**
 * Routes a domain admin may call too, for the pools of its domain (docs/security.md#scopes);
 * every other route needs a cloud admin (a system-scoped token or the admin project).
 */
const POOL_ROUTES = new Set([
  "GET /v1/projects",
  "POST /v1/projects",
  "GET /v1/projects/actions/get-settings",
  "GET /v1/projects/{project_id}",
  "PUT /v1/projects/{project_id}",
  "DELETE /v1/projects/{project_id}",
  "GET /v1/projects/{project_id}/statistics",
  "POST /v1/projects/{project_id}/actions/auto-allocate-users",
  "GET /v1/projects/{project_id}/access",
  "PUT /v1/projects/{project_id}/access/users/{user_id}",
  "DELETE /v1/projects/{project_id}/access/users/{user_id}",
  "PUT /v1/projects/{project_id}/access/groups/{group_id}",
  "DELETE /v1/projects/{project_id}/access/groups/{group_id}",
]);
/** Routes anyone may call: no token declared, none asked. */
const PUBLIC_ROUTES = new Set(["GET /health", "POST /v1/auth/tokens"]);

interface Operation {
  security?: unknown[];
}

async function operations(base: string) {
  const doc = (await (await fetch(`${base}/docs/json`)).json()) as {
    paths: Record<string, Record<string, Operation>>;
  };
  return Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(([method, op]) => ({
      route: `${method.toUpperCase()} ${path.replace(/\/$/, "")}`,
      method: method.toUpperCase(),
      url: path.replace(/\{[^}]+\}/g, "x"),
      secured: (op.security?.length ?? 0) > 0,
    })),
  );
}

async function status(base: string, method: string, url: string, token?: string) {
  const res = await fetch(`${base}${url}`, {
    method,
    headers: token ? { "X-Auth-Token": token } : {},
  });
  await res.arrayBuffer();
  return res.status;
}

test("admin API: every route refuses no token (401) and a member token (403)", async () => {
  const ops = await operations(stack.adminUrl);
  const v1 = ops.filter((o) => o.url.startsWith("/v1/"));
  assert.ok(v1.length >= 30, `only ${v1.length} /v1 operations in the document`);
  for (const op of ops) {
    if (PUBLIC_ROUTES.has(op.route)) {
      assert.equal(op.secured, false, `${op.route} is public but declares a token`);
      continue;
    }
    assert.ok(op.secured, `${op.route} declares no token in the OpenAPI document`);
    assert.equal(await status(stack.adminUrl, op.method, op.url), 401, `${op.route} without a token`);
    assert.equal(
      await status(stack.adminUrl, op.method, op.url, "not-a-token"),
      401,
      `${op.route} with a token Keystone refuses`,
    );
    const member = await status(stack.adminUrl, op.method, op.url, stack.memberToken);
    if (USER_ROUTES.has(op.route)) {
      assert.ok(member !== 401 && member !== 403, `${op.route} takes a member's token, got ${member}`);
    } else {
      assert.equal(member, 403, `${op.route} with a member's token`);
    }
  }
});

test("admin API: a domain admin reaches the pool routes only, another project's admin none", async () => {
  const ks = stack.runtime.deps.cloud.keystone;
  const admin = await ks.findRole("admin");
  assert.ok(admin);
  const password = `Pw-${randomBytes(8).toString("hex")}`;
  const domainId = stack.sim.seed.demoDomainId;
  const dadmin = await ks.createUser({
    name: `dadmin-${randomBytes(3).toString("hex")}`,
    domainId,
    password,
  });
  await ks.grantDomainRole(domainId, { userId: dadmin.id }, admin.id);
  const padmin = await ks.createUser({
    name: `padmin-${randomBytes(3).toString("hex")}`,
    domainId,
    password,
  });
  await ks.grantProjectRole(stack.sim.demo.projectId, { userId: padmin.id }, admin.id);
  const domainToken = await scoped(dadmin.name, password, { domain: { id: domainId } });
  const projectToken = await scoped(padmin.name, password, { project: { id: stack.sim.demo.projectId } });

  const ops = (await operations(stack.adminUrl)).filter(
    (o) => o.secured && !USER_ROUTES.has(o.route) && o.url.startsWith("/v1/"),
  );
  for (const route of POOL_ROUTES)
    assert.ok(
      ops.some((o) => o.route === route),
      `${route} is gone`,
    );
  for (const op of ops) {
    const project = await status(stack.adminUrl, op.method, op.url, projectToken);
    assert.equal(project, 403, `${op.route} with another project's admin token`);
    const domain = await status(stack.adminUrl, op.method, op.url, domainToken);
    if (POOL_ROUTES.has(op.route))
      assert.ok(domain !== 401 && domain !== 403, `${op.route} takes a domain admin's token, got ${domain}`);
    else assert.equal(domain, 403, `${op.route} with a domain admin's token`);
  }
});

test("admin API: a pool's project admin reads pool routes and creates instances, nothing else", async () => {
  const ks = stack.runtime.deps.cloud.keystone;
  const admin = await ks.findRole("admin");
  assert.ok(admin);
  const pool = await makePool(api(stack), stack);
  const password = `Pw-${randomBytes(8).toString("hex")}`;
  const domainId = stack.sim.seed.demoDomainId;
  const owner = await ks.createUser({ name: `powner-${randomBytes(3).toString("hex")}`, domainId, password });
  await ks.grantProjectRole(pool, { userId: owner.id }, admin.id);
  const token = await scoped(owner.name, password, { project: { id: pool } });
  /** What it may call (the walk's ids are "x": another pool's, so 404, or a bad body, 400). */
  const allowed = new Set([
    ...[...POOL_ROUTES].filter((r) => r.startsWith("GET ")),
    "POST /v1/servers",
    "POST /v1/projects/{project_id}/actions/auto-allocate-users",
  ]);
  const ops = (await operations(stack.adminUrl)).filter(
    (o) => o.secured && !USER_ROUTES.has(o.route) && o.url.startsWith("/v1/"),
  );
  for (const op of ops) {
    const got = await status(stack.adminUrl, op.method, op.url, token);
    if (allowed.has(op.route)) assert.ok(got !== 401 && got !== 403, `${op.route} takes it, got ${got}`);
    else assert.equal(got, 403, `${op.route} with a pool's project admin token`);
  }
});

test("admin API: a system-scoped admin token is refused nowhere (the admin project's neither)", async () => {
  const a = stack.sim.admin;
  const system = await passwordToken(
    stack.sim.authUrl,
    { name: a.username, domain: { name: a.userDomainName }, password: a.password },
    { system: { all: true } },
  );
  const ops = (await operations(stack.adminUrl)).filter((o) => o.secured && o.url.startsWith("/v1/"));
  for (const op of ops) {
    for (const [name, token] of [
      ["system", system],
      ["admin-project", stack.adminToken],
    ]) {
      const got = await status(stack.adminUrl, op.method, op.url, token);
      assert.ok(got !== 401 && got !== 403, `${op.route} with the ${name} admin's token, got ${got}`);
    }
  }
});

function scoped(name: string, password: string, scope: unknown): Promise<string> {
  return passwordToken(
    stack.sim.authUrl,
    { name, domain: { id: stack.sim.seed.demoDomainId }, password },
    scope,
  );
}

test("broker API: no route declares the admin token", async () => {
  const ops = await operations(stack.brokerUrl);
  assert.ok(ops.some((o) => o.route === "POST /v1/request-vm"));
  for (const op of ops) assert.equal(op.secured, false, `${op.route} declares the admin token`);
});
