// Builds the admin app around the parts a route test cares about, with a TokenValidator test
// double: "admin-token" has the admin role, "member-token" only member, anything else is invalid.
import assert from "node:assert/strict";
import pino from "pino";
import { createAdminApp } from "../../src/admin/app.ts";
import { loadConfig } from "../../src/config/load.ts";
import type { Caller, TokenValidator } from "../../src/core/identity.ts";
import type { Core } from "../../src/core/index.ts";
import { AdminScopes } from "../../src/core/scope.ts";
import type { App } from "../../src/http/app.ts";
import { tokenAuth } from "../../src/http/auth.ts";

const caller = (roles: string[]): Caller => ({
  userId: `user-${roles[0]}`,
  userName: roles[0],
  domainId: "default",
  projectId: "p1",
  projectName: "admin",
  scope: {
    kind: "project",
    projectId: "p1",
    projectName: "admin",
    domainId: "default",
    domainName: "Default",
  },
  roles,
  expiresAt: new Date(Date.now() + 3600_000),
});

export const tokens: TokenValidator = {
  async validate(token) {
    if (token === "admin-token") return caller(["admin", "member"]);
    if (token === "member-token") return caller(["member"]);
    return undefined;
  },
};

/** The admin app; `core` holds only the services the tested routes use. */
export function adminApp(core: Partial<Core>, version = "9.8.7"): Promise<App> {
  const config = loadConfig({ env: {} });
  // p1 stands for rs-server's service account's project: the admin project.
  const scopes = new AdminScopes(config.auth, async () => "p1");
  return createAdminApp({
    config,
    core: { scopes, ...core } as Core,
    auth: tokenAuth(tokens, scopes),
    logger: pino({ level: "silent" }),
    health: [],
    version,
  });
}

export function assertEnvelope(res: { statusCode: number; json(): any }, status: number, title: string) {
  assert.equal(res.statusCode, status);
  const body = res.json();
  assert.deepEqual(Object.keys(body), ["error"]);
  assert.equal(body.error.code, status);
  assert.equal(body.error.title, title);
  assert.equal(typeof body.error.message, "string");
  assert.ok(body.error.message.length > 0);
}

/** The auth outcomes every admin-only route shares: 403 member, 401 none or bad token. */
export async function assertAdminOnly(app: App, url: string) {
  assertEnvelope(await app.inject({ url, headers: { "x-auth-token": "member-token" } }), 403, "Forbidden");
  assertEnvelope(await app.inject({ url }), 401, "Unauthorized");
  assertEnvelope(await app.inject({ url, headers: { "x-auth-token": "forged" } }), 401, "Unauthorized");
}
