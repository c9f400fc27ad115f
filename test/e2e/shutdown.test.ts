// The real server process on its embedded defaults: it outlives its database connections
// being cut, stops in order on SIGTERM or SIGINT (also Ctrl-C to its whole process group, and
// a launcher's echo of it) with exit code 0 and no crash, and starts again on the same data
// directory each time.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import pg from "pg";
import { freePort } from "../../src/store/embedded.ts";

const root = new URL("../..", import.meta.url).pathname;
let dataDir: string;
let ports: { admin: number; broker: number; pg: number };
let server: Server | undefined;

interface Server {
  child: ChildProcess;
  /** Everything it wrote to stdout and stderr so far. */
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The server; with `group`, as the leader of a process group of its own (a terminal's foreground job). */
function start(opts: { group?: boolean } = {}): Server {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RS_SERVER_")));
  const child = spawn(process.execPath, ["--import", "tsx", "src/main.ts", "--data-dir", dataDir], {
    cwd: root,
    env: {
      ...env,
      RS_SERVER_ADMIN_PORT: String(ports.admin),
      RS_SERVER_BROKER_PORT: String(ports.broker),
      RS_SERVER_PORTAL_PORT: "0",
      RS_SERVER_DATABASE_EMBEDDED_PORT: String(ports.pg),
      RS_SERVER_SIMULATOR_BUILD_DELAY_MS: "100",
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: opts.group ?? false,
  });
  let out = "";
  child.stdout?.on("data", (chunk) => {
    out += chunk;
  });
  child.stderr?.on("data", (chunk) => {
    out += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  server = { child, output: () => out, exited };
  return server;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, s: Server, ms: number) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (s.child.exitCode !== null || s.child.signalCode !== null)
      assert.fail(`the server exited while waiting for ${what}:\n${s.output()}`);
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.fail(`${what} did not happen within ${ms} ms:\n${s.output()}`);
}

const healthy = (s: Server) =>
  until(
    "a healthy /health",
    async () => {
      const res = await fetch(`http://127.0.0.1:${ports.admin}/health`);
      return res.status === 200 ? true : undefined;
    },
    s,
    120_000,
  );

/** No crash: no unhandled error, no stack trace printed outside the JSON log lines. */
function assertNoCrash(output: string) {
  assert.doesNotMatch(output, /Unhandled/);
  assert.doesNotMatch(output, /^\s+at /m);
}

async function withDatabase<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const password = readFileSync(join(dataDir, "pg-password"), "utf8").trim();
  const client = new pg.Client({
    host: "127.0.0.1",
    port: ports.pg,
    user: "postgres",
    password,
    database: "rs_server",
  });
  client.on("error", () => {});
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const connections = (client: pg.Client) =>
  client
    .query<{ application_name: string }>(
      "SELECT application_name FROM pg_stat_activity WHERE datname = 'rs_server' AND pid <> pg_backend_pid()",
    )
    .then((r) => r.rows.map((row) => row.application_name));

before(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "rs-shutdown-"));
  ports = { admin: await freePort(), broker: await freePort(), pg: await freePort() };
});

after(async () => {
  if (server && server.child.exitCode === null && server.child.signalCode === null) {
    server.child.kill("SIGKILL");
    await server.exited;
  }
  // A killed server leaves its PostgreSQL behind: stop it through the data directory's lock file.
  const pidFile = join(dataDir, "pg", "postmaster.pid");
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
    if (pid) {
      try {
        process.kill(pid, "SIGINT");
      } catch {}
      for (let i = 0; i < 50 && existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 200));
    }
  }
  rmSync(dataDir, { recursive: true, force: true });
});

test("the server outlives its database connections being terminated, then stops on SIGTERM with exit code 0", async () => {
  const s = start();
  await healthy(s);
  const terminated = await withDatabase(async (client) => {
    await until(
      "pg-boss and the store connected",
      async () => {
        const names = await connections(client);
        // pg-boss's connections are named after the engine's worker: "rs-server tasks <worker>".
        return names.includes("rs-server") && names.some((n) => n.startsWith("rs-server tasks "))
          ? true
          : undefined;
      },
      s,
      30_000,
    );
    const { rows } = await client.query<{ n: number }>(
      `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
       WHERE datname = 'rs_server' AND pid <> pg_backend_pid()`,
    );
    return rows[0].n;
  });
  assert.ok(terminated >= 2, `terminated ${terminated} connections`);
  // Logged, and both the store and pg-boss come back on connections of their own.
  await until(
    "a log of the lost connection",
    async () => /connection lost/.test(s.output()) || undefined,
    s,
    10_000,
  );
  await healthy(s);
  await withDatabase((client) =>
    until(
      "pg-boss reconnected",
      async () =>
        (await connections(client)).some((n) => n.startsWith("rs-server tasks ")) ? true : undefined,
      s,
      30_000,
    ),
  );
  assert.equal(s.child.exitCode, null);

  s.child.kill("SIGTERM");
  const exit = await s.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, s.output());
  assertNoCrash(s.output());
  assert.match(s.output(), /"msg":"stopped"/);
  assert.equal(existsSync(join(dataDir, "pg", "postmaster.pid")), false, "PostgreSQL left its lock file");
  await assert.rejects(withDatabase(connections), "the embedded PostgreSQL still answers");
});

test("Ctrl-C (SIGINT to the whole foreground group) stops in order: PostgreSQL, in a group of its own, waits for it", async () => {
  const s = start({ group: true });
  await healthy(s);
  // What a terminal does on Ctrl-C: the signal to every process of the foreground group.
  process.kill(-s.child.pid!, "SIGINT");
  const exit = await s.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, s.output());
  assert.match(s.output(), /"msg":"stopped"/);
  assert.doesNotMatch(s.output(), /connection lost/, "PostgreSQL went down under open connections");
  assertNoCrash(s.output());
  assert.equal(existsSync(join(dataDir, "pg", "postmaster.pid")), false, "PostgreSQL left its lock file");
});

test("a signal's echo (a launcher relaying the same Ctrl-C) does not cut the orderly stop short", async () => {
  const s = start();
  await healthy(s);
  s.child.kill("SIGINT");
  s.child.kill("SIGINT");
  const exit = await s.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, s.output());
  assert.match(s.output(), /"msg":"stopped"/);
  assert.doesNotMatch(s.output(), /second stop signal/);
  assertNoCrash(s.output());
});

test("a start on the same data directory comes up, and SIGINT stops it as SIGTERM does", async () => {
  const s = start();
  await healthy(s);
  s.child.kill("SIGINT");
  const exit = await s.exited;
  assert.deepEqual(exit, { code: 0, signal: null }, s.output());
  assertNoCrash(s.output());
  assert.equal(existsSync(join(dataDir, "pg", "postmaster.pid")), false, "PostgreSQL left its lock file");
});
