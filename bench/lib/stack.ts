// A benchmark's stack, each part its own process: an embedded PostgreSQL, the OpenStack
// simulator, and one or more rs-server processes sharing that database, all on loopback.
import { appendFileSync, chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { freePort, startEmbeddedPostgres } from "../../src/store/embedded.ts";
import { adminSession, type Catalog, json } from "./openstack.ts";
import { type Proc, type SimulatorProc, startNode, startSimulator, waitFor } from "./processes.ts";

export interface Server extends Proc {
  adminUrl?: string;
  brokerUrl: string;
}

export interface Stack {
  dir: string;
  pgDir: string;
  databaseUrl: string;
  sim: SimulatorProc;
  os: Catalog;
  servers: Server[];
  /** The admin API of the first server (the others run the broker and workers only). */
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any; bytes: number }>;
  sql<T = Record<string, unknown>>(text: string, values?: unknown[]): Promise<T[]>;
  stop(): Promise<void>;
}

export interface StackOptions {
  brokers: number;
  buildDelayMs: number;
  /** Extra environment for every rs-server process (RS_SERVER_*). */
  env?: Record<string, string>;
  /** Run the workers (reserve, reconciler, tasks) in the rs-server processes. */
  workers?: boolean;
}

export async function startStack(o: StackOptions): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "rs-bench-"));
  chmodSync(dir, 0o711); // PostgreSQL runs as its own system user when we are root
  const pgDir = join(dir, "db");
  // RS_BENCH_PG_LOG=<file>: every SQL statement PostgreSQL runs, with its duration, process and
  // client, logged there (counting a request's statements, finding the slow ones).
  const pgLog = process.env.RS_BENCH_PG_LOG;
  // RS_BENCH_PG_STATEMENTS=1: pg_stat_statements is loaded, and the storm prints where
  // PostgreSQL's time went, statement by statement (topStatements).
  const statements = process.env.RS_BENCH_PG_STATEMENTS === "1";
  const embedded = await startEmbeddedPostgres(pgDir, {
    ...(pgLog ? { onLog: (l: string) => appendFileSync(pgLog, l) } : {}),
    settings: {
      ...(statements
        ? {
            shared_preload_libraries: "pg_stat_statements",
            "pg_stat_statements.track": "all",
            "pg_stat_statements.track_planning": "on",
          }
        : {}),
      // RS_BENCH_PG_SETTINGS="name=value;name=value": more server settings (auto_explain's, say).
      ...Object.fromEntries(
        (process.env.RS_BENCH_PG_SETTINGS ?? "")
          .split(";")
          .filter((kv) => kv.includes("="))
          .map((kv) => [kv.slice(0, kv.indexOf("=")).trim(), kv.slice(kv.indexOf("=") + 1).trim()]),
      ),
    },
  });
  const client = new pg.Client({ connectionString: embedded.url("postgres") });
  await client.connect();
  await client.query("CREATE DATABASE rs_bench");
  if (statements) {
    const bench = new pg.Client({ connectionString: embedded.url("rs_bench") });
    await bench.connect();
    await bench.query("CREATE EXTENSION pg_stat_statements");
    await bench.end();
  }
  if (pgLog) {
    await client.query("ALTER SYSTEM SET log_min_duration_statement = 0");
    await client.query("ALTER SYSTEM SET log_line_prefix = '%m [%p] %a: '");
    await client.query("SELECT pg_reload_conf()");
  }
  await client.end();
  const databaseUrl = embedded.url("rs_bench");
  const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  const sim = await startSimulator(join(dir, "sim"), o.buildDelayMs);
  const os = await adminSession(sim.admin.authUrl, sim.admin);
  const servers: Server[] = [];
  const stop = async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await sim.stop();
    await db.end();
    await embedded.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < o.brokers; i++) {
      const adminPort = i === 0 ? await freePort() : 0;
      const brokerPort = await freePort();
      const args = [...(i === 0 ? [] : ["--no-admin"]), ...(o.workers === false ? ["--no-workers"] : [])];
      // RS_BENCH_CPU_PROF=<dir>: each rs-server process (and the simulator) writes a V8 CPU profile there when it stops
      // (`node --cpu-prof`; Node refuses it in NODE_OPTIONS).
      const profile = process.env.RS_BENCH_CPU_PROF;
      const nodeArgs = profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [];
      const proc = startNode(
        "src/main.ts",
        args,
        {
          RS_SERVER_DATA_DIR: join(dir, `rs-${i}`),
          RS_SERVER_DATABASE_URL: databaseUrl,
          RS_SERVER_OPENSTACK_AUTH_URL: sim.admin.authUrl,
          RS_SERVER_OPENSTACK_USERNAME: sim.admin.username,
          RS_SERVER_OPENSTACK_PASSWORD: sim.admin.password,
          RS_SERVER_ADMIN_PORT: String(adminPort),
          RS_SERVER_BROKER_PORT: String(brokerPort),
          RS_SERVER_LOG_LEVEL: "warn",
          // The original platform's portal address (:8888) is one per host; the bench needs none.
          RS_SERVER_PORTAL_ENABLED: "false",
          ...o.env,
        },
        nodeArgs,
      );
      const server: Server = {
        ...proc,
        adminUrl: i === 0 ? `http://127.0.0.1:${adminPort}` : undefined,
        brokerUrl: `http://127.0.0.1:${brokerPort}`,
      };
      servers.push(server);
      await waitFor(`rs-server ${i}`, async () => {
        if (proc.child.exitCode !== null) throw new Error(`rs-server ${i} exited: ${proc.output.join("")}`);
        const res = await fetch(`${server.brokerUrl}/health`);
        await res.arrayBuffer();
        return res.status === 200 ? true : undefined;
      });
      // One at a time: the first runs the migrations.
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    dir,
    pgDir: join(pgDir, "pg"),
    databaseUrl,
    sim,
    os,
    servers,
    async admin(method, path, body) {
      const res = await fetch(`${servers[0].adminUrl}/v1${path}`, {
        method,
        headers: {
          "X-Auth-Token": os.token,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = {};
      try {
        parsed = text ? JSON.parse(text) : {};
      } catch {
        parsed = { text };
      }
      return { status: res.status, body: parsed, bytes: Buffer.byteLength(text) };
    },
    async sql(text, values) {
      return (await db.query(text, values)).rows;
    },
    stop,
  };
}

/** A Standard pool on the simulator's first flavor and image and its `private` network. */
export async function createPool(stack: Stack, name: string): Promise<string> {
  const { os } = stack;
  const get = async (type: string, path: string) =>
    json(await fetch(`${os.endpoint(type)}${path}`, { headers: { "X-Auth-Token": os.token } }));
  const flavor = (await get("compute", "/flavors")).flavors[0].id;
  const image = (await get("image", "/v2/images")).images[0].id;
  const network = (await get("network", "/v2.0/networks?name=private")).networks[0].id;
  const made = await stack.admin("POST", "/projects/", {
    project: {
      name,
      domain_id: "default",
      flavor_id: flavor,
      image_id: image,
      network_id: network,
      operation_mode: "1",
    },
  });
  if (made.status !== 200) throw new Error(`create pool: ${made.status} ${JSON.stringify(made.body)}`);
  return made.body.project.id as string;
}

/** `count` instances in the pool (at most 100 per request, as the reference allowed), then ACTIVE and ready. */
export async function createInstances(stack: Stack, poolId: string, count: number): Promise<void> {
  for (let left = count; left > 0; left -= 100) {
    const res = await stack.admin("POST", "/servers/", {
      server: { project_id: poolId, count: Math.min(100, left) },
    });
    if (res.status !== 200) throw new Error(`create instances: ${res.status} ${JSON.stringify(res.body)}`);
  }
  await waitFor(
    `${count} ACTIVE instances`,
    async () => {
      const res = await stack.admin("GET", `/servers/?project_id=${poolId}`);
      const servers = res.body.servers as { status: string }[];
      return servers.length >= count && servers.every((s) => s.status === "ACTIVE") ? true : undefined;
    },
    600_000,
  );
  // A warm reserve is one whose desktops are ready to hand out: ACTIVE plus the boot grace
  // (reserve.readiness), as a reserve built ahead of the morning is.
  await waitFor(
    `${count} ready instances`,
    async () => {
      const res = await stack.admin("GET", `/projects/${poolId}`);
      return (res.body.project?.reserve?.ready ?? 0) >= count ? true : undefined;
    },
    600_000,
  );
}

/** With RS_BENCH_PG_STATEMENTS=1: forget what pg_stat_statements has counted so far. */
export async function resetStatements(stack: Stack): Promise<void> {
  if (process.env.RS_BENCH_PG_STATEMENTS === "1") await stack.sql("SELECT pg_stat_statements_reset()");
}

/** With RS_BENCH_PG_STATEMENTS=1: the statements that took most of PostgreSQL's time since the reset, per allocation. */
export async function topStatements(stack: Stack, per: number, count = 15): Promise<string[]> {
  if (process.env.RS_BENCH_PG_STATEMENTS !== "1") return [];
  const rows = await stack.sql<{ calls: string; plans: string; total: number; mean: number; query: string }>(
    `SELECT calls, plans, total_exec_time + total_plan_time AS total, mean_plan_time AS mean, query FROM pg_stat_statements
      WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY total_exec_time DESC LIMIT $1`,
    [count],
  );
  return rows.map(
    (r) =>
      `${(r.total / per).toFixed(2)} ms/alloc  ${(Number(r.calls) / per).toFixed(2)} calls/alloc  ${(Number(r.plans) / per).toFixed(2)} plans/alloc of ${r.mean.toFixed(2)} ms  ${r.query.replace(/\s+/g, " ").slice(0, 160)}`,
  );
}
