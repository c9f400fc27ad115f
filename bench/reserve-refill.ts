// Reserve refill: a pool with min_reserve_vm = N (default 1,000) and an empty reserve, against
// the built-in simulator. Times the keeper's refill (Nova accepted every server) and the
// reserve being ready (every server ACTIVE, as the reconciler sees it), and counts the Nova
// requests the keeper made.
// Run: npx tsx bench/reserve-refill.ts [target=1000]
// The database: RS_BENCH_DATABASE_URL, or an embedded PostgreSQL in a temporary directory.
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { loadConfig } from "../src/config/load.ts";
import type { AdminCore } from "../src/core/admin-core.ts";
import { createBackground } from "../src/core/background.ts";
import { startRuntime } from "../src/runtime.ts";
import { startSimulator } from "../src/simulator/server.ts";

const target = Number(process.argv[2] ?? 1000);
const buildDelayMs = 1000;
const dataDir = mkdtempSync(join(tmpdir(), "rs-bench-"));
const sim = await startSimulator({ port: 0, options: { buildDelayMs } });
const config = loadConfig({
  env: {},
  overrides: {
    dataDir,
    database: { url: process.env.RS_BENCH_DATABASE_URL ?? "" },
    admin: { enabled: false },
    broker: { enabled: false },
    // The bench drives the keeper itself.
    workers: { enabled: false },
    openstack: { authUrl: sim.authUrl, username: sim.admin.username, password: sim.admin.password },
    reserve: { maxConcurrentBuilds: target },
  },
});
const runtime = await startRuntime(config, { simulator: sim, logger: pino({ level: "warn" }) });
try {
  const core = runtime.core as unknown as AdminCore;
  const nova = runtime.deps.cloud.nova;
  const calls = { create: 0, rename: 0, other: 0, list: 0 };
  const wrap = <K extends keyof typeof nova>(name: K, kind: keyof typeof calls) => {
    const fn = (nova[name] as (...a: unknown[]) => Promise<unknown>).bind(nova);
    (nova as unknown as Record<string, unknown>)[name] = (...a: unknown[]) => {
      calls[kind] += 1;
      return fn(...a);
    };
  };
  wrap("createServers", "create");
  wrap("updateServer", "rename");
  wrap("getFlavor", "other");
  wrap("getQuotaUsage", "other");
  wrap("listServers", "list");

  const pool = await core.pools.create({
    name: "bench",
    flavor_id: sim.seed.flavorId,
    image_id: sim.seed.imageId,
    network_id: sim.seed.networkId,
    min_reserve_vm: target,
  });
  await nova.setQuotas(pool.id, { instances: target, cores: target * 4, ram: target * 8192 });
  const bg = createBackground(runtime.deps, core);

  for (const k of Object.keys(calls) as (keyof typeof calls)[]) calls[k] = 0;
  const t0 = performance.now();
  let runs = 0;
  for (;;) {
    runs += 1;
    const out = await bg.keeper.refill((await core.repos.pools.get(pool.id))!);
    if (!out || out.free >= target) break;
  }
  const refillMs = performance.now() - t0;
  const keeperCalls = { ...calls };
  let reconcileRuns = 0;
  for (;;) {
    reconcileRuns += 1;
    await bg.reconciler.run();
    const counts = await core.repos.instances.poolCounts(pool.id);
    if (counts.active >= target) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const readyMs = performance.now() - t0;
  const report = {
    target,
    keeperRuns: runs,
    refillSeconds: +(refillMs / 1000).toFixed(2),
    readySeconds: +(readyMs / 1000).toFixed(2),
    simulatorBuildDelayMs: buildDelayMs,
    novaCreateRequests: keeperCalls.create,
    novaRenameRequests: keeperCalls.rename,
    novaQuotaAndFlavorRequests: keeperCalls.other,
    reconcilerListRequests: calls.list - keeperCalls.list,
    reconcilerRuns: reconcileRuns,
    nproc: cpus().length,
    cpu: cpus()[0]?.model,
    node: process.version,
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  await runtime.stop();
  await sim.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
