// The whole of rs-server for a test file: the built-in simulator, a fresh database, the
// task engine, the core and both APIs on free loopback ports, with real Keystone tokens.
import pino, { type Logger } from "pino";
import { loadConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/schema.ts";
import { type Runtime, startRuntime } from "../../src/runtime.ts";
import type { SimOptions } from "../../src/simulator/context.ts";
import { type SimCredentials, type SimulatorHandle, startSimulator } from "../../src/simulator/server.ts";
import { createTestStore } from "./db.ts";

export interface Stack {
  runtime: Runtime;
  sim: SimulatorHandle;
  config: Config;
  adminUrl: string;
  brokerUrl: string;
  /** A project-scoped token of the simulator's admin (admin role). */
  adminToken: string;
  /** A project-scoped token of the demo user (member role only). */
  memberToken: string;
  /** Issues a token for any user the test created. */
  token(
    creds: Pick<SimCredentials, "username" | "password" | "userDomainName"> & { projectId?: string },
  ): Promise<string>;
  stop(): Promise<void>;
}

/** Keystone's password authentication, the token it issues for the scope asked (any, or none). */
export async function passwordToken(
  authUrl: string,
  user: { name: string; password: string; domain: { name: string } | { id: string } },
  scope?: unknown,
): Promise<string> {
  const res = await fetch(`${authUrl}/auth/tokens`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({
      auth: {
        identity: { methods: ["password"], password: { user } },
        ...(scope ? { scope } : {}),
      },
    }),
  });
  const token = res.headers.get("x-subject-token");
  if (res.status !== 201 || !token)
    throw new Error(`token for ${user.name}: ${res.status} ${await res.text()}`);
  return token;
}

export async function issueToken(
  authUrl: string,
  creds: { username: string; password: string; userDomainName: string; projectId?: string },
): Promise<string> {
  return passwordToken(
    authUrl,
    { name: creds.username, domain: { name: creds.userDomainName }, password: creds.password },
    creds.projectId ? { project: { id: creds.projectId } } : undefined,
  );
}

export async function startStack(
  overrides: Record<string, unknown> = {},
  options: { logger?: Logger; sim?: Partial<SimOptions> } = {},
): Promise<Stack> {
  const sim = await startSimulator({
    port: 0,
    options: { buildDelayMs: 200, volumeDelayMs: 50, ...options.sim },
  });
  const store = await createTestStore();
  const config = loadConfig({
    env: {},
    overrides: {
      admin: { port: 0 },
      broker: { port: 0 },
      portal: { port: 0 },
      simulator: { buildDelayMs: 200 },
      // Desktops are ready once ACTIVE (the readiness modes are tested in reserve-schedule.test.ts).
      reserve: { intervalSeconds: 1, readiness: { mode: "none" } },
      allocation: { pollIntervalMs: 50, buildTimeoutSeconds: 30 },
      // Test files fail logins and tokens from one address hundreds of times on purpose; the
      // limits themselves are tested in test/broker/rate-limit.test.ts.
      rateLimit: { enabled: false },
      ...overrides,
      // The stack's own simulator is the cloud; an override may add to it (serviceRole, ...).
      openstack: {
        authUrl: sim.authUrl,
        username: sim.admin.username,
        password: sim.admin.password,
        ...(overrides.openstack as Record<string, unknown> | undefined),
      },
    },
  });
  const runtime = await startRuntime(config, {
    store,
    simulator: sim,
    logger: options.logger ?? pino({ level: "silent" }),
  });
  const adminToken = await issueToken(sim.authUrl, { ...sim.admin, projectId: sim.admin.projectId });
  const memberToken = await issueToken(sim.authUrl, { ...sim.demo, projectId: sim.demo.projectId });
  return {
    runtime,
    sim,
    config,
    adminUrl: runtime.adminUrl!,
    brokerUrl: runtime.brokerUrl!,
    adminToken,
    memberToken,
    token: (creds) => issueToken(sim.authUrl, creds),
    async stop() {
      await runtime.stop();
      await store.close();
      await sim.stop();
    },
  };
}
