// Starting and stopping: config → store → cloud (a real one, or the built-in simulator) →
// tasks → the composition root (composition.ts: repositories, core, task handlers, periodic
// jobs) → the admin and broker servers. main.ts and the test stack both start through here.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import pino, { type Logger } from "pino";
import { LicenseService } from "./adapters/license-file.ts";
import { createAdminApp } from "./admin/app.ts";
import { dashboardAssetRoutes } from "./admin/dashboard.ts";
import { httpMetrics, metricsRoute } from "./admin/metrics.ts";
import { createBrokerApp, createPortalApp } from "./broker/app.ts";
import { createCloud } from "./cloud/cloud.ts";
import { credentialsFromCloudsYaml, findCloudsFile } from "./cloud/clouds-yaml.ts";
import { KeystoneClient } from "./cloud/keystone.ts";
import { type CloudCredentials, CloudSession } from "./cloud/session.ts";
import {
  composeCore,
  createRepositories,
  type Repositories,
  type RuntimeDeps,
  registerTasks,
  scheduleBrokerWork,
  startBackgroundWork,
} from "./composition.ts";
import type { Config } from "./config/schema.ts";
import { ensureDemoPool } from "./core/demo-pool.ts";
import type { Core } from "./core/index.ts";
import { Throttle } from "./core/throttle.ts";
import { KeystoneTokenValidator } from "./core/token-validator.ts";
import type { App, HealthCheck } from "./http/app.ts";
import { tokenAuth } from "./http/auth.ts";
import { type SimulatorHandle, startSimulator, writeCloudsYaml } from "./simulator/server.ts";
import { openStore, type Store } from "./store/db.ts";
import { TaskEngine } from "./tasks/engine.ts";
import { Scheduler } from "./tasks/scheduler.ts";

export const VERSION: string = JSON.parse(
  readFileSync(new URL("../package.json", import.meta.url), "utf8"),
).version;

export interface RuntimeOptions {
  logger?: Logger;
  /** Use this store instead of opening one from the config (tests). */
  store?: Store;
  /** Use this simulator instead of starting one (tests share one per file). */
  simulator?: SimulatorHandle;
}

export interface Runtime {
  config: Config;
  store: Store;
  core: Core;
  deps: RuntimeDeps;
  repos: Repositories;
  simulator?: SimulatorHandle;
  cloudsYaml?: string;
  admin?: App;
  broker?: App;
  /** The portal server (config `portal`): /trs/ and the broker API, with the broker. */
  portal?: App;
  adminUrl?: string;
  brokerUrl?: string;
  portalUrl?: string;
  /**
   * Stops in order: both APIs stop accepting and finish their requests in flight, the
   * background work and the task handlers finish (all within config.shutdown), then the
   * pools close and the embedded PostgreSQL stops. Resolves false when a part failed to
   * stop (logged). Calling it again returns the same stop.
   */
  stop(): Promise<boolean>;
}

function serviceCredentials(config: Config, sim?: SimulatorHandle): CloudCredentials {
  const os = config.openstack;
  const base = { timeoutMs: os.timeoutMs, retries: os.retries, interface: os.interface };
  if (sim) {
    return {
      ...base,
      authUrl: sim.authUrl,
      username: sim.admin.username,
      password: sim.admin.password,
      userDomainName: sim.admin.userDomainName,
      projectName: sim.admin.projectName,
      projectDomainName: sim.admin.projectDomainName,
      region: undefined,
    };
  }
  if (os.cloud) {
    const file = findCloudsFile(os.cloudsFile || undefined);
    if (!file) throw new Error(`openstack.cloud is ${os.cloud} but no clouds.yaml was found`);
    return credentialsFromCloudsYaml(file, os.cloud, base);
  }
  return {
    ...base,
    authUrl: os.authUrl.replace(/\/+$/, ""),
    username: os.username,
    password: os.password,
    userDomainName: os.userDomainName,
    projectName: os.projectName,
    projectDomainName: os.projectDomainName,
    region: os.region || undefined,
  };
}

/** Stops listening and lets the requests in flight finish, for `graceMs` at most. */
async function closeApp(app: App, graceMs: number): Promise<void> {
  const cutOff = setTimeout(() => app.server.closeAllConnections(), graceMs);
  try {
    await app.close();
  } finally {
    clearTimeout(cutOff);
  }
}

export const usesSimulator = (config: Config) => !config.openstack.cloud && !config.openstack.authUrl;

export const createLogger = (config: Config): Logger =>
  pino({ level: config.log.level, redact: ["req.headers['x-auth-token']"] });

export async function startRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger(config);
  // Undone last to first; each gets the time left until the shutdown deadline.
  const stops: ((msLeft: () => number) => Promise<void>)[] = [];
  let stopping: Promise<boolean> | undefined;
  const stopAll = () => {
    stopping ??= (async () => {
      const deadline = Date.now() + config.shutdown.timeoutSeconds * 1000;
      const msLeft = () => Math.max(0, deadline - Date.now());
      let clean = true;
      for (const stop of stops.reverse()) {
        try {
          await stop(msLeft);
        } catch (err) {
          clean = false;
          logger.warn({ err }, "error while stopping");
        }
      }
      return clean;
    })();
    return stopping;
  };
  try {
    const store =
      options.store ??
      (await openStore({
        url: config.database.url,
        dataDir: config.dataDir,
        poolSize: config.database.poolSize,
        preparedStatements: config.database.preparedStatements,
        embeddedPort: config.database.embeddedPort,
        onConnectionError: (err) => logger.warn({ err }, "database connection lost: reconnecting"),
      }));
    if (!options.store) stops.push(() => store.close());

    let simulator = options.simulator;
    let cloudsYaml: string | undefined;
    if (!simulator && usesSimulator(config)) {
      simulator = await startSimulator({
        host: config.simulator.host,
        port: config.simulator.port,
        dataDir: resolve(config.dataDir),
        options: { buildDelayMs: config.simulator.buildDelayMs, instanceCidr: config.simulator.instanceCidr },
      });
      const sim = simulator;
      stops.push(() => sim.stop());
      cloudsYaml = join(resolve(config.dataDir), "clouds.yaml");
      writeCloudsYaml(simulator, cloudsYaml);
    }

    const session = new CloudSession(serviceCredentials(config, simulator));
    const keystone = new KeystoneClient(session);
    const cloud = { ...createCloud(session), keystone };
    const tasks = new TaskEngine({ store, logger, workers: config.workers.enabled });
    const repos = createRepositories(store.db);
    const scheduler = new Scheduler({ jobs: repos.periodicJobs, logger });
    const license = new LicenseService(config.license);
    const { core, deps } = composeCore({ config, repos, cloud, tasks, scheduler, license, logger });
    registerTasks(core, tasks);
    scheduleBrokerWork(core, scheduler);

    stops.push((msLeft) => tasks.stop({ timeoutMs: msLeft() }));
    await tasks.start();
    if (config.workers.enabled) {
      // The background jobs' rows stay when this process stops: other processes may run them.
      startBackgroundWork(deps, core);
      await scheduler.start();
      stops.push((msLeft) => scheduler.stop({ timeoutMs: msLeft() }));
    }

    // Only a simulator this runtime started itself (npm start), never a test's or a real cloud.
    if (simulator && !options.simulator) {
      await ensureDemoPool(core, keystone, {
        domainId: simulator.seed.demoDomainId,
        userId: simulator.demo.userId,
        flavorId: simulator.seed.flavorId,
        imageId: simulator.seed.imageId,
        networkId: simulator.seed.networkId,
      });
    }

    const health: HealthCheck[] = [
      {
        name: "database",
        check: async () => {
          await store.db.selectNoFrom((eb) => eb.val(1).as("one")).execute();
          return { ok: true };
        },
      },
      {
        name: "cloud",
        check: async () => {
          await session.token();
          return { ok: true, detail: session.authUrl };
        },
      },
    ];
    if (config.admin.enabled) {
      // Not awaited: a cloud that is down at start is the health check's business. A role
      // that does not exist would only show when the first pool is created.
      keystone
        .findRole(config.openstack.serviceRole)
        .then((role) => {
          if (!role)
            logger.error(
              { role: config.openstack.serviceRole },
              "openstack.serviceRole names no Keystone role: creating pools will fail until it does",
            );
        })
        .catch(() => {});
    }
    const validator = new KeystoneTokenValidator(keystone, config.auth);
    const auth = tokenAuth(validator, core.scopes);
    const throttle = new Throttle(repos.rateLimits, config.rateLimit);
    const runtime: Runtime = { config, store, core, deps, repos, simulator, cloudsYaml, stop: stopAll };
    // Both APIs stop accepting at once, before anything they use stops.
    const apps: App[] = [];
    stops.push(async (msLeft) => {
      await Promise.all(apps.map((app) => closeApp(app, msLeft())));
    });

    if (config.admin.enabled) {
      const admin = await createAdminApp({ config, core, auth, logger, health, version: VERSION, throttle });
      metricsRoute(admin, {
        snapshot: () => repos.metrics.snapshot(),
        leadSeconds: config.reserve.leadSeconds,
      });
      // The dashboard's pages (/dashboard/, and / sending a browser there); its API is under /v1.
      dashboardAssetRoutes(admin);
      httpMetrics(admin, "admin");
      apps.push(admin);
      runtime.admin = admin;
      runtime.adminUrl = await admin.listen({ host: config.admin.host, port: config.admin.port });
    }
    if (config.broker.enabled) {
      const brokerDeps = { config, core, logger, health, version: VERSION, validator, throttle };
      const broker = await createBrokerApp(brokerDeps);
      httpMetrics(broker, "broker");
      apps.push(broker);
      runtime.broker = broker;
      runtime.brokerUrl = await broker.listen({ host: config.broker.host, port: config.broker.port });
      if (config.portal.enabled) {
        // The same deps as the broker: one login throttle counts both front doors.
        const portal = await createPortalApp(brokerDeps);
        httpMetrics(portal, "portal");
        apps.push(portal);
        runtime.portal = portal;
        runtime.portalUrl = await portal.listen({ host: config.portal.host, port: config.portal.port });
      }
    }
    return runtime;
  } catch (err) {
    await stopAll();
    throw err;
  }
}
