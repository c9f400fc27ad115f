// The real rs-server process for end-to-end tests of starting and stopping: spawned as
// `npm start` or `rs-server` would run it, on its embedded defaults in a data directory of
// the test's, with its output kept for the assertion messages.
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";

export const root = new URL("../..", import.meta.url).pathname;

export interface ServerProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface SpawnOptions {
  /** Arguments after `node --import tsx` (default: src/main.ts --data-dir <dataDir>). */
  args: string[];
  env?: Record<string, string>;
  /** Leader of a process group of its own (what a terminal or a supervisor does). */
  group?: boolean;
}

export function spawnServer(opts: SpawnOptions): ServerProcess {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("RS_SERVER_")));
  const child = spawn(process.execPath, ["--import", "tsx", ...opts.args], {
    cwd: root,
    // A free portal port unless told: the default 8888 may be taken on a shared machine.
    env: { ...env, RS_SERVER_SIMULATOR_BUILD_DELAY_MS: "100", RS_SERVER_PORTAL_PORT: "0", ...opts.env },
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
  return { child, output: () => out, exited };
}

/** Polls probe until it returns a value; fails with the server's output after `ms`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  s: ServerProcess,
  ms: number,
): Promise<T> {
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

export const healthy = (s: ServerProcess, port: number) =>
  until(
    "a healthy /health",
    async () => ((await fetch(`http://127.0.0.1:${port}/health`)).status === 200 ? true : undefined),
    s,
    120_000,
  );

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid in <dataDir>/pg/postmaster.pid, when there is one. */
export function postmasterPid(dataDir: string): number | undefined {
  const file = join(dataDir, "pg", "postmaster.pid");
  if (!existsSync(file)) return undefined;
  return Number(readFileSync(file, "utf8").split("\n")[0]) || undefined;
}

/** Stops whatever PostgreSQL a test left running in dataDir (a killed server's). */
export async function stopLeftoverPostgres(dataDir: string): Promise<void> {
  const pid = postmasterPid(dataDir);
  if (!pid || !alive(pid)) return;
  try {
    process.kill(pid, "SIGINT");
  } catch {}
  for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 200));
}
