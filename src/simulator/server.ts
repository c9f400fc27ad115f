// The built-in OpenStack simulator: one loopback HTTP server that answers, under a prefix per
// service, the subset of Keystone v3, Nova 2.1, Neutron 2.0, Cinder v3 and Glance v2 that
// rs-server uses, with the real wire shapes. Its service catalog points at those prefixes.
import { mkdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import Fastify, { type FastifyInstance } from "fastify";
import { stringify } from "yaml";
import { type CloudSeed, createCloudSim } from "./cloud.ts";
import type { Faults, SimContext, SimOptions } from "./context.ts";
import { registerControlAuth } from "./control-auth.ts";
import { createKeystoneSim, type KeystoneSettings, type KeystoneState } from "./keystone/index.ts";
import { loadState, saveState, statePath } from "./persist.ts";
import { registerStats } from "./stats.ts";

export const SERVICE_PREFIX = {
  identity: "/identity",
  compute: "/compute",
  network: "/network",
  volumev3: "/volume",
  image: "/image",
} as const;

export const DEFAULT_SIM_OPTIONS: SimOptions = {
  buildDelayMs: 1000,
  volumeDelayMs: 300,
  region: "RegionOne",
  instanceCidr: "10.0.0.0/16",
};

export const NO_FAULTS: Faults = {
  errorRate: 0,
  latencyMs: 0,
  errorBuilds: false,
  stuckBuild: false,
  keystoneDown: false,
};

/** How to log in as one of the seeded accounts (the fields of a clouds.yaml `auth` section). */
export interface SimCredentials {
  authUrl: string;
  username: string;
  password: string;
  userId: string;
  userDomainName: string;
  userDomainId: string;
  projectName: string;
  projectId: string;
  projectDomainName: string;
  projectDomainId: string;
  region: string;
}

export interface SimSeed extends CloudSeed {
  demoDomainId: string;
  adminProjectId: string;
  demoProjectId: string;
}

export interface SimulatorHandle {
  /** Base URL, e.g. http://127.0.0.1:43211 */
  url: string;
  /** `${url}/identity/v3` */
  authUrl: string;
  /** Admin user, Default domain, project "admin", role admin. */
  admin: SimCredentials;
  /** User "demo" in domain "demo", project "demo", role member. */
  demo: SimCredentials;
  seed: SimSeed;
  /** ctx.faults is mutable for in-process tests. */
  ctx: SimContext;
  /** Keystone's [security_compliance] settings, mutable for in-process tests. */
  keystoneSettings: KeystoneSettings;
  /** Set when the port of the saved state was taken and the simulator listens elsewhere. */
  portMoved?: { from: number; to: number };
  stop(): Promise<void>;
}

export interface StartSimulatorOptions {
  host?: string;
  /** 0 (the default): the port of the saved state when it is free, else a free port. */
  port?: number;
  /** Where simulator.json lives; without it, state is lost at stop. */
  dataDir?: string;
  options?: Partial<SimOptions>;
  keystone?: Partial<KeystoneSettings>;
  /** Seeded passwords (generated when absent; a saved state keeps its own). */
  adminPassword?: string;
  demoPassword?: string;
  /** How often changed state is saved to dataDir. */
  saveIntervalMs?: number;
}

interface SavedAccounts {
  admin: Omit<SimCredentials, "authUrl" | "region">;
  demo: Omit<SimCredentials, "authUrl" | "region">;
}

interface SavedState {
  version: 1;
  accounts: SavedAccounts;
  seed: SimSeed;
  keystone: KeystoneState;
  cloud: unknown;
  /** The port it listened on: a restart takes it again, so OS_AUTH_URL and clouds.yaml hold. */
  port?: number;
}

/** True when host:port can be listened on now (a port another process holds cannot). */
function portFree(host: string, port: number): Promise<boolean> {
  return new Promise((answer) => {
    const probe = createServer();
    probe.once("error", () => answer(false));
    probe.listen(port, host, () => probe.close(() => answer(true)));
  });
}

// What a load balancer in front of an OpenStack API answers when the service is down.
const UNAVAILABLE_BODY = {
  message: "The server is currently unavailable. Please try again at a later time.",
  code: "503 Service Unavailable",
  title: "Service Unavailable",
};

/**
 * An empty body with a JSON content type is no body, as OpenStack reads it (Keystone's
 * json_body hook skips an empty body; Nova's and Cinder's wsgi hand the action a None body):
 * each service then answers what it answers without a body.
 */
function acceptEmptyJson(app: FastifyInstance) {
  const parse = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (req, body, done) => {
    if (body.length === 0) return done(null, undefined);
    parse(req, body as string, done);
  });
}

function registerFaults(app: FastifyInstance, ctx: SimContext) {
  // Identity has one fault of its own, an outage; the others model the compute/network/storage services.
  app.addHook("onRequest", async (req, reply) => {
    const path = req.url;
    if (path.startsWith(SERVICE_PREFIX.identity) && ctx.faults.keystoneDown)
      return reply.code(503).type("application/json").send(UNAVAILABLE_BODY);
    if (path.startsWith(SERVICE_PREFIX.identity) || path.startsWith("/sim/")) return;
    const { latencyMs, errorRate } = ctx.faults;
    if (latencyMs > 0) await sleep(latencyMs);
    if (errorRate > 0 && Math.random() < errorRate) {
      return reply.code(503).type("application/json").send(UNAVAILABLE_BODY);
    }
  });

  app.get("/sim/faults", async () => ctx.faults);
  app.put("/sim/faults", async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, unknown>;
    const next: Faults = { ...ctx.faults };
    for (const [key, value] of Object.entries(body)) {
      if (!(key in NO_FAULTS)) return reply.code(400).send({ error: `unknown fault ${key}` });
      const kind = typeof NO_FAULTS[key as keyof Faults];
      if (typeof value !== kind) return reply.code(400).send({ error: `${key} must be a ${kind}` });
      (next as unknown as Record<string, unknown>)[key] = value;
    }
    if (next.errorRate < 0 || next.errorRate > 1)
      return reply.code(400).send({ error: "errorRate must be in 0..1" });
    if (next.latencyMs < 0) return reply.code(400).send({ error: "latencyMs must be >= 0" });
    Object.assign(ctx.faults, next);
    return ctx.faults;
  });
}

export async function startSimulator(opts: StartSimulatorOptions = {}): Promise<SimulatorHandle> {
  const options: SimOptions = { ...DEFAULT_SIM_OPTIONS, ...opts.options };
  let baseUrl = "";
  const keystone = createKeystoneSim(() => baseUrl, opts.keystone);
  const ctx: SimContext = {
    options,
    faults: { ...NO_FAULTS },
    identity: keystone.identity,
    baseUrl: () => baseUrl,
  };
  const cloud = createCloudSim(ctx);

  const app = Fastify({ logger: false });
  acceptEmptyJson(app);
  registerControlAuth(app, ctx);
  registerFaults(app, ctx);
  registerStats(app);
  await keystone.register(app);
  await cloud.register(app);

  const file = opts.dataDir ? statePath(opts.dataDir) : undefined;
  const saved = file ? loadState<SavedState>(file) : undefined;

  // A saved world is back in place before the first request; a new one is seeded once the
  // address (which seeded resources may embed) is known.
  if (saved) {
    keystone.restore(saved.keystone);
    cloud.restore(saved.cloud);
  }
  const host = opts.host ?? "127.0.0.1";
  let port = opts.port ?? 0;
  let portMoved: SimulatorHandle["portMoved"];
  if (!port && saved?.port) {
    if (await portFree(host, saved.port)) port = saved.port;
    else portMoved = { from: saved.port, to: 0 };
  }
  const address = await app.listen({ host, port });
  baseUrl = address.replace("://localhost", "://127.0.0.1");
  const listening = Number(new URL(baseUrl).port);
  if (portMoved) portMoved.to = listening;

  let accounts: SavedAccounts;
  let seed: SimSeed;
  if (saved) {
    accounts = saved.accounts;
    seed = saved.seed;
  } else {
    const ks = keystone.seed({
      adminPassword: opts.adminPassword,
      demoPassword: opts.demoPassword,
      region: options.region,
    });
    const cs = cloud.seed({ adminProjectId: ks.adminProjectId, demoProjectId: ks.demoProjectId });
    seed = {
      ...cs,
      demoDomainId: ks.demoDomainId,
      adminProjectId: ks.adminProjectId,
      demoProjectId: ks.demoProjectId,
    };
    accounts = {
      admin: {
        username: "admin",
        password: ks.adminPassword,
        userId: ks.adminUserId,
        userDomainName: "Default",
        userDomainId: "default",
        projectName: "admin",
        projectId: ks.adminProjectId,
        projectDomainName: "Default",
        projectDomainId: "default",
      },
      demo: {
        username: "demo",
        password: ks.demoPassword,
        userId: ks.demoUserId,
        userDomainName: "demo",
        userDomainId: ks.demoDomainId,
        projectName: "demo",
        projectId: ks.demoProjectId,
        projectDomainName: "demo",
        projectDomainId: ks.demoDomainId,
      },
    };
  }

  let lastSaved = "";
  const save = () => {
    if (!file) return;
    const state: SavedState = {
      version: 1,
      accounts,
      seed,
      keystone: keystone.snapshot(),
      cloud: cloud.snapshot(),
      port: listening,
    };
    const text = JSON.stringify(state);
    if (text === lastSaved) return;
    saveState(file, text);
    lastSaved = text;
  };
  save();
  const timer = file ? setInterval(save, opts.saveIntervalMs ?? 2000) : undefined;
  timer?.unref();

  const authUrl = `${baseUrl}${SERVICE_PREFIX.identity}/v3`;
  const withUrl = (a: SavedAccounts["admin"]): SimCredentials => ({ ...a, authUrl, region: options.region });
  let stopped: Promise<void> | undefined;
  return {
    url: baseUrl,
    authUrl,
    admin: withUrl(accounts.admin),
    demo: withUrl(accounts.demo),
    seed,
    ctx,
    keystoneSettings: keystone.keystone.settings,
    portMoved,
    stop() {
      stopped ??= (async () => {
        if (timer) clearInterval(timer);
        save();
        await app.close();
      })();
      return stopped;
    },
  };
}

/** Writes clouds `rs-admin` and `rs-demo` in the clouds.yaml format every OpenStack client reads. */
export function writeCloudsYaml(handle: SimulatorHandle, path: string) {
  const cloud = (c: SimCredentials) => ({
    auth: {
      auth_url: c.authUrl,
      username: c.username,
      password: c.password,
      user_domain_name: c.userDomainName,
      project_name: c.projectName,
      project_domain_name: c.projectDomainName,
    },
    region_name: c.region,
    interface: "public",
    identity_api_version: 3,
  });
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(
    path,
    stringify({ clouds: { "rs-admin": cloud(handle.admin), "rs-demo": cloud(handle.demo) } }),
    {
      mode: 0o600,
    },
  );
}
