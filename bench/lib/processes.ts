// The parts of a benchmark run as separate processes, so that each one's own CPU and memory can
// be read from /proc: the embedded PostgreSQL, the OpenStack simulator, rs-server processes.
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";

const root = new URL("../..", import.meta.url).pathname;
const CLOCK_TICKS = 100; // USER_HZ on Linux

export interface Proc {
  child: ChildProcess;
  output: string[];
  stop(): Promise<void>;
}

/** Node with tsx's loader running one of the project's entry points (no npm or tsx wrapper in between). */
export function startNode(
  entry: string,
  args: string[],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Proc {
  const output: string[] = [];
  const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", join(root, entry), ...args], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (d: Buffer) => {
    output.push(d.toString());
    if (output.length > 200) output.shift();
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return {
    child,
    output,
    stop: () =>
      new Promise((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
        child.once("exit", () => {
          clearTimeout(timer);
          done();
        });
        child.kill("SIGTERM");
      }),
  };
}

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined>, ms = 120_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface SimulatorProc extends Proc {
  url: string;
  admin: { authUrl: string; username: string; password: string };
}

/** `rs-server simulator` on a free port; its clouds.yaml says where Keystone is and the admin password. */
export async function startSimulator(dataDir: string, buildDelayMs: number): Promise<SimulatorProc> {
  const profile = process.env.RS_BENCH_CPU_PROF;
  const proc = startNode(
    "src/cli/index.ts",
    ["simulator", "--port", "0", "--data-dir", dataDir, "--build-delay-ms", String(buildDelayMs)],
    {},
    profile ? ["--cpu-prof", `--cpu-prof-dir=${profile}`] : [],
  );
  const file = join(dataDir, "clouds.yaml");
  const auth = await waitFor("the simulator's clouds.yaml", async () => {
    if (proc.child.exitCode !== null) throw new Error(`simulator exited: ${proc.output.join("")}`);
    if (!existsSync(file)) return undefined;
    const clouds = parse(readFileSync(file, "utf8")) as {
      clouds: Record<string, { auth: { auth_url: string; username: string; password: string } }>;
    };
    return clouds.clouds["rs-admin"]?.auth;
  });
  const authUrl = auth.auth_url.replace(/\/$/, "");
  return {
    ...proc,
    url: authUrl.replace(/\/identity\/v3$/, ""),
    admin: { authUrl, username: auth.username, password: auth.password },
  };
}

/** Cumulative CPU time (user + system) of a process in milliseconds, with its reaped children. */
export function cpuMs(pid: number, withChildren = false): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    // fields[11..14] are utime, stime, cutime, cstime (fields 14-17 of proc(5))
    const own = Number(fields[11]) + Number(fields[12]);
    const reaped = withChildren ? Number(fields[13]) + Number(fields[14]) : 0;
    return ((own + reaped) * 1000) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(name));
    } catch {
      // gone
    }
  }
  return out;
}

/** CPU of a PostgreSQL server: the postmaster, its live backends and those already ended. */
export function postgresCpuMs(dataDir: string): number {
  const pidFile = join(dataDir, "postmaster.pid");
  if (!existsSync(pidFile)) return 0;
  const postmaster = Number(readFileSync(pidFile, "utf8").split("\n")[0]);
  return cpuMs(postmaster, true) + childrenOf(postmaster).reduce((sum, pid) => sum + cpuMs(pid), 0);
}

/** Resident memory in MiB. */
export function rssMiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}
