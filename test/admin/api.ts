// HTTP-layer helpers for the admin API tests of pools, instances, assignments, user resources
// and sessions: inject requests into the stack's admin app, make Keystone users and groups.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before } from "node:test";
import { type Stack, startStack } from "../helpers/stack.ts";

export interface Reply {
  status: number;
  body: any;
}

export interface CallOptions {
  token?: string | null;
  body?: unknown;
}

/** Calls the admin API through Fastify's inject (the admin token unless told otherwise). */
export function api(stack: Stack) {
  const app = stack.runtime.admin;
  assert.ok(app, "the stack runs the admin API");
  return async (method: string, url: string, opts: CallOptions = {}): Promise<Reply> => {
    const token = opts.token === undefined ? stack.adminToken : opts.token;
    const res = await app.inject({
      method: method as "GET",
      url,
      headers: token ? { "x-auth-token": token } : {},
      ...(opts.body !== undefined ? { payload: opts.body as object } : {}),
    });
    return { status: res.statusCode, body: res.body ? res.json() : undefined };
  };
}

/**
 * Starts a stack for this test file before its first test and stops it after its last; hands
 * it, with a caller of its admin API, to `ready` (which may also set up the file's fixtures).
 */
export function useAdminStack(
  ready: (started: { stack: Stack; call: ReturnType<typeof api> }) => unknown,
): void {
  let stack: Stack | undefined;
  before(async () => {
    stack = await startStack();
    await ready({ stack, call: api(stack) });
  });
  after(() => stack?.stop());
}

export function assertError(reply: Reply, status: number) {
  assert.equal(reply.status, status, JSON.stringify(reply.body));
  assert.deepEqual(Object.keys(reply.body), ["error"]);
  assert.equal(reply.body.error.code, status);
  assert.equal(typeof reply.body.error.title, "string");
  assert.ok(reply.body.error.message.length > 0);
}

/** 401 without a token and 403 with a member token: the route is admin-only. */
export async function assertAdminOnly(
  call: ReturnType<typeof api>,
  stack: Stack,
  method: string,
  url: string,
  body?: unknown,
) {
  assertError(await call(method, url, { token: null, body }), 401);
  assertError(await call(method, url, { token: "not-a-token", body }), 401);
  assertError(await call(method, url, { token: stack.memberToken, body }), 403);
}

export const unique = (prefix: string) => `${prefix}-${randomBytes(4).toString("hex")}`;

export function keystone(stack: Stack) {
  return stack.runtime.deps.cloud.keystone;
}

/** A fresh Keystone user in the Default domain with a known password. */
export async function makeUser(stack: Stack, name = unique("user")) {
  const password = `Pw-${randomBytes(6).toString("hex")}`;
  const user = await keystone(stack).createUser({ name, domainId: "default", password });
  return { id: user.id, name, password };
}

export async function makeGroup(stack: Stack, name = unique("group")) {
  return keystone(stack).createGroup({ name, domainId: "default" });
}

export async function grantMember(
  stack: Stack,
  projectId: string,
  actor: { userId: string } | { groupId: string },
) {
  const ks = keystone(stack);
  const role = (await ks.findRole("member")) ?? (await ks.createRole("member"));
  await ks.grantProjectRole(projectId, actor, role.id);
}

/** Creates a TRS project on the simulator's seed flavor, image and network. */
export async function makePool(
  call: ReturnType<typeof api>,
  stack: Stack,
  extra: Record<string, unknown> = {},
) {
  const { seed } = stack.sim;
  const res = await call("POST", "/v1/projects/", {
    body: {
      project: {
        name: unique("pool"),
        flavor_id: seed.flavorId,
        image_id: seed.imageId,
        network_id: seed.networkId,
        ...extra,
      },
    },
  });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.project.id as string;
}

/** Creates instances in a pool and returns their ids. */
export async function makeServers(
  call: ReturnType<typeof api>,
  projectId: string,
  server: Record<string, unknown> = {},
): Promise<string[]> {
  const res = await call("POST", "/v1/servers/", { body: { server: { project_id: projectId, ...server } } });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body.servers.map((s: { id: string }) => s.id);
}

/** Waits until Nova reports every server ACTIVE (the simulator builds in ~200 ms). */
export async function waitActive(stack: Stack, ids: string[]) {
  const nova = stack.runtime.deps.cloud.nova;
  for (let i = 0; i < 200; i++) {
    const states = await Promise.all(ids.map(async (id) => (await nova.getServer(id)).status));
    if (states.every((s) => s === "ACTIVE")) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`servers ${ids.join(", ")} never became ACTIVE`);
}
