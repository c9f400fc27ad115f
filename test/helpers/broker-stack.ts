// What the broker tests share on top of the test stack: JSON calls to either API, TRS pools
// made through the admin API, Keystone users with a role on them, and polling get-vm until a
// request has finished.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { instanceGroupName } from "../../src/core/user-resources.ts";
import type { Stack } from "./stack.ts";

export interface Reply {
  status: number;
  headers: Headers;
  body: any;
}

export async function call(
  base: string,
  method: string,
  path: string,
  opts: { body?: unknown; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { Accept: "application/json", ...opts.headers };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const res = await fetch(`${base}${path}`, {
    method,
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : undefined };
}

export const broker = (s: Stack, path: string, body: unknown, headers?: Record<string, string>) =>
  call(s.brokerUrl, "POST", path, { body, headers });

export const uniq = (prefix: string) => `${prefix}-${randomBytes(4).toString("hex")}`;

/** A TRS pool made through the admin core; answers its id (the Keystone project id). */
export async function makePool(
  s: Stack,
  settings: Record<string, unknown> = {},
): Promise<{ id: string; name: string }> {
  const name = (settings.name as string) ?? uniq("pool");
  const pool = await s.runtime.core.pools.create({
    name,
    flavor_id: s.sim.seed.flavorId,
    image_id: s.sim.seed.imageId,
    network_id: s.sim.seed.networkId,
    ...settings,
  });
  return { id: pool.id, name };
}

/** Instances of a pool made through the admin core (they start in BUILD). */
export async function makeInstances(s: Stack, poolId: string, count: number): Promise<string[]> {
  return (await s.runtime.core.instances.create({ projectId: poolId, count }, null)).ids;
}

export interface TestUser {
  id: string;
  name: string;
  password: string;
  domain: string;
}

/** A Keystone user in the Default domain with the member role on the given projects. */
export async function makeUser(s: Stack, projectIds: string[], name = uniq("user")): Promise<TestUser> {
  const ks = s.runtime.deps.cloud.keystone;
  const password = `pw-${randomBytes(6).toString("hex")}`;
  const user = await ks.createUser({ name, domainId: "default", password });
  const member = await ks.findRole("member");
  assert.ok(member, "the simulator has a member role");
  for (const p of projectIds) await ks.grantProjectRole(p, { userId: user.id }, member.id);
  return { id: user.id, name, password, domain: "Default" };
}

export const login = (u: TestUser, extra: Record<string, unknown> = {}) => ({
  user: u.name,
  password: u.password,
  user_domain_name: u.domain,
  ...extra,
});

/** request-vm for the user; asserts it was accepted and answers the id and the token. */
export async function requestVm(
  s: Stack,
  u: TestUser,
  extra: Record<string, unknown> = {},
): Promise<{ requestId: string; token: string; body: any }> {
  const res = await broker(s, "/v1/request-vm/", login(u, extra));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  const token = res.headers.get("x-auth-token");
  assert.ok(token);
  return { requestId: res.body.request_id, token, body: res.body };
}

/** Polls get-vm until the request is completed or failed (a bound, not a timing assertion). */
export async function finished(s: Stack, token: string, requestId: string, rounds = 600): Promise<Reply> {
  for (let i = 0; i < rounds; i++) {
    const res = await broker(s, "/v1/get-vm/", { request: requestId }, { Authorization: `Bearer ${token}` });
    if (res.status !== 200 || res.body.status === "completed") return res;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`request ${requestId} did not finish`);
}

/** The client rules (ingress with a remote prefix) on the instance's own security group, read from Neutron. */
export async function clientRules(s: Stack, instanceId: string) {
  const neutron = s.runtime.deps.cloud.neutron;
  const [port] = await neutron.listPorts({ deviceId: instanceId });
  assert.ok(port, `instance ${instanceId} has a port`);
  for (const id of port.securityGroupIds) {
    const group = await neutron.getSecurityGroup(id);
    if (group.name === instanceGroupName(instanceId))
      return group.rules.filter((r) => r.direction === "ingress" && r.remoteIpPrefix);
  }
  return [];
}

/**
 * A second broker process (test/broker/fixtures/broker-process.ts) on the stack's database and
 * simulator, sharing nothing in memory with the test process; `overrides` add configuration.
 * It stops when its stdin is closed.
 */
export async function startBrokerProcess(
  s: Stack,
  overrides: Record<string, unknown> = {},
): Promise<{ child: ChildProcess; url: string }> {
  const script = fileURLToPath(new URL("../broker/fixtures/broker-process.ts", import.meta.url));
  const child = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      script,
      JSON.stringify({
        databaseUrl: s.runtime.store.url,
        authUrl: s.sim.authUrl,
        username: s.sim.admin.username,
        password: s.sim.admin.password,
        overrides,
      }),
    ],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const url = await new Promise<string>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /READY (\S+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.on("exit", (code) => reject(new Error(`broker process exited with ${code}`)));
  });
  return { child, url };
}

/** Stops a process of startBrokerProcess (one that failed to start is not waited for). */
export async function stopBrokerProcess(p: { child: ChildProcess } | undefined): Promise<void> {
  if (!p || p.child.exitCode !== null) return;
  p.child.stdin?.end();
  await new Promise((r) => p.child.once("exit", r));
}
