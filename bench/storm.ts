// The login storm: many users asking the broker for a desktop at once, as at 8:00 on a Monday.
// N users, C at a time, each calling request-vm and then get-vm every P ms until `completed`
// (the first get-vm right after request-vm answers). rs-server, its PostgreSQL and the
// simulator each run as their own process, so rs-server's own CPU is visible.
//
//   npm run bench -- storm [--users 1000] [--concurrency 50] [--poll 250] [--brokers 1|2]
//                          [--reserve warm|cold] [--build-delay 200] [--no-report]
//
// Prints, and appends to docs/benchmarks.md: completed/s, p50/p95/p99 from request-vm to
// completed, errors by code, duplicates, the same users' bare Keystone authentications at the
// same concurrency and the ratio, rs-server CPU ms, SQL transactions and cloud calls per
// allocation, resident memory at start and end.
import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import { post } from "./lib/client.ts";
import { type BenchUser, createUsers, inParallel, passwordAuth, setComputeQuota } from "./lib/openstack.ts";
import { cpuMs, postgresCpuMs, rssMiB } from "./lib/processes.ts";
import { appendReport, machine, quantile } from "./lib/report.ts";
import { createInstances, createPool, resetStatements, startStack, topStatements } from "./lib/stack.ts";

const { values: o } = parseArgs({
  options: {
    users: { type: "string", default: "1000" },
    concurrency: { type: "string", default: "50" },
    poll: { type: "string", default: "250" },
    brokers: { type: "string", default: "1" },
    reserve: { type: "string", default: "warm" },
    "build-delay": { type: "string", default: "200" },
    "no-report": { type: "boolean", default: false },
  },
});
const N = Number(o.users);
const C = Number(o.concurrency);
const P = Number(o.poll);
const brokers = Number(o.brokers);
const warm = o.reserve === "warm";
if (!(N > 0 && C > 0 && P >= 0 && (brokers === 1 || brokers === 2) && ["warm", "cold"].includes(o.reserve!)))
  throw new Error(
    "usage: storm [--users N] [--concurrency C] [--poll MS] [--brokers 1|2] [--reserve warm|cold]",
  );

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const stack = await startStack({ brokers, buildDelayMs: Number(o["build-delay"]) });

interface Outcome {
  user: BenchUser;
  ms?: number;
  code?: number | string;
  serverId?: string;
  polls: number;
}

async function broker(i: number, path: string, body: unknown, token?: string) {
  const res = await post(
    `${stack.servers[i % brokers].brokerUrl}/v1/${path}/`,
    body,
    token ? { "X-Auth-Token": token } : {},
  );
  let parsed: any = {};
  try {
    parsed = JSON.parse(res.text);
  } catch {
    parsed = { error: { code: `HTTP ${res.status}` } };
  }
  const token_ = res.headers["x-auth-token"];
  return { status: res.status, token: typeof token_ === "string" ? token_ : undefined, body: parsed };
}

async function allocate(user: BenchUser, i: number): Promise<Outcome> {
  const t0 = performance.now();
  const accepted = await broker(i, "request-vm", {
    user: user.name,
    password: user.password,
    user_domain_name: "Default",
  });
  if (accepted.status !== 200) return { user, code: accepted.body.error?.code ?? accepted.status, polls: 0 };
  let polls = 0;
  for (;;) {
    polls++;
    const res = await broker(i, "get-vm", { request: accepted.body.request_id }, accepted.token);
    if (res.status !== 200) return { user, code: res.body.error?.code ?? res.status, polls };
    if (res.body.status === "completed")
      return { user, ms: performance.now() - t0, serverId: res.body.server?.id, polls };
    if (performance.now() - t0 > 120_000) return { user, code: "timeout", polls };
    await sleep(P);
  }
}

try {
  const tag = randomBytes(3).toString("hex");
  const poolId = await createPool(stack, `storm-${tag}`);
  await setComputeQuota(stack.os, poolId, N + 20);
  if (warm) await createInstances(stack, poolId, N);
  const users = await createUsers(stack.os, poolId, N, `storm-${tag}`);

  // The baseline: the same users' bare password authentications, same concurrency, same Keystone.
  const authMs: number[] = [];
  const b0 = performance.now();
  await inParallel(users, C, async (u) => {
    const t = performance.now();
    const status = await passwordAuth(stack.sim.admin.authUrl, u);
    if (status !== 201) throw new Error(`baseline authentication answered ${status}`);
    authMs.push(performance.now() - t);
  });
  const keystoneRate = N / ((performance.now() - b0) / 1000);

  const pids = stack.servers.map((s) => s.child.pid!);
  const rss0 = pids.map(rssMiB);
  const cpu0 = pids.map((p) => cpuMs(p));
  const pg0 = postgresCpuMs(stack.pgDir);
  const sim0 = cpuMs(stack.sim.child.pid!);
  const xacts = async () =>
    Number(
      (
        await stack.sql<{ n: string }>(
          "SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()",
        )
      )[0].n,
    );
  // RS_BENCH_SQL="statement; statement": run before the storm (an experiment: drop an index,
  // disable a trigger, and see what the storm costs without it).
  if (process.env.RS_BENCH_SQL) await stack.sql(process.env.RS_BENCH_SQL);
  const x0 = await xacts();
  await resetStatements(stack);
  await fetch(`${stack.sim.url}/sim/stats`, {
    method: "DELETE",
    headers: { "X-Auth-Token": stack.os.token },
  });

  const s0 = performance.now();
  const gen0 = process.cpuUsage();
  const outcomes = await inParallel(users, C, (u, i) => allocate(u, i));
  const stormS = (performance.now() - s0) / 1000;
  const gen = process.cpuUsage(gen0);
  const genCpu = (gen.user + gen.system) / 1000;

  const cpu = pids.map((p, i) => cpuMs(p) - cpu0[i]);
  const pgCpu = postgresCpuMs(stack.pgDir) - pg0;
  const simCpu = cpuMs(stack.sim.child.pid!) - sim0;
  await sleep(1500); // PostgreSQL publishes its statistics at most once a second
  const x1 = await xacts();
  const cloud = (await (
    await fetch(`${stack.sim.url}/sim/stats`, { headers: { "X-Auth-Token": stack.os.token } })
  ).json()) as {
    total: number;
    services: Record<string, number>;
  };
  const rss1 = pids.map(rssMiB);

  const done = outcomes.filter((r) => r.ms !== undefined);
  const latencies = done.map((r) => r.ms!).sort((a, b) => a - b);
  const errors = new Map<string, number>();
  for (const r of outcomes)
    if (r.code !== undefined) errors.set(String(r.code), (errors.get(String(r.code)) ?? 0) + 1);
  // Duplicates: an instance handed to two users, a user holding two instances of this Standard pool.
  const handed = new Map<string, number>();
  for (const r of done) if (r.serverId) handed.set(r.serverId, (handed.get(r.serverId) ?? 0) + 1);
  const listed = await stack.admin("GET", `/servers/?project_id=${poolId}`);
  const holders = new Map<string, number>();
  let sharedInstances = [...handed.values()].filter((n) => n > 1).length;
  for (const s of listed.body.servers as { users: string[] }[]) {
    if (s.users.length > 1) sharedInstances++;
    for (const u of s.users) holders.set(u, (holders.get(u) ?? 0) + 1);
  }
  const usersWithTwo = [...holders.values()].filter((n) => n > 1).length;

  const rate = done.length / stormS;
  const n = Math.max(1, done.length);
  const q = (x: number) => (latencies.length ? `${quantile(latencies, x).toFixed(0)} ms` : "-");
  const ratio = keystoneRate / Math.max(rate, 1e-9);
  const rsCpu = cpu.reduce((a, b) => a + b, 0);
  const lines = [
    `storm: ${N} users, concurrency ${C}, poll ${P} ms, ${brokers} broker process(es), ${warm ? "warm" : "cold"} reserve`,
    `completed ${done.length}/${N} in ${stormS.toFixed(1)} s: ${rate.toFixed(1)}/s; p50 ${q(0.5)}, p95 ${q(0.95)}, p99 ${q(0.99)}`,
    `errors by code: ${errors.size ? [...errors].map(([c, k]) => `${c}: ${k}`).join(", ") : "none"}`,
    `duplicates: ${sharedInstances} instances with two users, ${usersWithTwo} users with two instances`,
    `keystone baseline: ${keystoneRate.toFixed(1)} authentications/s (p99 ${quantile(
      authMs.sort((a, b) => a - b),
      0.99,
    ).toFixed(0)} ms); broker cost ${ratio.toFixed(1)}x a bare authentication`,
    `per allocation: rs-server CPU ${(rsCpu / n).toFixed(1)} ms (${cpu.map((c) => (c / n).toFixed(1)).join(" + ")}), PostgreSQL CPU ${(pgCpu / n).toFixed(1)} ms, simulator CPU ${(simCpu / n).toFixed(1)} ms, load generator CPU ${(genCpu / n).toFixed(1)} ms, SQL transactions ${((x1 - x0) / n).toFixed(1)}, cloud calls ${(cloud.total / n).toFixed(1)} (${Object.entries(
      cloud.services,
    )
      .map(([s, k]) => `${s} ${(k / n).toFixed(1)}`)
      .join(", ")})`,
    `get-vm calls per allocation: ${(done.reduce((a, r) => a + r.polls, 0) / n).toFixed(1)}`,
    `rs-server resident memory: ${rss0.map((m) => m.toFixed(0)).join("+")} MiB at start, ${rss1
      .map((m) => m.toFixed(0))
      .join("+")} MiB at end`,
  ];
  console.log(machine());
  for (const l of lines) console.log(l);
  for (const l of await topStatements(stack, n)) console.log(`  ${l}`);
  if (!o["no-report"]) appendReport("Login storm (`bench/storm.ts`)", lines);
  if (sharedInstances > 0 || usersWithTwo > 0) process.exitCode = 1;
} finally {
  await stack.stop();
}
