// Warm allocation latency: the time from request-vm's answer to get-vm answering "completed"
// when the pool's reserve holds a free ACTIVE instance, as a desktop client sees it (polling
// get-vm every 20 ms). Everything real: embedded PostgreSQL, the simulator over HTTP, the
// task engine, both halves of the broker.
// Run: npx tsx bench/allocation-latency.ts [requests=50]
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { loadConfig } from "../src/config/load.ts";
import { startRuntime } from "../src/runtime.ts";

const N = Number(process.argv[2] ?? 50);
const dataDir = mkdtempSync(join(tmpdir(), "rs-bench-alloc-"));
const config = loadConfig({
  env: {},
  overrides: {
    dataDir,
    admin: { enabled: false },
    broker: { port: 0 },
    simulator: { buildDelayMs: 200 },
    allocation: { pollIntervalMs: 50 },
  },
});
const runtime = await startRuntime(config, { logger: pino({ level: "silent" }) });
const sim = runtime.simulator!;
const { keystone, nova } = runtime.deps.cloud;

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${runtime.brokerUrl}${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as any };
}

const quantile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

try {
  const pool = await runtime.core.pools.create({
    name: `bench-${randomBytes(3).toString("hex")}`,
    flavor_id: sim.seed.flavorId,
    image_id: sim.seed.imageId,
    network_id: sim.seed.networkId,
  });
  await nova.setQuotas(pool.id, { instances: N + 10, cores: -1, ram: -1 });
  const { ids } = await runtime.core.instances.create({ projectId: pool.id, count: N }, null);
  // The reserve is warm: every instance ACTIVE in Nova and in our records.
  for (;;) {
    const servers = await Promise.all(ids.map((id) => nova.getServer(id)));
    if (servers.every((x) => x.status === "ACTIVE")) {
      await runtime.core.repos.instances.applyStatus(
        servers.map((x) => ({
          id: x.id,
          status: x.status,
          vmState: x.vmState,
          taskState: x.taskState,
          progress: x.progress,
        })),
      );
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const member = await keystone.findRole("member");
  const users = [];
  for (let i = 0; i < N; i++) {
    const name = `bench-${i}-${randomBytes(3).toString("hex")}`;
    const password = randomBytes(9).toString("base64url");
    const user = await keystone.createUser({ name, domainId: "default", password });
    await keystone.grantProjectRole(pool.id, { userId: user.id }, member!.id);
    users.push({ name, password });
  }

  const latencies: number[] = [];
  const polls: number[] = [];
  for (const u of users) {
    const accepted = await post("/v1/request-vm/", {
      user: u.name,
      password: u.password,
      user_domain_name: "Default",
    });
    const answered = performance.now();
    if (accepted.status !== 200) throw new Error(JSON.stringify(accepted.body));
    const token = accepted.headers.get("x-auth-token")!;
    let n = 0;
    for (;;) {
      n++;
      const res = await post("/v1/get-vm/", { request: accepted.body.request_id }, { "X-Auth-Token": token });
      if (res.status !== 200) throw new Error(JSON.stringify(res.body));
      if (res.body.status === "completed") break;
      await new Promise((r) => setTimeout(r, 20));
    }
    latencies.push(performance.now() - answered);
    polls.push(n);
  }
  latencies.sort((a, b) => a - b);
  // Where the time goes, from the steps the allocation recorded.
  const rows = await runtime.store.db.selectFrom("requests").select(["steps"]).execute();
  const byStep = new Map<string, number[]>();
  for (const r of rows)
    for (const st of r.steps as any[]) byStep.set(st.name, [...(byStep.get(st.name) ?? []), st.duration_ms]);
  const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
  console.log(
    `machine: ${cpus()[0]?.model} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}, load average ${loadavg()[0].toFixed(1)}`,
  );
  console.log(`requests: ${N} (warm reserve, one user each, sequential)`);
  console.log(
    `request-vm answer -> get-vm completed: median ${fmt(quantile(latencies, 0.5))}, p90 ${fmt(quantile(latencies, 0.9))}, max ${fmt(latencies.at(-1)!)}`,
  );
  for (const [name, d] of byStep) {
    const sorted = d.sort((a, b) => a - b);
    console.log(`  step ${name}: median ${fmt(sorted[Math.floor(sorted.length / 2)])}`);
  }
  console.log(
    `get-vm calls per request: median ${[...polls].sort((a, b) => a - b)[Math.floor(polls.length / 2)]}`,
  );
} finally {
  await runtime.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
