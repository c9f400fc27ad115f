// The cloud simulator in-process for wire-level tests of one service: a fake identity with fixed
// tokens, a Fastify app with the simulated cloud registered and seeded, and an inject helper.
import Fastify from "fastify";
import { createCloudSim } from "../../src/simulator/cloud.ts";
import type { SimContext, SimToken } from "../../src/simulator/context.ts";

/** A token valid for an hour for user `u-<name>` in `projectId`. */
export function simToken(name: string, projectId: string, roles: string[], domainId = "default"): SimToken {
  return {
    userId: `u-${name}`,
    userName: name,
    domainId,
    projectId,
    roles,
    expiresAt: new Date(Date.now() + 3600_000),
  };
}

/** The admin of the admin project and the member of the demo project most tests use. */
export const adminToken = (roles = ["admin"]) => simToken("admin", "p-admin", roles);
export const demoToken = () => simToken("demo", "p-demo", ["member"], "d-demo");

export interface SimHarnessOptions {
  tokens: Record<string, SimToken>;
  buildDelayMs: number;
  volumeDelayMs: number;
  /** Which project ids exist; all of them unless told. */
  projectExists?: (projectId: string) => boolean;
  /** The project the seed treats as the demo project (default p-demo). */
  demoProjectId?: string;
}

export interface SimCallResult {
  status: number;
  headers: Record<string, unknown>;
  body: any;
}

export async function simHarness(opts: SimHarnessOptions) {
  const ctx: SimContext = {
    options: { buildDelayMs: opts.buildDelayMs, volumeDelayMs: opts.volumeDelayMs, region: "RegionOne" },
    faults: { errorRate: 0, latencyMs: 0, errorBuilds: false, stuckBuild: false, keystoneDown: false },
    identity: { validate: (t) => opts.tokens[t], projectExists: opts.projectExists ?? (() => true) },
    baseUrl: () => "http://sim.test",
  };
  const app = Fastify();
  const cloud = createCloudSim(ctx);
  await cloud.register(app);
  const seed = cloud.seed({ adminProjectId: "p-admin", demoProjectId: opts.demoProjectId ?? "p-demo" });
  /** Injects a request with the token (if any) in X-Auth-Token; parses a non-empty body as JSON. */
  const call = async (
    method: string,
    url: string,
    token?: string,
    payload?: unknown,
    headers: Record<string, string> = {},
  ): Promise<SimCallResult> => {
    const h: Record<string, string> = { ...headers };
    if (token) h["x-auth-token"] = token;
    const res = await app.inject({ method: method as "GET", url, headers: h, payload: payload as object });
    return {
      status: res.statusCode,
      headers: res.headers,
      body: res.body ? JSON.parse(res.body) : undefined,
    };
  };
  return { ctx, app, cloud, seed, call };
}

/** Polls until the predicate holds; the bound is on attempts, not on elapsed time. */
export async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const v = await read();
    if (ok(v)) return v;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error("condition never held");
}
