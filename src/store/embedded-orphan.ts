// An embedded PostgreSQL left running by an earlier rs-server that was killed (SIGKILL of its
// process group does not reach PostgreSQL, which runs in a group of its own on purpose). Its
// postmaster.pid names it; the owner file names the rs-server that started it. The next start
// stops such an orphan and comes up, and refuses in one line only when the rs-server that owns
// it is still alive.
import { existsSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export interface Postmaster {
  pid: number;
  dataDir: string;
  port: number;
}

export interface Owner {
  /** The process that started PostgreSQL (rs-server, or the test runner). */
  pid: number;
  /** Its watchdog, which stops PostgreSQL when that process is gone. */
  watchdog?: number;
}

export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** postmaster.pid: line 1 the pid, 2 the data directory, 4 the port. */
export function readPostmaster(pgDir: string): Postmaster | undefined {
  const file = join(pgDir, "postmaster.pid");
  if (!existsSync(file)) return undefined;
  const lines = readFileSync(file, "utf8").split("\n");
  const pid = Number(lines[0]);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, dataDir: lines[1] ?? "", port: Number(lines[3]) };
}

export const ownerFile = (dataDir: string) => join(dataDir, "pg-owner.json");

export function readOwner(dataDir: string): Owner | undefined {
  try {
    const owner = JSON.parse(readFileSync(ownerFile(dataDir), "utf8")) as Owner;
    return Number.isInteger(owner.pid) ? owner : undefined;
  } catch {
    return undefined;
  }
}

export function writeOwner(dataDir: string, owner: Owner): void {
  writeFileSync(ownerFile(dataDir), `${JSON.stringify(owner)}\n`, { mode: 0o600 });
}

export function removeOwner(dataDir: string): void {
  rmSync(ownerFile(dataDir), { force: true });
}

/** Linux's view of a process (undefined elsewhere, or when it is gone). */
function procParent(pid: number): number | undefined {
  try {
    // "pid (comm) state ppid ...": comm may hold spaces, so count from its closing parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
  } catch {
    return undefined;
  }
}

function procCwd(pid: number): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (processAlive(pid)) {
    if (Date.now() >= deadline) return false;
    await sleep(100);
  }
  return true;
}

/**
 * Makes way for a start on pgDir: a stale postmaster.pid is removed; a PostgreSQL still
 * running there (PostgreSQL's working directory is its data directory, which tells it from a
 * process that merely reused the pid) is stopped, unless the rs-server that started it is
 * alive, which is an error naming it.
 */
export async function clearEarlierServer(
  dataDir: string,
  pgDir: string,
  log: (message: string) => void,
): Promise<void> {
  const pm = readPostmaster(pgDir);
  if (!pm) return;
  const pidFile = join(pgDir, "postmaster.pid");
  const ours = () => {
    const cwd = procCwd(pm.pid);
    // Without /proc (not Linux) a live pid in our own lock file is taken for our PostgreSQL.
    return cwd === undefined ? processAlive(pm.pid) : cwd === realpathSync(pgDir);
  };
  if (!processAlive(pm.pid) || !ours()) {
    rmSync(pidFile, { force: true });
    return;
  }
  const owner = readOwner(dataDir);
  const parent = procParent(pm.pid);
  if (
    owner &&
    owner.pid !== process.pid &&
    processAlive(owner.pid) &&
    (parent === undefined || parent === owner.pid)
  )
    throw new Error(
      `the embedded PostgreSQL in ${pgDir} (pid ${pm.pid}) belongs to rs-server process ${owner.pid}, which is still running: stop it first, or start this one with another --data-dir`,
    );
  log(
    `stopping the embedded PostgreSQL (pid ${pm.pid}, port ${pm.port}) left running by an earlier rs-server${owner ? ` (pid ${owner.pid})` : ""} that did not stop it`,
  );
  // Fast shutdown first (rolls back, writes a checkpoint); immediate, then a kill, if it hangs.
  for (const [signal, ms] of [
    ["SIGINT", 30_000],
    ["SIGQUIT", 10_000],
    ["SIGKILL", 5_000],
  ] as const) {
    try {
      process.kill(pm.pid, signal);
    } catch {}
    if (await waitGone(pm.pid, ms)) break;
  }
  if (processAlive(pm.pid))
    throw new Error(
      `the embedded PostgreSQL left running in ${pgDir} (pid ${pm.pid}) does not stop: stop it by hand`,
    );
  // Its watchdog, if any, sees it gone and exits by itself.
  rmSync(pidFile, { force: true });
}
